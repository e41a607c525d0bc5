//! ladder-core: the shared language of ladder.
//!
//! Everything that more than one crate must agree on lives here, as plain serde data:
//! messages, tasks and budgets, outcomes, the trace ([`trace::Event`]) and the metrics
//! derived from it, and the interfaces that strategies are written against:
//! [`Strategy`], [`RunContext`], [`LanguageModel`], [`UserChannel`], [`Retriever`].
//!
//! Invariants:
//! - This crate depends on no other ladder crate. Backends, strategies, the harness and
//!   the UI depend on it, never the other way round.
//! - Every number a report shows is computed from a trace by a pure function
//!   ([`metrics::Metrics::from_events`]); strategies never count for themselves.
//! - A strategy reaches the model, the user and the knowledge base only through
//!   [`RunContext`], which records each call in the trace and enforces the budget.
//! - A strategy sees a [`TaskView`] (id and opening), never the [`Task`] with its hidden
//!   profile and expectations, and the [`FormSpec`] only when it asks for it.

pub mod direct;
pub mod embed;
pub mod form;
pub mod message;
pub mod metrics;
pub mod model;
pub mod numbers;
pub mod outcome;
pub mod paths;
pub mod retrieval;
pub mod rng;
pub mod run;
pub mod task;
pub mod trace;
pub mod user;
pub mod words;

pub use direct::Direct;
pub use embed::{cosine, EmbedError, Embedder};
pub use form::{FormIntent, FormSlot, FormSpec};
pub use message::{Message, Role};
pub use metrics::Metrics;
pub use model::{
    ChatRequest, ChatResponse, Constraint, FinishReason, LanguageModel, ModelError, ModelInfo,
    Sampling, Session, TokenCount, TokenSink, Usage,
};
pub use numbers::{hex, quantile};
pub use outcome::{Outcome, StopReason};
pub use retrieval::{AttrValue, Condition, Filter, Hit, RetrievalError, Retriever};
pub use run::{
    call_seed, content_hash, run_task, Answer, Call, Cancel, Left, RunContext, RunError, RunResult,
    RunSetup, Strategy, Token, TokenStream,
};
pub use task::{
    Budget, Expectations, Gold, ProfileFact, Split, Task, TaskFile, TaskFileError, TaskView,
};
pub use trace::{Actor, Event, EventKind, RunHeader, TraceSink, TRACE_VERSION};
pub use user::{PartKind, UserChannel, UserError, UserPart, UserReply};
