//! `openai`: any server that speaks the OpenAI chat-completions API (llama.cpp's server,
//! vLLM, Ollama, OpenAI itself).
//!
//! Invariants:
//! - A call streams (SSE) only when someone receives the tokens; otherwise it asks for one
//!   JSON body, which is where servers that send no usage in a stream (llama-cpp-python's)
//!   do report it. A figure the server still leaves out is estimated and marked so
//!   ([`Usage::estimated`]), never reported as 0.
//! - A constraint is sent in the form the server takes ([`ServerKind`]), or refused before
//!   any request: GBNF only to llama.cpp's server, as `grammar`.
//! - 429 and 5xx answers, connection failures and a stream cut before `[DONE]` (when no
//!   text has reached the receiver yet) are retried, with one wait per attempt: the
//!   server's `Retry-After`, or exponential backoff with jitter (`retry_delay`: capped,
//!   never overflowing, none before the final failure); a request the server rejected as
//!   invalid (4xx) is not.
//! - Token counts are estimated (the backend has no tokenizer for a remote model) and say
//!   so; the context window is the configured one.
//! - The API key is read from an environment variable and never written anywhere.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use ladder_core::{
    ChatRequest, ChatResponse, Constraint, FinishReason, LanguageModel, ModelError, ModelInfo,
    TokenCount, TokenSink, Usage,
};
use serde_json::{json, Value};

use crate::timing::ms_since;

/// Which dialect the server speaks beyond the common API: above all, how it takes a JSON
/// Schema constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// OpenAI and vLLM: `response_format: {type: json_schema, json_schema: {schema}}`.
    Generic,
    /// llama.cpp's server: `json_schema` as OpenAI, and also a GBNF `grammar`.
    LlamaCpp,
    /// llama-cpp-python's server: `response_format: {type: json_object, schema}`.
    LlamaCppPython,
    /// Ollama: `format: <schema>`.
    Ollama,
}

impl ServerKind {
    /// The backend name used in model specs and traces.
    pub fn backend(self) -> &'static str {
        match self {
            ServerKind::Generic => "openai",
            ServerKind::LlamaCpp => "llama-server",
            ServerKind::LlamaCppPython => "llama-cpp-python",
            ServerKind::Ollama => "ollama",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL including the API prefix, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub model: String,
    pub kind: ServerKind,
    /// Environment variables tried in order for the API key.
    pub api_key_env: Vec<String>,
    pub connect_timeout: Duration,
    /// Longest wait for the next streamed bytes.
    pub read_timeout: Duration,
    pub max_retries: u32,
    /// First backoff delay; doubled on each retry, plus up to half of it again at random.
    pub backoff: Duration,
    /// The model's context window in tokens (the API does not say it).
    pub context_window: u64,
}

impl OpenAiConfig {
    pub fn new(base_url: &str, model: &str, kind: ServerKind) -> Self {
        OpenAiConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            kind,
            api_key_env: vec!["LADDER_API_KEY".into(), "OPENAI_API_KEY".into()],
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            context_window: 8192,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }
}

pub struct OpenAiModel {
    config: OpenAiConfig,
    client: reqwest::Client,
    api_key: Option<String>,
}

impl OpenAiModel {
    pub fn new(config: OpenAiConfig) -> Result<Self, ModelError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(|e| ModelError::Unreachable {
                url: config.base_url.clone(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        let api_key = config
            .api_key_env
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|k| !k.is_empty()));
        Ok(OpenAiModel {
            config,
            client,
            api_key,
        })
    }
}

/// The JSON body for a request, or why this server cannot take it. `stream` asks for
/// server-sent events.
pub fn request_body(
    config: &OpenAiConfig,
    request: &ChatRequest,
    stream: bool,
) -> Result<Value, ModelError> {
    let s = &request.sampling;
    let mut body = json!({
        "model": config.model,
        "messages": request.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect::<Vec<_>>(),
        "temperature": s.temperature.max(0.0),
        "top_p": s.top_p,
        "seed": s.seed,
        "max_tokens": s.max_tokens,
        "stream": stream,
    });
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    match (&request.constraint, config.kind) {
        (None, _) => {}
        (Some(Constraint::JsonSchema(schema)), ServerKind::Generic | ServerKind::LlamaCpp) => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "ladder_output", "strict": true, "schema": schema},
            });
        }
        (Some(Constraint::JsonSchema(schema)), ServerKind::LlamaCppPython) => {
            body["response_format"] = json!({"type": "json_object", "schema": schema});
        }
        (Some(Constraint::JsonSchema(schema)), ServerKind::Ollama) => {
            body["format"] = schema.clone();
        }
        (Some(Constraint::Gbnf(grammar)), ServerKind::LlamaCpp) => {
            body["grammar"] = json!(grammar);
        }
        (Some(Constraint::Gbnf(_)), kind) => {
            return Err(ModelError::UnsupportedConstraint {
                backend: kind.backend().into(),
                constraint: "gbnf".into(),
                hint: "only llama.cpp accepts GBNF grammars: use a JSON Schema constraint, or \
                       `llama-server:MODEL@URL` if the server is llama.cpp's"
                    .into(),
            });
        }
    }
    Ok(body)
}

