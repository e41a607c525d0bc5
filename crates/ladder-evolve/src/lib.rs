//! ladder-evolve: `ladder evolve`, the bootstrapped loop curating its own playbook.
//!
//! Generation 0 runs the loop with no playbook on a suite's dev split. After each
//! generation the same model reads its dev traces with the judge's verdicts (one
//! reflection per run: a lesson, and which lessons helped or misled), and a curator call
//! turns those into changes of an itemised playbook (ACE's add / edit / remove deltas, or
//! in the other mode a whole rewrite), placed in the loop's system prompt for the next
//! generation. Every generation is also scored on the test split and on a suite it never
//! sees; the report sets them beside the loop with no playbook, a hand-written one, the
//! scaffold and `direct`.
//!
//! A file per job:
//! - `playbook.rs`: the playbook, its deltas, the cap (pure).
//! - `leak.rs`: what of the held-out tasks a playbook may never hold (pure).
//! - `reflect.rs`: a run's transcript made short, and the reflection, curation and rewrite
//!   requests with their readers (pure); the prompts are files in `prompts/`.
//! - `driver.rs`: the generations, saved step by step, resumed, recorded and replayed.
//! - `report.rs`: the report of a folder (a pure function of it).
//!
//! Invariants: the code writes no lesson (every lesson's text is a model reply's, trimmed);
//! the reflector reads dev runs only; a held-out task's text never enters a playbook; the
//! cap always holds; a rollback keeps the parent's bytes.

mod driver;
pub mod leak;
pub mod playbook;
pub mod reflect;
pub mod report;

pub use driver::{
    differences, evolve, gen_dir, read_json, secrets, split_ids, spread, Curation, EvolveSpec,
    Generation, Progress, Settings, Source, UpdateMode, SETTINGS,
};
pub use leak::Secrets;
pub use playbook::{Cap, Delta, Lesson, Playbook};

/// Why an experiment could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    #[error(transparent)]
    Harness(#[from] ladder_harness::HarnessError),
    #[error("{0}")]
    Choose(String),
    #[error("the model ({what}): {cause}")]
    Model {
        what: String,
        cause: ladder_core::ModelError,
    },
    #[error("the cassette: {0}")]
    Cassette(#[from] ladder_core::ModelError),
    #[error("{path}: {reason}")]
    Bad { path: String, reason: String },
    #[error("{what} {path}: {cause}")]
    Io {
        what: String,
        path: String,
        cause: std::io::Error,
    },
}
