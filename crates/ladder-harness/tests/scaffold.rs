//! The scaffold through the harness on real components: the embedding model, the embedded
//! store, the simulated user and the judge; the local model for the smoke runs, and a
//! scripted answer (a test double, here only) where a test is about the form and the
//! classifier, which make no model call.

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use ladder_core::model::{ChatResponse, FinishReason, ModelInfo, TokenSink, Usage};
use ladder_core::trace::{read_jsonl, without_timing, EventKind, SlotSource};
use ladder_core::{
    ChatRequest, Embedder, Event, LanguageModel, Message, ModelError, StopReason, TokenCount,
};
use ladder_harness::registry::StrategyOptions;
use ladder_harness::{RunSpec, TaskSource};

fn embedder() -> Arc<dyn Embedder> {
    static E: OnceLock<Arc<dyn Embedder>> = OnceLock::new();
    Arc::clone(E.get_or_init(|| {
        Arc::new(ladder_retrieval::FastEmbedder::load_default().expect("`just setup` installs it"))
    }))
}

fn local() -> Arc<dyn LanguageModel> {
    ladder_model::open(
        &ladder_model::ModelSpec::Named("smollm2-135m".into()),
        &Default::default(),
    )
    .expect("`just setup` installs the local model")
}

/// Answers every call with the text `reply` makes of the request (by default one fixed
/// reply with picks), and keeps the requests.
struct Fixed {
    requests: Mutex<Vec<ChatRequest>>,
    reply: fn(&ChatRequest) -> String,
}

impl Default for Fixed {
    fn default() -> Self {
        Fixed::replying(|_| r#"{"answer": "Try Gullby Cove.", "picks": ["Gullby Cove"]}"#.into())
    }
}

impl Fixed {
    fn replying(reply: fn(&ChatRequest) -> String) -> Self {
        Fixed {
            requests: Mutex::default(),
            reply,
        }
    }
}

#[async_trait]
impl LanguageModel for Fixed {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("scripted", "fixed")
    }
    fn context_window(&self) -> u64 {
        8192
    }
    fn count_tokens(&self, m: &[Message]) -> Result<TokenCount, ModelError> {
        Ok(TokenCount::estimate(m))
    }
    async fn chat(
        &self,
        r: &ChatRequest,
        _: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        self.requests.lock().unwrap().push(r.clone());
        Ok(ChatResponse {
            text: (self.reply)(r),
            finish: FinishReason::Stop,
            usage: Usage {
                prompt_tokens: TokenCount::estimate(&r.messages).tokens,
                completion_tokens: 12,
                ..Usage::default()
            },
            prompt_ms: 0.0,
            generation_ms: 0.0,
            total_ms: 1.0,
        })
    }
}

/// The reply of a model that trusts the catalogue's ranking: the first candidate its
/// system prompt lists ("1. <title> ("), or no pick when none is listed.
fn first_candidate(r: &ChatRequest) -> String {
    let system = &r.messages[0].content;
    let first = system
        .split_once("best first")
        .and_then(|(_, rest)| rest.split_once("\n1. "))
        .and_then(|(_, rest)| rest.split_once(" ("))
        .map(|(title, _)| title.to_string());
    let text = match first {
        Some(t) => serde_json::json!({"answer": format!("I recommend {t}."), "picks": [t]}),
        None => serde_json::json!({"answer": "no candidate", "picks": []}),
    };
    text.to_string()
}

/// Every component of the default pipeline but the synthesis.
const ALL_BUT_SYNTHESIS: &[&str] = &[
    "classifier",
    "form",
    "retrieve",
    "candidates",
    "compress",
    "debate",
];

struct Dirs(tempfile::TempDir);

impl Dirs {
    fn new() -> Self {
        Dirs(tempfile::tempdir().unwrap())
    }
    fn spec(
        &self,
        suite: &str,
        id: &str,
        strategy: &str,
        model: Arc<dyn LanguageModel>,
    ) -> RunSpec {
        let mut s = RunSpec::new(TaskSource::Suite(suite.into()), strategy, model);
        s.id = Some(id.into());
        s.out = self.0.path().join("runs");
        s.data_dir = self.0.path().join("data");
        s.embedder = Some(embedder());
        s
    }
}

