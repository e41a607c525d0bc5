//! Retrieval: the knowledge base's best chunks for the opening and what the form added to
//! it, filtered by the form's answers where the team's catalogue has typed attributes.
//!
//! Invariants:
//! - Reads `slots` when a form upstream filled them (without a form: the opening alone is
//!   the query, and no filter applies); writes `query` and `hits`.
//! - A slot's value joins the query only when the opening does not already contain it and
//!   it is not "no preference".
//! - A filter applies only when its slot is filled: `equals` with a value that is one of
//!   the slot's options, `at_most`/`at_least` with a value that holds a number. When no
//!   document passes the filters, the search runs again without them.
//! - Makes no model call.

use async_trait::async_trait;
use ladder_core::{AttrValue, Filter, FormSlot, RunContext, RunError, TaskView};
use serde::{Deserialize, Serialize};

use super::{Detail, Component, Env, Read};
use crate::state::{Field, State};
use crate::text::{first_number, no_preference};

/// A slot value turned into a filter on a document attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotFilter {
    pub slot: String,
    pub attribute: String,
    pub rule: FilterRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterRule {
    /// The attribute equals the slot's value (only when the value is one of its options).
    Equals,
    /// The attribute is at most the number in the slot's value.
    AtMost,
    /// The attribute is at least the number in the slot's value.
    AtLeast,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrieveSettings {
    pub k: usize,
    #[serde(default)]
    pub filters: Vec<SlotFilter>,
}

#[async_trait]
impl Component for RetrieveSettings {
    fn reads(&self) -> &[Read] {
        const READS: &[Read] = &[Read::optional(
            Field::Slots,
            "the opening alone is the query, and no filter applies",
        )];
        READS
    }

    fn writes(&self) -> &[Field] {
        &[Field::Query, Field::Hits]
    }

    fn max_calls(&self) -> u32 {
        0
    }

    fn summary(&self) -> String {
        let filters: Vec<String> = self
            .filters
            .iter()
            .map(|f| format!("{} {:?} {}", f.attribute, f.rule, f.slot).to_lowercase())
            .collect();
        if filters.is_empty() {
            format!("k {}", self.k)
        } else {
            format!("k {}, filters: {}", self.k, filters.join("; "))
        }
    }

    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        retrieve(self, env.task, ctx, state).await
    }
}

async fn retrieve(
    s: &RetrieveSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    // The opening and what the form added to it (values it read from the opening are
    // already in it; "no preference" adds nothing to search for).
    let mut query = task.opening.clone();
    for (_, value) in &state.slots {
        if no_preference(value) || task.opening.contains(value.as_str()) {
            continue;
        }
        query.push(' ');
        query.push_str(value);
    }
    let all_slots: Vec<FormSlot> = ctx
        .form()
        .map(|f| f.intents.iter().flat_map(|i| i.slots.clone()).collect())
        .unwrap_or_default();
    let options = |slot: &str| -> Vec<String> {
        all_slots
            .iter()
            .filter(|x| x.name == slot)
            .flat_map(|x| x.options.clone())
            .collect()
    };
    let mut filter = Filter::default();
    for f in &s.filters {
        let Some((_, value)) = state.slots.iter().find(|(n, _)| *n == f.slot) else {
            continue;
        };
        filter = match f.rule {
            FilterRule::Equals if options(&f.slot).contains(value) => {
                filter.and_equals(&f.attribute, AttrValue::Text(value.clone()))
            }
            FilterRule::AtMost => match first_number(value) {
                Some(n) => filter.and_range(&f.attribute, None, Some(n)),
                None => filter,
            },
            FilterRule::AtLeast => match first_number(value) {
                Some(n) => filter.and_range(&f.attribute, Some(n), None),
                None => filter,
            },
            FilterRule::Equals => filter,
        };
    }
    let filtered = !filter.is_empty();
    let mut hits = ctx
        .retrieve_filtered(&query, s.k, filtered.then_some(&filter))
        .await?;
    let mut detail = format!(
        "{} hits{}",
        hits.len(),
        if filtered {
            format!(" with {} filter conditions", filter.all.len())
        } else {
            String::new()
        }
    );
    if filtered && hits.is_empty() {
        hits = ctx.retrieve(&query, s.k).await?;
        detail = format!(
            "no document passed the filter; {} hits without it",
            hits.len()
        );
    }
    state.query = query;
    state.hits = hits;
    Ok(detail)
}
