//! One completion on one sequence: the sampler chain, the prompt's tokens, and the token
//! loop that decodes a prompt's uncached rest and generates.
//!
//! Invariants:
//! - Sampling is greedy at temperature 0; otherwise top-p (below 1), temperature, then a
//!   seeded draw. A constraint's grammar comes first in the chain.
//! - An empty prompt is an error, never a call with nothing to read logits from.
//! - The loop checks the stop flag before every token and every prompt batch.
//! - `cached_tokens` is what the context held before the call (`tokens[..cached]`);
//!   callers that evaluated part of that themselves correct it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ladder_core::{ChatRequest, ChatResponse, FinishReason, ModelError, TokenSink, Usage};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::context::{context_size, decode_prompt, new_context};
use super::stream::{Push, TextOut};
use super::Inner;
use crate::timing::ms_since;

impl Inner {
    pub(super) fn sampler(&self, request: &ChatRequest) -> Result<LlamaSampler, ModelError> {
        let mut chain = Vec::new();
        if let Some(constraint) = &request.constraint {
            chain.push(self.grammar_sampler(constraint)?);
        }
        let s = &request.sampling;
        if s.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            if s.top_p < 1.0 {
                chain.push(LlamaSampler::top_p(s.top_p, 1));
            }
            chain.push(LlamaSampler::temp(s.temperature));
            chain.push(LlamaSampler::dist(s.seed));
        }
        Ok(LlamaSampler::chain_simple(chain))
    }

    /// One completion on a fresh context (no prefix reuse).
    pub(super) fn generate(
        &self,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        stop: &AtomicBool,
    ) -> Result<ChatResponse, ModelError> {
        let started = Instant::now();
        let tokens = self.prompt_tokens(request)?;
        let n_ctx = context_size(tokens.len(), request.sampling.max_tokens, self.max_context)?;
        let mut ctx = new_context(&self.model, n_ctx, self.threads, 1)?;
        self.complete(&mut ctx, 0, &tokens, 0, request, stream, stop, started)
            .map(|(response, _)| response)
    }

    /// The prompt's tokens; an empty prompt is an error.
    pub(super) fn prompt_tokens(
        &self,
        request: &ChatRequest,
    ) -> Result<Vec<LlamaToken>, ModelError> {
        let tokens = self.tokenize(&self.render(&request.messages)?);
        if tokens.is_empty() {
            return Err(ModelError::Generation(
                "the prompt is empty after tokenising".into(),
            ));
        }
        Ok(tokens)
    }

    /// Decode `tokens[cached..]` into sequence `seq` of `ctx` (whose cache already holds
    /// `tokens[..cached]` there) and generate. Returns the response and the generated
    /// tokens the sequence now holds after the prompt (all of them but one that completed a
    /// stop string: generation ended before decoding it).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn complete(
        &self,
        ctx: &mut LlamaContext<'_>,
        seq: i32,
        tokens: &[LlamaToken],
        cached: usize,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<(ChatResponse, Vec<LlamaToken>), ModelError> {
        let stopped = || ModelError::Generation("stopped: the call was abandoned".into());
        let max_new = request.sampling.max_tokens;
        let mut sampler = self.sampler(request)?;
        let Some(mut logits_at) = decode_prompt(ctx, tokens, cached, seq, stop)? else {
            return Err(stopped());
        };
        let prompt_ms = ms_since(started);
        let gen_started = Instant::now();

        let vocab = self.model.vocab();
        let mut out = TextOut::new(&request.stop, stream);
        let mut batch = LlamaBatch::new(1, 1);
        let mut pos = tokens.len() as i32;
        let mut generated: Vec<LlamaToken> = Vec::new();
        let mut finish = FinishReason::Length;
        while generated.len() < max_new as usize {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            let token = sampler.sample(ctx, logits_at);
            if vocab.is_eog(token) {
                finish = FinishReason::Stop;
                break;
            }
            generated.push(token);
            let piece = vocab.token_to_piece(token, false, None);
            match out.push(&piece) {
                Push::More => {}
                Push::StopString => {
                    finish = FinishReason::StopString;
                    break;
                }
                Push::ReceiverGone => {
                    return Err(ModelError::Generation(
                        "stopped: the receiver of the token stream went away".into(),
                    ))
                }
            }
            batch.clear();
            batch
                .add(token, pos, &[seq], true)
                .map_err(|e| ModelError::Generation(e.to_string()))?;
            ctx.decode(&mut batch)
                .map_err(|e| ModelError::Generation(format!("decode failed: {e}")))?;
            pos += 1;
            logits_at = 0;
        }
        let text = out.finish();
        let completion_tokens = generated.len() as u64;
        if finish == FinishReason::StopString {
            generated.pop();
        }
        Ok((
            ChatResponse {
                text,
                finish,
                usage: Usage {
                    prompt_tokens: tokens.len() as u64,
                    cached_tokens: cached as u64,
                    completion_tokens,
                    estimated: false,
                },
                prompt_ms,
                generation_ms: ms_since(gen_started),
                total_ms: ms_since(started),
            },
            generated,
        ))
    }
}
