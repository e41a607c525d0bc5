//! Speculative decoding: a smaller model of the same tokenizer (the draft) proposes a few
//! tokens, the model decodes them in one batch, and keeps the longest run its own sampler
//! agrees with, plus its own next token. Generation is memory-bound (every decode step
//! reads all the weights), so checking several tokens costs about one step.
//!
//! Invariants:
//! - Only greedy calls (temperature 0) in a run's session speculate, and only when a draft
//!   model is configured (`--draft-model`); every other call decodes one token at a time.
//! - Every kept token is the model's own sampler's choice at its position (its grammar
//!   included: the sampler accepts each token it samples, as one token at a time does);
//!   a draft token it disagrees with is dropped with everything after it. The draft
//!   samples with a copy of the model's sampler in its present state (so its tokens obey
//!   the call's grammar too), then the copy is dropped. The logits come from a batch of
//!   several tokens instead of one, so a near-tie can flip against one token at a time
//!   (llama.cpp's batched kernels are not batch-invariant): measured, not assumed, in
//!   `ladder bench-model` and `tests/local.rs`.
//! - After the call, the session sequence holds the prompt and exactly the generated tokens
//!   that were decoded (never a rejected draft); the draft's context may also hold rejected
//!   drafts after them, cut back to the common prefix at its next use.
//! - Stop strings, `max_tokens`, streaming and the stop flag behave as one token at a time:
//!   tokens go through the same output one by one, and generation ends at the first that
//!   ends it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use ladder_core::{ChatRequest, ChatResponse, FinishReason, ModelError, TokenSink, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::context::{decode_prompt, new_context};
use super::stream::{Push, TextOut};
use super::Inner;
use crate::timing::ms_since;

/// The draft model and how far it drafts.
pub(super) struct Draft {
    pub(super) model: LlamaModel,
    pub(super) name: String,
    /// Tokens drafted per step.
    pub(super) tokens: usize,
    /// Draft tokens proposed and accepted so far (for `bench-model`'s acceptance rate).
    pub(super) proposed: AtomicU64,
    pub(super) accepted: AtomicU64,
}

/// A session's context of the draft model and the tokens its KV cache holds.
pub(super) struct DraftCache {
    pub(super) ctx: LlamaContext<'static>,
    pub(super) tokens: Vec<LlamaToken>,
    pub(super) n_ctx: u32,
}

// SAFETY: as `Cached`, which owns it: one thread at a time, under the session's mutex.
unsafe impl Send for DraftCache {}

impl DraftCache {
    /// A context of `draft`'s model. The caller keeps the model alive longer than the
    /// context (`Cached` holds the `Arc<Inner>` that owns it and drops this first).
    pub(super) fn new(draft: &Draft, n_ctx: u32, threads: i32) -> Result<DraftCache, ModelError> {
        let ctx = new_context(&draft.model, n_ctx, threads, 1)?;
        // SAFETY: see above; the model lives in an `Arc` whose contents never move.
        let ctx: LlamaContext<'static> = unsafe { std::mem::transmute(ctx) };
        Ok(DraftCache {
            ctx,
            tokens: Vec::new(),
            n_ctx,
        })
    }

    /// Up to `k` draft tokens after `sequence` (what the model's sequence holds and the
    /// token it sampled last), sampled by a copy of the model's own sampler in its present
    /// state (greedy, and its grammar where the call has one, so drafts obey it): the
    /// draft's cache is brought to `sequence` first, reusing the prefix it shares with it.
    fn propose(
        &mut self,
        vocab_model: &LlamaModel,
        sampler: &LlamaSampler,
        sequence: &[LlamaToken],
        k: usize,
        stop: &AtomicBool,
    ) -> Result<Vec<LlamaToken>, ModelError> {
        let keep = self
            .tokens
            .iter()
            .zip(sequence)
            .take_while(|(a, b)| a == b)
            .count()
            .min(sequence.len() - 1);
        if !matches!(
            self.ctx
                .clear_kv_cache_seq(Some(0), Some(keep as u32), None),
            Ok(true)
        ) {
            self.ctx.clear_kv_cache();
            self.tokens.clear();
            return self.propose_from(vocab_model, sampler, sequence, 0, k, stop);
        }
        self.propose_from(vocab_model, sampler, sequence, keep, k, stop)
    }

    fn propose_from(
        &mut self,
        vocab_model: &LlamaModel,
        sampler: &LlamaSampler,
        sequence: &[LlamaToken],
        keep: usize,
        k: usize,
        stop: &AtomicBool,
    ) -> Result<Vec<LlamaToken>, ModelError> {
        self.tokens.truncate(keep);
        let Some(mut at) = decode_prompt(&mut self.ctx, sequence, keep, 0, stop)? else {
            return Err(stopped());
        };
        self.tokens = sequence.to_vec();
        let vocab = vocab_model.vocab();
        let mut sampler = sampler.clone();
        let mut batch = LlamaBatch::new(1, 1);
        let mut out = Vec::with_capacity(k);
        for i in 0..k {
            let d = sampler.sample(&self.ctx, at);
            out.push(d);
            if vocab.is_eog(d) || i + 1 == k {
                break;
            }
            batch.clear();
            batch
                .add(d, (sequence.len() + i) as i32, &[0], true)
                .map_err(|e| ModelError::Generation(e.to_string()))?;
            self.ctx
                .decode(&mut batch)
                .map_err(|e| ModelError::Generation(format!("draft decode failed: {e}")))?;
            self.tokens.push(d);
            at = 0;
        }
        Ok(out)
    }
}

