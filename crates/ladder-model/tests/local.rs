//! The local backend on the real model installed by `just setup`.

use std::sync::OnceLock;

use ladder_core::{ChatRequest, Constraint, FinishReason, LanguageModel, Message, ModelError};
use ladder_model::{LocalConfig, LocalModel};

/// The tests' model: the smallest of the catalog (quick).
fn default_model_path() -> std::path::PathBuf {
    ladder_model::model_path("smollm2-135m").expect("the catalog names smollm2-135m")
}

fn model() -> LocalModel {
    static MODEL: OnceLock<LocalModel> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            LocalModel::load(&LocalConfig::new(default_model_path()))
                .unwrap_or_else(|e| panic!("the local model must be installed (`just setup`): {e}"))
        })
        .clone()
}

fn ask(prompt: &str, max_tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::new(vec![Message::user(prompt)]);
    r.sampling.max_tokens = max_tokens;
    r
}

/// `{"action": "ask" | "answer", "text": "..."}` with at most 120 characters of text.
const ACTION_GRAMMAR: &str = r#"
root   ::= "{\"action\": \"" action "\", \"text\": \"" char{0,120} "\"}"
action ::= "ask" | "answer"
char   ::= [a-zA-Z0-9 ,.?!'-]
"#;

#[tokio::test]
async fn answers_the_capital_of_france() {
    let r = model()
        .chat(
            &ask("What is the capital of France? Answer in one word.", 32),
            None,
        )
        .await
        .unwrap();
    assert!(r.text.contains("Paris"), "{:?}", r.text);
    assert_eq!(r.finish, FinishReason::Stop);
    assert!(
        r.usage.prompt_tokens > 5 && r.usage.completion_tokens > 0,
        "{:?}",
        r.usage
    );
    assert!(r.total_ms >= r.generation_ms);
}

#[tokio::test]
async fn grammar_constrained_output_parses_for_ten_seeds() {
    let m = model();
    let mut outputs = Vec::new();
    for seed in 0..10 {
        let mut r = ask(
            "A traveller says: I want to go to the seaside. Decide whether to ask a question or answer. Reply in JSON.",
            80,
        );
        r.sampling.temperature = 0.9;
        r.sampling.seed = seed;
        r.constraint = Some(Constraint::Gbnf(ACTION_GRAMMAR.into()));
        let out = m.chat(&r, None).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&out.text)
            .unwrap_or_else(|e| panic!("seed {seed}: not JSON ({e}): {:?}", out.text));
        let action = v["action"].as_str().unwrap();
        assert!(
            action == "ask" || action == "answer",
            "seed {seed}: {action}"
        );
        let text = v["text"].as_str().unwrap();
        assert!(text.len() <= 120, "seed {seed}: {text:?}");
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || " ,.?!'-".contains(c)),
            "seed {seed}: {text:?}"
        );
        assert_eq!(v.as_object().unwrap().len(), 2);
        outputs.push(out.text);
    }
    outputs.sort();
    outputs.dedup();
    assert!(
        outputs.len() > 1,
        "ten seeds at temperature 0.9 all gave {outputs:?}"
    );
}

#[tokio::test]
async fn json_schema_constraint_is_obeyed() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 40},
            "confident": {"type": "boolean"}
        },
        "required": ["city", "confident"],
        "additionalProperties": false
    });
    let mut r = ask("What is the capital of France? Reply in JSON.", 60);
    r.constraint = Some(Constraint::JsonSchema(schema));
    let out = model().chat(&r, None).await.unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&out.text).unwrap_or_else(|e| panic!("{e}: {:?}", out.text));
    assert!(v["city"].is_string() && v["confident"].is_boolean(), "{v}");
}

#[tokio::test]
async fn same_seed_gives_byte_identical_output() {
    let m = model();
    let mut r = ask("Write two sentences about a lighthouse.", 48);
    r.sampling.temperature = 1.0;
    r.sampling.seed = 1234;
    let a = m.chat(&r, None).await.unwrap();
    let b = m.chat(&r, None).await.unwrap();
    assert_eq!(a.text.as_bytes(), b.text.as_bytes());
    assert_eq!(a.usage, b.usage);
}

