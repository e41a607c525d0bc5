//! `local`: the embedded default. A GGUF chat model run in-process by llama.cpp.
//!
//! Invariants:
//! - Prefix reuse (on by default, `prefix_cache`): calls of one run ([`Session`]) share a
//!   llama.cpp context; a call evaluates only the prompt tokens after the longest common
//!   prefix with what the cache holds (the previous call's prompt and output) and reports
//!   the rest as `cached_tokens`. A call outside a session ([`LanguageModel::chat`]) gets a
//!   fresh context. Output stays deterministic for a given seed and call sequence, but it
//!   is not always byte-identical to a fresh context's: evaluating a prompt in two parts
//!   (the cached prefix, then the rest) changes the floating-point order of llama.cpp's
//!   batched kernels, and near-ties can flip (measured in `tests/local.rs`: in a three-turn
//!   conversation one reply of two ran 2 tokens longer). `--no-prefix-cache` gives the
//!   fresh-context bytes; the trace header records which mode ran (`model_settings`);
//!   cassettes replay either.
//! - Shared system prefixes (on with prefix reuse, `shared_prefixes`): a prompt's system
//!   prefix (its leading system messages as the template renders them: the assistant's
//!   brief, a loop's action descriptions, a component's instructions) is the same in every
//!   run of a strategy on a suite. When a session's cache lacks it, its KV cells are copied
//!   in from a model-wide store (`llama_state_seq_set_data`) instead of evaluated; the first
//!   run to need one evaluates it alone and saves it. The prompt is always split at the
//!   prefix's end, whether the cells came from the store or were evaluated, so a run's bytes
//!   do not depend on which run came first or on how runs share workers (tested in
//!   `tests/local.rs`); they can differ from a session without the split, as above.
//! - Parallel decoding (on by default, `parallel`): a batch of independent calls
//!   ([`LanguageModel::chat_batch`]: debate agents, votes) runs as parallel sequences of
//!   one fresh context (`n_seq_max` = the calls, one unified KV cache). The prompts'
//!   common prefix is decoded once with every sequence's id, so its KV cells are shared
//!   (reported as `cached_tokens` of every call but the first); then each sequence's rest;
//!   then each decode step carries one token of every sequence still generating. Each
//!   call keeps its own sampler (grammar, seed), stop strings, stream and `max_tokens`.
//!   Bytes: like prefix reuse, the prompt is evaluated in two parts, and a step decodes
//!   several rows at once, so a near-tie can flip against one call at a time (measured in
//!   `tests/local.rs`: against the same split done one call at a time the texts agreed on
//!   their first 36 and 141 characters). Deterministic for a given batch;
//!   `--no-parallel` runs the calls one after another; the trace header records which.
//! - Prompts longer than one batch (512 tokens) are decoded in batches; sampling reads the
//!   logits of the last token of the last batch.
//! - Generation runs on a blocking thread with an explicit thread count; it never uses
//!   more threads than configured.
//! - Text is streamed only once it is valid UTF-8 and cannot be the start of a stop string.
//! - Dropping a call's future stops its generation at the next token (or prompt batch).
//! - A constraint is turned into GBNF and parsed with stderr captured once per distinct
//!   grammar ([`LanguageModel::check_constraint`] does it up front); later calls reuse the
//!   converted grammar and never touch the process's stderr again.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use ladder_core::{
    ChatRequest, ChatResponse, Constraint, FinishReason, LanguageModel, Message, ModelError,
    ModelInfo, Session, TokenCount, TokenSink, Usage,
};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::session::{LlamaStateSeqFlags, SeqState};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::native;
use crate::timing::ms_since;

/// Tokens decoded per batch while reading the prompt.
const BATCH: usize = 512;

/// How to run a local model.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub path: PathBuf,
    /// Threads for generation and prompt processing (default 1 per concurrent run).
    pub threads: u32,
    /// The largest context a call may use, in tokens.
    pub max_context: u32,
    /// Keep each run's context between its calls and evaluate only the tokens after the
    /// longest common prefix with what its cache holds (default on; see the module docs
    /// for what it changes).
    pub prefix_cache: bool,
    /// Decode a batch of independent calls ([`LanguageModel::chat_batch`]: debate agents,
    /// votes) as parallel sequences of one context, their common prompt prefix evaluated
    /// once (default on).
    pub parallel: bool,
    /// With `prefix_cache`: share the KV cells of a prompt's system prefix across runs
    /// (default on; see the module docs).
    pub shared_prefixes: bool,
}

