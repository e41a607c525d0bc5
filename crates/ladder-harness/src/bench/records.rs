//! `results.jsonl`, a bench's records: one JSON line per finished run, read back, appended
//! to as runs finish, and carried over when a bench resumes.
//!
//! Invariants:
//! - [`read_results`] returns every whole line that parses as a [`Record`], in file order,
//!   and skips the rest (a torn last line, from a kill mid-write); a missing file is no
//!   records.
//! - [`Appender::append`] returns only once the line is written, flushed and synced.
//! - [`carried_over`] leaves `results.jsonl` holding exactly the records it returns, each
//!   on its own line, so appends start on a fresh line; it refuses a folder whose manifest
//!   has another plan, or (without `--resume`) one that already holds results.
//! - A record's key (suite, task, label, trial) names one run of a bench: what `--resume`
//!   skips and a replay is compared on.

use std::io::Write;
use std::path::{Path, PathBuf};

use ladder_core::{Metrics, Outcome};
use ladder_world::Score;
use serde::{Deserialize, Serialize};

use super::plan::{label, plan_changes, Manifest, Plan, MANIFEST};
use crate::run::io;
use crate::HarnessError;

/// The results' file name in a bench folder.
pub(super) const RESULTS: &str = "results.jsonl";

/// One line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub suite: String,
    pub task: String,
    pub strategy: String,
    /// The model, in a bench with several (empty otherwise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    pub trial: u32,
    pub seed: u64,
    pub outcome: Option<Outcome>,
    pub score: Option<Score>,
    pub metrics: Option<Metrics>,
    /// Set when the run could not be set up.
    pub error: Option<String>,
    pub trace: String,
}

impl Record {
    /// Which run of the bench it records: suite, task, label and trial.
    pub(super) fn key(&self) -> (String, String, String, u32) {
        (
            self.suite.clone(),
            self.task.clone(),
            self.label(),
            self.trial,
        )
    }

    /// The strategy, and the model in a bench with several: `scaffold@MODEL`.
    pub fn label(&self) -> String {
        label(&self.strategy, &self.model)
    }

    /// What a run is paired on across strategies: suite, task, trial and model.
    pub(super) fn pair_key(&self) -> (String, String, u32, String) {
        (
            self.suite.clone(),
            self.task.clone(),
            self.trial,
            self.model.clone(),
        )
    }

    pub fn success(&self) -> bool {
        self.score.as_ref().is_some_and(|s| s.success)
    }
}

/// Read `results.jsonl`: every whole record (a torn last line is skipped).
pub fn read_results(path: &Path) -> Result<Vec<Record>, HarnessError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(cause) => {
            return Err(HarnessError::Io {
                what: "cannot read the results".into(),
                path: path.display().to_string(),
                cause,
            })
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Record>(l).ok())
        .collect())
}

/// The records a bench in `out` starts from. With `resume`: those already in
/// `results.jsonl` (none for a fresh folder), after checking that `manifest.json`, if
/// there is one, was made with `plan`; the file is rewritten without a torn last line.
/// Without: none, and a folder that already holds results is refused.
pub(super) fn carried_over(
    out: &Path,
    plan: &Plan,
    resume: bool,
) -> Result<Vec<Record>, HarnessError> {
    let manifest_path = out.join(MANIFEST);
    let results_path = out.join(RESULTS);
    if !resume {
        if results_path.exists() {
            return Err(HarnessError::Choose(format!(
                "{} already holds a bench: add --resume to carry it on, or choose another --out",
                out.display()
            )));
        }
        return Ok(Vec::new());
    }
    if let Ok(text) = std::fs::read_to_string(&manifest_path) {
        let old: Manifest = serde_json::from_str(&text).map_err(|e| {
            HarnessError::Choose(format!(
                "{} is not a bench manifest: {e}",
                manifest_path.display()
            ))
        })?;
        if old.plan != *plan {
            return Err(HarnessError::Choose(format!(
                "{} was made with other settings; resume it with the same ones or use another --out:\n  {}",
                out.display(),
                plan_changes(&old.plan, plan).join("\n  ")
            )));
        }
    }
    let done = read_results(&results_path)?;
    // Rewrite the file without a torn last line, so appends start on a fresh line.
    let text: String = done.iter().map(line).collect();
    std::fs::write(&results_path, text).map_err(io("cannot rewrite", &results_path))?;
    Ok(done)
}

/// A record as its line of `results.jsonl`, newline included.
fn line(record: &Record) -> String {
    serde_json::to_string(record).unwrap_or_default() + "\n"
}

/// `results.jsonl` open for appending.
pub(super) struct Appender {
    file: std::fs::File,
    path: PathBuf,
}

impl Appender {
    /// Open (or create) the file at `path` to append to it.
    pub(super) fn open(path: &Path) -> Result<Self, HarnessError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io("cannot open", path))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Append one record's line: written, flushed and synced before it returns.
    pub(super) fn append(&mut self, record: &Record) -> Result<(), HarnessError> {
        let file = &mut self.file;
        file.write_all(line(record).as_bytes())
            .and_then(|_| file.flush())
            .and_then(|_| file.sync_data())
            .map_err(io("cannot append to", &self.path))
    }
}
