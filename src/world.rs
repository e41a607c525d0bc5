//! `ladder validate`, `ladder world generate` and `ladder schema`: the benchmark world.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

/// The suite's `pipeline.toml`, checked as the scaffold reads it (an override of the
/// default pipeline that must then plan): the problem, naming the file, if any. The world
/// crate reads the file (and reports one it cannot read); parsing it is the scaffold's,
/// which the world may not depend on, so it is checked here.
fn pipeline_problem(dir: &std::path::Path, suite: Option<&ladder_world::Suite>) -> Option<String> {
    let file = match suite {
        Some(s) => s.pipeline.clone()?,
        None => {
            let path = dir.join(ladder_world::PIPELINE_FILE);
            let text = std::fs::read_to_string(&path).ok()?;
            ladder_world::PipelineFile { path, text }
        }
    };
    let source = ladder_scaffold::PipelineSource::Suite {
        path: file.path.display().to_string(),
        text: file.text,
    };
    ladder_scaffold::Scaffold::new(source, Default::default())
        .err()
        .map(|e| format!("{}: {e}", file.path.display()))
}

/// `ladder validate`: every problem of every suite, with file and line.
pub fn validate(suites: &[String]) -> Result<()> {
    let root = ladder_world::default_suites_dir();
    let dirs: Vec<PathBuf> = if suites.is_empty() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .with_context(|| format!("cannot list the suites in {}", root.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs
    } else {
        suites
            .iter()
            .map(|s| {
                let p = PathBuf::from(s);
                if p.is_dir() {
                    p
                } else {
                    root.join(s)
                }
            })
            .collect()
    };
    let mut total = 0;
    for dir in &dirs {
        let (suite, mut problems) = ladder_world::validate::read(dir);
        let problems: Vec<String> = {
            let mut lines: Vec<String> = problems.drain(..).map(|p| p.to_string()).collect();
            lines.extend(pipeline_problem(dir, suite.as_ref()));
            lines
        };
        for p in &problems {
            println!("{p}");
        }
        match (&suite, problems.len()) {
            (Some(s), 0) => println!(
                "ok: {} ({} tasks, {} documents, {} intents{})",
                dir.display(),
                s.tasks.len(),
                s.documents.len(),
                s.manifest.intents.len(),
                match &s.pipeline {
                    Some(p) => format!(", its own pipeline {}", p.path.display()),
                    None => String::new(),
                }
            ),
            (_, n) => println!("{}: {n} problem(s)", dir.display()),
        }
        total += problems.len();
    }
    if total > 0 {
        bail!("{total} problem(s) in {} suite(s)", dirs.len());
    }
    Ok(())
}

/// `ladder world generate`: write the suites from the fixed-seed generator.
pub fn generate(out: &std::path::Path, seed: u64, scale: usize, only: Vec<String>) -> Result<()> {
    let names: Vec<String> = if only.is_empty() {
        ladder_world::gen::SUITES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        only
    };
    for name in &names {
        let generated =
            ladder_world::gen::generate(name, ladder_world::gen::GenOptions { seed, scale })
                .with_context(|| {
                    format!(
                        "unknown suite {name:?}; the generator knows {:?}",
                        ladder_world::gen::SUITES
                    )
                })?;
        generated
            .write(out)
            .with_context(|| format!("cannot write suite {name} into {}", out.display()))?;
        println!(
            "wrote {} ({} files) into {}",
            name,
            generated.files.len(),
            out.join(name).display()
        );
    }
    Ok(())
}

/// `ladder schema`: the JSON Schemas of the fixture files.
pub fn schema(out: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, text) in ladder_world::schema::schemas() {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `ladder score`: what the judge says of an answer.
#[derive(clap::Args)]
pub struct ScoreArgs {
    /// The suite (a name under fixtures/suites, or a folder).
    #[arg(long)]
    suite: String,
    /// The task.
    #[arg(long)]
    id: String,
    /// The answer's text.
    #[arg(long, required_unless_present = "trace", conflicts_with = "trace")]
    answer: Option<String>,
    /// The entities the answer commits to, comma-separated.
    #[arg(long, value_delimiter = ',', conflicts_with = "trace")]
    picks: Vec<String>,
    /// Score a saved run instead: its answer, picks and user turns.
    #[arg(long, value_name = "TRACE.jsonl")]
    trace: Option<std::path::PathBuf>,
    /// Print the score as JSON.
    #[arg(long)]
    json: bool,
}

/// A suite and one of its tasks, or an error that names the suite's tasks.
fn suite_task(suite: &str, id: &str) -> Result<(ladder_world::Suite, ladder_core::Task)> {
    let source = ladder_harness::TaskSource::Suite(suite.to_string());
    let (task, suite) = ladder_harness::load_task(&source, Some(id))?;
    Ok((suite.context("a suite task comes with its suite")?, task))
}

pub fn score(args: &ScoreArgs) -> Result<()> {
    let (suite, task) = suite_task(&args.suite, &args.id)?;
    let task = &task;
    let (outcome, events) = match &args.trace {
        Some(path) => {
            let events = ladder_core::trace::read_jsonl(path)?;
            let outcome = events
                .iter()
                .find_map(|e| match &e.kind {
                    ladder_core::EventKind::RunFinished { outcome } => Some(outcome.clone()),
                    _ => None,
                })
                .with_context(|| {
                    format!(
                        "{} has no run_finished event: the run did not end",
                        path.display()
                    )
                })?;
            (outcome, events)
        }
        None => (
            ladder_core::Outcome::answered(args.answer.clone().unwrap_or_default())
                .with_picks(args.picks.clone()),
            vec![],
        ),
    };
    let sc = ladder_world::score(&suite, task, &outcome, &events);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sc)?);
        return Ok(());
    }
    print_score(&sc, "", "  ");
    Ok(())
}

