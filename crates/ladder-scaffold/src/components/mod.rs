//! The component kinds: the [`Component`] trait each kind implements, and the one list
//! that registers them.
//!
//! Invariants:
//! - Each kind lives in its own file here: its settings (as a pipeline file spells them),
//!   the fields of the [`State`] it reads and writes, the model calls it may make, and how
//!   it runs.
//! - A kind is registered by one line of the list at the end of this file; the list makes
//!   the module, the pipeline file's `kind = "..."` name, the [`Kind`] variant (serialized
//!   with a `kind` tag next to its settings) and the dispatch to the kind's file. Adding a
//!   kind is one new file and one line.
//! - What a component declares is what it does: the runner gives it only the fields it
//!   reads and keeps only the fields it writes (see [`crate::state`]).

use async_trait::async_trait;
use ladder_core::{RunContext, RunError, TaskView};
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
pub use crate::state::Read;
use crate::state::{Field, State};
use crate::vectors::Cache;

/// What a component's run gives: the `ComponentFinished` event's detail, or the error
/// that ends the run.
pub type Detail = Result<String, RunError>;

/// What a component gets besides the state: the task as the strategy sees it, and the
/// scaffold's caches.
pub struct Env<'a> {
    pub task: &'a TaskView,
    /// The embeddings of each form's fixed texts.
    pub(crate) vectors: &'a Cache,
    /// The team's catalogue wiring (the pipeline's `[catalogue]`; empty without one).
    pub catalogue: &'a Catalogue,
    /// Whether answers' picks are constrained to the knowledge base's titles.
    pub grounded: bool,
}

/// A kind of component: what it reads and writes, what it may cost, and how it runs.
/// Implemented by each kind's settings.
#[async_trait]
pub trait Component: Send + Sync {
    /// The fields of the state it reads (all others are empty when it runs).
    fn reads(&self) -> &[Read];

    /// The fields of the state it writes (what it does to the others is dropped).
    fn writes(&self) -> &[Field];

    /// The model calls it makes at most (for plans and equal-cost comparisons).
    fn max_calls(&self) -> u32;

    /// A one-line summary of its settings.
    fn summary(&self) -> String;

    /// Refuse settings that parse but cannot work (the message names the setting); the
    /// plan adds the node.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Run once on `state`.
    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail;
}

/// The item with the greatest key; the first of equal ones wins, so ties follow the
/// input's order (the form's, or the order votes were cast).
pub(crate) fn first_max<T, K: PartialOrd>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Option<T> {
    items.into_iter().fold(None, |acc, x| match acc {
        Some(a) if key(&a) >= key(&x) => Some(a),
        _ => Some(x),
    })
}

/// The registration list's expansion: the kinds' modules, [`Kind`], [`KINDS`] and the
/// dispatch.
macro_rules! kinds {
    ($($name:literal => $module:ident :: $variant:ident ( $settings:ident ),)*) => {
        $(pub mod $module;)*

        /// A node's component: its kind and that kind's settings (a pipeline file's
        /// `kind = "..."` and the node's other keys). It derefs to the settings as a
        /// [`Component`], so `node.component.reads()` asks the kind's own file.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum Kind {
            $(
                #[serde(rename = $name)]
                $variant($module::$settings),
            )*
        }

        /// Every component kind, as pipeline files name them, in the registration order.
        pub const KINDS: &[&str] = &[$($name),*];

        impl Kind {
            /// The kind's name, as pipeline files give it.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Kind::$variant(_) => $name,)*
                }
            }

            /// Read the settings of a component of kind `name` from a TOML document;
            /// `None` for an unknown kind.
            pub(crate) fn parse(name: &str, text: &str) -> Option<Result<Kind, toml::de::Error>> {
                match name {
                    $($name => Some(toml::from_str(text).map(Kind::$variant)),)*
                    _ => None,
                }
            }
        }

        impl std::ops::Deref for Kind {
            type Target = dyn Component;

            fn deref(&self) -> &Self::Target {
                match self {
                    $(Kind::$variant(s) => s,)*
                }
            }
        }
    };
}

// The registered kinds: a pipeline file's name for it => its file :: its variant (its
// settings). A plan's ties are broken by the file's order, never by this one.
kinds! {
    "classifier" => classifier::Classifier(ClassifierSettings),
    "form" => form::Form(FormSettings),
    "retrieve" => retrieve::Retrieve(RetrieveSettings),
    "candidates" => candidates::Candidates(CandidatesSettings),
    "compress" => compress::Compress(CompressSettings),
    "debate" => debate::Debate(DebateSettings),
    "vote" => vote::Vote(VoteSettings),
    "synthesis" => synthesis::Synthesis(SynthesisSettings),
}
