//! The `ladder` command line: the top of the dependency graph. It parses arguments, opens
//! models and task files, runs strategies, and prints; the work itself lives in the crates.

mod bench;
mod bench_model;
mod chat;
mod evolve;
mod live;
mod models;
mod report;
mod retrieval;
mod run;
mod scaffold;
mod tui;
mod world;

/// The TUI tests' bench folder (shared with `tests/tui_tmux.rs`).
#[cfg(test)]
#[path = "../tests/support/bench_folder.rs"]
mod bench_folder_fixture;

use retrieval::StoreArgs;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ladder_harness::Overrides;
use ladder_model::{ModelSpec, OpenOptions, SPEC_HELP};

#[derive(Parser)]
#[command(
    name = "ladder",
    version,
    about = "Run scaffolded and bootstrapped LLM strategies side by side on the same tasks",
    long_about = "ladder puts two ways of building with language models side by side \
                  (a scaffolded pipeline and one model in a plain loop) and measures them on \
                  the same tasks, model, simulated user and knowledge base.\n\n\
                  Models (--model): qwen2.5-coder-1.5b (the default; also `local`), \
                  qwen2.5-coder-0.5b, smollm2-135m (the embedded models `just setup` installs; \
                  `ladder models` lists them), local:PATH.gguf, openai:MODEL@URL (any OpenAI-compatible server; API key \
                  from LADDER_API_KEY or OPENAI_API_KEY), llama-server:MODEL@URL (llama.cpp's \
                  server, which also takes GBNF grammars), replay:CASSETTE.jsonl (recorded \
                  calls, no model)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub(crate) struct ModelArgs {
    /// Which model to use.
    #[arg(long, short, default_value = "local", env = "LADDER_MODEL", value_name = "SPEC",
          action = clap::ArgAction::Append,
          help = format!("Which model to use: {SPEC_HELP}. `local` is the default model, \
                          qwen2.5-coder-1.5b (`ladder models` lists them; LADDER_MODEL sets \
                          another default). `ladder bench` takes it several times: every \
                          strategy runs with every model"))]
    model: Vec<ModelSpec>,
    /// Threads for each run's llama.cpp context (local model only). Default: the cores
    /// divided by the runs in flight (`run` and `chat` 2 on this 2-core machine; `tui`,
    /// `demo` and a bench of 2 runs at once 1 each), because generation is memory-bound:
    /// one 1.5B run evaluates prompts 1.4-1.9x faster with 2 threads than 1 (generation
    /// about the same), while 2 runs at 2 threads each oversubscribe 2 cores (see
    /// BENCHMARKS.md, models-ladder). With the shared decode loop (see --concurrency), the
    /// one loop's threads: default every core.
    #[arg(long, value_name = "N")]
    threads: Option<u32>,
    /// Append every model call to this cassette (replay it later with --model replay:FILE).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Evaluate every prompt from scratch instead of reusing the run's cached prompt prefix
    /// (local model only).
    #[arg(long)]
    no_prefix_cache: bool,
    /// Keep each run's prefix reuse, but have every run evaluate its system prompt itself
    /// instead of copying its KV cells from the runs before it (local model only).
    #[arg(long)]
    no_shared_prefix: bool,
    /// Decode a run's concurrent calls (debate agents, votes) one after another instead of
    /// as parallel sequences sharing their prompt prefix (local model only).
    #[arg(long)]
    no_parallel: bool,
    /// Keep prefix reuse for a run's calls one after another, but decode each batch of
    /// concurrent calls in a fresh context instead of the run's own, so a debate's revision
    /// round evaluates its draft round's prompts again (local model only; the A side of
    /// the batch-reuse measurement in BENCHMARKS.md).
    #[arg(long)]
    no_batch_reuse: bool,
    /// Speculative decoding: a smaller model of the same tokenizer drafts tokens that the
    /// model checks in one batch, for greedy calls in a run (local model only; a catalog
    /// name, e.g. qwen2.5-coder-0.5b for the 1.5B, or a GGUF path). Every kept token is the
    /// model's own choice, but read off a batch's logits, so a near-tie can flip. Off by
    /// default because it loses on a 2-core CPU (0.56-0.68x for the 1.5B with the 0.5B
    /// drafting: a batch of tokens costs about what it saves; BENCHMARKS.md); it pays
    /// where a batch costs about one token.
    #[arg(long, value_name = "MODEL")]
    draft_model: Option<String>,
    /// Tokens the draft model proposes per step (with --draft-model).
    #[arg(long, value_name = "N", default_value_t = 4)]
    draft_tokens: usize,
    /// Give each run its own llama.cpp contexts, never one decode loop shared by the runs
    /// in flight (local model only), so a run's bytes do not depend on what else runs. It
    /// is what every model of the catalog does by default on 2 cores (see --concurrency);
    /// the flag makes it so whatever a model's default or --shared-loop say. The trace
    /// header and the manifest record which mode ran (`decode_loop`). One run at a time
    /// (`run`, `chat`), --no-prefix-cache, --no-shared-prefix and --draft-model always use
    /// per-run contexts.
    #[arg(long, conflicts_with = "shared_loop")]
    deterministic: bool,
    /// Serve the runs in flight from one shared decode loop (local model only): each step
    /// decodes one token of every run in one batch with every core, so the weights are read
    /// once per step for all of them. It pays where a batch row costs much less than a
    /// token alone (more cores, a GPU); on 2 cores it measured slower
    /// than per-run contexts for all three catalog models (BENCHMARKS.md). A run's logits
    /// then come from batches that hold the other runs' rows, so a near-tie can flip and a
    /// run's text can differ from the same run alone.
    #[arg(long)]
    shared_loop: bool,
}

