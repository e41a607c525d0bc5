//! Prefix reuse: a run's session keeps a context between calls, and a model-wide store
//! shares the KV cells of system prefixes across runs.
//!
//! Invariants:
//! - A call in a session evaluates only the prompt tokens after the longest common prefix
//!   with what its cache holds, and always at least one (its logits start sampling).
//! - A prompt with a system prefix worth sharing ([`MIN_SHARED_PREFIX`] tokens or more) is
//!   always split at the prefix's end, whether its cells come from the store or are
//!   evaluated here, so a run's bytes do not depend on which run came first.
//! - The store keeps at most [`SHARED_PREFIXES`] prefixes, each once, the oldest dropped
//!   first; a poisoned lock still holds whole entries.
//! - After a failed call the session's cache is forgotten (emptied), never trusted.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use ladder_core::{ChatRequest, ChatResponse, Message, ModelError, Session, TokenSink};
use llama_cpp_2::context::session::{LlamaStateSeqFlags, SeqState};
use llama_cpp_2::token::LlamaToken;

use super::context::{context_size, decode_prompt, Cached};
use super::speculative::DraftCache;
use super::{reuse, Inner};

/// A system prefix's KV cells, saved once and copied into any run's context.
pub(super) struct SavedPrefix {
    tokens: Vec<LlamaToken>,
    state: SeqState,
}

/// Shortest system prefix worth sharing, in tokens.
const MIN_SHARED_PREFIX: usize = 16;

/// System prefixes the shared store keeps (the oldest goes first): a bench has a few
/// strategies' and components' system prompts per suite.
const SHARED_PREFIXES: usize = 12;

/// Tokens a session's context holds at least (it grows when a call needs more).
pub(super) const CACHED_CONTEXT: u32 = 4096;

impl Inner {
    /// The length of the request's system prefix in `tokens` (its leading system messages
    /// as the chat template renders them, up to where the first other message's text
    /// starts), when prefixes are shared and it is long enough to be worth it.
    pub(super) fn shared_prefix(
        &self,
        request: &ChatRequest,
        tokens: &[LlamaToken],
    ) -> Option<usize> {
        if !self.shared_prefixes {
            return None;
        }
        let k = request
            .messages
            .iter()
            .take_while(|m| m.role == ladder_core::Role::System)
            .count();
        if k == 0 || k == request.messages.len() {
            return None;
        }
        const MARK: &str = "\u{1}ladder-prefix-end\u{1}";
        let mut probe = request.messages[..k].to_vec();
        probe.push(Message {
            role: request.messages[k].role,
            content: MARK.into(),
        });
        let text = self.render(&probe).ok()?;
        let head = self.tokenize(&text[..text.find(MARK)?]);
        (head.len() >= MIN_SHARED_PREFIX && head.len() < tokens.len() && tokens.starts_with(&head))
            .then_some(head.len())
    }

    /// Make `cached` hold exactly `prefix`: its saved cells copied in from the shared
    /// store (true), or (the first time) evaluated here and saved there (false). Either way
    /// the prompt is split at the same place, so a run's bytes do not depend on which run
    /// came first.
    fn load_prefix(
        &self,
        cached: &mut Cached,
        seq: usize,
        prefix: &[LlamaToken],
        stop: &AtomicBool,
    ) -> Result<bool, ModelError> {
        let saved = self
            .store()
            .iter()
            .rev()
            .find(|p| p.tokens == prefix)
            .cloned();
        let id = seq as i32;
        cached.empty(seq);
        if let Some(saved) = saved {
            if cached.ctx.state_seq_set(&saved.state, id).is_ok() {
                cached.seqs[seq] = prefix.to_vec();
                return Ok(true);
            }
            cached.empty(seq); // a state that does not fit: evaluate instead
        }
        if decode_prompt(&mut cached.ctx, prefix, 0, id, stop)?.is_none() {
            return Err(ModelError::Generation(
                "stopped: the call was abandoned".into(),
            ));
        }
        cached.seqs[seq] = prefix.to_vec();
        if let Ok(state) = cached.ctx.state_seq_get(id, LlamaStateSeqFlags::empty()) {
            let mut store = self.store();
            if !store.iter().any(|p| p.tokens == prefix) {
                if store.len() == SHARED_PREFIXES {
                    store.remove(0);
                }
                store.push(Arc::new(SavedPrefix {
                    tokens: prefix.to_vec(),
                    state,
                }));
            }
        }
        Ok(false)
    }