impl LocalConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalConfig {
            path: path.into(),
            threads: 1,
            max_context: 8192,
            prefix_cache: true,
            parallel: true,
            shared_prefixes: true,
        }
    }
}

/// A GGUF model loaded with llama.cpp.
#[derive(Clone)]
pub struct LocalModel {
    inner: Arc<Inner>,
}

struct Inner {
    model: LlamaModel,
    template: LlamaChatTemplate,
    name: String,
    threads: i32,
    max_context: u32,
    prefix_cache: bool,
    parallel: bool,
    shared_prefixes: bool,
    /// Saved KV cells of system prefixes, shared by every run's session (newest last).
    prefixes: Mutex<Vec<Arc<SavedPrefix>>>,
    /// The model file's SHA-256, for manifests (computed on first use).
    path: PathBuf,
    sha256: std::sync::OnceLock<String>,
    /// GBNF of each constraint already parsed successfully, by the constraint's JSON.
    grammars: Mutex<HashMap<String, String>>,
}

impl LocalModel {
    /// Load the model file. Fails with a message that says what to do when the file is
    /// missing, is not a GGUF file, or is damaged.
    pub fn load(config: &LocalConfig) -> Result<LocalModel, ModelError> {
        let path = &config.path;
        let shown = path.display().to_string();
        let load_err = |reason: String| ModelError::Load {
            path: shown.clone(),
            reason,
        };
        if !path.exists() {
            return Err(ModelError::NotInstalled { path: shown });
        }
        check_magic(path).map_err(load_err)?;
        let backend = native::backend();
        native::clear_log();
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| {
                let log = native::take_log();
                load_err(format!(
                    "{e} (llama.cpp: {}); the file may be truncated or damaged: run `just setup` again to re-install it",
                    if log.is_empty() { "no details" } else { &log }
                ))
            })?;
        let template = model.chat_template(None).map_err(|e| {
            load_err(format!(
                "it has no usable chat template ({e}); ladder needs a chat model"
            ))
        })?;
        let context_train = model.n_ctx_train();
        Ok(LocalModel {
            inner: Arc::new(Inner {
                model,
                template,
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(shown),
                threads: config.threads.max(1) as i32,
                max_context: config.max_context.min(context_train).max(64),
                prefix_cache: config.prefix_cache,
                parallel: config.parallel,
                shared_prefixes: config.shared_prefixes,
                prefixes: Mutex::new(Vec::new()),
                path: path.clone(),
                sha256: std::sync::OnceLock::new(),
                grammars: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The prompt text the model sees for these messages (the GGUF's own chat template).
    pub fn render(&self, messages: &[Message]) -> Result<String, ModelError> {
        self.inner.render(messages)
    }

    /// Tokens of the rendered prompt for these messages.
    pub fn count_prompt_tokens(&self, messages: &[Message]) -> Result<usize, ModelError> {
        let prompt = self.inner.render(messages)?;
        Ok(self.inner.tokenize(&prompt).len())
    }

    pub(crate) fn model(&self) -> &LlamaModel {
        &self.inner.model
    }

    pub(crate) fn threads(&self) -> i32 {
        self.inner.threads
    }

    /// Generate on the current thread (it blocks; async callers use [`LanguageModel::chat`]).
    pub fn chat_blocking(
        &self,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.inner
            .generate(request, stream, &AtomicBool::new(false))
    }

    /// How many system prefixes the cross-run store holds now.
    pub fn shared_prefixes_held(&self) -> usize {
        self.inner.store().len()
    }

    /// The length in tokens of the system prefix a request's KV cells would be shared by
    /// (None when it has none worth sharing, or sharing is off).
    pub fn shared_prefix_tokens(&self, request: &ChatRequest) -> Option<usize> {
        let tokens = self.inner.prompt_tokens(request).ok()?;
        self.inner.shared_prefix(request, &tokens)
    }

    /// Empty the cross-run store (a benchmark's rounds each start from nothing).
    pub fn clear_shared_prefixes(&self) {
        self.inner.store().clear();
    }

    /// How many distinct grammars have been converted and parsed so far.
    pub fn grammars_parsed(&self) -> usize {
        self.inner
            .grammars
            .lock()
            .map(|g| g.len())
            .unwrap_or_default()
    }
}

fn check_magic(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    f.read_exact(&mut magic).map_err(|_| {
        "it is shorter than a GGUF header: run `just setup` again to re-install it".to_string()
    })?;
    if &magic != b"GGUF" {
        return Err(format!(
            "it is not a GGUF file (it starts with {magic:02x?}, a GGUF file starts with \"GGUF\")"
        ));
    }
    Ok(())
}

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

/// llama.cpp's name for a GGUF `general.file_type` code (`llama_ftype`).
fn file_type_name(code: &str) -> String {
    let name = match code.trim() {
        "0" => "F32",
        "1" => "F16",
        "2" => "Q4_0",
        "3" => "Q4_1",
        "7" => "Q8_0",
        "8" => "Q5_0",
        "9" => "Q5_1",
        "10" => "Q2_K",
        "11" => "Q3_K_S",
        "12" => "Q3_K_M",
        "13" => "Q3_K_L",
        "14" => "Q4_K_S",
        "15" => "Q4_K_M",
        "16" => "Q5_K_S",
        "17" => "Q5_K_M",
        "18" => "Q6_K",
        "32" => "BF16",
        other => return format!("file_type {other}"),
    };
    name.into()
}

/// The SHA-256 of a file: read from `just setup`'s `FILE.verified` note when its size and
/// modification time still match (so a run does not hash 100 MB again), else computed.
fn file_sha256(path: &Path) -> String {
    if let Some(sha) = crate::catalog::verified_sha256(path) {
        return sha;
    }
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    match std::fs::File::open(path).and_then(|mut f| std::io::copy(&mut f, &mut hasher)) {
        Ok(_) => hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        Err(e) => format!("unreadable: {e}"),
    }
}

impl Inner {
    fn file_sha256(&self) -> String {
        self.sha256.get_or_init(|| file_sha256(&self.path)).clone()
    }

    /// The catalog's word for the weights' quantisation, else the GGUF's own
    /// `general.file_type` named as llama.cpp names it.
    fn quantisation(&self) -> String {
        if let Some(m) = crate::catalog::by_file(&self.name) {
            return m.quantisation.clone();
        }
        match self.model.meta_val_str("general.file_type") {
            Ok(code) => file_type_name(&code),
            Err(_) => "unknown".into(),
        }
    }

    fn render(&self, messages: &[Message]) -> Result<String, ModelError> {
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ModelError::Generation(format!("a message cannot be passed to llama.cpp: {e}"))
            })?;
        self.model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| ModelError::Generation(format!("the chat template failed: {e}")))
    }

    fn tokenize(&self, prompt: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(prompt.as_bytes(), true, true)
    }

    fn sampler(&self, request: &ChatRequest) -> Result<LlamaSampler, ModelError> {
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

    /// A grammar sampler for a constraint. The first time a constraint is seen it is
    /// converted and parsed with stderr captured (llama.cpp prints parse errors there);
    /// after that the cached GBNF is used directly.
    fn grammar_sampler(&self, constraint: &Constraint) -> Result<LlamaSampler, ModelError> {
        let key = ladder_core::model::canonical_json(constraint);
        let known = self
            .grammars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(gbnf) = known {
            return LlamaSampler::grammar(&self.model, &gbnf, "root").map_err(|e| {
                ModelError::InvalidGrammar {
                    message: e.to_string(),
                }
            });
        }
        let (sampler, gbnf) = grammar_sampler(&self.model, constraint)?;
        self.grammars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, gbnf);
        Ok(sampler)
    }

    /// Several completions as parallel sequences of one fresh context: the prompts'
    /// common prefix is decoded once with every sequence's id (its KV cells are shared),
    /// then each sequence's own rest; then each decode step carries one token of every
    /// sequence still generating. Results in request order; a request that fails alone
    /// (its prompt, its grammar) fails alone.
    fn generate_parallel(
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

    /// One completion on a fresh context (no prefix reuse).
    fn generate(
        &self,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        stop: &AtomicBool,
    ) -> Result<ChatResponse, ModelError> {
        let started = Instant::now();
        let tokens = self.prompt_tokens(request)?;
        let n_ctx = context_size(tokens.len(), request.sampling.max_tokens, self.max_context)?;
        let mut ctx = new_context(&self.model, n_ctx, self.threads, 1)?;
        self.complete(&mut ctx, &tokens, 0, request, stream, stop, started)
            .map(|(response, _)| response)
    }

    /// The prompt's tokens; an empty prompt is an error.
    fn prompt_tokens(&self, request: &ChatRequest) -> Result<Vec<LlamaToken>, ModelError> {
        let tokens = self.tokenize(&self.render(&request.messages)?);
        if tokens.is_empty() {
            return Err(ModelError::Generation(
                "the prompt is empty after tokenising".into(),
            ));
        }
        Ok(tokens)
    }

    /// Decode `tokens[cached..]` into `ctx` (whose cache already holds `tokens[..cached]`)
    /// and generate. Returns the response and the generated tokens (which the cache now
    /// holds after the prompt).
    #[allow(clippy::too_many_arguments)]
    fn complete(
        &self,
        ctx: &mut LlamaContext<'_>,
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
        let Some(mut logits_at) = decode_prompt(ctx, tokens, cached, stop)? else {
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
                .add(token, pos, &[0], true)
                .map_err(|e| ModelError::Generation(e.to_string()))?;
            ctx.decode(&mut batch)
                .map_err(|e| ModelError::Generation(format!("decode failed: {e}")))?;
            pos += 1;
            logits_at = 0;
        }
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
            generated,
        ))
    }

    /// The length of the request's system prefix in `tokens` (its leading system messages
    /// as the chat template renders them, up to where the first other message's text
    /// starts), when prefixes are shared and it is long enough to be worth it.
    fn shared_prefix(&self, request: &ChatRequest, tokens: &[LlamaToken]) -> Option<usize> {
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
        prefix: &[LlamaToken],
        stop: &AtomicBool,
    ) -> Result<bool, ModelError> {
        let saved = self
            .store()
            .iter()
            .rev()
            .find(|p| p.tokens == prefix)
            .cloned();
        cached.ctx.clear_kv_cache();
        cached.tokens.clear();
        if let Some(saved) = saved {
            if cached.ctx.state_seq_set(&saved.state, 0).is_ok() {
                cached.tokens = prefix.to_vec();
                return Ok(true);
            }
            cached.ctx.clear_kv_cache(); // a state that does not fit: evaluate instead
        }
        if decode_prompt(&mut cached.ctx, prefix, 0, stop)?.is_none() {
            return Err(ModelError::Generation(
                "stopped: the call was abandoned".into(),
            ));
        }
        cached.tokens = prefix.to_vec();
        if let Ok(state) = cached.ctx.state_seq_get(0, LlamaStateSeqFlags::empty()) {
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
    fn store(&self) -> std::sync::MutexGuard<'_, Vec<Arc<SavedPrefix>>> {
        self.prefixes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One completion in a run's session: the session keeps a context whose KV cache holds
    /// the previous call's prompt and output; only the tokens after the longest common
    /// prefix with it are evaluated.
    fn generate_cached(
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
                if slot.as_ref().is_some_and(|c| c.n_ctx < need) {
                    *slot = None; // too small for this call: start over, larger
                }
                if slot.is_none() {
                    let n_ctx = need.max(CACHED_CONTEXT.min(self.max_context));
                    *slot = Some(Cached::new(Arc::clone(self), n_ctx)?);
                }
                let cached = slot.as_mut().expect("filled above");
                // Keep the longest common prefix, but evaluate at least one token: its
                // logits are where sampling starts.
                let mut keep = cached
                    .tokens
                    .iter()
                    .zip(&tokens)
                    .take_while(|(a, b)| a == b)
                    .count()
                    .min(tokens.len() - 1);
                // Prompt tokens evaluated here before `complete` (not served from a cache).
                let mut evaluated = 0;
                if let Some(p) = self.shared_prefix(request, &tokens) {
                    if keep < p {
                        // The session's cache lacks this prompt's system prefix: take its
                        // cells from the shared store (or evaluate them once and share).
                        if !self.load_prefix(cached, &tokens[..p], stop)? {
                            evaluated = p as u64;
                        }
                        keep = p;
                    }
                }
                let uncount = |mut r: ChatResponse| {
                    r.usage.cached_tokens -= evaluated;
                    r
                };
                if !cached
                    .ctx
                    .clear_kv_cache_seq(Some(0), Some(keep as u32), None)
                    .unwrap_or(false)
                {
                    cached.ctx.clear_kv_cache();
                    cached.tokens.clear();
                    return self.finish_cached(cached, &tokens, 0, request, stream, stop, started);
                }
                cached.tokens.truncate(keep);
                self.finish_cached(cached, &tokens, keep, request, stream, stop, started)
                    .map(uncount)
            },
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_cached(
        &self,
        cached: &mut Cached,
        tokens: &[LlamaToken],
        keep: usize,
        request: &ChatRequest,
        stream: Option<&TokenSink>,
        stop: &AtomicBool,
        started: Instant,
    ) -> Result<ChatResponse, ModelError> {
        match self.complete(
            &mut cached.ctx,
            tokens,
            keep,
            request,
            stream,
            stop,
            started,
        ) {
            Ok((response, generated)) => {
                cached.tokens = tokens.to_vec();
                // Every generated token was decoded into the cache, except the one that
                // completed a stop string (generation ended before decoding it).
                let decoded = match response.finish {
                    FinishReason::StopString => generated.len().saturating_sub(1),
                    _ => generated.len(),
                };
                cached.tokens.extend_from_slice(&generated[..decoded]);
                Ok(response)
            }
            Err(e) => {
                // What the cache holds after a failure is unknown: forget it.
                cached.ctx.clear_kv_cache();
                cached.tokens.clear();
                Err(e)
            }
        }
    }
}

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

/// A system prefix's KV cells, saved once and copied into any run's context.
struct SavedPrefix {
    tokens: Vec<LlamaToken>,
    state: SeqState,
}

/// Shortest system prefix worth sharing, in tokens.
const MIN_SHARED_PREFIX: usize = 16;

/// System prefixes the shared store keeps (the oldest goes first): a bench has a few
/// strategies' and components' system prompts per suite.
const SHARED_PREFIXES: usize = 12;

/// Tokens a session's context holds at least (it grows when a call needs more).
const CACHED_CONTEXT: u32 = 4096;

/// A run's llama.cpp context and the tokens its KV cache holds, kept in the run's
/// [`Session`] between calls.
struct Cached {
    // Declared before `_model`: fields drop in order, so the context goes first, while
    // the model it borrows is still alive.
    ctx: LlamaContext<'static>,
    tokens: Vec<LlamaToken>,
    n_ctx: u32,
    _model: Arc<Inner>,
}

// SAFETY: a llama.cpp context may be used from any thread, one thread at a time; the
// session's mutex guarantees the latter.
unsafe impl Send for Cached {}

impl Cached {
    fn new(inner: Arc<Inner>, n_ctx: u32) -> Result<Cached, ModelError> {
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

/// A grammar sampler for a constraint and its GBNF, with llama.cpp's own error message
/// on failure (stderr is captured around the conversion and the parse).
fn grammar_sampler(
    model: &LlamaModel,
    constraint: &Constraint,
) -> Result<(LlamaSampler, String), ModelError> {
    let gbnf = match constraint {
        Constraint::Gbnf(g) => g.clone(),
        Constraint::JsonSchema(schema) => {
            let (result, stderr) =
                native::capture_stderr(|| llama_cpp_2::json_schema_to_grammar(&schema.to_string()));
            result.map_err(|e| ModelError::InvalidGrammar {
                message: format!(
                    "the JSON Schema cannot be turned into a grammar: {e}{}",
                    detail(&stderr)
                ),
            })?
        }
    };
    native::clear_log();
    let (result, stderr) = native::capture_stderr(|| LlamaSampler::grammar(model, &gbnf, "root"));
    let sampler = result.map_err(|e| {
        let mut message = parse_error_line(&stderr).unwrap_or_else(|| e.to_string());
        let log = native::take_log();
        if !log.is_empty() {
            message.push_str(&format!(" ({log})"));
        }
        ModelError::InvalidGrammar { message }
    })?;
    Ok((sampler, gbnf))
}

/// Sets the flag when dropped: a call's future that goes away stops its generation.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn detail(stderr: &str) -> String {
    match stderr.lines().find(|l| !l.trim().is_empty()) {
        Some(l) => format!(" ({})", l.trim()),
        None => String::new(),
    }
}

/// llama.cpp prints "parse: error parsing grammar: <why>" followed by the grammar text.
fn parse_error_line(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.split_once("error parsing grammar: "))
        .map(|(_, why)| format!("llama.cpp could not parse the grammar: {}", why.trim()))
}

enum Push {
    More,
    StopString,
    ReceiverGone,
}

/// Accumulates generated bytes into text, finds stop strings, and streams what is safe.
struct TextOut<'a> {
    bytes: Vec<u8>,
    text: String,
    streamed: usize,
    stop: &'a [String],
    hold: usize,
    sink: Option<&'a TokenSink>,
}

impl<'a> TextOut<'a> {
    fn new(stop: &'a [String], sink: Option<&'a TokenSink>) -> Self {
        let hold = stop
            .iter()
            .map(|s| s.len())
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        TextOut {
            bytes: Vec::new(),
            text: String::new(),
            streamed: 0,
            stop,
            hold,
            sink,
        }
    }

    fn push(&mut self, piece: &[u8]) -> Push {
        self.bytes.extend_from_slice(piece);
        let valid = match std::str::from_utf8(&self.bytes) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Invalid bytes in the middle: keep them as U+FFFD and move on.
            Err(_) => self.bytes.len(),
        };
        if valid > 0 {
            let rest = self.bytes.split_off(valid);
            self.text.push_str(&String::from_utf8_lossy(&self.bytes));
            self.bytes = rest;
        }
        if let Some(at) = self
            .stop
            .iter()
            .filter_map(|s| self.text.find(s.as_str()))
            .min()
        {
            self.text.truncate(at);
            return if self.flush(self.text.len()) {
                Push::StopString
            } else {
                Push::ReceiverGone
            };
        }
        let mut safe = self.text.len().saturating_sub(self.hold);
        while !self.text.is_char_boundary(safe) {
            safe -= 1;
        }
        if self.flush(safe) {
            Push::More
        } else {
            Push::ReceiverGone
        }
    }

    /// Send text up to `end`; false when the receiver is gone.
    fn flush(&mut self, end: usize) -> bool {
        if end <= self.streamed {
            return true;
        }
        let ok = match self.sink {
            Some(sink) => sink.send(self.text[self.streamed..end].to_string()).is_ok(),
            None => true,
        };
        self.streamed = end;
        ok
    }

    fn finish(mut self) -> String {
        if !self.bytes.is_empty() {
            let rest = String::from_utf8_lossy(&self.bytes).into_owned();
            self.text.push_str(&rest);
        }
        let _ = self.flush(self.text.len());
        self.text
    }
}

impl LocalModel {
    /// Run a generation on a blocking thread. Dropping the returned future stops it at its
    /// next token; `total_ms` is the wall time as the caller saw it.
    async fn off_thread(
        &self,
        work: impl FnOnce(&Arc<Inner>, &AtomicBool) -> Result<ChatResponse, ModelError> + Send + 'static,
    ) -> Result<ChatResponse, ModelError> {
        let inner = Arc::clone(&self.inner);
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = StopOnDrop(Arc::clone(&stop));
        let mut response = tokio::task::spawn_blocking(move || work(&inner, &stop))
            .await
            .map_err(|e| ModelError::Generation(format!("the generation thread failed: {e}")))??;
        response.total_ms = ms_since(started);
        Ok(response)
    }
}

#[async_trait]
impl LanguageModel for LocalModel {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("local", self.inner.name.clone())
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let request = request.clone();
        self.off_thread(move |inner, stop| inner.generate(&request, stream.as_ref(), stop))
            .await
    }

