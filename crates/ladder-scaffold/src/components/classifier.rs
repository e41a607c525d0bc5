//! The intent classifier: which of the form's intents a request asks for, or the
//! `unknown` route.
//!
//! Invariants:
//! - Reads nothing from the state; writes `intents` (empty for the `unknown` route, and
//!   always with an `IntentDecision` event).
//! - The embedding method makes no model call and is deterministic: each segment (the
//!   whole message, then each clause) proposes its best intent when it clears the
//!   threshold, and the strongest proposals win, up to `max_intents`.
//! - The model method makes one call, under a grammar of the known labels and `unknown`;
//!   a label the form does not know is dropped.

use async_trait::async_trait;
use ladder_core::trace::{EventKind, IntentScore};
use ladder_core::{cosine, ChatRequest, Constraint, Message, RunContext, RunError, TaskView};
use serde::{Deserialize, Serialize};

use super::{Detail, first_max, Component, Env, Read};
use crate::prompts;
use crate::state::{Field, State};
use crate::text::clauses;
use crate::vectors::{form_vectors, Cache, FormVectors};

/// How the classifier decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierMethod {
    /// Nearest labelled examples by embedding similarity.
    Embedding,
    /// The model picks a label under a grammar (known labels and `unknown`).
    Llm,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSettings {
    pub method: ClassifierMethod,
    /// Below this score (mean similarity to an intent's nearest examples) a request goes
    /// to the `unknown` route.
    #[serde(default = "defaults::threshold")]
    pub threshold: f32,
    /// How many nearest examples of an intent its score averages.
    #[serde(default = "defaults::neighbours")]
    pub neighbours: usize,
    /// At most this many intents per request (a request may ask two things).
    #[serde(default = "defaults::max_intents")]
    pub max_intents: usize,
}

mod defaults {
    pub fn threshold() -> f32 {
        0.5
    }
    pub fn neighbours() -> usize {
        2
    }
    pub fn max_intents() -> usize {
        2
    }
}

#[async_trait]
impl Component for ClassifierSettings {
    fn reads(&self) -> &[Read] {
        &[]
    }

    fn writes(&self) -> &[Field] {
        &[Field::Intents]
    }

    fn max_calls(&self) -> u32 {
        u32::from(self.method == ClassifierMethod::Llm)
    }

    fn summary(&self) -> String {
        format!(
            "{:?}, threshold {}, {} neighbours, up to {} intents",
            self.method, self.threshold, self.neighbours, self.max_intents
        )
        .to_lowercase()
    }

    async fn run(&self, env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        classify(self, env.task, ctx, env.vectors, state).await
    }
}

/// Each intent's score for one vector: the mean similarity of its `neighbours` nearest
/// examples. In the form's order.
fn intent_scores(v: &FormVectors, x: &[f32], neighbours: usize) -> Vec<(String, f32)> {
    let mut by_intent: Vec<(String, Vec<f32>)> = Vec::new();
    for (intent, e) in &v.examples {
        let s = cosine(x, e);
        match by_intent.iter_mut().find(|(i, _)| i == intent) {
            Some((_, sims)) => sims.push(s),
            None => by_intent.push((intent.clone(), vec![s])),
        }
    }
    by_intent
        .into_iter()
        .map(|(intent, mut sims)| {
            sims.sort_by(|a, b| b.total_cmp(a));
            let n = neighbours.clamp(1, sims.len());
            (intent, sims[..n].iter().sum::<f32>() / n as f32)
        })
        .collect()
}

fn best(scores: &[(String, f32)]) -> Option<&(String, f32)> {
    first_max(scores, |s| s.1)
}

