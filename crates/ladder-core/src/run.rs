//! The one interface every strategy implements, and the context it runs in.
//!
//! A [`Strategy`] gets a [`TaskView`] (the task's id and the user's opening, nothing the
//! judge knows) and a [`RunContext`], and returns an [`Outcome`].
//!
//! Invariants:
//! - A strategy reaches the model, the user, the knowledge base and the form spec only
//!   through the context's methods. The context's state is private and only [`run_task`]
//!   can make one, so a strategy can neither call the model behind the trace's back, nor
//!   raise its budget, nor swap in a context of its own.
//! - Every call checks cancellation and the budget *before* acting and records its event
//!   *after*. Tokens are reserved before a call (the prompt's, counted with the model's
//!   tokenizer, plus `max_tokens`), so a run never spends more than its token budget.
//! - Every model call and user turn is bounded by the time the run has left and stops at
//!   once when the run is cancelled (the backend stops generating).
//! - Concurrent calls ([`RunContext::call_models`]) are recorded in the order they were
//!   requested, whatever order they finish in, so a trace is deterministic.
//! - Each call's seed is derived from the run's seed and the call's id.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

// tokio's clock, so tests of the wall limit and of cancellation run on paused time.
use tokio::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::embed::Embedder;
use crate::form::FormSpec;
use crate::model::{ChatRequest, ChatResponse, LanguageModel, ModelError, Session, TokenSink};
use crate::outcome::{Outcome, StopReason};
use crate::retrieval::{Filter, Hit, RetrievalError, Retriever};
use crate::task::{Budget, Task, TaskView};
use crate::trace::{Actor, Event, EventKind, RunHeader, TraceHit, TraceSink};
use crate::user::{UserChannel, UserError, UserReply};

/// A way of solving tasks with a language model.
#[async_trait]
pub trait Strategy: Send + Sync {
    /// A short, stable name ("direct", "scaffold", "bootstrap").
    fn name(&self) -> &str;

    /// The strategy's settings, for the trace header and bench manifests.
    fn settings(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Whether the strategy reads the suite's form spec (intents, labelled examples,
    /// slots and their questions). Only a strategy that says so gets it.
    fn wants_form(&self) -> bool {
        false
    }

    /// The output constraints the strategy will send. A front end checks them with the
    /// model ([`LanguageModel::check_constraint`]) before a run starts, so a bad grammar
    /// is reported up front (and nothing llama.cpp prints lands on a UI's screen later).
    fn constraints(&self) -> Vec<crate::model::Constraint> {
        Vec::new()
    }

    /// Solve the task. Failures are reported in the outcome's stop reason, not as a panic.
    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome;
}

#[derive(Debug, Default)]
struct CancelState {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

/// Cancels a run from outside (Ctrl-C, the TUI). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelState>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.flag.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.flag.load(Ordering::SeqCst)
    }

    /// Resolves once the run is cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// Why a context call refused or failed. Converts into an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("budget exhausted: {0}")]
    Budget(String),
    #[error("cancelled")]
    Cancelled,
    #[error("the user gave up: {0}")]
    UserGaveUp(String),
    #[error("the strategy broke the run contract: {0}")]
    Contract(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
}

impl RunError {
    pub fn stop_reason(&self) -> StopReason {
        match self {
            RunError::Budget(limit) => StopReason::BudgetExhausted {
                limit: limit.clone(),
            },
            RunError::Cancelled => StopReason::Cancelled,
            RunError::UserGaveUp(_) => StopReason::UserGaveUp,
            other => StopReason::Error {
                message: other.to_string(),
            },
        }
    }
}

/// One model call a strategy asks for: what it is for, which agent makes it (in a
/// multi-agent strategy) and the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub purpose: String,
    pub agent: Option<String>,
    pub request: ChatRequest,
}

impl Call {
    pub fn new(purpose: impl Into<String>, request: ChatRequest) -> Self {
        Call {
            purpose: purpose.into(),
            agent: None,
            request,
        }
    }

    /// The same call, made by `agent`.
    pub fn by(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }
}

/// A piece of generated text as it streams, tagged with the call it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub call: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub text: String,
}

