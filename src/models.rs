//! `ladder models`: which backends are configured and what is installed.

use std::path::Path;

pub fn run() {
    use ladder_model::catalog::{self, Installed};
    println!(
        "local models (--model NAME), in {}:",
        ladder_model::models_dir().display()
    );
    println!(
        "  {:<20} {:<10} {:>8} {:>10}  {:<26} {:<9} default",
        "name", "status", "size", "parameters", "quantisation", "sha256"
    );
    let default = catalog::default_model();
    let mut missing = Vec::new();
    for m in catalog::models() {
        let installed = m.installed();
        if installed == Installed::Missing {
            missing.push(m.name.as_str());
        }
        let (status, checked) = match installed {
            Installed::Missing => ("missing", "-"),
            Installed::Verified => ("installed", "checked"),
            Installed::Unchecked => ("installed", "unchecked"),
        };
        println!(
            "  {:<20} {:<10} {:>8} {:>10}  {:<26} {:<9} {}",
            m.name,
            status,
            format!("{:.0} MB", m.bytes as f64 / 1e6),
            m.parameters,
            m.quantisation,
            checked,
            if m.name == default.name { "yes" } else { "" }
        );
    }
    if !missing.is_empty() {
        println!("  missing: {} (run `just setup`)", missing.join(", "));
    }
    println!(
        "  aliases: {}; `local` is {}; `local:PATH.gguf` loads any other GGUF chat model",
        catalog::models()
            .iter()
            .map(|m| format!("{} = {}", m.aliases.join("/"), m.name))
            .collect::<Vec<_>>()
            .join(", "),
        default.name
    );
    println!();
    println!("backend       status");
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
