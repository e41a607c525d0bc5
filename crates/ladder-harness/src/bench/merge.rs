//! `ladder merge`: bench folders that ran the same plan with different models, made one
//! folder, so a report can put the models side by side (the crossover chart) without
//! running any of them again.
//!
//! Invariants:
//! - Folders merge only when their plans are equal but for the models (suites and their
//!   content hashes, tasks, split, strategies and their settings, trials, seed, budgets),
//!   and no model is in two of them; anything else is refused, naming what differs.
//! - Every record's score comes from one judge version, or the merge is refused.
//! - Every record is kept as it was, labelled with its model, its trace copied under
//!   `traces/<model>/`; an unreadable line in any folder refuses the merge.
//! - The merged manifest names every folder it came from, with its revision, so the
//!   report says a figure came from benches run at different times.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::{model_label, Manifest, ModelEntry, Plan, MANIFEST};
use super::records::{copy_trace, holds_bench, Appender, Record, RESULTS};
use crate::run::io;
use crate::HarnessError;

/// One folder a merged bench came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub dir: String,
    pub git_revision: String,
    pub git_dirty: bool,
    pub models: Vec<String>,
    pub runs: usize,
}

/// A plan's models as entries (a bench of one model lists none).
fn entries(plan: &Plan) -> Vec<ModelEntry> {
    if plan.models.is_empty() {
        vec![ModelEntry {
            name: plan.model.clone(),
            settings: plan.model_settings.clone(),
        }]
    } else {
        plan.models.clone()
    }
}

/// The plan with its models taken out: what merged folders must share.
fn without_models(plan: &Plan) -> Plan {
    Plan {
        model: String::new(),
        model_settings: serde_json::Value::Null,
        models: Vec::new(),
        ..plan.clone()
    }
}

/// Merge the bench folders `dirs` into a new folder `out` (which must not hold a bench):
/// its manifest, results and traces. Returns the merged manifest and its records.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(Manifest, Vec<Record>), HarnessError> {
    if dirs.len() < 2 {
        return Err(HarnessError::Choose(
            "give at least two bench folders to merge".into(),
        ));
    }
    if holds_bench(out) {
        return Err(HarnessError::Choose(format!(
            "{} already holds a bench; choose a new folder for the merge",
            out.display()
        )));
    }
    let loaded: Vec<(Manifest, Vec<Record>)> = dirs
        .iter()
        .map(|d| crate::report::load(d))
        .collect::<Result<_, _>>()?;
    let first = without_models(&loaded[0].0.plan);
    let mut models: Vec<ModelEntry> = Vec::new();
    for (dir, (manifest, _)) in dirs.iter().zip(&loaded) {
        let plan = &manifest.plan;
        let shared = without_models(plan);
        if shared != first {
            return Err(HarnessError::Choose(format!(
                "{} ran another plan than {}, so their runs cannot be compared:\n  {}",
                dir.display(),
                dirs[0].display(),
                super::plan::plan_changes(&first, &shared).join("\n  ")
            )));
        }
        for entry in entries(plan) {
            if models.iter().any(|m| m.name == entry.name) {
                return Err(HarnessError::Choose(format!(
                    "model {} is in two of the folders ({} among them); merge folders of different models",
                    entry.name,
                    dir.display()
                )));
            }
            models.push(entry);
        }
    }
    let judges: std::collections::BTreeSet<u32> = loaded
        .iter()
        .flat_map(|(_, rs)| rs.iter().filter_map(|r| r.score.as_ref().map(|s| s.judge)))
        .collect();
    if judges.len() > 1 {
        return Err(HarnessError::Choose(format!(
            "the folders were scored by different judges (versions {judges:?}); their scores cannot share a table"
        )));
    }
    std::fs::create_dir_all(out.join("traces")).map_err(io("cannot create", out))?;
    let mut records = Vec::new();
    let mut sources = Vec::new();
    for (dir, (manifest, rs)) in dirs.iter().zip(&loaded) {
        let single = manifest.plan.models.is_empty();
        for r in rs {
            let mut r = r.clone();
            if single {
                r.model = model_label(&manifest.plan.model);
            }
            let into = PathBuf::from("traces").join(&r.model);
            if let Some((to, _)) = copy_trace(dir, &r.trace, out, &into)? {
                r.trace = to.to_string_lossy().into_owned();
            }
            records.push(r);
        }
        sources.push(Source {
            dir: dir.display().to_string(),
            git_revision: manifest.git_revision.clone(),
            git_dirty: manifest.git_dirty,
            models: entries(&manifest.plan)
                .into_iter()
                .map(|m| m.name)
                .collect(),
            runs: rs.len(),
        });
    }
    let base = &loaded[0].0;
    let manifest = Manifest {
        plan: Plan {
            model: models[0].name.clone(),
            model_settings: models[0].settings.clone(),
            models,
            ..base.plan.clone()
        },
        git_revision: base.git_revision.clone(),
        git_dirty: loaded.iter().any(|(m, _)| m.git_dirty),
        machine: base.machine.clone(),
        concurrency: base.concurrency,
        incidents: loaded
            .iter()
            .flat_map(|(m, _)| m.incidents.clone())
            .collect(),
        merged_from: sources,
    };
    manifest.write(&out.join(MANIFEST))?;
    let mut appender = Appender::open(&out.join(RESULTS))?;
    for r in &records {
        appender.append(r)?;
    }
    Ok((manifest, records))
}
