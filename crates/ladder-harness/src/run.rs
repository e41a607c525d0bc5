//! One run, from a task to a saved trace and score.
//!
//! `run` loads the task (a task file, or a suite task with its simulated user, knowledge
//! base and form spec), applies the command line's budget and seed, opens the trace file
//! and streams every event into it as it happens, runs the strategy, scores the outcome
//! when the task is a suite's, and saves the score beside the trace.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ladder_core::{
    run_task, Budget, Cancel, Embedder, LanguageModel, Metrics, Outcome, RunSetup, Strategy, Task,
    TaskFile, TokenStream, TraceSink, UserChannel,
};
use ladder_world::{Patience, Score, Suite};

use crate::HarnessError;

/// Where the task comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskSource {
    /// A task file (TOML or JSON with `[[task]]` entries).
    File(PathBuf),
    /// A suite: a name under `fixtures/suites`, or a folder.
    Suite(String),
}

/// Who plays the user in a suite run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// The deterministic simulated user, matching by keywords and embeddings.
    #[default]
    Simulated,
    /// The same user, less cooperative: one fact per turn, open questions asked back, less
    /// patience ([`ladder_world::Persona::Terse`]).
    Terse,
    /// The simulated user with keyword matching only (no embedding model needed for it).
    Keywords,
    /// The model plays the user from the profile.
    Model,
}

/// Command-line overrides of a task's budget, and the run's seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub max_steps: Option<u32>,
    pub max_model_calls: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_wall_ms: Option<u64>,
}

impl Overrides {
    /// The task's budget with these overrides applied.
    pub fn budget(&self, task: Budget) -> Budget {
        Budget {
            max_steps: self.max_steps.unwrap_or(task.max_steps),
            max_model_calls: self.max_model_calls.unwrap_or(task.max_model_calls),
            max_tokens: self.max_tokens.unwrap_or(task.max_tokens),
            max_wall_ms: self.max_wall_ms.unwrap_or(task.max_wall_ms),
        }
    }
}

/// Everything one run needs.
pub struct RunSpec {
    pub source: TaskSource,
    /// Which task of the file or suite (may be omitted when the file holds one).
    pub id: Option<String>,
    /// A registered strategy's name ([`crate::registry`]).
    pub strategy: String,
    /// Settings passed to the strategy (`--prompt`).
    pub options: crate::registry::StrategyOptions,
    pub model: Arc<dyn LanguageModel>,
    pub user: UserKind,
    /// Who answers instead of [`RunSpec::user`]'s simulated user: a person at the TUI
    /// (the scorer still judges the answer against the task's hidden profile).
    pub person: Option<Box<dyn UserChannel>>,
    pub overrides: Overrides,
    /// The folder the trace and score are written to.
    pub out: PathBuf,
    /// Where the embedded store keeps suite knowledge bases.
    pub data_dir: PathBuf,
    /// The embedding model, for the knowledge base and the simulated user; loaded when a
    /// suite run needs it and none is given.
    pub embedder: Option<Arc<dyn Embedder>>,
    pub cancel: Cancel,
    pub tokens: Option<TokenStream>,
    /// Receives every trace event as it happens (a UI watching the run).
    pub events: Option<tokio::sync::mpsc::UnboundedSender<ladder_core::Event>>,
}

impl RunSpec {
    pub fn new(source: TaskSource, strategy: &str, model: Arc<dyn LanguageModel>) -> Self {
        RunSpec {
            source,
            id: None,
            strategy: strategy.to_string(),
            options: Default::default(),
            model,
            user: UserKind::Simulated,
            person: None,
            overrides: Overrides::default(),
            out: PathBuf::from("runs"),
            data_dir: ladder_retrieval::default_data_dir(),
            embedder: None,
            cancel: Cancel::default(),
            tokens: None,
            events: None,
        }
    }

    /// The task `id` of the source (a suite's task; a file holds one).
    pub fn task(mut self, id: Option<String>) -> Self {
        self.id = id;
        self
    }

    /// The strategy's options (`--pipeline`, `--with`, ...).
    pub fn options(mut self, options: crate::registry::StrategyOptions) -> Self {
        self.options = options;
        self
    }

