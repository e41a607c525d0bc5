//! The crate's modules use each other without a cycle (rust-analyzer's `tidy` tests are the
//! model): every `crate::<module>` path outside comments is an edge from the file's
//! top-level module, and the graph of those edges must have no cycle. The order the
//! crate documents in `lib.rs` is one such order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the top-level modules its code names through `crate::`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let deps = out.entry(module.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    deps.insert(name);
                }
            }
        }
    }
    out
}

#[test]
fn the_modules_use_each_other_without_a_cycle() {
    let g = graph();
    // Peel off modules that use nothing left; what remains lies on a cycle or uses one.
    let mut left = g.clone();
    loop {
        let leaves: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(m, _)| m.clone())
            .collect();
        if leaves.is_empty() {
            break;
        }
        for m in leaves {
            left.remove(&m);
        }
    }
    assert!(
        left.is_empty(),
        "these modules are on a cycle of `crate::` uses, or use one: {left:?}"
    );
    // The pure layers stay pure.
    assert!(g["suite"].is_empty(), "suite uses {:?}", g["suite"]);
    assert!(g["text"].is_empty(), "text uses {:?}", g["text"]);
    assert!(
        g["rules"].iter().all(|d| d == "suite" || d == "text"),
        "rules, the pure matching rules, use {:?}",
        g["rules"]
    );
}
