//! Candidates: the catalogue's documents ranked by the user's wishes, for the prompts
//! downstream (the synthesis, the debate and the vote), each with its attributes and the
//! wishes it fits and breaks.
//!
//! Invariants:
//! - Reads `slots` and `query` when upstream components wrote them (without a query the
//!   opening is the search); writes `candidates`.
//! - Without a catalogue (the pipeline's `[catalogue]` has no rules) it does nothing: no
//!   search, no candidates, so a suite without a typed catalogue runs as before.
//! - One search of `pool` chunks (the catalogue's), one candidate per document, ranked by
//!   [`crate::catalogue::rank`]; the best `show` are kept. Makes no model call.

use async_trait::async_trait;
use ladder_core::{Hit, RunContext, RunError};
use serde::{Deserialize, Serialize};

use super::{Component, Detail, Env, Read};
use crate::catalogue::{fitting, rank, Catalogue};
use crate::state::{Field, State};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidatesSettings {
    /// How many of the best candidates the prompts show.
    pub show: usize,
}

#[async_trait]
impl Component for CandidatesSettings {
    fn reads(&self) -> &[Read] {
        const READS: &[Read] = &[
            Read::optional(Field::Slots, "ranked by the search alone"),
            Read::optional(Field::Query, "the opening is the search"),
        ];
        READS
    }

    fn writes(&self) -> &[Field] {
        &[Field::Candidates]
    }

    fn max_calls(&self) -> u32 {
        0
    }

    fn summary(&self) -> String {
        format!("the best {} of the catalogue", self.show)
    }

    fn check(&self) -> Result<(), String> {
        if self.show == 0 {
            return Err("`show` must be at least 1".into());
        }
        Ok(())
    }

    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        if env.catalogue.is_empty() {
            return Ok("no catalogue rules in the pipeline: nothing to rank".into());
        }
        let query = if state.query.is_empty() {
            env.task.opening.clone()
        } else {
            state.query.clone()
        };
        let hits = catalogue_search(ctx, &query, env.catalogue).await?;
        let mut ranked = rank(&hits, &state.slots, env.catalogue);
        let fit = fitting(&ranked);
        let of = ranked.len();
        ranked.truncate(self.show);
        let detail = format!(
            "{fit} of {of} documents fit every wish; shown: {}",
            ranked
                .iter()
                .map(|c| c.title.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        state.candidates = ranked;
        Ok(detail)
    }
}

/// The catalogue's search: `pool` chunks for `query`, enough to see every document.
pub(crate) async fn catalogue_search(
    ctx: &mut RunContext,
    query: &str,
    catalogue: &Catalogue,
) -> Result<Vec<Hit>, RunError> {
    ctx.retrieve(query, catalogue.pool).await
}
