//! `direct`: the baseline. One model call answers the opening message; no questions, no
//! look-ups. Every other strategy is measured against it.

use async_trait::async_trait;

use crate::message::Message;
use crate::model::ChatRequest;
use crate::outcome::Outcome;
use crate::run::{RunContext, Strategy};
use crate::task::TaskView;

pub const DIRECT_SYSTEM_PROMPT: &str =
    "You are a helpful assistant. Answer the user's request directly and concisely.";

/// The single-call baseline strategy.
#[derive(Debug, Clone)]
pub struct Direct {
    pub max_tokens: u32,
}

impl Default for Direct {
    fn default() -> Self {
        Direct { max_tokens: 256 }
    }
}

#[async_trait]
impl Strategy for Direct {
    fn name(&self) -> &str {
        "direct"
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "max_tokens": self.max_tokens, "system": DIRECT_SYSTEM_PROMPT })
    }

    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        let result = async {
            ctx.next_step()?;
            let system = if task.brief.is_empty() {
                DIRECT_SYSTEM_PROMPT.to_string()
            } else {
                format!("{}\n\n{DIRECT_SYSTEM_PROMPT}", task.brief)
            };
            let mut request = ChatRequest::new(vec![
                Message::system(system),
                Message::user(task.opening.clone()),
            ]);
            request.sampling.max_tokens = self.max_tokens;
            let response = ctx.call_model("answer", request).await?;
            Ok(response.text.trim().to_string())
        }
        .await;
        ctx.finish(result)
    }
}