fn without(names: &[&str]) -> StrategyOptions {
    StrategyOptions {
        without: names.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn run(spec: RunSpec) -> (ladder_harness::RunOutput, Vec<Event>) {
    let out = ladder_harness::run(spec).await.unwrap();
    let events = read_jsonl(&out.trace_path).unwrap();
    (out, events)
}

#[tokio::test]
async fn on_every_seaside_task_the_form_never_asks_a_slot_the_opening_stated() {
    let dirs = Dirs::new();
    let suite = ladder_harness::load_suite("seaside").unwrap();
    let model: Arc<dyn LanguageModel> = Arc::new(Fixed::default());
    let mut stated_total = 0;
    for task in &suite.tasks {
        let mut spec = dirs.spec("seaside", &task.id, "scaffold", Arc::clone(&model));
        spec.options = without(&["compress", "debate"]);
        let (out, events) = run(spec).await;
        assert_eq!(
            out.outcome.stop,
            StopReason::Answered,
            "{}: {:?}",
            task.id,
            out.outcome
        );
        for fact in task.profile.iter().filter(|f| f.stated) {
            stated_total += 1;
            let asked = events.iter().any(|e| match &e.kind {
                EventKind::UserTurn { matched, .. } => {
                    matched.as_ref().is_some_and(|m| m.contains(&fact.slot))
                }
                _ => false,
            });
            assert!(
                !asked,
                "{}: the form asked for {}, which the opening states",
                task.id, fact.slot
            );
            let filled = events.iter().any(|e| {
                matches!(&e.kind, EventKind::SlotFilled { slot, source: SlotSource::Opening, .. } if *slot == fact.slot)
            });
            assert!(
                filled,
                "{}: {} is stated but was not read from the opening",
                task.id, fact.slot
            );
        }
        // One question per turn, each slot at most once.
        let mut asked: Vec<String> = Vec::new();
        for e in &events {
            if let EventKind::UserTurn { question, .. } = &e.kind {
                assert!(
                    !asked.contains(question),
                    "{}: asked twice: {question}",
                    task.id
                );
                asked.push(question.clone());
            }
        }
    }
    assert!(
        stated_total >= 10,
        "the suite states slots in its openings ({stated_total})"
    );
}

/// The catalogue's ranking, checked against the judge (which it never reads): on every
/// seaside task, after the form's questions, the first candidate is a destination the
/// judge accepts. And the form's `stop_at` asks fewer questions on some tasks, never more.
#[tokio::test]
async fn on_seaside_the_catalogues_first_candidate_is_what_the_judge_accepts() {
    let dirs = Dirs::new();
    let suite = ladder_harness::load_suite("seaside").unwrap();
    let model: Arc<dyn LanguageModel> = Arc::new(Fixed::replying(first_candidate));
    let questions = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::UserTurn { .. }))
            .count()
    };
    let (mut accepted, mut fewer, mut accepted_stop) = (Vec::new(), 0, 0);
    for task in &suite.tasks {
        let mut spec = dirs.spec("seaside", &task.id, "scaffold", Arc::clone(&model));
        spec.options = without(&["compress", "debate"]);
        let (out, events) = run(spec).await;
        let score = out.score.expect("a suite task is scored");
        if score.success {
            accepted.push(task.id.clone());
        }
        let mut spec = dirs.spec("seaside", &task.id, "scaffold-stop", Arc::clone(&model));
        spec.options = without(&["compress", "debate"]);
        let (stop_out, stopped) = run(spec).await;
        if stop_out.score.is_some_and(|s| s.success) {
            accepted_stop += 1;
        }
        assert!(
            questions(&stopped) <= questions(&events),
            "{}: the stopping form asked more",
            task.id
        );
        if questions(&stopped) < questions(&events) {
            fewer += 1;
        }
    }
    eprintln!(
        "first candidate accepted on {} of {} tasks ({accepted_stop} with the stopping form, which stopped early on {fewer})",
        accepted.len(),
        suite.tasks.len()
    );
    // Measured when written: 46 of the 46 tasks (30 with the stopping form, which stopped
    // early on 39).
    assert!(
        accepted.len() * 10 >= suite.tasks.len() * 9,
        "the first candidate is accepted on {} of {} tasks: {accepted:?}",
        accepted.len(),
        suite.tasks.len()
    );
    assert!(fewer > 0, "the stopping form never stopped early");
}

