//! `ladder report` and `ladder compare` on a committed bench folder: the first comparison
//! measured on the local model (direct, scaffold, bootstrap on every suite's smoke tasks;
//! its traces are not committed). Snapshots: set `LADDER_UPDATE_SNAPSHOTS=1` to rewrite
//! them after a deliberate change, and review the diff.

use std::path::{Path, PathBuf};

use ladder_harness::report;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/runs/smoke-first")
}

/// A copy of the committed run in a temporary folder (the report writes into it).
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("smoke-first");
    std::fs::create_dir(&to).unwrap();
    for f in ["manifest.json", "results.jsonl"] {
        std::fs::copy(fixture().join(f), to.join(f)).unwrap();
    }
    dir
}

fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("LADDER_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (LADDER_UPDATE_SNAPSHOTS=1 writes it)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "{name} differs from its snapshot");
}

#[test]
fn the_report_of_a_committed_run_matches_its_snapshot() {
    let tmp = copy();
    let dir = tmp.path().join("smoke-first");
    let written = report::write(&dir).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "report.md",
            "results.csv",
            "summary.json",
            "success-vs-turns.svg",
            "success-vs-tokens.svg",
            "success-by-suite.svg"
        ]
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    snapshot("smoke-first.report.md", &read("report.md"));
    snapshot("smoke-first.results.csv", &read("results.csv"));
    let csv = read("results.csv");
    assert_eq!(csv.lines().count(), 1 + 45, "a header and a row per run");
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    assert_eq!(summary["runs"], 45);
    assert_eq!(summary["frontier"], serde_json::json!(["direct"]));
    for chart in [
        "success-vs-turns.svg",
        "success-vs-tokens.svg",
        "success-by-suite.svg",
    ] {
        let svg = read(chart);
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}"
        );
        for s in ["direct", "scaffold", "bootstrap"] {
            assert!(svg.contains(s), "{chart} names {s}");
        }
    }
    // The same folder always gives the same files.
    report::write(&dir).unwrap();
    assert_eq!(
        read("report.md"),
        std::fs::read_to_string(&written[0]).unwrap()
    );
}

#[test]
fn comparing_a_run_with_itself_finds_no_difference() {
    let out = report::compare_dirs(&fixture(), &fixture()).unwrap();
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| all |")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    for r in rows {
        assert!(
            r.contains("overlap (within noise)") && r.contains("| 0 | 0 | 1.000 |"),
            "{r}"
        );
    }
}

#[test]
fn a_report_on_a_folder_that_is_not_a_bench_says_what_it_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let e = report::write(tmp.path()).unwrap_err().to_string();
    assert!(
        e.contains("is not a bench folder: it has no manifest.json"),
        "{e}"
    );
    std::fs::write(
        tmp.path().join("manifest.json"),
        "{\"not\": \"a manifest\"}",
    )
    .unwrap();
    let e = report::write(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("is not a bench manifest"), "{e}");
    std::fs::copy(
        fixture().join("manifest.json"),
        tmp.path().join("manifest.json"),
    )
    .unwrap();
    let e = report::write(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("has no finished run yet"), "{e}");
    let e = report::write(&tmp.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a folder"), "{e}");
    let e = report::compare_dirs(tmp.path(), &fixture())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no finished run"), "{e}");
}

#[test]
fn several_models_with_known_sizes_get_a_crossover_chart() {
    let (mut manifest, records) = report::load(&fixture()).unwrap();
    assert!(
        report::crossover(&manifest, &records).is_none(),
        "one model: no crossover"
    );
    manifest.plan.models = vec![
        ladder_harness::bench::ModelEntry {
            name: "local:/m/small.gguf".into(),
            settings: serde_json::json!({"parameters": 135_000_000u64}),
        },
        ladder_harness::bench::ModelEntry {
            name: "local:/m/big.gguf".into(),
            settings: serde_json::json!({"parameters": 7_000_000_000u64}),
        },
    ];
    // The same runs, as if made with each model.
    let mut two = Vec::new();
    for (model, keep) in [("small", false), ("big", true)] {
        for r in &records {
            let mut r = r.clone();
            r.model = model.into();
            if let Some(s) = r.score.as_mut() {
                s.success = keep && r.strategy == "scaffold";
            }
            two.push(r);
        }
    }
    let svg = report::crossover(&manifest, &two).expect("a crossover chart");
    for label in [
        "scaffold@big",
        "scaffold@small",
        "direct@big",
        "bootstrap@small",
    ] {
        assert!(svg.contains(label), "{label}");
    }
    assert!(svg.contains("model parameters (millions)"));
}

#[test]
fn a_bench_table_goes_between_its_markers_and_nowhere_else() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = tmp.path().join("BENCH.md");
    std::fs::write(
        &doc,
        "# Head\n\n<!-- ladder report: smoke -->\nold table\n<!-- end: smoke -->\n\nTail stays.\n",
    )
    .unwrap();
    report::into_document(&fixture(), &doc, "smoke").unwrap();
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(
        text.starts_with("# Head\n\n<!-- ladder report: smoke -->\nBench folder `"),
        "{text}"
    );
    assert!(!text.contains("old table"));
    assert!(
        text.contains("| all | scaffold | 15 |")
            && text.ends_with("<!-- end: smoke -->\n\nTail stays.\n"),
        "{text}"
    );
    // Again: the same document (the section is replaced, not added).
    report::into_document(&fixture(), &doc, "smoke").unwrap();
    assert_eq!(std::fs::read_to_string(&doc).unwrap(), text);
    let e = report::into_document(&fixture(), &doc, "other")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has no section other") && e.contains("<!-- ladder report: other -->"),
        "{e}"
    );
}
