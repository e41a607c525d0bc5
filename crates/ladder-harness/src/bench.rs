//! `ladder bench`: every task x strategy x trial of some suites, each run saved the moment
//! it finishes, resumable, and summarised with intervals and paired comparisons.
//!
//! Invariants:
//! - `results.jsonl` gets one record per finished run, appended and flushed before the
//!   next run starts (its trace is already on disk); a run that errors is recorded as an
//!   error and the bench goes on.
//! - `--resume` skips the runs already recorded (a torn last line, from a kill mid-write, is
//!   ignored and its run redone) and refuses a folder made with other settings.
//! - Trial `t` of every strategy runs with the same seed (the bench seed plus `t`), so
//!   strategies are compared on the same tasks and seeds: paired.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ladder_core::{Embedder, LanguageModel, Metrics, Outcome};
use ladder_world::Score;
use serde::{Deserialize, Serialize};

use crate::registry::StrategyOptions;
use crate::run::{io, load_suite, run_with, Overrides, RunSpec, TaskSource};
use crate::stats;
use futures_util::StreamExt;

use crate::HarnessError;

/// Which tasks of each suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tasks {
    All,
    Smoke,
    Ids(Vec<String>),
}

impl std::fmt::Display for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tasks::All => write!(f, "all"),
            Tasks::Smoke => write!(f, "smoke"),
            Tasks::Ids(ids) => write!(f, "{}", ids.join(",")),
        }
    }
}

impl std::str::FromStr for Tasks {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "all" => Tasks::All,
            "smoke" => Tasks::Smoke,
            ids => Tasks::Ids(ids.split(',').map(|x| x.trim().to_string()).collect()),
        })
    }
}

/// What a bench runs. The settings that must match for `--resume` are in [`Plan`].
pub struct BenchSpec {
    pub plan: Plan,
    /// Every strategy runs with every model (the first is the plan's `model`).
    pub models: Vec<Arc<dyn LanguageModel>>,
    pub out: PathBuf,
    pub resume: bool,
    pub data_dir: PathBuf,
    pub embedder: Option<Arc<dyn Embedder>>,
    pub options: StrategyOptions,
    /// Runs in flight at once (at least 1). They share the one loaded model (its weights
    /// mapped once) and each has its own context; records are appended as runs finish.
    pub concurrency: usize,
}

impl BenchSpec {
    /// Each model's short name (labels of a bench with several models).
    pub fn model_labels(&self) -> Vec<String> {
        self.models
            .iter()
            .map(|m| model_label(&m.info().to_string()))
            .collect()
    }
}

/// The settings of a bench, written to `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub suites: Vec<String>,
    pub strategies: Vec<String>,
    pub tasks: Tasks,
    pub trials: u32,
    pub seed: u64,
    pub model: String,
    #[serde(default)]
    pub model_settings: serde_json::Value,
    /// With several models: each one's name and settings (the first is `model`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelEntry>,
    #[serde(default)]
    pub strategy_settings: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub suite_hashes: BTreeMap<String, String>,
    pub max_steps: Option<u32>,
    pub max_model_calls: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_wall_ms: Option<u64>,
}

/// One model of a bench with several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    #[serde(default)]
    pub settings: serde_json::Value,
}

