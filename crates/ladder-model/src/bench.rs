//! Model throughput through the [`LanguageModel`] trait against a bare llama-cpp-2 loop
//! on the same GGUF, thread count and context size, in one run.
//!
//! Method (llama-bench style, all times measured from outside the call):
//! - prompt processing: a long prompt with `max_tokens = 1`; tok/s = prompt tokens / wall.
//! - generation: a short prompt run twice, with 1 and with N new tokens;
//!   tok/s = (N - 1) / (wall(N) - wall(1)).
//!
//! Both sides decode greedily, so they produce the same tokens. Rounds alternate which
//! side goes first; the report gives medians and the trait/bare ratio.

use std::time::Instant;

use ladder_core::{ChatRequest, LanguageModel, Message, ModelError};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaChatMessage;
use llama_cpp_2::sampling::LlamaSampler;
use std::num::NonZeroU32;

use crate::local::{context_size, LocalConfig, LocalModel};
use crate::native;

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub model: LocalConfig,
    pub rounds: usize,
    /// New tokens in the generation test.
    pub gen_tokens: u32,
    /// Repetitions of a sentence that make up the long prompt.
    pub prompt_repeat: usize,
}

/// Medians of one side.
#[derive(Debug, Clone, Copy, Default)]
pub struct Side {
    pub pp_tok_s: f64,
    pub tg_tok_s: f64,
}

#[derive(Debug, Clone)]
pub struct BenchReport {
    pub model: String,
    pub threads: u32,
    pub rounds: usize,
    pub prompt_tokens: u64,
    pub gen_tokens: u64,
    pub ours: Side,
    pub bare: Side,
}

impl BenchReport {
    pub fn table(&self) -> String {
        format!(
            "model {} | threads {} | rounds {} | prompt {} tokens | generation {} tokens\n\
             | test | LanguageModel trait (tok/s) | bare llama-cpp-2 (tok/s) | ratio |\n\
             |---|---|---|---|\n\
             | prompt processing | {:.1} | {:.1} | {:.3} |\n\
             | generation | {:.1} | {:.1} | {:.3} |\n",
            self.model,
            self.threads,
            self.rounds,
            self.prompt_tokens,
            self.gen_tokens,
            self.ours.pp_tok_s,
            self.bare.pp_tok_s,
            ratio(self.ours.pp_tok_s, self.bare.pp_tok_s),
            self.ours.tg_tok_s,
            self.bare.tg_tok_s,
            ratio(self.ours.tg_tok_s, self.bare.tg_tok_s),
        )
    }
}

/// The p50 of a side's rounds: the workbench's one quantile (nearest rank).
fn median(v: Vec<f64>) -> f64 {
    ladder_core::numbers::quantile(&v, 0.5)
}

/// An A/B measurement: `rounds` rounds, each running side B (`measure(true)`) and side A
/// (`measure(false)`) once, which goes first alternating by round. Returns each side's wall
/// times (ms) and the figures its last round reported.
async fn alternate<T: Default, F, Fut>(
    rounds: usize,
    mut progress: impl FnMut(usize),
    measure: F,
) -> Result<([Vec<f64>; 2], [T; 2]), ModelError>
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = Result<T, ModelError>>,
{
    let mut ms: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut last: [T; 2] = [T::default(), T::default()];
    for round in 0..rounds {
        for side in 0..2 {
            let b = (round + side) % 2 == 0;
            let started = Instant::now();
            let figures = measure(b).await?;
            ms[usize::from(b)].push(started.elapsed().as_secs_f64() * 1000.0);
            last[usize::from(b)] = figures;
        }
        progress(round + 1);
    }
    Ok((ms, last))
}

fn greedy(messages: Vec<Message>, max_tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::new(messages);
    r.sampling.max_tokens = max_tokens;
    r
}