    /// The cross-run store of system prefixes (a poisoned lock still holds whole entries:
    /// each is pushed or removed in one step).
    pub(super) fn store(&self) -> std::sync::MutexGuard<'_, Vec<Arc<SavedPrefix>>> {
        self.prefixes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One completion in a run's session: the session keeps a context whose sequences hold
    /// earlier calls' prompts and outputs; the call goes to the sequence that shares the
    /// longest prefix with its prompt, and only the tokens after it are evaluated. When the
    /// other sequences' cells leave too little room, they are dropped.
    pub(super) fn generate_cached(
        self: &Arc<Self>,
        session: &Session,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        stop: &AtomicBool,
    ) -> Result<ChatResponse, ModelError> {
        let started = Instant::now();
        let tokens = self.prompt_tokens(request)?;
        let need = context_size(tokens.len(), request.sampling.max_tokens, self.max_context)?;
        session.with_state(
            || None::<Cached>,
            |slot| {
                let n_ctx = need.max(CACHED_CONTEXT.min(self.max_context));
                let cached = Cached::in_slot(slot, self, need, n_ctx)?;
                // The sequence that holds most of the prompt (all of it but at least one
                // token: its logits are where sampling starts).
                let plan = reuse::plan(&cached.seqs, std::slice::from_ref(&tokens));
                let seq = plan.dests[0];
                let room = reuse::cells_needed(
                    &cached.seqs,
                    &plan.dests,
                    &[tokens.len()],
                    &[request.sampling.max_tokens],
                );
                if room > cached.n_ctx as usize {
                    for other in (0..cached.seqs.len()).filter(|&s| s != seq) {
                        cached.empty(other);
                    }
                }
                let mut keep = plan.keeps[0];
                // Prompt tokens evaluated here before `complete` (not served from a cache).
                let mut evaluated = 0;
                match self.shared_prefix(request, &tokens) {
                    Some(p) if keep < p => {
                        // The session's cache lacks this prompt's system prefix: take its
                        // cells from the shared store (or evaluate them once and share).
                        match self.load_prefix(cached, seq, &tokens[..p], stop) {
                            Ok(true) => {}
                            Ok(false) => evaluated = p as u64,
                            Err(e) => {
                                cached.forget();
                                return Err(e);
                            }
                        }
                        keep = p;
                    }
                    _ => {
                        if !cached.prepare(&plan) {
                            keep = 0;
                        }
                    }
                }
                let uncount = |mut r: ChatResponse| {
                    r.usage.cached_tokens -= evaluated;
                    r
                };
                self.finish_cached(cached, seq, &tokens, keep, request, stream, stop, started)
                    .map(uncount)
            },
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_cached(
        &self,
        cached: &mut Cached,
        seq: usize,
        tokens: &[LlamaToken],
        keep: usize,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<ChatResponse, ModelError> {
        let result = match &self.draft {
            // A greedy call with a draft model speculates (see speculative.rs).
            Some(draft) if request.sampling.temperature <= 0.0 => {
                if cached.draft.as_ref().is_none_or(|d| d.n_ctx < cached.n_ctx) {
                    cached.draft = None; // its context first, then a larger one
                    cached.draft = Some(DraftCache::new(draft, cached.n_ctx, self.threads)?);
                }
                let cache = cached.draft.as_mut().expect("made above");
                self.complete_speculative(
                    draft,
                    cache,
                    &mut cached.ctx,
                    seq as i32,
                    tokens,
                    keep,
                    request,
                    stream,
                    stop,
                    started,
                )
            }
            _ => self.complete(
                &mut cached.ctx,
                seq as i32,
                tokens,
                keep,
                request,
                stream,
                stop,
                started,
            ),
        };
        match result {
            Ok((response, generated)) => {
                let held = &mut cached.seqs[seq];
                *held = tokens.to_vec();
                held.extend_from_slice(&generated);
                Ok(response)
            }
            Err(e) => {
                // What the cache holds after a failure is unknown: forget it.
                cached.forget();
                Err(e)
            }
        }
    }
}
