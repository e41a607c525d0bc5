//! `ladder evolve` end to end: the split never leaks, the cap holds, a rollback keeps the
//! parent's bytes and every lesson is a model reply's (with a scripted model, a test
//! double that plays loop, reflector and curator); a generation is reproducible from its
//! cassettes (with the real 135M model).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use ladder_core::{
    ChatRequest, ChatResponse, Embedder, FinishReason, LanguageModel, Message, ModelError,
    ModelInfo, TokenCount, TokenSink, Usage,
};
use ladder_evolve::{
    differences, evolve, gen_dir, read_json, Cap, Curation, EvolveSpec, Generation, Playbook,
    Secrets, Settings, Source, UpdateMode,
};

fn embedder() -> Arc<dyn Embedder> {
    static E: OnceLock<Arc<dyn Embedder>> = OnceLock::new();
    Arc::clone(E.get_or_init(|| {
        Arc::new(ladder_retrieval::FastEmbedder::load_default().expect("`just setup` installs it"))
    }))
}

/// One data folder for the tests of this file: the knowledge bases are ingested once (the
/// store is shared within a process).
fn data() -> std::path::PathBuf {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().expect("a temp dir"))
        .path()
        .join("data")
}

fn suite(name: &str) -> ladder_world::Suite {
    ladder_harness::run::load_suite(name).expect("a committed suite")
}

/// The scripted model: as the loop, it answers at once with a destination the task's judge
/// accepts, unless its system prompt holds a playbook (then it answers with one it does not:
/// so a playbook makes dev worse); as the reflector, one fixed lesson; as the curator, the
/// changes it was given.
struct Scripted {
    /// Opening -> (a right answer, a wrong one).
    answers: BTreeMap<String, (String, String)>,
    curator: String,
}

