//! The OpenAI-compatible backend against an in-process HTTP/1.1 server that sends what
//! llama.cpp's server and OpenAI send: chunked `text/event-stream` bodies of
//! `chat.completion.chunk` events ending in `data: [DONE]`, or one JSON body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ladder_core::{ChatRequest, Constraint, FinishReason, LanguageModel, Message, ModelError};
use ladder_model::{OpenAiConfig, OpenAiModel, ServerKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone)]
enum Body {
    Json(String),
    /// SSE events; each string is sent as its own HTTP chunk.
    Sse(Vec<String>),
    /// Close the connection without answering.
    Hangup,
}

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: Body,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: String,
    body: serde_json::Value,
}

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Serve `replies` in order (the last one repeats), one per connection.
async fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let reply = replies[n.min(replies.len() - 1)].clone();
            n += 1;
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let head_end = loop {
                    let mut chunk = [0u8; 4096];
                    let k = sock.read(&mut chunk).await.unwrap();
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let mut chunk = [0u8; 4096];
                    let k = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..k]);
                }
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let body = serde_json::from_slice(&buf[head_end..head_end + len])
                    .unwrap_or(serde_json::Value::Null);
                log.lock().unwrap().push(Seen {
                    path,
                    headers: head,
                    body,
                });

                if matches!(reply.body, Body::Hangup) {
                    return;
                }
                let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
                for (k, v) in &reply.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                match reply.body {
                    Body::Json(j) => {
                        out.push_str(&format!(
                            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{j}",
                            j.len()
                        ));
                        sock.write_all(out.as_bytes()).await.unwrap();
                    }
                    Body::Sse(events) => {
                        out.push_str(
                            "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                        );
                        sock.write_all(out.as_bytes()).await.unwrap();
                        for e in events {
                            let c = format!("{:x}\r\n{e}\r\n", e.len());
                            sock.write_all(c.as_bytes()).await.unwrap();
                            sock.flush().await.unwrap();
                        }
                        sock.write_all(b"0\r\n\r\n").await.unwrap();
                    }
                    Body::Hangup => {}
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { url, seen }
}

fn sse(events: &[&str]) -> Body {
    Body::Sse(events.iter().map(|e| e.to_string()).collect())
}

fn ok(body: Body) -> Reply {
    Reply {
        status: 200,
        headers: vec![],
        body,
    }
}

fn config(url: &str, kind: ServerKind) -> OpenAiConfig {
    let mut c = OpenAiConfig::new(url, "test-model", kind);
    c.backoff = Duration::from_millis(5);
    c.api_key_env = vec!["LADDER_TEST_UNSET_KEY".into()];
    c
}

fn request() -> ChatRequest {
    let mut r = ChatRequest::new(vec![
        Message::system("Be brief."),
        Message::user("Capital of France?"),
    ]);
    r.sampling.max_tokens = 16;
    r.sampling.seed = 3;
    r
}

// What llama.cpp's server streams (role chunk, content chunks, a final chunk with usage and
// timings), with one event split across two HTTP chunks.
const LLAMA_CPP: &[&str] = &[
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}],\"created\":1764000000,\"id\":\"chatcmpl-Q1\",\"model\":\"test-model\",\"system_fingerprint\":\"b6000-1a2b3c\",\"object\":\"chat.completion.chunk\"}\n\n",
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"The capital\"}}],\"created\":1764000000,\"id\":\"chatcmpl-Q1\",\"model\":\"test-model\",\"system_fingerprint\":\"b6000-1a2b3c\",\"object\":\"chat.completion.chunk\"}\n\n",
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\" is Par",
    "is.\"}}],\"created\":1764000000,\"id\":\"chatcmpl-Q1\",\"model\":\"test-model\",\"system_fingerprint\":\"b6000-1a2b3c\",\"object\":\"chat.completion.chunk\"}\n\n",
    "data: {\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,\"delta\":{}}],\"created\":1764000000,\"id\":\"chatcmpl-Q1\",\"model\":\"test-model\",\"system_fingerprint\":\"b6000-1a2b3c\",\"object\":\"chat.completion.chunk\",\"usage\":{\"completion_tokens\":3,\"prompt_tokens\":21,\"total_tokens\":24},\"timings\":{\"prompt_n\":21,\"prompt_ms\":35.5,\"prompt_per_token_ms\":1.69,\"prompt_per_second\":591.5,\"predicted_n\":3,\"predicted_ms\":30.25,\"predicted_per_token_ms\":10.08,\"predicted_per_second\":99.2}}\n\n",
    "data: [DONE]\n\n",
];