#[tokio::test]
async fn helpdesk_requests_outside_the_labels_take_the_unknown_route() {
    let dirs = Dirs::new();
    let suite = ladder_harness::load_suite("helpdesk").unwrap();
    let model: Arc<dyn LanguageModel> = Arc::new(Fixed::default());
    let (mut outside, mut routed_in) = (0, 0);
    for task in &suite.tasks {
        let mut spec = dirs.spec("helpdesk", &task.id, "scaffold", Arc::clone(&model));
        spec.options = without(&["compress", "debate"]);
        let (_, events) = run(spec).await;
        let chosen = events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::IntentDecision { chosen, .. } => Some(chosen.clone()),
                _ => None,
            })
            .expect("an intent decision");
        if task.gold.intents.as_ref().is_some_and(|i| i.is_empty()) {
            outside += 1;
            assert!(
                chosen.is_empty(),
                "{}: {:?} for a request outside the labels",
                task.id,
                chosen
            );
            assert!(
                !events
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::UserTurn { .. })),
                "{}: the unknown route has no form",
                task.id
            );
        } else if !chosen.is_empty() {
            routed_in += 1;
        }
    }
    assert!(outside >= 5, "helpdesk has requests outside its labels");
    let inside = suite.tasks.len() - outside;
    eprintln!("helpdesk: {outside} out-of-label requests on the unknown route; {routed_in} of {inside} in-label requests reach a label");
    assert!(
        routed_in * 10 >= inside * 8,
        "at least 80% of in-label requests reach a label: {routed_in} of {inside}"
    );
}

#[tokio::test]
async fn with_everything_but_synthesis_off_the_scaffold_makes_directs_one_call() {
    let dirs = Dirs::new();
    let calls = |events: &[Event]| -> Vec<EventKind> {
        without_timing(events)
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::ModelCall { .. }))
            .map(|e| e.kind)
            .collect()
    };
    let direct = Arc::new(Fixed::default());
    let (_, d) = run(dirs.spec("seaside", "sea-003", "direct", direct.clone())).await;
    let bare = Arc::new(Fixed::default());
    let mut spec = dirs.spec("seaside", "sea-003", "scaffold", bare.clone());
    spec.options = without(ALL_BUT_SYNTHESIS);
    let (out, s) = run(spec).await;
    assert_eq!(out.outcome.stop, StopReason::Answered);
    assert_eq!(
        *direct.requests.lock().unwrap(),
        *bare.requests.lock().unwrap()
    );
    let (mut d, mut s) = (calls(&d), calls(&s));
    assert_eq!(d.len(), 1);
    for c in d.iter_mut().chain(s.iter_mut()) {
        if let EventKind::ModelCall { latency_ms, .. } = c {
            *latency_ms = 0.0;
        }
    }
    assert_eq!(d, s, "the same call, event for event");
    // And nothing but the one component ran.
    let (_, all) = run({
        let mut spec = dirs.spec("seaside", "sea-003", "scaffold", bare.clone());
        spec.options = without(ALL_BUT_SYNTHESIS);
        spec
    })
    .await;
    let started: Vec<String> = all
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ComponentStarted { component, .. } => Some(component.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(started, ["answer"]);
}