/// One greedy run of the bare loop (llama-cpp-2 directly, no trait, no session); returns
/// (prompt tokens, new tokens, seconds). The baseline of `ladder bench-model` and of the
/// criterion benchmark in `benches/`.
pub fn bare_run(
    model: &LocalModel,
    messages: &[Message],
    max_new: u32,
) -> Result<(u64, u64, f64), ModelError> {
    let gen = |e: String| ModelError::Generation(e);
    let started = Instant::now();
    let m = model.model();
    let template = m.chat_template(None).map_err(|e| gen(e.to_string()))?;
    let chat: Vec<LlamaChatMessage> = messages
        .iter()
        .map(|x| LlamaChatMessage::new(x.role.as_str().into(), x.content.clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| gen(e.to_string()))?;
    let prompt = m
        .apply_chat_template(&template, &chat, true)
        .map_err(|e| gen(e.to_string()))?;
    let tokens = m.vocab().tokenize(prompt.as_bytes(), true, true);
    let n_ctx = context_size(tokens.len(), max_new, 8192)?;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(512)
        .with_n_threads(model.threads())
        .with_n_threads_batch(model.threads());
    let mut ctx = {
        let _g = native::CONTEXT_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.new_context(native::backend(), params)
            .map_err(|e| gen(e.to_string()))?
    };
    let mut batch = LlamaBatch::new(512, 1);
    for (c, chunk) in tokens.chunks(512).enumerate() {
        batch.clear();
        for (i, &t) in chunk.iter().enumerate() {
            let pos = c * 512 + i;
            batch
                .add(t, pos as i32, &[0], pos + 1 == tokens.len())
                .map_err(|e| gen(e.to_string()))?;
        }
        ctx.decode(&mut batch).map_err(|e| gen(e.to_string()))?;
    }
    let mut sampler = LlamaSampler::greedy();
    let mut pos = tokens.len() as i32;
    let mut idx = batch.n_tokens() - 1;
    let mut n = 0u64;
    let mut text = Vec::new();
    while n < u64::from(max_new) {
        let t = sampler.sample(&ctx, idx);
        if m.vocab().is_eog(t) {
            break;
        }
        n += 1;
        text.extend(m.vocab().token_to_piece(t, false, None));
        batch.clear();
        batch
            .add(t, pos, &[0], true)
            .map_err(|e| gen(e.to_string()))?;
        ctx.decode(&mut batch).map_err(|e| gen(e.to_string()))?;
        pos += 1;
        idx = 0;
    }
    std::hint::black_box(text);
    Ok((tokens.len() as u64, n, started.elapsed().as_secs_f64()))
}

async fn trait_run(
    model: &dyn LanguageModel,
    messages: &[Message],
    max_new: u32,
) -> Result<(u64, u64, f64), ModelError> {
    let started = Instant::now();
    let r = model
        .chat(&greedy(messages.to_vec(), max_new), None)
        .await?;
    Ok((
        r.usage.prompt_tokens,
        r.usage.completion_tokens,
        started.elapsed().as_secs_f64(),
    ))
}

/// Run the benchmark. `progress` is told about each finished round.
pub async fn run(
    config: &BenchConfig,
    mut progress: impl FnMut(usize),
) -> Result<BenchReport, ModelError> {
    let model = LocalModel::load(&config.model)?;
    let long = vec![
        Message::system("You are a helpful assistant."),
        Message::user(format!(
            "Summarise this text in one sentence. {}",
            "The lighthouse keeper walked along the harbour wall every evening, counting the boats that came home before dark. ".repeat(config.prompt_repeat)
        )),
    ];
    let short = vec![Message::user(
        "Write a long story about a lighthouse keeper and his cat.",
    )];
    let n = config.gen_tokens.max(2);

    let (mut ours_pp, mut ours_tg, mut bare_pp, mut bare_tg) = (vec![], vec![], vec![], vec![]);
    let (mut prompt_tokens, mut gen_tokens) = (0, 0);
    // Warm up both paths once (page in the model, allocate buffers).
    trait_run(&model, &short, 2).await?;
    bare_run(&model, &short, 2)?;
    for round in 0..config.rounds {
        for side in 0..2 {
            let ours_turn = (round + side) % 2 == 0;
            let (pp, one, full) = if ours_turn {
                (
                    trait_run(&model, &long, 1).await?,
                    trait_run(&model, &short, 1).await?,
                    trait_run(&model, &short, n).await?,
                )
            } else {
                (
                    bare_run(&model, &long, 1)?,
                    bare_run(&model, &short, 1)?,
                    bare_run(&model, &short, n)?,
                )
            };
            prompt_tokens = pp.0;
            gen_tokens = full.1;
            let pp_rate = pp.0 as f64 / pp.2;
            let tg_rate = (full.1.saturating_sub(1)) as f64 / (full.2 - one.2).max(1e-9);
            if ours_turn {
                ours_pp.push(pp_rate);
                ours_tg.push(tg_rate);
            } else {
                bare_pp.push(pp_rate);
                bare_tg.push(tg_rate);
            }
        }
        progress(round + 1);
    }
    Ok(BenchReport {
        model: config
            .model
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        threads: config.model.threads,
        rounds: config.rounds,
        prompt_tokens,
        gen_tokens,
        ours: Side {
            pp_tok_s: median(ours_pp),
            tg_tok_s: median(ours_tg),
        },
        bare: Side {
            pp_tok_s: median(bare_pp),
            tg_tok_s: median(bare_tg),
        },
    })
}

/// Prefix reuse: one run's conversation with and without the session's cached prefix.
#[derive(Debug, Clone)]
pub struct PrefixReport {
    pub turns: usize,
    pub rounds: usize,
    /// Prompt tokens over the whole conversation (the same on both sides).
    pub prompt_tokens: u64,
    /// Of those, served from the cache with reuse.
    pub cached_tokens: u64,
    /// Median wall time of the conversation, fresh contexts and with reuse.
    pub fresh_ms: f64,
    pub reuse_ms: f64,
}

impl PrefixReport {
    pub fn table(&self) -> String {
        format!(
            "prefix reuse: a {}-call conversation (a loop's growing history), {} rounds\n\
             | side | wall (ms, median) | prompt tokens evaluated |\n\
             |---|---|---|\n\
             | fresh context per call | {:.0} | {} |\n\
             | session prefix reuse | {:.0} | {} ({} cached) |\n\
             speed-up (fresh / reuse): {:.2}x\n",
            self.turns,
            self.rounds,
            self.fresh_ms,
            self.prompt_tokens,
            self.reuse_ms,
            self.prompt_tokens - self.cached_tokens,
            self.cached_tokens,
            ratio(self.fresh_ms, self.reuse_ms)
        )
    }
}

/// The same `turns`-call conversation, alternately with fresh contexts and with one session
/// that reuses the cached prefix. The history is scripted (a fixed assistant line and a
/// fixed observation per turn), so both sides send identical prompts whatever the model
/// writes; each call generates at most 8 tokens.
pub async fn prefix(
    config: &BenchConfig,
    turns: usize,
    progress: impl FnMut(usize),
) -> Result<PrefixReport, ModelError> {
    let mut cfg = config.model.clone();
    cfg.prefix_cache = true;
    cfg.shared_prefixes = false; // within one run only: `shared` measures across runs
    let model = LocalModel::load(&cfg)?;
    let system = format!(
        "You are an assistant that plans trips. At each step choose one action: ask the user, \
         search the knowledge base, write a note, or answer. {}",
        "Describe the action you choose and why, in one short sentence. ".repeat(12)
    );
    let requests: Vec<ChatRequest> = (0..turns.max(1))
        .map(|t| {
            let mut messages = vec![
                Message::system(system.clone()),
                Message::user("I'd like to go to the seaside next week, sort it out for me."),
            ];
            for i in 0..t {
                messages.push(Message::assistant(format!("Step {i}: I search for quiet beaches near the user.")));
                messages.push(Message::user(format!(
                    "Observation {i}: Gullby Cove is a quiet cove three hours from Ostby, good for diving and kayaking."
                )));
            }
            let mut r = ChatRequest::new(messages);
            r.sampling.max_tokens = 8;
            r
        })
        .collect();
    let session = ladder_core::Session::new();
    model.chat_in(&session, &requests[0], None).await?; // warm up
    let (model, requests) = (&model, &requests);
    // Side B reuses the session's prefix; side A gets a fresh context per call.
    let ([fresh, reuse], [(prompt_tokens, _), (_, cached_tokens)]) =
        alternate(config.rounds, progress, |reuse| async move {
            let session = ladder_core::Session::new();
            let (mut p, mut c) = (0, 0);
            for r in requests {
                let out = if reuse {
                    model.chat_in(&session, r, None).await?
                } else {
                    model.chat(r, None).await?
                };
                p += out.usage.prompt_tokens;
                c += out.usage.cached_tokens;
            }
            Ok((p, c))
        })
        .await?;
    Ok(PrefixReport {
        turns: requests.len(),
        rounds: config.rounds,
        prompt_tokens,
        cached_tokens,
        fresh_ms: median(fresh),
        reuse_ms: median(reuse),
    })
}

/// The parallel-decoding benchmark's figures.
#[derive(Debug, Clone)]
pub struct ParallelReport {
    pub agents: usize,
    pub debate_rounds: usize,
    pub rounds: usize,
    /// Median wall time of the whole debate, one call after another.
    pub sequential_ms: f64,
    /// The same calls, each round one batch of parallel sequences.
    pub parallel_ms: f64,
    /// Tokens the debate generated, each way (their bytes may differ: see `local.rs`).
    pub sequential_tokens: u64,
    pub parallel_tokens: u64,
}

impl ParallelReport {
    pub fn table(&self) -> String {
        format!(
            "\nParallel decoding: {} agents x {} rounds of debate-shaped calls (same prompts; each \
             round's calls one batch), median of {} rounds, one thread\n\
             | mode | debate ms |\n|---|---|\n\
             | one call after another | {:.0} |\n\
             | parallel sequences, shared prefix | {:.0} |\n\
             speed-up (sequential / parallel): {:.2}x (completion tokens per debate: {} one after another, {} parallel)\n",
            self.agents,
            self.debate_rounds,
            self.rounds,
            self.sequential_ms,
            self.parallel_ms,
            ratio(self.sequential_ms, self.parallel_ms),
            self.sequential_tokens,
            self.parallel_tokens
        )
    }
}

/// `agents` x `debate_rounds` debate-shaped calls (one system prompt, a role per agent, the
/// drafts scripted so both sides send identical prompts; 48 tokens each), alternately one
/// call after another and each round as one [`LanguageModel::chat_batch`] of parallel
/// sequences. Prefix reuse is off on both sides: only the batching differs.
pub async fn parallel(
    config: &BenchConfig,
    agents: usize,
    debate_rounds: usize,
    progress: impl FnMut(usize),
) -> Result<ParallelReport, ModelError> {
    let mut cfg = config.model.clone();
    cfg.prefix_cache = false;
    cfg.parallel = true;
    let model = LocalModel::load(&cfg)?;
    let system = format!(
        "You are one of several travel assistants drafting an answer together. Notes: {}",
        "Gullby Cove is a quiet cove three hours from Ostby, good for diving and kayaking. "
            .repeat(6)
    );
    let round_calls: Vec<Vec<ChatRequest>> = (0..debate_rounds.max(1))
        .map(|round| {
            (0..agents.max(1))
                .map(|a| {
                    let mut messages = vec![
                        Message::system(format!("{system} Your role: agent {a}.")),
                        Message::user(
                            "I'd like to go to the seaside next week, sort it out for me.",
                        ),
                    ];
                    if round > 0 {
                        messages.push(Message::assistant("Gullby Cove, for its quiet beach."));
                        messages.push(Message::user("Revise your draft after the others' drafts."));
                    }
                    let mut r = ChatRequest::new(messages);
                    r.sampling.max_tokens = 48;
                    r
                })
                .collect()
        })
        .collect();
    let session = ladder_core::Session::new();
    model.chat(&round_calls[0][0], None).await?; // warm up
    let (model, round_calls, session) = (&model, &round_calls, &session);
    // Side B decodes each round's calls as one batch; side A one after another.
    let ([sequential, batched], [sequential_tokens, parallel_tokens]) =
        alternate(config.rounds, progress, |parallel| async move {
            let mut tokens = 0;
            for calls in round_calls {
                tokens += completion_tokens(model, session, calls, parallel).await?;
            }
            Ok(tokens)
        })
        .await?;
    Ok(ParallelReport {
        agents,
        debate_rounds,
        rounds: config.rounds,
        sequential_ms: median(sequential),
        parallel_ms: median(batched),
        sequential_tokens,
        parallel_tokens,
    })
}

/// The batch-reuse benchmark's figures.
#[derive(Debug, Clone, Default)]
pub struct BatchReuseReport {
    pub agents: usize,
    pub rounds: usize,
    /// Prompt tokens of the revision round (the same on both sides: the drafts are the
    /// same, since the draft round is the same).
    pub revise_prompt_tokens: u64,
    /// Of those, served from a cache: a fresh context per batch, and the session's.
    pub cached_apart: u64,
    pub cached_reused: u64,
    /// Median wall time of the whole debate (draft round, then revision round), each way.
    pub apart_ms: f64,
    pub reused_ms: f64,
    /// Whether the revision texts were byte-identical on both sides.
    pub same_text: bool,
}

impl BatchReuseReport {
    pub fn table(&self) -> String {
        format!(
            "\nPrefix reuse across batches: {} agents, a draft round then a revision round whose \
             prompts extend it (each round one batch), median of {} rounds\n\
             | side | debate ms | revision prompt tokens cached |\n|---|---|---|\n\
             | a fresh context per batch | {:.0} | {} of {} |\n\
             | the run's session (sequences kept) | {:.0} | {} of {} |\n\
             speed-up (fresh / session): {:.2}x; revision texts {}\n",
            self.agents,
            self.rounds,
            self.apart_ms,
            self.cached_apart,
            self.revise_prompt_tokens,
            self.reused_ms,
            self.cached_reused,
            self.revise_prompt_tokens,
            ratio(self.apart_ms, self.reused_ms),
            if self.same_text {
                "byte-identical"
            } else {
                "differ (the prompt evaluated in other parts: see the local backend's docs)"
            }
        )
    }
}

/// A debate as the scaffold runs it: `agents` draft in one batch (a long system prompt
/// with notes, a role each, 48 tokens), then revise in a second batch whose prompts extend
/// each agent's own draft prompt with its draft and the others'. Alternately each batch in
/// a fresh session (a fresh context: today's cost without reuse across batches) and both
/// in one session, whose sequences keep the draft round's cells for the revision round.
pub async fn batch_reuse(
    config: &BenchConfig,
    agents: usize,
    progress: impl FnMut(usize),
) -> Result<BatchReuseReport, ModelError> {
    let mut cfg = config.model.clone();
    cfg.prefix_cache = true;
    cfg.parallel = true;
    cfg.shared_prefixes = false; // across runs: `shared` measures that
    let model = LocalModel::load(&cfg)?;
    let agents = agents.max(2);
    let notes =
        "Gullby Cove is a quiet cove three hours from Ostby, good for diving and kayaking. "
            .repeat(10);
    let opening = "I'd like to go to the seaside next week, sort it out for me.";
    let drafts: Vec<ChatRequest> = (0..agents)
        .map(|a| {
            greedy(
                vec![
                    Message::system(format!(
                        "You are one of several travel assistants drafting an answer together.                          Your role: agent {a}. Notes: {notes}"
                    )),
                    Message::user(opening),
                ],
                48,
            )
        })
        .collect();
    let revisions = |texts: &[String]| -> Vec<ChatRequest> {
        drafts
            .iter()
            .enumerate()
            .map(|(a, d)| {
                let mut r = d.clone();
                let others: Vec<String> = texts
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| *b != a)
                    .map(|(b, t)| format!("[agent {b}] {}", t.trim()))
                    .collect();
                r.messages.push(Message::assistant(texts[a].trim()));
                r.messages.push(Message::user(format!(
                    "Revise your draft after the others' drafts:\n{}",
                    others.join("\n")
                )));
                r
            })
            .collect()
    };
    model.chat(&drafts[0], None).await?; // warm up
    let (model, drafts, revisions) = (&model, &drafts, &revisions);
    type Figures = (u64, u64, Vec<String>);
    let ([apart, reused], [apart_figures, reused_figures]): (_, [Figures; 2]) =
        alternate(config.rounds, progress, |reuse| async move {
            let session = ladder_core::Session::new();
            let mut texts = Vec::new();
            for r in model
                .chat_batch(&session, drafts, vec![None; drafts.len()])
                .await
            {
                texts.push(r?.text);
            }
            let fresh = ladder_core::Session::new();
            let second = if reuse { &session } else { &fresh };
            let calls = revisions(&texts);
            let (mut prompt, mut cached, mut out) = (0, 0, Vec::new());
            for r in model
                .chat_batch(second, &calls, vec![None; calls.len()])
                .await
            {
                let r = r?;
                prompt += r.usage.prompt_tokens;
                cached += r.usage.cached_tokens;
                out.push(r.text);
            }
            Ok((prompt, cached, out))
        })
        .await?;
    Ok(BatchReuseReport {
        agents,
        rounds: config.rounds,
        revise_prompt_tokens: reused_figures.0,
        cached_apart: apart_figures.1,
        cached_reused: reused_figures.1,
        apart_ms: median(apart),
        reused_ms: median(reused),
        same_text: apart_figures.2 == reused_figures.2,
    })
}

