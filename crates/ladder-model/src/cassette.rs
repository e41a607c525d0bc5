//! Record and replay model calls.
//!
//! A cassette is a JSON Lines file (format version [`CASSETTE_VERSION`]). Its lines are:
//! - `model`: the recorded backend kind and model name, and its context window;
//! - `chat`: one chat completion: its key, the request and the response;
//! - `count`: one token count: its key, the messages and the count.
//!
//! A key is the full SHA-256 (hex) of the canonical JSON of the backend kind, the model's
//! name and the request, so a recording belongs to one model whatever endpoint or port
//! served it (the URL is not part of the key).
//!
//! Invariants:
//! - A [`Recorder`] is transparent: it reports the wrapped model's identity and changes
//!   nothing in the request or response. Each call is appended and flushed at once, so a
//!   run that dies part-way keeps what it recorded.
//! - A [`Replayer`] never runs a model. It says so in its identity (`replay:<model>`).
//!   Repeated identical requests are served in their recorded order (then the last one
//!   again), so a replay of a non-deterministic backend is still exact. A request it has
//!   no recording for is an error that names the key and the closest recorded request.
//! - Replay covers everything a run asks of a model: completions, token counts and the
//!   context window; a replayed run (a model-played user included) needs no model.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ladder_core::{
    ChatRequest, ChatResponse, Constraint, LanguageModel, Message, ModelError, ModelInfo, Session,
    TokenCount, TokenSink,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const CASSETTE_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Model {
        backend: String,
        model: String,
        context_window: u64,
        /// The recorded backend's settings ([`LanguageModel::settings`]).
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        settings: serde_json::Value,
    },
    Chat {
        key: String,
        request: ChatRequest,
        response: ChatResponse,
    },
    Count {
        key: String,
        messages: Vec<Message>,
        count: TokenCount,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    v: u32,
    #[serde(flatten)]
    line: Line,
}

fn sha256_hex(text: &str) -> String {
    ladder_core::numbers::hex(&Sha256::digest(text.as_bytes()))
}

/// The key of a chat request to the model `backend:model`.
pub fn request_key(backend: &str, model: &str, request: &ChatRequest) -> String {
    sha256_hex(&ladder_core::model::canonical_json(&serde_json::json!({
        "backend": backend, "model": model, "request": request,
    })))
}

/// The key of a token count of `messages` by the model `backend:model`.
pub fn count_key(backend: &str, model: &str, messages: &[Message]) -> String {
    sha256_hex(&ladder_core::model::canonical_json(&serde_json::json!({
        "backend": backend, "model": model, "count": messages,
    })))
}