// What OpenAI streams with `stream_options.include_usage`: usage in a last chunk with no choices.
const OPENAI: &[&str] = &[
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"test-model\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"test-model\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Paris\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"test-model\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\"model\":\"test-model\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":1,\"total_tokens\":13,\"prompt_tokens_details\":{\"cached_tokens\":8,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n",
    "data: [DONE]\n\n",
];

#[tokio::test]
async fn streams_llama_cpp_chunks_and_reads_usage_and_timings() {
    let server = serve(vec![ok(sse(LLAMA_CPP))]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::LlamaCpp)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = model.chat(&request(), Some(tx)).await.unwrap();
    assert_eq!(r.text, "The capital is Paris.");
    let mut pieces = Vec::new();
    while let Some(p) = rx.recv().await {
        pieces.push(p);
    }
    assert_eq!(pieces, vec!["The capital", " is Paris."]);
    assert_eq!(r.usage.prompt_tokens, 21);
    assert_eq!(r.usage.completion_tokens, 3);
    assert_eq!(r.finish, FinishReason::Stop);
    assert_eq!((r.prompt_ms, r.generation_ms), (35.5, 30.25));

    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    let b = &seen[0].body;
    assert_eq!(b["model"], "test-model");
    assert_eq!(b["stream"], true, "a receiver is attached: streamed");
    assert_eq!(b["seed"], 3);
    assert_eq!(b["max_tokens"], 16);
    assert_eq!(b["messages"][0]["role"], "system");
    assert_eq!(b["messages"][1]["content"], "Capital of France?");
    assert!(!seen[0]
        .headers
        .to_ascii_lowercase()
        .contains("authorization"));
}

#[tokio::test]
async fn without_a_receiver_the_call_is_not_streamed() {
    let body = r#"{"id":"chatcmpl-B","object":"chat.completion","created":1764000000,"model":"test-model","choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#;
    let server = serve(vec![ok(Body::Json(body.into()))]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::LlamaCppPython)).unwrap();
    let r = model.chat(&request(), None).await.unwrap();
    assert_eq!((r.usage.prompt_tokens, r.usage.estimated), (10, false));
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen[0].body["stream"], false);
    assert!(seen[0].body.get("stream_options").is_none());
}

#[tokio::test]
async fn a_stream_without_usage_is_estimated_and_marked_never_zero() {
    // llama-cpp-python's stream: content chunks, no usage even when asked for it.
    let events = [
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Par\"},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"is.\"},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    ];
    let server = serve(vec![ok(sse(&events))]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::LlamaCppPython)).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let r = model.chat(&request(), Some(tx)).await.unwrap();
    assert_eq!(r.text, "Paris.");
    assert!(r.usage.estimated);
    assert!(r.usage.prompt_tokens > 0, "{:?}", r.usage);
    assert_eq!(r.usage.completion_tokens, 2, "one token per streamed chunk");
    let counted = model.count_tokens(&request().messages).unwrap();
    assert!(counted.estimated && counted.tokens > 0);
}

