//! The debate: agents with different roles draft an answer, then revise it after reading
//! each other's drafts.
//!
//! Invariants:
//! - Reads what the notes show (`slots`, `hits`, `context`: each optional, the notes
//!   simply lack it); writes `drafts` (the agents' last drafts, without empty ones).
//! - Each round is one batch of calls, one per agent (`agents x (rounds + 1)` calls in
//!   all), each with a `DebateMessage` event in the agents' order.
//! - A failed agent keeps its last draft; the others go on.

use async_trait::async_trait;
use ladder_core::trace::EventKind;
use ladder_core::{Call, ChatRequest, Message, RunContext, RunError, TaskView};
use serde::{Deserialize, Serialize};

use super::{Detail, Component, Env, Read};
use crate::prompts;
use crate::state::{Field, State, NOTES_READS};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebateSettings {
    pub agents: Vec<Agent>,
    /// Revision rounds after the first drafts.
    pub rounds: u32,
    /// Tokens per draft.
    pub max_tokens: u32,
}

#[async_trait]
impl Component for DebateSettings {
    fn reads(&self) -> &[Read] {
        &NOTES_READS
    }

    fn writes(&self) -> &[Field] {
        &[Field::Drafts]
    }

    fn max_calls(&self) -> u32 {
        self.agents.len() as u32 * (self.rounds + 1)
    }

    fn summary(&self) -> String {
        format!(
            // As the trace counts them: the draft round is a round too.
            "{} agents ({}) x {} rounds (a draft and {} revision{}), {} tokens a draft",
            self.agents.len(),
            self.agents
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.rounds + 1,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.max_tokens
        )
    }

    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        debate(self, env.task, ctx, state).await
    }
}

async fn debate(
    s: &DebateSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    let found = state.notes();
    let system = |role: &str| -> String {
        let mut text = String::new();
        if !task.brief.is_empty() {
            text.push_str(&task.brief);
            text.push_str("\n\n");
        }
        text.push_str(prompts::DRAFT.trim().replace("{role}", role).as_str());
        if !found.is_empty() {
            text.push_str("\n\n");
            text.push_str(&found);
        }
        text
    };
    let mut drafts: Vec<String> = vec![String::new(); s.agents.len()];
    for round in 0..=s.rounds {
        let calls: Vec<Call> = s
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut messages = vec![
                    Message::system(system(&a.role)),
                    Message::user(task.opening.clone()),
                ];
                if round > 0 {
                    let others: Vec<String> = s
                        .agents
                        .iter()
                        .zip(&drafts)
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, (b, d))| format!("[{}] {}", b.name, d.trim()))
                        .collect();
                    messages.push(Message::assistant(drafts[i].clone()));
                    messages.push(Message::user(format!(
                        "{}\n{}",
                        prompts::REVISE.trim(),
                        others.join("\n")
                    )));
                }
                let mut request = ChatRequest::new(messages);
                request.sampling.max_tokens = s.max_tokens;
                Call::new(if round == 0 { "draft" } else { "revise" }, request).by(&a.name)
            })
            .collect();
        ctx.next_step()?;
        let results = ctx.call_models(calls).await?;
        for (i, r) in results.into_iter().enumerate() {
            // A failed agent keeps its last draft; the others go on.
            if let Ok(response) = r {
                drafts[i] = response.text.trim().to_string();
            }
            ctx.record(EventKind::DebateMessage {
                agent: s.agents[i].name.clone(),
                round,
                text: drafts[i].clone(),
            })?;
        }
    }
    state.drafts = s
        .agents
        .iter()
        .map(|a| a.name.clone())
        .zip(drafts)
        .filter(|(_, d)| !d.is_empty())
        .collect();
    Ok(format!(
        "{} agents x {} rounds: {} drafts",
        s.agents.len(),
        s.rounds + 1,
        state.drafts.len()
    ))
}
