//! What a bench runs: its settings ([`Plan`], written to `manifest.json` inside a
//! [`Manifest`]), the models and folders it runs with ([`BenchSpec`]), and the list of
//! [`Job`]s they make.
//!
//! Invariants:
//! - [`prepare`] lists the jobs suite by suite, then task, model, strategy and trial, in
//!   that nesting (the order a fresh bench runs them in), and fails rather than return none.
//! - After [`prepare`], the plan holds every strategy's settings, every suite's content
//!   hash and the models' names and settings: what `--resume` and a replay compare.
//! - A [`Manifest`] serialises its fields, and the plan's, in declaration order; only
//!   `concurrency` and `incidents` are outside the plan (they change timings, not results).
//! - A run's label is its strategy alone in a bench of one model, `strategy@model` with
//!   several: the one rule [`Job`] and [`crate::bench::Record`] share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ladder_core::{Embedder, LanguageModel, Split};
use serde::{Deserialize, Serialize};

use crate::registry::StrategyOptions;
use crate::run::{io, load_suite};
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

/// Which split of each suite's tasks a bench runs (`--split`), on top of `--tasks`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitChoice {
    /// Every task, whatever its split (and tasks without one): the bench before splits.
    #[default]
    All,
    /// The tasks tuned on.
    Dev,
    /// The held-out tasks, for the numbers that are reported.
    Test,
}

impl SplitChoice {
    /// Whether a task of split `split` is run. A task without a split is only in `all`.
    pub fn admits(self, split: Option<Split>) -> bool {
        match self {
            SplitChoice::All => true,
            SplitChoice::Dev => split == Some(Split::Dev),
            SplitChoice::Test => split == Some(Split::Test),
        }
    }
}

impl std::fmt::Display for SplitChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitChoice::All => "all",
            SplitChoice::Dev => "dev",
            SplitChoice::Test => "test",
        })
    }
}

impl std::str::FromStr for SplitChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(SplitChoice::All),
            "dev" => Ok(SplitChoice::Dev),
            "test" => Ok(SplitChoice::Test),
            other => Err(format!("--split takes dev, test or all, not {other:?}")),
        }
    }
}

/// What a bench runs. The settings that must match for `--resume` are in [`Plan`].
pub struct BenchSpec {
    pub plan: Plan,
    /// Every strategy runs with every model (the first is the plan's `model`).
    pub models: Vec<Arc<dyn LanguageModel>>,
    pub out: PathBuf,
    pub resume: bool,
    /// The data folder (`--data`): the knowledge bases' store is in it
    /// ([`ladder_retrieval::store_dir`]).
    pub data: PathBuf,
    pub embedder: Option<Arc<dyn Embedder>>,
    pub options: StrategyOptions,
    /// Per suite (by its name in `plan.suites`): a pipeline file replacing the scaffold's
    /// for that suite alone (`--pipeline SUITE=FILE`): its path and text.
    pub pipelines: BTreeMap<String, (String, String)>,
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
    /// The split the tasks are taken from (a manifest written before splits reads as
    /// `all`, which is what it ran).
    #[serde(default)]
    pub split: SplitChoice,
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
    /// The suites whose scaffold pipeline is not the bench's own (`strategy_settings`
    /// have that): a suite's `pipeline.toml`, or a `--pipeline SUITE=FILE`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pipelines: BTreeMap<String, PipelineEntry>,
    pub max_steps: Option<u32>,
    pub max_model_calls: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_wall_ms: Option<u64>,
    /// Who plays the user (a manifest without it ran the cooperative simulated user).
    #[serde(default, skip_serializing_if = "is_simulated")]
    pub user: crate::run::UserKind,
}

fn is_simulated(u: &crate::run::UserKind) -> bool {
    *u == crate::run::UserKind::Simulated
}

/// The settings that differ between the plan a bench was made with and the plan `now`,
/// one line per top-level field of `then`: `field: VALUE then, VALUE now`.
pub(super) fn plan_changes(then: &Plan, now: &Plan) -> Vec<String> {
    let a = serde_json::to_value(then).unwrap_or_default();
    let b = serde_json::to_value(now).unwrap_or_default();
    a.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| b.get(k.as_str()) != Some(v))
        .map(|(k, v)| {
            format!(
                "{k}: {v} then, {} now",
                b.get(k.as_str()).cloned().unwrap_or_default()
            )
        })
        .collect()
}

/// Where a suite's scaffold pipeline came from, and the hash of its text as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineEntry {
    /// `suite` (its folder's `pipeline.toml`, over the default) or `file` (a
    /// `--pipeline SUITE=FILE`, instead of the default).
    pub kind: String,
    pub path: String,
    pub hash: String,
}

/// One model of a bench with several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    #[serde(default)]
    pub settings: serde_json::Value,
}

/// The manifest's file name in a bench folder.
pub(super) const MANIFEST: &str = "manifest.json";

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
    /// For a folder `ladder merge` made: the folders its runs came from (the revision and
    /// machine above are the first's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<super::merge::Source>,
}

impl Manifest {
    /// Write it to `path` as pretty JSON with a final newline.
    pub(super) fn write(&self, path: &Path) -> Result<(), HarnessError> {
        std::fs::write(
            path,
            serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
        )
        .map_err(io("cannot write", path))
    }
}

