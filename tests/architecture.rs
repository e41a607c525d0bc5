//! ARCHITECTURE.md's layers as a test (rust-analyzer checks its invariants the same way):
//! every workspace crate is in the layer table, and no crate depends on one the table puts
//! above it. Read from `cargo metadata`, so a dependency added to any Cargo.toml is seen.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The layer table of ARCHITECTURE.md: crate -> layer (1 is the bottom).
fn layers() -> BTreeMap<String, u32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).expect("ARCHITECTURE.md");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        let [layer, crates] = cells.as_slice() else {
            continue;
        };
        let Ok(layer) = layer.trim().parse::<u32>() else {
            continue;
        };
        for name in crates.split(',') {
            let name = name.trim().to_string();
            assert!(
                out.insert(name.clone(), layer).is_none(),
                "ARCHITECTURE.md puts {name} in two layers"
            );
        }
    }
    assert!(
        !out.is_empty(),
        "ARCHITECTURE.md has no layer table (`| layer | crates |`)"
    );
    out
}

/// Each workspace crate's dependencies on other workspace crates: (crate, dependency,
/// kind: "normal", "dev" or "build").
fn workspace_edges() -> (Vec<String>, Vec<(String, String, String)>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("its JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let names: Vec<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut edges = Vec::new();
    for p in packages {
        let from = p["name"].as_str().unwrap_or_default();
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let to = d["name"].as_str().unwrap_or_default();
            if names.iter().any(|n| n == to) {
                let kind = d["kind"].as_str().unwrap_or("normal");
                edges.push((from.to_string(), to.to_string(), kind.to_string()));
            }
        }
    }
    (names, edges)
}

/// Which edges break the rule: a normal or build dependency on a crate not strictly
/// lower; a dev-dependency on a crate higher.
fn violations(layers: &BTreeMap<String, u32>, edges: &[(String, String, String)]) -> Vec<String> {
    edges
        .iter()
        .filter_map(|(from, to, kind)| {
            let (a, b) = (layers.get(from)?, layers.get(to)?);
            let bad = if kind == "dev" { b > a } else { b >= a };
            bad.then(|| format!("{from} (layer {a}) has a {kind} dependency on {to} (layer {b})"))
        })
        .collect()
}

#[test]
fn every_crate_depends_only_on_crates_below_it_in_architecture_md() {
    let layers = layers();
    let (names, edges) = workspace_edges();
    let missing: Vec<&String> = names.iter().filter(|n| !layers.contains_key(*n)).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's layer table lacks {missing:?}: put each crate in a layer"
    );
    let stale: Vec<&String> = layers.keys().filter(|n| !names.contains(n)).collect();
    assert!(
        stale.is_empty(),
        "ARCHITECTURE.md's layer table names crates that are not in the workspace: {stale:?}"
    );
    let bad = violations(&layers, &edges);
    assert!(
        bad.is_empty(),
        "dependencies that run upward or sideways (ARCHITECTURE.md, Dependency direction):\n{}",
        bad.join("\n")
    );
    // The TUI builds on core alone (no llama.cpp, ONNX Runtime or Qdrant Edge for the UI
    // and its snapshot tests).
    let tui: Vec<&String> = edges
        .iter()
        .filter(|(from, _, kind)| from == "ladder-tui" && kind != "dev")
        .map(|(_, to, _)| to)
        .collect();
    assert_eq!(tui, ["ladder-core"], "ladder-tui depends on core only");
}

#[test]
fn the_check_catches_an_upward_and_a_sideways_dependency() {
    let layers: BTreeMap<String, u32> = [("core", 1), ("model", 2), ("world", 2), ("cli", 3)]
        .into_iter()
        .map(|(n, l)| (n.to_string(), l))
        .collect();
    let edge = |a: &str, b: &str, k: &str| (a.to_string(), b.to_string(), k.to_string());
    let fine = [
        edge("cli", "core", "normal"),
        edge("model", "core", "build"),
        edge("world", "model", "dev"),
    ];
    assert!(violations(&layers, &fine).is_empty());
    let bad = [
        edge("core", "model", "normal"),
        edge("world", "model", "normal"),
        edge("model", "cli", "dev"),
    ];
    assert_eq!(
        violations(&layers, &bad).len(),
        3,
        "{:?}",
        violations(&layers, &bad)
    );
}
