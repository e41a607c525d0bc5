//! Parallel decoding: a batch of independent calls as parallel sequences of one fresh
//! context with one unified KV cache.
//!
//! Invariants:
//! - The prompts' common prefix is decoded once with every sequence's id (its KV cells are
//!   shared), leaving every sequence at least one token of its own; it is reported as
//!   `cached_tokens` of every call but the first.
//! - A sequence's first token is sampled right after the decode that holds its last prompt
//!   token; each later decode step carries one token of every sequence still generating.
//! - Each call keeps its own sampler (grammar, seed), stop strings, stream and
//!   `max_tokens`; a request that fails alone (its prompt, its grammar, its stream's
//!   receiver) fails alone, and results come back in request order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ladder_core::{ChatRequest, ChatResponse, FinishReason, ModelError, TokenSink, Usage};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::context::{context_size, new_context};
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

impl Inner {
    /// Several completions as parallel sequences of one fresh context: the prompts'
    /// common prefix is decoded once with every sequence's id (its KV cells are shared),
    /// then each sequence's own rest; then each decode step carries one token of every
    /// sequence still generating. Results in request order; a request that fails alone
    /// (its prompt, its grammar) fails alone.
    pub(super) fn generate_parallel(
        &self,
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
        let outcome = self.run_parallel(requests, &mut seqs, stop, started);
        for (k, seq) in seqs.into_iter().enumerate() {
            let i = seq.index;
            results[i] = Some(match (&outcome, seq.error) {
                (Err(e), _) => Err(e.clone()),
                (_, Some(e)) => Err(e),
                (Ok((prefix, prompt_ms, gen_ms)), None) => Ok(ChatResponse {
                    text: seq.text.unwrap_or_default(),
                    finish: seq.finish,
                    usage: Usage {
                        prompt_tokens: seq.tokens.len() as u64,
                        // The first sequence evaluated the shared prefix; the others got it
                        // from the cache.
                        cached_tokens: if k == 0 { 0 } else { *prefix as u64 },
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

    /// The decoding of [`Inner::generate_parallel`]: returns the shared prefix's length,
    /// the prompt time and the generation time.
    fn run_parallel(
        &self,
        requests: &[ChatRequest],
        seqs: &mut [Seq],
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<(usize, f64, f64), ModelError> {
        let stopped = || ModelError::Generation("stopped: the call was abandoned".into());
        if seqs.is_empty() {
            return Ok((0, 0.0, 0.0));
        }
        // The common prefix, leaving every sequence at least one token of its own (its
        // logits are where its sampling starts).
        let first = &seqs[0].tokens;
        let mut prefix = seqs.iter().map(|s| s.tokens.len() - 1).min().unwrap_or(0);
        for s in seqs.iter().skip(1) {
            prefix = prefix.min(
                first
                    .iter()
                    .zip(&s.tokens)
                    .take_while(|(a, b)| a == b)
                    .count(),
            );
        }
        // Room for the shared prefix once, then each sequence's rest and its generation.
        let rests: usize = seqs.iter().map(|s| s.tokens.len() - prefix).sum();
        let generated: u32 = seqs
            .iter()
            .map(|s| requests[s.index].sampling.max_tokens)
            .sum();
        let n_ctx = context_size(prefix + rests, generated, self.max_context)?;
        let n_seq = seqs.len();
        let mut ctx = new_context(&self.model, n_ctx, self.threads, n_seq as u32)?;
        let gen_err = |e: String| ModelError::Generation(e);
        let mut batch = LlamaBatch::new(BATCH, n_seq as i32);
        let all: Vec<i32> = (0..n_seq as i32).collect();
        // The shared prefix, once, in every sequence.
        for chunk_start in (0..prefix).step_by(BATCH) {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            batch.clear();
            for pos in chunk_start..(chunk_start + BATCH).min(prefix) {
                batch
                    .add(seqs[0].tokens[pos], pos as i32, &all, false)
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
            .flat_map(|(s, q)| (prefix..q.tokens.len()).map(move |pos| (s, pos)))
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
                    .add(seqs[s].tokens[pos], pos as i32, &[s as i32], last)
                    .map_err(|e| gen_err(e.to_string()))?;
                if last {
                    last_in_chunk.push((s, i as i32));
                }
            }
            ctx.decode(&mut batch)
                .map_err(|e| gen_err(format!("prompt decode failed: {e}")))?;
            for (s, idx) in last_in_chunk {
                let token = seqs[s].sampler.sample(&ctx, idx);
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
                    .add(token, pos, &[s as i32], true)
                    .map_err(|e| gen_err(e.to_string()))?;
                in_batch.push((s, in_batch.len() as i32));
            }
            if in_batch.is_empty() {
                break;
            }
            ctx.decode(&mut batch)
                .map_err(|e| gen_err(format!("decode failed: {e}")))?;
            for (s, idx) in in_batch {
                let token = seqs[s].sampler.sample(&ctx, idx);
                seqs[s].pending = Some(token);
            }
        }
        for (q, out) in seqs.iter_mut().zip(outs) {
            q.text = Some(out.finish());
        }
        Ok((prefix, prompt_ms, ms_since(gen_started)))
    }
}