/// A score as people read it: one line, then a line per verdict.
pub fn print_score(sc: &ladder_world::Score, prefix: &str, indent: &str) {
    println!(
        "{prefix}{} | partial {:.2} | recommended [{}] | rejected [{}] | invented [{}] | {} user turns ({} irrelevant, {} repeated) | judge {}",
        if sc.success { "success" } else { "failure" },
        sc.partial,
        sc.recommended.join(", "),
        sc.rejected.join(", "),
        sc.hallucinations.join(", "),
        sc.user_turns,
        sc.irrelevant_questions,
        sc.repeated_questions,
        sc.judge
    );
    for v in &sc.verdicts {
        println!(
            "{indent}{} {}: {}",
            if v.ok { "ok  " } else { "FAIL" },
            v.what,
            v.detail
        );
    }
}

/// `ladder user`: what a suite task's simulated user replies.
#[derive(clap::Args)]
pub struct UserArgs {
    /// The suite (a name under fixtures/suites, or a folder).
    #[arg(long)]
    suite: String,
    /// The task whose user answers.
    #[arg(long)]
    id: String,
    /// Questions, asked in order in one conversation.
    #[arg(required = true)]
    questions: Vec<String>,
    /// Match by keywords only (no embedding model).
    #[arg(long)]
    keywords: bool,
}

pub async fn user(args: &UserArgs) -> Result<()> {
    use ladder_core::UserChannel;
    let (suite, task) = suite_task(&args.suite, &args.id)?;
    let task = &task;
    let mut user = ladder_world::SimulatedUser::new(
        std::sync::Arc::new(suite.manifest.clone()),
        task.clone(),
        ladder_world::Patience::default(),
    );
    if !args.keywords {
        user = user.with_embedder(
            crate::retrieval::embedder()?,
            ladder_world::user::SIMILARITY_THRESHOLD,
        )?;
    }
    for q in &args.questions {
        let reply = user.ask(q).await?;
        println!("Q: {q}");
        match &reply {
            ladder_core::UserReply::Answer(t) => println!("A: {t}"),
            ladder_core::UserReply::GaveUp(t) => println!("A: {t} (gave up)"),
        }
        for p in user.last_parts() {
            println!("   {:?} {:?} {}", p.kind, p.text, p.slots.join(", "));
        }
    }
    println!(
        "{} turns, {} answered, {} no preference, {} irrelevant, {} repeated parts; effort {} of {}",
        user.stats.turns,
        user.stats.answered,
        user.stats.no_preference,
        user.stats.irrelevant,
        user.stats.repeated,
        user.stats.effort,
        ladder_world::Patience::default().wasted
    );
    Ok(())
}