/// `manifest.json`: the plan and where and from what it ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub plan: Plan,
    pub git_revision: String,
    pub git_dirty: bool,
    pub machine: serde_json::Value,
    /// Runs in flight at once when the bench (or its last resumption) ran. Not part of the
    /// plan: it changes timings, not results.
    #[serde(default)]
    pub concurrency: usize,
    /// What went wrong in the model backend and was recovered from (an endpoint that
    /// failed and was replaced), written when the bench ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<String>,
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
    fn key(&self) -> (String, String, String, u32) {
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
    fn pair_key(&self) -> (String, String, u32, String) {
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

/// One run to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub suite: String,
    pub task: String,
    pub strategy: String,
    pub trial: u32,
    /// Which of the bench's models (an index into `BenchSpec::models`).
    pub model: usize,
}

/// A model's short name in labels: its file or model name without the backend and folder.
pub fn model_label(info: &str) -> String {
    let name = info.rsplit(['/', ':']).next().unwrap_or(info);
    let name = name.strip_suffix(".gguf").unwrap_or(name);
    if info.starts_with("replay:") {
        format!("replay-{name}")
    } else {
        name.to_string()
    }
}

/// A run's label: the strategy, and the model in a bench with several (`model` is empty
/// in a bench of one).
fn label(strategy: &str, model: &str) -> String {
    if model.is_empty() {
        strategy.to_string()
    } else {
        format!("{strategy}@{model}")
    }
}

impl Job {
    /// The model its record names: empty in a bench of one model, else the model's label.
    fn record_model(&self, labels: &[String]) -> String {
        match labels.len() {
            0 | 1 => String::new(),
            _ => labels[self.model].clone(),
        }
    }

    /// The key its record will have.
    fn key(&self, labels: &[String]) -> (String, String, String, u32) {
        (
            self.suite.clone(),
            self.task.clone(),
            label(&self.strategy, &self.record_model(labels)),
            self.trial,
        )
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

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    serde_json::json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}

/// Fill the plan's hashes and settings, and list its jobs.
pub fn prepare(spec: &mut BenchSpec) -> Result<Vec<Job>, HarnessError> {
    let mut jobs = Vec::new();
    for name in &spec.plan.strategies {
        let s = crate::registry::build(name, &spec.options)?;
        spec.plan
            .strategy_settings
            .insert(name.clone(), s.settings());
    }
    let first = spec
        .models
        .first()
        .ok_or_else(|| HarnessError::Choose("a bench needs a model (--model)".into()))?;
    spec.plan.model = first.info().to_string();
    spec.plan.model_settings = first.settings();
    spec.plan.models = if spec.models.len() > 1 {
        spec.models
            .iter()
            .map(|m| ModelEntry {
                name: m.info().to_string(),
                settings: m.settings(),
            })
            .collect()
    } else {
        Vec::new()
    };
    for suite_name in &spec.plan.suites {
        let suite = load_suite(suite_name)?;
        spec.plan
            .suite_hashes
            .insert(suite_name.clone(), suite.content_hash());
        let ids: Vec<String> = match &spec.plan.tasks {
            Tasks::All => suite.tasks.iter().map(|t| t.id.clone()).collect(),
            Tasks::Smoke => suite.manifest.smoke.clone(),
            Tasks::Ids(ids) => ids
                .iter()
                .filter(|id| suite.task(id).is_some())
                .cloned()
                .collect(),
        };
        for task in ids {
            for model in 0..spec.models.len() {
                for strategy in &spec.plan.strategies {
                    for trial in 0..spec.plan.trials.max(1) {
                        jobs.push(Job {
                            suite: suite_name.clone(),
                            task: task.clone(),
                            strategy: strategy.clone(),
                            trial,
                            model,
                        });
                    }
                }
            }
        }
    }
    if jobs.is_empty() {
        return Err(HarnessError::Choose(
            "the bench has no runs: no task of those suites matches --tasks".into(),
        ));
    }
    Ok(jobs)
}

/// The machine's record of finished bench runs (strategy, suite, model, wall time), which
/// `--dry-run` estimates a plan's time from: `$LADDER_HISTORY`, or
/// `~/.cache/ladder/bench-history.jsonl`.
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LADDER_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ladder/bench-history.jsonl"))
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
fn remember(record: &Record, model: &str, concurrency: usize) {
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

/// What must match between a bench and its replay: the strategies' settings (prompt and
/// pipeline hashes among them) and the suites' content. The differences, one per line.
pub fn replay_mismatches(original: &Plan, replay: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for (name, settings) in &original.strategy_settings {
        if replay.strategy_settings.get(name) != Some(settings) {
            out.push(format!(
                "strategy {name} has other settings now (a changed prompt or pipeline, or other --pipeline/--with/--without)"
            ));
        }
    }
    for (suite, hash) in &original.suite_hashes {
        if replay.suite_hashes.get(suite) != Some(hash) {
            out.push(format!("suite {suite} changed since the bench ran"));
        }
    }
    out
}

/// A record as a replay must reproduce it: outcome, score and metrics with every timing
/// (`*_ms`) removed.
fn comparable(r: &Record) -> serde_json::Value {
    let mut v = serde_json::json!({
        "outcome": r.outcome,
        "score": r.score,
        "metrics": r.metrics,
        "error": r.error,
    });
    if let Some(m) = v.get_mut("metrics").and_then(|m| m.as_object_mut()) {
        m.retain(|k, _| !k.ends_with("_ms"));
    }
    v
}

/// Where two benches' results differ, compared run by run in (suite, task, strategy,
/// trial) order with timings removed; empty when they are identical.
pub fn differences(a: &[Record], b: &[Record]) -> Vec<String> {
    let index = |rs: &[Record]| -> BTreeMap<(String, String, String, u32), serde_json::Value> {
        rs.iter().map(|r| (r.key(), comparable(r))).collect()
    };
    let (a, b) = (index(a), index(b));
    let mut out = Vec::new();
    for (k, va) in &a {
        match b.get(k) {
            None => out.push(format!(
                "{} {} {} trial {}: missing from the replay",
                k.0, k.1, k.2, k.3
            )),
            Some(vb) if vb != va => {
                let fields: Vec<&str> = ["outcome", "score", "metrics", "error"]
                    .into_iter()
                    .filter(|f| va.get(f) != vb.get(f))
                    .collect();
                out.push(format!(
                    "{} {} {} trial {}: {} differ",
                    k.0,
                    k.1,
                    k.2,
                    k.3,
                    fields.join(", ")
                ));
            }
            Some(_) => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!(
            "{} {} {} trial {}: not in the original",
            k.0, k.1, k.2, k.3
        ));
    }
    out
}

/// Run the bench. `progress(done, total, record)` is told after each run.
pub async fn run(
    mut spec: BenchSpec,
    mut progress: impl FnMut(usize, usize, &Record),
) -> Result<Vec<Record>, HarnessError> {
    let jobs = prepare(&mut spec)?;
    std::fs::create_dir_all(spec.out.join("traces"))
        .map_err(io("cannot create the bench folder", &spec.out))?;
    let manifest_path = spec.out.join("manifest.json");
    let results_path = spec.out.join("results.jsonl");
    let mut done = Vec::new();
    if spec.resume {
        if let Ok(text) = std::fs::read_to_string(&manifest_path) {
            let old: Manifest = serde_json::from_str(&text).map_err(|e| {
                HarnessError::Choose(format!(
                    "{} is not a bench manifest: {e}",
                    manifest_path.display()
                ))
            })?;
            if old.plan != spec.plan {
                let a = serde_json::to_value(&old.plan).unwrap_or_default();
                let b = serde_json::to_value(&spec.plan).unwrap_or_default();
                let diff: Vec<String> = a
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| b.get(k.as_str()) != Some(v))
                    .map(|(k, v)| {
                        format!(
                            "{k}: {v} then, {} now",
                            b.get(k.as_str()).cloned().unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(HarnessError::Choose(format!(
                    "{} was made with other settings; resume it with the same ones or use another --out:\n  {}",
                    spec.out.display(),
                    diff.join("\n  ")
                )));
            }
        }
        done = read_results(&results_path)?;
        // Rewrite the file without a torn last line, so appends start on a fresh line.
        let text: String = done
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
            .collect();
        std::fs::write(&results_path, text).map_err(io("cannot rewrite", &results_path))?;
    } else if results_path.exists() {
        return Err(HarnessError::Choose(format!(
            "{} already holds a bench: add --resume to carry it on, or choose another --out",
            spec.out.display()
        )));
    }
    let manifest = Manifest {
        plan: spec.plan.clone(),
        git_revision: git(&["rev-parse", "HEAD"]).unwrap_or_default(),
        git_dirty: git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
        machine: machine(),
        concurrency: spec.concurrency.max(1),
        incidents: Vec::new(),
    };
    std::fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n",
    )
    .map_err(io("cannot write", &manifest_path))?;

    let finished: BTreeSet<_> = done.iter().map(Record::key).collect();
    let labels = spec.model_labels();
    let todo: Vec<&Job> = jobs
        .iter()
        .filter(|j| !finished.contains(&j.key(&labels)))
        .collect();
    let total = jobs.len();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)
        .map_err(io("cannot open", &results_path))?;
    let embedder = match (&spec.embedder, spec.plan.suites.is_empty()) {
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
    };
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
        remember(&record, &names[model], spec.concurrency.max(1));
        let line = serde_json::to_string(&record).unwrap_or_default() + "\n";
        file.write_all(line.as_bytes())
            .and_then(|_| file.flush())
            .and_then(|_| file.sync_data())
            .map_err(io("cannot append to", &results_path))?;
        records.push(record);
        progress(records.len(), total, records.last().expect("just pushed"));
    }
    let incidents: Vec<String> = spec.models.iter().flat_map(|m| m.incidents()).collect();
    if !incidents.is_empty() {
        let manifest = Manifest {
            incidents,
            ..manifest
        };
        std::fs::write(
            &manifest_path,
            serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n",
        )
        .map_err(io("cannot write", &manifest_path))?;
    }
    Ok(records)
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
    );
    run_spec.id = Some(job.task.clone());
    run_spec.out = spec.out.join("traces");
    run_spec.data_dir = spec.data_dir.clone();
    run_spec.embedder = embedder;
    run_spec.options = spec.options.clone();
    run_spec.overrides = Overrides {
        seed: Some(seed),
        max_steps: spec.plan.max_steps,
        max_model_calls: spec.plan.max_model_calls,
        max_tokens: spec.plan.max_tokens,
        max_wall_ms: spec.plan.max_wall_ms,
    };
    let strategy = crate::registry::build(&job.strategy, &spec.options)?;
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

/// One row of the summary: a strategy on a suite (or `all`).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub suite: String,
    pub strategy: String,
    pub runs: u64,
    pub successes: u64,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
    pub partial: f64,
    pub user_turns: f64,
    pub model_calls: f64,
    pub tokens: f64,
    pub wall_p50_s: f64,
    pub errors: u64,
    /// pass^k with k the fewest trials any task had (tau-bench's: all k trials of a task
    /// succeed); `None` with one trial.
    pub pass_k: Option<(u64, f64)>,
    /// The share of runs whose intent classifier chose exactly the gold intents, over the
    /// runs that classified (the scaffold); `None` when none did.
    pub intent_accuracy: Option<f64>,
    /// Mean recall of the gold documents over the runs that searched.
    pub retrieval_recall: Option<f64>,
    /// The success rate's 95% interval from a bootstrap over tasks (each task's runs
    /// resampled together), beside Wilson's over runs.
    pub task_bootstrap: (f64, f64),
    pub user_turns_p95: f64,
    /// Question parts per user turn, and the parts the user found irrelevant (or had no
    /// preference on) or repeated, per run.
    pub questions_per_turn: f64,
    pub irrelevant: f64,
    pub repeated: f64,
    pub prompt_tokens: f64,
    pub cached_tokens: f64,
    pub completion_tokens: f64,
    pub wall_p95_s: f64,
    pub model_p50_s: f64,
    pub model_p95_s: f64,
    pub retrievals: f64,
    /// Invented entity names per run.
    pub hallucinations: f64,
}

/// The mean of the values present, or `None` when there are none.
fn mean_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Per suite and strategy, and over all suites.
pub fn summarise(records: &[Record]) -> Vec<Row> {
    let mut groups: BTreeMap<(String, String), Vec<&Record>> = BTreeMap::new();
    for r in records {
        groups
            .entry((r.suite.clone(), r.label()))
            .or_default()
            .push(r);
        groups.entry(("all".into(), r.label())).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((suite, strategy), rs)| {
            let n = rs.len() as u64;
            let successes = rs.iter().filter(|r| r.success()).count() as u64;
            let (low, high) = stats::wilson(successes, n);
            let mean = |f: &dyn Fn(&Record) -> f64| rs.iter().map(|r| f(r)).sum::<f64>() / n as f64;
            let walls: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.metrics.as_ref().map(|m| m.wall_ms / 1000.0))
                .collect();
            let mut per_task: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
            for r in &rs {
                let e = per_task.entry((&r.suite, &r.task)).or_default();
                e.0 += u64::from(r.success());
                e.1 += 1;
            }
            let k = per_task.values().map(|(_, t)| *t).min().unwrap_or(0);
            let counts: Vec<(u64, u64)> = per_task.values().copied().collect();
            let task_rates: Vec<f64> = counts
                .iter()
                .map(|(ok, n)| *ok as f64 / (*n).max(1) as f64)
                .collect();
            let (_, boot_low, boot_high) = stats::mean_with_interval(&task_rates);
            let metric = |f: &dyn Fn(&ladder_core::Metrics) -> f64| -> Vec<f64> {
                rs.iter()
                    .filter_map(|r| r.metrics.as_ref().map(f))
                    .collect()
            };
            let turns = metric(&|m| m.user_turns as f64);
            let models: Vec<f64> = metric(&|m| m.model_ms / 1000.0);
            let parts = |m: &ladder_core::Metrics| {
                m.parts_answered + m.parts_repeated + m.parts_no_preference + m.parts_irrelevant
            };
            let asked: f64 = metric(&|m| parts(m) as f64).iter().sum();
            let turn_total: f64 = turns.iter().sum();
            let pass_k = (k >= 2)
                .then(|| stats::pass_hat_k(&counts, k).map(|p| (k, p)))
                .flatten();
            Row {
                intent_accuracy: mean_of(rs.iter().filter_map(|r| {
                    r.score
                        .as_ref()
                        .and_then(|s| s.intent.as_ref())
                        .map(|i| f64::from(u8::from(i.exact)))
                })),
                retrieval_recall: mean_of(
                    rs.iter()
                        .filter_map(|r| r.score.as_ref().and_then(|s| s.retrieval_recall)),
                ),
                suite,
                strategy,
                pass_k,
                runs: n,
                successes,
                rate: successes as f64 / n as f64,
                low,
                high,
                partial: mean(&|r| r.score.as_ref().map_or(0.0, |s| s.partial)),
                user_turns: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.user_turns as f64)),
                model_calls: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.model_calls as f64)),
                tokens: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.total_tokens as f64)),
                wall_p50_s: stats::quantile(&walls, 0.5),
                errors: rs.iter().filter(|r| r.outcome.is_none()).count() as u64,
                task_bootstrap: (boot_low, boot_high),
                user_turns_p95: stats::quantile(&turns, 0.95),
                questions_per_turn: if turn_total > 0.0 {
                    asked / turn_total
                } else {
                    0.0
                },
                irrelevant: mean(&|r| {
                    r.metrics
                        .as_ref()
                        .map_or(0.0, |m| (m.parts_irrelevant + m.parts_no_preference) as f64)
                }),
                repeated: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.parts_repeated as f64)),
                prompt_tokens: mean(&|r| {
                    r.metrics.as_ref().map_or(0.0, |m| m.prompt_tokens as f64)
                }),
                cached_tokens: mean(&|r| {
                    r.metrics.as_ref().map_or(0.0, |m| m.cached_tokens as f64)
                }),
                completion_tokens: mean(&|r| {
                    r.metrics
                        .as_ref()
                        .map_or(0.0, |m| m.completion_tokens as f64)
                }),
                wall_p95_s: stats::quantile(&walls, 0.95),
                model_p50_s: stats::quantile(&models, 0.5),
                model_p95_s: stats::quantile(&models, 0.95),
                retrievals: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.retrievals as f64)),
                hallucinations: mean(&|r| {
                    r.score
                        .as_ref()
                        .map_or(0.0, |s| s.hallucinations.len() as f64)
                }),
            }
        })
        .collect()
}