/// One run to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub suite: String,
    /// The strategy's options for this suite: the bench's, with the suite's pipeline.
    pub options: Arc<StrategyOptions>,
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
pub(super) fn label(strategy: &str, model: &str) -> String {
    if model.is_empty() {
        strategy.to_string()
    } else {
        format!("{strategy}@{model}")
    }
}

impl Job {
    /// The model its record names: empty in a bench of one model, else the model's label.
    pub(super) fn record_model(&self, labels: &[String]) -> String {
        match labels.len() {
            0 | 1 => String::new(),
            _ => labels[self.model].clone(),
        }
    }

    /// The key its record will have.
    pub(super) fn key(&self, labels: &[String]) -> (String, String, String, u32) {
        (
            self.suite.clone(),
            self.task.clone(),
            label(&self.strategy, &self.record_model(labels)),
            self.trial,
        )
    }
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
        let options = Arc::new(suite_options(spec, suite_name, &suite));
        if let Some(entry) = pipeline_entry(&spec.options, &options) {
            spec.plan.pipelines.insert(suite_name.clone(), entry);
        }
        // A suite's pipeline that does not plan is refused before any run.
        for name in &spec.plan.strategies {
            crate::registry::build(name, &options).map_err(|e| match e {
                HarnessError::Choose(m) => HarnessError::Choose(format!("suite {suite_name}: {m}")),
                e => e,
            })?;
        }
        let ids: Vec<String> = match &spec.plan.tasks {
            Tasks::All => suite.tasks.iter().map(|t| t.id.clone()).collect(),
            Tasks::Smoke => suite.manifest.smoke.clone(),
            Tasks::Ids(ids) => ids.clone(),
        };
        let split = spec.plan.split;
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|id| suite.task(id).is_some_and(|t| split.admits(t.split)))
            .collect();
        for task in ids {
            for model in 0..spec.models.len() {
                for strategy in &spec.plan.strategies {
                    for trial in 0..spec.plan.trials.max(1) {
                        jobs.push(Job {
                            suite: suite_name.clone(),
                            options: Arc::clone(&options),
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
            format!(
                "the bench has no runs: no task of those suites matches --tasks {} with --split {} (the smoke tasks are all dev)",
                spec.plan.tasks, spec.plan.split
            ),
        ));
    }
    Ok(jobs)
}

/// The strategy options for the runs of `suite`: the bench's, with its `--pipeline
/// SUITE=FILE` when it has one, else the suite's own `pipeline.toml`.
fn suite_options(spec: &BenchSpec, name: &str, suite: &ladder_world::Suite) -> StrategyOptions {
    let mut base = spec.options.clone();
    if let Some(file) = spec.pipelines.get(name) {
        base.pipeline = Some(file.clone());
    }
    crate::registry::for_suite(&base, Some(suite))
}

/// What a suite's options change in the bench's pipeline, for the plan: a file of its own
/// (`--pipeline SUITE=FILE`) or, when no file replaces the pipeline, its `pipeline.toml`.
fn pipeline_entry(bench: &StrategyOptions, suite: &StrategyOptions) -> Option<PipelineEntry> {
    let entry = |kind: &str, (path, text): &(String, String)| PipelineEntry {
        kind: kind.into(),
        path: path.clone(),
        hash: ladder_core::content_hash(text),
    };
    match (&suite.pipeline, &suite.suite_pipeline) {
        (Some(file), _) if suite.pipeline != bench.pipeline => Some(entry("file", file)),
        (None, Some(own)) => Some(entry("suite", own)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_choice_reads_dev_test_or_all_and_admits_its_tasks() {
        assert_eq!("dev".parse::<SplitChoice>(), Ok(SplitChoice::Dev));
        assert_eq!("test".parse::<SplitChoice>(), Ok(SplitChoice::Test));
        assert_eq!("all".parse::<SplitChoice>(), Ok(SplitChoice::All));
        let e = "train".parse::<SplitChoice>().unwrap_err();
        assert!(e.contains("--split") && e.contains("\"train\""), "{e}");
        assert!(SplitChoice::All.admits(None) && SplitChoice::All.admits(Some(Split::Test)));
        assert!(SplitChoice::Dev.admits(Some(Split::Dev)));
        assert!(!SplitChoice::Dev.admits(Some(Split::Test)) && !SplitChoice::Dev.admits(None));
        assert!(!SplitChoice::Test.admits(None));
    }

    #[test]
    fn a_manifest_without_a_split_ran_all() {
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "suites": ["seaside"], "strategies": ["direct"], "tasks": "smoke", "trials": 1,
            "seed": 0, "model": "m", "max_steps": null, "max_model_calls": null,
            "max_tokens": null, "max_wall_ms": null
        }))
        .unwrap();
        assert_eq!(plan.split, SplitChoice::All);
    }

    #[test]
    fn a_model_label_is_its_file_or_model_name() {
        assert_eq!(
            model_label("local:/m/SmolLM2-135M.Q4_1.gguf"),
            "SmolLM2-135M.Q4_1"
        );
        assert_eq!(model_label("openai:qwen2.5"), "qwen2.5");
        assert_eq!(model_label("replay:local:SmolLM2.gguf"), "replay-SmolLM2");
    }
}
