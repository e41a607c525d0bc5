//! `ladder tui`: two runs side by side (ladder-tui), live on a suite task or from saved
//! traces. When standard output is not a terminal it prints both runs' events and metrics
//! instead, so it works in a pipe and in CI logs too.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use ladder_harness::{RunSpec, TaskSource};
use ladder_tui::{update, App, Msg, Pane};

#[derive(clap::Args)]
pub struct TuiArgs {
    /// Trace files to open side by side (one or two) instead of running.
    traces: Vec<PathBuf>,
    /// The suite of the task to run live.
    #[arg(long, default_value = "seaside")]
    suite: String,
    /// The task to run live.
    #[arg(long, default_value = "sea-002")]
    id: String,
    /// The strategy in the left pane.
    #[arg(long, default_value = "scaffold", value_parser = crate::strategy_name)]
    left: String,
    /// The strategy in the right pane.
    #[arg(long, default_value = "bootstrap", value_parser = crate::strategy_name)]
    right: String,
    #[command(flatten)]
    model: crate::ModelArgs,
    #[command(flatten)]
    budget: crate::BudgetArgs,
    #[command(flatten)]
    strategy: crate::StrategyArgs,
    /// Folder for both runs' traces and scores.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    out: PathBuf,
    /// Data folder of the embedded store (suite knowledge bases).
    #[arg(long, env = "LADDER_DATA_DIR", default_value = "data")]
    data: PathBuf,
}

fn print(app: &App) {
    for p in &app.panes {
        println!("== {} ==", p.title);
        for e in &p.events {
            println!(
                "{:>7.1}s {}",
                e.at_ms / 1000.0,
                ladder_tui::view::summary(e)
            );
        }
        if let Some(s) = &p.score {
            println!("score: {s}");
        }
        println!();
    }
}

pub async fn run(args: TuiArgs) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut app = if !args.traces.is_empty() {
        if args.traces.len() > 2 {
            bail!("give one or two trace files (got {})", args.traces.len());
        }
        let panes = args
            .traces
            .iter()
            .map(|p| ladder_tui::live::from_file(p).map_err(anyhow::Error::msg))
            .collect::<Result<Vec<Pane>>>()?;
        App::new(panes)
    } else {
        let source = TaskSource::Suite(args.suite.clone());
        ladder_harness::load_task(&source, Some(&args.id))?;
        let options = args.strategy.options()?;
        for s in [&args.left, &args.right] {
            ladder_harness::registry::build(s, &options)?;
        }
        let model = args.model.open()?;
        let embedder: Arc<dyn ladder_core::Embedder> = Arc::new(
            ladder_retrieval::FastEmbedder::load_default()
                .context("a suite run needs the embedding model")?,
        );
        for (pane, strategy) in [&args.left, &args.right].into_iter().enumerate() {
            let mut spec = RunSpec::new(source.clone(), strategy, Arc::clone(&model));
            spec.id = Some(args.id.clone());
            spec.options = options.clone();
            spec.overrides = args.budget.overrides();
            spec.out = args.out.clone();
            spec.data_dir = args.data.join("qdrant");
            spec.embedder = Some(Arc::clone(&embedder));
            ladder_tui::live::start(pane, spec, tx.clone());
        }
        let mut app = App::new(vec![Pane::new(&args.left), Pane::new(&args.right)]);
        app.status = format!(
            "{} vs {} on {} {} · ? help · q quit",
            args.left, args.right, args.suite, args.id
        );
        app
    };
    if !std::io::stdout().is_terminal() {
        // Not a terminal: wait for the live runs (if any), then print.
        if args.traces.is_empty() {
            let mut scored = 0;
            while scored < 2 {
                let Some(msg) = rx.recv().await else { break };
                if matches!(msg, Msg::Score { .. }) {
                    scored += 1;
                }
                update(&mut app, msg);
            }
        }
        print(&app);
        return Ok(());
    }
    ladder_tui::terminal::run(app, tx, rx)
        .await
        .context("the terminal UI failed")?;
    Ok(())
}
