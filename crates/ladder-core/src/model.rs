//! The language-model interface. Backends live in crate ladder-model; this module only
//! says what a chat completion is, so that strategies and backends agree on it.
//!
//! Requests and responses are plain data: a request's canonical JSON is what a cassette
//! hashes, and a response is what it stores.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::message::Message;

/// Sampling settings. `temperature <= 0` means greedy decoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u32,
    pub max_tokens: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            max_tokens: 256,
        }
    }
}

/// A constraint on the shape of the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Constraint {
    /// A JSON Schema the output must satisfy. Local models turn it into a GBNF grammar;
    /// OpenAI-compatible servers receive it as `response_format`.
    JsonSchema(serde_json::Value),
    /// A raw GBNF grammar (root rule `root`). Only llama.cpp (embedded or its server)
    /// accepts it.
    Gbnf(String),
}

impl Constraint {
    /// A short label for traces: "json_schema" or "gbnf".
    pub fn kind(&self) -> &'static str {
        match self {
            Constraint::JsonSchema(_) => "json_schema",
            Constraint::Gbnf(_) => "gbnf",
        }
    }
}

/// One chat-completion request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    #[serde(default)]
    pub sampling: Sampling,
    /// Generation stops before any of these strings; they are not part of the output.
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default)]
    pub constraint: Option<Constraint>,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        ChatRequest {
            messages,
            ..Default::default()
        }
    }
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt, cached ones included.
    pub prompt_tokens: u64,
    /// Prompt tokens served from a cache instead of being processed again.
    pub cached_tokens: u64,
    pub completion_tokens: u64,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// A stop string was produced.
    StopString,
    /// `max_tokens` was reached.
    Length,
}

/// The answer to a [`ChatRequest`], with what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub finish: FinishReason,
    pub usage: Usage,
    /// Time spent on the prompt, as the backend measured it (0 when it does not say).
    pub prompt_ms: f64,
    /// Time spent generating.
    pub generation_ms: f64,
    /// Wall time of the whole call, as the caller saw it.
    pub total_ms: f64,
}

/// What a backend says about itself, for traces and `ladder models`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// "local", "openai", "replay", ...
    pub backend: String,
    /// The model's name or file.
    pub model: String,
}

impl std::fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.backend, self.model)
    }
}

/// Receives generated text as it is produced. When the receiver is dropped, a backend
/// stops generating at the next token.
pub type TokenSink = tokio::sync::mpsc::UnboundedSender<String>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("model file {path} is missing: run `just setup` to download and install it")]
    NotInstalled { path: String },
    #[error("cannot load model {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("invalid grammar: {message}")]
    InvalidGrammar { message: String },
    #[error("the {backend} backend cannot apply a {constraint} constraint: {hint}")]
    UnsupportedConstraint {
        backend: String,
        constraint: String,
        hint: String,
    },
    #[error("prompt of {prompt_tokens} tokens plus {max_tokens} to generate exceeds the context of {context} tokens")]
    ContextOverflow {
        prompt_tokens: u64,
        max_tokens: u64,
        context: u64,
    },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} sent a response ladder cannot read: {reason}")]
    Protocol { url: String, reason: String },
    #[error("request {hash} is not in cassette {cassette}{}", closest.as_ref().map(|c| format!("; the closest recorded request is {c}")).unwrap_or_else(|| "; the cassette is empty".into()))]
    CassetteMiss {
        cassette: String,
        hash: String,
        closest: Option<String>,
    },
    #[error("cassette {path}: {reason}")]
    Cassette { path: String, reason: String },
    #[error("generation failed: {0}")]
    Generation(String),
}

/// A chat model. Implementations: local llama.cpp, OpenAI-compatible HTTP, record/replay.
#[async_trait]
pub trait LanguageModel: Send + Sync {
    fn info(&self) -> ModelInfo;

    /// Run one chat completion. Text is also sent to `stream` as it is generated.
    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError>;
}

/// JSON with every object's keys in sorted order, whatever serde_json's map features are.
/// Used where bytes must be stable: cassette hashes, generated schemas.
pub fn canonical_json<T: Serialize>(value: &T) -> String {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sort).collect())
            }
            other => other,
        }
    }
    serde_json::to_value(value)
        .map(sort)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// [`canonical_json`], indented for files people read.
pub fn canonical_json_pretty<T: Serialize>(value: &T) -> String {
    let canonical: serde_json::Value =
        serde_json::from_str(&canonical_json(value)).unwrap_or_default();
    serde_json::to_string_pretty(&canonical).unwrap_or_default()
}
