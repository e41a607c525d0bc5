//! The `ladder` command line: the top of the dependency graph. It parses arguments, opens
//! models and task files, runs strategies, and prints; the work itself lives in the crates.

mod retrieval;

use retrieval::{embedder, StoreArgs};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use ladder_core::trace::write_jsonl;
use ladder_core::{
    run_task, ChatRequest, Constraint, Direct, Message, Metrics, RunContext, StopReason, Strategy,
    TaskFile,
};
use ladder_model::{ModelSpec, OpenOptions, SPEC_HELP};

#[derive(Parser)]
#[command(
    name = "ladder",
    version,
    about = "Run scaffolded and bootstrapped LLM strategies side by side on the same tasks",
    long_about = "ladder puts two ways of building with language models side by side \
                  (a scaffolded pipeline and one model in a plain loop) and measures them on \
                  the same tasks, model, simulated user and knowledge base.\n\n\
                  Models (--model): local (the embedded GGUF model installed by `just setup`), \
                  local:PATH.gguf, openai:MODEL@URL (any OpenAI-compatible server; API key \
                  from LADDER_API_KEY or OPENAI_API_KEY), llama-server:MODEL@URL (llama.cpp's \
                  server, which also takes GBNF grammars), replay:CASSETTE.jsonl (recorded \
                  calls, no model)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ModelArgs {
    /// Which model to use.
    #[arg(long, short, default_value = "local", value_name = "SPEC", help = format!("Which model to use: {SPEC_HELP}"))]
    model: ModelSpec,
    /// Threads for the local model.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// Append every model call to this cassette (replay it later with --model replay:FILE).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

impl ModelArgs {
    fn open(&self) -> Result<Arc<dyn ladder_core::LanguageModel>> {
        ladder_model::open(
            &self.model,
            &OpenOptions {
                threads: self.threads,
                record: self.record.clone(),
            },
        )
        .context("cannot open the model")
    }
}

