//! ladder-scaffold: the scaffolded strategy. The pipeline teams build around a model
//! today, as one [`Strategy`]: an intent classifier, a slot-filling form, retrieval,
//! context compression, a multi-agent debate (or a self-consistency vote) and a final
//! synthesis, wired as a graph read from a TOML file ([`pipeline`]).
//!
//! Invariants:
//! - The scaffold sees what a team's form-based assistant is configured with: the user's
//!   words, the suite's brief and form spec (intents, labelled examples, slots, their
//!   questions and options), the knowledge base. Never the profile or the expectations
//!   (it gets a `TaskView`, by type).
//! - Each component kind is one file of `components/` implementing [`Component`]: it
//!   declares the fields of the [`State`] it reads and writes, and sees and changes only
//!   those; [`Pipeline::plan`] refuses a pipeline in which a component reads what no
//!   enabled component upstream of it writes.
//! - Components run in the plan's order (topological, ties by file order); each writes a
//!   `ComponentStarted` and a `ComponentFinished` event around its own events, so a trace
//!   shows which component did what and what it cost.
//! - With every component but synthesis switched off, the scaffold makes exactly the call
//!   `direct` makes ([`ladder_core::Direct::request`]).
//! - Prompts are files in `prompts/`; their SHA-256 and the pipeline's are in the
//!   strategy's settings (and so in every trace header).
//! - The form never asks a slot it already has, and asks one slot per turn, in the form's
//!   order.

pub mod catalogue;
mod components;
pub mod pipeline;
mod run;
mod state;
pub mod text;
mod vectors;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use ladder_core::{content_hash, Constraint, Outcome, RunContext, Strategy, TaskView};

pub use components::{Component, Env, Kind, KINDS};
pub use pipeline::{Pipeline, PipelineError, Plan};
pub use state::{Field, Read, State};

/// The prompts, shipped with the crate.
pub mod prompts {
    pub const CLASSIFY: &str = include_str!("../prompts/classify.txt");
    pub const EXTRACT: &str = include_str!("../prompts/extract.txt");
    pub const DRAFT: &str = include_str!("../prompts/draft.txt");
    pub const REVISE: &str = include_str!("../prompts/revise.txt");
    pub const JUDGE: &str = include_str!("../prompts/judge.txt");
}

/// The default pipeline, compiled in. A suite's override of it is the suite's own
/// (`<suite folder>/pipeline.toml`), read by whoever runs the task and handed over as
/// [`PipelineSource::Suite`]: this crate never reads a suite folder, and never chooses
/// settings by a suite's name.
pub const DEFAULT_PIPELINE: &str = include_str!("../../../fixtures/pipelines/default.toml");
/// Where [`DEFAULT_PIPELINE`] comes from, in messages.
pub const DEFAULT_PIPELINE_PATH: &str = "fixtures/pipelines/default.toml";

/// Where the pipeline comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineSource {
    /// The built-in default alone (a task whose suite brings no override, or no suite).
    Default,
    /// The built-in default with a suite's override applied: the override's path (for
    /// messages and the settings) and its text.
    Suite { path: String, text: String },
    /// A whole pipeline file the user gave (`--pipeline FILE`), used as it is.
    File { path: String, text: String },
}

/// The scaffold strategy.
pub struct Scaffold {
    source: PipelineSource,
    switches: Switches,
    plan: Plan,
    /// Picks constrained to the knowledge base's titles (`scaffold-grounded`).
    grounded: bool,
    hashes: serde_json::Value,
    /// Embeddings of each form's labelled examples and slot texts, by the form's hash.
    cache: vectors::Cache,
}

impl std::fmt::Debug for Scaffold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scaffold")
            .field("source", &self.source)
            .field("switches", &self.switches)
            .finish()
    }
}

/// Components switched on (`--with`) and off (`--without`), by id or kind, and settings
/// changed (override texts, as a suite's pipeline.toml is one), on top of the pipeline
/// file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Switches {
    pub with: Vec<String>,
    pub without: Vec<String>,
    /// Override texts applied last, in order (an ablation variant's settings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
}

impl Switches {
    /// Only components switched off.
    pub fn without(names: &[&str]) -> Switches {
        Switches {
            without: names.iter().map(|s| s.to_string()).collect(),
            ..Switches::default()
        }
    }
}

