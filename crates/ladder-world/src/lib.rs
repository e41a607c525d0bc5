//! ladder-world: the benchmark world both strategies are measured in.
//!
//! - [`suite`]: the types of a suite on disk (manifest, tasks, knowledge base); no I/O.
//! - [`parse`]: reading a suite folder's files into those types, every syntax problem listed.
//! - [`validate`]: every problem of a suite, with file and line; `Suite::load`.
//! - [`gen`]: the fixed-seed generator that writes the committed suites (and larger ones).
//! - [`rules`]: the pure matching rules (question parts, slots asked, relevance, replay)
//!   that the user, `validate` and scoring share.
//! - [`user`]: the users: simulated (deterministic, over [`rules`]) or played by a model.
//! - [`score`]: scoring, a pure function of task, outcome and trace.
//! - [`text`]: the one text normaliser; reading an answer: recommendations, rejections,
//!   stated facts.
//! - [`check`]: slot checks against entity attributes, shared by generator and scoring.
//! - [`schema`]: JSON Schemas of the fixture files, generated from the Rust types.
//! - [`agreement`]: how often the judge and the simulated user agree with a person, on
//!   crafted tables whose verdicts a person wrote first (`fixtures/agreement/`).
//!
//! Modules use each other downwards only (`tests/modules.rs` checks there is no cycle):
//! `suite` and `text` use no other module; `check`, `parse` and `schema` use `suite`;
//! `rules` uses `suite` and `text`; `user` uses `suite` and `rules`; `validate` uses
//! `suite`, `parse`, `check`, `rules` and `text`; `score` uses `suite`, `check`, `rules`
//! and `text`; `gen` uses `suite` and `check`; `agreement` uses `suite`, `score` and
//! `user`.

pub mod agreement;
pub mod check;
pub mod gen;
pub mod parse;
pub mod rules;
pub mod schema;
pub mod score;
pub mod suite;
pub mod text;
pub mod user;
pub mod validate;

pub use score::{intent_check, retrieval_recall, score, IntentCheck, Score, Verdict};
pub use suite::{Manifest, PipelineFile, Problem, Suite, SuiteError, PIPELINE_FILE};
pub use user::{ModelUser, Patience, Persona, SimulatedUser};

/// Where the committed suites live, relative to the workspace root.
pub const SUITES_DIR: &str = "fixtures/suites";

/// The committed suites folder: `fixtures/suites` in the current folder or the nearest
/// folder above it that has one (a test runs in its crate's folder), else that of the
/// source tree this was built from.
pub fn default_suites_dir() -> std::path::PathBuf {
    let here = std::path::PathBuf::from(SUITES_DIR);
    if here.is_dir() {
        return here;
    }
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(found) = cwd
            .ancestors()
            .skip(1)
            .map(|dir| dir.join(SUITES_DIR))
            .find(|dir| dir.is_dir())
        {
            return found;
        }
    }
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/suites"
    ))
}
