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
    /// one 1.5B run goes 1.5x faster with 2 threads than 1, while 2 runs at 2 threads
    /// each on 2 cores oversubscribe them and slow both (see BENCHMARKS.md, threads).
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

