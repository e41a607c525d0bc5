//! The `ladder` command line: the top of the dependency graph. It parses arguments, opens
//! models and task files, runs strategies, and prints; the work itself lives in the crates.

mod bench;
mod chat;
mod models;
mod retrieval;
mod run;
mod scaffold;
mod tui;
mod world;

use retrieval::StoreArgs;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use ladder_harness::{Overrides, RunSpec, TaskSource};
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
    /// BENCHMARKS.md, models-ladder).
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

    /// `--threads`, else the cores shared among the runs in flight (at least 1).
    pub(crate) fn threads_for(&self, runs: usize) -> u32 {
        self.threads.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / runs.max(1)).max(1) as u32
        })
    }

    fn open_spec(
        &self,
        spec: &ModelSpec,
        runs: usize,
    ) -> Result<Arc<dyn ladder_core::LanguageModel>> {
        ladder_model::open(
            spec,
            &OpenOptions {
                threads: self.threads_for(runs),
                record: self.record.clone(),
                no_prefix_cache: self.no_prefix_cache,
                no_shared_prefix: self.no_shared_prefix,
                no_parallel: self.no_parallel,
            },
        )
        .context("cannot open the model")
    }
}

/// A registered strategy's name (see `ladder_harness::registry`).
/// Settings passed through to the strategies.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct StrategyArgs {
    /// Replace the bootstrapped loop's system prompt with this file's text (its
    /// prompts/system.txt), to try another prompt without a rebuild.
    #[arg(long, value_name = "FILE")]
    prompt: Option<PathBuf>,
    /// The scaffold's pipeline file instead of fixtures/pipelines/default.toml (and the
    /// suites' overrides); `ladder scaffold show` prints one.
    #[arg(long, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Scaffold components to switch off, by id or kind, comma-separated (e.g.
    /// `--without debate,compress`); their neighbours are joined up.
    #[arg(long, value_delimiter = ',', value_name = "COMPONENTS")]
    without: Vec<String>,
    /// Scaffold components the pipeline file switches off to switch on, e.g. `--with vote
    /// --without debate` (self-consistency in the debate's place).
    #[arg(long, value_delimiter = ',', value_name = "COMPONENTS")]
    with: Vec<String>,
}

impl StrategyArgs {
    pub(crate) fn options(&self) -> Result<ladder_harness::registry::StrategyOptions> {
        let read = |path: &PathBuf, what: &str| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the {what} file {}", path.display()))
        };
        Ok(ladder_harness::registry::StrategyOptions {
            prompt: self
                .prompt
                .as_ref()
                .map(|p| read(p, "prompt"))
                .transpose()?,
            pipeline: match &self.pipeline {
                Some(p) => Some((p.display().to_string(), read(p, "pipeline")?)),
                None => None,
            },
            without: self.without.clone(),
            with: self.with.clone(),
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

#[derive(Copy, Clone, ValueEnum)]
enum UserKind {
    /// Answers from the task's hidden profile, literally and deterministically; matches
    /// questions by keywords and by embedding similarity.
    Simulated,
    /// The simulated user with keyword matching only (no embedding model needed).
    Keywords,
    /// The model plays the user from the profile.
    Model,
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
    Run {
        /// The strategy to run: direct, scaffold, bootstrap, bootstrap-free, or a scaffold
        /// ablation (scaffold-no-classify, -no-form, -no-retrieve, -no-compress, -no-debate,
        /// scaffold-vote).
        #[arg(long, short, default_value = "direct", value_parser = strategy_name)]
        strategy: String,
        #[command(flatten)]
        strategy_args: StrategyArgs,
        /// A task file (TOML or JSON with [[task]] entries).
        #[arg(
            long,
            short,
            value_name = "FILE",
            required_unless_present = "suite",
            conflicts_with = "suite"
        )]
        task: Option<PathBuf>,
        /// A suite (name under fixtures/suites, or a folder): the simulated user answers
        /// the strategy's questions and the outcome is scored.
        #[arg(long, value_name = "SUITE")]
        suite: Option<String>,
        /// Which task of the file or suite, when it holds more than one.
        #[arg(long)]
        id: Option<String>,
        /// Who plays the user in a suite run: the deterministic simulated user, or the model.
        #[arg(long, value_enum, default_value = "simulated")]
        user: UserKind,
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        budget: BudgetArgs,
        /// Folder for the trace and the score.
        #[arg(long, default_value = "runs", value_name = "DIR")]
        out: PathBuf,
        /// Data folder of the embedded store (where suite knowledge bases are indexed).
        #[arg(long, env = "LADDER_DATA_DIR", default_value = "data")]
        data: PathBuf,
    },
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
    /// Write a bench folder's report: report.md (plan, tables, charts), results.csv (a row
    /// per run), summary.json (every figure) and SVG charts (success against user turns,
    /// the cost frontier of success against tokens, success per suite).
    Report {
        /// The bench folder (`ladder bench --out DIR`).
        dir: PathBuf,
        /// Also put the bench's table (with what produced it) into this document, between
        /// `<!-- ladder report: NAME -->` and `<!-- end: NAME -->` (see --section).
        #[arg(long, value_name = "FILE", requires = "section")]
        into: Option<PathBuf>,
        /// The section's NAME in the --into document.
        #[arg(long, value_name = "NAME")]
        section: Option<String>,
    },
    /// Compare two bench folders: each strategy's success with intervals (and whether they
    /// separate), paired on the runs both made, and its tokens, turns and time.
    Compare {
        /// The first bench folder (A).
        a: PathBuf,
        /// The second bench folder (B).
        b: PathBuf,
    },
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
    BenchModel {
        /// The local model: a catalog name (smollm2-135m, qwen2.5-coder-0.5b,
        /// qwen2.5-coder-1.5b), `local` (the default model) or local:PATH.gguf.
        #[arg(
            long,
            short,
            default_value = "local",
            env = "LADDER_MODEL",
            value_name = "SPEC"
        )]
        model: ModelSpec,
        #[arg(long, default_value_t = 1)]
        threads: u32,
        /// Rounds per side (medians are reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Tokens generated in the generation test.
        #[arg(long, default_value_t = 128)]
        gen_tokens: u32,
        /// Repetitions of a 20-word sentence in the prompt-processing test.
        #[arg(long, default_value_t = 24)]
        prompt_repeat: usize,
        /// Calls in the prefix-reuse test (a conversation whose history grows each call);
        /// 0 skips it.
        #[arg(long, default_value_t = 6)]
        prefix_turns: usize,
        /// Agents in the parallel-decoding test (debate-shaped calls, each round one batch);
        /// 0 skips it.
        #[arg(long, default_value_t = 3)]
        parallel_agents: usize,
        /// Rounds of that debate.
        #[arg(long, default_value_t = 2)]
        debate_rounds: usize,
        /// Runs in the shared-system-prefix test (each a new session after the same system
        /// prompt); 0 skips it.
        #[arg(long, default_value_t = 6)]
        shared_runs: usize,
    },
}

