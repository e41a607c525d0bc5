//! Record and replay model calls.
//!
//! A cassette is a JSON Lines file; each line is one call: the format version `v`, the
//! request's hash, the model that answered, the request and the response. The hash is the
//! SHA-256 of the request's canonical JSON (serde field order, sorted map keys), so the
//! same request always finds the same recording.
//!
//! Invariants:
//! - A [`Recorder`] is transparent: it reports the wrapped model's identity and changes
//!   nothing in the request or response. Each call is appended and flushed at once, so a
//!   run that dies part-way keeps what it recorded.
//! - A [`Replayer`] never runs a model. It says so in its identity (`replay:<model>`), and
//!   a request it has no recording for is an error that names the request's hash and the
//!   closest recorded request.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ladder_core::{ChatRequest, ChatResponse, LanguageModel, ModelError, ModelInfo, TokenSink};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const CASSETTE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    v: u32,
    hash: String,
    model: String,
    request: ChatRequest,
    response: ChatResponse,
}

/// The stable hash of a request (16 hex digits of SHA-256 of its canonical JSON).
pub fn request_hash(request: &ChatRequest) -> String {
    let digest = Sha256::digest(ladder_core::model::canonical_json(request).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
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
        Ok(Recorder {
            inner,
            path: path.to_path_buf(),
            file: Mutex::new(file),
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
        let entry = Entry {
            v: CASSETTE_VERSION,
            hash: request_hash(request),
            model: self.inner.info().to_string(),
            request: request.clone(),
            response: response.clone(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| ModelError::Cassette {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)
            .and_then(|_| file.flush())
            .map_err(|e| ModelError::Cassette {
                path: self.path.display().to_string(),
                reason: format!("cannot append to it: {e}"),
            })?;
        Ok(response)
    }
}

/// Serves recorded responses; runs no model.
pub struct Replayer {
    path: PathBuf,
    model: String,
    entries: Vec<Entry>,
    by_hash: HashMap<String, usize>,
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
        let mut entries = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| err(format!("line {}: {e}", i + 1)))?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(&line)
                .map_err(|e| err(format!("line {}: not a cassette entry: {e}", i + 1)))?;
            if entry.v != CASSETTE_VERSION {
                return Err(err(format!(
                    "line {}: cassette version {} is not supported (this ladder reads version {CASSETTE_VERSION})",
                    i + 1,
                    entry.v
                )));
            }
            entries.push(entry);
        }
        let by_hash = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.hash.clone(), i))
            .collect();
        let model = entries
            .first()
            .map(|e| e.model.clone())
            .unwrap_or_else(|| "empty".into());
        Ok(Replayer {
            path: path.to_path_buf(),
            model,
            entries,
            by_hash,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn closest(&self, request: &ChatRequest) -> Option<String> {
        let wanted = serde_json::to_string(request).unwrap_or_default();
        self.entries
            .iter()
            .max_by_key(|e| {
                let got = serde_json::to_string(&e.request).unwrap_or_default();
                shared_ends(&wanted, &got)
            })
            .map(|e| format!("{} ({})", e.hash, difference(&e.request, request)))
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
        ModelInfo {
            backend: "replay".into(),
            model: self.model.clone(),
        }
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let hash = request_hash(request);
        let Some(&i) = self.by_hash.get(&hash) else {
            return Err(ModelError::CassetteMiss {
                cassette: self.path.display().to_string(),
                hash,
                closest: self.closest(request),
            });
        };
        let response = self.entries[i].response.clone();
        if let Some(sink) = stream {
            let _ = sink.send(response.text.clone());
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ladder_core::Message;

    #[test]
    fn hash_is_stable_and_sensitive() {
        let a = ChatRequest::new(vec![Message::user("hello")]);
        let mut b = a.clone();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_eq!(request_hash(&a).len(), 16);
        b.sampling.seed = 1;
        assert_ne!(request_hash(&a), request_hash(&b));
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