    async fn chat_in(
        &self,
        session: &Session,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        if !self.inner.prefix_cache {
            return self.chat(request, stream).await;
        }
        let (request, session) = (request.clone(), session.clone());
        self.off_thread(move |inner, stop| {
            inner.generate_cached(&session, &request, stream.as_ref(), stop)
        })
        .await
    }

    async fn chat_batch(
        &self,
        session: &Session,
        requests: &[ChatRequest],
        streams: Vec<Option<TokenSink>>,
    ) -> Vec<Result<ChatResponse, ModelError>> {
        if requests.len() < 2 || !self.inner.parallel {
            return ladder_core::model::one_by_one(self, session, requests, streams).await;
        }
        let inner = Arc::clone(&self.inner);
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = StopOnDrop(Arc::clone(&stop));
        let requests = requests.to_vec();
        let n = requests.len();
        match tokio::task::spawn_blocking(move || {
            inner.generate_parallel(&requests, streams, &stop)
        })
        .await
        {
            Ok(mut results) => {
                for r in results.iter_mut().flatten() {
                    r.total_ms = ms_since(started);
                }
                results
            }
            Err(e) => (0..n)
                .map(|_| {
                    Err(ModelError::Generation(format!(
                        "the generation thread failed: {e}"
                    )))
                })
                .collect(),
        }
    }