/// Receives streamed tokens of every call of a run.
pub type TokenStream = tokio::sync::mpsc::UnboundedSender<Token>;

/// A final answer: its text and the entities it commits to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub text: String,
    pub picks: Vec<String>,
}

impl From<String> for Answer {
    fn from(text: String) -> Self {
        Answer {
            text,
            picks: Vec::new(),
        }
    }
}

impl From<&str> for Answer {
    fn from(text: &str) -> Self {
        Answer::from(text.to_string())
    }
}

/// Everything a run is set up with. Plain configuration: only [`run_task`] turns it into
/// the [`RunContext`] a strategy sees.
pub struct RunSetup {
    pub model: Arc<dyn LanguageModel>,
    pub budget: Budget,
    /// The run's seed; call `i` is sampled with a seed derived from it and `i`.
    pub seed: u64,
    pub user: Option<Box<dyn UserChannel>>,
    /// Who plays the user and their settings, for the trace header.
    pub user_settings: serde_json::Value,
    pub retriever: Option<Arc<dyn Retriever>>,
    /// The embedding model, for strategies that compare texts (a classifier, a form's
    /// slot extractor, sentence selection).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// The suite's form spec; handed to the strategy only when it asks for it.
    pub form: Option<FormSpec>,
    /// Where events go (and, with [`TraceSink::to_file`], the file they are written to).
    pub trace: TraceSink,
    pub cancel: Cancel,
    /// Receives generated text live; `None` for batch runs.
    pub tokens: Option<TokenStream>,
    /// SHA-256 of the suite's files, when the task is a suite's.
    pub suite_hash: String,
    /// The suite's assistant brief, handed to the strategy in its [`TaskView`].
    pub brief: String,
    /// The titles of the knowledge base's documents: the names a strategy with grounded
    /// picks may pick from (part of the knowledge base, which every strategy may see).
    pub names: Vec<String>,
}

impl RunSetup {
    pub fn new(model: Arc<dyn LanguageModel>, budget: Budget) -> Self {
        RunSetup {
            model,
            budget,
            seed: 0,
            user: None,
            user_settings: serde_json::Value::Null,
            retriever: None,
            embedder: None,
            form: None,
            trace: TraceSink::new(),
            cancel: Cancel::default(),
            tokens: None,
            suite_hash: String::new(),
            brief: String::new(),
            names: Vec::new(),
        }
    }

    pub fn with_user(mut self, user: Box<dyn UserChannel>) -> Self {
        self.user = Some(user);
        self
    }

    pub fn with_retriever(mut self, retriever: Arc<dyn Retriever>) -> Self {
        self.retriever = Some(retriever);
        self
    }
}

/// What a run produced: its outcome and its trace.
pub struct RunResult {
    pub outcome: Outcome,
    pub trace: TraceSink,
}

impl RunResult {
    pub fn events(&self) -> &[Event] {
        self.trace.events()
    }
}

/// Everything a strategy may use during one run. Made only by [`run_task`].
///
/// A strategy cannot read the trace either: a user turn's event records which profile
/// slots the simulated user matched, which is the judge's knowledge, not the assistant's.
/// A strategy keeps its own history.
///
/// Its state is private: a strategy cannot reach the model behind the trace's back,
///
/// ```compile_fail,E0616
/// async fn sneak(ctx: &mut ladder_core::RunContext, r: &ladder_core::ChatRequest) {
///     let _ = ctx.model.chat(r, None).await; // private field
/// }
/// ```
///
/// nor raise its own budget,
///
/// ```compile_fail,E0616
/// fn raise(ctx: &mut ladder_core::RunContext) {
///     ctx.budget.max_tokens = 0; // private field
/// }
/// ```
///
/// nor make a context of its own to swap in for the one it was given:
///
/// ```compile_fail,E0599
/// fn forge(m: std::sync::Arc<dyn ladder_core::LanguageModel>) -> ladder_core::RunContext {
///     ladder_core::RunContext::new(m, Default::default()) // no constructor
/// }
/// ```
pub struct RunContext {
    model: Arc<dyn LanguageModel>,
    session: Session,
    user: Option<Box<dyn UserChannel>>,
    retriever: Option<Arc<dyn Retriever>>,
    embedder: Option<Arc<dyn Embedder>>,
    form: Option<FormSpec>,
    names: Vec<String>,
    trace: TraceSink,
    budget: Budget,
    cancel: Cancel,
    tokens: Option<TokenStream>,
    seed: u64,
    started: Instant,
    steps: u32,
    model_calls: u32,
    next_call: u64,
    tokens_used: u64,
}

