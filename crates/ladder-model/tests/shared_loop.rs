//! The shared decode loop (`LocalConfig::shared_runs`) on the real 135M model: runs in
//! flight share one context and one batch per step.

use std::sync::OnceLock;
use std::time::Duration;

use ladder_core::{ChatRequest, FinishReason, LanguageModel, Message, ModelError, Session};
use ladder_model::{LocalConfig, LocalModel};

/// One test at a time: they share the loop, and "alone" must mean alone.
static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn shared_model() -> LocalModel {
    static MODEL: OnceLock<LocalModel> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = ladder_model::model_path("smollm2-135m").expect("in the catalog");
            let mut config = LocalConfig::new(path);
            config.threads = 2;
            config.shared_runs = 4;
            LocalModel::load(&config)
                .unwrap_or_else(|e| panic!("the local model must be installed (`just setup`): {e}"))
        })
        .clone()
}

fn ask(system: Option<&str>, prompt: &str, max_tokens: u32) -> ChatRequest {
    let mut messages = Vec::new();
    if let Some(s) = system {
        messages.push(Message::system(s));
    }
    messages.push(Message::user(prompt));
    let mut r = ChatRequest::new(messages);
    r.sampling.max_tokens = max_tokens;
    r
}

/// The cells the loop holds now.
fn cells(m: &LocalModel) -> usize {
    m.loop_cells_held().expect("the loop answers")
}

