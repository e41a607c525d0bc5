//! A person at the terminal plays the user: a strategy's question becomes a
//! [`Msg::Ask`] for the UI, and the reply the person types comes back through a channel.
//! The strategy cannot tell this user from the simulated one ([`UserChannel`]).

use async_trait::async_trait;
use ladder_core::user::{UserChannel, UserError, UserReply};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::update::Msg;

/// The user of pane `pane`'s run, played by the person at the UI.
pub struct PersonUser {
    pane: usize,
    ui: UnboundedSender<Msg>,
    replies: UnboundedReceiver<Option<String>>,
}

impl PersonUser {
    /// The user, and the sender the runner passes the person's replies to (None: they
    /// gave up).
    pub fn new(
        pane: usize,
        ui: UnboundedSender<Msg>,
    ) -> (PersonUser, UnboundedSender<Option<String>>) {
        let (tx, replies) = unbounded_channel();
        (PersonUser { pane, ui, replies }, tx)
    }
}

#[async_trait]
impl UserChannel for PersonUser {
    async fn ask(&mut self, question: &str) -> Result<UserReply, UserError> {
        self.ui
            .send(Msg::Ask {
                pane: self.pane,
                question: question.to_string(),
            })
            .map_err(|_| UserError::Failed("the terminal UI has closed".into()))?;
        match self.replies.recv().await {
            Some(Some(text)) => Ok(UserReply::Answer(text)),
            Some(None) => Ok(UserReply::GaveUp("(the person gave up)".into())),
            None => Err(UserError::Failed("the terminal UI has closed".into())),
        }
    }
}