impl ModelArgs {
    /// The one model (commands other than `bench` take one --model), for `runs` runs in
    /// flight at once.
    pub(crate) fn open(&self, runs: usize) -> Result<Arc<dyn ladder_core::LanguageModel>> {
        if self.model.len() > 1 {
            bail!("this command takes one --model; `ladder bench` takes several");
        }
        self.open_spec(self.model.first().unwrap_or(&ModelSpec::Local(None)), runs)
    }

    /// Every --model given, opened, for `runs` runs in flight at once.
    pub(crate) fn open_all(&self, runs: usize) -> Result<Vec<Arc<dyn ladder_core::LanguageModel>>> {
        if self.model.len() > 1 && self.record.is_some() {
            bail!("--record keeps one cassette: record one model at a time");
        }
        self.model.iter().map(|m| self.open_spec(m, runs)).collect()
    }

    /// `--threads`, else the cores shared among the runs in flight (at least 1); with the
    /// shared decode loop, every core for the one loop.
    fn threads_for(&self, spec: &ModelSpec, runs: usize) -> u32 {
        let runs = if self.shared_runs(spec, runs) > 0 {
            1
        } else {
            runs
        };
        self.threads
            .unwrap_or_else(|| (cores() / runs.max(1)).max(1) as u32)
    }

    /// The runs the shared decode loop serves (0: per-run contexts): several runs at once
    /// with a model whose measured default is the shared loop, or with --shared-loop;
    /// never with --deterministic, --no-prefix-cache, --no-shared-prefix or --draft-model.
    fn shared_runs(&self, spec: &ModelSpec, runs: usize) -> usize {
        let per_run = self.deterministic
            || self.no_prefix_cache
            || self.no_shared_prefix
            || self.draft_model.is_some();
        let wanted = self.shared_loop || spec.catalog_entry().is_some_and(|m| m.shared_loop);
        if runs > 1 && wanted && !per_run {
            runs
        } else {
            0
        }
    }

    /// Runs in flight when --concurrency is not given: the smallest measured default of
    /// the models given (`models.toml`), else one per core.
    pub(crate) fn default_runs(&self) -> usize {
        let local = ModelSpec::Local(None);
        let specs: Vec<&ModelSpec> = if self.model.is_empty() {
            vec![&local]
        } else {
            self.model.iter().collect()
        };
        specs
            .iter()
            .map(|s| s.catalog_entry().and_then(|m| m.runs).unwrap_or_else(cores))
            .min()
            .unwrap_or_else(cores)
            .max(1)
    }

