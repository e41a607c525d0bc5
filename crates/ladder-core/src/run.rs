//! The one interface every strategy implements, and the context it runs in.
//!
//! A [`Strategy`] gets a [`Task`] and a [`RunContext`] and returns an [`Outcome`]. It
//! reaches the model, the user and the retriever only through the context's methods
//! ([`RunContext::call_model`], [`RunContext::ask_user`], [`RunContext::retrieve`]), which
//! check cancellation and the budget *before* acting and record the trace event *after*.
//! A strategy therefore cannot exceed its budget or forget to trace a call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::model::{ChatRequest, ChatResponse, LanguageModel, ModelError, TokenSink};
use crate::outcome::{Outcome, StopReason};
use crate::retrieval::{Hit, RetrievalError, Retriever};
use crate::task::{Budget, Task};
use crate::trace::{EventKind, TraceHit, TraceSink};
use crate::user::{UserChannel, UserError, UserReply};

/// A way of solving tasks with a language model.
#[async_trait]
pub trait Strategy: Send + Sync {
    /// A short, stable name ("direct", "scaffold", "bootstrap").
    fn name(&self) -> &str;

    /// Solve `task`. Failures are reported in the outcome's stop reason, not as a panic.
    async fn run(&self, task: &Task, ctx: &mut RunContext) -> Outcome;
}

/// Cancels a run from outside (Ctrl-C, the TUI). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a context call refused or failed. Converts into an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("budget exhausted: {0}")]
    Budget(String),
    #[error("cancelled")]
    Cancelled,
    #[error("the user gave up: {0}")]
    UserGaveUp(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
}

impl RunError {
    pub fn stop_reason(&self) -> StopReason {
        match self {
            RunError::Budget(limit) => StopReason::BudgetExhausted {
                limit: limit.clone(),
            },
            RunError::Cancelled => StopReason::Cancelled,
            RunError::UserGaveUp(_) => StopReason::UserGaveUp,
            other => StopReason::Error {
                message: other.to_string(),
            },
        }
    }
}

/// Everything a strategy may use during one run.
pub struct RunContext {
    pub model: Arc<dyn LanguageModel>,
    pub user: Option<Box<dyn UserChannel>>,
    pub retriever: Option<Arc<dyn Retriever>>,
    pub trace: TraceSink,
    pub budget: Budget,
    pub cancel: Cancel,
    /// Receives generated text live (for display); `None` for batch runs.
    pub tokens: Option<TokenSink>,
    started: Instant,
    steps: u32,
    model_calls: u32,
    tokens_used: u64,
}

impl RunContext {
    pub fn new(model: Arc<dyn LanguageModel>, budget: Budget) -> Self {
        RunContext {
            model,
            user: None,
            retriever: None,
            trace: TraceSink::new(),
            budget,
            cancel: Cancel::default(),
            tokens: None,
            started: Instant::now(),
            steps: 0,
            model_calls: 0,
            tokens_used: 0,
        }
    }

    pub fn with_user(mut self, user: Box<dyn UserChannel>) -> Self {
        self.user = Some(user);
        self
    }

    pub fn with_retriever(mut self, retriever: Arc<dyn Retriever>) -> Self {
        self.retriever = Some(retriever);
        self
    }

    /// Tokens (prompt + completion) still available, or `None` when unlimited.
    pub fn tokens_left(&self) -> Option<u64> {
        (self.budget.max_tokens > 0)
            .then(|| self.budget.max_tokens.saturating_sub(self.tokens_used))
    }