    /// Budget and seed changes over the task's own.
    pub fn overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// The folder the trace and score files go to.
    pub fn out(mut self, out: impl Into<PathBuf>) -> Self {
        self.out = out.into();
        self
    }

    /// The data folder (`--data DIR`); the embedded store lives in it where
    /// [`ladder_retrieval::store_dir`] says.
    pub fn data(mut self, data: &std::path::Path) -> Self {
        self.data_dir = ladder_retrieval::store_dir(data);
        self
    }

    /// An embedder shared with other runs (one is loaded per run otherwise).
    pub fn embedder(mut self, embedder: Option<Arc<dyn Embedder>>) -> Self {
        self.embedder = embedder;
        self
    }
}

/// What a run produced, and where it was saved.
#[derive(Debug)]
pub struct RunOutput {
    pub task: Task,
    pub strategy: String,
    pub outcome: Outcome,
    pub metrics: Metrics,
    pub trace_path: PathBuf,
    /// The score, for a suite task.
    pub score: Option<Score>,
    pub score_path: Option<PathBuf>,
    /// Set when the trace file could not be written in full (the run still happened).
    pub trace_error: Option<String>,
}

/// Load a suite by name (under `fixtures/suites`) or folder.
pub fn load_suite(name: &str) -> Result<Suite, HarnessError> {
    let dir = PathBuf::from(name);
    let dir = if dir.is_dir() {
        dir
    } else {
        ladder_world::default_suites_dir().join(name)
    };
    Suite::load(&dir).map_err(|e| HarnessError::Suite {
        name: name.to_string(),
        dir: dir.display().to_string(),
        problems: e.to_string(),
    })
}

fn embedder(spec: &RunSpec) -> Result<Arc<dyn Embedder>, HarnessError> {
    if let Some(e) = &spec.embedder {
        return Ok(Arc::clone(e));
    }
    let e = ladder_retrieval::FastEmbedder::load_default().map_err(|cause| HarnessError::Embed {
        what: "a suite run needs the embedding model (for its knowledge base and the simulated user)"
            .into(),
        cause,
    })?;
    Ok(Arc::new(e))
}

/// A file name made of safe characters only.
fn file_name(parts: &[&str], ext: &str) -> String {
    let joined = parts.join("-");
    let clean: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{clean}.{ext}")
}

/// An I/O error naming what was being done and the path.
pub(crate) fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> HarnessError {
    let (what, path) = (what.to_string(), path.display().to_string());
    move |cause| HarnessError::Io { what, path, cause }
}

/// The task a source and id name, with its suite when it is a suite's.
pub fn load_task(
    source: &TaskSource,
    id: Option<&str>,
) -> Result<(Task, Option<Suite>), HarnessError> {
    Ok(match source {
        TaskSource::File(path) => (TaskFile::load(path)?.select(id, path)?, None),
        TaskSource::Suite(name) => {
            let suite = load_suite(name)?;
            let id = id.ok_or_else(|| {
                HarnessError::Choose(format!(
                    "choose a task of suite {name} with --id (e.g. {})",
                    suite.manifest.smoke.join(", ")
                ))
            })?;
            let task = suite.task(id).cloned().ok_or_else(|| {
                HarnessError::Choose(format!(
                    "suite {name} has no task {id:?}; its smoke tasks are {}",
                    suite.manifest.smoke.join(", ")
                ))
            })?;
            (task, Some(suite))
        }
    })
}

/// Set up, run, score and save one run of the registered strategy `spec.strategy`, built
/// with `spec.options` and, for a suite's task, the suite's own `pipeline.toml`
/// ([`crate::registry::for_suite`]).
pub async fn run(spec: RunSpec) -> Result<RunOutput, HarnessError> {
    crate::registry::registered(&spec.strategy)?;
    let (task, suite) = load_task(&spec.source, spec.id.as_deref())?;
    let options = crate::registry::for_suite(&spec.options, suite.as_ref());
    let strategy = crate::registry::build(&spec.strategy, &options)?;
    run_loaded(spec, strategy.as_ref(), task, suite).await
}

