//! `ladder tui` and `ladder demo`: two runs side by side (ladder-tui), live on a suite
//! task, from saved traces or from a bench folder. When standard output is not a terminal
//! they print both runs' events (the demo also its captions) and metrics instead, so they
//! work in a pipe and in CI logs too.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use ladder_harness::{RunSpec, TaskSource};
use ladder_tui::lessons::{self, Lesson};
use ladder_tui::{update, App, Msg, Pane, Picker, Request};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

#[derive(clap::Args)]
pub struct TuiArgs {
    /// A bench folder (runs/NAME: pick runs from its table, two side by side), or one or two
    /// trace files to open side by side. Without: the task picker, or with --id a live run.
    paths: Vec<PathBuf>,
    /// The suite: of the task to run live (with --id; default seaside), or the only one
    /// whose tasks the picker lists (default: every committed suite). A name under
    /// fixtures/suites or a folder; an unknown one is refused.
    #[arg(long)]
    suite: Option<String>,
    /// Run this task live at once instead of opening the picker.
    #[arg(long)]
    id: Option<String>,
    /// The strategy in the left pane.
    #[arg(long, default_value = "scaffold", value_parser = crate::strategy_name)]
    left: String,
    /// The strategy in the right pane.
    #[arg(long, default_value = "bootstrap", value_parser = crate::strategy_name)]
    right: String,
    /// You play the user: type the replies to both strategies' questions (the task's hidden
    /// profile is shown to you as a card). In the picker, `u` toggles it.
    #[arg(long)]
    play: bool,
    #[command(flatten)]
    live: LiveArgs,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// The lesson: seaside, unplaceable, already-said or debate. Without: every lesson in
    /// turn (in a terminal, the next opens when you quit the one before).
    lesson: Option<String>,
    #[command(flatten)]
    live: LiveArgs,
}

/// What a live run needs besides its task and strategies.
#[derive(clap::Args)]
pub struct LiveArgs {
    #[command(flatten)]
    model: crate::ModelArgs,
    #[command(flatten)]
    budget: crate::BudgetArgs,
    #[command(flatten)]
    strategy: crate::StrategyArgs,
    /// Folder for the runs' traces and scores.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    out: PathBuf,
    /// Data folder of the embedded store (suite knowledge bases).
    #[arg(long, env = ladder_core::paths::DATA_DIR_ENV, default_value = ladder_core::paths::DATA_DIR)]
    data: PathBuf,
}

/// Starts the runs the UI asks for and passes the person's replies on.
struct Runner {
    model: Arc<dyn ladder_core::LanguageModel>,
    embedder: Arc<dyn ladder_core::Embedder>,
    options: ladder_harness::registry::StrategyOptions,
    overrides: ladder_harness::Overrides,
    out: PathBuf,
    data: PathBuf,
    /// The person's reply channel of each pane whose user they play.
    replies: HashMap<usize, UnboundedSender<Option<String>>>,
    /// The runs now on screen; a new start cancels the old ones and silences them.
    generation: Arc<AtomicU64>,
    cancels: Vec<ladder_core::Cancel>,
}

impl Runner {
    fn new(args: &LiveArgs) -> Result<Runner> {
        Ok(Runner {
            options: args.strategy.options()?,
            model: args.model.open(2)?,
            embedder: Arc::new(
                ladder_retrieval::FastEmbedder::load_default()
                    .context("a suite run needs the embedding model")?,
            ),
            overrides: args.budget.overrides(),
            out: args.out.clone(),
            data: args.data.clone(),
            replies: HashMap::new(),
            generation: Arc::new(AtomicU64::new(0)),
            cancels: Vec::new(),
        })
    }