#[tokio::test]
async fn a_dropped_connection_and_a_cut_stream_are_retried() {
    let cut = ok(sse(&[LLAMA_CPP[0]]));
    let server = serve(vec![
        Reply {
            status: 200,
            headers: vec![],
            body: Body::Hangup,
        },
        cut,
        ok(sse(LLAMA_CPP)),
    ])
    .await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::LlamaCpp)).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let r = model.chat(&request(), Some(tx)).await.unwrap();
    assert_eq!(r.text, "The capital is Paris.");
    assert_eq!(server.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_stream_cut_after_text_was_shown_is_an_error_not_a_retry() {
    let server = serve(vec![ok(sse(&LLAMA_CPP[..2]))]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::LlamaCpp)).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let e = model.chat(&request(), Some(tx)).await.unwrap_err();
    assert!(e.to_string().contains("[DONE]"), "{e}");
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_schema_refused_under_strict_mode_says_why() {
    let refused = Reply {
        status: 400,
        headers: vec![],
        body: Body::Json(r#"{"error":{"message":"Invalid schema for response_format 'ladder_output': In context=(), 'required' is required to be supplied and to be an array including every key in properties. strict mode"}}"#.into()),
    };
    let server = serve(vec![refused]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let mut r = request();
    r.constraint = Some(Constraint::JsonSchema(
        serde_json::json!({"type": "object"}),
    ));
    let e = model.chat(&r, None).await.unwrap_err().to_string();
    assert!(
        e.contains("400") && e.contains("additionalProperties"),
        "{e}"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 1, "a 4xx is not retried");
}

#[tokio::test]
async fn reads_openai_usage_chunk_and_length_finish() {
    let server = serve(vec![ok(sse(OPENAI))]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let r = model.chat(&request(), None).await.unwrap();
    assert_eq!(r.text, "Paris");
    assert_eq!(r.finish, FinishReason::Length);
    assert_eq!(
        (
            r.usage.prompt_tokens,
            r.usage.cached_tokens,
            r.usage.completion_tokens
        ),
        (12, 8, 1)
    );
}

#[tokio::test]
async fn reads_a_non_streamed_json_body() {
    let body = r#"{"id":"chatcmpl-B","object":"chat.completion","created":1764000000,"model":"test-model","choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#;
    let server = serve(vec![ok(Body::Json(body.into()))]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let r = model.chat(&request(), None).await.unwrap();
    assert_eq!(r.text, "Paris.");
    assert_eq!(r.usage.completion_tokens, 2);
}

#[tokio::test]
async fn sends_the_api_key_from_the_environment() {
    std::env::set_var("LADDER_TEST_KEY_FOR_AUTH", "sk-test-123");
    let server = serve(vec![ok(sse(OPENAI))]).await;
    let mut c = config(&server.url, ServerKind::Generic);
    c.api_key_env = vec!["LADDER_TEST_KEY_FOR_AUTH".into()];
    OpenAiModel::new(c)
        .unwrap()
        .chat(&request(), None)
        .await
        .unwrap();
    let headers = server.seen.lock().unwrap()[0].headers.to_ascii_lowercase();
    assert!(
        headers.contains("authorization: bearer sk-test-123"),
        "{headers}"
    );
}

#[tokio::test]
async fn retries_429_and_5xx_then_succeeds() {
    let busy = Reply {
        status: 429,
        headers: vec![("Retry-After", "0")],
        body: Body::Json(r#"{"error":{"message":"rate limited"}}"#.into()),
    };
    let down = Reply {
        status: 503,
        headers: vec![],
        body: Body::Json(r#"{"error":"loading model"}"#.into()),
    };
    let server = serve(vec![busy, down, ok(sse(OPENAI))]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let r = model.chat(&request(), None).await.unwrap();
    assert_eq!(r.text, "Paris");
    assert_eq!(server.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn gives_up_after_the_retries_with_status_and_body() {
    let down = Reply {
        status: 500,
        headers: vec![],
        body: Body::Json(r#"{"error":"kaput"}"#.into()),
    };
    let server = serve(vec![down]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let e = model.chat(&request(), None).await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ModelError::Http { status: 500, .. }), "{msg}");
    assert!(
        msg.contains("kaput") && msg.contains("after 3 retries") && msg.contains(&server.url),
        "{msg}"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_shows_the_server_message() {
    let bad = Reply {
        status: 400,
        headers: vec![],
        body: Body::Json(r#"{"error":{"message":"response_format json_schema is not supported","type":"invalid_request_error"}}"#.into()),
    };
    let server = serve(vec![bad]).await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let mut r = request();
    r.constraint = Some(Constraint::JsonSchema(
        serde_json::json!({"type": "object"}),
    ));
    let msg = model.chat(&r, None).await.unwrap_err().to_string();
    assert!(
        msg.contains("HTTP 400") && msg.contains("json_schema is not supported"),
        "{msg}"
    );
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["response_format"]["type"], "json_schema");
}

#[tokio::test]
async fn gbnf_is_sent_to_llama_cpp_and_refused_for_other_servers() {
    let server = serve(vec![ok(sse(LLAMA_CPP))]).await;
    let mut r = request();
    r.constraint = Some(Constraint::Gbnf("root ::= \"Paris\"".into()));
    let generic = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let e = generic.chat(&r, None).await.unwrap_err();
    assert!(matches!(e, ModelError::UnsupportedConstraint { .. }), "{e}");
    assert_eq!(
        server.seen.lock().unwrap().len(),
        0,
        "nothing is sent when the constraint cannot be"
    );

    let llama = OpenAiModel::new(config(&server.url, ServerKind::LlamaCpp)).unwrap();
    llama.chat(&r, None).await.unwrap();
    assert_eq!(
        server.seen.lock().unwrap()[0].body["grammar"],
        "root ::= \"Paris\""
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_names_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let model = OpenAiModel::new(config(&url, ServerKind::Generic)).unwrap();
    let e = model.chat(&request(), None).await.unwrap_err();
    assert!(matches!(e, ModelError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string().contains(&format!("{url}/chat/completions")),
        "{e}"
    );
}

#[tokio::test]
async fn a_malformed_chunk_is_a_protocol_error() {
    let server = serve(vec![ok(sse(&[
        "data: {\"choices\": [\n\n",
        "data: [DONE]\n\n",
    ]))])
    .await;
    let model = OpenAiModel::new(config(&server.url, ServerKind::Generic)).unwrap();
    let e = model.chat(&request(), None).await.unwrap_err();
    assert!(matches!(e, ModelError::Protocol { .. }), "{e}");
    assert!(e.to_string().contains("not JSON"), "{e}");
}

#[tokio::test]
async fn a_pool_moves_a_run_off_a_dead_endpoint_and_keeps_going() {
    use ladder_model::pool::EndpointPool;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", l.local_addr().unwrap());
        drop(l);
        url
    };
    let alive = serve(vec![ok(sse(LLAMA_CPP))]).await;
    let urls = vec![dead.clone(), alive.url.clone()];
    let pool = EndpointPool::new(
        urls.iter()
            .map(|u| OpenAiModel::new(config(u, ServerKind::LlamaCpp)).unwrap())
            .collect(),
        urls.clone(),
    );
    let session = ladder_core::Session::new();
    let r = pool.chat_in(&session, &request(), None).await.unwrap();
    assert_eq!(r.text, "The capital is Paris.");
    let incidents = pool.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(incidents[0].contains(&dead), "{incidents:?}");
    // The run stays on the live endpoint, and a new run is not sent to the dead one.
    pool.chat_in(&session, &request(), None).await.unwrap();
    pool.chat_in(&ladder_core::Session::new(), &request(), None)
        .await
        .unwrap();
    assert_eq!(pool.incidents().len(), 1);
    assert_eq!(alive.seen.lock().unwrap().len(), 3);
    assert_eq!(pool.info().endpoint.unwrap(), urls.join(","));
}

#[tokio::test]
async fn a_pool_returns_a_client_error_without_failing_over() {
    use ladder_model::pool::EndpointPool;
    let bad = serve(vec![Reply {
        status: 400,
        headers: vec![],
        body: Body::Json("{\"error\":{\"message\":\"bad schema\"}}".into()),
    }])
    .await;
    let good = serve(vec![ok(sse(LLAMA_CPP))]).await;
    let urls = vec![bad.url.clone(), good.url.clone()];
    let pool = EndpointPool::new(
        urls.iter()
            .map(|u| OpenAiModel::new(config(u, ServerKind::LlamaCpp)).unwrap())
            .collect(),
        urls,
    );
    let e = pool
        .chat_in(&ladder_core::Session::new(), &request(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bad schema"), "{e}");
    assert!(pool.incidents().is_empty());
    assert!(good.seen.lock().unwrap().is_empty());
}