    fn count_tokens(&self, messages: &[Message]) -> Result<TokenCount, ModelError> {
        Ok(TokenCount {
            tokens: self.count_prompt_tokens(messages)? as u64,
            estimated: false,
        })
    }

    fn context_window(&self) -> u64 {
        u64::from(self.inner.max_context)
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "threads": self.inner.threads,
            "max_context": self.inner.max_context,
            "prefix_cache": self.inner.prefix_cache,
            "shared_prefixes": self.inner.prefix_cache && self.inner.shared_prefixes,
            "parallel": self.inner.parallel,
            "parameters": self.inner.model.n_params(),
            "sha256": self.inner.file_sha256(),
            "catalog_name": crate::catalog::by_file(&self.inner.name).map(|m| m.name.clone()),
            "quantisation": self.inner.quantisation(),
        })
    }

    fn check_constraint(&self, constraint: &Constraint) -> Result<(), ModelError> {
        self.inner.grammar_sampler(constraint).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(stop: &[&str], pieces: &[&[u8]]) -> (String, Vec<String>, bool) {
        let stop: Vec<String> = stop.iter().map(|s| s.to_string()).collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut out = TextOut::new(&stop, Some(&tx));
        let mut stopped = false;
        for p in pieces {
            if let Push::StopString = out.push(p) {
                stopped = true;
                break;
            }
        }
        let text = out.finish();
        let mut chunks = Vec::new();
        while let Ok(c) = rx.try_recv() {
            chunks.push(c);
        }
        (text, chunks, stopped)
    }

    #[test]
    fn split_utf8_is_joined_before_streaming() {
        let e = "é".as_bytes();
        let (text, chunks, _) = collect(&[], &[b"caf", &e[..1], &e[1..], b"!"]);
        assert_eq!(text, "café!");
        assert_eq!(chunks.concat(), "café!");
        assert!(chunks.iter().all(|c| !c.contains('\u{fffd}')));
    }

    #[test]
    fn stop_string_across_pieces_is_cut_and_never_streamed() {
        let (text, chunks, stopped) = collect(&["</end>"], &[b"hello </e", b"nd> more"]);
        assert!(stopped);
        assert_eq!(text, "hello ");
        assert_eq!(chunks.concat(), "hello ");
    }

    #[test]
    fn context_size_rounds_up_and_refuses_overflow() {
        assert_eq!(context_size(10, 100, 4096).unwrap(), 256);
        assert_eq!(context_size(300, 100, 4096).unwrap(), 512);
        let e = context_size(4000, 200, 4096).unwrap_err().to_string();
        assert!(e.contains("4000") && e.contains("4096"), "{e}");
    }

    #[test]
    fn grammar_parse_error_line_is_extracted() {
        let stderr = "parse: error parsing grammar: expecting name at )\n\nroot ::= )\n";
        assert_eq!(
            parse_error_line(stderr).unwrap(),
            "llama.cpp could not parse the grammar: expecting name at )"
        );
    }
}
