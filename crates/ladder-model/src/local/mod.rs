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
//!   one context with one unified KV cache: with prefix reuse, the run's session context
//!   (8 sequences), where each sequence starts from the cells the session already holds
//!   (a debate's revision round from its draft round: each agent's prompt and draft) and
//!   keeps its prompt and output for the run's next calls; without it, a fresh context.
//!   When the prompts' common prefix is longer than what the cache serves, it is decoded
//!   once with every sequence's id, so its KV cells are shared (reported as
//!   `cached_tokens` of every call but the first); then each sequence's rest; then each
//!   decode step carries one token of every sequence still generating. Each
//!   call keeps its own sampler (grammar, seed), stop strings, stream and `max_tokens`.
//!   Bytes: like prefix reuse, the prompt is evaluated in two parts, and a step decodes
//!   several rows at once, so a near-tie can flip against one call at a time (measured in
//!   `tests/local.rs`: against the same split done one call at a time the texts agreed on
//!   their first 36 and 141 characters). Deterministic for a given batch;
//!   `--no-parallel` runs the calls one after another; the trace header records which.
//! - Speculative decoding (off by default; `draft`, `--draft-model`): greedy calls in a
//!   session get a few tokens drafted by a smaller model of the same tokenizer and check
//!   them in one batch, keeping the run the model's own sampler agrees with (its grammar
//!   included) plus its own next token; see `speculative.rs`. Bytes: read off a batch's
//!   logits, so a near-tie can flip against one token at a time (measured in
//!   `tests/local.rs` and `ladder bench-model`); the trace header names the draft model.
//! - The shared decode loop (off by default, `shared_runs`; the CLI turns it on with
//!   `--shared-loop`, or for a model whose measured default it is in `models.toml`: none
//!   of the three on a 2-core machine, where it measured slower): every call of every run
//!   goes to one thread that owns one context, and each step decodes one token of every
//!   generating call and chunks of the prompts being read in one batch (see `shared.rs`).
//!   The paths above (per-run session contexts, the prefix store, `parallel.rs`, the
//!   draft) are then not used: the loop keeps each run's cells in its own sequences and
//!   shares prefixes across runs by `seq_cp`. Bytes: a call's logits come from batches that
//!   hold other runs' rows, so its text can differ from the same call alone (measured in
//!   `tests/shared_loop.rs`); the trace header records `decode_loop`.
//! - Prompts longer than one batch (512 tokens) are decoded in batches; sampling reads the
//!   logits of the last token of the last batch.
//! - Generation runs on a blocking thread with an explicit thread count; it never uses
//!   more threads than configured.
//! - Text is streamed only once it is valid UTF-8 and cannot be the start of a stop string.
//! - Dropping a call's future stops its generation at the next token (or prompt batch).
//! - A constraint is turned into GBNF and parsed with stderr captured once per distinct
//!   grammar ([`LanguageModel::check_constraint`] does it up front); later calls reuse the
//!   converted grammar and never touch the process's stderr again.

mod context;
mod file;
mod generate;
mod grammar;
mod parallel;
mod prefix;
mod reuse;
mod shared;
mod speculative;
mod stream;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use ladder_core::{
    ChatRequest, ChatResponse, Constraint, LanguageModel, Message, ModelError, ModelInfo, Session,
    TokenCount, TokenSink,
};
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

pub(crate) use context::context_size;
use file::check_magic;
use prefix::SavedPrefix;
use speculative::Draft;
use stream::StopOnDrop;

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
    /// With `prefix_cache` and `parallel`: decode a batch in the run's session context,
    /// each sequence starting from the cells the session holds and keeping its own
    /// (default on; off: a fresh context per batch).
    pub batch_reuse: bool,
    /// A smaller model of the same tokenizer that drafts tokens for greedy calls in a
    /// session (speculative decoding; default none). See `speculative.rs`.
    pub draft: Option<PathBuf>,
    /// Tokens the draft proposes per step.
    pub draft_tokens: usize,
    /// Serve every call from one decode loop for this many runs in flight (continuous
    /// batching; see `shared.rs`), with `threads` threads in all; 0: each run has its own
    /// contexts (the default; a run's bytes then do not depend on what else runs). The
    /// loop needs `prefix_cache` and no `draft`; without them it is not used.
    pub shared_runs: usize,
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
            batch_reuse: true,
            draft: None,
            draft_tokens: 4,
            shared_runs: 0,
        }
    }
}

