//! The slot-filling form: what the chosen intents need to know, read from the opening
//! where it says so, and asked of the user otherwise.
//!
//! Invariants:
//! - Needs `intents` (a classifier upstream); writes `slots`. The `unknown` route and an
//!   intent without slots fill nothing and ask nothing.
//! - Never asks a slot the opening already gives, and asks one slot per turn, in the
//!   form's order (each intent's slots, a slot shared by two intents once).
//! - The embedding extractor makes no model call; in order of trust it takes an option
//!   named, the team's patterns, a number in the question's unit, then similarity. The
//!   model extractor makes one call under a schema of the slots.
//! - A reply of "no preference" fills the slot with `no preference`; a reply naming one
//!   of the slot's options fills it with that option.

use async_trait::async_trait;
use ladder_core::trace::{EventKind, SlotSource};
use ladder_core::{
    cosine, ChatRequest, Constraint, FormSlot, Message, RunContext, RunError,
};
use serde::{Deserialize, Serialize};

use super::{Detail, first_max, Component, Env, Read};
use super::candidates::catalogue_search;
use crate::catalogue::{fitting, rank};
use crate::prompts;
use crate::state::{Field, State};
use crate::text::{clauses, named_option, negated, no_preference, number_with_unit, question_unit};
use crate::vectors::form_vectors;

/// How the form reads what the opening already says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractorMethod {
    /// A slot is stated when the opening names one of its options, or when a clause of the
    /// opening is similar enough to the slot's question. Deterministic.
    Embedding,
    /// The model fills a JSON object of the slots under a schema.
    Llm,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSettings {
    pub extractor: ExtractorMethod,
    /// Similarity of a clause to a slot's question above which the slot counts as stated
    /// (when that slot is the clause's most similar one).
    #[serde(default = "defaults::slot_threshold")]
    pub threshold: f32,
    /// Regular expressions that read a slot's value (a team's entity extractor): the
    /// first capture group, or the whole match.
    #[serde(default)]
    pub patterns: Vec<SlotPattern>,
    /// Stop asking once at most this many of the catalogue's documents fit every answer
    /// so far (the pipeline's `[catalogue]`): more answers could only narrow a list the
    /// answer shows anyway. Off when absent, or when the pipeline has no catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_at: Option<usize>,
}

/// A regular expression that reads one slot's value from the user's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotPattern {
    pub slot: String,
    pub regex: String,
}

mod defaults {
    pub fn slot_threshold() -> f32 {
        0.6
    }
}

/// A slot's value when the user does not mind.
const ANY: &str = "no preference";

#[async_trait]
impl Component for FormSettings {
    fn reads(&self) -> &[Read] {
        const READS: &[Read] = &[Read::needs(Field::Intents)];
        READS
    }

    fn writes(&self) -> &[Field] {
        &[Field::Slots]
    }

    fn max_calls(&self) -> u32 {
        u32::from(self.extractor == ExtractorMethod::Llm)
    }

    fn summary(&self) -> String {
        let stop = match self.stop_at {
            Some(n) => format!(", stops at {n} fitting candidates"),
            None => String::new(),
        };
        format!("extractor {:?}, threshold {}{stop}", self.extractor, self.threshold).to_lowercase()
    }

    fn check(&self) -> Result<(), String> {
        for p in &self.patterns {
            if let Err(e) = regex::Regex::new(&p.regex) {
                return Err(format!(
                    "the pattern for slot `{}` is not a valid regular expression: {e}",
                    p.slot
                ));
            }
        }
        Ok(())
    }

    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        form(self, env, ctx, state).await
    }
}

/// The option a text commits to: one clause names exactly one option and does not negate
/// it, and no clause commits to another.
fn option_in(text: &str, options: &[String]) -> Option<String> {
    if options.is_empty() {
        return None;
    }
    let mut parts = clauses(text);
    if parts.is_empty() {
        parts.push(text.to_string());
    }
    let mut found: Option<&String> = None;
    for c in &parts {
        if let Some(o) = named_option(c, options) {
            if negated(c) {
                continue;
            }
            match found {
                Some(f) if f != o => return None,
                _ => found = Some(o),
            }
        }
    }
    found.cloned()
}