#[async_trait]
impl LanguageModel for Scripted {
    fn info(&self) -> ModelInfo {
        ModelInfo::new("scripted", "evolve")
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
        let system = &r.messages[0].content;
        let text = if system.starts_with(ladder_evolve::reflect::REFLECT_PROMPT.trim()) {
            r#"{"lesson": "Ask the user how many days they have before you answer.", "helpful": [], "harmful": []}"#.to_string()
        } else if system.starts_with(ladder_evolve::reflect::CURATE_PROMPT.trim()) {
            self.curator.clone()
        } else if system.starts_with(ladder_evolve::reflect::REWRITE_PROMPT.trim()) {
            // The same lessons, written as a whole playbook.
            let changes: serde_json::Value =
                serde_json::from_str(&self.curator).unwrap_or_default();
            let lessons: Vec<&serde_json::Value> = changes["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| &c["text"])
                .collect();
            serde_json::json!({ "lessons": lessons }).to_string()
        } else {
            let opening = r
                .messages
                .iter()
                .find(|m| m.role == ladder_core::Role::User)
                .map(|m| m.content.clone())
                .unwrap_or_default();
            let (right, wrong) = self.answers.get(&opening).cloned().unwrap_or_default();
            let pick = if system.contains(ladder_evolve::playbook::HEADING) {
                wrong
            } else {
                right
            };
            serde_json::json!({"action": "answer", "text": format!("I recommend {pick}."), "picks": [pick]}).to_string()
        };
        Ok(ChatResponse {
            text,
            finish: FinishReason::Stop,
            usage: Usage {
                prompt_tokens: TokenCount::estimate(&r.messages).tokens,
                completion_tokens: 20,
                ..Usage::default()
            },
            prompt_ms: 0.0,
            generation_ms: 0.0,
            total_ms: 1.0,
        })
    }
}

fn settings(
    dev: &[&str],
    test: &[&str],
    transfer: &[&str],
    generations: u32,
    model: &str,
) -> Settings {
    Settings {
        suite: "seaside".into(),
        transfer: (!transfer.is_empty()).then(|| "helpdesk".into()),
        generations,
        modes: vec![UpdateMode::Deltas],
        dev: dev.iter().map(|s| s.to_string()).collect(),
        test: test.iter().map(|s| s.to_string()).collect(),
        transfer_tasks: transfer.iter().map(|s| s.to_string()).collect(),
        cap: Cap {
            lessons: 2,
            lesson_chars: 200,
            total_chars: 1600,
        },
        rollback: false,
        baselines: false,
        hand_playbook: None,
        seed: 0,
        max_steps: Some(3),
        max_model_calls: None,
        max_tokens: None,
        max_wall_ms: None,
        model: model.into(),
        prompts_hash: ladder_evolve::reflect::prompts_hash(),
    }
}

/// Every playbook saved in the folder, with its path.
fn playbooks(out: &Path, s: &Settings) -> Vec<(String, Playbook)> {
    let mut all = Vec::new();
    for &mode in &s.modes {
        for g in 0..=s.generations {
            for file in ["candidate.json", "playbook.json"] {
                let path = gen_dir(out, mode, g).join(file);
                let p: Playbook = read_json(&path)
                    .expect("readable")
                    .unwrap_or_else(|| panic!("{} is saved", path.display()));
                all.push((path.display().to_string(), p));
            }
        }
    }
    all
}

fn secrets(s: &Settings) -> Secrets {
    ladder_evolve::secrets(s).expect("the suites load")
}

/// The right and wrong answers of seaside's tasks, by opening: the first name its judge
/// accepts, and a destination it names nowhere in its accepted list.
fn answers() -> BTreeMap<String, (String, String)> {
    let sea = suite("seaside");
    sea.tasks
        .iter()
        .filter_map(|t| {
            let right = t.expect.recommend_any.first()?.clone();
            let wrong = sea
                .documents
                .iter()
                .filter(|d| d.meta.kind == "destination")
                .map(|d| d.meta.title.clone())
                .find(|n| !t.expect.recommend_any.contains(n))?;
            Some((t.opening.clone(), (right, wrong)))
        })
        .collect()
}

/// A fresh experiment in `out`.
fn fresh(
    settings: Settings,
    source: Source,
    out: std::path::PathBuf,
    concurrency: usize,
) -> EvolveSpec {
    EvolveSpec {
        settings,
        source,
        out,
        resume: false,
        data: data(),
        embedder: embedder(),
        concurrency,
    }
}

async fn run(spec: &EvolveSpec) -> Vec<Generation> {
    evolve(spec, |_| {}).await.expect("the experiment runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_out_texts_never_enter_a_playbook_the_cap_holds_and_lessons_are_the_models() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let sea = suite("seaside");
    let (dev, test, transfer) = (["sea-001", "sea-004"], ["sea-006"], ["help-003"]);
    let test_task = sea.task(test[0]).expect("sea-006");
    // A test answer no dev task accepts, and the test task's opening: both held out.
    let leak_name = test_task
        .expect
        .recommend_any
        .iter()
        .find(|n| {
            dev.iter().all(|d| {
                !sea.task(d)
                    .expect("dev task")
                    .expect
                    .recommend_any
                    .contains(n)
            })
        })
        .expect("a test-only answer")
        .clone();
    let changes = serde_json::json!({"changes": [
        {"op": "add", "id": "", "text": format!("Recommend {leak_name} whenever the user wants the sea."), "from": [1]},
        {"op": "add", "id": "", "text": "Ask the user how many days they have before you answer.", "from": [1, 2]},
        {"op": "add", "id": "", "text": format!("When a user says \"{}\", search at once.", test_task.opening), "from": [2]},
        {"op": "add", "id": "", "text": "Search the knowledge base before naming any place.", "from": [2]},
        {"op": "add", "id": "", "text": "Give the reasons each recommendation fits the wishes.", "from": [1]},
    ]});
    let model = Arc::new(Scripted {
        answers: answers(),
        curator: changes.to_string(),
    });
    let mut s = settings(&dev, &test, &transfer, 2, "scripted");
    s.modes = vec![UpdateMode::Deltas, UpdateMode::Rewrite];
    let spec = fresh(s.clone(), Source::Live(model), dir.path().join("ev"), 2);
    let figures = run(&spec).await;
    assert_eq!(figures.len(), 6, "generations 0-2 of two modes");
    let secrets = secrets(&s);
    let saved = playbooks(&spec.out, &s);
    for (path, p) in &saved {
        for l in &p.lessons {
            assert_eq!(secrets.find(&l.text), None, "{path}: lesson {} leaks", l.id);
        }
        assert!(
            p.lessons.len() <= s.cap.lessons && p.chars() <= s.cap.total_chars,
            "{path}: the cap holds"
        );
    }
    let curation: Curation =
        read_json(&gen_dir(&spec.out, UpdateMode::Deltas, 1).join("curation.json"))
            .expect("readable")
            .expect("saved");
    let held_out: Vec<&str> = curation
        .refused
        .iter()
        .filter(|r| r.reason.contains("held out"))
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(
        held_out.len(),
        2,
        "the answer and the opening are refused: {:?}",
        curation.refused
    );
    assert!(
        curation.refused.iter().any(|r| r.reason.contains("full")),
        "the cap refuses the rest: {:?}",
        curation.refused
    );
    let first: Playbook =
        read_json(&gen_dir(&spec.out, UpdateMode::Deltas, 1).join("candidate.json"))
            .expect("readable")
            .expect("saved");
    assert_eq!(
        first
            .lessons
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>(),
        [
            "Ask the user how many days they have before you answer.",
            "Search the knowledge base before naming any place."
        ]
    );
    assert_eq!(
        first.lessons[0].sources,
        ["sea-001", "sea-004"],
        "provenance: the reflections it came from"
    );
    // Every lesson of every playbook is in the reply of a curation of its mode.
    for &mode in &s.modes {
        let replies: Vec<String> = (1..=s.generations)
            .filter_map(|g| {
                read_json::<Curation>(&gen_dir(&spec.out, mode, g).join("curation.json"))
                    .expect("readable")
            })
            .map(|c| c.response)
            .collect();
        for g in 0..=s.generations {
            let p: Playbook = read_json(&gen_dir(&spec.out, mode, g).join("candidate.json"))
                .expect("readable")
                .expect("saved");
            for l in &p.lessons {
                assert!(
                    replies.iter().any(|r| r.contains(&l.text)),
                    "{mode:?} gen {g}: {:?} is no model reply's",
                    l.text
                );
            }
        }
    }
    // The scripted loop answers rightly with no playbook and wrongly with one.
    assert!(figures[0].dev.0 > figures[1].dev.0, "{figures:?}");
    let rewritten: Playbook =
        read_json(&gen_dir(&spec.out, UpdateMode::Rewrite, 1).join("candidate.json"))
            .expect("readable")
            .expect("saved");
    assert_eq!(
        rewritten.lessons.len(),
        2,
        "the rewrite keeps what is not held out, to the cap: {rewritten:?}"
    );
    let report = ladder_evolve::report::report(&spec.out).expect("a report");
    assert!(
        report.contains("| 0 | - | 0 | 0 |")
            && report.contains("| 1 | +2 ~0 -0 (3 refused, 2 for held-out text) | 2 |")
            && report.contains("Leak check: 12 saved playbooks")
            && report.contains("rewrite mode"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_keeps_the_parents_playbook_byte_for_byte() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let changes = r#"{"changes": [{"op": "add", "id": "", "text": "Ask the user how many days they have before you answer.", "from": [1]}]}"#;
    let model = Arc::new(Scripted {
        answers: answers(),
        curator: changes.into(),
    });
    let mut s = settings(&["sea-001", "sea-004"], &["sea-006"], &[], 1, "scripted");
    s.rollback = true;
    let spec = fresh(s.clone(), Source::Live(model), dir.path().join("ev"), 1);
    let figures = run(&spec).await;
    assert!(
        figures[1].rolled_back && figures[1].dev.0 < figures[0].dev.0,
        "{figures:?}"
    );
    let (g0, g1) = (
        gen_dir(&spec.out, UpdateMode::Deltas, 0),
        gen_dir(&spec.out, UpdateMode::Deltas, 1),
    );
    let read = |p: &Path| std::fs::read(p).expect("saved");
    assert_eq!(
        read(&g1.join("playbook.json")),
        read(&g0.join("playbook.json")),
        "the parent's bytes"
    );
    assert_ne!(
        read(&g1.join("candidate.json")),
        read(&g1.join("playbook.json")),
        "the candidate is kept aside"
    );
    // A resume with other settings is refused, naming them; the same settings resume.
    let mut other = EvolveSpec {
        resume: true,
        ..spec
    };
    other.settings.seed = 7;
    let e = evolve(&other, |_| {}).await.expect_err("other settings");
    assert!(e.to_string().contains("seed"), "{e}");
    other.settings.seed = 0;
    assert_eq!(
        run(&other).await,
        figures,
        "a resume of a finished experiment changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_is_reproducible_from_its_cassettes_on_the_real_model() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let model = ladder_model::open(
        &ladder_model::ModelSpec::Named("smollm2-135m".into()),
        &Default::default(),
    )
    .expect("`just setup` installs the local model");
    let s = settings(
        &["sea-001", "sea-004"],
        &["sea-006"],
        &[],
        1,
        &model.info().to_string(),
    );
    let spec = fresh(s.clone(), Source::Live(model), dir.path().join("ev"), 2);
    let figures = run(&spec).await;
    assert!(gen_dir(&spec.out, UpdateMode::Deltas, 1)
        .join("cassette.jsonl")
        .exists());
    let replay = fresh(
        s,
        Source::Replay(spec.out.clone()),
        dir.path().join("replay"),
        2,
    );
    assert_eq!(run(&replay).await.len(), figures.len());
    let diff = differences(&spec.out, &replay.out);
    assert!(diff.is_empty(), "the replay differs: {diff:?}");
    // The check can fail: a changed playbook is found.
    std::fs::write(
        gen_dir(&replay.out, UpdateMode::Deltas, 1).join("playbook.json"),
        "{}",
    )
    .expect("writable");
    assert_eq!(differences(&spec.out, &replay.out).len(), 1);
}