/// The speculative-decoding benchmark's figures.
#[derive(Debug, Clone, Default)]
pub struct SpeculativeReport {
    pub draft: String,
    pub draft_tokens: usize,
    pub rounds: usize,
    /// Completion tokens of the calls, each side.
    pub plain_tokens: u64,
    pub speculative_tokens: u64,
    /// Median wall time of the calls, each side.
    pub plain_ms: f64,
    pub speculative_ms: f64,
    /// Draft tokens proposed and accepted over all rounds.
    pub proposed: u64,
    pub accepted: u64,
    /// Of the calls, how many texts were byte-identical on both sides.
    pub same_texts: usize,
    pub calls: usize,
}

impl SpeculativeReport {
    pub fn table(&self) -> String {
        format!(
            "\nSpeculative decoding: {} drafting {} tokens a step; {} greedy calls in a session \
             (prose, and JSON under a grammar), median of {} rounds, prompts included\n\
             | side | wall ms | completion tokens | tok/s |\n|---|---|---|---|\n\
             | one token at a time | {:.0} | {} | {:.1} |\n\
             | speculative | {:.0} | {} | {:.1} |\n\
             speed-up (plain / speculative): {:.2}x; drafts accepted {} of {} ({:.0}%); texts \
             byte-identical: {} of {}\n",
            self.draft,
            self.draft_tokens,
            self.calls,
            self.rounds,
            self.plain_ms,
            self.plain_tokens,
            tok_s(self.plain_tokens, self.plain_ms),
            self.speculative_ms,
            self.speculative_tokens,
            tok_s(self.speculative_tokens, self.speculative_ms),
            ratio(self.plain_ms, self.speculative_ms),
            self.accepted,
            self.proposed,
            if self.proposed > 0 {
                100.0 * self.accepted as f64 / self.proposed as f64
            } else {
                0.0
            },
            self.same_texts,
            self.calls,
        )
    }
}