/// What one streamed chunk (or a whole non-streamed body) said.
#[derive(Debug, Default, PartialEq)]
struct Chunk {
    content: Option<String>,
    finish: Option<String>,
    usage: Option<Usage>,
    /// llama.cpp's server reports its own prompt and generation times.
    timings: Option<(f64, f64)>,
    /// ... and how many prompt tokens it took from its cache.
    cached: Option<u64>,
}

fn parse_chunk(v: &Value) -> Result<Chunk, String> {
    if let Some(err) = v.get("error") {
        return Err(format!("the server reported an error: {err}"));
    }
    let choice = v.get("choices").and_then(|c| c.get(0));
    let content = choice
        .and_then(|c| c.get("delta").or_else(|| c.get("message")))
        .and_then(|d| d.get("content"))
        .and_then(|c| c.as_str())
        .map(str::to_string);
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(|f| f.as_str())
        .map(str::to_string);
    let usage = v.get("usage").filter(|u| !u.is_null()).map(|u| {
        let n = |x: Option<&Value>| x.and_then(|x| x.as_u64()).unwrap_or(0);
        Usage {
            prompt_tokens: n(u.get("prompt_tokens")),
            cached_tokens: n(u
                .pointer("/prompt_tokens_details/cached_tokens")
                .or_else(|| u.get("cached_tokens"))),
            completion_tokens: n(u.get("completion_tokens")),
            estimated: false,
        }
    });
    let timings = v.get("timings").and_then(|t| {
        Some((
            t.get("prompt_ms")?.as_f64()?,
            t.get("predicted_ms")?.as_f64()?,
        ))
    });
    let cached = v.pointer("/timings/cache_n").and_then(|c| c.as_u64());
    Ok(Chunk {
        content,
        finish,
        usage,
        timings,
        cached,
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: f64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 30.0)))
}

/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// The one wait before retry number `attempt + 1`: the server's `Retry-After` when it sent
/// one, else `base * 2^attempt` plus up to half of it again, spread by core's SplitMix64
/// from `seed` (the call's seed and the attempt: concurrent runs' retries do not line up,
/// and the same call waits the same), never more than [`MAX_WAIT`] and never overflowing.
fn retry_delay(base: Duration, attempt: u32, retry_after: Option<Duration>, seed: u64) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(MAX_WAIT);
    }
    let doubled = base
        .saturating_mul(2u32.saturating_pow(attempt.min(31)))
        .min(MAX_WAIT);
    let spread = ladder_core::rng::Rng::new(seed ^ u64::from(attempt)).next_u64() % 1000;
    doubled
        .saturating_add(doubled.mul_f64(spread as f64 / 2000.0))
        .min(MAX_WAIT)
}

/// Why one attempt failed, and whether another may succeed (after the server's
/// `Retry-After`, when it said).
enum Attempt {
    Retry(ModelError, Option<Duration>),
    Fail(ModelError),
}

