//! Parallel decoding: a batch of independent calls as parallel sequences of one context
//! with one unified KV cache: the run's session context when there is one (its sequences
//! keep the batch's prompts and outputs for the run's next calls), else a fresh one.
//!
//! Invariants:
//! - Where each sequence starts is `reuse::plan`'s: from the cells the session already
//!   holds (a revision round from its draft round), or, when the prompts' common prefix is
//!   longer, from that prefix decoded once with every sequence's id (its KV cells are
//!   shared; reported as `cached_tokens` of every call but the first). Every sequence
//!   evaluates at least one token of its own.
//! - A sequence's first token is sampled right after the decode that holds its last prompt
//!   token; each later decode step carries one token of every sequence still generating.
//! - Each call keeps its own sampler (grammar, seed), stop strings, stream and
//!   `max_tokens`; a request that fails alone (its prompt, its grammar, its stream's
//!   receiver) fails alone, and results come back in request order.
//! - After the batch, a session's sequences hold exactly what was decoded into them: a
//!   sequence that failed alone is emptied; a failed batch empties the whole cache.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ladder_core::{ChatRequest, ChatResponse, FinishReason, ModelError, Session, TokenSink, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::context::{context_size, new_context, Cached, SESSION_SEQUENCES};
use super::prefix::CACHED_CONTEXT;
use super::reuse::{self, Plan};
use super::stream::{Push, TextOut};
use super::{Inner, BATCH};
use crate::timing::ms_since;

/// One sequence of a parallel decode.
struct Seq {
    /// Its request's position.
    index: usize,
    tokens: Vec<LlamaToken>,
    sampler: LlamaSampler,
    stream: Option<TokenSink>,
    generated: Vec<LlamaToken>,
    text: Option<String>,
    finish: FinishReason,
    /// The token sampled and not yet handled.
    pending: Option<LlamaToken>,
    done: bool,
    error: Option<ModelError>,
}

impl Seq {
    /// The tokens its cells hold after the decode: the prompt and every generated token
    /// but the last, which is decoded only when the model ended its turn after it (a
    /// sequence stopped by length or a stop string ends before decoding its last token).
    fn decoded(&self) -> Vec<LlamaToken> {
        let n = match self.finish {
            FinishReason::Stop => self.generated.len(),
            _ => self.generated.len().saturating_sub(1),
        };
        let mut held = self.tokens.clone();
        held.extend_from_slice(&self.generated[..n]);
        held
    }
}

/// What a parallel decode reports besides each sequence's text: each call's prompt tokens
/// served from a cache, the prompt time and the generation time.
type Decoded = (Vec<usize>, f64, f64);

impl Inner {
    /// Several completions as parallel sequences of one context (the session's, when there
    /// is one and the batch fits its sequences; else a fresh one). Results in request
    /// order; a request that fails alone (its prompt, its grammar) fails alone.
    pub(super) fn generate_parallel(
        self: &Arc<Self>,
        session: Option<&Session>,
        requests: &[ChatRequest],
        streams: Vec<Option<TokenSink>>,
        stop: &AtomicBool,
    ) -> Vec<Result<ChatResponse, ModelError>> {
        let started = Instant::now();
        let n = requests.len();
        let mut results: Vec<Option<Result<ChatResponse, ModelError>>> =
            (0..n).map(|_| None).collect();
        let mut seqs: Vec<Seq> = Vec::new();
        let mut streams = streams.into_iter();
        for (i, request) in requests.iter().enumerate() {
            let stream = streams.next().flatten();
            match self
                .prompt_tokens(request)
                .and_then(|t| self.sampler(request).map(|s| (t, s)))
            {
                Ok((tokens, sampler)) => seqs.push(Seq {
                    index: i,
                    tokens,
                    sampler,
                    stream,
                    generated: Vec::new(),
                    text: None,
                    finish: FinishReason::Length,
                    pending: None,
                    done: false,
                    error: None,
                }),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let outcome = match session {
            Some(session) if !seqs.is_empty() && seqs.len() <= SESSION_SEQUENCES => {
                self.run_in_session(session, requests, &mut seqs, stop, started)
            }
            _ => self.run_fresh(requests, &mut seqs, stop, started),
        };
        for (k, seq) in seqs.into_iter().enumerate() {
            let i = seq.index;
            results[i] = Some(match (&outcome, seq.error) {
                (Err(e), _) => Err(e.clone()),
                (_, Some(e)) => Err(e),
                (Ok((cached, prompt_ms, gen_ms)), None) => Ok(ChatResponse {
                    text: seq.text.unwrap_or_default(),
                    finish: seq.finish,
                    usage: Usage {
                        prompt_tokens: seq.tokens.len() as u64,
                        cached_tokens: cached[k] as u64,
                        completion_tokens: seq.generated.len() as u64,
                        estimated: false,
                    },
                    prompt_ms: *prompt_ms,
                    generation_ms: *gen_ms,
                    total_ms: ms_since(started),
                }),
            });
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ModelError::Generation("no result".into()))))
            .collect()
    }

