//! The form spec: what a team that builds a slot-filling assistant writes down for it.
//!
//! Intents with their labelled examples (for an intent classifier), and per intent the
//! slots a form asks for, each with its question and, where the slot has a fixed set of
//! choices, those choices (as a real form's drop-down has). Nothing here belongs to the
//! judge: no simulated-user keywords, no checks, no entity patterns. ladder-world makes
//! it from a suite's manifest; a strategy gets it only when it asks for it
//! ([`crate::Strategy::wants_form`]).

use serde::{Deserialize, Serialize};

/// One slot of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormSlot {
    pub name: String,
    /// The question the form asks for this slot.
    pub question: String,
    /// The allowed answers, when the slot is a choice; empty for free text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One intent the assistant recognises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormIntent {
    pub name: String,
    pub description: String,
    /// Labelled example utterances, for a classifier.
    pub examples: Vec<String>,
    pub slots: Vec<FormSlot>,
}

/// The whole form configuration of a suite.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FormSpec {
    /// The suite it belongs to.
    pub suite: String,
    pub intents: Vec<FormIntent>,
}

impl FormSpec {
    pub fn intent(&self, name: &str) -> Option<&FormIntent> {
        self.intents.iter().find(|i| i.name == name)
    }
}