/// What is left of a run's budget ([`RunContext::left`]); `None` where it is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Left {
    /// Steps not yet started ([`RunContext::next_step`]).
    pub steps: Option<u32>,
    pub model_calls: Option<u32>,
    pub tokens: Option<u64>,
    pub wall_ms: Option<u64>,
}

/// The seed of call `call` in a run seeded with `run_seed` (SplitMix64 of both).
pub fn call_seed(run_seed: u64, call: u64) -> u32 {
    let mut rng = crate::rng::Rng::new(run_seed ^ call.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (rng.next_u64() >> 32) as u32
}

enum Interrupt {
    Cancelled,
    Timeout,
}

impl RunContext {
    /// Tokens (prompt + completion) still available, or `None` when unlimited.
    pub fn tokens_left(&self) -> Option<u64> {
        (self.budget.max_tokens > 0)
            .then(|| self.budget.max_tokens.saturating_sub(self.tokens_used))
    }

    /// What is left of each budget (`None` where a budget is unlimited), for a strategy
    /// that plans its last step or tells its model how far it may go.
    pub fn left(&self) -> Left {
        let left = |max: u32, used: u32| (max > 0).then(|| max.saturating_sub(used));
        Left {
            steps: left(self.budget.max_steps, self.steps),
            model_calls: left(self.budget.max_model_calls, self.model_calls),
            tokens: self.tokens_left(),
            wall_ms: self.wall_left().map(|d| d.as_millis() as u64),
        }
    }

    /// The run's budget (read-only).
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The suite's form spec, when the strategy asked for it ([`Strategy::wants_form`])
    /// and the task has one.
    pub fn form(&self) -> Option<&FormSpec> {
        self.form.as_ref()
    }

    /// The prompt tokens these messages would take, counted by the model's tokenizer
    /// (or estimated, where the backend says so).
    pub fn count_tokens(&self, messages: &[crate::Message]) -> Result<u64, RunError> {
        Ok(self.model.count_tokens(messages)?.tokens)
    }

    /// The titles of the knowledge base's documents (empty without one): what grounded
    /// picks may hold.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The model's context window, in tokens.
    pub fn context_window(&self) -> u64 {
        self.model.context_window()
    }

    fn wall_left(&self) -> Option<Duration> {
        (self.budget.max_wall_ms > 0).then(|| {
            Duration::from_millis(self.budget.max_wall_ms).saturating_sub(self.started.elapsed())
        })
    }

    fn wall_error(&self) -> RunError {
        RunError::Budget(format!("wall time of {} ms", self.budget.max_wall_ms))
    }

    fn check(&self) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        if self.wall_left().is_some_and(|d| d.is_zero()) {
            return Err(self.wall_error());
        }
        if self.tokens_left() == Some(0) {
            return Err(RunError::Budget(format!(
                "{} tokens",
                self.budget.max_tokens
            )));
        }
        Ok(())
    }

    /// Run `work` unless the run is cancelled or its time runs out first; then `work` is
    /// dropped, which stops it.
    async fn bounded<T>(
        cancel: &Cancel,
        left: Option<Duration>,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, Interrupt> {
        let timeout = async {
            match left {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            out = work => Ok(out),
            _ = cancel.cancelled() => Err(Interrupt::Cancelled),
            _ = timeout => Err(Interrupt::Timeout),
        }
    }

    fn interrupted(&self, why: Interrupt) -> RunError {
        match why {
            Interrupt::Cancelled => RunError::Cancelled,
            Interrupt::Timeout => self.wall_error(),
        }
    }

    /// Start one step of the strategy's loop; refuses when the step budget is spent.
    pub fn next_step(&mut self) -> Result<u32, RunError> {
        self.check()?;
        if self.budget.max_steps > 0 && self.steps >= self.budget.max_steps {
            return Err(RunError::Budget(format!("{} steps", self.budget.max_steps)));
        }
        self.steps += 1;
        Ok(self.steps)
    }

    /// Call the model once and record the call.
    pub async fn call_model(
        &mut self,
        purpose: &str,
        request: ChatRequest,
    ) -> Result<ChatResponse, RunError> {
        self.call(Call::new(purpose, request)).await
    }

    /// Make one [`Call`] (with an agent's name, say) and record it.
    pub async fn call(&mut self, call: Call) -> Result<ChatResponse, RunError> {
        self.call_models(vec![call])
            .await?
            .pop()
            .unwrap_or_else(|| Err(RunError::Contract("no result for the call".into())))
    }

    /// Token reservations for `calls`: each call's `max_tokens` as it may run. Refuses the
    /// whole batch when the budget cannot hold every call's prompt plus at least one
    /// token; cuts a call's `max_tokens` to what is left after its prompt.
    fn reserve(&self, calls: &mut [Call]) -> Result<(), RunError> {
        let Some(mut left) = self.tokens_left() else {
            return Ok(());
        };
        for call in calls.iter_mut() {
            let prompt = self.model.count_tokens(&call.request.messages)?.tokens;
            if prompt + 1 > left {
                return Err(RunError::Budget(format!(
                    "{} tokens (a {}-token prompt does not fit in the {} left)",
                    self.budget.max_tokens, prompt, left
                )));
            }
            let sampling = &mut call.request.sampling;
            sampling.max_tokens = sampling
                .max_tokens
                .min(u32::try_from(left - prompt).unwrap_or(u32::MAX));
            left -= prompt + u64::from(sampling.max_tokens);
        }
        Ok(())
    }

    /// Several independent model calls at once (debate agents, votes). The budget is
    /// reserved for all of them before any starts; the backend gets them together
    /// ([`LanguageModel::chat_batch`]) and may decode them in parallel. One result per
    /// call, in the order of `calls`; the trace records them in that order too.
    ///
    /// The outer error is for the batch as a whole (budget, cancellation, timeout); the
    /// inner ones are each call's own failure.
    pub async fn call_models(
        &mut self,
        mut calls: Vec<Call>,
    ) -> Result<Vec<Result<ChatResponse, RunError>>, RunError> {
        self.check()?;
        let n = calls.len() as u32;
        if self.budget.max_model_calls > 0 && self.model_calls + n > self.budget.max_model_calls {
            return Err(RunError::Budget(format!(
                "{} model calls",
                self.budget.max_model_calls
            )));
        }
        self.reserve(&mut calls)?;
        let first = self.next_call;
        self.next_call += u64::from(n);
        self.model_calls += n;
        for (i, call) in calls.iter_mut().enumerate() {
            call.request.sampling.seed = call_seed(self.seed, first + i as u64);
        }
        let mut forwarders = Vec::new();
        let streams: Vec<Option<TokenSink>> = calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let out = self.tokens.clone()?;
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let (id, agent) = (first + i as u64, call.agent.clone());
                forwarders.push(tokio::spawn(async move {
                    while let Some(text) = rx.recv().await {
                        let token = Token {
                            call: id,
                            agent: agent.clone(),
                            text,
                        };
                        if out.send(token).is_err() {
                            break;
                        }
                    }
                }));
                Some(tx)
            })
            .collect();
        let requests: Vec<ChatRequest> = calls.iter().map(|c| c.request.clone()).collect();
        let model = Arc::clone(&self.model);
        let work = model.chat_batch(&self.session, &requests, streams);
        let results = Self::bounded(&self.cancel, self.wall_left(), work).await;
        for f in forwarders {
            let _ = f.await;
        }
        let results = match results {
            Ok(r) => r,
            Err(why) => {
                let e = self.interrupted(why);
                for (i, call) in calls.iter().enumerate() {
                    self.trace.emit(EventKind::Error {
                        message: format!(
                            "model call {} ({}) stopped: {e}",
                            first + i as u64,
                            call.purpose
                        ),
                    });
                }
                return Err(e);
            }
        };
        let mut out = Vec::with_capacity(calls.len());
        for (i, (call, result)) in calls.into_iter().zip(results).enumerate() {
            let id = first + i as u64;
            match result {
                Ok(response) => {
                    self.tokens_used +=
                        response.usage.prompt_tokens + response.usage.completion_tokens;
                    self.trace.emit(EventKind::ModelCall {
                        call: id,
                        purpose: call.purpose,
                        agent: call.agent,
                        actor: Actor::Strategy,
                        seed: call.request.sampling.seed,
                        grammar: call.request.constraint.as_ref().map(|c| c.kind().into()),
                        messages: call.request.messages,
                        output: response.text.clone(),
                        usage: response.usage,
                        latency_ms: response.total_ms,
                    });
                    out.push(Ok(response));
                }
                Err(e) => {
                    self.trace.emit(EventKind::Error {
                        message: format!("model call {id} ({}) failed: {e}", call.purpose),
                    });
                    out.push(Err(e.into()));
                }
            }
        }
        Ok(out)
    }

    /// Ask the user a question and record the turn (and, for a model-played user, its
    /// model calls, as the user's).
    pub async fn ask_user(&mut self, question: &str) -> Result<String, RunError> {
        self.check()?;
        let left = self.wall_left();
        let cancel = self.cancel.clone();
        let user = self.user.as_mut().ok_or(UserError::NoUser)?;
        let asked = Self::bounded(&cancel, left, user.ask(question)).await;
        let user_calls = user.take_model_calls();
        let matched = user.matched_slots();
        let parts = user.last_parts();
        for (request, response) in user_calls {
            let call = self.next_call;
            self.next_call += 1;
            self.trace.emit(EventKind::ModelCall {
                call,
                purpose: "user".into(),
                agent: None,
                actor: Actor::User,
                seed: request.sampling.seed,
                grammar: request.constraint.as_ref().map(|c| c.kind().into()),
                messages: request.messages,
                output: response.text,
                usage: response.usage,
                latency_ms: response.total_ms,
            });
        }
        let reply = match asked {
            Ok(reply) => reply?,
            Err(why) => {
                let e = self.interrupted(why);
                self.trace.emit(EventKind::Error {
                    message: format!("asking the user stopped: {e}"),
                });
                return Err(e);
            }
        };
        let gave_up = matches!(reply, UserReply::GaveUp(_));
        self.trace.emit(EventKind::UserTurn {
            question: question.to_string(),
            reply: reply.text().to_string(),
            gave_up,
            matched,
            parts,
        });
        match reply {
            UserReply::Answer(text) => Ok(text),
            UserReply::GaveUp(text) => Err(RunError::UserGaveUp(text)),
        }
    }

    /// Search the knowledge base and record the hits.
    pub async fn retrieve(&mut self, query: &str, k: usize) -> Result<Vec<Hit>, RunError> {
        self.retrieve_filtered(query, k, None).await
    }

    /// Search the documents that pass `filter` and record the hits.
    pub async fn retrieve_filtered(
        &mut self,
        query: &str,
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit>, RunError> {
        self.check()?;
        let retriever = self.retriever.clone().ok_or(RetrievalError::NoRetriever)?;
        let found = Self::bounded(
            &self.cancel,
            self.wall_left(),
            retriever.search(query, k, filter),
        )
        .await
        .map_err(|why| self.interrupted(why))?;
        let hits = match found {
            Ok(hits) => hits,
            Err(e) => {
                self.trace.emit(EventKind::Error {
                    message: format!("retrieval ({query:?}) failed: {e}"),
                });
                return Err(e.into());
            }
        };
        self.trace.emit(EventKind::Retrieval {
            query: query.to_string(),
            filter: filter.cloned(),
            k,
            hits: hits
                .iter()
                .map(|h| TraceHit {
                    id: h.id.clone(),
                    score: h.score,
                    document: h.document.clone(),
                    title: h.title.clone(),
                    heading: h.heading.clone(),
                })
                .collect(),
        });
        Ok(hits)
    }

    /// Embed `texts` with the run's embedding model (one L2-normalised vector per text, in
    /// order). Not a model call: it costs no tokens and leaves no event, but it is bounded
    /// by the run's time and cancellation like everything else.
    pub async fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, RunError> {
        self.check()?;
        let embedder = self.embedder.clone().ok_or_else(|| {
            crate::embed::EmbedError::Load("no embedding model is attached to this run".into())
        })?;
        let texts = texts.to_vec();
        let work = tokio::task::spawn_blocking(move || embedder.embed(&texts));
        let joined = Self::bounded(&self.cancel, self.wall_left(), work)
            .await
            .map_err(|why| self.interrupted(why))?;
        let vectors = joined.map_err(|e| {
            crate::embed::EmbedError::Failed(format!("the embedding task failed: {e}"))
        })??;
        Ok(vectors)
    }

    /// Whether the run has an embedding model ([`RunContext::embed`]).
    pub fn has_embedder(&self) -> bool {
        self.embedder.is_some()
    }

    /// Record one of the strategy's own events (a component starting, an intent decision,
    /// a slot filled, a debate message, a vote, an action, a compression, an error).
    /// Events the context writes itself (model calls, user turns, retrievals, the answer,
    /// the header and the end) cannot be recorded this way.
    pub fn record(&mut self, kind: EventKind) -> Result<(), RunError> {
        if kind.is_context_owned() {
            return Err(RunError::Contract(
                "model calls, user turns, retrievals and answers are recorded by the context \
                 when they happen; a strategy cannot write them"
                    .into(),
            ));
        }
        self.trace.emit(kind);
        Ok(())
    }

    /// Record a final answer and turn it into an outcome.
    pub fn answer(&mut self, answer: impl Into<Answer>) -> Outcome {
        let Answer { text, picks } = answer.into();
        self.trace.emit(EventKind::Answer {
            text: text.clone(),
            picks: picks.clone(),
        });
        Outcome::answered(text).with_picks(picks)
    }

    /// Turn a strategy's result into its outcome: an answer, or the stop reason of the
    /// error that ended it.
    pub fn finish<A: Into<Answer>>(&mut self, result: Result<A, RunError>) -> Outcome {
        match result {
            Ok(answer) => self.answer(answer),
            Err(e) => Outcome::stopped(e.stop_reason()),
        }
    }
}

/// SHA-256 (hex) of a value's canonical JSON.
pub fn content_hash<T: Serialize>(value: &T) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(crate::model::canonical_json(value).as_bytes());
    crate::numbers::hex(&digest)
}