fn stopped() -> ModelError {
    ModelError::Generation("stopped: the call was abandoned".into())
}

/// What a token does to the output: go on, or end the generation (and how).
enum Took {
    More,
    End(FinishReason),
}

impl Inner {
    /// [`Inner::complete`] with drafts: decode `tokens[cached..]` into sequence `seq` of
    /// `ctx`, then generate, each step verifying the draft's tokens in one batch. Returns
    /// the response and the generated tokens the sequence holds afterwards.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn complete_speculative(
        &self,
        draft: &Draft,
        cache: &mut DraftCache,
        ctx: &mut LlamaContext<'_>,
        seq: i32,
        tokens: &[LlamaToken],
        cached: usize,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<(ChatResponse, Vec<LlamaToken>), ModelError> {
        let gen_err = |e: String| ModelError::Generation(e);
        let max_new = request.sampling.max_tokens as usize;
        let mut sampler = self.sampler(request)?;
        let Some(logits_at) = decode_prompt(ctx, tokens, cached, seq, stop)? else {
            return Err(stopped());
        };
        let prompt_ms = ms_since(started);
        let gen_started = Instant::now();
        let vocab = self.model.vocab();
        let mut out = TextOut::new(&request.stop, stream);
        let mut generated: Vec<LlamaToken> = Vec::new();
        // One token into the output, as one token at a time would take it.
        let mut take = |token: LlamaToken, generated: &mut Vec<LlamaToken>| {
            if vocab.is_eog(token) {
                return Ok(Took::End(FinishReason::Stop));
            }
            generated.push(token);
            match out.push(&vocab.token_to_piece(token, false, None)) {
                Push::More => {}
                Push::StopString => return Ok(Took::End(FinishReason::StopString)),
                Push::ReceiverGone => {
                    return Err(gen_err(
                        "stopped: the receiver of the token stream went away".into(),
                    ))
                }
            }
            Ok(if generated.len() >= max_new {
                Took::End(FinishReason::Length)
            } else {
                Took::More
            })
        };
        // Positions the sequence holds (the prompt, then decoded generated tokens).
        let mut n_past = tokens.len();
        let mut batch = LlamaBatch::new(draft.tokens + 1, 1);
        let mut finish = FinishReason::Length;
        // The model's next token: sampled, taken into the output, not yet decoded.
        let mut next = (max_new > 0).then(|| sampler.sample(ctx, logits_at));
        'steps: while let Some(token) = next.take() {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            if let Took::End(f) = take(token, &mut generated)? {
                finish = f;
                break;
            }
            // Draft what may follow: never more than the call may still generate.
            let mut sequence = tokens.to_vec();
            sequence.extend_from_slice(&generated);
            let k = draft.tokens.min(max_new - generated.len());
            let drafts = cache.propose(&draft.model, &sampler, &sequence, k, stop)?;
            batch.clear();
            batch
                .add(token, n_past as i32, &[seq], true)
                .map_err(|e| gen_err(e.to_string()))?;
            for (i, &d) in drafts.iter().enumerate() {
                batch
                    .add(d, (n_past + 1 + i) as i32, &[seq], true)
                    .map_err(|e| gen_err(e.to_string()))?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| gen_err(format!("decode failed: {e}")))?;
            let decoded_to = n_past + 1 + drafts.len();
            n_past += 1;
            draft
                .proposed
                .fetch_add(drafts.len() as u64, Ordering::Relaxed);
            // The model's own choice after each accepted token, in order.
            for (j, &d) in drafts.iter().enumerate() {
                let own = sampler.sample(ctx, j as i32);
                if own != d {
                    next = Some(own);
                    break;
                }
                draft.accepted.fetch_add(1, Ordering::Relaxed);
                if let Took::End(f) = take(own, &mut generated)? {
                    finish = f;
                    n_past = decoded_to;
                    break 'steps;
                }
                n_past += 1;
            }
            if next.is_none() {
                // Every draft accepted: the model's token after the last.
                next = Some(sampler.sample(ctx, drafts.len() as i32));
            }
            // Drop the rejected drafts' cells.
            if !matches!(
                ctx.clear_kv_cache_seq(Some(seq as u32), Some(n_past as u32), None),
                Ok(true)
            ) {
                return Err(gen_err("cannot drop rejected draft tokens".into()));
            }
        }
        // The sequence holds the prompt and the generated tokens decoded, nothing after.
        let held_to = n_past.min(tokens.len() + generated.len());
        if !matches!(
            ctx.clear_kv_cache_seq(Some(seq as u32), Some(held_to as u32), None),
            Ok(true)
        ) {
            return Err(gen_err("cannot drop rejected draft tokens".into()));
        }
        let held = generated[..held_to - tokens.len()].to_vec();
        let text = out.finish();
        Ok((
            ChatResponse {
                text,
                finish,
                usage: Usage {
                    prompt_tokens: tokens.len() as u64,
                    cached_tokens: cached as u64,
                    completion_tokens: generated.len() as u64,
                    estimated: false,
                },
                prompt_ms,
                generation_ms: ms_since(gen_started),
                total_ms: ms_since(started),
            },
            held,
        ))
    }
}
