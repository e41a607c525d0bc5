//! llama.cpp contexts: creating one, decoding a prompt into it in batches, sizing it for a
//! call, and [`Cached`], a run's context kept in its [`Session`] between calls, with
//! [`SESSION_SEQUENCES`] sequences in one unified KV cache (a run's sequential calls use
//! one, a batch of calls one each; `reuse.rs` plans which).
//!
//! Invariants:
//! - Contexts are created one at a time (`native::CONTEXT_LOCK`), with the configured
//!   thread count for generation and for prompt batches.
//! - A prompt is decoded in batches of [`BATCH`] tokens; only its last token gets logits.
//! - A call's context holds its prompt plus `max_tokens` plus one, rounded up to 256, and
//!   never more than the model's limit ([`context_size`] refuses an overflow).
//! - [`Cached`] owns the model (an `Arc<Inner>`) its context borrows, and drops the context
//!   first.
//!
//! [`Session`]: ladder_core::Session

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ladder_core::ModelError;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use super::reuse::Plan;
use super::speculative::DraftCache;
use super::{Inner, BATCH};
use crate::native;

/// Create a llama.cpp context for `model` with room for `sequences` parallel sequences
/// (more than one: one unified KV cache, so a cell can belong to several of them).
pub(crate) fn new_context(
    model: &LlamaModel,
    n_ctx: u32,
    threads: i32,
    sequences: u32,
) -> Result<LlamaContext<'_>, ModelError> {
    let mut params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(BATCH as u32)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    if sequences > 1 {
        params = params.with_n_seq_max(sequences).with_kv_unified(true);
    }
    let _guard = native::CONTEXT_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    model
        .new_context(native::backend(), params)
        .map_err(|e| ModelError::Generation(format!("cannot create a llama.cpp context: {e}")))
}

/// Decode `tokens[from..]` at positions `from..` into sequence `seq`, in batches; logits
/// only for the last token. Returns that token's index in the last batch (what sampling
/// reads logits at), or `None` when `stop` was set before the end.
pub(crate) fn decode_prompt(
    ctx: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    from: usize,
    seq: i32,
    stop: &AtomicBool,
) -> Result<Option<i32>, ModelError> {
    let mut batch = LlamaBatch::new(BATCH, 1);
    let mut last = 0;
    for (c, chunk) in tokens[from..].chunks(BATCH).enumerate() {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        batch.clear();
        for (i, &t) in chunk.iter().enumerate() {
            let pos = from + c * BATCH + i;
            batch
                .add(t, pos as i32, &[seq], pos + 1 == tokens.len())
                .map_err(|e| ModelError::Generation(e.to_string()))?;
            last = i as i32;
        }
        ctx.decode(&mut batch)
            .map_err(|e| ModelError::Generation(format!("prompt decode failed: {e}")))?;
    }
    Ok(Some(last))
}

/// Context size for a call: what it needs, rounded up to 256, within the limit.
pub(crate) fn context_size(
    prompt_tokens: usize,
    max_tokens: u32,
    limit: u32,
) -> Result<u32, ModelError> {
    let need = prompt_tokens as u64 + u64::from(max_tokens) + 1;
    if need > u64::from(limit) {
        return Err(ModelError::ContextOverflow {
            prompt_tokens: prompt_tokens as u64,
            max_tokens: u64::from(max_tokens),
            context: u64::from(limit),
        });
    }
    Ok((need.div_ceil(256) * 256).min(u64::from(limit)) as u32)
}

/// Sequences of a session's context: enough for the batches strategies make (a debate's
/// agents, a vote's samples) beside the run's sequential calls.
pub(super) const SESSION_SEQUENCES: usize = 8;

/// A run's llama.cpp context and the tokens each of its sequences holds, kept in the run's
/// [`Session`] between calls.
pub(super) struct Cached {
    // Declared before `_model`: fields drop in order, so the context goes first, while
    // the model it borrows is still alive.
    pub(super) ctx: LlamaContext<'static>,
    /// The draft model's context, when the model speculates (made on first use).
    pub(super) draft: Option<DraftCache>,
    /// The tokens each sequence's cells hold, by sequence id ([`SESSION_SEQUENCES`]).
    pub(super) seqs: Vec<Vec<LlamaToken>>,
    pub(super) n_ctx: u32,
    _model: Arc<Inner>,
}

