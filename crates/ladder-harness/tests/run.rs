//! One run through the harness on the real components: the local model, the embedding
//! model, the embedded store, the simulated (or model-played) user and the judge.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ladder_core::trace::{read_jsonl, without_timing, EventKind};
use ladder_core::{
    AttrValue, ChatRequest, Filter, LanguageModel, Message, Outcome, RunContext, RunError,
    StopReason, Strategy, TaskView,
};
use ladder_harness::{run_with, RunSpec, TaskSource, UserKind};

fn local() -> Arc<dyn LanguageModel> {
    ladder_model::open(
        &ladder_model::ModelSpec::Named("smollm2-135m".into()),
        &Default::default(),
    )
    .expect("`just setup` installs the local model")
}

/// Searches the knowledge base with a filter, asks the user one question and answers with
/// the titles it found. Records whether it was given the form spec.
struct Searcher {
    saw_form: Mutex<Option<bool>>,
    saw_brief: Mutex<String>,
}

#[async_trait]
impl Strategy for Searcher {
    fn name(&self) -> &str {
        "searcher"
    }
    fn wants_form(&self) -> bool {
        true
    }
    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        *self.saw_form.lock().unwrap() = Some(ctx.form().is_some_and(|f| !f.intents.is_empty()));
        *self.saw_brief.lock().unwrap() = task.brief.clone();
        let result: Result<String, RunError> = async {
            let filter = Filter::equals("scope", AttrValue::Text("domestic".into()));
            let hits = ctx
                .retrieve_filtered(&task.opening, 3, Some(&filter))
                .await?;
            ctx.ask_user("Where will you be travelling from?").await?;
            Ok(hits
                .iter()
                .map(|h| h.title.clone())
                .collect::<Vec<_>>()
                .join(", "))
        }
        .await;
        ctx.finish(result)
    }
}

#[tokio::test]
async fn a_suite_run_gets_its_knowledge_base_user_and_form_and_the_trace_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = RunSpec::new(TaskSource::Suite("seaside".into()), "searcher", local());
    spec.id = Some("sea-001".into());
    spec.out = dir.path().join("runs");
    spec.data_dir = dir.path().join("data");
    let strategy = Searcher {
        saw_form: Mutex::new(None),
        saw_brief: Mutex::new(String::new()),
    };
    let out = run_with(spec, &strategy).await.unwrap();
    assert_eq!(out.outcome.stop, StopReason::Answered, "{:?}", out.outcome);
    assert_eq!(*strategy.saw_form.lock().unwrap(), Some(true));
    assert!(
        strategy
            .saw_brief
            .lock()
            .unwrap()
            .contains("travel assistant"),
        "the suite's assistant brief reaches the strategy"
    );

    let events = read_jsonl(&out.trace_path).unwrap();
    let EventKind::Header(h) = &events[0].kind else {
        panic!()
    };
    assert_eq!(
        (h.suite.as_str(), h.strategy.as_str()),
        ("seaside", "searcher")
    );
    assert_eq!(h.user["kind"], "simulated");
    assert_eq!(h.suite_hash.len(), 64);
    let hits = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Retrieval { hits, filter, .. } => Some((hits.clone(), filter.clone())),
            _ => None,
        })
        .expect("the strategy's search reached the knowledge base");
    assert_eq!(hits.0.len(), 3);
    assert!(hits.0.iter().all(|h| !h.title.is_empty()));
    assert!(hits.1.is_some(), "the filter is in the trace");
    // Only domestic destinations passed the filter.
    let suite = ladder_harness::load_suite("seaside").unwrap();
    for h in &hits.0 {
        let doc = suite
            .documents
            .iter()
            .find(|d| d.meta.id == h.document)
            .unwrap();
        assert_eq!(
            doc.meta.attributes["scope"].as_str(),
            Some("domestic"),
            "{}",
            h.document
        );
    }
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::UserTurn { reply, .. } if reply.contains("Tarnfield"))
    ));
    assert!(out.score_path.unwrap().exists());
}

/// Asks the user, then answers with one model call that quotes the reply.
struct AskThenAnswer;

#[async_trait]
impl Strategy for AskThenAnswer {
    fn name(&self) -> &str {
        "ask-then-answer"
    }
    async fn run(&self, task: &TaskView, ctx: &mut RunContext) -> Outcome {
        let result: Result<String, RunError> = async {
            let reply = ctx.ask_user("Where will you be travelling from?").await?;
            let mut r = ChatRequest::new(vec![
                Message::user(task.opening.clone()),
                Message::assistant("Where will you be travelling from?"),
                Message::user(reply),
            ]);
            r.sampling.max_tokens = 24;
            Ok(ctx.call_model("answer", r).await?.text)
        }
        .await;
        ctx.finish(result)
    }
}