/// The costs and conversation figures per strategy (report.md; every figure is also in
/// summary.json).
pub fn costs_table(records: &[Record]) -> String {
    let mut s = String::from(
        "| suite | strategy | user turns (p95) | questions/turn | irrelevant | repeated | prompt tok | cached | completion tok | wall p50/p95 s | model p50/p95 s | retrievals | invented names |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in summarise(records) {
        s.push_str(&format!(
            "| {} | {} | {:.1} ({:.0}) | {:.2} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1}/{:.1} | {:.1}/{:.1} | {:.1} | {:.2} |\n",
            r.suite, r.strategy, r.user_turns, r.user_turns_p95, r.questions_per_turn,
            r.irrelevant, r.repeated, r.prompt_tokens, r.cached_tokens, r.completion_tokens,
            r.wall_p50_s, r.wall_p95_s, r.model_p50_s, r.model_p95_s, r.retrievals,
            r.hallucinations
        ));
    }
    s
}

/// What one scaffold component is worth: the full scaffold against the variant without
/// it (or, for `scaffold-vote`, the vote against the debate), on the runs both made.
#[derive(Debug, Clone, Serialize)]
pub struct AblationRow {
    pub variant: String,
    pub pairs: u64,
    /// Success rates of the full scaffold and of the variant on the pairs.
    pub full: f64,
    pub ablated: f64,
    /// full - ablated, with a 95% bootstrap interval.
    pub success: (f64, f64, f64),
    /// McNemar's exact test on the pairs.
    pub p_value: f64,
    /// User turns and tokens per run the component adds (full - ablated), with intervals.
    pub turns: (f64, f64, f64),
    pub tokens: (f64, f64, f64),
}