/// Run `strategy` on `task`: writes the header, hands the strategy a [`TaskView`] and a
/// fresh [`RunContext`], and records the end of the run.
pub async fn run_task(strategy: &dyn Strategy, task: &Task, setup: RunSetup) -> RunResult {
    let RunSetup {
        model,
        budget,
        seed,
        user,
        user_settings,
        retriever,
        embedder,
        form,
        trace,
        cancel,
        tokens,
        suite_hash,
        brief,
        names,
    } = setup;
    let mut ctx = RunContext {
        session: Session::new(),
        model,
        user,
        retriever,
        embedder,
        form: form.filter(|_| strategy.wants_form()),
        names,
        trace,
        budget,
        cancel,
        tokens,
        seed,
        started: Instant::now(),
        steps: 0,
        model_calls: 0,
        next_call: 0,
        tokens_used: 0,
    };
    ctx.trace.emit(EventKind::Header(Box::new(RunHeader {
        task: task.id.clone(),
        suite: task.suite.clone(),
        strategy: strategy.name().to_string(),
        settings: strategy.settings(),
        model: ctx.model.info().to_string(),
        model_settings: ctx.model.settings(),
        seed,
        budget,
        user: user_settings,
        task_hash: content_hash(task),
        suite_hash,
    })));
    let view = TaskView {
        brief,
        ..task.view()
    };
    let outcome = strategy.run(&view, &mut ctx).await;
    ctx.trace.emit(EventKind::RunFinished {
        outcome: outcome.clone(),
    });
    RunResult {
        outcome,
        trace: ctx.trace,
    }
}