/// The calls of the speculative benchmark: a loop's step as the bootstrap makes it (a JSON
/// action under a grammar) and a prose answer, each greedy, `max_tokens` each.
fn speculative_calls(max_tokens: u32) -> Vec<ChatRequest> {
    let system = "You are the travel assistant of a holiday company in Norland. Notes: Gullby                   Cove is a quiet cove three hours from Ostby, good for diving and kayaking;                   Tideford Head is lively, with clubs and a long beach.";
    let opening = "I'd like to go to the seaside next week, sort it out for me.";
    let mut action = greedy(
        vec![
            Message::system(format!(
                "{system} Reply with one JSON action: ask the user a question, or answer."
            )),
            Message::user(opening),
        ],
        max_tokens,
    );
    action.constraint = Some(ladder_core::Constraint::JsonSchema(serde_json::json!({
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["ask", "answer"]},
            "text": {"type": "string"}
        },
        "required": ["action", "text"],
        "additionalProperties": false
    })));
    let prose = greedy(
        vec![
            Message::system(system),
            Message::user(format!(
                "{opening} Compare the two places in a few sentences."
            )),
        ],
        max_tokens,
    );
    vec![action, prose]
}

/// The same greedy calls, alternately one token at a time and with `draft` drafting
/// `draft_tokens` tokens a step, each round in new sessions (so both sides evaluate their
/// prompts, the draft's too).
pub async fn speculative(
    config: &BenchConfig,
    draft: std::path::PathBuf,
    draft_tokens: usize,
    max_tokens: u32,
    progress: impl FnMut(usize),
) -> Result<SpeculativeReport, ModelError> {
    let mut cfg = config.model.clone();
    cfg.prefix_cache = true;
    cfg.shared_prefixes = false;
    let plain = LocalModel::load(&cfg)?;
    cfg.draft = Some(draft.clone());
    cfg.draft_tokens = draft_tokens;
    let fast = LocalModel::load(&cfg)?;
    let calls = speculative_calls(max_tokens);
    for m in [&plain, &fast] {
        m.chat_in(&ladder_core::Session::new(), &calls[0], None)
            .await?; // warm up
    }
    let before = fast.draft_acceptance().unwrap_or_default();
    let (plain, fast, calls) = (&plain, &fast, &calls);
    type Figures = (u64, Vec<String>);
    let ([plain_ms, fast_ms], [plain_figures, fast_figures]): (_, [Figures; 2]) =
        alternate(config.rounds, progress, |speculate| async move {
            let m = if speculate { fast } else { plain };
            let (mut tokens, mut texts) = (0, Vec::new());
            for c in calls {
                let r = m.chat_in(&ladder_core::Session::new(), c, None).await?;
                tokens += r.usage.completion_tokens;
                texts.push(r.text);
            }
            Ok((tokens, texts))
        })
        .await?;
    let after = fast.draft_acceptance().unwrap_or_default();
    Ok(SpeculativeReport {
        draft: draft
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        draft_tokens,
        rounds: config.rounds,
        plain_tokens: plain_figures.0,
        speculative_tokens: fast_figures.0,
        plain_ms: median(plain_ms),
        speculative_ms: median(fast_ms),
        proposed: after.0 - before.0,
        accepted: after.1 - before.1,
        same_texts: plain_figures
            .1
            .iter()
            .zip(&fast_figures.1)
            .filter(|(a, b)| a == b)
            .count(),
        calls: calls.len(),
    })
}