#[tokio::test]
async fn a_recorded_run_with_a_model_played_user_replays_with_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("run.jsonl");
    let spec = |model: Arc<dyn LanguageModel>, out: &str| {
        let mut s = RunSpec::new(TaskSource::Suite("seaside".into()), "x", model);
        s.id = Some("sea-002".into());
        s.user = UserKind::Model;
        s.out = dir.path().join(out);
        s.data_dir = dir.path().join("data");
        s.overrides.seed = Some(3);
        s
    };
    let recorder: Arc<dyn LanguageModel> =
        Arc::new(ladder_model::Recorder::create(local(), &cassette).unwrap());
    let live = run_with(spec(recorder, "live"), &AskThenAnswer)
        .await
        .unwrap();
    assert_eq!(
        live.outcome.stop,
        StopReason::Answered,
        "{:?}",
        live.outcome
    );
    assert_eq!(live.metrics.user_model_calls, 1);

    let replayer: Arc<dyn LanguageModel> =
        Arc::new(ladder_model::Replayer::open(&cassette).unwrap());
    let replayed = run_with(spec(replayer, "replayed"), &AskThenAnswer)
        .await
        .unwrap();
    let live = without_timing(&read_jsonl(&live.trace_path).unwrap());
    let mut replayed = without_timing(&read_jsonl(&replayed.trace_path).unwrap());
    // The replay says what it is (header and the user's settings); the rest is identical.
    for (a, b) in live.iter().zip(replayed.iter_mut()) {
        if let (EventKind::Header(a), EventKind::Header(b)) = (&a.kind, &mut b.kind) {
            assert_eq!(b.model, format!("replay:{}", a.model));
            b.model = a.model.clone();
            b.user = a.user.clone();
        }
    }
    assert_eq!(live, replayed);
}

#[tokio::test]
async fn an_unknown_strategy_names_the_known_ones() {
    let spec = RunSpec::new(TaskSource::Suite("facts".into()), "nope", local());
    let e = ladder_harness::run(spec).await.unwrap_err().to_string();
    assert!(e.contains("\"nope\"") && e.contains("direct"), "{e}");
}

#[test]
fn the_chance_level_of_a_pick_suite_is_exact_and_a_suite_without_picks_has_none() {
    let seaside = ladder_harness::load_suite("seaside").unwrap();
    let ids: Vec<String> = seaside.tasks.iter().map(|t| t.id.clone()).collect();
    let n = seaside.documents.len() as f64;
    let expected = seaside
        .tasks
        .iter()
        .map(|t| t.expect.recommend_any.len() as f64 / n)
        .sum::<f64>()
        / seaside.tasks.len() as f64;
    let got = ladder_harness::bench::chance_level(&seaside, &ids).unwrap();
    assert!(
        (got - expected).abs() < 1e-12 && got > 0.0 && got < 0.2,
        "{got}"
    );
    let facts = ladder_harness::load_suite("facts").unwrap();
    let ids: Vec<String> = facts.tasks.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ladder_harness::bench::chance_level(&facts, &ids), None);
}

#[test]
fn the_summary_gives_pass_k_from_repeated_trials() {
    use ladder_harness::bench::{summarise, Record};
    let record = |task: &str, trial: u32, ok: bool| -> Record {
        serde_json::from_value(serde_json::json!({
            "suite": "s", "task": task, "strategy": "x", "trial": trial, "seed": trial,
            "outcome": null, "metrics": null, "error": null, "trace": "",
            "score": {"task": task, "judge": 2, "success": ok, "partial": 0.0, "verdicts": [],
                      "recommended": [], "rejected": [], "hallucinations": [], "user_turns": 0,
                      "irrelevant_questions": 0, "repeated_questions": 0},
        }))
        .unwrap()
    };
    // Task a: 2 of 2; task b: 1 of 2. pass^2 = (1 + 0) / 2.
    let records = vec![
        record("a", 0, true),
        record("a", 1, true),
        record("b", 0, true),
        record("b", 1, false),
    ];
    let rows = summarise(&records);
    let row = rows.iter().find(|r| r.suite == "s").unwrap();
    assert_eq!((row.successes, row.runs), (3, 4));
    assert_eq!(row.pass_k, Some((2, 0.5)));
    let table = ladder_harness::bench::table(&records, &Default::default());
    assert!(table.contains("pass^2 0.50"), "{table}");
}