/// One row per ablation variant found in `records`, against `scaffold`.
pub fn ablation(records: &[Record]) -> Vec<AblationRow> {
    let full: BTreeMap<_, &Record> = records
        .iter()
        .filter(|r| r.strategy == "scaffold")
        .map(|r| (r.pair_key(), r))
        .collect();
    // Each variant (with each model, in a bench with several), in the registry's order.
    let mut labels: Vec<(usize, String)> = records
        .iter()
        .filter_map(|r| {
            crate::registry::ablations()
                .iter()
                .position(|v| *v == r.strategy)
                .map(|i| (i, r.label()))
        })
        .collect();
    labels.sort();
    labels.dedup();
    let mut rows = Vec::new();
    for (_, variant) in labels {
        let pairs: Vec<(&Record, &Record)> = records
            .iter()
            .filter(|r| r.label() == variant)
            .filter_map(|r| full.get(&r.pair_key()).map(|f| (*f, r)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let n = pairs.len() as f64;
        let metric = |r: &Record, f: &dyn Fn(&ladder_core::Metrics) -> f64| {
            r.metrics.as_ref().map_or(0.0, f)
        };
        let diffs = |f: &dyn Fn(&Record) -> f64| -> Vec<f64> {
            pairs.iter().map(|(a, b)| f(a) - f(b)).collect()
        };
        let outcomes: Vec<(bool, bool)> = pairs
            .iter()
            .map(|(a, b)| (a.success(), b.success()))
            .collect();
        rows.push(AblationRow {
            variant: variant.to_string(),
            pairs: pairs.len() as u64,
            full: pairs.iter().filter(|(a, _)| a.success()).count() as f64 / n,
            ablated: pairs.iter().filter(|(_, b)| b.success()).count() as f64 / n,
            success: stats::mean_with_interval(&diffs(&|r| f64::from(u8::from(r.success())))),
            p_value: stats::paired(&outcomes).p_value,
            turns: stats::mean_with_interval(&diffs(&|r| metric(r, &|m| m.user_turns as f64))),
            tokens: stats::mean_with_interval(&diffs(&|r| metric(r, &|m| m.total_tokens as f64))),
        });
    }
    rows
}

/// The ablation table in Markdown; empty when there are no ablation runs.
pub fn ablation_table(records: &[Record]) -> String {
    let rows = ablation(records);
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\nWhat each scaffold component is worth (full scaffold minus the variant, paired; 95% bootstrap intervals; for scaffold-vote, debate minus vote):\n\n| variant | pairs | success full / variant | success worth | McNemar p | user turns it adds | tokens it adds |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let ci = |(m, lo, hi): (f64, f64, f64), digits: usize| {
            format!("{m:+.digits$} [{lo:+.digits$}, {hi:+.digits$}]")
        };
        s.push_str(&format!(
            "| {} | {} | {:.2} / {:.2} | {} | {:.3}{} | {} | {} |\n",
            r.variant,
            r.pairs,
            r.full,
            r.ablated,
            ci(r.success, 2),
            r.p_value,
            if r.p_value >= 0.05 {
                " (within noise)"
            } else {
                ""
            },
            ci(r.turns, 1),
            ci(r.tokens, 0),
        ));
    }
    s
}

/// Each strategy against `baseline` on the runs both made (same suite, task and trial).
/// With several models, each strategy is paired with the baseline on the same model.
pub fn compare(records: &[Record], baseline: &str) -> Vec<(String, stats::Paired)> {
    let by_key: BTreeMap<_, &Record> = records
        .iter()
        .filter(|r| r.strategy == baseline)
        .map(|r| (r.pair_key(), r))
        .collect();
    let labels: BTreeSet<String> = records
        .iter()
        .filter(|r| r.strategy != baseline)
        .map(Record::label)
        .collect();
    labels
        .into_iter()
        .map(|label| {
            let pairs: Vec<(bool, bool)> = records
                .iter()
                .filter(|r| r.label() == label)
                .filter_map(|r| {
                    by_key
                        .get(&r.pair_key())
                        .map(|b| (r.success(), b.success()))
                })
                .collect();
            (label, stats::paired(&pairs))
        })
        .collect()
}

/// The chance level of a suite whose tasks ask for a pick: the success rate of picking one
/// knowledge-base entity at random, exactly: the mean over its pick tasks of the share of
/// entities that meet the task. `None` for a suite without pick tasks.
pub fn chance_level(suite: &ladder_world::Suite, tasks: &[String]) -> Option<f64> {
    let picks: Vec<&ladder_core::Task> = suite
        .tasks
        .iter()
        .filter(|t| tasks.contains(&t.id) && !t.expect.recommend_any.is_empty())
        .collect();
    if picks.is_empty() || suite.documents.is_empty() {
        return None;
    }
    let n = suite.documents.len() as f64;
    Some(
        picks
            .iter()
            .map(|t| t.expect.recommend_any.len() as f64 / n)
            .sum::<f64>()
            / picks.len() as f64,
    )
}

/// The chance level of each suite in `records` (for the tasks they ran).
pub fn chance_levels(records: &[Record]) -> BTreeMap<String, f64> {
    let mut tasks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        tasks
            .entry(r.suite.clone())
            .or_default()
            .push(r.task.clone());
    }
    tasks
        .into_iter()
        .filter_map(|(name, ids)| {
            let suite = load_suite(&name).ok()?;
            chance_level(&suite, &ids).map(|c| (name, c))
        })
        .collect()
}

