//! `results.jsonl`, a bench's records: one JSON line per finished run, read back, appended
//! to as runs finish, and carried over when a bench resumes.
//!
//! Invariants:
//! - [`read_results`] returns every whole line that parses as a [`Record`], in file order;
//!   a torn last line (no newline after it: a kill mid-write) is left out, and every other
//!   line that does not parse is returned too, with its number, as [`Unreadable`]: never
//!   dropped unseen. A missing file is no records.
//! - [`Appender::append`] returns only once the line is written, flushed and synced.
//! - [`carried_over`] leaves `results.jsonl` holding exactly the records it returns, each
//!   on its own line, so appends start on a fresh line; the file is replaced atomically (a
//!   new file renamed over it), and only when it changes. Unreadable lines are first
//!   appended to `results.unreadable.jsonl` with their line numbers, and the caller is told.
//!   It refuses a folder whose manifest has another plan, or (without `--resume`) one that
//!   already holds results.
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

/// Whether `out` already holds a bench (its manifest or its results): a folder that
/// `merge` and `rescore` write anew must not.
pub(super) fn holds_bench(out: &Path) -> bool {
    out.join(MANIFEST).exists() || out.join(RESULTS).exists()
}

/// A record's trace `trace` (relative to the bench folder `dir`) copied by its file name
/// into `out/into`: its path relative to `out`, and whether there was a file to copy.
/// None when the record names no trace.
pub(super) fn copy_trace(
    dir: &Path,
    trace: &str,
    out: &Path,
    into: &Path,
) -> Result<Option<(PathBuf, bool)>, HarnessError> {
    if trace.is_empty() {
        return Ok(None);
    }
    let from = dir.join(trace);
    let name = Path::new(trace)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = into.join(name);
    let copied = from.is_file();
    if copied {
        std::fs::create_dir_all(out.join(into)).map_err(io("cannot create", out))?;
        std::fs::copy(&from, out.join(&to)).map_err(io("cannot copy", &from))?;
    }
    Ok(Some((to, copied)))
}

/// Where `--resume` keeps the lines of `results.jsonl` it could not read.
pub const SET_ASIDE: &str = "results.unreadable.jsonl";

/// A line of `results.jsonl` that is not a record (edited by hand, or written by another
/// version of ladder), and not a torn last line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unreadable {
    /// Its line number in `results.jsonl`, from 1.
    pub line: usize,
    /// Why it is not a record.
    pub error: String,
    pub text: String,
}

impl std::fmt::Display for Unreadable {
    /// "line N: why".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// What `results.jsonl` holds.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Every record, in file order.
    pub records: Vec<Record>,
    /// Every other line but a torn last one.
    pub unreadable: Vec<Unreadable>,
    /// A last line with no newline after it that is not a record (a kill mid-write).
    pub torn: bool,
    /// The file does not end with a newline (torn, or edited by hand).
    pub open_end: bool,
}

/// What [`carried_over`] hands a resumed bench.
#[derive(Debug, Default)]
pub struct CarriedOver {
    pub records: Vec<Record>,
    /// What the person running the bench must be told before it goes on.
    pub notices: Vec<String>,
}

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

/// Read `results.jsonl`: every record, and every line that is not one (see [`Results`]).
pub fn read_results(path: &Path) -> Result<Results, HarnessError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Results::default()),
        Err(cause) => {
            return Err(HarnessError::Io {
                what: "cannot read the results".into(),
                path: path.display().to_string(),
                cause,
            })
        }
    };
    Ok(parse_results(&text))
}

/// [`read_results`] of a file's text.
fn parse_results(text: &str) -> Results {
    let mut results = Results {
        open_end: !text.is_empty() && !text.ends_with('\n'),
        ..Results::default()
    };
    let count = text.lines().count();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(l) {
            Ok(r) => results.records.push(r),
            Err(_) if i + 1 == count && !text.ends_with('\n') => results.torn = true,
            Err(e) => results.unreadable.push(Unreadable {
                line: i + 1,
                error: e.to_string(),
                text: l.to_string(),
            }),
        }
    }
    results
}

/// What to tell a person about the unreadable lines of `results.jsonl` set aside in
/// `aside`: how many, which lines and why (the first few), and what happens next.
fn unreadable_notice(results: &Path, aside: &Path, lines: &[Unreadable]) -> String {
    let shown: Vec<String> = lines.iter().take(3).map(Unreadable::to_string).collect();
    format!(
        "{}: {} line(s) are not records of this ladder ({}{}); kept aside in {} with their line numbers, and their runs will be done again. To keep one, mend the line and put it back in {}",
        results.display(),
        lines.len(),
        shown.join("; "),
        if lines.len() > 3 { "; ..." } else { "" },
        aside.display(),
        RESULTS,
    )
}

