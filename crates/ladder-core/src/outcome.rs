//! How a run ended.

use serde::{Deserialize, Serialize};

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// The strategy gave a final answer.
    Answered,
    /// A budget limit was reached before an answer; `limit` names it.
    BudgetExhausted { limit: String },
    /// The (simulated) user ran out of patience.
    UserGaveUp,
    /// The run was cancelled from outside.
    Cancelled,
    /// The strategy kept doing the same thing and was stopped; `detail` says what.
    Repeating { detail: String },
    /// Something failed; the message says what.
    Error { message: String },
}

impl StopReason {
    pub fn label(&self) -> &'static str {
        match self {
            StopReason::Answered => "answered",
            StopReason::BudgetExhausted { .. } => "budget exhausted",
            StopReason::UserGaveUp => "user gave up",
            StopReason::Cancelled => "cancelled",
            StopReason::Repeating { .. } => "repeating",
            StopReason::Error { .. } => "error",
        }
    }
}

/// The result of one strategy on one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The final answer, when there is one.
    pub answer: Option<String>,
    /// The entities the answer commits to (empty where the task asks for none, or when
    /// the strategy did not say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub picks: Vec<String>,
    pub stop: StopReason,
}

impl Outcome {
    pub fn answered(text: impl Into<String>) -> Self {
        Outcome {
            answer: Some(text.into()),
            picks: Vec::new(),
            stop: StopReason::Answered,
        }
    }
    pub fn stopped(stop: StopReason) -> Self {
        Outcome {
            answer: None,
            picks: Vec::new(),
            stop,
        }
    }
    pub fn with_picks(mut self, picks: Vec<String>) -> Self {
        self.picks = picks;
        self
    }
}
