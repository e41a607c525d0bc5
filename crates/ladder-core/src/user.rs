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

    /// The model calls the user made since the last time this was asked (a user played
    /// by a model makes them; others none). The run context records them in the trace as
    /// the user's, apart from the strategy's.
    fn take_model_calls(&mut self) -> Vec<(ChatRequest, ChatResponse)> {
        Vec::new()
    }
}