/// The records a bench in `out` starts from. With `resume`: those already in
/// `results.jsonl` (none for a fresh folder), after checking that `manifest.json`, if
/// there is one, was made with `plan`; the file is rewritten without a torn last line, and
/// any other line that is not a record is set aside (see the module's invariants).
/// Without: none, and a folder that already holds results is refused.
pub(super) fn carried_over(
    out: &Path,
    plan: &Plan,
    resume: bool,
) -> Result<CarriedOver, HarnessError> {
    let manifest_path = out.join(MANIFEST);
    let results_path = out.join(RESULTS);
    if !resume {
        if results_path.exists() {
            return Err(HarnessError::Choose(format!(
                "{} already holds a bench: add --resume to carry it on, or choose another --out",
                out.display()
            )));
        }
        return Ok(CarriedOver::default());
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
    let results = read_results(&results_path)?;
    let mut notices = Vec::new();
    if !results.unreadable.is_empty() {
        let aside = out.join(SET_ASIDE);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&aside)
            .map_err(io("cannot open", &aside))?;
        let text: String = results
            .unreadable
            .iter()
            .map(|u| serde_json::to_string(u).unwrap_or_default() + "\n")
            .collect();
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(io("cannot write", &aside))?;
        notices.push(unreadable_notice(
            &results_path,
            &aside,
            &results.unreadable,
        ));
    }
    if results.open_end || !results.unreadable.is_empty() {
        // Without the torn or set-aside lines, so appends start on a fresh line.
        let text: String = results.records.iter().map(line).collect();
        replace(&results_path, &text)?;
    }
    Ok(CarriedOver {
        records: results.records,
        notices,
    })
}

/// Replace the file at `path` with `text` atomically: written to a new file beside it,
/// synced, then renamed over it, so a kill leaves the old file or the new one, never half.
fn replace(path: &Path, text: &str) -> Result<(), HarnessError> {
    let new = path.with_extension("jsonl.new");
    let written = std::fs::File::create(&new).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_data()
    });
    written.map_err(io("cannot write", &new))?;
    std::fs::rename(&new, path).map_err(io("cannot replace", path))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        serde_json::from_value(serde_json::json!({
            "suites": ["seaside"], "strategies": ["direct"], "tasks": "smoke", "trials": 1,
            "seed": 0, "model": "m", "max_steps": null, "max_model_calls": null,
            "max_tokens": null, "max_wall_ms": null
        }))
        .unwrap()
    }

    fn record(task: &str) -> Record {
        Record {
            suite: "seaside".into(),
            task: task.into(),
            strategy: "direct".into(),
            model: String::new(),
            trial: 0,
            seed: 0,
            outcome: None,
            score: None,
            metrics: None,
            error: Some("x".into()),
            trace: String::new(),
        }
    }

    fn folder(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RESULTS), text).unwrap();
        dir
    }

    #[test]
    fn a_torn_last_line_is_redone_silently_and_the_rest_kept() {
        let whole: String = ["sea-001", "sea-002"].map(|t| line(&record(t))).concat();
        let dir = folder(&format!("{whole}{{\"suite\":\"seas"));
        let carried = carried_over(dir.path(), &plan(), true).unwrap();
        assert_eq!(carried.records.len(), 2);
        assert!(carried.notices.is_empty(), "{:?}", carried.notices);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(RESULTS)).unwrap(),
            whole
        );
        assert!(!dir.path().join(SET_ASIDE).exists());
    }

    #[test]
    fn an_unreadable_record_in_the_middle_is_kept_aside_with_its_line_and_the_user_told() {
        let bad = line(&record("sea-002")).replacen("\"strategy\"", "\"strategi\"", 1);
        let text = format!(
            "{}{bad}{}",
            line(&record("sea-001")),
            line(&record("sea-003"))
        );
        let dir = folder(&text);
        let carried = carried_over(dir.path(), &plan(), true).unwrap();
        let tasks: Vec<&str> = carried.records.iter().map(|r| r.task.as_str()).collect();
        assert_eq!(tasks, ["sea-001", "sea-003"]);
        assert_eq!(carried.notices.len(), 1);
        let notice = &carried.notices[0];
        assert!(
            notice.contains("1 line(s)")
                && notice.contains("line 2:")
                && notice.contains(SET_ASIDE),
            "{notice}"
        );
        // Kept aside byte for byte, with its line number.
        let aside = std::fs::read_to_string(dir.path().join(SET_ASIDE)).unwrap();
        let kept: Unreadable = serde_json::from_str(aside.trim_end()).unwrap();
        assert_eq!(kept.line, 2);
        assert_eq!(kept.text + "\n", bad);
        assert!(kept.error.contains("strategy"), "{}", kept.error);
        // results.jsonl holds exactly what was carried over; no temporary file is left.
        let results = read_results(&dir.path().join(RESULTS)).unwrap();
        assert_eq!(results.records.len(), 2);
        assert!(results.unreadable.is_empty() && !results.open_end);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // A second resume has nothing more to set aside and appends to the kept lines.
        let again = carried_over(dir.path(), &plan(), true).unwrap();
        assert!(again.notices.is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SET_ASIDE)).unwrap(),
            aside
        );
    }

    #[test]
    fn a_file_left_as_it_was_is_not_rewritten() {
        let text = line(&record("sea-001"));
        let dir = folder(&text);
        let path = dir.path().join(RESULTS);
        // Dated in the past, so a rewrite would show in its modification time.
        let before = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(before)
            .unwrap();
        let carried = carried_over(dir.path(), &plan(), true).unwrap();
        assert_eq!(carried.records.len(), 1);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
    }
}