impl OpenAiModel {
    /// Send the request; `Ok` is a successful response.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, Attempt> {
        let url = self.config.endpoint();
        let mut req = self.client.post(&url).json(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| {
            Attempt::Retry(
                ModelError::Unreachable {
                    url: url.clone(),
                    reason: error_chain(&e),
                },
                None,
            )
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retryable = status.as_u16() == 429 || status.is_server_error();
        let wait = retry_after(&resp);
        let mut text = resp.text().await.unwrap_or_default();
        if text.len() > 600 {
            let mut cut = 600;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("...");
        }
        let mut text = text.trim().to_string();
        let lowered = text.to_lowercase();
        if status.is_client_error() && lowered.contains("strict") && lowered.contains("schema") {
            text.push_str(
                " (the server refuses this JSON Schema under strict mode: strict schemas need \
                 every property listed in `required` and `additionalProperties: false` on \
                 every object)",
            );
        }
        let error = ModelError::Http {
            url,
            status: status.as_u16(),
            body: text,
        };
        if retryable {
            Err(Attempt::Retry(error, wait))
        } else {
            Err(Attempt::Fail(error))
        }
    }

    /// One attempt at the whole call: send, then read the stream or the body.
    async fn attempt(
        &self,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        started: Instant,
    ) -> Result<ChatResponse, Attempt> {
        let body = request_body(&self.config, request, stream.is_some()).map_err(Attempt::Fail)?;
        let url = self.config.endpoint();
        let protocol = |reason: String| ModelError::Protocol {
            url: url.clone(),
            reason,
        };
        let resp = self.send(&body).await?;
        let is_sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));

        let mut text = String::new();
        let mut finish = None;
        let mut usage = None;
        let mut timings = None;
        let mut cached = None;
        let mut chunks = 0u64;
        let mut first_token: Option<Instant> = None;
        let mut absorb = |c: Chunk, text: &mut String| -> bool {
            if let Some(t) = c.content.filter(|t| !t.is_empty()) {
                first_token.get_or_insert_with(Instant::now);
                chunks += 1;
                text.push_str(&t);
                if let Some(sink) = stream {
                    if sink.send(t).is_err() {
                        return false;
                    }
                }
            }
            finish = c.finish.or(finish.take());
            usage = c.usage.or(usage);
            timings = c.timings.or(timings);
            cached = c.cached.or(cached);
            true
        };