/// Characters two texts share from their start.
fn agree(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

const PROMPTS: [&str; 4] = [
    "Name three seaside towns and say one thing about each.",
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle gear works.",
    "List five fruits and their colours.",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_says_it_is_shared_and_answers() {
    let _one = ONE.lock().await;
    let m = shared_model();
    assert_eq!(m.settings()["decode_loop"]["shared"], true);
    let r = m
        .chat_in(
            &Session::new(),
            &ask(None, "What is the capital of France?", 16),
            None,
        )
        .await
        .expect("an answer");
    assert!(r.text.contains("Paris"), "{}", r.text);
    assert!(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 16);
}

/// Four runs decoded alone, then all four at once in one loop. Their texts are not
/// byte-identical (a step's batch holds the other runs' rows, and a near-tie can flip,
/// even at the first token: the test prints how far each agrees), but each run gets its
/// own sequence: each counts its own prompt and budget, and the runs as a whole agree on
/// their start (another run's cells in a sequence would send every one its own way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_alone_and_among_others_keeps_its_own_sequence() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let requests: Vec<ChatRequest> = PROMPTS
        .iter()
        .zip([80, 60, 70, 50])
        .map(|(p, max)| ask(None, p, max))
        .collect();
    let mut alone = Vec::new();
    for r in &requests {
        alone.push(m.chat_in(&Session::new(), r, None).await.expect("alone"));
    }
    let sessions: Vec<Session> = (0..requests.len()).map(|_| Session::new()).collect();
    let together = join_runs(&m, &sessions, &requests).await;
    let mut agreeing = 0;
    for (i, (a, t)) in alone.iter().zip(&together).enumerate() {
        let t = t.as_ref().expect("together");
        let same = agree(&a.text, &t.text);
        eprintln!(
            "run {i}: {same} of {} characters agree alone and among others",
            a.text.chars().count()
        );
        if same >= 20.min(a.text.chars().count()) {
            agreeing += 1;
        }
        assert!(!t.text.is_empty(), "run {i} among others");
        assert_eq!(t.usage.prompt_tokens, a.usage.prompt_tokens);
        assert!(t.usage.completion_tokens <= u64::from(requests[i].sampling.max_tokens));
    }
    assert!(
        agreeing >= 2,
        "only {agreeing} of 4 runs agree on their first 20 characters alone and among others"
    );
}

async fn join_runs(
    m: &LocalModel,
    sessions: &[Session],
    requests: &[ChatRequest],
) -> Vec<Result<ladder_core::ChatResponse, ModelError>> {
    let mut handles = Vec::new();
    for (s, r) in sessions.iter().zip(requests) {
        let (m, s, r) = (m.clone(), s.clone(), r.clone());
        handles.push(tokio::spawn(async move { m.chat_in(&s, &r, None).await }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("the task ran"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_hold_per_run_and_a_cancelled_run_leaves_the_others_answering() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let mut long = ask(
        None,
        "Write a very long story about a lighthouse keeper.",
        400,
    );
    long.sampling.seed = 7;
    let short = ask(None, PROMPTS[0], 12);
    let (s1, s2) = (Session::new(), Session::new());
    let cancelled = tokio::time::timeout(Duration::from_millis(300), m.chat_in(&s1, &long, None));
    let (cancelled, kept) = tokio::join!(cancelled, m.chat_in(&s2, &short, None));
    assert!(cancelled.is_err(), "the long run was cut by its wall limit");
    let kept = kept.expect("the short run answers");
    assert!(kept.usage.completion_tokens <= 12);
    if kept.finish == FinishReason::Length {
        assert_eq!(kept.usage.completion_tokens, 12);
    }
    // The loop goes on serving after the cancel.
    let again = m.chat_in(&s1, &short, None).await.expect("after a cancel");
    assert!(again.usage.completion_tokens <= 12);
}

const BRIEF: &str = "You are a careful travel assistant. Ask the user one short question \
    when you need to know something, and recommend places with their trade-offs when you \
    know enough. Keep every answer under sixty words and never invent prices or dates.";

/// A run's next call starts from the cells of its last one; another run with the same
/// system prompt starts from those cells too (shared in the one KV cache, not evaluated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_calls_and_other_runs_start_from_cells_already_there() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let first = ask(Some(BRIEF), "I'd like to go to the seaside next week.", 24);
    let run = Session::new();
    let a = m.chat_in(&run, &first, None).await.expect("first call");
    let mut next = first.clone();
    next.messages.push(Message::assistant(a.text.clone()));
    next.messages
        .push(Message::user("Somewhere quiet, for three days."));
    let b = m.chat_in(&run, &next, None).await.expect("second call");
    assert!(
        b.usage.cached_tokens >= a.usage.prompt_tokens,
        "the second call re-read its first prompt: {} cached of {}",
        b.usage.cached_tokens,
        b.usage.prompt_tokens
    );
    let other = Session::new();
    let c = m
        .chat_in(
            &other,
            &ask(Some(BRIEF), "Plan a weekend by a lake.", 8),
            None,
        )
        .await
        .expect("another run");
    let brief_tokens = m
        .count_prompt_tokens(&[Message::system(BRIEF)])
        .expect("counts");
    assert!(
        c.usage.cached_tokens as usize + 8 >= brief_tokens,
        "another run evaluated the shared system prompt again: {} cached, the brief is {brief_tokens} tokens",
        c.usage.cached_tokens
    );
    assert!(c.usage.cached_tokens < c.usage.prompt_tokens);
}

/// Two runs that start together with the same system prompt read it once: one waits for
/// the other's cells and copies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_start_together_read_their_common_prompt_once() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let long_brief = format!("{BRIEF} {BRIEF} {BRIEF}");
    let requests = vec![
        ask(Some(&long_brief), "A beach holiday in June.", 8),
        ask(Some(&long_brief), "A city break in autumn.", 8),
    ];
    let sessions = vec![Session::new(), Session::new()];
    let replies = join_runs(&m, &sessions, &requests).await;
    let cached: Vec<u64> = replies
        .iter()
        .map(|r| r.as_ref().expect("answers").usage.cached_tokens)
        .collect();
    let brief_tokens = m
        .count_prompt_tokens(&[Message::system(long_brief.as_str())])
        .expect("counts") as u64;
    assert!(
        cached.iter().sum::<u64>() + 8 >= brief_tokens,
        "both runs evaluated the common prompt ({brief_tokens} tokens): cached {cached:?}"
    );
}

/// A batch of calls (a debate's agents) goes to the loop as one lane each: replies in
/// request order, each within its own budget; a call that cannot fit fails alone, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_replies_in_order_and_a_call_too_long_fails_alone() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let mut requests: Vec<ChatRequest> = PROMPTS[..3]
        .iter()
        .zip([5u32, 9, 13])
        .map(|(p, max)| ask(Some(BRIEF), p, max))
        .collect();
    requests.push(ask(None, &"word ".repeat(9000), 16));
    let replies = m
        .chat_batch(&Session::new(), &requests, vec![None; 4])
        .await;
    for (i, max) in [5u64, 9, 13].into_iter().enumerate() {
        let r = replies[i].as_ref().expect("answers");
        assert!(r.usage.completion_tokens <= max, "call {i}: {:?}", r.usage);
        let alone = m
            .chat_in(&Session::new(), &requests[i], None)
            .await
            .expect("alone");
        assert_eq!(
            r.usage.prompt_tokens, alone.usage.prompt_tokens,
            "call {i} is its own"
        );
    }
    assert!(
        matches!(replies[3], Err(ModelError::ContextOverflow { .. })),
        "{:?}",
        replies[3]
    );
}

/// A grammar-constrained call through the loop gives text of the grammar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_constrained_call_among_others_obeys_its_grammar() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let mut constrained = ask(None, "Should you ask or answer? Reply in JSON.", 60);
    constrained.constraint = Some(ladder_core::Constraint::Gbnf(
        r#"root ::= "{\"action\": \"" ("ask" | "answer") "\"}""#.into(),
    ));
    let free = ask(None, PROMPTS[1], 40);
    let (s1, s2) = (Session::new(), Session::new());
    let (c, f) = tokio::join!(
        m.chat_in(&s1, &constrained, None),
        m.chat_in(&s2, &free, None)
    );
    let c = c.expect("constrained");
    assert!(
        c.text == r#"{"action": "ask"}"# || c.text == r#"{"action": "answer"}"#,
        "{}",
        c.text
    );
    assert!(!f.expect("free").text.is_empty());
}

/// `ladder bench-model --runs-in-flight`: every count measured both ways, the same calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_in_flight_bench_measures_every_count_both_ways() {
    let _one = ONE.lock().await;
    let path = ladder_model::model_path("smollm2-135m").expect("in the catalog");
    let mut model = LocalConfig::new(path);
    model.threads = 2;
    let config = ladder_model::bench::BenchConfig {
        model,
        rounds: 1,
        gen_tokens: 8,
        prompt_repeat: 1,
    };
    let mut seen = Vec::new();
    let r = ladder_model::bench::runs_in_flight(&config, &[2, 3], 8, |n, of| seen.push((n, of)))
        .await
        .expect("measured");
    assert_eq!(seen, vec![(1, 2), (2, 2)]);
    assert_eq!(
        r.rows.iter().map(|r| r.runs).collect::<Vec<_>>(),
        vec![2, 3]
    );
    for row in &r.rows {
        assert!(row.per_run_tokens > 0 && row.shared_tokens > 0, "{row:?}");
        assert!(row.shared_tokens <= 8 * row.runs as u64, "{row:?}");
        assert!(row.per_run_tok_s > 0.0 && row.shared_tok_s > 0.0, "{row:?}");
    }
    assert!(r.table().contains("| 3 |"), "{}", r.table());
}