    fn open_spec(
        &self,
        spec: &ModelSpec,
        runs: usize,
    ) -> Result<Arc<dyn ladder_core::LanguageModel>> {
        ladder_model::open(
            spec,
            &OpenOptions {
                threads: self.threads_for(spec, runs),
                record: self.record.clone(),
                no_prefix_cache: self.no_prefix_cache,
                no_shared_prefix: self.no_shared_prefix,
                no_parallel: self.no_parallel,
                no_batch_reuse: self.no_batch_reuse,
                draft: self.draft_model.clone(),
                draft_tokens: self.draft_tokens,
                shared_runs: self.shared_runs(spec, runs),
            },
        )
        .context("cannot open the model")
    }
}

/// `--concurrency`'s help: what it does and each model's measured default.
pub(crate) fn concurrency_help() -> String {
    format!(
        "Runs in flight at once. They share the one loaded model (its weights mapped once), \
         and either one decode loop (each step decodes a token of every run in one batch, \
         with every core) or their own llama.cpp contexts (--threads each, default the cores \
         divided by this). Default by model, as measured on 2 cores (BENCHMARKS.md, \
         \"one decode loop for every run in flight\"): {}; another model: one per core, \
         per-run contexts. --shared-loop or --deterministic picks the mode",
        ladder_model::catalog::run_defaults()
    )
}

/// The machine's cores (at least 1).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A registered strategy's name (see `ladder_harness::registry`).
/// Settings passed through to the strategies.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct StrategyArgs {
    /// Replace the bootstrapped loop's system prompt with this file's text (its
    /// prompts/system.txt), to try another prompt without a rebuild.
    #[arg(long, value_name = "FILE")]
    prompt: Option<PathBuf>,
    /// The scaffold's pipeline file instead of fixtures/pipelines/default.toml and the
    /// suite's own override (its folder's pipeline.toml); `ladder scaffold show` prints
    /// one. In `ladder bench`, `--pipeline SUITE=FILE` (repeatable) replaces it for one
    /// suite of --suites only, and a bare `--pipeline FILE` for every other.
    #[arg(long, value_name = "[SUITE=]FILE")]
    pipeline: Vec<String>,
    /// Scaffold components to switch off, by id or kind, comma-separated (e.g.
    /// `--without debate,compress`); their neighbours are joined up.
    #[arg(long, value_delimiter = ',', value_name = "COMPONENTS")]
    without: Vec<String>,
    /// Scaffold components the pipeline file switches off to switch on, e.g. `--with vote
    /// --without debate` (self-consistency in the debate's place).
    #[arg(long, value_delimiter = ',', value_name = "COMPONENTS")]
    with: Vec<String>,
}

fn read_file(path: &std::path::Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}

/// A bench's pipeline files per suite (`--pipeline SUITE=FILE`): path and text.
pub(crate) type SuitePipelines = std::collections::BTreeMap<String, (String, String)>;

/// A pipeline file as the options carry it: its path and text.
fn pipeline_file(path: &str) -> Result<(String, String)> {
    Ok((path.to_string(), read_file(path.as_ref(), "pipeline")?))
}

impl StrategyArgs {
    /// The options of one run (`ladder run`, the TUI): `--pipeline` is one FILE at most.
    pub(crate) fn options(&self) -> Result<ladder_harness::registry::StrategyOptions> {
        let pipeline = match self.pipeline.as_slice() {
            [] => None,
            [file] => Some(pipeline_file(file)?),
            more => anyhow::bail!(
                "--pipeline is given {} times ({}); a run takes one FILE (SUITE=FILE is for `ladder bench`)",
                more.len(),
                more.join(", ")
            ),
        };
        self.options_with(pipeline)
    }