#[tokio::test]
async fn streamed_text_equals_the_answer_and_stop_strings_cut_it() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut r = ask("What is the capital of France? Answer in one word.", 32);
    r.stop = vec!["Paris".into()];
    let out = model().chat(&r, Some(tx)).await.unwrap();
    let mut streamed = String::new();
    while let Some(piece) = rx.recv().await {
        streamed.push_str(&piece);
    }
    assert_eq!(streamed, out.text);
    assert_eq!(out.finish, FinishReason::StopString);
    assert!(!out.text.contains("Paris"), "{:?}", out.text);
}

#[tokio::test]
async fn max_tokens_ends_with_length() {
    let out = model()
        .chat(&ask("Count from 1 to 100.", 5), None)
        .await
        .unwrap();
    assert_eq!(out.usage.completion_tokens, 5);
    assert_eq!(out.finish, FinishReason::Length);
}

#[tokio::test]
async fn invalid_grammar_reports_llama_cpp_parse_message() {
    let mut r = ask("hi", 8);
    r.constraint = Some(Constraint::Gbnf("root ::= \"a\" | (".into()));
    let e = model().chat(&r, None).await.unwrap_err();
    assert!(matches!(e, ModelError::InvalidGrammar { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("could not parse the grammar:"), "{msg}");
    assert!(!msg.to_lowercase().contains("null grammar"), "{msg}");

    r.constraint = Some(Constraint::Gbnf("root ::= missing-rule".into()));
    let msg = model().chat(&r, None).await.unwrap_err().to_string();
    assert!(msg.contains("missing-rule"), "{msg}");
}

#[tokio::test]
async fn a_grammar_is_converted_and_parsed_once_then_reused() {
    // A fresh model: the grammar cache is per loaded model.
    let m = LocalModel::load(&LocalConfig::new(default_model_path())).unwrap();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": 20}},
        "required": ["answer"]
    });
    let c = Constraint::JsonSchema(schema);
    m.check_constraint(&c).unwrap();
    assert_eq!(m.grammars_parsed(), 1);
    let mut r = ask("Capital of France, as JSON.", 30);
    r.constraint = Some(c);
    for _ in 0..2 {
        let out = m.chat(&r, None).await.unwrap();
        serde_json::from_str::<serde_json::Value>(&out.text).unwrap();
    }
    assert_eq!(
        m.grammars_parsed(),
        1,
        "the same schema is not converted again"
    );
    let bad = Constraint::Gbnf("root ::= [a-z".into());
    let e = m.check_constraint(&bad).unwrap_err();
    assert!(matches!(e, ModelError::InvalidGrammar { .. }), "{e}");
    assert_eq!(m.grammars_parsed(), 1, "a bad grammar is not cached");
}

#[tokio::test]
async fn dropping_a_call_stops_its_generation() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let m = model();
    let r = ask("Write a very long story about the sea.", 2000);
    let call = m.chat(&r, Some(tx));
    // Give it time to start generating, then drop the call.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(1500), call).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut before = 0;
    while rx.try_recv().is_ok() {
        before += 1;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let mut after = 0;
    loop {
        match rx.try_recv() {
            Ok(_) => after += 1,
            // Disconnected: the generation thread has ended and dropped its sender.
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => break,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                panic!("the generation thread is still alive a second after the call was dropped")
            }
        }
    }
    assert!(before > 0, "it had started generating");
    assert_eq!(after, 0, "no token after the call was dropped");
}

#[tokio::test]
async fn counts_tokens_with_its_own_tokenizer_and_reports_its_window() {
    let m = model();
    let messages = vec![Message::system("Be brief."), Message::user("Hello there.")];
    let counted = m.count_tokens(&messages).unwrap();
    assert!(!counted.estimated);
    let out = m
        .chat(&ChatRequest::new(messages.clone()), None)
        .await
        .unwrap();
    assert_eq!(counted.tokens, out.usage.prompt_tokens);
    assert_eq!(m.context_window(), 8192);
}

/// A prompt of about 700 tokens: longer than one decode batch (512).
fn long_prompt() -> String {
    format!(
        "Summarise this in one sentence. {}",
        "The lighthouse keeper climbed the stairs every evening to light the lamp. ".repeat(50)
    )
}