/// Wraps a model and appends each call to a cassette.
pub struct Recorder {
    inner: Arc<dyn LanguageModel>,
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Recorder {
    pub fn create(inner: Arc<dyn LanguageModel>, path: &Path) -> Result<Recorder, ModelError> {
        let err = |reason: String| ModelError::Cassette {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create its folder: {e}")))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| err(format!("cannot open it for writing: {e}")))?;
        let recorder = Recorder {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            inner,
        };
        let info = recorder.inner.info();
        recorder.append(Line::Model {
            backend: info.backend,
            model: info.model,
            context_window: recorder.inner.context_window(),
            settings: recorder.inner.settings(),
        })?;
        Ok(recorder)
    }

    fn record(
        &self,
        request: &ChatRequest,
        response: ChatResponse,
    ) -> Result<ChatResponse, ModelError> {
        let info = self.inner.info();
        self.append(Line::Chat {
            key: request_key(&info.backend, &info.model, request),
            request: request.clone(),
            response: response.clone(),
        })?;
        Ok(response)
    }

    fn append(&self, line: Line) -> Result<(), ModelError> {
        let entry = Entry {
            v: CASSETTE_VERSION,
            line,
        };
        let mut bytes = serde_json::to_vec(&entry).map_err(|e| ModelError::Cassette {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&bytes)
            .and_then(|_| file.flush())
            .map_err(|e| ModelError::Cassette {
                path: self.path.display().to_string(),
                reason: format!("cannot append to it: {e}"),
            })
    }
}

#[async_trait]
impl LanguageModel for Recorder {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let response = self.inner.chat(request, stream).await?;
        self.record(request, response)
    }

    async fn chat_in(
        &self,
        session: &Session,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let response = self.inner.chat_in(session, request, stream).await?;
        self.record(request, response)
    }

    /// The inner model's batch (decoded together where it can), each reply recorded in
    /// request order.
    async fn chat_batch(
        &self,
        session: &Session,
        requests: &[ChatRequest],
        streams: Vec<Option<TokenSink>>,
    ) -> Vec<Result<ChatResponse, ModelError>> {
        let responses = self.inner.chat_batch(session, requests, streams).await;
        requests
            .iter()
            .zip(responses)
            .map(|(request, response)| response.and_then(|r| self.record(request, r)))
            .collect()
    }

    fn count_tokens(&self, messages: &[Message]) -> Result<TokenCount, ModelError> {
        let count = self.inner.count_tokens(messages)?;
        let info = self.inner.info();
        self.append(Line::Count {
            key: count_key(&info.backend, &info.model, messages),
            messages: messages.to_vec(),
            count,
        })?;
        Ok(count)
    }

    fn context_window(&self) -> u64 {
        self.inner.context_window()
    }

    fn settings(&self) -> serde_json::Value {
        self.inner.settings()
    }

    fn incidents(&self) -> Vec<String> {
        self.inner.incidents()
    }

    fn check_constraint(&self, constraint: &Constraint) -> Result<(), ModelError> {
        self.inner.check_constraint(constraint)
    }
}

/// Serves recorded responses; runs no model.
pub struct Replayer {
    path: PathBuf,
    backend: String,
    model: String,
    context_window: u64,
    settings: serde_json::Value,
    chats: Vec<(String, ChatRequest, ChatResponse)>,
    /// Indexes into `chats` by key, in recorded order.
    by_key: HashMap<String, Vec<usize>>,
    counts: HashMap<String, TokenCount>,
    /// How many times each key has been served.
    served: Mutex<HashMap<String, usize>>,
}

impl Replayer {
    pub fn open(path: &Path) -> Result<Replayer, ModelError> {
        let shown = path.display().to_string();
        let err = |reason: String| ModelError::Cassette {
            path: shown.clone(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| {
            err(format!(
                "cannot open it ({e}); record one with `--record {shown}`"
            ))
        })?;
        let mut model: Option<(String, String, u64, serde_json::Value)> = None;
        let mut chats = Vec::new();
        let mut counts = HashMap::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| err(format!("line {}: {e}", i + 1)))?;
            if line.trim().is_empty() {
                continue;
            }
            let raw: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| err(format!("line {}: not JSON: {e}", i + 1)))?;
            match raw.get("v").and_then(|v| v.as_u64()) {
                Some(v) if v == u64::from(CASSETTE_VERSION) => {}
                Some(v) => {
                    return Err(err(format!(
                        "line {}: cassette version {v} is not supported (this ladder reads version {CASSETTE_VERSION}); record it again",
                        i + 1
                    )))
                }
                None => return Err(err(format!("line {}: no version field `v`", i + 1))),
            }
            let entry: Entry = serde_json::from_value(raw)
                .map_err(|e| err(format!("line {}: not a cassette entry: {e}", i + 1)))?;
            match entry.line {
                Line::Model {
                    backend,
                    model: name,
                    context_window,
                    settings,
                } => {
                    if let Some((b, m, _, _)) = &model {
                        if (b, m) != (&backend, &name) {
                            return Err(err(format!(
                                "line {}: recorded from {backend}:{name}, but earlier lines are from {b}:{m}; one cassette holds one model",
                                i + 1
                            )));
                        }
                    }
                    model = Some((backend, name, context_window, settings));
                }
                Line::Chat {
                    key,
                    request,
                    response,
                } => chats.push((key, request, response)),
                Line::Count { key, count, .. } => {
                    counts.insert(key, count);
                }
            }
        }
        let (backend, model, context_window, settings) = match model {
            Some(m) => m,
            None if chats.is_empty() => ("none".into(), "empty".into(), 0, Default::default()),
            None => return Err(err("it has no `model` line saying what was recorded".into())),
        };
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (key, _, _)) in chats.iter().enumerate() {
            by_key.entry(key.clone()).or_default().push(i);
        }
        Ok(Replayer {
            path: path.to_path_buf(),
            backend,
            model,
            context_window,
            settings,
            chats,
            by_key,
            counts,
            served: Mutex::new(HashMap::new()),
        })
    }

    pub fn len(&self) -> usize {
        self.chats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chats.is_empty()
    }

    /// The recorded model, as `backend:model`.
    pub fn recorded_model(&self) -> String {
        format!("{}:{}", self.backend, self.model)
    }

    fn closest(&self, request: &ChatRequest) -> Option<String> {
        let wanted = serde_json::to_string(request).unwrap_or_default();
        self.chats
            .iter()
            .max_by_key(|(_, r, _)| {
                let got = serde_json::to_string(r).unwrap_or_default();
                shared_ends(&wanted, &got)
            })
            .map(|(k, r, _)| format!("{} ({})", &k[..16], difference(r, request)))
    }
}

