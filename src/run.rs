//! `ladder run`: one strategy on one task, through the harness; prints the outcome, the
//! metrics and the score, and says where the trace and score were saved.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use ladder_core::StopReason;
use ladder_harness::{RunOutput, RunSpec, TaskSource};

use crate::{BudgetArgs, ModelArgs, StrategyArgs};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The strategy to run: direct, scaffold, bootstrap, bootstrap-free; an ablation of the
    /// scaffold (scaffold-no-classify, -no-form, -no-retrieve, -no-candidates,
    /// -no-compress, -no-debate, scaffold-vote; scaffold-grounded: picks only among the
    /// knowledge base's titles; scaffold-stop: the form stops once at most 3 candidates fit)
    /// or of the loop (bootstrap-plain: without its aids; bootstrap-grounded:
    /// picks only among the titles it found); direct-grounded (picks only among the
    /// knowledge base's titles). An unknown name is answered with the whole list.
    #[arg(long, short, default_value = "direct", value_parser = crate::strategy_name)]
    pub strategy: String,
    #[command(flatten)]
    pub strategy_args: StrategyArgs,
    /// A task file (TOML or JSON with [[task]] entries).
    #[arg(
        long,
        short,
        value_name = "FILE",
        required_unless_present = "suite",
        conflicts_with = "suite"
    )]
    pub task: Option<PathBuf>,
    /// A suite (name under fixtures/suites, or a folder): the simulated user answers
    /// the strategy's questions and the outcome is scored.
    #[arg(long, value_name = "SUITE")]
    pub suite: Option<String>,
    /// Which task of the file or suite, when it holds more than one.
    #[arg(long)]
    pub id: Option<String>,
    /// Who plays the user in a suite run: the deterministic simulated user (cooperative, or
    /// terse), or the model.
    #[arg(long, value_enum, default_value = "simulated")]
    pub user: UserKind,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// Folder for the trace and the score.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    pub out: PathBuf,
    /// Data folder of the embedded store (where suite knowledge bases are indexed).
    #[arg(long, env = ladder_core::paths::DATA_DIR_ENV, default_value = ladder_core::paths::DATA_DIR)]
    pub data: PathBuf,
}

#[derive(Copy, Clone, ValueEnum)]
pub enum UserKind {
    /// Answers from the task's hidden profile, literally and deterministically; matches
    /// questions by keywords and by embedding similarity.
    Simulated,
    /// The same user, less cooperative: answers one fact per turn, asks an open question
    /// back ("What do you need to know?") and gives up sooner (3 points of patience, 8
    /// turns, against 6 and 12).
    Terse,
    /// The simulated user with keyword matching only (no embedding model needed).
    Keywords,
    /// The model plays the user from the profile.
    Model,
}

impl From<UserKind> for ladder_harness::UserKind {
    fn from(u: UserKind) -> Self {
        match u {
            UserKind::Simulated => ladder_harness::UserKind::Simulated,
            UserKind::Terse => ladder_harness::UserKind::Terse,
            UserKind::Keywords => ladder_harness::UserKind::Keywords,
            UserKind::Model => ladder_harness::UserKind::Model,
        }
    }
}

/// `ladder run`: the task and strategy checked before the model is opened, then the run.
pub async fn command(args: RunArgs) -> Result<()> {
    let RunArgs {
        strategy,
        strategy_args,
        task,
        suite,
        id,
        user,
        model,
        budget,
        out,
        data,
    } = args;
    let source = match (task, suite) {
        (Some(path), _) => TaskSource::File(path),
        (None, Some(suite)) => TaskSource::Suite(suite),
        (None, None) => bail!("give a task with --task FILE or --suite NAME"),
    };
    // A bad task file or id is reported before the model is opened.
    ladder_harness::load_task(&source, id.as_deref())?;
    let options = strategy_args.options()?;
    // A bad pipeline or option is reported before the model is opened.
    ladder_harness::registry::build(&strategy, &options)?;
    let mut spec = RunSpec::new(source, &strategy, model.open(1)?)
        .task(id)
        .options(options)
        .overrides(budget.overrides())
        .out(out)
        .data(&data);
    spec.user = user.into();
    run(spec).await
}

/// Run, print, and fail (exit 1) when the run did not answer.
pub async fn run(spec: RunSpec) -> Result<()> {
    // Ctrl-C cancels the run: a model call in flight stops at once, and every event so far
    // is already in the trace file. A second Ctrl-C quits without waiting.
    let cancel = spec.cancel.clone();
    let on_interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping the run (Ctrl-C again to quit at once)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let out = ladder_harness::run(spec)
        .await
        .context("the run could not start")?;
    on_interrupt.abort();
    print(&out);
    if let Some(e) = &out.trace_error {
        bail!("the trace was not written in full: {e}");
    }
    match &out.outcome.stop {
        StopReason::Answered => Ok(()),
        StopReason::Error { message } => bail!("the run did not answer: {message}"),
        other => bail!("the run did not answer: {}", other.label()),
    }
}

fn print(out: &RunOutput) {
    let m = &out.metrics;
    println!("task      {}", out.task.id);
    println!("strategy  {}", out.strategy);
    println!("stop      {}", out.outcome.stop.label());
    match &out.outcome.stop {
        StopReason::Error { message } => println!("error     {message}"),
        StopReason::BudgetExhausted { limit } => println!("limit     {limit}"),
        StopReason::Repeating { detail } => println!("detail    {detail}"),
        _ => {}
    }
    if let Some(answer) = &out.outcome.answer {
        println!("answer    {}", answer.replace('\n', "\n          "));
    }
    if !out.outcome.picks.is_empty() {
        println!("picks     {}", out.outcome.picks.join(", "));
    }
    println!(
        "metrics   {} model calls | {} prompt + {} completion = {} tokens | {} user turns | {} retrievals | wall {:.0} ms | model {:.0} ms",
        m.model_calls, m.prompt_tokens, m.completion_tokens, m.total_tokens, m.user_turns, m.retrievals, m.wall_ms, m.model_ms
    );
    if m.user_model_calls > 0 {
        println!(
            "user      {} model calls, {} tokens (the model playing the user; not the strategy's cost)",
            m.user_model_calls, m.user_tokens
        );
    }
    println!("trace     {}", out.trace_path.display());
    if let Some(score) = &out.score {
        crate::world::print_score(score, "score     ", "          ");
    }
    if let Some(p) = &out.score_path {
        println!("score at  {}", p.display());
    }
}
