//! `ladder rescore`: a bench folder's runs judged again by the judge of this build, into a
//! new folder, so that a judge's new version does not strand the benches made before it.
//!
//! Invariants:
//! - Nothing is run again: each record's own outcome and trace are judged (the trace gives
//!   the user turns and the parts the judge counts).
//! - A suite is used only when its content hash is the one the bench ran (the manifest's);
//!   otherwise the rescore is refused, naming the suite.
//! - The original folder is never changed; the new one holds the manifest, every record
//!   (a record that could not be judged keeps its old score and is named) and the traces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::plan::{Manifest, MANIFEST};
use super::records::{copy_trace, holds_bench, Appender, Record, RESULTS};
use crate::run::io;
use crate::HarnessError;

/// What a rescore did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rescored {
    pub runs: usize,
    /// Runs judged again.
    pub judged: usize,
    /// The judge versions the folder's scores came from.
    pub from_judges: Vec<u32>,
    /// Runs whose success changed: (suite, task, label, trial, was, now).
    pub flipped: Vec<(String, String, String, u32, bool, bool)>,
    /// Runs left with their old score, and why.
    pub kept: Vec<String>,
}

/// Judge every run of the bench folder `dir` again into the new folder `out`.
pub fn rescore(dir: &Path, out: &Path) -> Result<(Manifest, Vec<Record>, Rescored), HarnessError> {
    if holds_bench(out) {
        return Err(HarnessError::Choose(format!(
            "{} already holds a bench; choose a new folder for the rescored runs",
            out.display()
        )));
    }
    let (manifest, records) = crate::report::load(dir)?;
    let mut suites = BTreeMap::new();
    for r in &records {
        if suites.contains_key(&r.suite) {
            continue;
        }
        let suite = crate::load_suite(&r.suite)?;
        let hash = suite.content_hash();
        match manifest.plan.suite_hashes.get(&r.suite) {
            Some(h) if *h == hash => {}
            other => {
                return Err(HarnessError::Choose(format!(
                    "suite {} on disk is not the one the bench in {} ran (content hash {} here, {} in its manifest): its runs cannot be judged against it",
                    r.suite,
                    dir.display(),
                    &hash[..12.min(hash.len())],
                    other.map_or("none", |h| &h[..12.min(h.len())])
                )));
            }
        }
        suites.insert(r.suite.clone(), suite);
    }
    let mut done = Rescored {
        runs: records.len(),
        from_judges: records
            .iter()
            .filter_map(|r| r.score.as_ref().map(|s| s.judge))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        ..Rescored::default()
    };
    std::fs::create_dir_all(out).map_err(io("cannot create", out))?;
    let mut rescored = Vec::with_capacity(records.len());
    for mut r in records {
        let what = format!("{} {} {} trial {}", r.suite, r.task, r.label(), r.trial);
        let judged = judge_again(dir, &r, &suites);
        match judged {
            Ok(score) => {
                let was = r.success();
                let now = score.success;
                if was != now {
                    done.flipped.push((
                        r.suite.clone(),
                        r.task.clone(),
                        r.label(),
                        r.trial,
                        was,
                        now,
                    ));
                }
                r.score = Some(score);
                done.judged += 1;
            }
            Err(why) => done.kept.push(format!("{what}: {why}")),
        }
        // The trace copied under traces/ by its file name (never onto the original), with
        // the new score beside it as a run writes one (the TUI reads it).
        if let Some((to, true)) = copy_trace(dir, &r.trace, out, Path::new("traces"))? {
            if let Some(score) = &r.score {
                let path = out.join(&to).with_extension("score.json");
                let text = serde_json::to_string_pretty(score).unwrap_or_default();
                std::fs::write(&path, text).map_err(io("cannot write", &path))?;
            }
            r.trace = to.to_string_lossy().into_owned();
        }
        rescored.push(r);
    }
    manifest.write(&out.join(MANIFEST))?;
    let mut appender = Appender::open(&out.join(RESULTS))?;
    for r in &rescored {
        appender.append(r)?;
    }
    Ok((manifest, rescored, done))
}

/// A record's score from the judge of this build, or why it cannot be judged.
fn judge_again(
    dir: &Path,
    r: &Record,
    suites: &BTreeMap<String, ladder_world::Suite>,
) -> Result<ladder_world::Score, String> {
    let outcome = r
        .outcome
        .as_ref()
        .ok_or("it has no outcome (it never ran)")?;
    if r.trace.is_empty() {
        return Err("it has no trace".into());
    }
    let suite = suites.get(&r.suite).ok_or("its suite is not loaded")?;
    let task = suite
        .task(&r.task)
        .ok_or_else(|| format!("suite {} has no task {}", r.suite, r.task))?;
    let trace: PathBuf = dir.join(&r.trace);
    let events = ladder_core::trace::read_jsonl_whole_lines(&trace)
        .map(|(events, _)| events)
        .map_err(|e| format!("its trace cannot be read ({e})"))?;
    Ok(ladder_world::score(suite, task, outcome, &events))
}