/// Run `calls` as one batch of parallel sequences (`together`) or one after another, and
/// count the tokens they generated: the two sides of the batching benchmarks.
async fn completion_tokens(
    model: &LocalModel,
    session: &ladder_core::Session,
    calls: &[ChatRequest],
    together: bool,
) -> Result<u64, ModelError> {
    let mut tokens = 0;
    if together {
        for r in model
            .chat_batch(session, calls, vec![None; calls.len()])
            .await
        {
            tokens += r?.usage.completion_tokens;
        }
    } else {
        for c in calls {
            tokens += model.chat(c, None).await?.usage.completion_tokens;
        }
    }
    Ok(tokens)
}

/// The shared-prefix benchmark's figures.
#[derive(Debug, Clone)]
pub struct SharedReport {
    pub runs: usize,
    pub rounds: usize,
    /// Tokens of the system prefix every run starts with.
    pub prefix_tokens: u64,
    /// Prompt tokens of all runs' calls (the same on both sides).
    pub prompt_tokens: u64,
    /// Of those, evaluated: each run's session cache only, and with the shared store.
    pub evaluated_apart: u64,
    pub evaluated_shared: u64,
    /// Median wall time of all runs, each way.
    pub apart_ms: f64,
    pub shared_ms: f64,
}

impl SharedReport {
    pub fn table(&self) -> String {
        format!(
            "\nShared system prefix: {} runs, each two calls (its own opening, then one more turn) \
             after the same {}-token system prompt, one after another on one thread; the store \
             emptied before each round; median of {} rounds\n\
             | mode | wall ms | prompt tokens evaluated (of {}) |\n|---|---|---|\n\
             | each run's session cache only | {:.0} | {} |\n\
             | system prefix shared across runs | {:.0} | {} |\n\
             speed-up: {:.2}x; prompt tokens evaluated: {:.2}x fewer\n",
            self.runs,
            self.prefix_tokens,
            self.rounds,
            self.prompt_tokens,
            self.apart_ms,
            self.evaluated_apart,
            self.shared_ms,
            self.evaluated_shared,
            ratio(self.apart_ms, self.shared_ms),
            if self.evaluated_shared > 0 {
                self.evaluated_apart as f64 / self.evaluated_shared as f64
            } else {
                0.0
            }
        )
    }
}

