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
    /// True when a figure above was estimated (the server did not report it), never
    /// when it was counted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

/// How many tokens some messages take, and whether that was counted with the model's
/// own tokenizer or estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCount {
    pub tokens: u64,
    /// True when the backend has no tokenizer for the model and estimated the count.
    pub estimated: bool,
}

impl TokenCount {
    /// The estimate used where no tokenizer is at hand: one token per 4 bytes of text
    /// plus 4 per message for the chat template's markers. Deliberately on the high side,
    /// so that a budget reserved with it is not overrun.
    pub fn estimate(messages: &[Message]) -> TokenCount {
        let bytes: usize = messages.iter().map(|m| m.content.len()).sum();
        TokenCount {
            tokens: (bytes as u64).div_ceil(4) + 4 * messages.len() as u64 + 2,
            estimated: true,
        }
    }
}

/// One run's handle on a backend. A backend may keep per-run state in it (a llama.cpp
/// context whose KV cache holds the run's prompt prefix, say); the default backends keep
/// nothing. Calls of one run share its session; different runs never do.
#[derive(Clone, Default)]
pub struct Session {
    id: u64,
    state: std::sync::Arc<std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish()
    }
}

impl Session {
    /// A new session with a process-unique id.
    pub fn new() -> Session {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Session {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            state: Default::default(),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The backend's state for this session (created by `init` on first use).
    pub fn with_state<T: Send + 'static, R>(
        &self,
        init: impl FnOnce() -> T,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut slot = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|b| b.is::<T>()) {
            *slot = Some(Box::new(init()));
        }
        let state = slot
            .as_mut()
            .and_then(|b| b.downcast_mut::<T>())
            .expect("the slot was just filled with a T");
        f(state)
    }
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
    /// Where it is served, for HTTP backends. Not part of the model's identity: a
    /// recording replays whichever endpoint served it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl ModelInfo {
    pub fn new(backend: impl Into<String>, model: impl Into<String>) -> Self {
        ModelInfo {
            backend: backend.into(),
            model: model.into(),
            endpoint: None,
        }
    }
}

impl std::fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.backend, self.model)?;
        if let Some(e) = &self.endpoint {
            write!(f, "@{e}")?;
        }
        Ok(())
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
///
/// Cancellation: dropping the future of [`LanguageModel::chat`] stops the call (a local
/// backend stops generating at its next token; an HTTP request is dropped). A run's
/// timeout and Ctrl-C rely on that.
#[async_trait]
pub trait LanguageModel: Send + Sync {
    fn info(&self) -> ModelInfo;

    /// Run one chat completion. Text is also sent to `stream` as it is generated.
    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError>;

    /// One chat completion within a run's [`Session`]. The default ignores the session.
    async fn chat_in(
        &self,
        session: &Session,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let _ = session;
        self.chat(request, stream).await
    }

    /// Several independent completions of one run, one result per request, in the order
    /// of the requests. The default runs them one after another; a backend that can
    /// decode them together overrides it.
    async fn chat_batch(
        &self,
        session: &Session,
        requests: &[ChatRequest],
        streams: Vec<Option<TokenSink>>,
    ) -> Vec<Result<ChatResponse, ModelError>> {
        one_by_one(self, session, requests, streams).await
    }

    /// The tokens these messages take as a prompt (chat template included). Backends
    /// without the model's tokenizer estimate and say so.
    fn count_tokens(&self, messages: &[Message]) -> Result<TokenCount, ModelError> {
        Ok(TokenCount::estimate(messages))
    }

    /// The most tokens (prompt plus completion) one call can hold.
    fn context_window(&self) -> u64;

    /// Settings that change what the model outputs beyond its identity (threads, cache
    /// modes), for the trace header. Not part of a cassette's key.
    fn settings(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Check that a constraint can be applied, before any run starts: a grammar that does
    /// not parse is reported here (and, for llama.cpp, its parser's output is caught here,
    /// not printed over a UI later).
    /// What went wrong in the backend and was recovered from during this process (an
    /// endpoint that failed and was replaced), for a bench to report. Empty by default.
    fn incidents(&self) -> Vec<String> {
        Vec::new()
    }

    fn check_constraint(&self, constraint: &Constraint) -> Result<(), ModelError> {
        let _ = constraint;
        Ok(())
    }
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

/// A batch of calls made one after another in `session` (the default
/// [`LanguageModel::chat_batch`], and a backend's fallback when it cannot decode them
/// together).
pub async fn one_by_one<M: LanguageModel + ?Sized>(
    model: &M,
    session: &Session,
    requests: &[ChatRequest],
    streams: Vec<Option<TokenSink>>,
) -> Vec<Result<ChatResponse, ModelError>> {
    let mut out = Vec::with_capacity(requests.len());
    let mut streams = streams.into_iter();
    for request in requests {
        out.push(
            model
                .chat_in(session, request, streams.next().flatten())
                .await,
        );
    }
    out
}
