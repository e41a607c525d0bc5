//! Context compression: the retrieved documents' text cut down to a token budget.
//!
//! Invariants:
//! - Needs `hits` (retrieval upstream), and `query` for the `sentences` method; writes
//!   `context`, always with a `ContextCompression` event.
//! - Text already within the budget is kept whole. Otherwise `drop_chunks` keeps the
//!   highest-scoring chunks that fit (in their original order), and `sentences` keeps the
//!   sentences most similar to the query that fit, in their original order.
//! - Tokens are the model's own (the chat template's overhead removed); makes no model
//!   call.

use async_trait::async_trait;
use ladder_core::trace::EventKind;
use ladder_core::{cosine, Hit, Message, RunContext, RunError};
use serde::{Deserialize, Serialize};

use super::{Detail, Component, Env, Read};
use crate::state::{hits_text, label, Field, State};
use crate::text::sentences;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompressMethod {
    /// Drop the lowest-scoring chunks until the rest fit.
    DropChunks,
    /// Keep the sentences most similar to the query (in their original order).
    Sentences,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressSettings {
    pub method: CompressMethod,
    /// The context's size after compression, in the model's tokens.
    pub budget_tokens: u64,
}

#[async_trait]
impl Component for CompressSettings {
    fn reads(&self) -> &[Read] {
        const HITS: &[Read] = &[Read::needs(Field::Hits)];
        const HITS_AND_QUERY: &[Read] = &[Read::needs(Field::Hits), Read::needs(Field::Query)];
        match self.method {
            CompressMethod::DropChunks => HITS,
            CompressMethod::Sentences => HITS_AND_QUERY,
        }
    }

    fn writes(&self) -> &[Field] {
        &[Field::Context]
    }

    fn max_calls(&self) -> u32 {
        0
    }

    fn summary(&self) -> String {
        format!("{:?} to {} tokens", self.method, self.budget_tokens).to_lowercase()
    }

    async fn run(&self, _env: &Env<'_>, ctx: &mut RunContext, state: &mut State) -> Detail {
        compress(self, ctx, state).await
    }
}

/// A text's tokens in the model's tokenizer, without the chat template's `overhead` (the
/// tokens of an empty message, counted once per compression).
fn tokens_of(ctx: &RunContext, overhead: u64, text: &str) -> Result<u64, RunError> {
    let with = ctx.count_tokens(&[Message::user(text.to_string())])?;
    Ok(with.saturating_sub(overhead))
}

async fn compress(
    s: &CompressSettings,
    ctx: &mut RunContext,
    state: &mut State,
) -> Result<String, RunError> {
    let overhead = ctx.count_tokens(&[Message::user(String::new())])?;
    let full = hits_text(&state.hits);
    let before = tokens_of(ctx, overhead, &full)?;
    let text = if before <= s.budget_tokens {
        full
    } else {
        match s.method {
            CompressMethod::DropChunks => {
                let mut order: Vec<usize> = (0..state.hits.len()).collect();
                order.sort_by(|&a, &b| state.hits[b].score.total_cmp(&state.hits[a].score));
                let mut keep: Vec<usize> = Vec::new();
                for i in order {
                    let mut trial = keep.clone();
                    trial.push(i);
                    trial.sort_unstable();
                    let picked: Vec<Hit> = trial.iter().map(|&j| state.hits[j].clone()).collect();
                    if tokens_of(ctx, overhead, &hits_text(&picked))? <= s.budget_tokens {
                        keep = trial;
                    }
                }
                let picked: Vec<Hit> = keep.iter().map(|&j| state.hits[j].clone()).collect();
                hits_text(&picked)
            }
            CompressMethod::Sentences => {
                let mut items: Vec<(usize, String)> = Vec::new();
                for (i, h) in state.hits.iter().enumerate() {
                    for sentence in sentences(&h.text) {
                        items.push((i, sentence));
                    }
                }
                let mut texts = vec![state.query.clone()];
                texts.extend(items.iter().map(|(_, t)| t.clone()));
                let vectors = ctx.embed(&texts).await?;
                let mut rank: Vec<usize> = (0..items.len()).collect();
                rank.sort_by(|&a, &b| {
                    cosine(&vectors[0], &vectors[b + 1])
                        .total_cmp(&cosine(&vectors[0], &vectors[a + 1]))
                });
                let mut keep = vec![false; items.len()];
                let mut used = 0u64;
                for i in rank {
                    let cost = tokens_of(ctx, overhead, &items[i].1)? + 1;
                    if used + cost <= s.budget_tokens {
                        keep[i] = true;
                        used += cost;
                    }
                }
                let mut out: Vec<String> = Vec::new();
                for (hi, h) in state.hits.iter().enumerate() {
                    let kept: Vec<&str> = items
                        .iter()
                        .zip(&keep)
                        .filter(|((i, _), k)| *i == hi && **k)
                        .map(|((_, t), _)| t.as_str())
                        .collect();
                    if !kept.is_empty() {
                        out.push(format!("[{}] {}", label(h), kept.join(" ")));
                    }
                }
                out.join("\n")
            }
        }
    };
    let after = tokens_of(ctx, overhead, &text)?;
    ctx.record(EventKind::ContextCompression {
        tokens_before: before,
        tokens_after: after,
        forced: false,
    })?;
    state.context = Some(text);
    Ok(format!("{before} -> {after} tokens"))
}