/// A batch whose calls share a long prompt (a vote over one long context) fits: each call
/// after the first shares the first one's cells, and they are counted once, so three calls
/// of nearly 7,000 tokens each fit in a loop of 20,480 cells. A call with `max_tokens` 0 is
/// answered at once, empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_sharing_a_long_prompt_are_counted_once_and_zero_tokens_is_empty() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let long = "word ".repeat(6800);
    let requests: Vec<ChatRequest> = ["one", "two", "three"]
        .iter()
        .map(|k| ask(Some(&long), &format!("Say {k}."), 4))
        .collect();
    let replies = m
        .chat_batch(&Session::new(), &requests, vec![None; 3])
        .await;
    for (i, r) in replies.iter().enumerate() {
        let r = r.as_ref().unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert!(r.usage.prompt_tokens > 6800, "{:?}", r.usage);
    }
    let cached: u64 = replies
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.usage.cached_tokens))
        .sum();
    assert!(
        cached > 2 * 6800,
        "the long prompt was read more than once: {cached} cached"
    );
    let zero = m
        .chat_in(&Session::new(), &ask(None, PROMPTS[0], 0), None)
        .await
        .expect("answers");
    assert_eq!((zero.text.as_str(), zero.usage.completion_tokens), ("", 0));
    assert_eq!(zero.finish, FinishReason::Length);
}

