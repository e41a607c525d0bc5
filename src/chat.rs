//! `ladder chat`: one prompt to a model, the answer streamed as it is generated.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ladder_core::{ChatRequest, Constraint, Message};

use crate::ModelArgs;

/// What `ladder chat` is asked.
#[derive(clap::Args)]
pub struct ChatArgs {
    /// What to say to the model.
    prompt: String,
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
}

pub async fn run(model: &ModelArgs, args: ChatArgs) -> Result<()> {
    let mut messages = Vec::new();
    if let Some(s) = args.system {
        messages.push(Message::system(s));
    }
    messages.push(Message::user(args.prompt));
    let mut request = ChatRequest::new(messages);
    request.sampling.seed = args.seed;
    request.sampling.temperature = args.temperature;
    request.sampling.top_p = args.top_p;
    request.sampling.max_tokens = args.max_tokens;
    request.constraint = match (args.grammar, args.schema) {
        (Some(g), _) => Some(Constraint::Gbnf(read_text(&g, "grammar")?)),
        (_, Some(s)) => Some(Constraint::JsonSchema(read_json(&s)?)),
        _ => None,
    };
    chat(model, request).await
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
    let model = args.open(1)?;
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