    /// The options of a bench over `suites` (as --suites names them), and the pipeline
    /// files given per suite: each `--pipeline SUITE=FILE` is that suite's, a bare
    /// `--pipeline FILE` every suite's (once at most, and once per suite).
    pub(crate) fn bench_options(
        &self,
        suites: &[String],
    ) -> Result<(ladder_harness::registry::StrategyOptions, SuitePipelines)> {
        let mut all = None;
        let mut per_suite = std::collections::BTreeMap::new();
        for arg in &self.pipeline {
            match arg.split_once('=') {
                Some((suite, file)) if suites.iter().any(|s| s == suite) => {
                    if file.is_empty() {
                        anyhow::bail!("--pipeline {arg}: expected SUITE=FILE, the file is missing");
                    }
                    if per_suite.insert(suite.to_string(), pipeline_file(file)?).is_some() {
                        anyhow::bail!("--pipeline gives suite {suite} two files; expected one per suite");
                    }
                }
                Some((suite, _)) if !std::path::Path::new(arg).exists() => anyhow::bail!(
                    "--pipeline {arg}: {suite:?} is not one of the bench's suites ({}); expected FILE or SUITE=FILE",
                    suites.join(", ")
                ),
                _ => {
                    if all.replace(pipeline_file(arg)?).is_some() {
                        anyhow::bail!("--pipeline is given two files for every suite; expected one FILE, and SUITE=FILE for the others");
                    }
                }
            }
        }
        Ok((self.options_with(all)?, per_suite))
    }

    fn options_with(
        &self,
        pipeline: Option<(String, String)>,
    ) -> Result<ladder_harness::registry::StrategyOptions> {
        Ok(ladder_harness::registry::StrategyOptions {
            prompt: self
                .prompt
                .as_ref()
                .map(|p| read_file(p, "prompt"))
                .transpose()?,
            pipeline,
            suite_pipeline: None,
            without: self.without.clone(),
            with: self.with.clone(),
            playbook: None,
        })
    }
}