async fn classify(
    s: &ClassifierSettings,
    task: &TaskView,
    ctx: &mut RunContext,
    cache: &Cache,
    state: &mut State,
) -> Result<String, RunError> {
    let Some(form) = ctx.form().cloned() else {
        ctx.record(EventKind::IntentDecision {
            scores: vec![],
            chosen: vec![],
        })?;
        state.intents = Some(vec![]);
        return Ok("no form spec for this task: the unknown route".into());
    };
    let (scores, chosen, how) = match s.method {
        ClassifierMethod::Embedding => {
            let vectors = form_vectors(ctx, &form, cache).await?;
            let mut segments = vec![task.opening.clone()];
            let parts = clauses(&task.opening);
            if parts.len() > 1 {
                segments.extend(parts);
            }
            let embedded = ctx.embed(&segments).await?;
            let whole = intent_scores(&vectors, &embedded[0], s.neighbours);
            // Each segment (the whole message, then each clause) proposes its best intent
            // when it clears the threshold; a request that asks two things ("I want to
            // return my lamp, and I need an invoice") gets a label from each clause. The
            // strongest proposals win, up to `max_intents`.
            let mut proposals: Vec<(String, f32, String)> = Vec::new();
            for (i, (seg, x)) in segments.iter().zip(&embedded).enumerate() {
                let scores = if i == 0 {
                    whole.clone()
                } else {
                    intent_scores(&vectors, x, s.neighbours)
                };
                if let Some((top, score)) = best(&scores) {
                    if *score >= s.threshold {
                        let from = if i == 0 {
                            "the whole message".to_string()
                        } else {
                            format!("the clause {seg:?}")
                        };
                        proposals.push((top.clone(), *score, from));
                    }
                }
            }
            proposals.sort_by(|a, b| b.1.total_cmp(&a.1));
            let mut chosen: Vec<String> = Vec::new();
            let mut how = Vec::new();
            for (intent, score, from) in proposals {
                if chosen.len() < s.max_intents.max(1) && !chosen.contains(&intent) {
                    how.push(format!("{intent} ({score:.2}) from {from}"));
                    chosen.push(intent);
                }
            }
            (whole, chosen, how.join("; "))
        }
        ClassifierMethod::Llm => {
            let mut labels: Vec<String> = form.intents.iter().map(|i| i.name.clone()).collect();
            labels.push("unknown".into());
            let schema = serde_json::json!({
                "type": "object",
                "properties": {
                    "intents": {
                        "type": "array",
                        "items": {"type": "string", "enum": labels},
                        "minItems": 1,
                        "maxItems": s.max_intents.max(1)
                    }
                },
                "required": ["intents"],
                "additionalProperties": false
            });
            let mut system = format!("{}\n\n{}", task.brief, prompts::CLASSIFY.trim());
            for i in &form.intents {
                system.push_str(&format!("\n- {}: {}", i.name, i.description));
            }
            system.push_str("\n- unknown: anything else.");
            let mut request = ChatRequest::new(vec![
                Message::system(system.trim().to_string()),
                Message::user(task.opening.clone()),
            ]);
            request.sampling.max_tokens = 40;
            request.constraint = Some(Constraint::JsonSchema(schema));
            ctx.next_step()?;
            let response = ctx.call_model("classify", request).await?;
            #[derive(serde::Deserialize)]
            struct Reply {
                intents: Vec<String>,
            }
            let picked = serde_json::from_str::<Reply>(response.text.trim())
                .map(|r| r.intents)
                .unwrap_or_default();
            let mut chosen: Vec<String> = Vec::new();
            for p in picked {
                if p != "unknown" && form.intent(&p).is_some() && !chosen.contains(&p) {
                    chosen.push(p);
                }
            }
            let scores = form
                .intents
                .iter()
                .map(|i| {
                    (
                        i.name.clone(),
                        f32::from(u8::from(chosen.contains(&i.name))),
                    )
                })
                .collect();
            (scores, chosen, "the model's choice".to_string())
        }
    };
    ctx.record(EventKind::IntentDecision {
        scores: scores
            .iter()
            .map(|(intent, confidence)| IntentScore {
                intent: intent.clone(),
                confidence: *confidence,
            })
            .collect(),
        chosen: chosen.clone(),
    })?;
    let detail = if chosen.is_empty() {
        "below the threshold: the unknown route (no form)".to_string()
    } else {
        format!("chose {how}")
    };
    state.intents = Some(chosen);
    Ok(detail)
}
