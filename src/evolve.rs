//! `ladder evolve`: the loop's playbook grown from its own traces, generation by
//! generation, with a progress bar per part and the report at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use ladder_core::Split;
use ladder_evolve::{Cap, EvolveSpec, Playbook, Settings, Source, UpdateMode};

use crate::ModelArgs;

#[derive(clap::Args)]
pub struct EvolveArgs {
    /// The suite whose dev split the loop learns from and whose test split scores it.
    #[arg(long, default_value = "seaside")]
    suite: String,
    /// A suite the loop never learns from, scored on its test split each generation
    /// (`none` for no transfer).
    #[arg(long, default_value = "helpdesk")]
    transfer: String,
    /// Generations after generation 0 (the loop with no playbook).
    #[arg(long, default_value_t = 3)]
    generations: u32,
    /// How the playbook changes: `deltas` (add, edit and remove lessons), `rewrite` (the
    /// whole playbook written anew each generation), or both, comma-separated (they share
    /// generation 0).
    #[arg(long, value_delimiter = ',', default_value = "deltas")]
    mode: Vec<UpdateMode>,
    /// Dev tasks per generation, spread evenly over the dev split (default: all of it).
    #[arg(long, value_name = "N")]
    dev_tasks: Option<usize>,
    /// Test tasks, spread evenly over the test split (default: all of it).
    #[arg(long, value_name = "N")]
    test_tasks: Option<usize>,
    /// Transfer tasks, spread evenly over the transfer suite's test split (default: all).
    #[arg(long, value_name = "N")]
    transfer_tasks: Option<usize>,
    /// The playbook's cap: most lessons (a delta past it is refused, never cut to fit).
    #[arg(long, default_value_t = 10)]
    max_lessons: usize,
    /// The cap on one lesson's characters (also the curator's JSON Schema's).
    #[arg(long, default_value_t = 200)]
    lesson_chars: usize,
    /// The cap on all the lessons' characters together.
    #[arg(long, default_value_t = 1600)]
    playbook_chars: usize,
    /// Keep the parent playbook (its bytes) when a generation's candidate does worse on
    /// dev than the playbook kept so far.
    #[arg(long)]
    rollback: bool,
    /// The hand-written playbook of the `hand` baseline: one lesson per line, `#` comments
    /// (default: fixtures/playbooks/hand.txt, built in).
    #[arg(long, value_name = "FILE")]
    hand_playbook: Option<PathBuf>,
    /// Skip the baselines (direct, the hand-written playbook, the scaffold).
    #[arg(long)]
    no_baselines: bool,
    /// The seed and each run's budget.
    #[command(flatten)]
    budget: crate::BudgetArgs,
    /// The experiment's folder (evolve.json, gen-*/, deltas/, rewrite/, baselines/,
    /// report.md).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Carry on the experiment in --out where it stopped.
    #[arg(long)]
    resume: bool,
    /// Re-run the experiment in DIR from its cassettes with no model, into --out, and
    /// compare every playbook and result with DIR's. Exits 1 if any differs.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// Only write the report of --out (report.md, test.svg, transfer.svg).
    #[arg(long)]
    report_only: bool,
    /// Runs in flight at once.
    #[arg(long, help = crate::concurrency_help())]
    concurrency: Option<usize>,
    /// Data folder of the embedded store (suite knowledge bases).
    #[arg(long, env = ladder_core::paths::DATA_DIR_ENV, default_value = ladder_core::paths::DATA_DIR)]
    data: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
}

/// The built-in hand-written playbook.
const HAND_PLAYBOOK: &str = include_str!("../fixtures/playbooks/hand.txt");

/// A hand-written playbook file (or the built-in one) read into lessons (`L1`, ...), each
/// line a lesson.
fn hand_playbook(path: Option<&Path>, cap: &Cap) -> Result<Playbook> {
    let (path, text) = match path {
        Some(path) => (
            path.to_path_buf(),
            std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the hand-written playbook {} (--hand-playbook)",
                    path.display()
                )
            })?,
        ),
        None => (
            PathBuf::from("fixtures/playbooks/hand.txt"),
            HAND_PLAYBOOK.to_string(),
        ),
    };
    let mut p = Playbook {
        lessons: Vec::new(),
        next_id: 1,
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.chars().count() > cap.lesson_chars {
            bail!(
                "{} line {}: a lesson of {} characters; the cap is {} (--lesson-chars)",
                path.display(),
                i + 1,
                line.chars().count(),
                cap.lesson_chars
            );
        }
        if let Some(l) = p
            .lessons
            .iter()
            .find(|l| ladder_evolve::playbook::near_same(&l.text, line))
        {
            bail!(
                "{} line {}: the lesson nearly repeats {} ({:?}); a playbook holds no repeats, so merge the two",
                path.display(),
                i + 1,
                l.id,
                l.text
            );
        }
        p.lessons.push(ladder_evolve::Lesson {
            id: format!("L{}", p.next_id),
            text: line.to_string(),
            added_in: 0,
            edited_in: 0,
            sources: vec!["hand-written".into()],
            helpful: 0,
            harmful: 0,
        });
        p.next_id += 1;
    }
    Ok(p)
}