        if is_sse {
            let mut bytes = resp.bytes_stream();
            let mut buf: Vec<u8> = Vec::new();
            let mut done = false;
            'read: while let Some(part) = bytes.next().await {
                let part = match part {
                    Ok(p) => p,
                    Err(e) => {
                        let error = protocol(format!("the stream broke off: {}", error_chain(&e)));
                        // Text already shown to someone cannot be taken back: only a
                        // stream cut before its first token is retried.
                        return Err(if text.is_empty() {
                            Attempt::Retry(error, None)
                        } else {
                            Attempt::Fail(error)
                        });
                    }
                };
                buf.extend_from_slice(&part);
                while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let line = String::from_utf8_lossy(&line);
                    let Some(data) = line.trim().strip_prefix("data:") else {
                        continue;
                    };
                    let data = data.trim();
                    if data == "[DONE]" {
                        done = true;
                        break 'read;
                    }
                    let v: Value = serde_json::from_str(data).map_err(|e| {
                        Attempt::Fail(protocol(format!(
                            "a streamed chunk is not JSON ({e}): {data}"
                        )))
                    })?;
                    let chunk = parse_chunk(&v).map_err(|e| Attempt::Fail(protocol(e)))?;
                    if !absorb(chunk, &mut text) {
                        return Err(Attempt::Fail(ModelError::Generation(
                            "stopped: the receiver of the token stream went away".into(),
                        )));
                    }
                }
            }
            if !done {
                let error = protocol("the stream ended before `data: [DONE]`".into());
                return Err(if text.is_empty() {
                    Attempt::Retry(error, None)
                } else {
                    Attempt::Fail(error)
                });
            }
        } else {
            let v: Value = resp.json().await.map_err(|e| {
                Attempt::Retry(
                    protocol(format!("the body is not JSON: {}", error_chain(&e))),
                    None,
                )
            })?;
            let chunk = parse_chunk(&v).map_err(|e| Attempt::Fail(protocol(e)))?;
            absorb(chunk, &mut text);
        }

        let finish = match finish.as_deref() {
            Some("length") => FinishReason::Length,
            Some(_) | None => FinishReason::Stop,
        };
        let usage = match usage {
            Some(mut u) if u.prompt_tokens > 0 => {
                if u.cached_tokens == 0 {
                    u.cached_tokens = cached.unwrap_or(0);
                }
                u
            }
            // No usage, or a prompt of 0 tokens (which no chat prompt is): estimate, and
            // say so. Streamed chunks are one token each on llama.cpp, vLLM and Ollama.
            other => Usage {
                prompt_tokens: TokenCount::estimate(&request.messages).tokens,
                cached_tokens: cached.unwrap_or(0),
                completion_tokens: other
                    .map(|u| u.completion_tokens)
                    .filter(|&n| n > 0)
                    .unwrap_or(if chunks > 1 {
                        chunks
                    } else {
                        (text.len() as u64).div_ceil(4)
                    }),
                estimated: true,
            },
        };
        let total_ms = ms_since(started);
        let (prompt_ms, generation_ms) = timings.unwrap_or_else(|| {
            let ttft = first_token
                .map(|t| (t - started).as_secs_f64() * 1000.0)
                .unwrap_or(total_ms);
            (ttft, total_ms - ttft)
        });
        Ok(ChatResponse {
            text,
            finish,
            usage,
            prompt_ms,
            generation_ms,
            total_ms,
        })
    }
}