// SAFETY: a llama.cpp context may be used from any thread, one thread at a time; the
// session's mutex guarantees the latter.
unsafe impl Send for Cached {}

impl Cached {
    pub(super) fn new(inner: Arc<Inner>, n_ctx: u32) -> Result<Cached, ModelError> {
        let ctx = new_context(&inner.model, n_ctx, inner.threads, SESSION_SEQUENCES as u32)?;
        // SAFETY: the context borrows `inner.model`, which lives in the `Arc` this struct
        // holds (so it outlives the context, which is dropped first); the `Arc`'s contents
        // never move.
        let ctx: LlamaContext<'static> = unsafe { std::mem::transmute(ctx) };
        Ok(Cached {
            ctx,
            draft: None,
            seqs: vec![Vec::new(); SESSION_SEQUENCES],
            n_ctx,
            _model: inner,
        })
    }

    /// Whether this cache was made by `inner`: its contexts borrow that model's weights
    /// (and its draft's), so a session used with another model starts over.
    pub(super) fn belongs_to(&self, inner: &Arc<Inner>) -> bool {
        Arc::ptr_eq(&self._model, inner)
    }

    /// The session's cache in `slot`, made anew (with `n_ctx` cells) when there is none,
    /// when it holds fewer than `need` cells, or when another model made it.
    pub(super) fn in_slot<'a>(
        slot: &'a mut Option<Cached>,
        inner: &Arc<Inner>,
        need: u32,
        n_ctx: u32,
    ) -> Result<&'a mut Cached, ModelError> {
        if slot
            .as_ref()
            .is_some_and(|c| c.n_ctx < need || !c.belongs_to(inner))
        {
            *slot = None; // drop the old context before making the new one
        }
        if slot.is_none() {
            *slot = Some(Cached::new(Arc::clone(inner), n_ctx)?);
        }
        Ok(slot.as_mut().expect("filled above"))
    }

    /// Empty one sequence: its cells and the tokens recorded for it (a full removal, which
    /// llama.cpp always grants).
    pub(super) fn empty(&mut self, seq: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
        self.seqs[seq].clear();
    }

    /// Forget everything the cache holds (after a failure its contents are unknown).
    pub(super) fn forget(&mut self) {
        self.ctx.clear_kv_cache();
        self.seqs.iter_mut().for_each(Vec::clear);
        if let Some(draft) = &mut self.draft {
            draft.ctx.clear_kv_cache();
            draft.tokens.clear();
        }
    }

    /// Carry out a plan's cache operations: its copies in order, then each prompt's
    /// sequence cut to what it keeps (emptied when the plan decodes a shared prefix into
    /// it). False when llama.cpp refuses one: the cache is then forgotten.
    pub(super) fn prepare(&mut self, plan: &Plan) -> bool {
        let done = self.try_prepare(plan);
        if !done {
            self.forget();
        }
        done
    }

    fn try_prepare(&mut self, plan: &Plan) -> bool {
        for &(from, to, len) in &plan.copies {
            let emptied = self.ctx.clear_kv_cache_seq(Some(to as u32), None, None);
            let copied =
                self.ctx
                    .copy_kv_cache_seq(from as i32, to as i32, Some(0), Some(len as u32));
            if !matches!(emptied, Ok(true)) || copied.is_err() {
                return false;
            }
            self.seqs[to] = self.seqs[from][..len].to_vec();
        }
        for (r, &d) in plan.dests.iter().enumerate() {
            let keep = if plan.shared > 0 { 0 } else { plan.keeps[r] };
            if plan.copies.iter().any(|&(_, to, _)| to == d) {
                continue;
            }
            if !matches!(
                self.ctx
                    .clear_kv_cache_seq(Some(d as u32), Some(keep as u32), None),
                Ok(true)
            ) {
                return false;
            }
            self.seqs[d].truncate(keep);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_size_rounds_up_and_refuses_overflow() {
        assert_eq!(context_size(10, 100, 4096).unwrap(), 256);
        assert_eq!(context_size(300, 100, 4096).unwrap(), 512);
        let e = context_size(4000, 200, 4096).unwrap_err().to_string();
        assert!(e.contains("4000") && e.contains("4096"), "{e}");
    }
}