pub(crate) fn strategy_name(s: &str) -> Result<String, String> {
    let known = ladder_harness::registry::names();
    if known.iter().any(|k| k == s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown strategy {s:?}; ladder knows: {}",
            known.join(", ")
        ))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Chat with a model: one prompt, the answer streamed as it is generated.
    Chat {
        #[command(flatten)]
        args: chat::ChatArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// List the embedded models (installed or not, size, parameters, quantisation, the
    /// default) and the other backends.
    Models,
    /// Run a strategy on a task: prints the outcome and metrics and writes the trace (JSONL).
    Run(run::RunArgs),
    /// Ingest a folder of markdown and text files into a collection (incremental).
    Ingest {
        /// The folder to ingest (searched recursively for .md, .markdown and .txt).
        folder: PathBuf,
        /// The collection to write.
        #[arg(long, short)]
        collection: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Most characters in a chunk.
        #[arg(long, default_value_t = 800)]
        chunk_size: usize,
        /// Characters shared by consecutive chunks of a section.
        #[arg(long, default_value_t = 100)]
        overlap: usize,
        /// Delete the collection first and ingest everything again.
        #[arg(long)]
        recreate: bool,
    },
    /// Search a collection: the best chunks for a query, with scores and where they come from.
    Search {
        /// What to look for.
        query: String,
        #[arg(long, short)]
        collection: String,
        #[command(flatten)]
        store: StoreArgs,
        /// How many hits.
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// Only chunks whose payload FIELD equals VALUE (repeatable; all must hold), e.g.
        /// --filter document=returns-policy.
        #[arg(long, value_name = "FIELD=VALUE")]
        filter: Vec<String>,
    },
    /// Check suites: every problem of every file, with file and line. Exits 1 if any.
    Validate {
        /// Suite names or folders (default: every suite under fixtures/suites).
        suites: Vec<String>,
    },
    /// Run strategies over suites (every task x strategy x trial), each run saved as it
    /// finishes (results.jsonl, traces/), resumable, then print success with intervals and
    /// paired comparisons against direct.
    Bench(bench::BenchArgs),
    /// Self-improvement: the bootstrapped loop curates a playbook of lessons from its own
    /// traces (generation 0 with none; then the same model reads its dev runs with the
    /// judge's verdicts and changes the playbook by add/edit/remove deltas, or rewrites it
    /// whole), and every generation is scored on the test split and a suite it never saw,
    /// beside the loop with no playbook, a hand-written one, the scaffold and direct.
    /// Resumable; every generation's calls in its cassette (--replay).
    Evolve(evolve::EvolveArgs),
    /// Write a bench folder's report: report.md (plan, tables, charts), results.csv (a row
    /// per run), summary.json (every figure) and SVG charts (success against user turns,
    /// the cost frontier of success against tokens, success per suite).
    Report(report::ReportArgs),
    /// Compare two bench folders: each strategy's success with intervals (and whether they
    /// separate), paired on the runs both made, and its tokens, turns and time.
    Compare(report::CompareArgs),
    /// Merge bench folders that ran the same plan with different models into one new
    /// folder (manifest, results, traces), so its report puts the models side by side: the
    /// crossover chart of success against model size. Refuses folders whose plans differ in
    /// anything but the model.
    Merge(report::MergeArgs),
    /// Judge a bench folder's runs again with this build's judge, into a new folder (the
    /// old one is not changed): nothing is run again, each run's outcome and trace are
    /// scored anew, and the runs whose success changed are listed. For benches made before
    /// a new judge version. Refused when a suite on disk is not the one the bench ran.
    Rescore(report::RescoreArgs),
    /// Score an answer to a suite task without running a strategy: prints every verdict
    /// (for suite authors trying a suite, and for checking the judge).
    Score(world::ScoreArgs),
    /// Ask a suite task's simulated user a question: prints its reply, the parts it heard
    /// and the slots it matched.
    User(world::UserArgs),
    /// The benchmark world: generate suites from a fixed seed.
    World {
        #[command(subcommand)]
        command: WorldCommand,
    },
    /// Two runs side by side in the terminal: pick a suite task and two strategies (default
    /// scaffold vs bootstrap) and watch them live, or open a bench folder or one or two
    /// saved traces. `--play`: you type the user's replies. Keys: ? help, Tab switch pane,
    /// Enter an event in full, g the components, l lock, b back, q quit.
    Tui(tui::TuiArgs),
    /// The lessons: both strategies live, side by side, on a task chosen to teach one thing,
    /// with captions saying what each component or action does and why (seaside,
    /// unplaceable, already-said, debate). Without a terminal it prints the transcripts,
    /// captions and metrics.
    Demo(tui::DemoArgs),
    /// The scaffold's pipeline graph.
    Scaffold {
        #[command(subcommand)]
        command: scaffold::ScaffoldCommand,
    },
    /// Write the JSON Schemas of the fixture files (suite.toml, tasks.toml, document front matter).
    Schema {
        /// Folder to write them to.
        #[arg(long, default_value = "fixtures/schema")]
        out: PathBuf,
    },
    /// Measure retrieval: embedding throughput (trait vs fastembed directly) and search
    /// latency and recall at several sizes, exact and indexed, with and without a filter.
    BenchRetrieval {
        /// Collection sizes to measure (synthetic clustered 384-d vectors).
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<usize>,
        /// Queries per measurement.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Sentences embedded per round of the throughput test.
        #[arg(long, default_value_t = 320)]
        sentences: usize,
        /// Folder for the temporary collections (deleted afterwards).
        #[arg(long, default_value = "data/bench")]
        data: PathBuf,
    },
    /// Measure local-model throughput through ladder's model trait against a bare llama.cpp loop.
    BenchModel(bench_model::BenchModelArgs),
}

/// A limit given on the command line: at least 1. (In a task file 0 means "no limit"; on
/// the command line it would silently lift the limit, so it is refused.)
fn limit<T: std::str::FromStr + PartialEq + From<u8>>(s: &str) -> Result<T, String> {
    let v: T = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if v == T::from(0) {
        return Err(
            "must be at least 1 (leave the option out to keep the task's own limit)".into(),
        );
    }
    Ok(v)
}