/// `runs` runs of a loop-shaped strategy (one session each: a call with the run's own
/// opening after a long system prompt of action descriptions, then a second call with one
/// more turn), alternately on a model whose runs share the system prefix's KV cells and on
/// one whose runs each evaluate it; 8 tokens per call.
pub async fn shared(
    config: &BenchConfig,
    runs: usize,
    progress: impl FnMut(usize),
) -> Result<SharedReport, ModelError> {
    let mut on = config.model.clone();
    on.prefix_cache = true;
    on.shared_prefixes = true;
    let mut off = on.clone();
    off.shared_prefixes = false;
    let (shared_model, apart_model) = (LocalModel::load(&on)?, LocalModel::load(&off)?);
    let system = format!(
        "You are the travel assistant of a holiday company in Norland. At each step choose one \
         action and reply with JSON. Actions: ask (a question for the user), search (a query for \
         the knowledge base), note (what you know so far, condensed), answer (your \
         recommendation with its trade-offs). {}",
        "Ask only for what you need; search before you answer; keep notes short. ".repeat(8)
    );
    let openings = [
        "I'd like to go to the seaside next week, sort it out for me.",
        "Can you find me a beach holiday?",
        "I fancy a few days by the sea. Where should I go?",
        "Plan me a trip to the coast, please.",
        "I need a break by the sea. Any ideas?",
        "Where should I go for a seaside holiday?",
        "Sort me out a seaside trip.",
        "I want to see the sea. Help me pick a place.",
    ];
    let calls = |run: usize| -> Vec<ChatRequest> {
        let first = vec![
            Message::system(system.clone()),
            Message::user(format!("{} (trip {run})", openings[run % openings.len()])),
        ];
        let mut second = first.clone();
        second.push(Message::assistant(
            r#"{"action": "ask", "text": "Domestic or abroad?"}"#,
        ));
        second.push(Message::user("Abroad, somewhere quiet, for five days."));
        [first, second]
            .into_iter()
            .map(|m| {
                let mut r = ChatRequest::new(m);
                r.sampling.max_tokens = 8;
                r
            })
            .collect()
    };
    let prefix_tokens = shared_model.shared_prefix_tokens(&calls(0)[0]).unwrap_or(0) as u64;
    let (shared_model, apart_model, calls) = (&shared_model, &apart_model, &calls);
    // Side B shares the system prefix across runs; side A evaluates it in every run.
    let ([apart, together], [(prompt_tokens, evaluated_apart), (_, evaluated_shared)]) =
        alternate(config.rounds, progress, |sharing| async move {
            let model = if sharing { shared_model } else { apart_model };
            model.clear_shared_prefixes();
            let (mut p, mut e) = (0, 0);
            for run in 0..runs {
                let session = ladder_core::Session::new();
                for r in calls(run) {
                    let out = model.chat_in(&session, &r, None).await?;
                    p += out.usage.prompt_tokens;
                    e += out.usage.prompt_tokens - out.usage.cached_tokens;
                }
            }
            Ok((p, e))
        })
        .await?;
    Ok(SharedReport {
        runs,
        rounds: config.rounds,
        prefix_tokens,
        prompt_tokens,
        evaluated_apart,
        evaluated_shared,
        apart_ms: median(apart),
        shared_ms: median(together),
    })
}

