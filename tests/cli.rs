//! The `ladder` binary end to end, on the real local model.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ladder_core::trace::{read_jsonl, without_timing, EventKind};
use ladder_core::{Metrics, StopReason};

/// Where the tests' benches remember their runs: not the machine's own history, which
/// `ladder bench --dry-run` estimates real benches from.
fn test_history() -> PathBuf {
    std::env::temp_dir().join("ladder-test-bench-history.jsonl")
}

/// The binary on the tests' model, the smallest of the catalog (quick), unless a test
/// names another with --model.
fn ladder_cmd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ladder"));
    command.env("LADDER_MODEL", "smollm2-135m");
    command
}

fn ladder(args: &[&str]) -> Output {
    ladder_cmd()
        .args(args)
        .env("LADDER_HISTORY", test_history())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the ladder binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

/// The one trace file a run wrote into `dir`.
fn only_trace(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn direct_run_writes_a_valid_trace_whose_metrics_add_up() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = ladder(&[
        "run",
        "--strategy",
        "direct",
        "--task",
        &fixture("fixtures/tasks/capital.toml"),
        "--out",
        &out_dir.path().display().to_string(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Paris"), "{stdout}");

    let trace = only_trace(out_dir.path());
    assert!(
        stdout.contains(&trace.display().to_string()),
        "the trace path is printed: {stdout}"
    );
    let events = read_jsonl(&trace).unwrap();
    assert!(
        matches!(&events[0].kind, EventKind::Header(h) if h.strategy == "direct" && h.task == "capital-of-france")
    );
    let EventKind::RunFinished { outcome } = &events.last().unwrap().kind else {
        panic!("last event is not run_finished")
    };
    assert_eq!(outcome.stop, StopReason::Answered);

    let m = Metrics::from_events(&events);
    let (mut prompt, mut completion, mut latency) = (0, 0, 0.0);
    for e in &events {
        if let EventKind::ModelCall {
            usage, latency_ms, ..
        } = &e.kind
        {
            prompt += usage.prompt_tokens;
            completion += usage.completion_tokens;
            latency += latency_ms;
        }
    }
    assert_eq!(m.model_calls, 1);
    assert!(prompt > 0 && completion > 0);
    assert_eq!((m.prompt_tokens, m.completion_tokens), (prompt, completion));
    assert_eq!(m.total_tokens, prompt + completion);
    assert_eq!(m.model_ms, latency);
    assert!(m.model_ms <= m.wall_ms, "{m:?}");
    assert!(events
        .windows(2)
        .all(|w| w[0].seq + 1 == w[1].seq && w[0].at_ms <= w[1].at_ms));
    assert!(
        stdout.contains(&format!(
            "{} prompt + {} completion = {} tokens",
            prompt,
            completion,
            prompt + completion
        )),
        "printed metrics match the trace: {stdout}"
    );
}

#[test]
fn a_recorded_run_replays_to_an_identical_trace() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("capital.jsonl").display().to_string();
    let task = fixture("fixtures/tasks/capital.toml");
    let live = dir.path().join("live");
    let replayed = dir.path().join("replayed");
    let out = ladder(&[
        "run",
        "--task",
        &task,
        "--record",
        &cassette,
        "--out",
        &live.display().to_string(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = ladder(&[
        "run",
        "--task",
        &task,
        "--model",
        &format!("replay:{cassette}"),
        "--out",
        &replayed.display().to_string(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));

    let live = without_timing(&read_jsonl(&only_trace(&live)).unwrap());
    let mut replayed = without_timing(&read_jsonl(&only_trace(&replayed)).unwrap());
    // The replay says it is one; everything else is the same, event for event.
    let EventKind::Header(replay_header) = &mut replayed[0].kind else {
        panic!()
    };
    let EventKind::Header(live_header) = &live[0].kind else {
        panic!()
    };
    assert_eq!(replay_header.model, format!("replay:{}", live_header.model));
    replay_header.model = live_header.model.clone();
    assert_eq!(live, replayed);
}

#[test]
fn a_cassette_miss_names_the_hash_and_the_closest_request() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("c.jsonl").display().to_string();
    let out = ladder(&[
        "run",
        "--task",
        &fixture("fixtures/tasks/capital.toml"),
        "--record",
        &cassette,
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = ladder(&[
        "run",
        "--task",
        &fixture("fixtures/tasks/teaching.toml"),
        "--id",
        "capital-of-spain",
        "--model",
        &format!("replay:{cassette}"),
        "--out",
        &dir.path().display().to_string(),
    ]);
    let (stdout, _) = text(&out);
    assert!(!out.status.success());
    assert!(
        stdout.contains("is not in cassette") && stdout.contains(&cassette),
        "{stdout}"
    );
    assert!(
        stdout.contains("closest recorded request is") && stdout.contains("Spain"),
        "{stdout}"
    );
}

#[test]
fn malformed_task_files_name_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.toml", "[[task]]\nid = \"x\"\n", "opening"),
        (
            "typo.toml",
            "[[task]]\nid = \"x\"\nopening = \"hi\"\nbudgte = {}\n",
            "budgte",
        ),
        (
            "type.toml",
            "[[task]]\nid = \"x\"\nopening = \"hi\"\nbudget = { max_steps = -1 }\n",
            "max_steps",
        ),
        ("syntax.toml", "[[task]\nid = \"x\"\n", "line 1"),
        ("empty.toml", "# nothing\n", "no [[task]] entries"),
    ];
    for (name, body, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = ladder(&[
            "run",
            "--task",
            &path.display().to_string(),
            "--model",
            "replay:/nonexistent",
        ]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(name) && stderr.contains(expected),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = ladder(&["run", "--task", "/nonexistent/tasks.toml"]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("/nonexistent/tasks.toml"),
        "{stderr}"
    );
    let out = ladder(&["run", "--task", &fixture("fixtures/tasks/teaching.toml")]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("--id") && stderr.contains("seaside-vague"),
        "{stderr}"
    );
}

#[test]
fn bad_models_and_grammars_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, stderr) = text(&ladder(&[
        "chat",
        "hi",
        "--model",
        "local:/nonexistent/m.gguf",
    ]));
    assert!(
        stderr.contains("/nonexistent/m.gguf") && stderr.contains("just setup"),
        "{stderr}"
    );

    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    let out = ladder(&[
        "chat",
        "hi",
        "--model",
        &format!("local:{}", junk.display()),
    ]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("not a GGUF file"),
        "{stderr}"
    );

    let grammar = dir.path().join("bad.gbnf");
    std::fs::write(&grammar, "root ::= [a-z\n").unwrap();
    let out = ladder(&["chat", "hi", "--grammar", &grammar.display().to_string()]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("could not parse the grammar"),
        "{stderr}"
    );

    let out = ladder(&["chat", "hi", "--grammar", "/nonexistent/g.gbnf"]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("/nonexistent/g.gbnf"),
        "{stderr}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let out = ladder(&["chat", "hi", "--model", &format!("openai:m@{url}")]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success() && stderr.contains(&url), "{stderr}");

    for out in [
        ladder(&["chat", "hi", "--model", "gpt-4"]),
        ladder(&["run"]),
    ] {
        assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
    }
}

#[test]
fn chat_streams_a_grammar_constrained_answer() {
    let dir = tempfile::tempdir().unwrap();
    let grammar = dir.path().join("yesno.gbnf");
    std::fs::write(&grammar, "root ::= (\"yes\" | \"no\") \".\"\n").unwrap();
    let out = ladder(&[
        "chat",
        "Is Paris in France?",
        "--grammar",
        &grammar.display().to_string(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.trim() == "yes." || stdout.trim() == "no.",
        "{stdout:?}"
    );
    assert!(
        stderr.contains("prompt +") && stderr.contains("completion tokens"),
        "{stderr}"
    );
}

#[test]
fn models_reports_the_local_model() {
    let (stdout, _) = text(&ladder(&["models"]));
    assert!(
        stdout.contains("local") && stdout.contains("installed"),
        "{stdout}"
    );
    assert!(stdout.contains("openai:MODEL@URL"), "{stdout}");
}

#[test]
fn validate_passes_on_the_committed_suites_and_lists_every_problem_of_a_broken_one() {
    let out = ladder(&["validate"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for suite in ["seaside", "helpdesk", "facts"] {
        assert!(
            stdout.contains(&format!("ok: fixtures/suites/{suite}")),
            "{stdout}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    let gen = ladder(&[
        "world",
        "generate",
        "--only",
        "facts",
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert!(gen.status.success(), "{:?}", text(&gen));
    std::fs::rename(dir.path().join("facts"), &broken).unwrap();
    let tasks = broken.join("tasks.toml");
    let t = std::fs::read_to_string(&tasks).unwrap().replacen(
        "id = \"facts-002\"",
        "id = \"facts-001\"",
        1,
    );
    std::fs::write(&tasks, t).unwrap();
    std::fs::write(broken.join("kb/blank.md"), "").unwrap();
    let out = ladder(&["validate", &broken.display().to_string()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("tasks.toml:") && stdout.contains("\"facts-001\" is used more than once"),
        "{stdout}"
    );
    assert!(stdout.contains("kb/blank.md: empty document"), "{stdout}");
    assert!(
        stdout.contains("suite.toml:") && stdout.contains("smoke subset names task \"facts-002\""),
        "{stdout}"
    );
    assert!(stdout.contains("3 problem(s)"), "{stdout}");
}

#[test]
fn a_suite_run_uses_the_simulated_user_and_writes_a_score() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let out = ladder(&[
        "run",
        "--suite",
        "facts",
        "--id",
        "facts-001",
        "--out",
        &dir.path().display().to_string(),
        "--data",
        &data,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("score     ") && stdout.contains("fact \"Kaldor Vance\""),
        "{stdout}"
    );
    let score_file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".score.json"))
        .expect("a score file is written beside the trace");
    let score: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(score_file).unwrap()).unwrap();
    assert_eq!(score["task"], "facts-001");

    let out = ladder(&["run", "--suite", "facts"]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("--id") && stderr.contains("facts-001"),
        "{stderr}"
    );
    let out = ladder(&["run", "--suite", "nowhere", "--id", "x"]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("nowhere"),
        "{stderr}"
    );
}

#[test]
fn ingest_then_search_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let kb = fixture("fixtures/suites/helpdesk/kb");
    let out = ladder(&["ingest", &kb, "--collection", "help", "--data", &data]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("29 documents") && stdout.contains("0 unchanged"),
        "{stdout}"
    );
    let out = ladder(&["ingest", &kb, "--collection", "help", "--data", &data]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("0 added, 0 updated") && stdout.contains("0 removed"),
        "{stdout}"
    );

    let out = ladder(&[
        "search",
        "How do I pair a Lumo Strip?",
        "--collection",
        "help",
        "--data",
        &data,
        "-k",
        "2",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("1. ") && stdout.lines().next().unwrap().contains("lumo-strip"),
        "{stdout}"
    );
    let out = ladder(&[
        "search",
        "price",
        "--collection",
        "help",
        "--data",
        &data,
        "--filter",
        "document=gift-wrapping",
    ]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("gift-wrapping") && !stdout.contains("returns-policy"),
        "{stdout}"
    );

    let out = ladder(&["search", "x", "--collection", "missing", "--data", &data]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("ladder ingest"),
        "{stderr}"
    );
    let out = ladder(&[
        "ingest",
        "/nonexistent/kb",
        "--collection",
        "x",
        "--data",
        &data,
    ]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("/nonexistent/kb"),
        "{stderr}"
    );
    let out = ladder(&[
        "search",
        "x",
        "--collection",
        "help",
        "--store",
        "redis://h",
    ]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("qdrant://HOST:PORT"),
        "{stderr}"
    );
}

#[test]
fn the_committed_cassette_replays_without_any_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = ladder_cmd()
        .args([
            "run",
            "--task",
            "fixtures/tasks/capital.toml",
            "--model",
            "replay:fixtures/cassettes/direct-capital.jsonl",
        ])
        .args(["--out", &dir.path().display().to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LADDER_MODELS_DIR", "/nonexistent")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Paris"), "{stdout}");
    let events = read_jsonl(&only_trace(dir.path())).unwrap();
    let EventKind::Header(header) = &events[0].kind else {
        panic!()
    };
    assert!(
        header.model.starts_with("replay:local:SmolLM2"),
        "the replay says what it replays: {}",
        header.model
    );
}

fn story_task(dir: &Path) -> String {
    let path = dir.join("story.toml");
    std::fs::write(
        &path,
        "[[task]]\nid = \"story\"\nopening = \"Write a long story about a lighthouse keeper and her cat, with many details.\"\n",
    )
    .unwrap();
    path.display().to_string()
}

/// The wall limit given on the command line ends the run, and the trace says so. A limit
/// of 1 ms is over before any machine could generate the answer, so this holds however
/// fast the machine is; that a call in flight is stopped is `ladder-core`'s test, on
/// paused time.
#[test]
fn the_wall_time_limit_ends_the_run_and_the_trace_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let task = story_task(dir.path());
    let out = ladder(&[
        "run",
        "--task",
        &task,
        "--max-wall-ms",
        "1",
        "--seed",
        "11",
        "--out",
        &dir.path().display().to_string(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("budget exhausted"), "{stderr}");
    let events = read_jsonl(&only_trace(dir.path())).unwrap();
    let EventKind::Header(h) = &events[0].kind else {
        panic!()
    };
    assert_eq!((h.seed, h.budget.max_wall_ms), (11, 1));
    let EventKind::RunFinished { outcome } = &events.last().unwrap().kind else {
        panic!()
    };
    assert_eq!(
        outcome.stop,
        StopReason::BudgetExhausted {
            limit: "wall time of 1 ms".into()
        }
    );
}

#[test]
fn a_killed_run_leaves_every_event_it_emitted_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let task = story_task(dir.path());
    let mut child = ladder_cmd()
        .args(["run", "--task", &task, "--out"])
        .arg(dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the header to reach the file, then kill the process mid-generation.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let trace = loop {
        let found = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "jsonl"));
        if let Some(p) = found.filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0)) {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no trace appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let events = read_jsonl(&trace).unwrap();
    assert!(matches!(&events[0].kind, EventKind::Header(h) if h.task == "story"));
}

#[test]
fn budget_flags_override_the_task_and_a_call_that_cannot_fit_is_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = ladder(&[
        "run",
        "--task",
        &fixture("fixtures/tasks/capital.toml"),
        "--max-tokens",
        "20",
        "--out",
        &dir.path().display().to_string(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("budget exhausted"), "{stderr}");
    let events = read_jsonl(&only_trace(dir.path())).unwrap();
    let EventKind::Header(h) = &events[0].kind else {
        panic!()
    };
    assert_eq!(h.budget.max_tokens, 20);
    assert_eq!(h.budget.max_model_calls, 2, "the task's own limit stays");
    assert_eq!(Metrics::from_events(&events).model_calls, 0);
}

#[test]
fn score_and_user_let_a_suite_author_try_a_suite_without_a_strategy() {
    let out = ladder(&[
        "score",
        "--suite",
        "seaside",
        "--id",
        "sea-001",
        "--answer",
        "I don't recommend Bramby Cove. Go to Gullby Cove.",
        "--json",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let score: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(score["success"], true, "{stdout}");
    assert_eq!(score["rejected"][0], "Bramby Cove");
    let out = ladder(&[
        "score",
        "--suite",
        "seaside",
        "--id",
        "sea-001",
        "--answer",
        "Go there.",
        "--picks",
        "Sunnyvale Bay",
    ]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with("failure") && stdout.contains("FAIL exists Sunnyvale Bay"),
        "{stdout}"
    );
    let out = ladder(&[
        "user",
        "--suite",
        "seaside",
        "--id",
        "sea-001",
        "--keywords",
        "Domestic or abroad? What is your favourite colour?",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("A: I'd rather stay in Norland. I don't know.")
            && stdout.contains("Answered \"Domestic or abroad?\" scope")
            && stdout.contains("Irrelevant"),
        "{stdout}"
    );
    let out = ladder(&[
        "score", "--suite", "seaside", "--id", "nope", "--answer", "x",
    ]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("\"nope\""),
        "{stderr}"
    );
}

#[test]
fn bootstrap_runs_on_a_smoke_task_with_every_action_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let out = ladder(&[
        "run",
        "--strategy",
        "bootstrap",
        "--suite",
        "seaside",
        "--id",
        "sea-001",
        "--max-steps",
        "3",
        "--out",
        &dir.path().display().to_string(),
        "--data",
        &data,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("strategy  bootstrap"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("score     "),
        "a score is printed: {stdout}"
    );
    let events = read_jsonl(&only_trace(dir.path())).unwrap();
    let EventKind::Header(h) = &events[0].kind else {
        panic!()
    };
    assert_eq!(h.settings["mode"], "constrained");
    assert_eq!(h.settings["prompt_hash"].as_str().map(str::len), Some(64));
    let actions: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Action { parse_error, .. } => Some(parse_error.clone()),
            _ => None,
        })
        .collect();
    assert!(!actions.is_empty() && actions.len() <= 3, "{actions:?}");
    assert!(
        actions.iter().all(Option::is_none),
        "constrained actions always parse: {actions:?}"
    );
    let EventKind::RunFinished { outcome } = &events.last().unwrap().kind else {
        panic!("the run ends with run_finished")
    };
    assert!(
        matches!(
            outcome.stop,
            StopReason::Answered
                | StopReason::Repeating { .. }
                | StopReason::BudgetExhausted { .. }
        ),
        "{:?}",
        outcome.stop
    );
}

#[test]
fn bootstrap_in_free_mode_ends_within_its_budget_on_a_smoke_task() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let out = ladder(&[
        "run",
        "--strategy",
        "bootstrap-free",
        "--suite",
        "facts",
        "--id",
        "facts-001",
        "--max-steps",
        "3",
        "--out",
        &dir.path().display().to_string(),
        "--data",
        &data,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(
        stdout.contains("strategy  bootstrap-free"),
        "{stdout}\n{stderr}"
    );
    let events = read_jsonl(&only_trace(dir.path())).unwrap();
    let actions = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Action { .. }))
        .count();
    assert!((1..=3).contains(&actions), "{actions}");
    assert!(matches!(
        &events.last().unwrap().kind,
        EventKind::RunFinished { .. }
    ));
}

#[test]
fn a_bootstrap_run_with_another_prompt_replays_to_an_identical_trace() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let prompt = dir.path().join("prompt.txt");
    std::fs::write(
        &prompt,
        "You are a careful assistant. Ask before you answer.",
    )
    .unwrap();
    let cassette = dir.path().join("boot.jsonl").display().to_string();
    // The same run, live (recording) or replayed.
    let run = |model: &[&str], out: &str| {
        let out_dir = dir.path().join(out);
        let prompt = prompt.display().to_string();
        let out_arg = out_dir.display().to_string();
        let mut args = vec![
            "run",
            "--strategy",
            "bootstrap",
            "--suite",
            "helpdesk",
            "--id",
            "help-017",
            "--max-steps",
            "2",
            "--prompt",
            &prompt,
            "--out",
            &out_arg,
            "--data",
            &data,
        ];
        args.extend_from_slice(model);
        let o = ladder(&args);
        assert!(text(&o).0.contains("strategy  bootstrap"), "{:?}", text(&o));
        without_timing(&read_jsonl(&only_trace(&out_dir)).unwrap())
    };
    let live = run(&["--record", &cassette], "live");
    let first_call = live
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ModelCall { messages, .. } => Some(messages[0].content.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        first_call.contains("Ask before you answer."),
        "{first_call}"
    );
    let replay = format!("replay:{cassette}");
    let mut replayed = run(&["--model", &replay], "replayed");
    let EventKind::Header(h) = &mut replayed[0].kind else {
        panic!()
    };
    h.model = h.model.trim_start_matches("replay:").to_string();
    assert_eq!(live, replayed);
}

#[test]
fn an_interrupted_bench_resumes_without_repeating_or_losing_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let data = dir.path().join("data").display().to_string();
    let args = |resume: bool| {
        let mut a: Vec<String> = [
            "bench",
            "--strategies",
            "direct",
            "--suites",
            "facts",
            "--tasks",
            "facts-001,facts-002,facts-003",
            "--seed",
            "4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend([
            "--out".into(),
            out.display().to_string(),
            "--data".into(),
            data.clone(),
        ]);
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let mut child = ladder_cmd()
        .args(args(false))
        .env("LADDER_HISTORY", test_history())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let results = out.join("results.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) < 1 {
        assert!(std::time::Instant::now() < deadline, "no run finished");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    // A torn last line, as a kill in the middle of a write leaves it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&results)
        .unwrap()
        .write_all(b"{\"suite\":\"facts\",\"task\":\"facts-0")
        .unwrap();

    // Other settings are refused, with the difference.
    let mut other = args(true);
    other[8] = "5".into(); // --seed 5
    let o = ladder(&other.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !o.status.success() && text(&o).1.contains("seed"),
        "{:?}",
        text(&o)
    );

    let o = ladder(&args(true).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{:?}", text(&o));
    let lines: Vec<String> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[0], first, "a finished run is kept, not redone");
    let mut tasks: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["task"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    tasks.sort();
    assert_eq!(tasks, ["facts-001", "facts-002", "facts-003"]);
    assert!(
        text(&o).0.contains("| facts | direct | 3 |"),
        "{}",
        text(&o).0
    );
}

#[test]
fn scaffold_show_prints_the_graph_in_order_and_refuses_bad_pipelines_by_name() {
    let out = ladder(&["scaffold", "show", "--suite", "seaside"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let order: Vec<usize> = [
        "classify [",
        "form [",
        "retrieve [",
        "compress [",
        "debate [",
        "answer [",
    ]
    .iter()
    .map(|c| {
        stdout
            .find(c)
            .unwrap_or_else(|| panic!("{c} missing: {stdout}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    assert!(
        stdout.contains("filters: scope"),
        "seaside's override applies: {stdout}"
    );
    let out = ladder(&["scaffold", "show", "--dot", "--without", "debate"]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("\"debate\" [label=") && stdout.contains("style=dashed"),
        "{stdout}"
    );
    assert!(stdout.contains("bridged"), "{stdout}");

    let out = ladder(&["scaffold", "show", "--without", "debat"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--without debat: no node has that id or kind"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[node]]\nid = \"answer\"\nkind = \"synthesis\"\nmax_tokens = 64\n[[edge]]\nfrom = \"answer\"\nto = \"judge\"\n",
    )
    .unwrap();
    let bad = bad.display().to_string();
    let out = ladder(&["scaffold", "show", "--pipeline", &bad]);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("edge answer -> judge: there is no node `judge`"),
        "{stderr}"
    );
    // A run refuses it before opening any model.
    let out = ladder(&[
        "run",
        "--strategy",
        "scaffold",
        "--suite",
        "seaside",
        "--id",
        "sea-002",
        "--pipeline",
        &bad,
        "--model",
        "replay:/nonexistent.jsonl",
    ]);
    let (_, stderr) = text(&out);
    assert!(stderr.contains("there is no node `judge`"), "{stderr}");
    let out = ladder(&[
        "run",
        "--suite",
        "seaside",
        "--id",
        "sea-002",
        "--without",
        "debate",
    ]);
    let (_, stderr) = text(&out);
    assert!(stderr.contains("direct has no pipeline"), "{stderr}");
}

#[test]
fn the_committed_scaffold_cassette_replays_to_the_same_trace_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut traces = Vec::new();
    for run in ["a", "b"] {
        let out_dir = dir.path().join(run);
        let out = ladder_cmd()
            .args([
                "run",
                "--strategy",
                "scaffold",
                "--suite",
                "seaside",
                "--id",
                "sea-002",
                "--model",
                "replay:fixtures/cassettes/scaffold-sea-002.jsonl",
            ])
            .args(["--out", &out_dir.display().to_string()])
            .args(["--data", &dir.path().join("data").display().to_string()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("5 model calls"), "{stdout}");
        traces.push(without_timing(&read_jsonl(&only_trace(&out_dir)).unwrap()));
    }
    assert_eq!(traces[0], traces[1]);
    let components: Vec<String> = traces[0]
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ComponentStarted { component, .. } => Some(component.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        components,
        [
            "classify",
            "form",
            "retrieve",
            "candidates",
            "compress",
            "debate",
            "answer"
        ]
    );
    // sea-002's opening says "I want to stay in Norland": scope is never asked.
    assert!(!traces[0].iter().any(|e| matches!(&e.kind,
        EventKind::UserTurn { question, .. } if question.contains("Norland or go abroad"))));
}

/// The essay's scene (sea-045) with the loop on qwen2.5-coder-1.5b, recorded with
/// `ladder run -s bootstrap --suite seaside --id sea-045 --record ...`: it asks the user
/// and answers, where before its aids it searched the same query three times and stopped
/// `repeating`. Its repeated search and question are turned back by observations, and its
/// last word is an answer.
#[test]
fn the_loop_on_the_essays_scene_asks_and_answers_in_its_committed_recording() {
    let dir = tempfile::tempdir().unwrap();
    let out = ladder_cmd()
        .args([
            "run",
            "--strategy",
            "bootstrap",
            "--suite",
            "seaside",
            "--id",
            "sea-045",
            "--model",
            "replay:fixtures/cassettes/bootstrap-sea-045-1.5b.jsonl",
        ])
        .args(["--out", &dir.path().join("out").display().to_string()])
        .args(["--data", &dir.path().join("data").display().to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("stop      answered"), "{stdout}");
    let trace = read_jsonl(&only_trace(&dir.path().join("out"))).unwrap();
    let header = match &trace[0].kind {
        EventKind::Header(h) => h.clone(),
        other => panic!("no header: {other:?}"),
    };
    assert!(
        header.model.contains("qwen2.5-coder-1.5b"),
        "{}",
        header.model
    );
    let asked = trace
        .iter()
        .filter(|e| matches!(e.kind, EventKind::UserTurn { .. }))
        .count();
    assert!(asked >= 1, "the loop asks the user");
    let observations: Vec<&str> = trace
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Observation { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        observations
            .iter()
            .any(|o| o.contains("you already did this")),
        "{observations:?}"
    );
    assert!(matches!(
        trace.last().map(|e| &e.kind),
        Some(EventKind::RunFinished { outcome }) if outcome.stop == StopReason::Answered
    ));
}

#[test]
fn a_concurrent_bench_gives_the_same_results_as_one_run_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let bench = |name: &str, concurrency: &str| {
        let out = dir.path().join(name);
        let o = ladder(&[
            "bench",
            "--strategies",
            "direct",
            "--suites",
            "facts",
            "--tasks",
            "facts-001,facts-002,facts-003,facts-004",
            "--concurrency",
            concurrency,
            "--out",
            &out.display().to_string(),
            "--data",
            &data,
        ]);
        assert!(o.status.success(), "{:?}", text(&o));
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["concurrency"], concurrency.parse::<u64>().unwrap());
        let mut answers: Vec<(String, String)> = std::fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let r: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    r["task"].as_str().unwrap().to_string(),
                    r["outcome"]["answer"].to_string(),
                )
            })
            .collect();
        answers.sort();
        answers
    };
    let one = bench("one", "1");
    let two = bench("two", "2");
    assert_eq!(one.len(), 4);
    assert_eq!(one, two, "concurrency changes timings, not results");
}

/// `--help` gives each model's measured default for runs in flight; a bench's manifest
/// names the decode loop it ran with: the shared one with --shared-loop (or a model whose
/// default it is), per-run contexts with --deterministic.
#[test]
fn a_bench_names_its_decode_loop_and_help_gives_each_models_default() {
    let help = text(&ladder(&["bench", "--help"])).0;
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for m in ladder_model::catalog::models() {
        assert!(
            help.contains(&m.name),
            "--concurrency's help names {}:\n{help}",
            m.name
        );
    }
    assert!(
        help.contains("smollm2-135m one per core, per-run contexts"),
        "{help}"
    );
    assert!(help.contains("--deterministic"), "{help}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (flag, shared) in [("--shared-loop", true), ("--deterministic", false)] {
        let out = dir.path().join(flag.trim_start_matches('-'));
        let o = bench_direct_on_facts_001(&[], &["--concurrency", "2", flag], &out, &data);
        assert!(o.status.success(), "{:?}", text(&o));
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(
            manifest["plan"]["model_settings"]["decode_loop"]["shared"], shared,
            "{flag}: {}",
            manifest["plan"]["model_settings"]
        );
    }
}

#[test]
fn a_recorded_bench_replays_with_no_model_to_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let out = dir.path().join("replayed");
    let o = ladder(&[
        "bench",
        "--replay",
        "fixtures/runs/replay-small",
        "--out",
        &out.display().to_string(),
        "--data",
        &data,
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("replayed 4 runs with no model: identical"),
        "{stdout}"
    );
    // The chat model was the cassette (the embedding model still serves the knowledge base
    // and the simulated user).
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["plan"]["model"]
            .as_str()
            .unwrap()
            .starts_with("replay:"),
        "{manifest}"
    );

    // A bench whose results were not what the cassette gives is caught, run by run.
    let tampered = dir.path().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    for f in ["manifest.json", "cassette.jsonl"] {
        std::fs::copy(
            fixture(&format!("fixtures/runs/replay-small/{f}")),
            tampered.join(f),
        )
        .unwrap();
    }
    let results =
        std::fs::read_to_string(fixture("fixtures/runs/replay-small/results.jsonl")).unwrap();
    let mut lines: Vec<String> = results.lines().map(str::to_string).collect();
    let mut first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    first["outcome"]["answer"] = "something else".into();
    lines[0] = first.to_string();
    std::fs::write(tampered.join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    let o = ladder(&[
        "bench",
        "--replay",
        &tampered.display().to_string(),
        "--out",
        &dir.path().join("again").display().to_string(),
        "--data",
        &data,
    ]);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(
        stderr.contains("the replay differs") && stderr.contains("outcome differ"),
        "{stderr}"
    );
}

#[test]
fn a_dry_run_estimates_the_time_from_earlier_benches_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let line = |strategy: &str, suite: &str, ms: f64| {
        format!(
            "{{\"strategy\":\"{strategy}\",\"suite\":\"{suite}\",\"model\":\"local:SmolLM2-135M-Instruct.Q4_1.gguf\",\"concurrency\":1,\"wall_ms\":{ms}}}\n"
        )
    };
    std::fs::write(
        &history,
        line("direct", "facts", 2000.0)
            + &line("direct", "facts", 4000.0)
            + &line("scaffold", "seaside", 60000.0),
    )
    .unwrap();
    let run = |strategies: &str| {
        let o = ladder_cmd()
            .args([
                "bench",
                "--dry-run",
                "--suites",
                "facts",
                "--tasks",
                "smoke",
                "--concurrency",
                "1",
            ])
            .args([
                "--strategies",
                strategies,
                "--out",
                &dir.path().join("b").display().to_string(),
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("LADDER_HISTORY", &history)
            .output()
            .unwrap();
        assert!(o.status.success(), "{:?}", text(&o));
        text(&o).0
    };
    // 5 facts smoke tasks x 3 s (the mean of 2 and 4 s) = 15 s; scaffold on facts falls
    // back to its figure on another suite (60 s x 5).
    let out = run("direct");
    assert!(
        out.contains("5 runs") && out.contains("estimated time: 0 min"),
        "{out}"
    );
    let out = run("direct,scaffold");
    assert!(out.contains("estimated time: 5 min"), "{out}");
    let out = run("direct,bootstrap");
    assert!(
        out.contains("not counting 5 runs of strategies never measured here"),
        "{out}"
    );
    assert!(!dir.path().join("b").exists(), "a dry run writes nothing");
}

/// `direct` on facts-001 benched with each of `models` (and `extra` flags) into `out`.
fn bench_direct_on_facts_001(models: &[&str], extra: &[&str], out: &Path, data: &Path) -> Output {
    let (out, data) = (out.display().to_string(), data.display().to_string());
    let mut args = vec![
        "bench",
        "--strategies",
        "direct",
        "--suites",
        "facts",
        "--tasks",
        "facts-001",
    ];
    for m in models {
        args.extend(["--model", m]);
    }
    args.extend(extra);
    args.extend(["--out", &out, "--data", &data]);
    ladder(&args)
}

#[test]
fn a_bench_runs_every_strategy_with_every_model_and_labels_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("two");
    let o = bench_direct_on_facts_001(
        &[
            "smollm2-135m",
            "replay:fixtures/runs/replay-small/cassette.jsonl",
        ],
        &["--concurrency", "1"],
        &out,
        &dir.path().join("data"),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("| all | direct@SmolLM2-135M-Instruct.Q4_1 | 1 |"),
        "{stdout}"
    );
    // The end-of-bench summary checks the suites against the hashes the bench took (it
    // used to find none and leave every chance level out).
    assert!(!stdout.contains("the manifest has no hash"), "{stdout}");
    assert!(
        stdout.contains("| all | direct@replay-SmolLM2-135M-Instruct.Q4_1 | 1 |"),
        "{stdout}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let models = manifest["plan"]["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    assert!(
        models[0]["settings"]["parameters"].as_u64().unwrap() > 100_000_000,
        "{manifest}"
    );
    let records = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 2);
    assert!(
        records.contains("\"model\":\"replay-SmolLM2-135M-Instruct.Q4_1\""),
        "{records}"
    );
    // A command that runs one model refuses two.
    let o = ladder(&[
        "run",
        "--task",
        "fixtures/tasks/capital.toml",
        "--model",
        "local",
        "--model",
        "local",
    ]);
    assert!(
        !o.status.success() && text(&o).1.contains("takes one --model"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn demo_and_tui_print_without_a_terminal_and_refuse_what_needs_one() {
    // The seaside lesson, replayed from its recording on the local model: the lesson's
    // text, both transcripts with captions, the metrics table and the ground truth.
    let dir = tempfile::tempdir().unwrap();
    let out = ladder(&[
        "demo",
        "seaside",
        "--model",
        &format!(
            "replay:{}",
            fixture("fixtures/cassettes/demo-seaside.jsonl")
        ),
        "--out",
        &dir.path().display().to_string(),
        "--data",
        &dir.path().join("data").display().to_string(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for want in [
        "# lesson seaside",
        "task seaside sea-045: \"I'd like to go to the seaside next week, sort it out for me.\"",
        "== scaffold ==",
        "== bootstrap ==",
        "» form: fills each slot",
        "| user turns |",
        "What to notice:",
        "Ground truth (the judge's; no strategy sees it): recommend any of: Porto Risava",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("■ error"), "every run replays: {stdout}");

    let out = ladder(&["demo", "nosuch"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the lessons are seaside, unplaceable, already-said, debate"),
        "{stderr}"
    );
    let out = ladder(&["tui"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("the task picker needs a terminal"));
    let out = ladder(&["tui", "--id", "sea-002", "--play"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("--play needs a terminal"));

    // Saved work prints too: two traces, and a bench folder's runs.
    let out = ladder(&[
        "tui",
        &fixture("fixtures/traces/sea-002-scaffold.jsonl"),
        &fixture("fixtures/traces/sea-002-bootstrap.jsonl"),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("== scaffold · sea-002 ==") && stdout.contains("■ repeating"));
    let out = ladder(&["tui", &fixture("fixtures/runs/replay-small")]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout.contains("helpdesk help-031 scaffold"), "{stdout}");
}

#[test]
fn a_bench_takes_a_split_and_pipelines_per_suite_and_says_what_it_expected() {
    let replay = format!(
        "replay:{}",
        fixture("fixtures/runs/replay-small/cassette.jsonl")
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b").display().to_string();
    let bench = |extra: &[&str]| {
        let mut args = vec!["bench", "--dry-run", "--out", &out, "--model", &replay];
        args.extend_from_slice(extra);
        ladder(&args)
    };
    let o = bench(&["--suites", "facts", "--tasks", "all", "--split", "dev"]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("40 runs: suites facts (tasks all, split dev)"),
        "{stdout}"
    );
    let o = bench(&["--suites", "facts", "--tasks", "smoke", "--split", "test"]);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(
        stderr.contains("--split test") && stderr.contains("the smoke tasks are all dev"),
        "{stderr}"
    );
    let o = bench(&["--split", "train"]);
    let (_, stderr) = text(&o);
    assert!(
        stderr.contains("--split takes dev, test or all, not \"train\""),
        "{stderr}"
    );
    let o = bench(&["--suites", "facts", "--pipeline", "seaside=x.toml"]);
    let (_, stderr) = text(&o);
    assert!(
        stderr.contains("--pipeline seaside=x.toml: \"seaside\" is not one of the bench's suites (facts); expected FILE or SUITE=FILE"),
        "{stderr}"
    );
    // A pipeline for one suite: recorded in the plan for it alone.
    let file = dir.path().join("k1.toml");
    std::fs::write(
        &file,
        std::fs::read_to_string(fixture("fixtures/pipelines/default.toml"))
            .unwrap()
            .replace("k = 4", "k = 1"),
    )
    .unwrap();
    let arg = format!("helpdesk={}", file.display());
    let o = bench(&[
        "--suites",
        "facts,helpdesk",
        "--strategies",
        "scaffold",
        "--pipeline",
        &arg,
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    // The run itself: `ladder run --pipeline SUITE=FILE` is refused, naming the flag.
    let o = ladder(&[
        "run",
        "--suite",
        "facts",
        "--id",
        "facts-001",
        "--strategy",
        "scaffold",
        "--pipeline",
        &arg,
        "--pipeline",
        &arg,
    ]);
    let (_, stderr) = text(&o);
    assert!(
        stderr.contains("--pipeline is given 2 times") && stderr.contains("a run takes one FILE"),
        "{stderr}"
    );
}

#[test]
fn validate_checks_a_suites_pipeline_toml_as_the_scaffold_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("facts");
    std::fs::create_dir_all(suite.join("kb")).unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/suites/facts");
    for f in ["suite.toml", "tasks.toml"] {
        std::fs::copy(from.join(f), suite.join(f)).unwrap();
    }
    for e in std::fs::read_dir(from.join("kb")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, suite.join("kb").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        suite.join("pipeline.toml"),
        "[[node]]\nid = \"retreive\"\nk = 2\n",
    )
    .unwrap();
    let o = ladder(&["validate", &suite.display().to_string()]);
    let (stdout, _) = text(&o);
    assert!(!o.status.success());
    let file = suite.join("pipeline.toml").display().to_string();
    assert!(
        stdout.contains(&file) && stdout.contains("node `retreive` overrides no node"),
        "{stdout}"
    );
}

/// `ladder rescore` judges a bench folder's runs again into a new folder: a score from an
/// older judge is replaced by this build's, the change is listed, the original folder is
/// untouched, and a folder that holds a bench or a suite that changed is refused.
#[test]
fn rescore_judges_a_folder_again_and_lists_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let o = bench_direct_on_facts_001(
        &["replay:fixtures/runs/replay-small/cassette.jsonl"],
        &[],
        &out,
        &dir.path().join("data"),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    // As an older judge might have left it: another version, the opposite verdict.
    let results = out.join("results.jsonl");
    let mut r: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&results).unwrap().trim()).unwrap();
    let judged = r["score"]["success"].as_bool().unwrap();
    r["score"]["judge"] = 1.into();
    r["score"]["success"] = (!judged).into();
    let old = format!("{r}\n");
    std::fs::write(&results, &old).unwrap();

    let again = dir.path().join("again");
    let o = ladder(&[
        "rescore",
        &out.display().to_string(),
        "--out",
        &again.display().to_string(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("judged 1 of 1 runs again")
            && stdout.contains("(they were judged by judge 1); 1 changed success"),
        "{stdout}"
    );
    assert!(
        stdout.contains("facts facts-001 direct trial 0"),
        "{stdout}"
    );
    let new: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(again.join("results.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(
        new["score"]["judge"].as_u64(),
        Some(u64::from(ladder_world::score::JUDGE_VERSION))
    );
    assert_eq!(new["score"]["success"].as_bool(), Some(judged));
    let trace = new["trace"].as_str().unwrap();
    assert!(again.join(trace).is_file(), "the trace is copied");
    let beside = again.join(trace).with_extension("score.json");
    let beside: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(beside).unwrap()).unwrap();
    assert_eq!(
        beside["judge"], new["score"]["judge"],
        "the new score beside the trace"
    );
    assert_eq!(
        std::fs::read_to_string(&results).unwrap(),
        old,
        "the original is untouched"
    );

    // Into a folder that holds a bench: refused.
    let o = ladder(&[
        "rescore",
        &out.display().to_string(),
        "--out",
        &again.display().to_string(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("already holds a bench"),
        "{}",
        text(&o).1
    );
    // A suite that is not the one the bench ran: refused, naming it.
    let manifest = out.join("manifest.json");
    let m = std::fs::read_to_string(&manifest).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&m).unwrap();
    v["plan"]["suite_hashes"]["facts"] = "0123456789abcdef".into();
    std::fs::write(&manifest, v.to_string()).unwrap();
    let o = ladder(&[
        "rescore",
        &out.display().to_string(),
        "--out",
        &dir.path().join("third").display().to_string(),
    ]);
    assert!(!o.status.success());
    let e = text(&o).1;
    assert!(
        e.contains("suite facts on disk is not the one the bench"),
        "{e}"
    );
}

#[test]
fn a_bad_hand_written_playbook_names_its_file_line_and_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "# comment\nAsk the user for their budget before you search the knowledge base.\nAlways ask the user for their budget before you search the knowledge base!\n",
            vec!["line 3", "nearly repeats L1", "merge the two"],
        ),
        (
            &*format!("Search before you answer.\n{}\n", "Ask the user. ".repeat(20)),
            vec!["line 2", "the cap is 200", "--lesson-chars"],
        ),
    ];
    for (i, (body, wanted)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("hand-{i}.txt"));
        std::fs::write(&file, body).unwrap();
        let out = ladder(&[
            "evolve",
            "--hand-playbook",
            &file.display().to_string(),
            "--out",
            &dir.path().join(format!("out-{i}")).display().to_string(),
        ]);
        let (_, err) = text(&out);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        for w in wanted {
            assert!(err.contains(w), "{w:?} not in: {err}");
        }
    }
}