/// The run's seed and budget; each limit overrides the task's own.
#[derive(clap::Args, Clone)]
pub(crate) struct BudgetArgs {
    /// The run's seed: each model call's seed is derived from it and the call's number.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most strategy steps (at least 1).
    #[arg(long, value_name = "N", value_parser = limit::<u32>)]
    pub max_steps: Option<u32>,
    /// Most model calls (at least 1).
    #[arg(long, value_name = "N", value_parser = limit::<u32>)]
    pub max_calls: Option<u32>,
    /// Most tokens, prompt plus completion, over all calls (reserved before each call; at
    /// least 1).
    #[arg(long, value_name = "N", value_parser = limit::<u64>)]
    pub max_tokens: Option<u64>,
    /// Most wall time in milliseconds; a model call in flight is stopped when it runs out
    /// (at least 1).
    #[arg(long, value_name = "MS", value_parser = limit::<u64>)]
    pub max_wall_ms: Option<u64>,
}

impl BudgetArgs {
    pub(crate) fn overrides(&self) -> Overrides {
        Overrides {
            seed: Some(self.seed),
            max_steps: self.max_steps,
            max_model_calls: self.max_calls,
            max_tokens: self.max_tokens,
            max_wall_ms: self.max_wall_ms,
        }
    }
}

#[derive(Subcommand)]
enum WorldCommand {
    /// Write the seaside, helpdesk and facts suites (the committed fixtures are seed 20261129, scale 1).
    Generate {
        /// Folder to write the suites into.
        #[arg(long, default_value = ladder_world::SUITES_DIR)]
        out: PathBuf,
        #[arg(long, default_value_t = ladder_world::gen::DEFAULT_SEED)]
        seed: u64,
        /// Multiply the number of knowledge-base entities (for performance tests).
        #[arg(long, default_value_t = 1)]
        scale: usize,
        /// Only these suites.
        #[arg(long)]
        only: Vec<String>,
    },
}

fn main() {
    // `ladder ... | head` ends quietly, as other command-line tools do, instead of
    // panicking on a closed pipe. (Traces are written as events happen, not at the end.)
    // SAFETY: resetting a signal's disposition to its default at the start of main, before
    // any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(dispatch(cli.command)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Chat { args, model } => chat::run(&model, args).await,
        Command::Models => {
            models::run();
            Ok(())
        }
        Command::Run(args) => run::command(args).await,
        Command::Validate { suites } => world::validate(&suites),
        Command::Scaffold { command } => scaffold::run(command),
        Command::Tui(args) => tui::run(args).await,
        Command::Demo(args) => tui::demo(args).await,
        Command::Score(args) => world::score(&args),
        Command::Bench(args) => bench::run(args).await,
        Command::Evolve(args) => evolve::run(args).await,
        Command::Report(args) => report::report(&args),
        Command::Compare(args) => report::compare(&args),
        Command::Merge(args) => report::merge(&args),
        Command::Rescore(args) => report::rescore(&args),
        Command::User(args) => world::user(&args).await,
        Command::Ingest {
            folder,
            collection,
            store,
            chunk_size,
            overlap,
            recreate,
        } => {
            let opts = ladder_retrieval::chunk::ChunkOptions {
                size: chunk_size,
                overlap,
            };
            retrieval::ingest(&folder, &collection, &store, opts, recreate).await
        }
        Command::Search {
            query,
            collection,
            store,
            k,
            filter,
        } => retrieval::search(&query, &collection, &store, k, &filter).await,
        Command::World {
            command:
                WorldCommand::Generate {
                    out,
                    seed,
                    scale,
                    only,
                },
        } => world::generate(&out, seed, scale, only),
        Command::Schema { out } => world::schema(&out),
        Command::BenchRetrieval {
            sizes,
            queries,
            sentences,
            data,
        } => retrieval::bench(&sizes, queries, sentences, &data).await,
        Command::BenchModel(args) => bench_model::run(args).await,
    }
}
