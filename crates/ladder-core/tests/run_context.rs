//! The run contract: budgets are reserved before a call, every call is traced in request
//! order, calls in flight stop on cancellation and on the run's time limit, strategies see
//! only the task view (and the form spec when they ask), and errors become stop reasons.
//! The models here are scripted test doubles.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use ladder_core::trace::{without_timing, EventKind};
use ladder_core::{
    call_seed, run_task, Budget, Call, ChatRequest, ChatResponse, Direct, FinishReason, FormSpec,
    LanguageModel, Message, Metrics, ModelError, ModelInfo, Outcome, RunContext, RunError,
    RunSetup, StopReason, Strategy, Task, TaskView, TokenCount, TokenSink, Usage,
};

/// Answers every request with the same text after `delay`, counts calls and remembers
/// the requests. Prompt tokens: 10 per message, counted the same way by `count_tokens`.
struct Scripted {
    reply: Result<String, ModelError>,
    calls: AtomicUsize,
    delay: Duration,
    requests: Mutex<Vec<ChatRequest>>,
    dropped: Arc<AtomicBool>,
}

impl Scripted {
    fn new(reply: Result<&str, ModelError>) -> Arc<Self> {
        Self::slow(reply, Duration::ZERO)
    }

    fn slow(reply: Result<&str, ModelError>, delay: Duration) -> Arc<Self> {
        Arc::new(Scripted {
            reply: reply.map(str::to_string),
            calls: AtomicUsize::new(0),
            delay,
            requests: Mutex::new(Vec::new()),
            dropped: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// Sets a flag when the call's future is dropped before it finished.
struct DropFlag(Arc<AtomicBool>, bool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl LanguageModel for Scripted {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("scripted", "test")
    }

    fn context_window(&self) -> u64 {
        4096
    }

    fn count_tokens(&self, messages: &[Message]) -> Result<TokenCount, ModelError> {
        Ok(TokenCount {
            tokens: 10 * messages.len() as u64,
            estimated: false,
        })
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        stream: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().unwrap().push(request.clone());
        let mut guard = DropFlag(Arc::clone(&self.dropped), false);
        tokio::time::sleep(self.delay).await;
        guard.1 = true;
        let text = self.reply.clone()?;
        if let Some(s) = stream {
            let _ = s.send(text.clone());
        }
        Ok(ChatResponse {
            text: text.clone(),
            finish: FinishReason::Stop,
            usage: Usage {
                prompt_tokens: 10 * request.messages.len() as u64,
                cached_tokens: 0,
                completion_tokens: request.sampling.max_tokens.min(5) as u64,
                estimated: false,
            },
            prompt_ms: 1.0,
            generation_ms: 2.0,
            total_ms: 3.0,
        })
    }
}

fn task() -> Task {
    Task {
        id: "t".into(),
        suite: String::new(),
        opening: "What is the capital of France?".into(),
        profile: vec![ladder_core::ProfileFact {
            slot: "home_city".into(),
            value: "Harrowgate".into(),
            say: None,
            hard: true,
            stated: false,
        }],
        expect: ladder_core::Expectations {
            must_mention: vec!["Paris".into()],
            ..Default::default()
        },
        gold: Default::default(),
        budget: Budget::default(),
        tags: vec![],
        split: None,
    }
}

fn setup(model: Arc<Scripted>, budget: Budget) -> RunSetup {
    RunSetup::new(model, budget)
}

/// Calls the model until the budget stops it.
struct Greedy;

#[async_trait]
impl Strategy for Greedy {
    fn name(&self) -> &str {
        "greedy"
    }
    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        let result: Result<String, RunError> = async {
            loop {
                ctx.next_step()?;
                ctx.call_model(
                    "loop",
                    ChatRequest::new(vec![Message::user(task.opening.clone())]),
                )
                .await?;
            }
        }
        .await;
        ctx.finish(result)
    }
}

/// Runs a closure over the context: for tests of single context methods.
struct With<F>(F);

#[async_trait]
impl<F> Strategy for With<F>
where
    F: for<'a> Fn(&'a mut RunContext) -> Fut<'a> + Send + Sync,
{
    fn name(&self) -> &str {
        "with"
    }
    async fn run(&self, _: &TaskView, ctx: &mut RunContext) -> Outcome {
        (self.0)(ctx).await
    }
}

fn kinds(events: &[ladder_core::Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Header(_) => "header",
            EventKind::ModelCall { .. } => "call",
            EventKind::Answer { .. } => "answer",
            EventKind::RunFinished { .. } => "finish",
            EventKind::Error { .. } => "error",
            _ => "other",
        })
        .collect()
}

#[tokio::test]
async fn direct_traces_header_call_answer_and_finish() {
    let model = Scripted::new(Ok(" Paris. "));
    let mut s = setup(model.clone(), Budget::default());
    s.seed = 42;
    let run = run_task(&Direct::default(), &task(), s).await;
    assert_eq!(run.outcome, Outcome::answered("Paris."));
    let events = run.events();
    assert_eq!(kinds(events), ["header", "call", "answer", "finish"]);
    let EventKind::Header(h) = &events[0].kind else {
        panic!()
    };
    assert_eq!((h.task.as_str(), h.strategy.as_str()), ("t", "direct"));
    assert_eq!(h.model, "scripted:test");
    assert_eq!(h.seed, 42);
    assert_eq!(h.task_hash.len(), 64);
    assert_eq!(h.settings["max_tokens"], 256);
    let EventKind::ModelCall { call, seed, .. } = &events[1].kind else {
        panic!()
    };
    assert_eq!((*call, *seed), (0, call_seed(42, 0)));
    let m = Metrics::from_events(events);
    assert_eq!(
        (
            m.model_calls,
            m.prompt_tokens,
            m.completion_tokens,
            m.total_tokens
        ),
        (1, 20, 5, 25)
    );
    assert_eq!(m.stop, Some(StopReason::Answered));
}

#[tokio::test]
async fn the_model_call_budget_stops_a_run_before_the_extra_call() {
    let model = Scripted::new(Ok("again"));
    let budget = Budget {
        max_model_calls: 3,
        max_steps: 0,
        ..Budget::default()
    };
    let run = run_task(&Greedy, &task(), setup(model.clone(), budget)).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::BudgetExhausted {
            limit: "3 model calls".into()
        }
    );
    assert_eq!(model.calls.load(Ordering::SeqCst), 3);
    assert_eq!(Metrics::from_events(run.events()).model_calls, 3);
}