pub async fn run(args: EvolveArgs) -> Result<()> {
    if args.report_only {
        print!("{}", ladder_evolve::report::report(&args.out)?);
        return Ok(());
    }
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| args.model.default_runs());
    let (settings, source) = match &args.replay {
        Some(dir) if dir.canonicalize().ok() == args.out.canonicalize().ok() => {
            bail!(
                "--replay {} into the same folder would compare it with itself: give another --out",
                dir.display()
            )
        }
        Some(dir) => {
            let settings: Settings = ladder_evolve::read_json(&dir.join(ladder_evolve::SETTINGS))?
                .with_context(|| {
                    format!(
                        "{} is not an experiment folder (no evolve.json)",
                        dir.display()
                    )
                })?;
            (settings, Source::Replay(dir.clone()))
        }
        None => {
            let cap = Cap {
                lessons: args.max_lessons,
                lesson_chars: args.lesson_chars,
                total_chars: args.playbook_chars,
            };
            let suite = ladder_harness::run::load_suite(&args.suite)?;
            let dev = ladder_evolve::spread(
                &ladder_evolve::split_ids(&suite, Split::Dev),
                args.dev_tasks,
            );
            let test = ladder_evolve::spread(
                &ladder_evolve::split_ids(&suite, Split::Test),
                args.test_tasks,
            );
            if dev.is_empty() || test.is_empty() {
                bail!("suite {} needs tasks in both splits (dev {}, test {}): give each task `split = \"dev\"` or `\"test\"`", args.suite, dev.len(), test.len());
            }
            let transfer = (args.transfer != "none").then(|| args.transfer.clone());
            let transfer_tasks = match &transfer {
                Some(t) => {
                    let other = ladder_harness::run::load_suite(t)?;
                    ladder_evolve::spread(
                        &ladder_evolve::split_ids(&other, Split::Test),
                        args.transfer_tasks,
                    )
                }
                None => Vec::new(),
            };
            let hand = if args.no_baselines {
                None
            } else {
                Some(hand_playbook(args.hand_playbook.as_deref(), &cap)?)
            };
            let model = args.model.open(concurrency)?;
            let settings = Settings {
                suite: args.suite.clone(),
                transfer,
                generations: args.generations,
                modes: args.mode.clone(),
                dev,
                test,
                transfer_tasks,
                cap,
                rollback: args.rollback,
                baselines: !args.no_baselines,
                hand_playbook: hand.as_ref().map(Playbook::render),
                seed: args.budget.seed,
                max_steps: args.budget.max_steps,
                max_model_calls: args.budget.max_calls,
                max_tokens: args.budget.max_tokens,
                max_wall_ms: args.budget.max_wall_ms,
                model: model.info().to_string(),
                prompts_hash: ladder_evolve::reflect::prompts_hash(),
            };
            if let Some(hand) = &hand {
                let secrets = ladder_evolve::secrets(&settings)?;
                for l in &hand.lessons {
                    if let Some(why) = secrets.find(&l.text) {
                        bail!("the hand-written playbook's lesson {} ({:?}): {why}; a baseline may not know the held-out tasks either", l.id, l.text);
                    }
                }
                if hand.lessons.len() > cap.lessons || hand.chars() > cap.total_chars {
                    bail!(
                        "the hand-written playbook has {} lessons, {} characters; the cap is {} lessons, {} characters (--max-lessons, --playbook-chars)",
                        hand.lessons.len(), hand.chars(), cap.lessons, cap.total_chars
                    );
                }
            }
            (settings, Source::Live(model))
        }
    };
    let embedder: Arc<dyn ladder_core::Embedder> = Arc::new(
        ladder_retrieval::FastEmbedder::load_default()
            .context("the knowledge bases need the embedding model")?,
    );
    let spec = EvolveSpec {
        settings,
        source,
        out: args.out.clone(),
        resume: args.resume,
        data: args.data.clone(),
        embedder,
        concurrency,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:24} {bar:30} {pos}/{len} runs, {elapsed} elapsed  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    ladder_evolve::evolve(&spec, |p| match p {
        ladder_evolve::Progress::Part { label, runs } => {
            // In a log (stderr not a terminal, the bar hidden), a line per part and run.
            if bar.is_hidden() {
                eprintln!("{label}: {runs} runs");
            }
            bar.reset();
            bar.set_prefix(label);
            bar.set_length(runs as u64);
            bar.set_message("");
        }
        ladder_evolve::Progress::Run {
            done,
            total,
            record,
        } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            let line = format!(
                "{} {}",
                record.task,
                if record.success() { "solved" } else { "failed" }
            );
            if bar.is_hidden() {
                eprintln!("  {done}/{total} {line}");
            }
            bar.set_message(line);
        }
        ladder_evolve::Progress::Step(s) => bar.suspend(|| eprintln!("{s}")),
        ladder_evolve::Progress::Generation(s) => bar.suspend(|| println!("{s}")),
    })
    .await
    .context("the experiment stopped (carry it on with --resume)")?;
    bar.finish_and_clear();
    let report = ladder_evolve::report::report(&args.out)?;
    print!("{report}");
    println!(
        "\n{:.1} min; everything in {} (report.md, test.svg, transfer.svg)",
        started.elapsed().as_secs_f64() / 60.0,
        args.out.display()
    );
    if let Some(dir) = &args.replay {
        let diff = ladder_evolve::differences(dir, &args.out);
        if !diff.is_empty() {
            bail!(
                "the replay differs from {} in {} places:\n  {}",
                dir.display(),
                diff.len(),
                diff.join("\n  ")
            );
        }
        println!(
            "replayed from the cassettes with no model: every playbook and result identical to {}",
            dir.display()
        );
    }
    Ok(())
}