    /// The batch in a fresh context sized for it: the prompts' common prefix decoded once.
    fn run_fresh(
        &self,
        requests: &[ChatRequest],
        seqs: &mut [Seq],
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<Decoded, ModelError> {
        if seqs.is_empty() {
            return Ok((Vec::new(), 0.0, 0.0));
        }
        let prompts: Vec<&[LlamaToken]> = seqs.iter().map(|s| s.tokens.as_slice()).collect();
        let plan = reuse::plan(&vec![Vec::new(); seqs.len()], &prompts);
        // Room for the shared prefix once, then each sequence's rest and its generation.
        let rests: usize = seqs.iter().map(|s| s.tokens.len() - plan.shared).sum();
        let generated: u32 = seqs
            .iter()
            .map(|s| requests[s.index].sampling.max_tokens)
            .sum();
        let n_ctx = context_size(plan.shared + rests, generated, self.max_context)?;
        let mut ctx = new_context(&self.model, n_ctx, self.threads, seqs.len() as u32)?;
        let (prompt_ms, gen_ms) =
            self.decode_parallel(&mut ctx, requests, seqs, &plan, stop, started)?;
        Ok((plan.cached, prompt_ms, gen_ms))
    }

    /// The batch in the run's session context: each sequence starts from the cells the
    /// session holds (`reuse::plan`), and keeps its prompt and output there afterwards.
    /// A batch too large for one context without sharing goes to a fresh one.
    fn run_in_session(
        self: &Arc<Self>,
        session: &Session,
        requests: &[ChatRequest],
        seqs: &mut [Seq],
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<Decoded, ModelError> {
        let lens: Vec<usize> = seqs.iter().map(|s| s.tokens.len()).collect();
        let maxes: Vec<u32> = seqs
            .iter()
            .map(|s| requests[s.index].sampling.max_tokens)
            .collect();
        let own: usize = lens.iter().zip(&maxes).map(|(l, &m)| l + m as usize).sum();
        let Ok(need) = context_size(own, 0, self.max_context) else {
            return self.run_fresh(requests, seqs, stop, started);
        };
        session.with_state(
            || None::<Cached>,
            |slot| {
                // Room for a later round of the same size beside this one.
                let n_ctx = (need * 2).max(CACHED_CONTEXT).min(self.max_context);
                let cached = Cached::in_slot(slot, self, need, n_ctx)?;
                let prompts: Vec<Vec<LlamaToken>> = seqs.iter().map(|s| s.tokens.clone()).collect();
                let mut plan = reuse::plan(&cached.seqs, &prompts);
                let fits = |cached: &Cached, plan: &Plan| {
                    reuse::cells_needed(&cached.seqs, &plan.dests, &lens, &maxes)
                        <= cached.n_ctx as usize
                };
                if !fits(cached, &plan) {
                    // Drop the sequences this batch does not use, then plan again.
                    for s in (0..cached.seqs.len()).filter(|s| !plan.dests.contains(s)) {
                        cached.empty(s);
                    }
                    plan = reuse::plan(&cached.seqs, &prompts);
                    if !fits(cached, &plan) {
                        cached.forget();
                        plan = reuse::plan(&cached.seqs, &prompts);
                    }
                }
                if !cached.prepare(&plan) {
                    // Forgotten: start from nothing.
                    plan = reuse::plan(&cached.seqs, &prompts);
                    if !cached.prepare(&plan) {
                        return Err(ModelError::Generation(
                            "llama.cpp refused to clear a sequence of the KV cache".into(),
                        ));
                    }
                }
                match self.decode_parallel(&mut cached.ctx, requests, seqs, &plan, stop, started) {
                    Ok((prompt_ms, gen_ms)) => {
                        for (q, &d) in seqs.iter().zip(&plan.dests) {
                            if q.error.is_some() {
                                cached.empty(d);
                            } else {
                                cached.seqs[d] = q.decoded();
                            }
                        }
                        Ok((plan.cached, prompt_ms, gen_ms))
                    }
                    Err(e) => {
                        cached.forget();
                        Err(e)
                    }
                }
            },
        )
    }

    /// The decoding of a batch in `ctx` as `plan` says: the shared prefix once in every
    /// sequence, each sequence's rest from what it keeps, then one token of every sequence
    /// still generating per step. Returns the prompt time and the generation time.
    fn decode_parallel(
        &self,
        ctx: &mut LlamaContext<'_>,
        requests: &[ChatRequest],
        seqs: &mut [Seq],
        plan: &Plan,
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<(f64, f64), ModelError> {
        let stopped = || ModelError::Generation("stopped: the call was abandoned".into());
        let gen_err = |e: String| ModelError::Generation(e);
        let n_seq = seqs.len();
        let ids: Vec<i32> = plan.dests.iter().map(|&d| d as i32).collect();
        let mut batch = LlamaBatch::new(BATCH, n_seq as i32);
        // The shared prefix, once, in every sequence.
        for chunk_start in (0..plan.shared).step_by(BATCH) {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            batch.clear();
            for pos in chunk_start..(chunk_start + BATCH).min(plan.shared) {
                batch
                    .add(seqs[0].tokens[pos], pos as i32, &ids, false)
                    .map_err(|e| gen_err(e.to_string()))?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| gen_err(format!("prompt decode failed: {e}")))?;
        }
        // Each sequence's own rest. A sequence's first token is sampled right after the
        // decode that holds its last prompt token (logits last only until the next decode).
        let rest: Vec<(usize, usize)> = seqs
            .iter()
            .enumerate()
            .flat_map(|(s, q)| (plan.keeps[s]..q.tokens.len()).map(move |pos| (s, pos)))
            .collect();
        for chunk in rest.chunks(BATCH) {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            batch.clear();
            let mut last_in_chunk: Vec<(usize, i32)> = Vec::new();
            for (i, &(s, pos)) in chunk.iter().enumerate() {
                let last = pos + 1 == seqs[s].tokens.len();
                batch
                    .add(seqs[s].tokens[pos], pos as i32, &[ids[s]], last)
                    .map_err(|e| gen_err(e.to_string()))?;
                if last {
                    last_in_chunk.push((s, i as i32));
                }
            }
            ctx.decode(&mut batch)
                .map_err(|e| gen_err(format!("prompt decode failed: {e}")))?;
            for (s, idx) in last_in_chunk {
                let token = seqs[s].sampler.sample(ctx, idx);
                seqs[s].pending = Some(token);
            }
        }
        let prompt_ms = ms_since(started);
        let gen_started = Instant::now();
        let vocab = self.model.vocab();
        let streams: Vec<Option<TokenSink>> = seqs.iter_mut().map(|q| q.stream.take()).collect();
        let mut outs: Vec<TextOut> = seqs
            .iter()
            .zip(&streams)
            .map(|(q, stream)| TextOut::new(&requests[q.index].stop, stream.as_ref()))
            .collect();
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            batch.clear();
            let mut in_batch: Vec<(usize, i32)> = Vec::new();
            for (s, q) in seqs.iter_mut().enumerate() {
                if q.done {
                    continue;
                }
                let max = requests[q.index].sampling.max_tokens as usize;
                let Some(token) = q.pending.take().filter(|_| q.generated.len() < max) else {
                    q.done = true;
                    continue;
                };
                if vocab.is_eog(token) {
                    q.finish = FinishReason::Stop;
                    q.done = true;
                    continue;
                }
                q.generated.push(token);
                let piece = vocab.token_to_piece(token, false, None);
                match outs[s].push(&piece) {
                    Push::More => {}
                    Push::StopString => {
                        q.finish = FinishReason::StopString;
                        q.done = true;
                        continue;
                    }
                    Push::ReceiverGone => {
                        q.error = Some(gen_err(
                            "stopped: the receiver of the token stream went away".into(),
                        ));
                        q.done = true;
                        continue;
                    }
                }
                if q.generated.len() >= max {
                    q.done = true;
                    continue;
                }
                let pos = (q.tokens.len() + q.generated.len() - 1) as i32;
                batch
                    .add(token, pos, &[ids[s]], true)
                    .map_err(|e| gen_err(e.to_string()))?;
                in_batch.push((s, in_batch.len() as i32));
            }
            if in_batch.is_empty() {
                break;
            }
            ctx.decode(&mut batch)
                .map_err(|e| gen_err(format!("decode failed: {e}")))?;
            for (s, idx) in in_batch {
                let token = seqs[s].sampler.sample(ctx, idx);
                seqs[s].pending = Some(token);
            }
        }
        for (q, out) in seqs.iter_mut().zip(outs) {
            q.text = Some(out.finish());
        }
        Ok((prompt_ms, ms_since(gen_started)))
    }
}