/// The component events of a trace, in order.
fn components(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ComponentStarted { component, .. } => Some(component.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_smoke_task_of_every_suite_runs_on_the_real_model_and_replays_from_its_cassette() {
    let dirs = Dirs::new();
    // The default pipeline with shorter drafts and answers, to keep the test quick.
    let text = ladder_scaffold::DEFAULT_PIPELINE
        .replace("max_tokens = 120", "max_tokens = 24")
        .replace("max_tokens = 256", "max_tokens = 64");
    let options = StrategyOptions {
        pipeline: Some(("small.toml".into(), text)),
        ..Default::default()
    };
    for (suite, id) in [
        ("seaside", "sea-002"),
        ("helpdesk", "help-031"),
        ("facts", "facts-003"),
    ] {
        let cassette = dirs.0.path().join(format!("{id}.cassette.jsonl"));
        let recorder: Arc<dyn LanguageModel> =
            Arc::new(ladder_model::Recorder::create(local(), &cassette).unwrap());
        let mut spec = dirs.spec(suite, id, "scaffold", recorder);
        spec.options = options.clone();
        spec.overrides.max_tokens = Some(12_000);
        let (out, events) = run(spec).await;
        assert!(
            matches!(
                out.outcome.stop,
                StopReason::Answered | StopReason::BudgetExhausted { .. }
            ),
            "{id}: {:?}",
            out.outcome
        );
        let m = &out.metrics;
        assert!(
            m.prompt_tokens + m.completion_tokens <= 12_000,
            "{id}: within the token budget"
        );
        assert_eq!(
            components(&events),
            [
                "classify",
                "form",
                "retrieve",
                "candidates",
                "compress",
                "debate",
                "answer"
            ],
            "{id}: components in graph order"
        );
        // Each component's own events sit between its start and finish.
        let mut open: Option<String> = None;
        for e in &events {
            match &e.kind {
                EventKind::ComponentStarted { component, .. } => {
                    assert!(open.is_none());
                    open = Some(component.clone());
                }
                EventKind::ComponentFinished {
                    component,
                    ok,
                    detail,
                } => {
                    assert_eq!(open.as_ref(), Some(component));
                    assert!(ok, "{id}: {component} failed: {detail}");
                    open = None;
                }
                EventKind::IntentDecision { .. } => assert_eq!(open.as_deref(), Some("classify")),
                EventKind::DebateMessage { .. } => assert_eq!(open.as_deref(), Some("debate")),
                EventKind::Retrieval { .. } => assert_eq!(open.as_deref(), Some("retrieve")),
                _ => {}
            }
        }
        if id == "help-031" {
            let chosen = events.iter().find_map(|e| match &e.kind {
                EventKind::IntentDecision { chosen, .. } => Some(chosen.clone()),
                _ => None,
            });
            assert_eq!(
                chosen.map(|c| c.len()),
                Some(2),
                "a two-intent request gets two labels"
            );
        }

        let replayer: Arc<dyn LanguageModel> =
            Arc::new(ladder_model::Replayer::open(&cassette).unwrap());
        let mut spec = dirs.spec(suite, id, "scaffold", replayer);
        spec.options = options.clone();
        spec.overrides.max_tokens = Some(12_000);
        let (_, replayed) = run(spec).await;
        let mut replayed = without_timing(&replayed);
        let live = without_timing(&events);
        for (a, b) in live.iter().zip(replayed.iter_mut()) {
            if let (EventKind::Header(a), EventKind::Header(b)) = (&a.kind, &mut b.kind) {
                b.model = a.model.clone();
            }
        }
        assert_eq!(live, replayed, "{id}: the replay gives the same trace");
    }
}

#[tokio::test]
async fn the_model_classifier_and_extractor_choose_under_their_grammars_on_the_real_model() {
    let dirs = Dirs::new();
    let text = ladder_scaffold::DEFAULT_PIPELINE
        .replace("method = \"embedding\"", "method = \"llm\"")
        .replace("extractor = \"embedding\"", "extractor = \"llm\"")
        .replace("max_tokens = 256", "max_tokens = 48");
    let options = StrategyOptions {
        pipeline: Some(("llm.toml".into(), text)),
        without: vec!["compress".into(), "debate".into()],
        ..Default::default()
    };
    let suite = ladder_harness::load_suite("seaside").unwrap();
    let labels: Vec<String> = suite
        .manifest
        .intents
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let mut spec = dirs.spec("seaside", "sea-003", "scaffold", local());
    spec.options = options;
    let (out, events) = run(spec).await;
    assert_eq!(out.outcome.stop, StopReason::Answered, "{:?}", out.outcome);
    let outputs = |purpose: &str| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ModelCall {
                    purpose: p, output, ..
                } if p == purpose => Some(output.clone()),
                _ => None,
            })
            .collect()
    };
    let classify = outputs("classify");
    assert_eq!(classify.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&classify[0]).expect("the grammar gives JSON");
    for label in v["intents"].as_array().expect("a list of intents") {
        let l = label.as_str().unwrap().to_string();
        assert!(labels.contains(&l) || l == "unknown", "{l} is not a label");
    }
    let chosen = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::IntentDecision { chosen, .. } => Some(chosen.clone()),
            _ => None,
        })
        .unwrap();
    assert!(chosen.iter().all(|c| labels.contains(c)), "{chosen:?}");
    if chosen.contains(&"plan_trip".to_string()) {
        let extract = outputs("extract");
        assert_eq!(extract.len(), 1, "the extractor made its one call");
        let v: serde_json::Value =
            serde_json::from_str(&extract[0]).expect("the grammar gives JSON");
        assert!(
            v.as_object().is_some_and(|o| o.contains_key("scope")),
            "{v}"
        );
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Seaside copied to `<tmp>/<folder>/seaside`, without its pipeline.toml; with `pipeline`
/// as its own when given.
fn seaside_copy(dirs: &Dirs, folder: &str, pipeline: Option<&str>) -> std::path::PathBuf {
    let dir = dirs.0.path().join(folder).join("seaside");
    copy_dir(&ladder_world::default_suites_dir().join("seaside"), &dir);
    std::fs::remove_file(dir.join("pipeline.toml")).unwrap();
    if let Some(text) = pipeline {
        std::fs::write(dir.join("pipeline.toml"), text).unwrap();
    }
    dir
}

fn header_settings(events: &[Event]) -> serde_json::Value {
    match &events[0].kind {
        EventKind::Header(h) => h.settings.clone(),
        other => panic!("the first event is no header: {other:?}"),
    }
}

#[tokio::test]
async fn a_suite_outside_the_tree_runs_with_its_own_pipeline_toml() {
    let dirs = Dirs::new();
    let text = "# this copy's own settings\n[[node]]\nid = \"retrieve\"\nk = 1\n\n[[node]]\nid = \"debate\"\nenabled = false\n";
    let dir = seaside_copy(&dirs, "elsewhere", Some(text));
    let path = dir.join("pipeline.toml");
    let spec = dirs.spec(dir.to_str().unwrap(), "sea-001", "scaffold", local());
    let (out, events) = run(spec).await;
    assert_eq!(out.outcome.stop, StopReason::Answered, "{:?}", out.outcome);
    let settings = header_settings(&events);
    assert_eq!(settings["suite_override"], path.display().to_string());
    assert_eq!(
        settings["hashes"]["pipelines"]["suite"],
        ladder_core::content_hash(&text),
        "the header hashes the text the run used"
    );
    let ran = components(&events);
    assert!(ran.contains(&"retrieve".to_string()), "{ran:?}");
    assert!(!ran.contains(&"debate".to_string()), "{ran:?}");
    let retrievals: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Retrieval {
                k, hits, filter, ..
            } => Some((*k, hits.len(), filter.clone())),
            _ => None,
        })
        .collect();
    assert!(!retrievals.is_empty());
    for (k, hits, filter) in retrievals {
        assert_eq!(k, 1, "this copy's k");
        assert!(hits <= 1);
        assert!(
            filter.is_none(),
            "seaside's own filters are not this copy's"
        );
    }
}

