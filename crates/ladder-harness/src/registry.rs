//! The strategies ladder knows, by name: the one registry the CLI, the bench and the TUI
//! share. A strategy added to ladder is added here, once.

use ladder_bootstrap::{Bootstrap, Mode};
use ladder_core::{Direct, Strategy};
use ladder_scaffold::{PipelineSource, Scaffold, Switches};

use crate::HarnessError;

/// Settings a front end may pass to any strategy; each strategy takes what applies to it
/// and refuses what does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyOptions {
    /// Another system prompt (the text of `--prompt FILE`), for strategies that have one
    /// in a file.
    pub prompt: Option<String>,
    /// Another pipeline file for the scaffold (`--pipeline FILE`): its path and text. It
    /// replaces the whole pipeline, the suite's override included.
    pub pipeline: Option<(String, String)>,
    /// The override of the default pipeline the task's suite brings (its folder's
    /// `pipeline.toml`): its path and text, as the harness read it ([`for_suite`]). Not a
    /// user's choice, so a strategy with no pipeline ignores it.
    pub suite_pipeline: Option<(String, String)>,
    /// Scaffold components to switch off, by id or kind (`--without debate,compress`).
    pub without: Vec<String>,
    /// Scaffold components the pipeline file switches off to switch on (`--with vote`).
    pub with: Vec<String>,
    /// A playbook for the bootstrapped loop's system prompt (`ladder evolve`): its text.
    pub playbook: Option<String>,
}

impl StrategyOptions {
    /// Refuse the scaffold's options for a strategy that has no pipeline.
    fn no_pipeline(&self, strategy: &str) -> Result<(), String> {
        if self.pipeline.is_some() || !self.without.is_empty() || !self.with.is_empty() {
            return Err(format!(
                "{strategy} has no pipeline (--pipeline, --with and --without are the scaffold's)"
            ));
        }
        Ok(())
    }

    /// Refuse a playbook for a strategy that has no loop to put it in.
    fn no_playbook(&self, strategy: &str) -> Result<(), String> {
        if self.playbook.is_some() {
            return Err(format!(
                "{strategy} takes no playbook (a playbook is the bootstrapped loop's)"
            ));
        }
        Ok(())
    }
}

/// `options` for a task of `suite`: with the suite's `pipeline.toml`, when it has one, as
/// the scaffold's override (a suite's settings come from its folder, never its name).
pub fn for_suite(
    options: &StrategyOptions,
    suite: Option<&ladder_world::Suite>,
) -> StrategyOptions {
    let mut o = options.clone();
    o.suite_pipeline = suite
        .and_then(|s| s.pipeline.as_ref())
        .map(|p| (p.path.display().to_string(), p.text.clone()));
    o
}

/// One registered strategy.
pub struct Registered {
    pub name: &'static str,
    pub about: &'static str,
    build: fn(&StrategyOptions) -> Result<Box<dyn Strategy>, String>,
}

/// `direct` (or a variant of it), which takes none of the options.
fn direct(d: Direct, o: &StrategyOptions) -> Result<Box<dyn Strategy>, String> {
    if o.prompt.is_some() {
        return Err("direct has no prompt file to replace (--prompt)".into());
    }
    o.no_pipeline("direct")?;
    o.no_playbook("direct")?;
    Ok(Box::new(d))
}

fn bootstrap(mode: Mode, o: &StrategyOptions) -> Result<Box<dyn Strategy>, String> {
    bootstrap_from(
        Bootstrap {
            mode,
            ..Bootstrap::default()
        },
        o,
    )
}

fn bootstrap_from(mut b: Bootstrap, o: &StrategyOptions) -> Result<Box<dyn Strategy>, String> {
    o.no_pipeline("bootstrap")?;
    if let Some(p) = &o.prompt {
        b.system_prompt = p.clone();
    }
    b.playbook = o.playbook.clone();
    Ok(Box::new(b))
}

/// The scaffold with components switched on and off on top of `o`'s switches: the
/// ablation variants `ladder bench --ablate` runs.
fn scaffold_variant(
    o: &StrategyOptions,
    without: &[&str],
    with: &[&str],
) -> Result<Box<dyn Strategy>, String> {
    let mut o = o.clone();
    o.without.extend(without.iter().map(|s| s.to_string()));
    o.with.extend(with.iter().map(|s| s.to_string()));
    scaffold(&o)
}

fn scaffold(o: &StrategyOptions) -> Result<Box<dyn Strategy>, String> {
    scaffold_with(o, &[], false)
}

/// The form's setting that stops its questions once few candidates fit (`scaffold-stop`).
const STOP_AT_3: &str = "[[node]]\nid = \"form\"\nstop_at = 3\n";

/// The scaffold with settings changed by override texts (`set`), its picks grounded or
/// not.
fn scaffold_with(
    o: &StrategyOptions,
    set: &[&str],
    grounded: bool,
) -> Result<Box<dyn Strategy>, String> {
    if o.prompt.is_some() {
        return Err(
            "the scaffold's prompts are per component; change them in crates/ladder-scaffold/prompts (--prompt is the bootstrapped loop's)".into(),
        );
    }
    o.no_playbook("the scaffold")?;
    let source = match (&o.pipeline, &o.suite_pipeline) {
        (Some((path, text)), _) => PipelineSource::File {
            path: path.clone(),
            text: text.clone(),
        },
        (None, Some((path, text))) => PipelineSource::Suite {
            path: path.clone(),
            text: text.clone(),
        },
        (None, None) => PipelineSource::Default,
    };
    let switches = Switches {
        with: o.with.clone(),
        without: o.without.clone(),
        set: set.iter().map(|s| s.to_string()).collect(),
    };
    Ok(Box::new(
        Scaffold::new(source, switches)
            .map_err(|e| e.to_string())?
            .grounded(grounded),
    ))
}

