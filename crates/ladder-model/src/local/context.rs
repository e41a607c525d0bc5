//! llama.cpp contexts: creating one, decoding a prompt into it in batches, sizing it for a
//! call, and [`Cached`], a run's context kept in its [`Session`] between calls.
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

/// Decode `tokens[from..]` at positions `from..`, in batches; logits only for the last
/// token. Returns that token's index in the last batch (what sampling reads logits at), or
/// `None` when `stop` was set before the end.
pub(crate) fn decode_prompt(
    ctx: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    from: usize,
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
                .add(t, pos as i32, &[0], pos + 1 == tokens.len())
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

/// A run's llama.cpp context and the tokens its KV cache holds, kept in the run's
/// [`Session`] between calls.
pub(super) struct Cached {
    // Declared before `_model`: fields drop in order, so the context goes first, while
    // the model it borrows is still alive.
    pub(super) ctx: LlamaContext<'static>,
    pub(super) tokens: Vec<LlamaToken>,
    pub(super) n_ctx: u32,
    _model: Arc<Inner>,
}

// SAFETY: a llama.cpp context may be used from any thread, one thread at a time; the
// session's mutex guarantees the latter.
unsafe impl Send for Cached {}

impl Cached {
    pub(super) fn new(inner: Arc<Inner>, n_ctx: u32) -> Result<Cached, ModelError> {
        let ctx = new_context(&inner.model, n_ctx, inner.threads, 1)?;
        // SAFETY: the context borrows `inner.model`, which lives in the `Arc` this struct
        // holds (so it outlives the context, which is dropped first); the `Arc`'s contents
        // never move.
        let ctx: LlamaContext<'static> = unsafe { std::mem::transmute(ctx) };
        Ok(Cached {
            ctx,
            tokens: Vec::new(),
            n_ctx,
            _model: inner,
        })
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
