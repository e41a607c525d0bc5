//! Running a bench: its jobs, several at once, each turned into a record saved the moment
//! it finishes.
//!
//! Invariants:
//! - [`run`] refuses before any run starts when the plan has no jobs, a strategy cannot be
//!   built, or the folder holds another bench (see `records`); it writes `manifest.json`
//!   before the first run, and again at the end only when the backend reported incidents.
//! - At most `concurrency` (at least 1) runs are in flight; they share the models and one
//!   embedder (loaded once, only when there are suites and none was given).
//! - Each finished run is remembered in the history, then appended to `results.jsonl`,
//!   then reported to `progress`, in the order runs finish (not the plan's order).
//! - A run that fails is recorded with its error and the bench goes on; only a strategy
//!   that cannot be built, or a record that cannot be saved, stops it.
//! - Trial `t` runs with seed `plan.seed + t`, whatever its strategy or model.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::StreamExt;
use ladder_core::Embedder;

use super::history;
use super::machine;
use super::plan::{prepare, BenchSpec, Job, Manifest, MANIFEST};
use super::records::{carried_over, Appender, Record, RESULTS};
use crate::registry::StrategyOptions;
use crate::run::{io, run_with, Overrides, RunSpec, TaskSource};
use crate::HarnessError;

/// What a running bench tells the person who started it.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Before any run starts: something found in the folder (records set aside on resume).
    Notice(&'a str),
    /// A run finished: runs done (carried over included), runs in the plan, its record.
    Finished {
        done: usize,
        total: usize,
        record: &'a Record,
    },
}

/// Run the bench. `progress` is told of each notice, then after each run.
pub async fn run(
    mut spec: BenchSpec,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Record>, HarnessError> {
    let jobs = prepare(&mut spec)?;
    std::fs::create_dir_all(spec.out.join("traces"))
        .map_err(io("cannot create the bench folder", &spec.out))?;
    let manifest_path = spec.out.join(MANIFEST);
    let results_path = spec.out.join(RESULTS);
    let carried = carried_over(&spec.out, &spec.plan, spec.resume)?;
    for notice in &carried.notices {
        progress(Progress::Notice(notice));
    }
    let done = carried.records;
    let manifest = Manifest {
        plan: spec.plan.clone(),
        git_revision: machine::git_revision(),
        git_dirty: machine::git_dirty(),
        machine: machine::machine(),
        concurrency: spec.concurrency.max(1),
        incidents: Vec::new(),
        merged_from: Vec::new(),
    };
    manifest.write(&manifest_path)?;

    let finished: BTreeSet<_> = done.iter().map(Record::key).collect();
    let labels = spec.model_labels();
    let todo: Vec<&Job> = jobs
        .iter()
        .filter(|j| !finished.contains(&j.key(&labels)))
        .collect();
    let total = jobs.len();
    let mut results = Appender::open(&results_path)?;
    let embedder = embedder(&spec)?;
    let mut records = done;
    let spec = &spec;
    let embedder = &embedder;
    let names: Vec<String> = spec.models.iter().map(|m| m.info().to_string()).collect();
    let labels = &labels;
    let mut running = futures_util::stream::iter(todo)
        .map(|job| async move {
            (
                job.model,
                run_job(spec, job, labels, embedder.clone()).await,
            )
        })
        .buffer_unordered(spec.concurrency.max(1));
    while let Some((model, record)) = running.next().await {
        let record = record?;
        history::remember(&record, &names[model], spec.concurrency.max(1));
        results.append(&record)?;
        records.push(record);
        progress(Progress::Finished {
            done: records.len(),
            total,
            record: records.last().expect("just pushed"),
        });
    }
    let incidents: Vec<String> = spec.models.iter().flat_map(|m| m.incidents()).collect();
    if !incidents.is_empty() {
        Manifest {
            incidents,
            ..manifest
        }
        .write(&manifest_path)?;
    }
    Ok(records)
}

/// The embedder the runs share: the one given, else the default model when the bench has
/// suites (their knowledge bases need it), else none.
fn embedder(spec: &BenchSpec) -> Result<Option<Arc<dyn Embedder>>, HarnessError> {
    Ok(match (&spec.embedder, spec.plan.suites.is_empty()) {
        (Some(e), _) => Some(Arc::clone(e)),
        (None, false) => {
            Some(Arc::new(
                ladder_retrieval::FastEmbedder::load_default().map_err(|cause| {
                    HarnessError::Embed {
                        what: "a bench needs the embedding model".into(),
                        cause,
                    }
                })?,
            ) as Arc<dyn Embedder>)
        }
        (None, true) => None,
    })
}

/// One job of the bench, run and turned into its record (a run that fails is recorded as
/// an error; only a strategy that cannot be built stops the bench).
async fn run_job(
    spec: &BenchSpec,
    job: &Job,
    labels: &[String],
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<Record, HarnessError> {
    let seed = spec.plan.seed + u64::from(job.trial);
    let mut run_spec = RunSpec::new(
        TaskSource::Suite(job.suite.clone()),
        &job.strategy,
        Arc::clone(&spec.models[job.model]),
    )
    .task(Some(job.task.clone()))
    .out(spec.out.join("traces"))
    .embedder(embedder)
    .options(StrategyOptions::clone(&job.options))
    .data(&spec.data)
    .overrides(Overrides {
        seed: Some(seed),
        max_steps: spec.plan.max_steps,
        max_model_calls: spec.plan.max_model_calls,
        max_tokens: spec.plan.max_tokens,
        max_wall_ms: spec.plan.max_wall_ms,
    });
    run_spec.user = spec.plan.user;
    let strategy = crate::registry::build(&job.strategy, &job.options)?;
    let mut record = Record {
        suite: job.suite.clone(),
        task: job.task.clone(),
        strategy: job.strategy.clone(),
        model: job.record_model(labels),
        trial: job.trial,
        seed,
        outcome: None,
        score: None,
        metrics: None,
        error: None,
        trace: String::new(),
    };
    match run_with(run_spec, strategy.as_ref()).await {
        Ok(out) => {
            record.trace = out
                .trace_path
                .strip_prefix(&spec.out)
                .unwrap_or(&out.trace_path)
                .display()
                .to_string();
            record.outcome = Some(out.outcome);
            record.score = out.score;
            record.metrics = Some(out.metrics);
            record.error = out.trace_error;
        }
        Err(e) => record.error = Some(e.to_string()),
    }
    Ok(record)
}