/// Length of the common prefix plus the common suffix of two strings.
fn shared_ends(a: &str, b: &str) -> usize {
    let prefix = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let suffix = a
        .bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (prefix + suffix).min(a.len().max(b.len()))
}

fn clip(s: &str) -> String {
    let s: String = s.chars().take(60).collect();
    format!("{s:?}")
}

/// Where a recorded request first differs from the requested one, in words.
fn difference(recorded: &ChatRequest, wanted: &ChatRequest) -> String {
    for (i, (r, w)) in recorded.messages.iter().zip(&wanted.messages).enumerate() {
        if r.role != w.role {
            return format!(
                "message {} is from the {} there, from the {} here",
                i + 1,
                r.role.as_str(),
                w.role.as_str()
            );
        }
        if r.content != w.content {
            return format!(
                "message {} differs: recorded {}, requested {}",
                i + 1,
                clip(&r.content),
                clip(&w.content)
            );
        }
    }
    if recorded.messages.len() != wanted.messages.len() {
        return format!(
            "it has {} messages, the request has {}",
            recorded.messages.len(),
            wanted.messages.len()
        );
    }
    if recorded.sampling != wanted.sampling {
        return format!(
            "sampling differs: recorded {:?}, requested {:?}",
            recorded.sampling, wanted.sampling
        );
    }
    if recorded.stop != wanted.stop {
        return format!(
            "stop strings differ: recorded {:?}, requested {:?}",
            recorded.stop, wanted.stop
        );
    }
    "the output constraint differs".into()
}

#[async_trait]
impl LanguageModel for Replayer {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("replay", self.recorded_model())
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let key = request_key(&self.backend, &self.model, request);
        let Some(indexes) = self.by_key.get(&key) else {
            return Err(ModelError::CassetteMiss {
                cassette: self.path.display().to_string(),
                hash: key,
                closest: self.closest(request),
            });
        };
        let nth = {
            let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
            let n = served.entry(key).or_insert(0);
            *n += 1;
            *n - 1
        };
        let i = indexes[nth.min(indexes.len() - 1)];
        let response = self.chats[i].2.clone();
        if let Some(sink) = stream {
            let _ = sink.send(response.text.clone());
        }
        Ok(response)
    }

    fn count_tokens(&self, messages: &[Message]) -> Result<TokenCount, ModelError> {
        let key = count_key(&self.backend, &self.model, messages);
        self.counts
            .get(&key)
            .copied()
            .ok_or_else(|| ModelError::CassetteMiss {
                cassette: self.path.display().to_string(),
                hash: key,
                closest: self
                    .closest(&ChatRequest::new(messages.to_vec()))
                    .map(|c| format!("{c}; no token count of these messages was recorded")),
            })
    }

    fn context_window(&self) -> u64 {
        self.context_window
    }

    fn settings(&self) -> serde_json::Value {
        self.settings.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_a_full_sha256_of_model_and_request() {
        let a = ChatRequest::new(vec![Message::user("hello")]);
        let mut b = a.clone();
        let k = request_key("local", "m.gguf", &a);
        assert_eq!(k.len(), 64);
        assert_eq!(k, request_key("local", "m.gguf", &b));
        b.sampling.seed = 1;
        assert_ne!(k, request_key("local", "m.gguf", &b));
        assert_ne!(k, request_key("local", "other.gguf", &a));
        assert_ne!(k, request_key("openai", "m.gguf", &a));
    }

    #[test]
    fn difference_names_the_first_differing_message() {
        let a = ChatRequest::new(vec![
            Message::system("s"),
            Message::user("capital of France?"),
        ]);
        let b = ChatRequest::new(vec![
            Message::system("s"),
            Message::user("capital of Spain?"),
        ]);
        let d = difference(&a, &b);
        assert!(
            d.starts_with("message 2 differs") && d.contains("Spain"),
            "{d}"
        );
    }
}
