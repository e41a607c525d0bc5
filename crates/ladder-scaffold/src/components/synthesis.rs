//! The synthesis: the one component that answers the user, with `direct`'s call and the
//! notes (and drafts) of the components upstream in its system prompt.
//!
//! Invariants:
//! - Reads `answer` (a vote's), `drafts` and what the notes show (`slots`, `hits`,
//!   `context`), each optional; writes `answer`.
//! - With nothing upstream it makes exactly `direct`'s one call
//!   ([`ladder_core::Direct::request`]). After a vote (an answer and no drafts) it passes
//!   the vote's answer through without a call.
//! - Grounded (`scaffold-grounded`), its picks are constrained to the knowledge base's
//!   titles ([`ladder_core::direct::ground`]), as the vote's are.
//! - A pipeline has exactly one enabled synthesis, and it cannot be switched off
//!   ([`crate::Pipeline::plan`]).

use async_trait::async_trait;
use ladder_core::direct::{ground, read_picks};
use ladder_core::{RunContext, RunError};
use serde::{Deserialize, Serialize};

use super::{Detail, Component, Env, Read};
use crate::state::{Field, State, FINAL_REQUEST_READS};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthesisSettings {
    pub max_tokens: u32,
}

#[async_trait]
impl Component for SynthesisSettings {
    fn reads(&self) -> &[Read] {
        const READS: [Read; 6] = [
            FINAL_REQUEST_READS[0],
            FINAL_REQUEST_READS[1],
            FINAL_REQUEST_READS[2],
            FINAL_REQUEST_READS[3],
            FINAL_REQUEST_READS[4],
            Read::optional(Field::Answer, "no vote to pass through: it makes the call"),
        ];
        &READS
    }

    fn writes(&self) -> &[Field] {
        &[Field::Answer]
    }

    fn max_calls(&self) -> u32 {
        1
    }

    fn summary(&self) -> String {
        format!("{} tokens", self.max_tokens)
    }

    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        synthesis(self, env, ctx, state).await
    }
}

async fn synthesis(
    s: &SynthesisSettings,
    env: &Env<'_>,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    if state.answer.is_some() && state.drafts.is_empty() {
        return Ok("the vote's majority answer, passed through".into());
    }
    let mut request = state.final_request(env.task, s.max_tokens);
    if env.grounded {
        ground(&mut request, ctx.names());
    }
    ctx.next_step()?;
    let response = ctx.call_model("answer", request).await?;
    let answer = read_picks(&response.text);
    let n = answer.picks.len();
    let detail = format!("{n} pick{}", if n == 1 { "" } else { "s" });
    state.answer = Some(answer);
    Ok(detail)
}
