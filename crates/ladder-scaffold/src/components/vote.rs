//! Self-consistency: independent samples of the final call; the majority's first pick
//! wins.
//!
//! Invariants:
//! - Reads what the final call shows (`slots`, `hits`, `candidates`, `context`, `drafts`: each
//!   optional); writes `answer` (the first sample that cast the winning vote).
//! - One batch of `samples` calls (each its own seed); a `Vote` event per sample that
//!   answered, in the samples' order. Most votes win; a tie goes to the choice seen first.
//! - Every sample failing is an error (the run's contract), not an empty answer.

use async_trait::async_trait;
use ladder_core::direct::{ground, read_picks};
use ladder_core::trace::EventKind;
use ladder_core::{Answer, Call, RunContext, RunError};
use serde::{Deserialize, Serialize};

use super::{Detail, first_max, Component, Env, Read};
use crate::state::{Field, State, FINAL_REQUEST_READS};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteSettings {
    /// Independent samples (each with its own seed); the majority's pick wins.
    pub samples: u32,
    pub max_tokens: u32,
}

#[async_trait]
impl Component for VoteSettings {
    fn reads(&self) -> &[Read] {
        &FINAL_REQUEST_READS
    }

    fn writes(&self) -> &[Field] {
        &[Field::Answer]
    }

    fn max_calls(&self) -> u32 {
        self.samples
    }

    fn summary(&self) -> String {
        format!("{} samples, {} tokens each", self.samples, self.max_tokens)
    }

    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        vote(self, env, ctx, state).await
    }
}

async fn vote(
    s: &VoteSettings,
    env: &Env<'_>,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    let mut request = state.final_request(env.task, s.max_tokens);
    if env.grounded {
        ground(&mut request, ctx.names());
    }
    let calls: Vec<Call> = (1..=s.samples)
        .map(|i| Call::new("vote", request.clone()).by(format!("sample-{i}")))
        .collect();
    ctx.next_step()?;
    let results = ctx.call_models(calls).await?;
    let answers: Vec<Option<Answer>> = results
        .into_iter()
        .map(|r| r.ok().map(|resp| read_picks(&resp.text)))
        .collect();
    let key = |a: &Answer| -> String {
        a.picks
            .first()
            .map(|p| p.trim().to_lowercase())
            .unwrap_or_else(|| "(no pick)".into())
    };
    let mut counts: Vec<(String, usize, usize)> = Vec::new(); // (choice, votes, first sample)
    for (i, a) in answers.iter().enumerate() {
        let Some(a) = a else { continue };
        let k = key(a);
        ctx.record(EventKind::Vote {
            agent: format!("sample-{}", i + 1),
            round: 0,
            choice: k.clone(),
        })?;
        match counts.iter_mut().find(|(c, _, _)| *c == k) {
            Some(c) => c.1 += 1,
            None => counts.push((k, 1, i)),
        }
    }
    // Most votes; ties go to the choice seen first.
    let winner = first_max(&counts, |c| c.1)
        .ok_or_else(|| RunError::Contract("every vote sample failed".into()))?;
    state.answer = answers[winner.2].clone();
    Ok(format!(
        "{} of {} samples chose {}",
        winner.1,
        answers.len(),
        winner.0
    ))
}