/// A run that has ended keeps only its system prefix in the loop (every cell held slows
/// every step), and that prefix is still there for the next run to copy; a second run with
/// the same system prompt leaves nothing more behind once it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_run_leaves_only_its_system_prefix() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let system = "You keep the lighthouse at Wrencombe Bay. Answer in one short sentence, \
                  and always say what the tide is doing."
        .repeat(3);
    let first = ask(Some(&system), &"Tell me about the rocks. ".repeat(80), 8);
    let sys = m
        .shared_prefix_tokens(&first)
        .expect("the system prompt is long enough to share");
    let base = cells(&m);
    let run = Session::new();
    let r = m.chat_in(&run, &first, None).await.expect("answers");
    let during = cells(&m);
    drop(run);
    let after = cells(&m);
    assert!(
        during >= after + r.usage.prompt_tokens as usize - sys,
        "the ended run lets go of its conversation: {base} -> {during} -> {after} cells, {:?}",
        r.usage
    );
    assert!(
        after <= base + sys,
        "the ended run keeps at most its {sys}-token system prefix: {base} -> {during} -> {after} cells"
    );
    let next = Session::new();
    let second = ask(Some(&system), "And the weather?", 8);
    let r = m.chat_in(&next, &second, None).await.expect("answers");
    assert!(
        r.usage.cached_tokens as usize >= sys,
        "the next run copies the kept system prefix: {:?}",
        r.usage
    );
    drop(next);
    assert_eq!(
        m.loop_cells_held(),
        Some(after),
        "a second run with the same system prompt leaves nothing more"
    );
}

/// When the run whose system prefix two others copied ends, the cells they share stay
/// counted (once, by one of them): the loop's count drops by the ended run's own cells and
/// no more, and once all three have ended only one copy of the prefix is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cells_two_runs_copied_stay_counted_when_their_source_ends() {
    let _one = ONE.lock().await;
    let m = shared_model();
    let system = "You sell ferry tickets at Saltmere harbour. Give the price, the time of the \
                  next sailing and one thing to see on board."
        .repeat(3);
    let long = ask(Some(&system), &"Tell me about the harbour. ".repeat(40), 8);
    let sys = m.shared_prefix_tokens(&long).expect("worth sharing");
    let base = cells(&m);
    let x = Session::new();
    m.chat_in(&x, &long, None).await.expect("answers");
    let own_x = cells(&m) - base;
    let (y, z) = (Session::new(), Session::new());
    for (s, q) in [(&y, "Is there a cafe?"), (&z, "Can I bring a bike?")] {
        let r = m.chat_in(s, &ask(Some(&system), q, 8), None).await;
        let r = r.expect("answers");
        assert!(
            r.usage.cached_tokens as usize >= sys,
            "copied: {:?}",
            r.usage
        );
    }
    let all = cells(&m);
    drop(x);
    let after = cells(&m);
    // The ended run's own cells go, but the prefix the other two copied from it stays
    // counted (give or take the few chat-template tokens it had itself copied).
    assert!(
        after + own_x >= all + sys - 8 && after + own_x <= all + sys + 16,
        "{sys}-token prefix, the ended run's own {own_x} cells: {all} -> {after}"
    );
    drop((y, z));
    let last = cells(&m);
    assert!(
        last <= base + sys + 8,
        "one copy of the {sys}-token prefix is left: {base} -> {all} -> {after} -> {last}"
    );
}