    /// Cancel the runs on screen and silence them; the new generation's number.
    fn stop(&mut self) -> u64 {
        for c in self.cancels.drain(..) {
            c.cancel();
        }
        self.replies.clear();
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn handle(&mut self, request: Request, tx: &UnboundedSender<Msg>) {
        match request {
            Request::Start {
                suite,
                id,
                left,
                right,
                play_user,
            } => {
                let generation = self.stop();
                for (pane, strategy) in [left, right].iter().enumerate() {
                    let mut spec = RunSpec::new(
                        TaskSource::Suite(suite.clone()),
                        strategy,
                        self.model.clone(),
                    )
                    .task(Some(id.clone()))
                    .options(self.options.clone())
                    .overrides(self.overrides)
                    .out(&self.out)
                    .data(&self.data)
                    .embedder(Some(Arc::clone(&self.embedder)));
                    if play_user {
                        let (user, replies) = ladder_tui::person::PersonUser::new(pane, tx.clone());
                        spec.person = Some(Box::new(user));
                        self.replies.insert(pane, replies);
                    }
                    self.cancels.push(spec.cancel.clone());
                    crate::live::start(
                        pane,
                        spec,
                        tx.clone(),
                        (Arc::clone(&self.generation), generation),
                    );
                }
            }
            Request::Open(paths) => open(&paths, tx),
            Request::Stop => {
                self.stop();
            }
            Request::Reply { pane, text } => {
                if let Some(r) = self.replies.get(&pane) {
                    let _ = r.send(text);
                }
            }
        }
    }
}

/// Carry out one of the UI's requests: opening saved traces needs no runner; starting runs
/// and passing replies on need one (there is none for saved traces and bench folders).
fn route(request: Request, runner: Option<&mut Runner>, tx: &UnboundedSender<Msg>) {
    match (request, runner) {
        (Request::Open(paths), _) => open(&paths, tx),
        (r, Some(runner)) => runner.handle(r, tx),
        (_, None) => {}
    }
}

/// Open saved traces as panes (or say why not on the status line). Needs no model, so a
/// bench folder's table, which has no runner, opens its runs too.
fn open(paths: &[PathBuf], tx: &UnboundedSender<Msg>) {
    let msg = open_traces(paths)
        .map(Msg::Opened)
        .unwrap_or_else(|e| Msg::Status(format!("{e:#}")));
    let _ = tx.send(msg);
}

fn open_traces(paths: &[PathBuf]) -> Result<Vec<Pane>> {
    paths
        .iter()
        .map(|p| ladder_tui::saved::from_file(p).map_err(anyhow::Error::msg))
        .collect()
}

/// The tasks of `only` (or of every committed suite) as picker cards.
fn task_cards(only: Option<&str>) -> Result<Vec<ladder_tui::TaskCard>> {
    let mut cards = Vec::new();
    let all = ["seaside", "helpdesk", "facts"];
    let names: Vec<&str> = match only {
        Some(name) => vec![name],
        None => all.to_vec(),
    };
    for name in names {
        let suite = ladder_harness::load_suite(name)?;
        cards.extend(suite.tasks.iter().map(lessons::card));
    }
    Ok(cards)
}

pub async fn run(args: TuiArgs) -> Result<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let terminal = std::io::stdout().is_terminal();
    let mut runner = None;
    if let Some(suite) = &args.suite {
        // An unknown suite is refused before anything opens.
        ladder_harness::load_suite(suite)?;
    }
    let suite_name = args.suite.clone().unwrap_or_else(|| "seaside".into());
    let app = match args.paths.as_slice() {
        [dir] if dir.is_dir() => {
            let table = crate::live::bench_folder(dir).map_err(anyhow::Error::msg)?;
            if !terminal {
                for r in &table.rows {
                    println!(
                        "{} {} {} success={:?} turns={} calls={} tokens={}",
                        r.suite, r.task, r.label, r.success, r.user_turns, r.model_calls, r.tokens
                    );
                }
                return Ok(());
            }
            App::bench_folder(table)
        }
        [] => {
            let app = if let Some(id) = &args.id {
                let (task, _) =
                    ladder_harness::load_task(&TaskSource::Suite(suite_name.clone()), Some(id))?;
                let mut app = App::default();
                app.requests.push(Request::Start {
                    suite: suite_name.clone(),
                    id: id.clone(),
                    left: args.left.clone(),
                    right: args.right.clone(),
                    play_user: args.play,
                });
                app.panes = vec![Pane::new(&args.left), Pane::new(&args.right)];
                app.heading = format!("{} vs {} on {} {}", args.left, args.right, suite_name, id);
                if args.play {
                    app.card = lessons::card(&task).hidden;
                }
                app
            } else {
                if !terminal {
                    bail!("the task picker needs a terminal; give --id TASK to run one in a pipe");
                }
                let mut picker = Picker::new(
                    task_cards(args.suite.as_deref())?,
                    ladder_harness::registry::names(),
                    &args.left,
                    &args.right,
                );
                picker.play_user = args.play;
                App::picking(picker)
            };
            if args.play && !terminal {
                bail!("--play needs a terminal to type the replies in");
            }
            for s in [&args.left, &args.right] {
                ladder_harness::registry::build(s, &args.live.strategy.options()?)?;
            }
            runner = Some(Runner::new(&args.live)?);
            app
        }
        paths if paths.len() <= 2 => App::new(open_traces(paths)?),
        paths => bail!(
            "give a bench folder, or one or two trace files (got {} paths)",
            paths.len()
        ),
    };
    drive(app, runner.as_mut(), tx, rx, terminal, None).await?;
    Ok(())
}

