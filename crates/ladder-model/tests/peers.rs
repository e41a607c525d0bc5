//! The OpenAI backend against a real OpenAI-compatible server: llama-cpp-python's, serving
//! the same GGUF on loopback. `just test-peers` installs it (once), starts it, runs these
//! tests with `LADDER_PEER_URL` set and stops it; without that variable they return at
//! once (and say so), as the Qdrant server tests do without `QDRANT_URL`.

use ladder_core::{ChatRequest, Constraint, LanguageModel, Message};
use ladder_model::{OpenAiConfig, OpenAiModel, ServerKind};

fn peer() -> Option<OpenAiModel> {
    let url = std::env::var("LADDER_PEER_URL").ok()?;
    let model = std::env::var("LADDER_PEER_MODEL").unwrap_or_else(|_| "smollm2".into());
    Some(OpenAiModel::new(OpenAiConfig::new(&url, &model, ServerKind::LlamaCppPython)).unwrap())
}

fn ask(prompt: &str, max_tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::new(vec![Message::user(prompt)]);
    r.sampling.max_tokens = max_tokens;
    r
}

#[tokio::test]
async fn a_call_without_a_receiver_is_not_streamed_and_reports_real_usage() {
    let Some(model) = peer() else {
        eprintln!("skipped: LADDER_PEER_URL is not set (run `just test-peers`)");
        return;
    };
    let out = model
        .chat(&ask("What is the capital of France?", 24), None)
        .await
        .unwrap();
    assert!(!out.text.is_empty());
    assert!(!out.usage.estimated, "{:?}", out.usage);
    assert!(out.usage.prompt_tokens > 5 && out.usage.completion_tokens > 0);
}

#[tokio::test]
async fn a_streamed_call_never_records_zero_prompt_tokens() {
    let Some(model) = peer() else {
        eprintln!("skipped: LADDER_PEER_URL is not set (run `just test-peers`)");
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let out = model
        .chat(&ask("What is the capital of France?", 24), Some(tx))
        .await
        .unwrap();
    let mut streamed = String::new();
    while let Some(p) = rx.recv().await {
        streamed.push_str(&p);
    }
    assert_eq!(streamed, out.text);
    assert!(out.usage.prompt_tokens > 0, "{:?}", out.usage);
    if out.usage.estimated {
        eprintln!("this server sent no usage in its stream: the counts are estimated");
    }
}

#[tokio::test]
async fn a_json_schema_constraint_is_obeyed_in_the_form_this_server_takes() {
    let Some(model) = peer() else {
        eprintln!("skipped: LADDER_PEER_URL is not set (run `just test-peers`)");
        return;
    };
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 30}},
        "required": ["city"]
    });
    let mut r = ask("What is the capital of France? Reply in JSON.", 40);
    r.constraint = Some(Constraint::JsonSchema(schema));
    let out = model.chat(&r, None).await.unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&out.text).unwrap_or_else(|e| panic!("{e}: {:?}", out.text));
    assert!(v["city"].is_string(), "{v}");
}

#[tokio::test]
async fn a_pool_of_two_servers_keeps_its_runs_going_when_one_is_killed() {
    let (Ok(url), Ok(url2), Ok(pid2)) = (
        std::env::var("LADDER_PEER_URL"),
        std::env::var("LADDER_PEER_URL2"),
        std::env::var("LADDER_PEER_PID2"),
    ) else {
        eprintln!(
            "skipped: LADDER_PEER_URL2 and LADDER_PEER_PID2 are not set (run `just test-peers`)"
        );
        return;
    };
    let urls = vec![url, url2.clone()];
    let pool = ladder_model::pool::EndpointPool::new(
        urls.iter()
            .map(|u| {
                OpenAiModel::new(OpenAiConfig::new(u, "smollm2", ServerKind::LlamaCppPython))
                    .unwrap()
            })
            .collect(),
        urls.clone(),
    );
    // Four runs, spread over both servers.
    let sessions: Vec<ladder_core::Session> = (0..4).map(|_| ladder_core::Session::new()).collect();
    for s in &sessions {
        pool.chat_in(s, &ask("Name a sea.", 8), None).await.unwrap();
    }
    assert!(pool.incidents().is_empty());
    // The second server dies; every run's next call still gets an answer.
    let status = std::process::Command::new("kill")
        .arg(&pid2)
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(500));
    for s in &sessions {
        let out = pool
            .chat_in(s, &ask("Name a lake.", 8), None)
            .await
            .unwrap();
        assert!(!out.text.is_empty());
    }
    let incidents = pool.incidents();
    assert_eq!(
        incidents.len(),
        1,
        "the dead server is tried once, then avoided: {incidents:?}"
    );
    assert!(incidents[0].contains(&url2), "{incidents:?}");
}