/// Every registered strategy, in the order front ends list them.
pub fn strategies() -> &'static [Registered] {
    static ALL: &[Registered] = &[
        Registered {
            name: "direct",
            about: "one model call answers the opening message (the baseline)",
            build: |o| direct(Direct::default(), o),
        },
        Registered {
            name: "direct-grounded",
            about: "ablation: direct with its picks constrained to the knowledge base's document titles",
            build: |o| {
                direct(
                    Direct {
                        grounded: true,
                        ..Direct::default()
                    },
                    o,
                )
            },
        },
        Registered {
            name: "scaffold",
            about: "classifier, slot form, retrieval, compression and debate, as a pipeline graph",
            build: scaffold,
        },
        Registered {
            name: "scaffold-no-classify",
            about: "ablation: the scaffold without its classifier (and so without its form)",
            build: |o| scaffold_variant(o, &["classify", "form"], &[]),
        },
        Registered {
            name: "scaffold-no-form",
            about: "ablation: the scaffold without its slot form",
            build: |o| scaffold_variant(o, &["form"], &[]),
        },
        Registered {
            name: "scaffold-no-retrieve",
            about: "ablation: the scaffold without retrieval (and so without compression)",
            build: |o| scaffold_variant(o, &["retrieve", "compress"], &[]),
        },
        Registered {
            name: "scaffold-no-compress",
            about: "ablation: the scaffold without context compression",
            build: |o| scaffold_variant(o, &["compress"], &[]),
        },
        Registered {
            name: "scaffold-no-debate",
            about: "ablation: the scaffold without its debate (synthesis answers alone)",
            build: |o| scaffold_variant(o, &["debate"], &[]),
        },
        Registered {
            name: "scaffold-vote",
            about: "ablation: a self-consistency vote in the debate's place, at the same number of calls",
            build: |o| scaffold_variant(o, &["debate"], &["vote"]),
        },
        Registered {
            name: "scaffold-no-candidates",
            about: "ablation: the scaffold without its catalogue's ranked candidates (the scaffold before issue 20)",
            build: |o| scaffold_variant(o, &["candidates"], &[]),
        },
        Registered {
            name: "scaffold-grounded",
            about: "ablation: the scaffold with its picks constrained to the knowledge base's document titles",
            build: |o| scaffold_with(o, &[], true),
        },
        Registered {
            name: "scaffold-stop",
            about: "ablation: the scaffold's form stops asking once at most 3 of the catalogue's candidates fit every answer",
            build: |o| scaffold_with(o, &[STOP_AT_3], false),
        },
        Registered {
            name: "bootstrap",
            about: "one model in a plain loop that asks, searches, condenses and answers",
            build: |o| bootstrap(Mode::Constrained, o),
        },
        Registered {
            name: "bootstrap-grounded",
            about: "ablation: the loop with its picks constrained to the titles its searches showed",
            build: |o| {
                bootstrap_from(
                    Bootstrap {
                        grounded: true,
                        ..Bootstrap::default()
                    },
                    o,
                )
            },
        },
        Registered {
            name: "bootstrap-plain",
            about: "the loop as first built, before its aids (issue 20): no status, repeated searches, stops on repeats, no last word",
            build: |o| bootstrap_from(Bootstrap::plain(), o),
        },
        Registered {
            name: "bootstrap-free",
            about: "the same loop with actions in plain text, read by a tolerant parser",
            build: |o| bootstrap(Mode::Free, o),
        },
    ];
    ALL
}

/// The scaffold's ablation variants, in the order `ladder bench --ablate` reports them.
pub fn ablations() -> Vec<&'static str> {
    strategies()
        .iter()
        .map(|s| s.name)
        .filter(|n| n.starts_with("scaffold-"))
        .collect()
}

/// The names of every registered strategy.
pub fn names() -> Vec<String> {
    strategies().iter().map(|s| s.name.to_string()).collect()
}

/// A new instance of the strategy called `name`, with its default settings changed by
/// `options`.
pub fn build(name: &str, options: &StrategyOptions) -> Result<Box<dyn Strategy>, HarnessError> {
    (registered(name)?.build)(options).map_err(HarnessError::Choose)
}

/// The strategy called `name`, or an error naming the known ones.
pub fn registered(name: &str) -> Result<&'static Registered, HarnessError> {
    strategies()
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| HarnessError::UnknownStrategy {
            name: name.to_string(),
            known: names(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every registered strategy builds on its own and with each committed suite's
    /// pipeline.toml (a variant's settings must fit every suite's pipeline).
    #[test]
    fn every_registered_strategy_builds_for_every_committed_suite() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/suites");
        let mut suites = vec![StrategyOptions::default()];
        for suite in ["seaside", "helpdesk", "facts"] {
            let path = format!("{root}/{suite}/pipeline.toml");
            let text = std::fs::read_to_string(&path).expect("a committed pipeline.toml");
            suites.push(StrategyOptions {
                suite_pipeline: Some((path, text)),
                ..StrategyOptions::default()
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in strategies() {
            assert!(seen.insert(s.name), "{} is registered twice", s.name);
            for o in &suites {
                if let Err(e) = build(s.name, o) {
                    panic!("{} with {:?}: {e}", s.name, o.suite_pipeline);
                }
            }
        }
    }
}