    fn check(&self) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        let b = &self.budget;
        if b.max_wall_ms > 0 && self.started.elapsed().as_millis() as u64 >= b.max_wall_ms {
            return Err(RunError::Budget(format!(
                "wall time of {} ms",
                b.max_wall_ms
            )));
        }
        if b.max_tokens > 0 && self.tokens_used >= b.max_tokens {
            return Err(RunError::Budget(format!("{} tokens", b.max_tokens)));
        }
        Ok(())
    }

    /// Start one step of the strategy's loop; refuses when the step budget is spent.
    pub fn next_step(&mut self) -> Result<u32, RunError> {
        self.check()?;
        if self.budget.max_steps > 0 && self.steps >= self.budget.max_steps {
            return Err(RunError::Budget(format!("{} steps", self.budget.max_steps)));
        }
        self.steps += 1;
        Ok(self.steps)
    }

    /// Call the model and record the call. `max_tokens` is cut to what the token budget
    /// has left.
    pub async fn call_model(
        &mut self,
        purpose: &str,
        mut request: ChatRequest,
    ) -> Result<ChatResponse, RunError> {
        self.check()?;
        if self.budget.max_model_calls > 0 && self.model_calls >= self.budget.max_model_calls {
            return Err(RunError::Budget(format!(
                "{} model calls",
                self.budget.max_model_calls
            )));
        }
        if let Some(left) = self.tokens_left() {
            let left = u32::try_from(left).unwrap_or(u32::MAX);
            request.sampling.max_tokens = request.sampling.max_tokens.min(left);
        }
        self.model_calls += 1;
        let result = self.model.chat(&request, self.tokens.clone()).await;
        match result {
            Ok(response) => {
                self.tokens_used += response.usage.prompt_tokens + response.usage.completion_tokens;
                self.trace.emit(EventKind::ModelCall {
                    purpose: purpose.to_string(),
                    messages: request.messages,
                    output: response.text.clone(),
                    usage: response.usage,
                    latency_ms: response.total_ms,
                    grammar: request.constraint.as_ref().map(|c| c.kind().to_string()),
                });
                Ok(response)
            }
            Err(e) => {
                self.trace.emit(EventKind::Error {
                    message: format!("model call ({purpose}) failed: {e}"),
                });
                Err(e.into())
            }
        }
    }

    /// Ask the user a question and record the turn.
    pub async fn ask_user(&mut self, question: &str) -> Result<String, RunError> {
        self.check()?;
        let user = self.user.as_mut().ok_or(UserError::NoUser)?;
        let reply = user.ask(question).await?;
        let matched = user.matched_slots();
        let gave_up = matches!(reply, UserReply::GaveUp(_));
        self.trace.emit(EventKind::UserTurn {
            question: question.to_string(),
            reply: reply.text().to_string(),
            gave_up,
            matched,
        });
        match reply {
            UserReply::Answer(text) => Ok(text),
            UserReply::GaveUp(text) => Err(RunError::UserGaveUp(text)),
        }
    }

    /// Search the knowledge base and record the hits.
    pub async fn retrieve(&mut self, query: &str, k: usize) -> Result<Vec<Hit>, RunError> {
        self.check()?;
        let retriever = self.retriever.as_ref().ok_or(RetrievalError::NoRetriever)?;
        let hits = retriever.search(query, k).await?;
        self.trace.emit(EventKind::Retrieval {
            query: query.to_string(),
            hits: hits
                .iter()
                .map(|h| TraceHit {
                    id: h.id.clone(),
                    score: h.score,
                    document: h.document.clone(),
                })
                .collect(),
        });
        Ok(hits)
    }

    /// Record a final answer and turn it into an outcome.
    pub fn answer(&mut self, text: impl Into<String>) -> Outcome {
        let text = text.into();
        self.trace.emit(EventKind::Answer { text: text.clone() });
        Outcome::answered(text)
    }

    /// Turn a strategy's result into its outcome: an answer, or the stop reason of the
    /// error that ended it.
    pub fn finish(&mut self, result: Result<String, RunError>) -> Outcome {
        match result {
            Ok(text) => self.answer(text),
            Err(e) => Outcome::stopped(e.stop_reason()),
        }
    }
}

/// Run `strategy` on `task`: records the start and the end of the run around it.
pub async fn run_task(strategy: &dyn Strategy, task: &Task, ctx: &mut RunContext) -> Outcome {
    ctx.trace.emit(EventKind::RunStarted {
        task: task.id.clone(),
        strategy: strategy.name().to_string(),
        model: ctx.model.info().to_string(),
    });
    let outcome = strategy.run(task, ctx).await;
    ctx.trace.emit(EventKind::RunFinished {
        outcome: outcome.clone(),
    });
    outcome
}
