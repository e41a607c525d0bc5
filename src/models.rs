//! `ladder models`: which backends are configured and what is installed.

use std::path::Path;

pub fn run() {
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
