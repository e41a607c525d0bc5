//! The user channel: how a strategy asks the user something.
//!
//! A simulated user (crate ladder-world) and a person at the TUI both implement
//! [`UserChannel`]; a strategy cannot tell them apart.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{ChatRequest, ChatResponse};

/// What the user said back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum UserReply {
    /// An answer to the question.
    Answer(String),
    /// The user has had enough; the run ends with [`crate::StopReason::UserGaveUp`].
    GaveUp(String),
}

impl UserReply {
    pub fn text(&self) -> &str {
        match self {
            UserReply::Answer(t) | UserReply::GaveUp(t) => t,
        }
    }
}

/// What one part of a question was, for the user who heard it. A question may hold
/// several parts ("Domestic or abroad? Quiet or lively?"); each is answered, and costs
/// the user patience, on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// Asked for something the user knows and had not said yet.
    Answered,
    /// Asked only for what the user had already said (or said in the opening).
    Repeated,
    /// About something the user has no preference on.
    NoPreference,
    /// About nothing the user knows.
    Irrelevant,
}

/// One part of a question and how the user took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPart {
    pub text: String,
    pub kind: PartKind,
    /// The profile slots it matched (the slot the user has no preference on, for
    /// [`PartKind::NoPreference`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("no user is attached to this run, so the strategy cannot ask questions")]
    NoUser,
    #[error("the user channel failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait UserChannel: Send {
    /// Ask the user a question and wait for the reply.
    async fn ask(&mut self, question: &str) -> Result<UserReply, UserError>;

    /// Which of its profile slots the user took the last question to ask for, when it
    /// can say (a simulated user can; a person cannot). Recorded in the trace, so that
    /// scoring judges questions exactly as the user did.
    fn matched_slots(&self) -> Option<Vec<String>> {
        None
    }

    /// The parts of the last question as the user took them, when it can say (a
    /// simulated user can). Recorded in the trace; metrics count effort from them.
    fn last_parts(&self) -> Vec<UserPart> {
        Vec::new()
    }

    /// The model calls the user made since the last time this was asked (a user played
    /// by a model makes them; others none). The run context records them in the trace as
    /// the user's, apart from the strategy's.
    fn take_model_calls(&mut self) -> Vec<(ChatRequest, ChatResponse)> {
        Vec::new()
    }
}