/// [`run`] with a given strategy instead of a registered one (`spec.strategy` is ignored;
/// the strategy is as it was built, with whatever pipeline it was given).
pub async fn run_with(spec: RunSpec, strategy: &dyn Strategy) -> Result<RunOutput, HarnessError> {
    let (task, suite) = load_task(&spec.source, spec.id.as_deref())?;
    run_loaded(spec, strategy, task, suite).await
}

async fn run_loaded(
    mut spec: RunSpec,
    strategy: &dyn Strategy,
    task: Task,
    suite: Option<Suite>,
) -> Result<RunOutput, HarnessError> {
    for c in strategy.constraints() {
        spec.model
            .check_constraint(&c)
            .map_err(|e| HarnessError::Model {
                what: format!(
                    "strategy {} sends a constraint the model cannot apply",
                    strategy.name()
                ),
                cause: e,
            })?;
    }
    let budget = spec.overrides.budget(task.budget);
    let mut setup = RunSetup::new(Arc::clone(&spec.model), budget);
    setup.seed = spec.overrides.seed.unwrap_or(0);
    setup.cancel = spec.cancel.clone();
    setup.tokens = spec.tokens.clone();

    if let Some(suite) = &suite {
        let embedder = embedder(&spec)?;
        setup.retriever =
            Some(crate::kb::attach(suite, Arc::clone(&embedder), &spec.data_dir).await?);
        setup.embedder = Some(Arc::clone(&embedder));
        setup.form = Some(suite.form_spec());
        setup.suite_hash = suite.content_hash();
        setup.brief = suite.manifest.assistant_brief.clone();
        setup.names = suite
            .documents
            .iter()
            .map(|d| d.meta.title.clone())
            .filter(|t| !t.is_empty())
            .collect();
        let manifest = Arc::new(suite.manifest.clone());
        let patience = Patience::default();
        let (user, settings): (Box<dyn UserChannel>, serde_json::Value) =
            match (spec.person.take(), spec.user) {
                (Some(person), _) => (person, serde_json::json!({"kind": "person"})),
                (None, kind @ (UserKind::Simulated | UserKind::Terse)) => {
                    let persona = match kind {
                        UserKind::Terse => ladder_world::Persona::Terse,
                        _ => ladder_world::Persona::Cooperative,
                    };
                    let u = ladder_world::SimulatedUser::new(manifest, task.clone(), patience)
                        .persona(persona)
                        .with_embedder(embedder, ladder_world::user::SIMILARITY_THRESHOLD)?;
                    let settings = u.settings();
                    (Box::new(u), settings)
                }
                (None, UserKind::Keywords) => {
                    let u = ladder_world::SimulatedUser::new(manifest, task.clone(), patience);
                    let settings = u.settings();
                    (Box::new(u), settings)
                }
                (None, UserKind::Model) => {
                    let u = ladder_world::ModelUser::new(
                        Arc::clone(&spec.model),
                        task.clone(),
                        patience,
                    );
                    let settings = u.settings();
                    (Box::new(u), settings)
                }
            };
        setup.user = Some(user);
        setup.user_settings = settings;
    }

    std::fs::create_dir_all(&spec.out).map_err(io("cannot create the folder", &spec.out))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string();
    let trace_path = spec
        .out
        .join(file_name(&[&task.id, strategy.name(), &stamp], "jsonl"));
    setup.trace =
        TraceSink::to_file(&trace_path).map_err(io("cannot create the trace file", &trace_path))?;
    if let Some(tx) = &spec.events {
        setup.trace.add_subscriber(tx.clone());
    }

    let result = run_task(strategy, &task, setup).await;
    let trace_error = result.trace.write_error().map(str::to_string);
    let events = result.trace.into_events();
    let metrics = Metrics::from_events(&events);
    let (score, score_path) = match &suite {
        Some(suite) => {
            let score = ladder_world::score(suite, &task, &result.outcome, &events);
            let path = trace_path.with_extension("score.json");
            let json = serde_json::to_string_pretty(&score).unwrap_or_default() + "\n";
            std::fs::write(&path, json).map_err(io("cannot write the score", &path))?;
            (Some(score), Some(path))
        }
        None => (None, None),
    };
    Ok(RunOutput {
        strategy: strategy.name().to_string(),
        task,
        outcome: result.outcome,
        metrics,
        trace_path,
        score,
        score_path,
        trace_error,
    })
}