#[tokio::test]
async fn a_prompt_longer_than_one_batch_is_answered() {
    let m = model();
    let r = ask(&long_prompt(), 8);
    let out = m.chat(&r, None).await.unwrap();
    assert!(out.usage.prompt_tokens > 512, "{}", out.usage.prompt_tokens);
    let session = ladder_core::Session::new();
    let cached = m.chat_in(&session, &r, None).await.unwrap();
    assert_eq!(cached.text, out.text);
}

/// Three turns of one conversation, each prompt extending the last call's prompt and
/// output, as a loop's history does.
async fn conversation(
    m: &LocalModel,
    session: Option<&ladder_core::Session>,
) -> Vec<(String, u64)> {
    let mut messages = vec![
        Message::system("You are a helpful travel assistant. Keep answers short."),
        Message::user("I want a quiet beach holiday."),
    ];
    let mut out = Vec::new();
    for next in ["Three days, from Ostby.", "What should I pack?"] {
        let mut r = ChatRequest::new(messages.clone());
        r.sampling.max_tokens = 24;
        let reply = match session {
            Some(s) => m.chat_in(s, &r, None).await.unwrap(),
            None => m.chat(&r, None).await.unwrap(),
        };
        out.push((reply.text.clone(), reply.usage.cached_tokens));
        messages.push(Message::assistant(reply.text));
        messages.push(Message::user(next));
    }
    out
}

#[tokio::test]
async fn prefix_reuse_evaluates_only_the_new_tokens_and_is_deterministic() {
    let m = model();
    let fresh = conversation(&m, None).await;
    let reused = conversation(&m, Some(&ladder_core::Session::new())).await;
    let again = conversation(&m, Some(&ladder_core::Session::new())).await;
    // The same call sequence gives the same bytes, session after session.
    let text = |v: &[(String, u64)]| v.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(text(&reused), text(&again));
    assert_eq!(reused[1..], again[1..]);
    assert!(fresh.iter().all(|(_, c)| *c == 0));
    // The first call of a session has at most the system prefix cached (copied from the
    // store shared across runs, once some run has evaluated it); the second session's
    // first call has it for sure.
    assert!(
        again[0].1 > 0 && reused[0].1 <= again[0].1,
        "{reused:?} {again:?}"
    );
    assert!(
        reused[1].1 > 20,
        "the second call reuses the first's prompt and output: {reused:?}"
    );
    // Not always the fresh context's bytes (see local.rs): say how far apart they are.
    let differ = fresh
        .iter()
        .zip(&reused)
        .filter(|(f, r)| f.0 != r.0)
        .count();
    eprintln!(
        "prefix reuse vs fresh contexts: {differ} of {} replies differ",
        fresh.len()
    );
}

#[tokio::test]
async fn prompt_larger_than_the_context_is_refused() {
    let mut config = LocalConfig::new(default_model_path());
    config.max_context = 256;
    let small = LocalModel::load(&config).unwrap();
    let e = small.chat(&ask("hello", 1000), None).await.unwrap_err();
    assert!(matches!(e, ModelError::ContextOverflow { .. }), "{e}");
}

#[test]
fn missing_model_says_to_run_setup() {
    let e = LocalModel::load(&LocalConfig::new("/nonexistent/model.gguf"))
        .err()
        .unwrap();
    let msg = e.to_string();
    assert!(
        msg.contains("/nonexistent/model.gguf") && msg.contains("just setup"),
        "{msg}"
    );
}

#[test]
fn a_file_that_is_not_gguf_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.gguf");
    std::fs::write(&path, b"<html>not a model</html>").unwrap();
    let msg = LocalModel::load(&LocalConfig::new(&path))
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("not a GGUF file"), "{msg}");
}

#[test]
fn a_truncated_gguf_is_refused_with_llama_cpp_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.gguf");
    let bytes = std::fs::read(default_model_path()).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    let msg = LocalModel::load(&LocalConfig::new(&path))
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("cut.gguf") && msg.contains("just setup"),
        "{msg}"
    );
    assert!(msg.contains("llama.cpp:"), "{msg}");
}