/// Run the UI (or, without a terminal, the runs to their scores and a printout).
async fn drive(
    mut app: App,
    mut runner: Option<&mut Runner>,
    tx: UnboundedSender<Msg>,
    mut rx: UnboundedReceiver<Msg>,
    terminal: bool,
    lesson: Option<&Lesson>,
) -> Result<App> {
    let mut handle =
        move |r: Request, tx: &UnboundedSender<Msg>| route(r, runner.as_deref_mut(), tx);
    if terminal {
        return ladder_tui::terminal::run(app, tx, rx, handle)
            .await
            .context("the terminal UI failed");
    }
    // Not a terminal: start what was asked, wait for every live run's score, then print.
    let live = app
        .requests
        .iter()
        .filter(|r| matches!(r, Request::Start { .. }))
        .count()
        * 2;
    for r in std::mem::take(&mut app.requests) {
        handle(r, &tx);
    }
    let mut scored = 0;
    while scored < live {
        let Some(msg) = rx.recv().await else { break };
        if matches!(msg, Msg::Score { .. }) {
            scored += 1;
        }
        update(&mut app, msg);
    }
    print(&app, lesson);
    Ok(app)
}

fn print(app: &App, lesson: Option<&Lesson>) {
    for p in &app.panes {
        println!("== {} ==", p.title);
        for e in &p.events {
            println!(
                "{:>7.1}s {}",
                e.at_ms / 1000.0,
                ladder_tui::view::summary(e)
            );
            if lesson.is_some() {
                if let Some(c) = lessons::caption(e) {
                    println!("         » {c}");
                }
            }
        }
        if let Some(s) = &p.score {
            println!("score: {s}");
        }
        for v in &p.verdicts {
            println!("  ✗ {v}");
        }
        if let Some(t) = &p.trace {
            println!("trace: {t}");
        }
        println!();
    }
    if app.panes.len() == 2 {
        println!("{}", metrics_table(&app.panes));
    }
}

/// The two runs' metrics side by side, a row each.
fn metrics_table(panes: &[Pane]) -> String {
    let ms: Vec<_> = panes.iter().map(|p| p.metrics()).collect();
    let rows: Vec<(&str, Vec<String>)> = vec![
        (
            "user turns",
            ms.iter().map(|m| m.user_turns.to_string()).collect(),
        ),
        (
            "questions about what was already said",
            ms.iter().map(|m| m.parts_repeated.to_string()).collect(),
        ),
        (
            "model calls",
            ms.iter().map(|m| m.model_calls.to_string()).collect(),
        ),
        (
            "tokens",
            ms.iter().map(|m| m.total_tokens.to_string()).collect(),
        ),
        (
            "retrievals",
            ms.iter().map(|m| m.retrievals.to_string()).collect(),
        ),
        (
            "model time s",
            ms.iter()
                .map(|m| format!("{:.1}", m.model_ms / 1000.0))
                .collect(),
        ),
        (
            "wall time s",
            ms.iter()
                .map(|m| format!("{:.1}", m.wall_ms / 1000.0))
                .collect(),
        ),
        (
            "score",
            panes
                .iter()
                .map(|p| p.score.clone().unwrap_or_else(|| "-".into()))
                .collect(),
        ),
    ];
    let mut s = format!(
        "| metric | {} |\n|---|{}\n",
        panes
            .iter()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(panes.len())
    );
    for (name, cells) in rows {
        s.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
    }
    s
}