/// A GGUF model loaded with llama.cpp.
#[derive(Clone)]
pub struct LocalModel {
    inner: Arc<Inner>,
    /// The shared decode loop, when calls go through one.
    shared: Option<Arc<shared::Handle>>,
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
    batch_reuse: bool,
    /// The draft model, when speculating.
    draft: Option<Draft>,
    /// Saved KV cells of system prefixes, shared by every run's session (newest last).
    prefixes: Mutex<Vec<Arc<SavedPrefix>>>,
    /// The model file's SHA-256, for manifests (computed on first use).
    path: PathBuf,
    sha256: std::sync::OnceLock<String>,
    /// GBNF of each constraint already parsed successfully, by the constraint's JSON.
    grammars: Mutex<HashMap<String, String>>,
}

impl LocalModel {
    /// Load the model file (and the draft model's, when one is configured). Fails with a
    /// message that says what to do when a file is missing, is not a GGUF file, or is
    /// damaged, or when the draft's vocabulary is not the model's.
    pub fn load(config: &LocalConfig) -> Result<LocalModel, ModelError> {
        let path = &config.path;
        let shown = path.display().to_string();
        let load_err = |reason: String| ModelError::Load {
            path: shown.clone(),
            reason,
        };
        let model = load_weights(path)?;
        let draft = match &config.draft {
            None => None,
            Some(draft_path) => {
                let draft = load_weights(draft_path)?;
                if draft.n_vocab() != model.n_vocab() {
                    return Err(load_err(format!(
                        "the draft model {} has a vocabulary of {} tokens, this model {}: a draft must share the model's tokenizer (qwen2.5-coder-0.5b drafts for qwen2.5-coder-1.5b)",
                        draft_path.display(),
                        draft.n_vocab(),
                        model.n_vocab()
                    )));
                }
                Some(Draft {
                    model: draft,
                    name: file_name(draft_path),
                    tokens: config.draft_tokens.max(1),
                    proposed: AtomicU64::new(0),
                    accepted: AtomicU64::new(0),
                })
            }
        };
        let template = model.chat_template(None).map_err(|e| {
            load_err(format!(
                "it has no usable chat template ({e}); ladder needs a chat model"
            ))
        })?;
        let context_train = model.n_ctx_train();
        let inner = Arc::new(Inner {
            model,
            template,
            name: file_name(path),
            threads: config.threads.max(1) as i32,
            max_context: config.max_context.min(context_train).max(64),
            prefix_cache: config.prefix_cache,
            parallel: config.parallel,
            shared_prefixes: config.shared_prefixes,
            batch_reuse: config.batch_reuse,
            draft,
            prefixes: Mutex::new(Vec::new()),
            path: path.clone(),
            sha256: std::sync::OnceLock::new(),
            grammars: Mutex::new(HashMap::new()),
        });
        let shared =
            (config.shared_runs > 0 && config.prefix_cache && inner.draft.is_none()).then(|| {
                let runs = config.shared_runs;
                let shape = shared::Shape {
                    // Room for each run's working context and one more, at least one
                    // call's largest.
                    n_ctx: ((runs as u32 + 1) * prefix::CACHED_CONTEXT)
                        .clamp(inner.max_context, 4 * inner.max_context),
                    sequences: (runs * context::SESSION_SEQUENCES + 8).min(256),
                    threads: inner.threads,
                };
                Arc::new(shared::Handle::start(Arc::clone(&inner), shape))
            });
        Ok(LocalModel { inner, shared })
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

    /// Draft tokens proposed and accepted so far, when the model speculates.
    pub fn draft_acceptance(&self) -> Option<(u64, u64)> {
        self.inner.draft.as_ref().map(|d| {
            (
                d.proposed.load(Ordering::Relaxed),
                d.accepted.load(Ordering::Relaxed),
            )
        })
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

    /// The KV cells the shared decode loop's sequences hold now, a prefix shared by
    /// several counted once (None without the loop, or when it does not answer within
    /// 10 s).
    pub fn loop_cells_held(&self) -> Option<usize> {
        self.shared.as_ref()?.cells_held()
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

/// A path's file name, for messages and settings.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Load a GGUF file's weights. Fails with a message that says what to do when the file is
/// missing, is not a GGUF file, or is damaged.
fn load_weights(path: &std::path::Path) -> Result<LlamaModel, ModelError> {
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
    LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|e| {
        let log = native::take_log();
        load_err(format!(
            "{e} (llama.cpp: {}); the file may be truncated or damaged: run `just setup` again to re-install it",
            if log.is_empty() { "no details" } else { &log }
        ))
    })
}

impl Inner {
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
}

impl LocalModel {
    /// Submit a call to the shared decode loop as `session`'s lane `lane`; the receiver
    /// gets its reply. Fails at once when the prompt is empty or cannot fit.
    fn submit(
        &self,
        handle: &shared::Handle,
        (session, lane): (u64, usize),
        request: &ChatRequest,
        stream: Option<TokenSink>,
        stop: &Arc<AtomicBool>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<ChatResponse, ModelError>>, ModelError> {
        let tokens = self.inner.prompt_tokens(request)?;
        context_size(
            tokens.len(),
            request.sampling.max_tokens,
            self.inner.max_context,
        )?;
        let (reply, receiver) = tokio::sync::oneshot::channel();
        if request.sampling.max_tokens == 0 {
            // Nothing to generate: the empty answer a call one at a time gives.
            let _ = reply.send(Ok(ChatResponse {
                text: String::new(),
                finish: ladder_core::FinishReason::Length,
                usage: ladder_core::Usage {
                    prompt_tokens: tokens.len() as u64,
                    cached_tokens: 0,
                    completion_tokens: 0,
                    estimated: false,
                },
                prompt_ms: 0.0,
                generation_ms: 0.0,
                total_ms: 0.0,
            }));
            return Ok(receiver);
        }
        let system = self.inner.shared_prefix(request, &tokens).unwrap_or(0);
        handle.submit(shared::Job {
            session,
            lane,
            request: request.clone(),
            tokens,
            system,
            stream,
            stop: Arc::clone(stop),
            started: Instant::now(),
            reply,
        })?;
        Ok(receiver)
    }

    /// Calls through the shared decode loop, all at once as lanes 0.. of `session`, their
    /// replies in request order. Dropping the future stops them all.
    async fn through_loop(
        &self,
        handle: &shared::Handle,
        session: u64,
        requests: &[ChatRequest],
        streams: Vec<Option<TokenSink>>,
    ) -> Vec<Result<ChatResponse, ModelError>> {
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = StopOnDrop(Arc::clone(&stop));
        let mut streams = streams.into_iter();
        let receivers: Vec<_> = requests
            .iter()
            .enumerate()
            .map(|(lane, r)| {
                self.submit(handle, (session, lane), r, streams.next().flatten(), &stop)
            })
            .collect();
        let mut replies = Vec::with_capacity(receivers.len());
        for receiver in receivers {
            replies.push(match receiver {
                Ok(receiver) => receiver.await.unwrap_or_else(|_| {
                    Err(ModelError::Generation("the decode loop has stopped".into()))
                }),
                Err(e) => Err(e),
            });
        }
        replies
    }

    /// One call through the shared decode loop.
    async fn one_through_loop(
        &self,
        handle: &shared::Handle,
        session: u64,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.through_loop(handle, session, std::slice::from_ref(request), vec![stream])
            .await
            .pop()
            .unwrap_or_else(|| Err(ModelError::Generation("no result".into())))
    }

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
        if let Some(handle) = &self.shared {
            // A call outside a run: a lane of its own, given back after.
            let session = Session::new().id();
            let _lease = handle.lease(session);
            return self
                .one_through_loop(handle, session, request, stream)
                .await;
        }
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
        if let Some(handle) = &self.shared {
            session.with_state(|| handle.lease(session.id()), |_| ());
            return self
                .one_through_loop(handle, session.id(), request, stream)
                .await;
        }
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
        if let Some(handle) = &self.shared {
            session.with_state(|| handle.lease(session.id()), |_| ());
            return self
                .through_loop(handle, session.id(), requests, streams)
                .await;
        }
        if requests.len() < 2 || !self.inner.parallel {
            return ladder_core::model::one_by_one(self, session, requests, streams).await;
        }
        let inner = Arc::clone(&self.inner);
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = StopOnDrop(Arc::clone(&stop));
        let requests = requests.to_vec();
        let n = requests.len();
        // In the run's session (its cells reused, this batch's kept) unless prefix reuse is
        // off.
        let session = (inner.prefix_cache && inner.batch_reuse).then(|| session.clone());
        match tokio::task::spawn_blocking(move || {
            inner.generate_parallel(session.as_ref(), &requests, streams, &stop)
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
            "batch_reuse": self.inner.prefix_cache && self.inner.parallel && self.inner.batch_reuse,
            "draft": self.inner.draft.as_ref().filter(|_| self.inner.prefix_cache).map(|d| d.name.clone()),
            "draft_tokens": self.inner.draft.as_ref().map(|d| d.tokens),
            "parameters": self.inner.model.n_params(),
            "sha256": self.inner.file_sha256(),
            "catalog_name": crate::catalog::by_file(&self.inner.name).map(|m| m.name.clone()),
            "quantisation": self.inner.quantisation(),
            "decode_loop": match &self.shared {
                Some(h) => serde_json::json!({
                    "shared": true,
                    "context": h.shape.n_ctx,
                    "sequences": h.shape.sequences,
                }),
                None => serde_json::json!({ "shared": false }),
            },
        })
    }

    fn check_constraint(&self, constraint: &Constraint) -> Result<(), ModelError> {
        self.inner.grammar_sampler(constraint).map(drop)
    }
}
