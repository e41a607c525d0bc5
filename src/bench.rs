//! `ladder bench`: strategies over suites, with a progress bar, saved run by run.

use std::path::PathBuf;

use anyhow::{Context, Result};
use ladder_harness::bench::{BenchSpec, Plan, SplitChoice, Tasks};

use crate::ModelArgs;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Suites, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "seaside,helpdesk,facts")]
    suites: Vec<String>,
    /// Who plays the user: the cooperative simulated user, or the terse one (one fact per
    /// turn, open questions asked back, less patience), to see how much each strategy's
    /// result depends on the user's cooperativeness. Part of the plan: a bench resumes
    /// only with the same user.
    #[arg(long, value_enum, default_value = "simulated")]
    user: crate::run::UserKind,
    /// Registered strategies, comma-separated (those of `ladder run --strategy`).
    #[arg(long, value_delimiter = ',', default_value = "direct,bootstrap", value_parser = crate::strategy_name)]
    strategies: Vec<String>,
    /// `smoke`, `all`, or task ids (comma-separated).
    #[arg(long, default_value = "smoke")]
    tasks: String,
    /// Which split of the tasks --tasks selects: `dev` (what prompts, thresholds and
    /// pipelines are tuned on; the smoke tasks are all dev), `test` (held out: the numbers
    /// to report) or `all`. Default `all`, the bench as it was before splits, so a folder
    /// made then still resumes; the report names the split, so an `all` figure is never
    /// taken for a held-out one. A task without a split is run only by `all`.
    #[arg(long, default_value = "all", value_name = "dev|test|all")]
    split: SplitChoice,
    /// Trials per task and strategy (trial t runs with seed + t for every strategy).
    #[arg(long, default_value_t = 1)]
    trials: u32,
    /// The bench's seed and each run's budget.
    #[command(flatten)]
    budget: crate::BudgetArgs,
    /// The bench folder: manifest.json, results.jsonl and traces/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Carry on a bench in --out without repeating or losing a run.
    #[arg(long)]
    resume: bool,
    /// Runs in flight at once.
    #[arg(long, help = crate::concurrency_help())]
    concurrency: Option<usize>,
    /// Re-run the bench in DIR from its cassette (DIR/cassette.jsonl, recorded with
    /// `--record DIR/cassette.jsonl`) with no model: the plan comes from DIR's manifest
    /// (give the same --pipeline/--with/--without), the runs go to --out, and the results
    /// are compared with DIR's run by run, timings aside. Exits 1 if any differs.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// Print the plan and stop.
    #[arg(long)]
    dry_run: bool,
    /// Also run the scaffold with each component removed in turn, and with a vote in the
    /// debate's place (the strategies scaffold-no-*, scaffold-vote), and print what each
    /// component is worth against the full scaffold.
    #[arg(long)]
    ablate: bool,
    /// Data folder of the embedded store (suite knowledge bases).
    #[arg(long, env = ladder_core::paths::DATA_DIR_ENV, default_value = ladder_core::paths::DATA_DIR)]
    data: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    strategy: crate::StrategyArgs,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let tasks: Tasks = args.tasks.parse().map_err(anyhow::Error::msg)?;
    let (options, pipelines) = args.strategy.bench_options(&args.suites)?;
    let mut strategies = args.strategies.clone();
    if args.ablate {
        for name in ["direct", "scaffold"]
            .into_iter()
            .chain(ladder_harness::registry::ablations())
        {
            if !strategies.iter().any(|s| s == name) {
                strategies.push(name.to_string());
            }
        }
    }
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| args.model.default_runs());
    let original = match &args.replay {
        Some(dir) => Some(ladder_harness::report::load(dir)?),
        None => None,
    };
    let model = match &args.replay {
        Some(dir) => {
            let cassette = dir.join("cassette.jsonl");
            if !cassette.exists() {
                anyhow::bail!(
                    "{} has no cassette.jsonl: record a bench with `ladder bench --record {}` to replay it",
                    dir.display(),
                    cassette.display()
                );
            }
            let spec = ladder_model::ModelSpec::Replay(cassette);
            vec![ladder_model::open(&spec, &Default::default())
                .context("cannot open the cassette")?]
        }
        None => args.model.open_all(concurrency)?,
    };
    let mut spec = BenchSpec {
        plan: Plan {
            suites: args.suites.clone(),
            strategies,
            tasks,
            split: args.split,
            trials: args.trials.max(1),
            seed: args.budget.seed,
            model: String::new(),
            model_settings: Default::default(),
            models: Vec::new(),
            strategy_settings: Default::default(),
            suite_hashes: Default::default(),
            pipelines: Default::default(),
            max_steps: args.budget.max_steps,
            max_model_calls: args.budget.max_calls,
            max_tokens: args.budget.max_tokens,
            max_wall_ms: args.budget.max_wall_ms,
            user: args.user.into(),
        },
        models: model,
        out: args.out.clone(),
        resume: args.resume,
        data: args.data.clone(),
        embedder: None,
        options,
        pipelines,
        concurrency,
    };
    if let Some((manifest, _)) = &original {
        if !manifest.plan.models.is_empty() {
            anyhow::bail!("{} ran several models; a replay takes one cassette, so it replays benches of one model", args.replay.as_deref().unwrap_or(std::path::Path::new("")).display());
        }
        // The plan is the original's; its model, settings and hashes are filled anew.
        spec.plan = ladder_harness::bench::Plan {
            model: String::new(),
            model_settings: Default::default(),
            strategy_settings: Default::default(),
            suite_hashes: Default::default(),
            pipelines: Default::default(),
            ..manifest.plan.clone()
        };
        spec.concurrency = 1;
        ladder_harness::bench::prepare(&mut spec)?;
        let problems = ladder_harness::bench::replay_mismatches(&manifest.plan, &spec.plan);
        if !problems.is_empty() {
            anyhow::bail!(
                "the replay would not run the same bench:\n  {}",
                problems.join("\n  ")
            );
        }
    }
    if args.dry_run {
        let jobs = ladder_harness::bench::prepare(&mut spec)?;
        let names: Vec<String> = spec.models.iter().map(|m| m.info().to_string()).collect();
        println!(
            "{} runs: suites {} (tasks {}, split {}) x strategies {} x {} trial(s) x models {}, {} at once",
            jobs.len(),
            spec.plan.suites.join(","),
            spec.plan.tasks,
            spec.plan.split,
            spec.plan.strategies.join(","),
            spec.plan.trials,
            names.join(", "),
            spec.concurrency
        );
        let (seconds, unknown) = ladder_harness::bench::estimate(&jobs, &names, spec.concurrency);
        let history = ladder_harness::bench::history_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if unknown == jobs.len() {
            println!("no estimate: no earlier bench on this machine ran these strategies with this model ({history})");
        } else {
            println!(
                "estimated time: {:.0} min from earlier benches on this machine ({history}){}",
                seconds / 60.0,
                if unknown > 0 {
                    format!(", not counting {unknown} runs of strategies never measured here")
                } else {
                    String::new()
                }
            );
        }
        return Ok(());
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} runs, {elapsed} elapsed, {eta} left  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut wins: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    let models = spec.models.clone();
    let (spec_split, spec_tasks) = (spec.plan.split, spec.plan.tasks.clone());
    let records = ladder_harness::bench::run(spec, |progress| {
        let (done, total, r) = match progress {
            ladder_harness::bench::Progress::Notice(notice) => {
                bar.suspend(|| eprintln!("{notice}"));
                return;
            }
            ladder_harness::bench::Progress::Finished {
                done,
                total,
                record,
            } => (done, total, record),
        };
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        let w = wins.entry(r.strategy.clone()).or_default();
        w.0 += u32::from(r.score.as_ref().is_some_and(|s| s.success));
        w.1 += 1;
        let tally = wins
            .iter()
            .map(|(s, (ok, n))| format!("{s} {ok}/{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        // In a log (stderr not a terminal, the bar hidden), a line per finished run.
        if bar.is_hidden() {
            eprintln!("{done}/{total} {} {}: {tally}", r.task, r.strategy);
        }
        bar.set_message(tally);
    })
    .await
    .context("the bench stopped")?;
    bar.finish_and_clear();
    println!("split {} (tasks {}):\n", spec_split, spec_tasks);
    // The suites' hashes are taken as the bench prepares (not in the plan given to it):
    // read them from the manifest it wrote.
    let hashes = ladder_harness::report::load(&args.out)
        .map(|(m, _)| m.plan.suite_hashes)
        .unwrap_or_default();
    let chance = ladder_harness::bench::chance_levels(&records, &hashes);
    print!("{}", ladder_harness::bench::table(&records, &chance));
    for incident in models.iter().flat_map(|m| m.incidents()) {
        println!("model backend: {incident}");
    }
    println!(
        "results in {} (manifest.json, results.jsonl, traces/)",
        args.out.display()
    );
    if let (Some(dir), Some((_, before))) = (&args.replay, &original) {
        let diff = ladder_harness::bench::differences(before, &records);
        if !diff.is_empty() {
            anyhow::bail!(
                "the replay differs from {} in {} runs:\n  {}",
                dir.display(),
                diff.len(),
                diff.join("\n  ")
            );
        }
        println!(
            "replayed {} runs with no model: identical to {} (timings aside)",
            records.len(),
            dir.display()
        );
    }
    Ok(())
}
