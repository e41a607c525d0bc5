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

#[test]
fn chance_levels_come_only_from_the_suites_the_bench_ran_and_the_report_says_which_are_left_out() {
    let tmp = copy();
    let dir = tmp.path().join("smoke-first");
    // The committed folder was run on older suites: its hashes are not today's.
    let stale = report::markdown(
        "smoke-first",
        &report::load(&dir).unwrap().0,
        &report::load(&dir).unwrap().1,
    );
    assert!(!stale.contains("(chance: one entity at random)"), "{stale}");
    assert!(
        stale.contains("seaside: no chance level, the suite on disk is not the one the bench ran"),
        "{stale}"
    );
    // With the manifest naming today's suites, the chance levels are back.
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for suite in ["seaside", "helpdesk", "facts"] {
        manifest["plan"]["suite_hashes"][suite] =
            serde_json::json!(ladder_harness::run::load_suite(suite)
                .unwrap()
                .content_hash());
    }
    std::fs::write(&path, manifest.to_string()).unwrap();
    let (m, records) = report::load(&dir).unwrap();
    let fresh = report::markdown("smoke-first", &m, &records);
    assert!(
        fresh.contains("| seaside | (chance: one entity at random) |"),
        "{fresh}"
    );
    assert!(!fresh.contains("no chance level"), "{fresh}");
    // A suite the manifest does not name is left out too, and said so.
    manifest["plan"]["suite_hashes"]
        .as_object_mut()
        .unwrap()
        .remove("seaside");
    std::fs::write(&path, manifest.to_string()).unwrap();
    let (m, records) = report::load(&dir).unwrap();
    let unnamed = report::markdown("smoke-first", &m, &records);
    assert!(
        unnamed.contains("seaside: no chance level, the manifest has no hash"),
        "{unnamed}"
    );
}

#[test]
fn a_report_refuses_a_results_file_with_a_line_that_is_not_a_record_and_names_it() {
    let tmp = copy();
    let dir = tmp.path().join("smoke-first");
    let path = dir.join("results.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[4] = lines[4].replacen("\"strategy\"", "\"strategi\"", 1);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let e = report::load(&dir).unwrap_err().to_string();
    assert!(e.contains("line 5 is not a record"), "{e}");
    assert!(e.contains("--resume"), "{e}");
}

/// The committed folder again, as if it had run another model (name and size changed).
fn as_model(name: &str, parameters: u64, seed: u64) -> tempfile::TempDir {
    let tmp = copy();
    let path = tmp.path().join("smoke-first/manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m["plan"]["model"] = serde_json::json!(format!("local:{name}.gguf"));
    m["plan"]["model_settings"]["parameters"] = serde_json::json!(parameters);
    m["plan"]["seed"] = serde_json::json!(seed);
    m["git_revision"] = serde_json::json!(format!("{name}-revision"));
    std::fs::write(&path, m.to_string()).unwrap();
    tmp
}

#[test]
fn folders_of_the_same_plan_with_other_models_merge_into_one_with_a_crossover_chart() {
    let (small, large) = (
        as_model("Small-135M", 134_515_008, 0),
        as_model("Large-1B", 1_000_000_000, 0),
    );
    let dirs = [
        small.path().join("smoke-first"),
        large.path().join("smoke-first"),
    ];
    let out = tempfile::tempdir().unwrap();
    let merged = out.path().join("merged");
    let (manifest, records) = ladder_harness::bench::merge(&dirs, &merged).unwrap();
    assert_eq!(records.len(), 90);
    assert_eq!(manifest.plan.models.len(), 2);
    assert_eq!(manifest.merged_from.len(), 2);
    let labels: std::collections::BTreeSet<String> = records.iter().map(|r| r.label()).collect();
    assert!(labels.contains("scaffold@Large-1B"), "{labels:?}");
    assert!(labels.contains("scaffold@Small-135M"), "{labels:?}");
    // The merged folder is a bench folder: it reports, crossover chart included, and says
    // where its runs came from.
    let written = report::write(&merged).unwrap();
    assert!(written
        .iter()
        .any(|p| p.ends_with("success-vs-model-size.svg")));
    let md = std::fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(
        md.contains("Merged from 2 folders") && md.contains("ladder Large-1B-rev"),
        "{md}"
    );
    // Into a folder that holds a bench already: refused.
    let e = ladder_harness::bench::merge(&dirs, &merged)
        .unwrap_err()
        .to_string();
    assert!(e.contains("already holds a bench"), "{e}");
}

#[test]
fn folders_that_ran_another_plan_or_the_same_model_are_not_merged() {
    let a = copy();
    let other_seed = as_model("Large-1B", 1_000_000_000, 7);
    let out = tempfile::tempdir().unwrap();
    let e = ladder_harness::bench::merge(
        &[
            a.path().join("smoke-first"),
            other_seed.path().join("smoke-first"),
        ],
        &out.path().join("m1"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("another plan") && e.contains("seed"), "{e}");
    let same = copy();
    let e = ladder_harness::bench::merge(
        &[
            a.path().join("smoke-first"),
            same.path().join("smoke-first"),
        ],
        &out.path().join("m2"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("in two of the folders"), "{e}");
}