fn debate_calls() -> Vec<ChatRequest> {
    let system =
        "You are the travel assistant of a holiday company in Norland. You help travellers \
        choose a seaside destination. Notes: Gullby Cove is quiet and cheap; Tideford Head is \
        lively and expensive; Wrenholm Bay has museums and sailing.";
    let mut calls: Vec<ChatRequest> = [
        "Role: cautious. Recommend one place for a quiet trip.",
        "Role: enthusiast. Recommend one place for a lively trip.",
        "Role: budget-minded. Recommend the cheapest place, as JSON.",
    ]
    .iter()
    .map(|role| {
        let mut r = ChatRequest::new(vec![
            Message::system(format!("{system} {role}")),
            Message::user("Where should I go by the sea?"),
        ]);
        r.sampling.max_tokens = 40;
        r
    })
    .collect();
    calls[2].constraint = Some(Constraint::JsonSchema(serde_json::json!({
        "type": "object",
        "properties": {"place": {"type": "string", "maxLength": 30}},
        "required": ["place"],
        "additionalProperties": false
    })));
    calls[1].sampling.max_tokens = 12;
    calls
}

#[tokio::test]
async fn a_batch_decodes_as_parallel_sequences_sharing_its_prompt_prefix() {
    let m = model();
    let calls = debate_calls();
    let batched = m
        .chat_batch(&ladder_core::Session::new(), &calls, vec![None, None, None])
        .await;
    let again = m
        .chat_batch(&ladder_core::Session::new(), &calls, vec![None, None, None])
        .await;
    for (i, (b, call)) in batched.iter().zip(&calls).enumerate() {
        let b = b.as_ref().unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(
            b.text,
            again[i].as_ref().unwrap().text,
            "call {i}: deterministic"
        );
        assert!(b.usage.completion_tokens <= u64::from(call.sampling.max_tokens));
        assert_eq!(
            b.usage.completion_tokens == 12,
            i == 1,
            "call {i}: its own max_tokens"
        );
        if i > 0 {
            assert!(
                b.usage.cached_tokens > 30,
                "the shared system prompt is evaluated once: {:?}",
                b.usage
            );
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&batched[2].as_ref().unwrap().text).expect("the grammar held");
    assert!(json["place"].is_string());
}

#[tokio::test]
async fn each_call_of_a_batch_gets_the_bytes_of_its_prompt_evaluated_in_the_same_two_parts() {
    // Evaluating a prompt in two parts (a cached prefix, then the rest) can change a
    // greedy generation's bytes against evaluating it whole (floating-point order); a
    // parallel decode splits each prompt where the batch's common prefix ends. So it is
    // compared with one call at a time split at the same point: the prefix-reusing
    // session, after a call with the other prompt. Decoding two sequences per step (a
    // matrix product of two rows instead of one) changes the order again, so the texts
    // agree on their start and may part at a near-tie later (measured on this model: 141 and
    // 36 characters agree; see the module docs). The bound asserted: the first 24. Shared
    // system prefixes are off here: they would split the session's prompts at the end of
    // each call's own system prompt instead.
    let mut config = LocalConfig::new(default_model_path());
    config.shared_prefixes = false;
    let m = LocalModel::load(&config).unwrap();
    let calls: Vec<ChatRequest> = debate_calls().into_iter().take(2).collect();
    let batched = m
        .chat_batch(&ladder_core::Session::new(), &calls, vec![None, None])
        .await;
    for (i, j) in [(0, 1), (1, 0)] {
        let session = ladder_core::Session::new();
        let mut first = calls[j].clone();
        first.sampling.max_tokens = 1; // only its prompt matters
        m.chat_in(&session, &first, None).await.unwrap();
        let alone = m.chat_in(&session, &calls[i], None).await.unwrap();
        let b = batched[i].as_ref().unwrap();
        let same = b
            .text
            .chars()
            .zip(alone.text.chars())
            .take_while(|(x, y)| x == y)
            .count();
        assert!(
            same >= 24.min(alone.text.chars().count()),
            "call {i}: the texts part after {same} characters:\n{}\n{}",
            b.text,
            alone.text
        );
        assert_eq!(b.usage.prompt_tokens, alone.usage.prompt_tokens);
    }
}

/// The revision round of a two-agent debate after its draft round in `session`, with the
/// agents in the order given: each agent's draft prompt, its draft, the other's draft.
fn revisions(drafts: &[ChatRequest], texts: &[String], order: &[usize]) -> Vec<ChatRequest> {
    order
        .iter()
        .map(|&a| {
            let mut r = drafts[a].clone();
            r.messages.push(Message::assistant(texts[a].trim()));
            r.messages.push(Message::user(format!(
                "Revise your draft after the other's: {}",
                texts[1 - a].trim()
            )));
            r
        })
        .collect()
}

#[tokio::test]
async fn a_revision_batch_in_the_session_starts_from_each_agents_draft_cells() {
    let mut config = LocalConfig::new(default_model_path());
    config.shared_prefixes = false;
    let m = LocalModel::load(&config).unwrap();
    let drafts: Vec<ChatRequest> = debate_calls().into_iter().take(2).collect();
    let ok = |rs: Vec<Result<ladder_core::ChatResponse, ladder_core::ModelError>>| {
        rs.into_iter()
            .map(|r| r.expect("the call succeeds"))
            .collect::<Vec<_>>()
    };
    // One run: the draft round, then the revision round with the agents swapped (each
    // finds its own sequence), then one sequential call that extends agent 0's revision.
    let debate = |session: ladder_core::Session| {
        let (m, drafts) = (&m, &drafts);
        async move {
            let first = ok(m.chat_batch(&session, drafts, vec![None, None]).await);
            let texts: Vec<String> = first.iter().map(|r| r.text.clone()).collect();
            let calls = revisions(drafts, &texts, &[1, 0]);
            let second = ok(m.chat_batch(&session, &calls, vec![None, None]).await);
            let mut next = calls[1].clone();
            next.messages
                .push(Message::assistant(second[1].text.trim()));
            next.messages.push(Message::user("Now in one sentence."));
            let third = m.chat_in(&session, &next, None).await.unwrap();
            (first, calls, second, third)
        }
    };
    let (first, calls, second, third) = debate(ladder_core::Session::new()).await;
    for (k, &a) in [1, 0].iter().enumerate() {
        assert!(
            second[k].usage.cached_tokens >= first[a].usage.prompt_tokens,
            "agent {a}'s revision starts after its whole draft prompt: {:?} vs {:?}",
            second[k].usage,
            first[a].usage
        );
    }
    assert!(
        third.usage.cached_tokens >= second[1].usage.prompt_tokens,
        "the next call starts after agent 0's revision prompt: {:?}",
        third.usage
    );
    // Without the session's cells (a fresh session for the revision): only the prefix the
    // two revision prompts share is cached, and only for the second of them.
    let fresh = ok(m
        .chat_batch(&ladder_core::Session::new(), &calls, vec![None, None])
        .await);
    assert_eq!(fresh[0].usage.cached_tokens, 0);
    assert!(fresh[1].usage.cached_tokens < first[0].usage.prompt_tokens);
    // Deterministic: the same run again gives the same bytes.
    let (_, _, again, third_again) = debate(ladder_core::Session::new()).await;
    for (a, b) in second.iter().zip(&again) {
        assert_eq!(a.text, b.text);
    }
    assert_eq!(third.text, third_again.text);
}

/// The same first call of two runs (sessions), on a model of its own (an empty store).
async fn first_calls(m: &LocalModel) -> [(String, u64); 2] {
    let mut r = ChatRequest::new(vec![
        Message::system(
            "You are the travel assistant of a holiday company in Norland. At each step \
             choose one action: ask the user, search the knowledge base, or answer.",
        ),
        Message::user("I'd like to go to the seaside next week, sort it out for me."),
    ]);
    r.sampling.max_tokens = 24;
    let mut out = Vec::new();
    for _ in 0..2 {
        let reply = m
            .chat_in(&ladder_core::Session::new(), &r, None)
            .await
            .unwrap();
        out.push((reply.text, reply.usage.cached_tokens));
    }
    [out[0].clone(), out[1].clone()]
}

#[tokio::test]
async fn a_system_prefix_is_evaluated_by_the_first_run_and_copied_into_the_next() {
    let own = LocalModel::load(&LocalConfig::new(default_model_path())).unwrap();
    let [first, second] = first_calls(&own).await;
    assert_eq!(first.1, 0, "the first run evaluates the prefix itself");
    assert!(second.1 >= 16, "the second run copies it in: {second:?}");
    assert_eq!(first.0, second.0, "the same bytes either way");
    assert_eq!(own.shared_prefixes_held(), 1);
    // Switched off: every run evaluates its prefix; nothing is stored.
    let mut config = LocalConfig::new(default_model_path());
    config.shared_prefixes = false;
    let apart = LocalModel::load(&config).unwrap();
    let [a, b] = first_calls(&apart).await;
    assert_eq!((a.1, b.1), (0, 0));
    assert_eq!(a.0, b.0);
    assert_eq!(apart.shared_prefixes_held(), 0);
    eprintln!(
        "shared prefix vs none: first replies {} ({:?} / {:?})",
        if a.0 == first.0 {
            "identical"
        } else {
            "differ"
        },
        first.0,
        a.0
    );
}

/// `ladder bench-model`'s sequences test runs every count both ways on the real model
/// and reports what each generated (its figures are measured, never asserted on here), and
/// the bandwidth ceiling's read is a real read.
#[tokio::test]
async fn the_sequences_bench_decodes_every_count_both_ways() {
    let config = ladder_model::bench::BenchConfig {
        model: LocalConfig::new(default_model_path()),
        rounds: 1,
        gen_tokens: 8,
        prompt_repeat: 1,
    };
    let mut seen = Vec::new();
    let r = ladder_model::bench::sequences(&config, &[1, 3], 8, |n, of| seen.push((n, of)))
        .await
        .unwrap();
    assert_eq!(seen, vec![(1, 2), (2, 2)]);
    assert_eq!(
        r.rows.iter().map(|r| r.sequences).collect::<Vec<_>>(),
        vec![1, 3]
    );
    for row in &r.rows {
        assert!(
            row.sequential_tokens > 0 && row.batched_tokens > 0,
            "{row:?}"
        );
        assert!(row.batched_tokens <= 8 * row.sequences as u64, "{row:?}");
    }
    assert!(r.table().contains("| 3 |"), "{}", r.table());
    let ceiling = ladder_model::bench::CeilingReport {
        threads: 1,
        weight_bytes: std::fs::metadata(default_model_path()).unwrap().len(),
        read_bytes_s: ladder_model::bench::read_bandwidth(1),
        measured_tok_s: 1.0,
    };
    assert!(ceiling.read_bytes_s > 0.0 && ceiling.ceiling_tok_s() > 0.0);
    assert!(ceiling.table().contains("GB/s"), "{}", ceiling.table());
}

/// Speculative decoding with the model drafting for itself (the 135M is the catalog's only
/// model of its tokenizer): drafts are accepted, a grammar still holds, `max_tokens`, stop
/// strings and streaming behave as one token at a time, the bytes are deterministic, and the
/// session's cells after a speculative call serve the next call. How its text compares
/// with one token at a time is measured and printed (a batch's logits can flip a near-tie).
#[tokio::test]
async fn speculative_decoding_keeps_the_calls_contract() {
    let mut config = LocalConfig::new(default_model_path());
    config.shared_prefixes = false;
    let plain = LocalModel::load(&config).unwrap();
    config.draft = Some(default_model_path());
    config.draft_tokens = 4;
    let fast = LocalModel::load(&config).unwrap();
    assert_eq!(fast.settings()["draft_tokens"], 4);
    assert!(fast.settings()["draft"].is_string());
    let in_session = |m: &LocalModel, r: &ChatRequest| {
        let (m, r) = (m.clone(), r.clone());
        async move {
            m.chat_in(&ladder_core::Session::new(), &r, None)
                .await
                .unwrap()
        }
    };
    let mut constrained = ask("Plan a quiet seaside trip. Reply with an action.", 60);
    constrained.constraint = Some(Constraint::Gbnf(ACTION_GRAMMAR.into()));
    let prose = ask("Name three things to pack for a beach holiday.", 40);
    let mut differ = 0;
    for r in [&constrained, &prose] {
        let a = in_session(&fast, r).await;
        let b = in_session(&fast, r).await;
        assert_eq!(a.text, b.text, "deterministic");
        assert!(a.usage.completion_tokens <= u64::from(r.sampling.max_tokens));
        let one = in_session(&plain, r).await;
        differ += usize::from(one.text != a.text);
    }
    let (proposed, accepted) = fast.draft_acceptance().unwrap();
    assert!(
        accepted > 0 && accepted <= proposed,
        "{accepted} of {proposed}"
    );
    let out = in_session(&fast, &constrained).await;
    assert!(
        out.text.starts_with("{\"action\": \"ask\", \"text\": \"")
            || out
                .text
                .starts_with("{\"action\": \"answer\", \"text\": \""),
        "the grammar held: {:?}",
        out.text
    );
    // max_tokens: exactly, and Length.
    let capped = in_session(&fast, &ask("Count from 1 to 100.", 7)).await;
    assert_eq!(capped.usage.completion_tokens, 7);
    assert_eq!(capped.finish, FinishReason::Length);
    // A stop string cuts the text, streamed and returned alike.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut r = ask("What is the capital of France? Answer in one word.", 32);
    r.stop = vec!["Paris".into()];
    let session = ladder_core::Session::new();
    let stopped = fast.chat_in(&session, &r, Some(tx)).await.unwrap();
    let mut streamed = String::new();
    while let Some(piece) = rx.recv().await {
        streamed.push_str(&piece);
    }
    assert_eq!(streamed, stopped.text);
    assert_eq!(stopped.finish, FinishReason::StopString);
    assert!(!stopped.text.contains("Paris"));
    // The session's sequence holds the prompt and what was decoded: the next call, which
    // extends it, finds all of its prompt up to the reply cached, and answers.
    let mut next = r.clone();
    next.stop.clear();
    next.messages.push(Message::assistant(stopped.text.clone()));
    next.messages.push(Message::user("And of Spain?"));
    let reply = fast.chat_in(&session, &next, None).await.unwrap();
    assert!(
        reply.usage.cached_tokens >= stopped.usage.prompt_tokens,
        "{:?} after {:?}",
        reply.usage,
        stopped.usage
    );
    eprintln!(
        "speculative (self-draft, 4 tokens): {accepted} of {proposed} drafts accepted; \
         {differ} of 2 texts differ from one token at a time"
    );
}

/// A session's cache belongs to the model that made it: the same session used with another
/// loaded model starts over (its contexts borrow the first model's weights), and gets that
/// model's own bytes.
#[tokio::test]
async fn a_session_used_with_another_model_starts_over() {
    let mut config = LocalConfig::new(default_model_path());
    config.shared_prefixes = false;
    let first = LocalModel::load(&config).unwrap();
    let second = LocalModel::load(&config).unwrap();
    let r = ask("Name a quiet beach town.", 12);
    let session = ladder_core::Session::new();
    first.chat_in(&session, &r, None).await.unwrap();
    let again = second.chat_in(&session, &r, None).await.unwrap();
    assert_eq!(again.usage.cached_tokens, 0, "{:?}", again.usage);
    let alone = second
        .chat_in(&ladder_core::Session::new(), &r, None)
        .await
        .unwrap();
    assert_eq!(again.text, alone.text);
}

/// Runs in flight at once each decode in their own session context, so a run's text does
/// not depend on which others run beside it, and cancelling one (dropping its call) leaves
/// the other's output byte for byte what it is alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_gives_its_text_alone_and_among_others_and_a_cancelled_neighbour_changes_nothing() {
    let m = model();
    let a = ask("Name three seaside towns and say one thing about each.", 60);
    let mut b = ask("Write a very long story about a lighthouse keeper.", 400);
    b.sampling.seed = 7;
    let alone_a = m
        .chat_in(&ladder_core::Session::new(), &a, None)
        .await
        .expect("a alone");
    let alone_b = m
        .chat_in(&ladder_core::Session::new(), &b, None)
        .await
        .expect("b alone");
    // Both at once, in two sessions (two runs).
    let (sa, sb) = (ladder_core::Session::new(), ladder_core::Session::new());
    let (both_a, both_b) = tokio::join!(m.chat_in(&sa, &a, None), m.chat_in(&sb, &b, None));
    assert_eq!(both_a.expect("a").text, alone_a.text, "a among others");
    assert_eq!(both_b.expect("b").text, alone_b.text, "b among others");
    // B cancelled part-way (its call dropped after 300 ms): A is unchanged.
    let (sa, sb) = (ladder_core::Session::new(), ladder_core::Session::new());
    let cancelled = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        m.chat_in(&sb, &b, None),
    );
    let (kept, cancelled) = tokio::join!(m.chat_in(&sa, &a, None), cancelled);
    assert!(
        cancelled.is_err(),
        "b was still generating when it was cancelled"
    );
    assert_eq!(
        kept.expect("a").text,
        alone_a.text,
        "a beside a cancelled run"
    );
}
