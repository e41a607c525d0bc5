//! RunContext's guarantees: budgets are enforced before a call, every call is traced, and
//! errors become stop reasons. The model here is a scripted test double.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ladder_core::trace::EventKind;
use ladder_core::{
    run_task, Budget, ChatRequest, ChatResponse, Direct, FinishReason, LanguageModel, Metrics,
    ModelError, ModelInfo, Outcome, RunContext, StopReason, Strategy, Task, TokenSink, Usage,
};

/// Answers every request with the same text and counts calls. Test code only.
struct Scripted {
    reply: Result<String, ModelError>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(reply: Result<&str, ModelError>) -> Arc<Self> {
        Arc::new(Scripted {
            reply: reply.map(str::to_string),
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl LanguageModel for Scripted {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            backend: "scripted".into(),
            model: "test".into(),
        }
    }
    async fn chat(
        &self,
        request: &ChatRequest,
        _: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let text = self.reply.clone()?;
        Ok(ChatResponse {
            text: text.clone(),
            finish: FinishReason::Stop,
            usage: Usage {
                prompt_tokens: 10 * request.messages.len() as u64,
                cached_tokens: 0,
                completion_tokens: request.sampling.max_tokens.min(5) as u64,
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
        profile: vec![],
        expect: Default::default(),
        budget: Budget::default(),
        tags: vec![],
    }
}

/// Calls the model until the budget stops it.
struct Greedy;

#[async_trait]
impl Strategy for Greedy {
    fn name(&self) -> &str {
        "greedy"
    }
    async fn run(&self, task: &Task, ctx: &mut RunContext) -> Outcome {
        let result = async {
            loop {
                ctx.next_step()?;
                ctx.call_model(
                    "loop",
                    ChatRequest::new(vec![ladder_core::Message::user(task.opening.clone())]),
                )
                .await?;
            }
        }
        .await;
        ctx.finish(result)
    }
}

#[tokio::test]
async fn direct_traces_start_call_answer_and_finish() {
    let model = Scripted::new(Ok(" Paris. "));
    let mut ctx = RunContext::new(model.clone(), Budget::default());
    let outcome = run_task(&Direct::default(), &task(), &mut ctx).await;
    assert_eq!(outcome, Outcome::answered("Paris."));
    let events = ctx.trace.into_events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match &e.kind {
            EventKind::RunStarted { .. } => "start",
            EventKind::ModelCall { .. } => "call",
            EventKind::Answer { .. } => "answer",
            EventKind::RunFinished { .. } => "finish",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["start", "call", "answer", "finish"]);
    let m = Metrics::from_events(&events);
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
    let mut ctx = RunContext::new(model.clone(), budget);
    let outcome = run_task(&Greedy, &task(), &mut ctx).await;
    assert_eq!(
        outcome.stop,
        StopReason::BudgetExhausted {
            limit: "3 model calls".into()
        }
    );
    assert_eq!(model.calls.load(Ordering::SeqCst), 3);
    assert_eq!(Metrics::from_events(ctx.trace.events()).model_calls, 3);
}

#[tokio::test]
async fn the_step_and_token_budgets_stop_runs_too() {
    let model = Scripted::new(Ok("again"));
    let mut ctx = RunContext::new(
        model.clone(),
        Budget {
            max_steps: 2,
            ..Budget::default()
        },
    );
    let outcome = run_task(&Greedy, &task(), &mut ctx).await;
    assert_eq!(
        outcome.stop,
        StopReason::BudgetExhausted {
            limit: "2 steps".into()
        }
    );

    // Each call costs 10 prompt + 5 completion tokens; 40 tokens allow three calls.
    let mut ctx = RunContext::new(
        model.clone(),
        Budget {
            max_steps: 0,
            max_tokens: 40,
            ..Budget::default()
        },
    );
    let outcome = run_task(&Greedy, &task(), &mut ctx).await;
    assert_eq!(
        outcome.stop,
        StopReason::BudgetExhausted {
            limit: "40 tokens".into()
        }
    );
    assert_eq!(Metrics::from_events(ctx.trace.events()).model_calls, 3);
}

#[tokio::test]
async fn a_cancelled_run_stops_without_calling_the_model() {
    let model = Scripted::new(Ok("x"));
    let mut ctx = RunContext::new(model.clone(), Budget::default());
    ctx.cancel.cancel();
    let outcome = run_task(&Direct::default(), &task(), &mut ctx).await;
    assert_eq!(outcome.stop, StopReason::Cancelled);
    assert_eq!(model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_model_error_is_traced_and_becomes_the_stop_reason() {
    let model = Scripted::new(Err(ModelError::Unreachable {
        url: "http://x/v1".into(),
        reason: "refused".into(),
    }));
    let mut ctx = RunContext::new(model, Budget::default());
    let outcome = run_task(&Direct::default(), &task(), &mut ctx).await;
    match &outcome.stop {
        StopReason::Error { message } => assert!(message.contains("http://x/v1"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(Metrics::from_events(ctx.trace.events()).errors, 1);
}

#[tokio::test]
async fn asking_without_a_user_is_an_error_not_a_panic() {
    let model = Scripted::new(Ok("x"));
    let mut ctx = RunContext::new(model, Budget::default());
    let e = ctx.ask_user("Where do you live?").await.unwrap_err();
    assert!(e.to_string().contains("no user"), "{e}");
    let e = ctx.retrieve("beaches", 3).await.unwrap_err();
    assert!(e.to_string().contains("no knowledge base"), "{e}");
}
