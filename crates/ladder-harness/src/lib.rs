//! ladder-harness: everything around one run, shared by the CLI, the benchmark harness
//! and the TUI.
//!
//! - [`registry`]: the strategies ladder knows, by name (one place for every front end).
//! - [`kb`]: a suite's knowledge base, ingested on first use into the embedded store.
//! - [`bench`]: every task x strategy x trial of some suites, resumable, summarised with
//!   [`stats`] (Wilson intervals, pass^k, paired McNemar comparisons).
//! - [`run`]: one run from a task file or a suite task to a saved trace and score:
//!   model, simulated user, knowledge base and form spec attached, the trace written
//!   event by event as it happens.
//!
//! Invariants:
//! - A strategy gets what [`ladder_core::run_task`] gives it: the task view, and the
//!   suite's form spec only when it asks. The harness alone holds the full task (for the
//!   simulated user and the judge).
//! - The trace file exists from the run's first event; a run that dies part-way leaves
//!   every event it emitted on disk.

pub mod bench;
pub mod kb;
pub mod registry;
pub mod report;
pub mod run;
pub mod stats;
pub mod svg;

pub use run::{
    load_suite, load_task, run, run_with, Overrides, RunOutput, RunSpec, TaskSource, UserKind,
};

/// Why a run could not be set up or saved. (A run that starts and then fails is not an
/// error here: its failure is its outcome's stop reason.)
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    TaskFile(#[from] ladder_core::TaskFileError),
    #[error("cannot load suite {dir} (run `ladder validate {name}` for details):\n{problems}")]
    Suite {
        name: String,
        dir: String,
        problems: String,
    },
    #[error("{0}")]
    Choose(String),
    #[error("unknown strategy {name:?}; ladder knows: {}", known.join(", "))]
    UnknownStrategy { name: String, known: Vec<String> },
    #[error("{what}: {cause}")]
    Embed {
        what: String,
        cause: ladder_core::EmbedError,
    },
    #[error("{what}: {cause}")]
    Model {
        what: String,
        cause: ladder_core::ModelError,
    },
    #[error("the simulated user: {0}")]
    User(#[from] ladder_core::UserError),
    #[error("the knowledge base of suite {suite}: {reason}")]
    KnowledgeBase { suite: String, reason: String },
    #[error("{what} {path}: {cause}")]
    Io {
        what: String,
        path: String,
        cause: std::io::Error,
    },
}