/// The summary as a markdown table, with the paired comparisons against `direct`.
pub fn table(records: &[Record]) -> String {
    let mut s = String::from(
        "| suite | strategy | runs | success | 95% CI (Wilson) | 95% CI (tasks) | pass^k | partial | user turns | model calls | tokens | wall p50 s | intent acc. | recall@k | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in summarise(records) {
        let pass_k = r
            .pass_k
            .map(|(k, p)| format!("pass^{k} {p:.2}"))
            .unwrap_or_else(|| "-".into());
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
        s.push_str(&format!(
            "| {} | {} | {} | {}/{} ({:.2}) | {:.2}-{:.2} | {:.2}-{:.2} | {pass_k} | {:.2} | {:.1} | {:.1} | {:.0} | {:.1} | {} | {} | {} |\n",
            r.suite, r.strategy, r.runs, r.successes, r.runs, r.rate, r.low, r.high,
            r.task_bootstrap.0, r.task_bootstrap.1, r.partial,
            r.user_turns, r.model_calls, r.tokens, r.wall_p50_s, opt(r.intent_accuracy),
            opt(r.retrieval_recall), r.errors
        ));
    }
    for (suite, c) in chance_levels(records) {
        s.push_str(&format!(
            "| {suite} | (chance: one entity at random) | | ({c:.2}) | | | | | | | | | | | |\n"
        ));
    }
    s.push_str(&ablation_table(records));
    // Only strategies that ran beside direct on the same tasks (none when the bench had no
    // direct runs).
    let cmp: Vec<_> = compare(records, "direct")
        .into_iter()
        .filter(|(_, p)| p.pairs > 0)
        .collect();
    if !cmp.is_empty() {
        s.push_str("\nPaired against direct (same tasks, trials and seeds):\n\n| strategy | pairs | only it | only direct | difference | McNemar p |\n|---|---|---|---|---|---|\n");
        for (name, p) in cmp {
            s.push_str(&format!(
                "| {name} | {} | {} | {} | {:+.2} | {:.3}{} |\n",
                p.pairs,
                p.only_first,
                p.only_second,
                p.difference,
                p.p_value,
                if p.p_value >= 0.05 {
                    " (within noise)"
                } else {
                    ""
                }
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(strategy: &str, task: &str, success: bool, turns: u32, tokens: u64) -> Record {
        let score: Score = serde_json::from_value(serde_json::json!({
            "task": task, "judge": 2, "success": success, "partial": 0.0, "verdicts": [],
            "recommended": [], "rejected": [], "hallucinations": [], "user_turns": turns,
            "irrelevant_questions": 0, "repeated_questions": 0
        }))
        .expect("a score");
        Record {
            suite: "seaside".into(),
            task: task.into(),
            strategy: strategy.into(),
            model: String::new(),
            trial: 0,
            seed: 0,
            outcome: None,
            score: Some(score),
            metrics: Some(ladder_core::Metrics {
                user_turns: u64::from(turns),
                total_tokens: tokens,
                ..Default::default()
            }),
            error: None,
            trace: String::new(),
        }
    }

    #[test]
    fn the_summary_has_a_bootstrap_interval_over_tasks_and_the_conversation_figures() {
        let mut rs = Vec::new();
        for (t, ok) in [("a", true), ("b", true), ("c", false), ("d", false)] {
            let mut r = record("scaffold", t, ok, 2, 1000);
            if let Some(m) = r.metrics.as_mut() {
                m.parts_answered = 3;
                m.parts_no_preference = 1;
            }
            rs.push(r);
        }
        let row = summarise(&rs)
            .into_iter()
            .find(|r| r.suite == "all")
            .unwrap();
        assert_eq!(row.rate, 0.5);
        let (lo, hi) = row.task_bootstrap;
        assert!(lo < 0.5 && hi > 0.5 && lo >= 0.0 && hi <= 1.0, "{lo} {hi}");
        assert_eq!(row.questions_per_turn, 2.0, "4 parts over 2 turns");
        assert_eq!(row.irrelevant, 1.0, "no preference counts as irrelevant");
        let all_ok: Vec<Record> = ["a", "b"]
            .iter()
            .map(|t| record("x", t, true, 0, 1))
            .collect();
        let row = summarise(&all_ok).into_iter().next().unwrap();
        assert_eq!(row.task_bootstrap, (1.0, 1.0));
        assert!(costs_table(&rs).contains("| all | scaffold | 2.0 (2) | 2.00 | 1.0 |"));
    }

    #[test]
    fn with_several_models_each_strategy_is_labelled_and_paired_on_its_own_model() {
        let mut rs = Vec::new();
        for (model, direct_ok, scaffold_ok) in [("small", false, false), ("big", false, true)] {
            for t in ["a", "b"] {
                let mut d = record("direct", t, direct_ok, 0, 100);
                d.model = model.into();
                let mut s = record("scaffold", t, scaffold_ok, 5, 2000);
                s.model = model.into();
                rs.push(d);
                rs.push(s);
            }
        }
        let labels: Vec<String> = summarise(&rs)
            .into_iter()
            .filter(|r| r.suite == "all")
            .map(|r| format!("{} {}", r.strategy, r.successes))
            .collect();
        assert_eq!(
            labels,
            [
                "direct@big 0",
                "direct@small 0",
                "scaffold@big 2",
                "scaffold@small 0"
            ]
        );
        let cmp = compare(&rs, "direct");
        let names: Vec<(&str, u64, u64)> = cmp
            .iter()
            .map(|(n, p)| (n.as_str(), p.pairs, p.only_first))
            .collect();
        assert_eq!(
            names,
            [("scaffold@big", 2, 2), ("scaffold@small", 2, 0)],
            "paired on the same model"
        );
        assert_eq!(
            model_label("local:/m/SmolLM2-135M.Q4_1.gguf"),
            "SmolLM2-135M.Q4_1"
        );
        assert_eq!(model_label("openai:qwen2.5"), "qwen2.5");
        assert_eq!(model_label("replay:local:SmolLM2.gguf"), "replay-SmolLM2");
    }

    #[test]
    fn the_ablation_table_has_one_row_per_variant_paired_with_the_full_scaffold() {
        let mut rs = Vec::new();
        for (i, t) in ["a", "b", "c", "d"].iter().enumerate() {
            rs.push(record("scaffold", t, i < 3, 6, 3000));
            rs.push(record("scaffold-no-debate", t, i < 1, 6, 1000));
            rs.push(record("scaffold-no-form", t, i < 3, 0, 2500));
        }
        // A variant run with no full-scaffold pair is left out.
        rs.push(record("scaffold-no-form", "e", true, 0, 10));
        let rows = ablation(&rs);
        let names: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
        assert_eq!(
            names,
            ["scaffold-no-form", "scaffold-no-debate"],
            "registry order"
        );
        let debate = &rows[1];
        assert_eq!(debate.pairs, 4);
        assert_eq!((debate.full, debate.ablated), (0.75, 0.25));
        assert!((debate.success.0 - 0.5).abs() < 1e-9);
        assert!(
            (debate.tokens.0 - 2000.0).abs() < 1e-9,
            "every pair differs by 2000"
        );
        assert_eq!((debate.tokens.1, debate.tokens.2), (2000.0, 2000.0));
        let form = &rows[0];
        assert_eq!(form.pairs, 4);
        assert!((form.turns.0 - 6.0).abs() < 1e-9);
        assert_eq!(form.success.0, 0.0);
        assert_eq!(form.p_value, 1.0);
        let table = ablation_table(&rs);
        assert_eq!(table.matches("| scaffold-no-").count(), 2, "{table}");
        assert!(ablation_table(&rs[..1]).is_empty());
    }
}