/// The run's seed and budget; each limit overrides the task's own (0 = no limit).
#[derive(clap::Args, Clone)]
pub(crate) struct BudgetArgs {
    /// The run's seed: each model call's seed is derived from it and the call's number.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most strategy steps.
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u32>,
    /// Most model calls.
    #[arg(long, value_name = "N")]
    pub max_calls: Option<u32>,
    /// Most tokens, prompt plus completion, over all calls (reserved before each call).
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u64>,
    /// Most wall time in milliseconds; a model call in flight is stopped when it runs out.
    #[arg(long, value_name = "MS")]
    pub max_wall_ms: Option<u64>,
}

impl BudgetArgs {
    fn overrides(&self) -> Overrides {
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
        Command::Run {
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
        } => {
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
            let mut spec = RunSpec::new(source, &strategy, model.open(1)?);
            spec.options = options;
            spec.id = id;
            spec.user = match user {
                UserKind::Simulated => ladder_harness::UserKind::Simulated,
                UserKind::Keywords => ladder_harness::UserKind::Keywords,
                UserKind::Model => ladder_harness::UserKind::Model,
            };
            spec.overrides = budget.overrides();
            spec.out = out;
            spec.data_dir = data.join("qdrant");
            run::run(spec).await
        }
        Command::Validate { suites } => world::validate(&suites),
        Command::Scaffold { command } => scaffold::run(command),
        Command::Tui(args) => tui::run(args).await,
        Command::Demo(args) => tui::demo(args).await,
        Command::Score(args) => world::score(&args),
        Command::Bench(args) => bench::run(args).await,
        Command::Report { dir, into, section } => {
            for path in ladder_harness::report::write(&dir)? {
                println!("wrote {}", path.display());
            }
            if let (Some(doc), Some(name)) = (into, section) {
                ladder_harness::report::into_document(&dir, &doc, &name)?;
                println!("updated section {name} of {}", doc.display());
            }
            Ok(())
        }
        Command::Compare { a, b } => {
            print!("{}", ladder_harness::report::compare_dirs(&a, &b)?);
            Ok(())
        }
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
        Command::BenchModel {
            model,
            threads,
            rounds,
            gen_tokens,
            prompt_repeat,
            prefix_turns,
            parallel_agents,
            debate_rounds,
            shared_runs,
        } => {
            let path = match &model {
                ModelSpec::Local(path) => path
                    .clone()
                    .unwrap_or_else(ladder_model::default_model_path),
                ModelSpec::Named(name) => ladder_model::model_path(name)
                    .with_context(|| format!("no model named {name}"))?,
                _ => bail!(
                    "bench-model measures a local model: give a catalog name or local:PATH.gguf"
                ),
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
            let report =
                ladder_model::bench::run(&config, |r| eprintln!("  round {r}/{rounds} done"))
                    .await
                    .context("the benchmark failed")?;
            print!("{}", report.table());
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
                let report =
                    ladder_model::bench::parallel(&config, parallel_agents, debate_rounds, |r| {
                        eprintln!("  round {r}/{rounds} done")
                    })
                    .await
                    .context("the parallel-decoding benchmark failed")?;
                print!("{}", report.table());
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
    }
}
