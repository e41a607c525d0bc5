//! `ladder bench-model`: a local model's throughput through ladder's model trait against a
//! bare llama.cpp loop, side by side in one run (ratios, since the machine is shared).
//! The measuring is ladder-model's (`ladder_model::bench`).

use anyhow::{bail, Context, Result};
use ladder_model::ModelSpec;

#[derive(clap::Args)]
pub struct BenchModelArgs {
    /// The local model: a catalog name (smollm2-135m, qwen2.5-coder-0.5b,
    /// qwen2.5-coder-1.5b), `local` (the default model) or local:PATH.gguf.
    #[arg(
        long,
        short,
        default_value = "local",
        env = "LADDER_MODEL",
        value_name = "SPEC"
    )]
    pub model: ModelSpec,
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// Rounds per side (medians are reported).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Tokens generated in the generation test.
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: u32,
    /// Repetitions of a 20-word sentence in the prompt-processing test.
    #[arg(long, default_value_t = 24)]
    pub prompt_repeat: usize,
    /// Calls in the prefix-reuse test (a conversation whose history grows each call);
    /// 0 skips it.
    #[arg(long, default_value_t = 6)]
    pub prefix_turns: usize,
    /// Agents in the parallel-decoding test (debate-shaped calls, each round one batch);
    /// 0 skips it.
    #[arg(long, default_value_t = 3)]
    pub parallel_agents: usize,
    /// Rounds of that debate.
    #[arg(long, default_value_t = 2)]
    pub debate_rounds: usize,
    /// Agents in the prefix-reuse-across-batches test (a draft round, then a revision
    /// round that extends it, each one batch: fresh contexts against the run's session);
    /// 0 skips it.
    #[arg(long, default_value_t = 2)]
    pub batch_agents: usize,
    /// A draft model for the speculative-decoding test (a catalog name, e.g.
    /// qwen2.5-coder-0.5b for the 1.5B, or a GGUF path); none skips it.
    #[arg(long, value_name = "MODEL")]
    pub draft_model: Option<String>,
    /// Tokens the draft proposes per step, in that test (comma-separated: each measured).
    #[arg(long, value_delimiter = ',', default_value = "4", value_name = "N,...")]
    pub draft_tokens: Vec<usize>,
    /// Tokens each call of that test may generate.
    #[arg(long, default_value_t = 96)]
    pub speculative_tokens: u32,
    /// Runs in the shared-system-prefix test (each a new session after the same system
    /// prompt); 0 skips it.
    #[arg(long, default_value_t = 6)]
    pub shared_runs: usize,
    /// Counts of sequences decoded in one loop, each against the same calls one after
    /// another (aggregate tok/s of one batch against one sequence at a time; what runs in
    /// flight gain from the shared loop is --runs-in-flight); 0 skips.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8",
        value_name = "N,..."
    )]
    pub sequences: Vec<usize>,
    /// Tokens each call of the sequences test (and the runs-in-flight test) may generate.
    #[arg(long, default_value_t = 64)]
    pub sequence_tokens: u32,
    /// Counts of runs in flight at once, each measured with per-run contexts (--threads
    /// shared among them) against one shared decode loop (--threads): the measurement
    /// behind each model's default for `bench --concurrency`; 0 skips.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2,4",
        value_name = "N,..."
    )]
    pub runs_in_flight: Vec<usize>,
}

