//! `openai`: any server that speaks the OpenAI chat-completions API (llama.cpp's server,
//! vLLM, Ollama, OpenAI itself).
//!
//! Invariants:
//! - Requests always stream (SSE); a server that answers with one JSON body is read too.
//! - A constraint is sent in the form the server accepts, or refused before any request:
//!   a JSON Schema goes as `response_format`; GBNF only to llama.cpp's server, as `grammar`.
//! - 429 and 5xx answers are retried with exponential backoff (honouring `Retry-After`);
//!   an endpoint that cannot be reached is an error naming its URL, at once.
//! - The API key is read from an environment variable and never written anywhere.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use ladder_core::{
    ChatRequest, ChatResponse, Constraint, FinishReason, LanguageModel, ModelError, ModelInfo,
    TokenSink, Usage,
};
use serde_json::{json, Value};

use crate::local::ms_since;

/// Which dialect the server speaks beyond the common API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Plain OpenAI API: JSON Schema constraints only.
    Generic,
    /// llama.cpp's server: also accepts a GBNF `grammar`.
    LlamaCpp,
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
    /// First backoff delay; doubled on each retry.
    pub backoff: Duration,
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

/// The JSON body for a request, or why this server cannot take it.
pub fn request_body(config: &OpenAiConfig, request: &ChatRequest) -> Result<Value, ModelError> {
    let s = &request.sampling;
    let mut body = json!({
        "model": config.model,
        "messages": request.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect::<Vec<_>>(),
        "temperature": s.temperature.max(0.0),
        "top_p": s.top_p,
        "seed": s.seed,
        "max_tokens": s.max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    match (&request.constraint, config.kind) {
        (None, _) => {}
        (Some(Constraint::JsonSchema(schema)), _) => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "ladder_output", "strict": true, "schema": schema},
            });
        }
        (Some(Constraint::Gbnf(grammar)), ServerKind::LlamaCpp) => {
            body["grammar"] = json!(grammar);
        }
        (Some(Constraint::Gbnf(_)), ServerKind::Generic) => {
            return Err(ModelError::UnsupportedConstraint {
                backend: "openai".into(),
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
            cached_tokens: n(u.pointer("/prompt_tokens_details/cached_tokens")),
            completion_tokens: n(u.get("completion_tokens")),
        }
    });
    let timings = v.get("timings").and_then(|t| {
        Some((
            t.get("prompt_ms")?.as_f64()?,
            t.get("predicted_ms")?.as_f64()?,
        ))
    });
    Ok(Chunk {
        content,
        finish,
        usage,
        timings,
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

impl OpenAiModel {
    async fn send(&self, body: &Value) -> Result<reqwest::Response, ModelError> {
        let url = self.config.endpoint();
        let mut attempt = 0;
        loop {
            let mut req = self.client.post(&url).json(body);
            if let Some(key) = &self.api_key {
                req = req.bearer_auth(key);
            }
            let resp = req.send().await.map_err(|e| ModelError::Unreachable {
                url: url.clone(),
                reason: error_chain(&e),
            })?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let retryable = status.as_u16() == 429 || status.is_server_error();
            if retryable && attempt < self.config.max_retries {
                let delay = retry_after(&resp).unwrap_or(self.config.backoff * 2u32.pow(attempt));
                attempt += 1;
                tokio::time::sleep(delay).await;
                continue;
            }
            let mut text = resp.text().await.unwrap_or_default();
            if text.len() > 600 {
                let mut cut = 600;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push_str("...");
            }
            let tries = if attempt > 0 {
                format!(" (after {} retries)", attempt)
            } else {
                String::new()
            };
            return Err(ModelError::Http {
                url,
                status: status.as_u16(),
                body: format!("{}{tries}", text.trim()),
            });
        }
    }
}

#[async_trait]
impl LanguageModel for OpenAiModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            backend: match self.config.kind {
                ServerKind::Generic => "openai".into(),
                ServerKind::LlamaCpp => "llama-server".into(),
            },
            model: format!("{}@{}", self.config.model, self.config.base_url),
        }
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let started = Instant::now();
        let body = request_body(&self.config, request)?;
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
        let mut chunks = 0u64;
        let mut first_token: Option<Instant> = None;
        let mut absorb = |c: Chunk, text: &mut String| -> bool {
            if let Some(t) = c.content.filter(|t| !t.is_empty()) {
                first_token.get_or_insert_with(Instant::now);
                chunks += 1;
                text.push_str(&t);
                if let Some(sink) = &stream {
                    if sink.send(t).is_err() {
                        return false;
                    }
                }
            }
            finish = c.finish.or(finish.take());
            usage = c.usage.or(usage);
            timings = c.timings.or(timings);
            true
        };

        if is_sse {
            let mut bytes = resp.bytes_stream();
            let mut buf: Vec<u8> = Vec::new();
            'read: while let Some(part) = bytes.next().await {
                let part = part
                    .map_err(|e| protocol(format!("the stream broke off: {}", error_chain(&e))))?;
                buf.extend_from_slice(&part);
                while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let line = String::from_utf8_lossy(&line);
                    let Some(data) = line.trim().strip_prefix("data:") else {
                        continue;
                    };
                    let data = data.trim();
                    if data == "[DONE]" {
                        break 'read;
                    }
                    let v: Value = serde_json::from_str(data).map_err(|e| {
                        protocol(format!("a streamed chunk is not JSON ({e}): {data}"))
                    })?;
                    let chunk = parse_chunk(&v).map_err(protocol)?;
                    if !absorb(chunk, &mut text) {
                        return Err(ModelError::Generation(
                            "stopped: the receiver of the token stream went away".into(),
                        ));
                    }
                }
            }
        } else {
            let v: Value = resp
                .json()
                .await
                .map_err(|e| protocol(format!("the body is not JSON: {}", error_chain(&e))))?;
            let chunk = parse_chunk(&v).map_err(protocol)?;
            absorb(chunk, &mut text);
        }

        let finish = match finish.as_deref() {
            Some("length") => FinishReason::Length,
            Some(_) | None => FinishReason::Stop,
        };
        // Servers that do not report usage: count streamed chunks (one token each on
        // llama.cpp, vLLM and Ollama).
        let usage = usage.unwrap_or(Usage {
            prompt_tokens: 0,
            cached_tokens: 0,
            completion_tokens: chunks,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use ladder_core::Message;

    #[test]
    fn body_carries_sampling_stop_and_schema() {
        let cfg = OpenAiConfig::new("http://h/v1/", "m", ServerKind::Generic);
        assert_eq!(cfg.endpoint(), "http://h/v1/chat/completions");
        let mut req = ChatRequest::new(vec![Message::system("s"), Message::user("u")]);
        req.sampling.seed = 7;
        req.stop = vec!["END".into()];
        req.constraint = Some(Constraint::JsonSchema(json!({"type": "object"})));
        let b = request_body(&cfg, &req).unwrap();
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
    fn gbnf_goes_only_to_llama_cpp() {
        let mut req = ChatRequest::new(vec![Message::user("u")]);
        req.constraint = Some(Constraint::Gbnf("root ::= \"a\"".into()));
        let generic = OpenAiConfig::new("http://h/v1", "m", ServerKind::Generic);
        let e = request_body(&generic, &req).unwrap_err().to_string();
        assert!(e.contains("gbnf") && e.contains("llama-server:"), "{e}");
        let llama = OpenAiConfig::new("http://h/v1", "m", ServerKind::LlamaCpp);
        assert_eq!(
            request_body(&llama, &req).unwrap()["grammar"],
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
                completion_tokens: 2
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
