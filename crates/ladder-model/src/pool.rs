//! Several OpenAI-compatible endpoints serving the same model, as one backend
//! (`openai:MODEL@URL1,URL2,...`): the bench's runs spread over them.
//!
//! Invariants:
//! - Each run ([`Session`]) is given one endpoint, round-robin over the live ones, and keeps
//!   it (so a server's prompt cache serves the run's growing prompt).
//! - A call whose endpoint stays down after the call's own retries (unreachable, or a
//!   server error after retries) marks that endpoint down, moves the run to the next live
//!   endpoint and is made there again; the run goes on. Each failover is kept and reported
//!   by [`LanguageModel::incidents`] (a bench writes them into its manifest).
//! - A client error (a bad request, a refused schema) is the request's fault, not the
//!   endpoint's: it is returned at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use ladder_core::model::{ChatResponse, ModelInfo, Session, TokenSink};
use ladder_core::{ChatRequest, Constraint, LanguageModel, Message, ModelError, TokenCount};

use crate::openai::OpenAiModel;

/// The endpoints and which are down.
pub struct EndpointPool {
    endpoints: Vec<OpenAiModel>,
    urls: Vec<String>,
    down: Vec<AtomicBool>,
    next: AtomicUsize,
    failovers: Mutex<Vec<String>>,
}

/// A run's endpoint, kept in its session.
struct Assigned(Option<usize>);

fn endpoint_failure(e: &ModelError) -> bool {
    matches!(
        e,
        ModelError::Unreachable { .. }
            | ModelError::Http {
                status: 500..=599,
                ..
            }
    )
}

impl EndpointPool {
    /// A pool over `endpoints` (at least one), named by their base URLs.
    pub fn new(endpoints: Vec<OpenAiModel>, urls: Vec<String>) -> EndpointPool {
        let down = endpoints.iter().map(|_| AtomicBool::new(false)).collect();
        EndpointPool {
            endpoints,
            urls,
            down,
            next: AtomicUsize::new(0),
            failovers: Mutex::new(Vec::new()),
        }
    }

    /// The first live endpoint from `start` on, in turn (`start` itself if none is live:
    /// a server may have come back).
    fn live_from(&self, start: usize) -> usize {
        let n = self.endpoints.len();
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| !self.down[i].load(Ordering::Relaxed))
            .unwrap_or(start % n)
    }

    /// A new run's endpoint: the next live one after the round-robin counter.
    fn pick(&self) -> usize {
        self.live_from(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// The failovers so far: "URL: reason".
    pub fn failovers(&self) -> Vec<String> {
        self.failovers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Make the call on endpoint `first`, failing over to the others in turn; returns the
    /// response and the endpoint that gave it.
    async fn call(
        &self,
        first: usize,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> (Result<ChatResponse, ModelError>, usize) {
        let n = self.endpoints.len();
        let mut at = first;
        let mut last = None;
        for _ in 0..n {
            match self.endpoints[at].chat(request, stream.clone()).await {
                Err(e) if endpoint_failure(&e) => {
                    self.down[at].store(true, Ordering::Relaxed);
                    self.failovers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(format!("{}: {e}", self.urls[at]));
                    last = Some(e);
                    at = self.live_from(at + 1);
                }
                other => {
                    if other.is_ok() {
                        self.down[at].store(false, Ordering::Relaxed);
                    }
                    return (other, at);
                }
            }
        }
        let e = last.unwrap_or_else(|| ModelError::Generation("no endpoint".into()));
        (
            Err(ModelError::Unreachable {
                url: self.urls.join(", "),
                reason: format!("every endpoint failed; the last: {e}"),
            }),
            at,
        )
    }
}

#[async_trait]
impl LanguageModel for EndpointPool {
    fn info(&self) -> ModelInfo {
        let mut info = self.endpoints[0].info();
        info.endpoint = Some(self.urls.join(","));
        info
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.call(self.pick(), request, stream).await.0
    }

    async fn chat_in(
        &self,
        session: &Session,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let first = session.with_state(|| Assigned(None), |a| a.0);
        let first = match first {
            Some(i) if !self.down[i].load(Ordering::Relaxed) => i,
            _ => self.pick(),
        };
        let (result, at) = self.call(first, request, stream).await;
        session.with_state(|| Assigned(None), |a| a.0 = Some(at));
        result
    }

    fn count_tokens(&self, messages: &[Message]) -> Result<TokenCount, ModelError> {
        self.endpoints[0].count_tokens(messages)
    }

    fn context_window(&self) -> u64 {
        self.endpoints[0].context_window()
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "endpoints": self.urls })
    }

    fn incidents(&self) -> Vec<String> {
        self.failovers()
            .into_iter()
            .map(|f| format!("failover from {f}"))
            .collect()
    }

    fn check_constraint(&self, constraint: &Constraint) -> Result<(), ModelError> {
        self.endpoints[0].check_constraint(constraint)
    }
}