/// The memory-bandwidth ceiling of single-sequence generation: each decode step reads every
/// weight once, so one sequence cannot go faster than (streaming read bandwidth) / (weight
/// bytes) tokens a second, whatever the code does.
#[derive(Debug, Clone)]
pub struct CeilingReport {
    pub threads: u32,
    /// Bytes of the GGUF file (its weights, nearly all of it).
    pub weight_bytes: u64,
    /// The best of a few streaming reads of a buffer larger than any cache, in bytes/s,
    /// with `threads` threads reading a share each.
    pub read_bytes_s: f64,
    /// Single-sequence generation measured through the trait (tok/s).
    pub measured_tok_s: f64,
}

impl CeilingReport {
    pub fn ceiling_tok_s(&self) -> f64 {
        if self.weight_bytes == 0 {
            0.0
        } else {
            self.read_bytes_s / self.weight_bytes as f64
        }
    }

    pub fn table(&self) -> String {
        let ceiling = self.ceiling_tok_s();
        format!(
            "\nMemory-bandwidth ceiling of one sequence ({} thread(s)): {:.1} GB/s streaming read / {:.2} GB of weights = {:.1} tok/s; measured {:.1} tok/s ({:.0}% of the ceiling)\n",
            self.threads,
            self.read_bytes_s / 1e9,
            self.weight_bytes as f64 / 1e9,
            ceiling,
            self.measured_tok_s,
            100.0 * ratio(self.measured_tok_s, ceiling)
        )
    }
}

/// The machine's streaming read bandwidth in bytes/s: `threads` threads each summing its
/// share of a 512 MiB buffer, the best of 5 passes (the first touches the pages).
pub fn read_bandwidth(threads: u32) -> f64 {
    const WORDS: usize = 64 << 20; // 512 MiB of u64
    let buffer: Vec<u64> = (0..WORDS as u64).collect();
    let threads = threads.max(1) as usize;
    let share = WORDS.div_ceil(threads);
    let mut best = 0.0f64;
    for _ in 0..5 {
        let started = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = buffer
                .chunks(share)
                .map(|part| s.spawn(move || part.iter().fold(0u64, |a, &w| a.wrapping_add(w))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .fold(0u64, u64::wrapping_add)
        });
        std::hint::black_box(total);
        let secs = started.elapsed().as_secs_f64();
        if secs > 0.0 {
            best = best.max((WORDS * 8) as f64 / secs);
        }
    }
    best
}

/// Call `i` of the sequences and runs-in-flight tests: a short question about the coast
/// (eight different ones), greedy, `max_tokens` at most.
fn short_question(i: usize, max_tokens: u32) -> ChatRequest {
    let topics = [
        "the tides",
        "lighthouses",
        "sea glass",
        "rock pools",
        "sand dunes",
        "harbour seals",
        "sea kayaking",
        "coastal paths",
    ];
    let mut r = ChatRequest::new(vec![
        Message::system("You are a helpful assistant. Answer in a short paragraph."),
        Message::user(format!("Tell me about {}.", topics[i % topics.len()])),
    ]);
    r.sampling.max_tokens = max_tokens;
    r
}

/// `a / b`, 0 where `b` is 0 (a side that measured nothing).
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// Tokens per second (0 for no time).
fn tok_s(tokens: u64, ms: f64) -> f64 {
    if ms > 0.0 {
        tokens as f64 * 1000.0 / ms
    } else {
        0.0
    }
}

/// Aggregate generation with several sequences in one decode loop against the same calls
/// one after another.
#[derive(Debug, Clone)]
pub struct SequencesReport {
    pub rounds: usize,
    pub max_tokens: u32,
    /// Per count of sequences: (count, tok/s one after another, tok/s in one loop,
    /// completion tokens each way).
    pub rows: Vec<SequencesRow>,
}

#[derive(Debug, Clone, Copy)]
pub struct SequencesRow {
    pub sequences: usize,
    pub sequential_tok_s: f64,
    pub batched_tok_s: f64,
    pub sequential_tokens: u64,
    pub batched_tokens: u64,
}

impl SequencesReport {
    pub fn table(&self) -> String {
        let mut s = format!(
            "\nSequences in one decode loop: N independent calls (different questions, up to {} tokens each), one batch of N parallel sequences against the N calls one after another; aggregate completion tok/s, median of {} rounds\n\
             | sequences | one after another (tok/s) | one loop (tok/s) | ratio | tokens (after another / loop) |\n|---|---|---|---|---|\n",
            self.max_tokens, self.rounds
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.2}x | {} / {} |\n",
                r.sequences,
                r.sequential_tok_s,
                r.batched_tok_s,
                ratio(r.batched_tok_s, r.sequential_tok_s),
                r.sequential_tokens,
                r.batched_tokens
            ));
        }
        s
    }
}