#[tokio::test]
async fn the_step_budget_stops_runs_too() {
    let model = Scripted::new(Ok("again"));
    let budget = Budget {
        max_steps: 2,
        ..Budget::default()
    };
    let run = run_task(&Greedy, &task(), setup(model, budget)).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::BudgetExhausted {
            limit: "2 steps".into()
        }
    );
}

#[tokio::test]
async fn tokens_are_reserved_before_a_call_so_the_budget_is_never_overrun() {
    // Each call: a 10-token prompt and up to 256 tokens to generate (the scripted model
    // writes 5). 40 tokens: the first call may generate at most 30 (it uses 15), the
    // second at most 15 (it uses 15): 30 used, 10 left, which cannot hold another
    // prompt plus a token... 10 + 1 > 10, so the third call is refused before it is made.
    let model = Scripted::new(Ok("again"));
    let budget = Budget {
        max_steps: 0,
        max_tokens: 40,
        ..Budget::default()
    };
    let run = run_task(&Greedy, &task(), setup(model.clone(), budget)).await;
    let StopReason::BudgetExhausted { limit } = &run.outcome.stop else {
        panic!("{:?}", run.outcome.stop)
    };
    assert!(limit.starts_with("40 tokens"), "{limit}");
    let m = Metrics::from_events(run.events());
    assert_eq!(m.model_calls, 2);
    assert!(m.total_tokens <= 40, "{}", m.total_tokens);
    let max_tokens: Vec<u32> = model
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.sampling.max_tokens)
        .collect();
    assert_eq!(max_tokens, [30, 15]);
}

