//! `ladder scaffold show`: the scaffold's pipeline graph, as text or Graphviz DOT.

use std::path::PathBuf;

use anyhow::{Context, Result};
use ladder_scaffold::{PipelineSource, Scaffold, Switches};

#[derive(clap::Subcommand)]
pub enum ScaffoldCommand {
    /// Print the pipeline: its components in the order they run, their settings and
    /// inputs, and what is switched off. Checks the file as a run would.
    Show {
        /// A pipeline file (default: fixtures/pipelines/default.toml with the suite's
        /// override).
        #[arg(long, value_name = "FILE")]
        pipeline: Option<PathBuf>,
        /// The suite (a name under fixtures/suites, or a folder) whose own pipeline.toml
        /// applies to the default pipeline, if it has one.
        #[arg(long, value_name = "SUITE")]
        suite: Option<String>,
        /// Components to switch off, by id or kind, comma-separated.
        #[arg(long, value_delimiter = ',', value_name = "COMPONENTS")]
        without: Vec<String>,
        /// Components the file switches off to switch on (e.g. `vote`).
        #[arg(long, value_delimiter = ',', value_name = "COMPONENTS")]
        with: Vec<String>,
        /// Graphviz DOT instead of text (`| dot -Tsvg > pipeline.svg`).
        #[arg(long)]
        dot: bool,
    },
}

pub fn run(command: ScaffoldCommand) -> Result<()> {
    match command {
        ScaffoldCommand::Show {
            pipeline,
            suite,
            without,
            with,
            dot,
        } => {
            let source = match &pipeline {
                Some(path) => PipelineSource::File {
                    path: path.display().to_string(),
                    text: std::fs::read_to_string(path).with_context(|| {
                        format!("cannot read the pipeline file {}", path.display())
                    })?,
                },
                None => match suite {
                    Some(name) => {
                        let suite = ladder_harness::load_suite(&name)?;
                        match suite.pipeline {
                            Some(p) => PipelineSource::Suite {
                                path: p.path.display().to_string(),
                                text: p.text,
                            },
                            None => PipelineSource::Default,
                        }
                    }
                    None => PipelineSource::Default,
                },
            };
            let p = Scaffold::pipeline(
                &source,
                &Switches {
                    with,
                    without,
                    ..Switches::default()
                },
            )?;
            print!("{}", if dot { p.to_dot()? } else { p.to_text()? });
            Ok(())
        }
    }
}