/// Measure, and print each test's table as it finishes.
pub async fn run(args: BenchModelArgs) -> Result<()> {
    let BenchModelArgs {
        model,
        threads,
        rounds,
        gen_tokens,
        prompt_repeat,
        prefix_turns,
        parallel_agents,
        debate_rounds,
        batch_agents,
        draft_model,
        draft_tokens,
        speculative_tokens,
        shared_runs,
        sequences,
        sequence_tokens,
        runs_in_flight,
    } = args;
    let path = match &model {
        ModelSpec::Local(path) => path
            .clone()
            .unwrap_or_else(ladder_model::default_model_path),
        ModelSpec::Named(name) => {
            ladder_model::model_path(name).with_context(|| format!("no model named {name}"))?
        }
        _ => bail!("bench-model measures a local model: give a catalog name or local:PATH.gguf"),
    };
    eprintln!("bench-model: {}", path.display());
    let mut model = ladder_model::LocalConfig::new(path);
    model.threads = threads;
    let config = ladder_model::bench::BenchConfig {
        model,
        rounds: rounds.max(1),
        gen_tokens,
        prompt_repeat,
    };
    eprintln!("bench-model: {rounds} rounds per side, alternating which side goes first");
    let report = ladder_model::bench::run(&config, |r| eprintln!("  round {r}/{rounds} done"))
        .await
        .context("the benchmark failed")?;
    print!("{}", report.table());
    eprintln!("bench-model: the memory-bandwidth ceiling (a 512 MiB streaming read)");
    let ceiling = ladder_model::bench::CeilingReport {
        threads,
        weight_bytes: std::fs::metadata(&config.model.path)
            .with_context(|| format!("cannot read {}", config.model.path.display()))?
            .len(),
        read_bytes_s: ladder_model::bench::read_bandwidth(threads),
        measured_tok_s: report.ours.tg_tok_s,
    };
    print!("{}", ceiling.table());
    let sequences: Vec<usize> = sequences.into_iter().filter(|&n| n > 0).collect();
    if !sequences.is_empty() {
        eprintln!("bench-model: sequences in one loop: {sequences:?}");
        let report =
            ladder_model::bench::sequences(&config, &sequences, sequence_tokens, |n, of| {
                eprintln!("  {n}/{of} counts done")
            })
            .await
            .context("the sequences benchmark failed")?;
        print!("{}", report.table());
    }
    let runs_in_flight: Vec<usize> = runs_in_flight.into_iter().filter(|&n| n > 0).collect();
    if !runs_in_flight.is_empty() {
        eprintln!("bench-model: runs in flight, per-run contexts against the shared loop: {runs_in_flight:?}");
        let report = ladder_model::bench::runs_in_flight(
            &config,
            &runs_in_flight,
            sequence_tokens,
            |n, of| eprintln!("  {n}/{of} counts done"),
        )
        .await
        .context("the runs-in-flight benchmark failed")?;
        print!("{}", report.table());
    }
    if prefix_turns > 0 {
        eprintln!("bench-model: prefix reuse, {prefix_turns} calls per conversation");
        let report = ladder_model::bench::prefix(&config, prefix_turns, |r| {
            eprintln!("  round {r}/{rounds} done")
        })
        .await
        .context("the prefix-reuse benchmark failed")?;
        print!("{}", report.table());
    }
    if parallel_agents > 0 {
        eprintln!(
            "bench-model: parallel decoding, {parallel_agents} agents x {debate_rounds} rounds"
        );
        let report = ladder_model::bench::parallel(&config, parallel_agents, debate_rounds, |r| {
            eprintln!("  round {r}/{rounds} done")
        })
        .await
        .context("the parallel-decoding benchmark failed")?;
        print!("{}", report.table());
    }
    if batch_agents > 0 {
        eprintln!("bench-model: prefix reuse across batches, {batch_agents} agents");
        let report = ladder_model::bench::batch_reuse(&config, batch_agents, |r| {
            eprintln!("  round {r}/{rounds} done")
        })
        .await
        .context("the batch-reuse benchmark failed")?;
        print!("{}", report.table());
    }
    if let Some(draft) = draft_model {
        let path = ladder_model::draft_path(&draft)?;
        for k in draft_tokens.into_iter().filter(|&k| k > 0) {
            eprintln!("bench-model: speculative decoding, {draft} drafting {k} tokens a step");
            let report = ladder_model::bench::speculative(
                &config,
                path.clone(),
                k,
                speculative_tokens,
                |r| eprintln!("  round {r}/{rounds} done"),
            )
            .await
            .context("the speculative-decoding benchmark failed")?;
            print!("{}", report.table());
        }
    }
    if shared_runs > 0 {
        eprintln!("bench-model: shared system prefix, {shared_runs} runs per side");
        let report = ladder_model::bench::shared(&config, shared_runs, |r| {
            eprintln!("  round {r}/{rounds} done")
        })
        .await
        .context("the shared-prefix benchmark failed")?;
        print!("{}", report.table());
    }
    Ok(())
}
