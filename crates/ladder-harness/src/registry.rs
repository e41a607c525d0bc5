//! The strategies ladder knows, by name: the one registry the CLI, the bench and the TUI
//! share. A strategy added to ladder is added here, once.

use ladder_bootstrap::{Bootstrap, Mode};
use ladder_core::{Direct, Strategy};
use ladder_scaffold::{PipelineSource, Scaffold};

use crate::HarnessError;

/// Settings a front end may pass to any strategy; each strategy takes what applies to it
/// and refuses what does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyOptions {
    /// Another system prompt (the text of `--prompt FILE`), for strategies that have one
    /// in a file.
    pub prompt: Option<String>,
    /// Another pipeline file for the scaffold (`--pipeline FILE`): its path and text.
    pub pipeline: Option<(String, String)>,
    /// Scaffold components to switch off, by id or kind (`--without debate,compress`).
    pub without: Vec<String>,
}

impl StrategyOptions {
    /// Refuse the scaffold's options for a strategy that has no pipeline.
    fn no_pipeline(&self, strategy: &str) -> Result<(), String> {
        if self.pipeline.is_some() || !self.without.is_empty() {
            return Err(format!(
                "{strategy} has no pipeline (--pipeline and --without are the scaffold's)"
            ));
        }
        Ok(())
    }
}

/// One registered strategy.
pub struct Registered {
    pub name: &'static str,
    pub about: &'static str,
    build: fn(&StrategyOptions) -> Result<Box<dyn Strategy>, String>,
}

fn bootstrap(mode: Mode, o: &StrategyOptions) -> Result<Box<dyn Strategy>, String> {
    o.no_pipeline("bootstrap")?;
    let mut b = Bootstrap {
        mode,
        ..Bootstrap::default()
    };
    if let Some(p) = &o.prompt {
        b.system_prompt = p.clone();
    }
    Ok(Box::new(b))
}

fn scaffold(o: &StrategyOptions) -> Result<Box<dyn Strategy>, String> {
    if o.prompt.is_some() {
        return Err(
            "the scaffold's prompts are per component; change them in crates/ladder-scaffold/prompts (--prompt is the bootstrapped loop's)".into(),
        );
    }
    let source = match &o.pipeline {
        Some((path, text)) => PipelineSource::File {
            path: path.clone(),
            text: text.clone(),
        },
        None => PipelineSource::Default,
    };
    Ok(Box::new(
        Scaffold::new(source, o.without.clone()).map_err(|e| e.to_string())?,
    ))
}

/// Every registered strategy, in the order front ends list them.
pub fn strategies() -> &'static [Registered] {
    static ALL: &[Registered] = &[
        Registered {
            name: "direct",
            about: "one model call answers the opening message (the baseline)",
            build: |o| match o.prompt {
                Some(_) => Err("direct has no prompt file to replace (--prompt)".into()),
                None => o
                    .no_pipeline("direct")
                    .map(|_| Box::new(Direct::default()) as _),
            },
        },
        Registered {
            name: "scaffold",
            about: "classifier, slot form, retrieval, compression and debate, as a pipeline graph",
            build: scaffold,
        },
        Registered {
            name: "bootstrap",
            about: "one model in a plain loop that asks, searches, condenses and answers",
            build: |o| bootstrap(Mode::Constrained, o),
        },
        Registered {
            name: "bootstrap-free",
            about: "the same loop with actions in plain text, read by a tolerant parser",
            build: |o| bootstrap(Mode::Free, o),
        },
    ];
    ALL
}

/// The names of every registered strategy.
pub fn names() -> Vec<String> {
    strategies().iter().map(|s| s.name.to_string()).collect()
}

/// A new instance of the strategy called `name`, with its default settings changed by
/// `options`.
pub fn build(name: &str, options: &StrategyOptions) -> Result<Box<dyn Strategy>, HarnessError> {
    let registered = strategies()
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| HarnessError::UnknownStrategy {
            name: name.to_string(),
            known: names(),
        })?;
    (registered.build)(options).map_err(HarnessError::Choose)
}
