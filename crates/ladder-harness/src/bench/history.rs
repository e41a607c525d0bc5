//! The machine's bench history: one JSON line per finished run (strategy, suite, model,
//! runs in flight, wall time), appended by every bench and read by `--dry-run` to
//! estimate how long a plan will take.
//!
//! Invariants:
//! - Best effort both ways: [`remember`] never fails a bench (an unwritable history is
//!   skipped), and [`estimate`] reads a missing or unreadable history, or a line that does
//!   not parse, as no figures.
//! - Only a run with metrics is remembered, with the record's `metrics.wall_ms`.
//! - An estimate uses, for each job, the mean wall time of its strategy with its model on
//!   its suite, else on any suite; a job with neither is counted as unknown, not guessed.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::plan::Job;
use super::records::Record;

/// The machine's record of finished bench runs (strategy, suite, model, wall time), which
/// `--dry-run` estimates a plan's time from: `$LADDER_HISTORY`, or
/// `~/.cache/ladder/bench-history.jsonl`.
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LADDER_HISTORY") {
        return Some(PathBuf::from(p));
    }
    ladder_core::paths::cache_dir().map(|c| c.join("bench-history.jsonl"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HistoryLine {
    strategy: String,
    suite: String,
    model: String,
    concurrency: usize,
    wall_ms: f64,
}

/// Remember a finished run's wall time (best effort: a bench never fails for it).
pub(super) fn remember(record: &Record, model: &str, concurrency: usize) {
    let (Some(path), Some(m)) = (history_path(), record.metrics.as_ref()) else {
        return;
    };
    let line = HistoryLine {
        strategy: record.strategy.clone(),
        suite: record.suite.clone(),
        model: model.to_string(),
        concurrency,
        wall_ms: m.wall_ms,
    };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(f, "{}", serde_json::to_string(&line).unwrap_or_default());
    }
}

/// An estimate of a plan's wall time from the machine's history: each job's mean wall
/// time for its strategy on its suite with this model (or on any suite), over the runs
/// in flight at once. Also the jobs that had no figure at all.
pub fn estimate(jobs: &[Job], models: &[String], concurrency: usize) -> (f64, usize) {
    let lines: Vec<HistoryLine> = history_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default();
    let mean = |f: &dyn Fn(&HistoryLine) -> bool| -> Option<f64> {
        let v: Vec<f64> = lines.iter().filter(|l| f(l)).map(|l| l.wall_ms).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let (mut total_ms, mut unknown) = (0.0, 0);
    for j in jobs {
        let model = models.get(j.model).map(String::as_str).unwrap_or_default();
        let m = mean(&|l| l.model == model && l.strategy == j.strategy && l.suite == j.suite)
            .or_else(|| mean(&|l| l.model == model && l.strategy == j.strategy));
        match m {
            Some(ms) => total_ms += ms,
            None => unknown += 1,
        }
    }
    (total_ms / 1000.0 / concurrency.max(1) as f64, unknown)
}
