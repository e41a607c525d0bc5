//! The strategies ladder knows, by name: the one registry the CLI, the bench and the TUI
//! share. A strategy added to ladder is added here, once.

use ladder_bootstrap::{Bootstrap, Mode};
use ladder_core::{Direct, Strategy};

use crate::HarnessError;

/// Settings a front end may pass to any strategy; each strategy takes what applies to it
/// and refuses what does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyOptions {
    /// Another system prompt (the text of `--prompt FILE`), for strategies that have one
    /// in a file.
    pub prompt: Option<String>,
}

/// One registered strategy.
pub struct Registered {
    pub name: &'static str,
    pub about: &'static str,
    build: fn(&StrategyOptions) -> Result<Box<dyn Strategy>, String>,
}

fn bootstrap(mode: Mode, o: &StrategyOptions) -> Box<dyn Strategy> {
    let mut b = Bootstrap {
        mode,
        ..Bootstrap::default()
    };
    if let Some(p) = &o.prompt {
        b.system_prompt = p.clone();
    }
    Box::new(b)
}

/// Every registered strategy, in the order front ends list them.
pub fn strategies() -> &'static [Registered] {
    static ALL: &[Registered] = &[
        Registered {
            name: "direct",
            about: "one model call answers the opening message (the baseline)",
            build: |o| match o.prompt {
                Some(_) => Err("direct has no prompt file to replace (--prompt)".into()),
                None => Ok(Box::new(Direct::default())),
            },
        },
        Registered {
            name: "bootstrap",
            about: "one model in a plain loop that asks, searches, condenses and answers",
            build: |o| Ok(bootstrap(Mode::Constrained, o)),
        },
        Registered {
            name: "bootstrap-free",
            about: "the same loop with actions in plain text, read by a tolerant parser",
            build: |o| Ok(bootstrap(Mode::Free, o)),
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