impl Scaffold {
    /// The pipeline `source` makes (the default, the default with a suite's override, or
    /// the user's file), with the switches applied. Not yet checked: see [`Pipeline::plan`].
    pub fn pipeline(
        source: &PipelineSource,
        switches: &Switches,
    ) -> Result<Pipeline, PipelineError> {
        let p = match source {
            PipelineSource::Default => Pipeline::parse(DEFAULT_PIPELINE, DEFAULT_PIPELINE_PATH)?,
            PipelineSource::Suite { path, text } => {
                Pipeline::parse(DEFAULT_PIPELINE, DEFAULT_PIPELINE_PATH)?
                    .with_override(text, path)?
            }
            PipelineSource::File { path, text } => Pipeline::parse(text, path)?,
        };
        let mut p = p;
        for (i, text) in switches.set.iter().enumerate() {
            p = p.with_override(text, &format!("setting #{}", i + 1))?;
        }
        p.with_enabled(&switches.with)?.without(&switches.without)
    }

    /// A scaffold on `source` with `switches` applied. Its pipeline is checked here, so a
    /// bad file is refused before any run.
    pub fn new(source: PipelineSource, switches: Switches) -> Result<Scaffold, PipelineError> {
        let plan = Self::pipeline(&source, &switches)?.plan()?;
        // The hashes of the texts the pipeline was made of, as they were read.
        let pipelines = match &source {
            PipelineSource::Default => serde_json::json!({
                "default": content_hash(&DEFAULT_PIPELINE),
            }),
            PipelineSource::Suite { text, .. } => serde_json::json!({
                "default": content_hash(&DEFAULT_PIPELINE),
                "suite": content_hash(text),
            }),
            PipelineSource::File { text, .. } => serde_json::json!({
                "file": content_hash(text),
            }),
        };
        let hashes = serde_json::json!({
            "pipelines": pipelines,
            "prompts": {
                "classify": content_hash(&prompts::CLASSIFY),
                "extract": content_hash(&prompts::EXTRACT),
                "draft": content_hash(&prompts::DRAFT),
                "revise": content_hash(&prompts::REVISE),
                "judge": content_hash(&prompts::JUDGE),
            }
        });
        Ok(Scaffold {
            source,
            switches,
            plan,
            grounded: false,
            hashes,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The same scaffold with its answers' picks constrained to the knowledge base's
    /// titles ([`ladder_core::direct::ground`]), or not.
    pub fn grounded(mut self, on: bool) -> Scaffold {
        self.grounded = on;
        self
    }

    /// The plan every task of this scaffold runs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

impl Default for Scaffold {
    fn default() -> Self {
        // The built-in pipeline is checked by a unit test; it cannot fail here.
        Scaffold::new(PipelineSource::Default, Switches::default())
            .unwrap_or_else(|e| panic!("the built-in pipeline is invalid: {e}"))
    }
}

#[async_trait]
impl Strategy for Scaffold {
    fn name(&self) -> &str {
        "scaffold"
    }

    fn settings(&self) -> serde_json::Value {
        let (pipeline, suite_override) = match &self.source {
            PipelineSource::Default => ("default", None),
            PipelineSource::Suite { path, .. } => ("default", Some(path)),
            PipelineSource::File { path, .. } => (path.as_str(), None),
        };
        let mut s = serde_json::json!({
            "pipeline": pipeline,
            "suite_override": suite_override,
            "with": self.switches.with,
            "without": self.switches.without,
            "plan": {
                "order": self.plan.order,
                "edges": self.plan.edges,
            },
            "hashes": self.hashes,
        });
        // Only where they are used, so a scaffold without them keeps its settings.
        if !self.switches.set.is_empty() {
            s["set"] = serde_json::json!(self.switches.set);
        }
        if self.grounded {
            s["grounded"] = true.into();
        }
        if !self.plan.catalogue.is_empty() {
            s["plan"]["catalogue"] = serde_json::json!(self.plan.catalogue);
        }
        s
    }

    fn wants_form(&self) -> bool {
        true
    }

    fn constraints(&self) -> Vec<Constraint> {
        vec![Constraint::JsonSchema(ladder_core::direct::picks_schema())]
    }

    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        let result = run::execute(&self.plan, task, ctx, &self.cache, self.grounded).await;
        ctx.finish(result)
    }
}

#[cfg(test)]
mod tests;
