//! The strategies ladder knows, by name: the one registry the CLI, the bench and the TUI
//! share. A strategy added to ladder is added here, once.

use ladder_core::{Direct, Strategy};

use crate::HarnessError;

/// One registered strategy.
pub struct Registered {
    pub name: &'static str,
    pub about: &'static str,
    build: fn() -> Box<dyn Strategy>,
}

/// Every registered strategy, in the order front ends list them.
pub fn strategies() -> &'static [Registered] {
    static ALL: &[Registered] = &[
        Registered {
            name: "direct",
            about: "one model call answers the opening message (the baseline)",
            build: || Box::new(Direct::default()),
        },
        Registered {
            name: "bootstrap",
            about: "one model in a plain loop that asks, searches, condenses and answers",
            build: || Box::new(ladder_bootstrap::Bootstrap::default()),
        },
        Registered {
            name: "bootstrap-free",
            about: "the same loop with actions in plain text, read by a tolerant parser",
            build: || {
                Box::new(ladder_bootstrap::Bootstrap {
                    mode: ladder_bootstrap::Mode::Free,
                    ..Default::default()
                })
            },
        },
    ];
    ALL
}

/// The names of every registered strategy.
pub fn names() -> Vec<String> {
    strategies().iter().map(|s| s.name.to_string()).collect()
}

/// A new instance of the strategy called `name`, with its default settings.
pub fn build(name: &str) -> Result<Box<dyn Strategy>, HarnessError> {
    strategies()
        .iter()
        .find(|s| s.name == name)
        .map(|s| (s.build)())
        .ok_or_else(|| HarnessError::UnknownStrategy {
            name: name.to_string(),
            known: names(),
        })
}