#[derive(Copy, Clone, ValueEnum)]
enum StrategyName {
    /// One model call answers the opening message (the baseline).
    Direct,
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
        /// What to say to the model.
        prompt: String,
        #[command(flatten)]
        model: ModelArgs,
        /// A system message.
        #[arg(long)]
        system: Option<String>,
        /// Constrain the output with a GBNF grammar file (root rule `root`).
        #[arg(long, value_name = "FILE", conflicts_with = "schema")]
        grammar: Option<PathBuf>,
        /// Constrain the output with a JSON Schema file.
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// Sampling seed.
        #[arg(long, default_value_t = 0)]
        seed: u32,
        /// Sampling temperature; 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        /// Nucleus sampling threshold.
        #[arg(long, default_value_t = 1.0)]
        top_p: f32,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 256)]
        max_tokens: u32,
    },
    /// Show which model backends are configured and whether the local model is installed.
    Models,
    /// Run a strategy on a task: prints the outcome and metrics and writes the trace (JSONL).
    Run {
        /// The strategy to run.
        #[arg(long, short, value_enum, default_value = "direct")]
        strategy: StrategyName,
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
        /// Folder for the trace.
        #[arg(long, default_value = "runs", value_name = "DIR")]
        out: PathBuf,
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
    /// The benchmark world: generate suites from a fixed seed.
    World {
        #[command(subcommand)]
        command: WorldCommand,
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
        /// Local GGUF file (default: the installed model).
        #[arg(long)]
        path: Option<PathBuf>,
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
    },
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
        Command::Chat {
            prompt,
            model,
            system,
            grammar,
            schema,
            seed,
            temperature,
            top_p,
            max_tokens,
        } => {
            let mut messages = Vec::new();
            if let Some(s) = system {
                messages.push(Message::system(s));
            }
            messages.push(Message::user(prompt));
            let mut request = ChatRequest::new(messages);
            request.sampling.seed = seed;
            request.sampling.temperature = temperature;
            request.sampling.top_p = top_p;
            request.sampling.max_tokens = max_tokens;
            request.constraint = match (grammar, schema) {
                (Some(g), _) => Some(Constraint::Gbnf(read_text(&g, "grammar")?)),
                (_, Some(s)) => Some(Constraint::JsonSchema(read_json(&s)?)),
                _ => None,
            };
            chat(&model, request).await
        }
        Command::Models => {
            models();
            Ok(())
        }
        Command::Run {
            strategy,
            task,
            suite,
            id,
            user,
            model,
            out,
        } => {
            let source = match (task, suite) {
                (Some(path), _) => TaskSource::File(path),
                (None, Some(suite)) => TaskSource::Suite(suite),
                (None, None) => bail!("give a task with --task FILE or --suite NAME"),
            };
            run(strategy, &source, id.as_deref(), user, &model, &out).await
        }
        Command::Validate { suites } => validate(&suites),
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
        } => {
            let names: Vec<String> = if only.is_empty() {
                ladder_world::gen::SUITES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                only
            };
            for name in &names {
                let generated = ladder_world::gen::generate(
                    name,
                    ladder_world::gen::GenOptions { seed, scale },
                )
                .with_context(|| {
                    format!(
                        "unknown suite {name:?}; the generator knows {:?}",
                        ladder_world::gen::SUITES
                    )
                })?;
                generated
                    .write(&out)
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
        Command::Schema { out } => {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            for (name, text) in ladder_world::schema::schemas() {
                let path = out.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::BenchRetrieval {
            sizes,
            queries,
            sentences,
            data,
        } => retrieval::bench(&sizes, queries, sentences, &data).await,
        Command::BenchModel {
            path,
            threads,
            rounds,
            gen_tokens,
            prompt_repeat,
        } => {
            let mut model = ladder_model::LocalConfig::new(
                path.unwrap_or_else(ladder_model::default_model_path),
            );
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
            Ok(())
        }
    }
}

fn validate(suites: &[String]) -> Result<()> {
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
        let (suite, problems) = ladder_world::validate::read(dir);
        for p in &problems {
            println!("{p}");
        }
        match (&suite, problems.len()) {
            (Some(s), 0) => println!(
                "ok: {} ({} tasks, {} documents, {} intents)",
                dir.display(),
                s.tasks.len(),
                s.documents.len(),
                s.manifest.intents.len()
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

fn read_text(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} file {}", path.display()))
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = read_text(path, "JSON Schema")?;
    serde_json::from_str(&text)
        .with_context(|| format!("JSON Schema file {} is not valid JSON", path.display()))
}

async fn chat(args: &ModelArgs, request: ChatRequest) -> Result<()> {
    let model = args.open()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printer = tokio::spawn(async move {
        let mut stdout = std::io::stdout();
        while let Some(piece) = rx.recv().await {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
    });
    let result = model.chat(&request, Some(tx)).await;
    let _ = printer.await;
    let response = result.context("the model call failed")?;
    println!();
    let u = response.usage;
    let rate = if response.generation_ms > 0.0 {
        u.completion_tokens as f64 * 1000.0 / response.generation_ms
    } else {
        0.0
    };
    eprintln!(
        "[{}: {} prompt + {} completion tokens, {:.0} ms, {:.1} tok/s, finish: {:?}]",
        model.info(),
        u.prompt_tokens,
        u.completion_tokens,
        response.total_ms,
        rate,
        response.finish
    );
    Ok(())
}

fn models() {
    let path = ladder_model::default_model_path();
    println!("backend       status");
    match std::fs::metadata(&path) {
        Ok(m) => println!(
            "local         installed: {} ({:.1} MB)",
            path.display(),
            m.len() as f64 / 1e6
        ),
        Err(_) => println!(
            "local         missing: {} (run `just setup`)",
            path.display()
        ),
    }
    let key = ["LADDER_API_KEY", "OPENAI_API_KEY"]
        .iter()
        .find(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
    println!(
        "openai        use --model openai:MODEL@URL (API key: {})",
        key.map(|k| format!("from {k}"))
            .unwrap_or_else(|| "none set; LADDER_API_KEY or OPENAI_API_KEY".into())
    );
    println!("llama-server  use --model llama-server:MODEL@URL (accepts GBNF grammars too)");
    let embed = ladder_retrieval::EmbedConfig::default();
    let installed = |p: &Path, what: &str| {
        if p.exists() {
            format!("{what} installed: {}", p.display())
        } else {
            format!("{what} missing: {} (run `just setup`)", p.display())
        }
    };
    println!(
        "embeddings    {}; {}",
        installed(
            &embed.model_dir.join("model.safetensors"),
            "all-MiniLM-L6-v2"
        ),
        installed(&embed.ort_library, "ONNX Runtime")
    );
    let cassettes: Vec<String> = std::fs::read_dir("fixtures/cassettes")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| p.display().to_string())
        .collect();
    if cassettes.is_empty() {
        println!("replay        use --model replay:FILE (record one with --record FILE)");
    } else {
        println!(
            "replay        use --model replay:FILE; recorded: {}",
            cassettes.join(", ")
        );
    }
}

enum TaskSource {
    File(PathBuf),
    Suite(String),
}

fn load_suite(name: &str) -> Result<ladder_world::Suite> {
    let dir = PathBuf::from(name);
    let dir = if dir.is_dir() {
        dir
    } else {
        ladder_world::default_suites_dir().join(name)
    };
    ladder_world::Suite::load(&dir).with_context(|| {
        format!(
            "cannot load suite {} (run `ladder validate {name}` for details)",
            dir.display()
        )
    })
}

async fn run(
    name: StrategyName,
    source: &TaskSource,
    id: Option<&str>,
    user_kind: UserKind,
    model_args: &ModelArgs,
    out: &Path,
) -> Result<()> {
    let (task, suite) = match source {
        TaskSource::File(path) => (TaskFile::load(path)?.select(id, path)?, None),
        TaskSource::Suite(name) => {
            let suite = load_suite(name)?;
            let id = id.with_context(|| {
                format!(
                    "choose a task of suite {name} with --id (e.g. {})",
                    suite.manifest.smoke.join(", ")
                )
            })?;
            let task = suite
                .task(id)
                .cloned()
                .with_context(|| format!("suite {name} has no task {id:?}"))?;
            (task, Some(suite))
        }
    };
    let strategy: Box<dyn Strategy> = match name {
        StrategyName::Direct => Box::new(Direct::default()),
    };
    let model = model_args.open()?;
    let mut ctx = RunContext::new(model.clone(), task.budget);
    if let Some(suite) = &suite {
        let manifest = Arc::new(suite.manifest.clone());
        let patience = ladder_world::Patience::default();
        ctx = match user_kind {
            UserKind::Simulated => {
                let user = ladder_world::SimulatedUser::new(manifest, task.clone(), patience)
                    .with_embedder(embedder()?, ladder_world::user::SIMILARITY_THRESHOLD)
                    .context(
                        "the simulated user needs the embedding model (or use --user keywords)",
                    )?;
                ctx.with_user(Box::new(user))
            }
            UserKind::Keywords => ctx.with_user(Box::new(ladder_world::SimulatedUser::new(
                manifest,
                task.clone(),
                patience,
            ))),
            UserKind::Model => ctx.with_user(Box::new(ladder_world::ModelUser::new(
                model,
                task.clone(),
                patience,
            ))),
        };
    }
    // Ctrl-C cancels the run at its next step; the trace of what it did is still written.
    let cancel = ctx.cancel.clone();
    let on_interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: stopping the run at its next step (Ctrl-C again to quit at once)"
            );
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let outcome = run_task(strategy.as_ref(), &task, &mut ctx).await;
    on_interrupt.abort();
    let events = ctx.trace.into_events();

    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the folder {}", out.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let file_name: String = format!("{}-{}-{stamp}.jsonl", task.id, strategy.name())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trace_path = out.join(file_name);
    let file = std::fs::File::create(&trace_path)
        .with_context(|| format!("cannot create the trace file {}", trace_path.display()))?;
    write_jsonl(&events, std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write the trace file {}", trace_path.display()))?;

    let m = Metrics::from_events(&events);
    println!("task      {}", task.id);
    println!("strategy  {}", strategy.name());
    println!("stop      {}", outcome.stop.label());
    if let StopReason::Error { message } = &outcome.stop {
        println!("error     {message}");
    }
    if let StopReason::BudgetExhausted { limit } = &outcome.stop {
        println!("limit     {limit}");
    }
    if let Some(answer) = &outcome.answer {
        println!("answer    {}", answer.replace('\n', "\n          "));
    }
    println!(
        "metrics   {} model calls | {} prompt + {} completion = {} tokens | {} user turns | {} retrievals | wall {:.0} ms | model {:.0} ms",
        m.model_calls, m.prompt_tokens, m.completion_tokens, m.total_tokens, m.user_turns, m.retrievals, m.wall_ms, m.model_ms
    );
    println!("trace     {}", trace_path.display());
    if let Some(suite) = &suite {
        let score = ladder_world::score(suite, &task, &outcome, &events);
        println!(
            "score     {} | partial {:.2} | recommended [{}] | rejected [{}] | hallucinated [{}] | {} user turns ({} irrelevant, {} repeated)",
            if score.success { "success" } else { "failure" },
            score.partial,
            score.recommended.join(", "),
            score.rejected.join(", "),
            score.hallucinations.join(", "),
            score.user_turns,
            score.irrelevant_questions,
            score.repeated_questions
        );
        for v in &score.verdicts {
            println!(
                "          {} {}: {}",
                if v.ok { "ok  " } else { "FAIL" },
                v.what,
                v.detail
            );
        }
        let score_path = trace_path.with_extension("score.json");
        std::fs::write(&score_path, serde_json::to_string_pretty(&score)? + "\n")
            .with_context(|| format!("cannot write {}", score_path.display()))?;
        println!("score at  {}", score_path.display());
    }
    match &outcome.stop {
        StopReason::Answered => Ok(()),
        StopReason::Error { message } => bail!("the run did not answer: {message}"),
        other => bail!("the run did not answer: {}", other.label()),
    }
}