#[async_trait]
impl LanguageModel for OpenAiModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            backend: self.config.kind.backend().into(),
            model: self.config.model.clone(),
            endpoint: Some(self.config.base_url.clone()),
        }
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match self.attempt(request, stream.as_ref(), started).await {
                Ok(response) => return Ok(response),
                Err(Attempt::Fail(e)) => return Err(e),
                // No wait before the final failure.
                Err(Attempt::Retry(e, _)) if attempt >= self.config.max_retries => {
                    return Err(match e {
                        ModelError::Http { url, status, body } if attempt > 0 => ModelError::Http {
                            url,
                            status,
                            body: format!("{body} (after {attempt} retries)"),
                        },
                        other => other,
                    })
                }
                // One wait per attempt: the server's Retry-After, or the backoff.
                Err(Attempt::Retry(_, after)) => {
                    let wait = retry_delay(
                        self.config.backoff,
                        attempt,
                        after,
                        u64::from(request.sampling.seed),
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    fn context_window(&self) -> u64 {
        self.config.context_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ladder_core::Message;

    #[test]
    fn the_retry_wait_is_the_servers_or_a_doubling_backoff_and_never_overflows() {
        let base = Duration::from_millis(500);
        // The server's Retry-After is the wait, alone (capped).
        assert_eq!(
            retry_delay(base, 0, Some(Duration::from_secs(2)), 1),
            Duration::from_secs(2)
        );
        assert_eq!(
            retry_delay(base, 0, Some(Duration::from_secs(600)), 1),
            MAX_WAIT
        );
        // Otherwise base * 2^attempt, plus up to half again.
        for attempt in 0..5 {
            let d = retry_delay(base, attempt, None, 7);
            let floor = base * 2u32.pow(attempt);
            assert!(
                d >= floor && d <= floor + floor / 2,
                "attempt {attempt}: {d:?}"
            );
        }
        // The same call waits the same; another call's wait is spread differently.
        assert_eq!(retry_delay(base, 2, None, 7), retry_delay(base, 2, None, 7));
        let spread: std::collections::BTreeSet<Duration> = (0..20)
            .map(|seed| retry_delay(base, 2, None, seed))
            .collect();
        assert!(spread.len() > 10, "{spread:?}");
        // Any number of retries: capped, no overflow.
        for attempt in [31, 32, 64, 1000, u32::MAX] {
            assert_eq!(retry_delay(base, attempt, None, 3), MAX_WAIT);
        }
    }

    #[test]
    fn body_carries_sampling_stop_and_schema() {
        let cfg = OpenAiConfig::new("http://h/v1/", "m", ServerKind::Generic);
        assert_eq!(cfg.endpoint(), "http://h/v1/chat/completions");
        let mut req = ChatRequest::new(vec![Message::system("s"), Message::user("u")]);
        req.sampling.seed = 7;
        req.stop = vec!["END".into()];
        req.constraint = Some(Constraint::JsonSchema(json!({"type": "object"})));
        let b = request_body(&cfg, &req, true).unwrap();
        assert_eq!(b["model"], "m");
        assert_eq!(b["messages"][1], json!({"role": "user", "content": "u"}));
        assert_eq!(b["seed"], 7);
        assert_eq!(b["stop"], json!(["END"]));
        assert_eq!(b["stream"], true);
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(
            b["response_format"]["json_schema"]["schema"],
            json!({"type": "object"})
        );
    }

    #[test]
    fn each_server_kind_gets_the_schema_in_the_form_it_takes() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let mut req = ChatRequest::new(vec![Message::user("u")]);
        req.constraint = Some(Constraint::JsonSchema(schema.clone()));
        let body =
            |kind| request_body(&OpenAiConfig::new("http://h/v1", "m", kind), &req, false).unwrap();
        for kind in [ServerKind::Generic, ServerKind::LlamaCpp] {
            let b = body(kind);
            assert_eq!(b["response_format"]["type"], "json_schema");
            assert_eq!(b["response_format"]["json_schema"]["schema"], schema);
        }
        let b = body(ServerKind::LlamaCppPython);
        assert_eq!(
            b["response_format"],
            json!({"type": "json_object", "schema": schema})
        );
        let b = body(ServerKind::Ollama);
        assert_eq!(b["format"], schema);
        assert!(b.get("response_format").is_none());
        // Not streamed: no stream options either.
        assert_eq!(b["stream"], false);
        assert!(b.get("stream_options").is_none());
    }

    #[test]
    fn gbnf_goes_only_to_llama_cpp() {
        let mut req = ChatRequest::new(vec![Message::user("u")]);
        req.constraint = Some(Constraint::Gbnf("root ::= \"a\"".into()));
        let generic = OpenAiConfig::new("http://h/v1", "m", ServerKind::Generic);
        let e = request_body(&generic, &req, false).unwrap_err().to_string();
        assert!(e.contains("gbnf") && e.contains("llama-server:"), "{e}");
        let llama = OpenAiConfig::new("http://h/v1", "m", ServerKind::LlamaCpp);
        assert_eq!(
            request_body(&llama, &req, false).unwrap()["grammar"],
            "root ::= \"a\""
        );
    }

    #[test]
    fn chunks_parse_as_openai_and_llama_cpp_send_them() {
        let c = parse_chunk(
            &json!({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}),
        )
        .unwrap();
        assert_eq!(c.content.as_deref(), Some("Hi"));
        let c = parse_chunk(&json!({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4}}})).unwrap();
        assert_eq!(
            c.usage,
            Some(Usage {
                prompt_tokens: 9,
                cached_tokens: 4,
                completion_tokens: 2,
                estimated: false,
            })
        );
        let c = parse_chunk(&json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"timings":{"prompt_n":9,"prompt_ms":12.5,"predicted_n":2,"predicted_ms":30.0}})).unwrap();
        assert_eq!(c.finish.as_deref(), Some("stop"));
        assert_eq!(c.timings, Some((12.5, 30.0)));
        assert!(parse_chunk(&json!({"error":{"message":"boom"}}))
            .unwrap_err()
            .contains("boom"));
    }
}