/// For each count in `counts`: that many independent greedy calls (short, different
/// questions; `max_tokens` each), alternately as one [`LanguageModel::chat_batch`] (one
/// loop decoding a token of every sequence per step) and one after another. Prefix reuse
/// is off on both sides, so only the batching differs.
pub async fn sequences(
    config: &BenchConfig,
    counts: &[usize],
    max_tokens: u32,
    mut progress: impl FnMut(usize, usize),
) -> Result<SequencesReport, ModelError> {
    let mut cfg = config.model.clone();
    cfg.prefix_cache = false;
    cfg.parallel = true;
    let model = LocalModel::load(&cfg)?;
    let call = |i: usize| short_question(i, max_tokens);
    model.chat(&call(0), None).await?; // warm up
    let session = ladder_core::Session::new();
    let mut rows = Vec::new();
    for (n, &count) in counts.iter().enumerate() {
        let calls: Vec<ChatRequest> = (0..count.max(1)).map(call).collect();
        let (model, calls, session) = (&model, &calls, &session);
        let ([sequential, batched], [sequential_tokens, batched_tokens]) = alternate(
            config.rounds,
            |_| {},
            |together| completion_tokens(model, session, calls, together),
        )
        .await?;
        rows.push(SequencesRow {
            sequences: count,
            sequential_tok_s: tok_s(sequential_tokens, median(sequential)),
            batched_tok_s: tok_s(batched_tokens, median(batched)),
            sequential_tokens,
            batched_tokens,
        });
        progress(n + 1, counts.len());
    }
    Ok(SequencesReport {
        rounds: config.rounds,
        max_tokens,
        rows,
    })
}

/// Runs in flight: N runs at once, each its own context with `threads / N` threads (at
/// least 1) against all N through one shared decode loop with every thread: what the
/// shared loop gains or loses over per-run contexts (`--deterministic`).
#[derive(Debug, Clone)]
pub struct RunsReport {
    pub rounds: usize,
    pub max_tokens: u32,
    pub threads: u32,
    pub rows: Vec<RunsRow>,
}

#[derive(Debug, Clone, Copy)]
pub struct RunsRow {
    pub runs: usize,
    pub per_run_tok_s: f64,
    pub shared_tok_s: f64,
    pub per_run_tokens: u64,
    pub shared_tokens: u64,
}

impl RunsReport {
    pub fn table(&self) -> String {
        let mut s = format!(
            "\nRuns in flight: N runs at once (different questions, up to {} tokens each, a session each), their own contexts ({} threads shared among them) against one shared decode loop ({} threads); aggregate completion tok/s, prompts included, median of {} rounds\n\
             | runs | per-run contexts (tok/s) | shared loop (tok/s) | ratio | tokens (per-run / shared) |\n|---|---|---|---|---|\n",
            self.max_tokens, self.threads, self.threads, self.rounds
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.2}x | {} / {} |\n",
                r.runs,
                r.per_run_tok_s,
                r.shared_tok_s,
                ratio(r.shared_tok_s, r.per_run_tok_s),
                r.per_run_tokens,
                r.shared_tokens
            ));
        }
        s
    }
}

/// For each count in `counts`: that many greedy calls at once, each in a new session (a
/// run), alternately through a model with per-run contexts and through one with the shared
/// decode loop. Both keep prefix reuse on; the calls' common system prompt is short.
pub async fn runs_in_flight(
    config: &BenchConfig,
    counts: &[usize],
    max_tokens: u32,
    mut progress: impl FnMut(usize, usize),
) -> Result<RunsReport, ModelError> {
    let threads = config.model.threads.max(1);
    let call = |i: usize| short_question(i, max_tokens);
    let mut rows = Vec::new();
    for (n, &count) in counts.iter().enumerate() {
        let count = count.max(1);
        let mut per_run_cfg = config.model.clone();
        per_run_cfg.threads = (threads / count as u32).max(1);
        per_run_cfg.shared_runs = 0;
        let per_run = LocalModel::load(&per_run_cfg)?;
        let mut shared_cfg = config.model.clone();
        shared_cfg.threads = threads;
        shared_cfg.shared_runs = count;
        let shared = LocalModel::load(&shared_cfg)?;
        per_run.chat(&call(0), None).await?; // warm up
        shared.chat(&call(0), None).await?;
        let calls: Vec<ChatRequest> = (0..count).map(call).collect();
        let ([a, b], [a_tokens, b_tokens]) = alternate(
            config.rounds,
            |_| {},
            |use_shared| {
                let model = if use_shared { &shared } else { &per_run }.clone();
                let runs: Vec<_> = calls
                    .iter()
                    .map(|c| {
                        let (model, c) = (model.clone(), c.clone());
                        tokio::spawn(async move {
                            model.chat_in(&ladder_core::Session::new(), &c, None).await
                        })
                    })
                    .collect();
                async move {
                    let mut tokens = 0;
                    for run in runs {
                        let response = run
                            .await
                            .map_err(|e| ModelError::Generation(format!("a run failed: {e}")))??;
                        tokens += response.usage.completion_tokens;
                    }
                    Ok::<u64, ModelError>(tokens)
                }
            },
        )
        .await?;
        rows.push(RunsRow {
            runs: count,
            per_run_tok_s: tok_s(a_tokens, median(a)),
            shared_tok_s: tok_s(b_tokens, median(b)),
            per_run_tokens: a_tokens,
            shared_tokens: b_tokens,
        });
        progress(n + 1, counts.len());
    }
    Ok(RunsReport {
        rounds: config.rounds,
        max_tokens,
        threads,
        rows,
    })
}