async fn form(
    s: &FormSettings,
    env: &Env<'_>,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    let task = env.task;
    let cache = env.vectors;
    let intents = state.intents.clone().unwrap_or_default();
    let Some(spec) = ctx.form().cloned() else {
        return Ok("no form spec for this task".into());
    };
    if intents.is_empty() {
        return Ok("the unknown route: no form".into());
    }
    let mut slots: Vec<FormSlot> = Vec::new();
    for name in &intents {
        for slot in spec
            .intent(name)
            .map(|i| i.slots.clone())
            .unwrap_or_default()
        {
            if !slots.iter().any(|x| x.name == slot.name) {
                slots.push(slot);
            }
        }
    }
    if slots.is_empty() {
        return Ok(format!("{} has no slots to fill", intents.join(" and ")));
    }
    let patterns: Vec<(String, regex::Regex)> = s
        .patterns
        .iter()
        .filter_map(|p| {
            regex::Regex::new(&p.regex)
                .ok()
                .map(|r| (p.slot.clone(), r))
        })
        .collect();
    // What the opening already says.
    let mut from_opening: Vec<(String, String)> = Vec::new();
    match s.extractor {
        ExtractorMethod::Embedding => {
            let vectors = form_vectors(ctx, &spec, cache).await?;
            let mut parts = clauses(&task.opening);
            if parts.is_empty() {
                parts.push(task.opening.clone());
            }
            let embedded = ctx.embed(&parts).await?;
            // Each clause's most similar slot question, when similar enough.
            let mut by_similarity: Vec<(String, String)> = Vec::new();
            for (p, v) in parts.iter().zip(&embedded) {
                let best = first_max(
                    slots.iter().filter_map(|slot| {
                        vectors
                            .questions
                            .get(&slot.name)
                            .map(|q| (slot, cosine(q, v)))
                    }),
                    |x| x.1,
                );
                if let Some((slot, sim)) = best {
                    if sim >= s.threshold {
                        by_similarity.push((slot.name.clone(), p.clone()));
                    }
                }
            }
            for slot in &slots {
                // In order of trust: an option named (a gazetteer), the team's patterns,
                // a number in the unit the question asks for, then similarity.
                let value = option_in(&task.opening, &slot.options)
                    .or_else(|| {
                        patterns
                            .iter()
                            .filter(|(name, _)| *name == slot.name)
                            .find_map(|(_, re)| {
                                re.captures(&task.opening).and_then(|c| {
                                    c.get(1)
                                        .or_else(|| c.get(0))
                                        .map(|m| m.as_str().to_string())
                                })
                            })
                    })
                    .or_else(|| {
                        let unit = question_unit(&slot.question)?;
                        number_with_unit(&task.opening, &unit).map(|n| format!("{n} {unit}"))
                    })
                    .or_else(|| {
                        by_similarity
                            .iter()
                            .find(|(name, _)| *name == slot.name)
                            .map(|(_, clause)| clause.clone())
                    });
                if let Some(v) = value {
                    from_opening.push((slot.name.clone(), v));
                }
            }
        }
        ExtractorMethod::Llm => {
            let mut properties = serde_json::Map::new();
            let mut listing = String::new();
            for slot in &slots {
                let schema = if slot.options.is_empty() {
                    serde_json::json!({"type": "string", "maxLength": 60})
                } else {
                    let mut allowed = slot.options.clone();
                    allowed.push(String::new());
                    serde_json::json!({"type": "string", "enum": allowed})
                };
                properties.insert(slot.name.clone(), schema);
                listing.push_str(&format!("\n- {}: {}", slot.name, slot.question));
                if !slot.options.is_empty() {
                    listing.push_str(&format!(" (options: {})", slot.options.join(", ")));
                }
            }
            let names: Vec<&String> = slots.iter().map(|x| &x.name).collect();
            let schema = serde_json::json!({
                "type": "object",
                "properties": properties,
                "required": names,
                "additionalProperties": false
            });
            let mut request = ChatRequest::new(vec![
                Message::system(format!("{}\nThe form:{listing}", prompts::EXTRACT.trim())),
                Message::user(task.opening.clone()),
            ]);
            request.sampling.max_tokens = 40 * slots.len() as u32;
            request.constraint = Some(Constraint::JsonSchema(schema));
            ctx.next_step()?;
            let response = ctx.call_model("extract", request).await?;
            let values: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(response.text.trim()).unwrap_or_default();
            for slot in &slots {
                if let Some(v) = values.get(&slot.name).and_then(|v| v.as_str()) {
                    if !v.trim().is_empty() {
                        from_opening.push((slot.name.clone(), v.trim().to_string()));
                    }
                }
            }
        }
    }
    for (slot, value) in &from_opening {
        ctx.record(EventKind::SlotFilled {
            slot: slot.clone(),
            value: value.clone(),
            source: SlotSource::Opening,
        })?;
    }
    state.slots = from_opening;
    // Then the form's questions, one per turn, in order, for what is still missing;
    // with `stop_at`, until few enough of the catalogue's documents fit.
    let catalogue = match s.stop_at {
        Some(n) if !env.catalogue.is_empty() => {
            Some((n, catalogue_search(ctx, &task.opening, env.catalogue).await?))
        }
        _ => None,
    };
    let mut asked = 0;
    let mut stopped = String::new();
    for slot in &slots {
        if state.slots.iter().any(|(n, _)| *n == slot.name) {
            continue;
        }
        if let Some((n, hits)) = &catalogue {
            let fit = fitting(&rank(hits, &state.slots, env.catalogue));
            if fit <= *n {
                stopped = format!("; stopped: {fit} candidates fit every answer");
                break;
            }
        }
        ctx.next_step()?;
        let reply = ctx.ask_user(&slot.question).await?;
        asked += 1;
        let value = if no_preference(&reply) {
            ANY.to_string()
        } else {
            option_in(&reply, &slot.options).unwrap_or_else(|| reply.trim().to_string())
        };
        ctx.record(EventKind::SlotFilled {
            slot: slot.name.clone(),
            value: value.clone(),
            source: SlotSource::Reply,
        })?;
        state.slots.push((slot.name.clone(), value));
    }
    Ok(format!(
        "{} of {} slots from the opening, {asked} asked{stopped}",
        state.slots.len() - asked,
        slots.len()
    ))
}