pub async fn demo(args: DemoArgs) -> Result<()> {
    let chosen: Vec<&Lesson> = match &args.lesson {
        Some(name) => vec![lessons::find(name).with_context(|| {
            format!(
                "no lesson {name:?}; the lessons are {}",
                lessons::LESSONS.map(|l| l.name).join(", ")
            )
        })?],
        None => lessons::LESSONS.iter().collect(),
    };
    let terminal = std::io::stdout().is_terminal();
    let mut runner = Runner::new(&args.live)?;
    let count = chosen.len();
    for (i, lesson) in chosen.into_iter().enumerate() {
        let last = i + 1 == count;
        let (task, _) = ladder_harness::load_task(
            &TaskSource::Suite(lesson.suite.to_string()),
            Some(lesson.task),
        )?;
        if !terminal {
            println!("# lesson {}: {}\n", lesson.name, lesson.title);
            println!("{}\n", lesson.intro);
            println!(
                "task {} {}: \"{}\"\n",
                lesson.suite, lesson.task, task.opening
            );
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut app = App::new(vec![Pane::new(lesson.left), Pane::new(lesson.right)]);
        app.captions = true;
        app.lesson = Some(*lesson);
        app.status = format!(
            "lesson {}: {} · ? help · q {}",
            lesson.name,
            lesson.title,
            if last {
                "quit"
            } else {
                "next lesson · Ctrl-C quit"
            }
        );
        // The lesson's text first, over the panes filling up (Esc closes it).
        app.intro = format!(
            "Lesson {}: {}\n\n{}\n\nWhat to notice: {}",
            lesson.name, lesson.title, lesson.intro, lesson.notice
        );
        app.screen = ladder_tui::state::Screen::Help;
        app.requests.push(Request::Start {
            suite: lesson.suite.to_string(),
            id: lesson.task.to_string(),
            left: lesson.left.to_string(),
            right: lesson.right.to_string(),
            play_user: false,
        });
        // The runner outlives each lesson's UI: the model is loaded once.
        let app = drive(app, Some(&mut runner), tx, rx, terminal, Some(lesson)).await?;
        if app.interrupted {
            // Ctrl-C leaves the demo; `q` goes on to the next lesson.
            runner.stop();
            break;
        }
        if !terminal {
            println!("What to notice: {}\n", lesson.notice);
            if !app.commentary.is_empty() {
                println!("What happened in these runs (computed from them):");
                for c in &app.commentary {
                    println!("- {c}");
                }
                println!();
            }
            let truth = lessons::ground_truth(&task);
            if !truth.is_empty() {
                println!(
                    "Ground truth (the judge's; no strategy sees it): {}\n",
                    truth.join("; ")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn a_bench_folders_open_request_is_carried_out_without_a_runner() {
        // A bench folder has no runner (no model is loaded for it); its table's Enter asks
        // to open two traces, and that must still reach the UI as panes.
        let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/traces");
        let paths = vec![
            traces.join("sea-002-scaffold.jsonl"),
            traces.join("sea-002-bootstrap.jsonl"),
        ];
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        route(Request::Open(paths), None, &tx);
        match rx.try_recv() {
            Ok(Msg::Opened(panes)) => assert_eq!(panes.len(), 2),
            other => panic!("expected the two panes, got {other:?}"),
        }
        // A missing trace is said on the status line, not dropped.
        route(Request::Open(vec![traces.join("no-such.jsonl")]), None, &tx);
        match rx.try_recv() {
            Ok(Msg::Status(s)) => assert!(s.contains("no-such.jsonl"), "{s}"),
            other => panic!("expected a status line, got {other:?}"),
        }
        // Without a runner a start has nothing to run: no message, no panic.
        route(
            Request::Reply {
                pane: 0,
                text: None,
            },
            None,
            &tx,
        );
        assert!(rx.try_recv().is_err());
    }
}