#[tokio::test]
async fn a_suite_named_seaside_in_another_folder_gets_no_compiled_in_settings() {
    let dirs = Dirs::new();
    let dir = seaside_copy(&dirs, "other", None);
    let mut spec = dirs.spec(dir.to_str().unwrap(), "sea-001", "scaffold", local());
    spec.options = without(&["compress", "debate"]);
    let (out, events) = run(spec).await;
    assert_eq!(out.task.suite, "seaside");
    let settings = header_settings(&events);
    assert!(settings["suite_override"].is_null(), "{settings}");
    assert!(
        settings["hashes"]["pipelines"].get("suite").is_none(),
        "{settings}"
    );
    for e in &events {
        if let EventKind::Retrieval { filter, k, .. } = &e.kind {
            assert!(
                filter.is_none(),
                "seaside's filters came by name: {filter:?}"
            );
            assert_eq!(*k, 4, "the default k");
        }
    }
    // The committed seaside brings its own: the same run there names its file.
    let mut spec = dirs.spec("seaside", "sea-001", "scaffold", Arc::new(Fixed::default()));
    spec.options = without(&["compress", "debate"]);
    let (_, events) = run(spec).await;
    let settings = header_settings(&events);
    assert!(
        settings["suite_override"]
            .as_str()
            .is_some_and(|p| p.ends_with("seaside/pipeline.toml")),
        "{settings}"
    );
}