#[tokio::test]
async fn a_call_whose_prompt_alone_does_not_fit_is_refused_unmade() {
    let model = Scripted::new(Ok("x"));
    let budget = Budget {
        max_tokens: 15,
        ..Budget::default()
    };
    // Direct sends two messages: a 20-token prompt.
    let run = run_task(&Direct::default(), &task(), setup(model.clone(), budget)).await;
    assert!(matches!(
        run.outcome.stop,
        StopReason::BudgetExhausted { .. }
    ));
    assert_eq!(model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_cancelled_run_stops_without_calling_the_model() {
    let model = Scripted::new(Ok("x"));
    let s = setup(model.clone(), Budget::default());
    s.cancel.cancel();
    let run = run_task(&Direct::default(), &task(), s).await;
    assert_eq!(run.outcome.stop, StopReason::Cancelled);
    assert_eq!(model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_a_call_in_flight() {
    let model = Scripted::slow(Ok("x"), Duration::from_secs(30));
    let s = setup(model.clone(), Budget::default());
    let cancel = s.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let run = run_task(&Direct::default(), &task(), s).await;
    assert_eq!(run.outcome.stop, StopReason::Cancelled);
    // On paused time: stopped when the cancellation came, not after the call's 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        model.dropped.load(Ordering::SeqCst),
        "the call was not stopped"
    );
    assert_eq!(kinds(run.events()), ["header", "error", "finish"]);
}

#[tokio::test(start_paused = true)]
async fn the_wall_time_limit_stops_a_call_in_flight() {
    let model = Scripted::slow(Ok("x"), Duration::from_secs(30));
    let budget = Budget {
        max_wall_ms: 200,
        ..Budget::default()
    };
    let started = Instant::now();
    let run = run_task(&Direct::default(), &task(), setup(model.clone(), budget)).await;
    assert_eq!(
        run.outcome.stop,
        StopReason::BudgetExhausted {
            limit: "wall time of 200 ms".into()
        }
    );
    // On paused time: stopped at the limit, not after the call's 30 s.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert!(model.dropped.load(Ordering::SeqCst));
}

/// Decodes a batch concurrently; the first request finishes last.
struct Concurrent {
    inner: Arc<Scripted>,
    batches: AtomicUsize,
}

#[async_trait]
impl LanguageModel for Concurrent {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }
    fn context_window(&self) -> u64 {
        4096
    }
    fn count_tokens(&self, m: &[Message]) -> Result<TokenCount, ModelError> {
        self.inner.count_tokens(m)
    }
    async fn chat(
        &self,
        r: &ChatRequest,
        s: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.inner.chat(r, s).await
    }
    async fn chat_batch(
        &self,
        _: &ladder_core::Session,
        requests: &[ChatRequest],
        streams: Vec<Option<TokenSink>>,
    ) -> Vec<Result<ChatResponse, ModelError>> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        let n = requests.len();
        let finished = Arc::new(Mutex::new(Vec::new()));
        let work = requests.iter().zip(streams).enumerate().map(|(i, (r, s))| {
            let finished = Arc::clone(&finished);
            async move {
                tokio::time::sleep(Duration::from_millis(40 * (n - i) as u64)).await;
                let mut out = self.inner.chat(r, s).await;
                if let Ok(resp) = &mut out {
                    resp.text = format!("answer {i}");
                }
                finished.lock().unwrap().push(i);
                out
            }
        });
        let out = futures_util::future::join_all(work).await;
        assert_eq!(*finished.lock().unwrap(), (0..n).rev().collect::<Vec<_>>());
        out
    }
}

type Fut<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>>;

fn three_agents(ctx: &mut RunContext) -> Fut<'_> {
    Box::pin(async move {
        let calls = ["optimist", "critic", "judge"]
            .iter()
            .map(|a| {
                Call::new(
                    "debate",
                    ChatRequest::new(vec![Message::user(format!("{a}, speak"))]),
                )
                .by(*a)
            })
            .collect();
        let result = ctx.call_models(calls).await.map(|results| {
            results
                .into_iter()
                .map(|r| r.map(|r| r.text).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        });
        ctx.finish(result)
    })
}

#[tokio::test(start_paused = true)]
async fn concurrent_calls_are_one_batch_and_traced_in_request_order() {
    let model = Arc::new(Concurrent {
        inner: Scripted::new(Ok("x")),
        batches: AtomicUsize::new(0),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut s = RunSetup::new(model.clone(), Budget::default());
    s.tokens = Some(tx);
    s.seed = 9;
    let run = run_task(&With(three_agents), &task(), s).await;
    assert_eq!(
        run.outcome,
        Outcome::answered("answer 0, answer 1, answer 2")
    );
    assert_eq!(model.batches.load(Ordering::SeqCst), 1);
    let calls: Vec<(u64, Option<String>, u32)> = run
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ModelCall {
                call, agent, seed, ..
            } => Some((*call, agent.clone(), *seed)),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            (0, Some("optimist".into()), call_seed(9, 0)),
            (1, Some("critic".into()), call_seed(9, 1)),
            (2, Some("judge".into()), call_seed(9, 2)),
        ]
    );
    // Streamed text carries the call id and agent of the call it belongs to.
    let mut streamed = Vec::new();
    while let Ok(t) = rx.try_recv() {
        streamed.push((t.call, t.agent.unwrap_or_default(), t.text));
    }
    streamed.sort();
    assert_eq!(
        streamed,
        vec![
            (0, "optimist".to_string(), "x".to_string()),
            (1, "critic".to_string(), "x".to_string()),
            (2, "judge".to_string(), "x".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_batch_that_does_not_fit_the_budget_makes_no_call_at_all() {
    let inner = Scripted::new(Ok("x"));
    let model = Arc::new(Concurrent {
        inner: inner.clone(),
        batches: AtomicUsize::new(0),
    });
    // Three 10-token prompts need at least 33 tokens; 25 fit two of them, not all three.
    let budget = Budget {
        max_tokens: 25,
        ..Budget::default()
    };
    let run = run_task(&With(three_agents), &task(), RunSetup::new(model, budget)).await;
    assert!(matches!(
        run.outcome.stop,
        StopReason::BudgetExhausted { .. }
    ));
    assert_eq!(inner.calls.load(Ordering::SeqCst), 0);
    let calls = Budget {
        max_model_calls: 2,
        ..Budget::default()
    };
    let model = Arc::new(Concurrent {
        inner: inner.clone(),
        batches: AtomicUsize::new(0),
    });
    let run = run_task(&With(three_agents), &task(), RunSetup::new(model, calls)).await;
    assert!(matches!(
        run.outcome.stop,
        StopReason::BudgetExhausted { .. }
    ));
    assert_eq!(inner.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_trace() {
    let model = Scripted::new(Ok("x"));
    let mut a = setup(model.clone(), Budget::default());
    a.seed = 5;
    let mut b = setup(model.clone(), Budget::default());
    b.seed = 5;
    let ra = run_task(&With(three_agents), &task(), a).await;
    let rb = run_task(&With(three_agents), &task(), b).await;
    assert_eq!(without_timing(ra.events()), without_timing(rb.events()));
    let mut c = setup(model, Budget::default());
    c.seed = 6;
    let rc = run_task(&With(three_agents), &task(), c).await;
    assert_ne!(without_timing(ra.events()), without_timing(rc.events()));
}

#[tokio::test]
async fn a_model_error_is_traced_and_becomes_the_stop_reason() {
    let model = Scripted::new(Err(ModelError::Unreachable {
        url: "http://x/v1".into(),
        reason: "refused".into(),
    }));
    let run = run_task(&Direct::default(), &task(), setup(model, Budget::default())).await;
    match &run.outcome.stop {
        StopReason::Error { message } => assert!(message.contains("http://x/v1"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(Metrics::from_events(run.events()).errors, 1);
}

#[tokio::test]
async fn asking_without_a_user_or_searching_without_a_knowledge_base_is_an_error() {
    let model = Scripted::new(Ok("x"));
    fn probe(ctx: &mut RunContext) -> Fut<'_> {
        Box::pin(async move {
            let e = ctx.ask_user("Where do you live?").await.unwrap_err();
            assert!(e.to_string().contains("no user"), "{e}");
            let e = ctx.retrieve("beaches", 3).await.unwrap_err();
            assert!(e.to_string().contains("no knowledge base"), "{e}");
            ctx.answer("done")
        })
    }
    let run = run_task(&With(probe), &task(), setup(model, Budget::default())).await;
    assert_eq!(run.outcome, Outcome::answered("done"));
}

#[tokio::test]
async fn a_strategy_cannot_forge_the_events_the_context_writes() {
    let model = Scripted::new(Ok("x"));
    fn probe(ctx: &mut RunContext) -> Fut<'_> {
        Box::pin(async move {
            let forged = EventKind::ModelCall {
                call: 99,
                purpose: "free".into(),
                agent: None,
                actor: Default::default(),
                messages: vec![],
                output: "Paris".into(),
                usage: Usage::default(),
                latency_ms: 0.0,
                grammar: None,
                seed: 0,
            };
            assert!(matches!(ctx.record(forged), Err(RunError::Contract(_))));
            let forged = EventKind::UserTurn {
                question: "q".into(),
                reply: "r".into(),
                gave_up: false,
                matched: None,
                parts: vec![],
            };
            assert!(ctx.record(forged).is_err());
            ctx.record(EventKind::ComponentStarted {
                component: "classifier".into(),
                kind: "intent".into(),
            })
            .unwrap();
            ctx.answer("done")
        })
    }
    let run = run_task(&With(probe), &task(), setup(model, Budget::default())).await;
    assert_eq!(kinds(run.events()), ["header", "other", "answer", "finish"]);
}

/// Reports what it can see: the task view and the form spec.
struct Nosy {
    wants: bool,
    seen: Mutex<String>,
}

#[async_trait]
impl Strategy for Nosy {
    fn name(&self) -> &str {
        "nosy"
    }
    fn wants_form(&self) -> bool {
        self.wants
    }
    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        *self.seen.lock().unwrap() = format!(
            "{} | {}",
            serde_json::to_string(task).unwrap(),
            serde_json::to_string(&ctx.form()).unwrap()
        );
        ctx.answer("ok")
    }
}

#[tokio::test]
async fn a_strategy_sees_the_opening_not_the_profile_and_the_form_only_when_it_asks() {
    let form = FormSpec {
        suite: "s".into(),
        intents: vec![ladder_core::FormIntent {
            name: "travel".into(),
            description: "plan a trip".into(),
            examples: vec!["book me a trip".into()],
            slots: vec![],
        }],
    };
    for wants in [false, true] {
        let nosy = Nosy {
            wants,
            seen: Mutex::new(String::new()),
        };
        let mut s = setup(Scripted::new(Ok("x")), Budget::default());
        s.form = Some(form.clone());
        run_task(&nosy, &task(), s).await;
        let seen = nosy.seen.lock().unwrap().clone();
        assert!(seen.contains("capital of France"), "{seen}");
        assert!(
            !seen.contains("Harrowgate") && !seen.contains("Paris"),
            "{seen}"
        );
        assert_eq!(seen.contains("book me a trip"), wants, "{seen}");
    }
}
