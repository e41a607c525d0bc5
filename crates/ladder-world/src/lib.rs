//! ladder-world: the benchmark world both strategies are measured in.
//!
//! - [`suite`]: suites on disk (manifest, tasks, knowledge base) and loading them.
//! - [`validate`]: every problem of a suite, with file and line.
//! - [`gen`]: the fixed-seed generator that writes the committed suites (and larger ones).
//! - [`user`]: the simulated user (deterministic, or played by a model).
//! - [`score`]: scoring, a pure function of task, outcome and trace.
//! - [`text`]: reading an answer: recommendations, rejections, stated facts.
//! - [`check`]: slot checks against entity attributes, shared by generator and scoring.
//! - [`schema`]: JSON Schemas of the fixture files, generated from the Rust types.

pub mod check;
pub mod gen;
pub mod schema;
pub mod score;
pub mod suite;
pub mod text;
pub mod user;
pub mod validate;

pub use score::{intent_check, retrieval_recall, score, IntentCheck, Score, Verdict};
pub use suite::{Manifest, Problem, Suite, SuiteError};
pub use user::{ModelUser, Patience, SimulatedUser};

/// Where the committed suites live, relative to the workspace root.
pub const SUITES_DIR: &str = "fixtures/suites";

/// The committed suites folder of the source tree this was built from.
pub fn default_suites_dir() -> std::path::PathBuf {
    let here = std::path::PathBuf::from(SUITES_DIR);
    if here.is_dir() {
        return here;
    }
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/suites"
    ))
}
