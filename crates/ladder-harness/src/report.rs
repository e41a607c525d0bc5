//! `ladder report` and `ladder compare`: a bench folder turned into what a researcher
//! cites: `report.md` (plan, tables, charts), `results.csv` (one row per run),
//! `summary.json` (every figure of the tables) and SVG charts.
//!
//! Invariants: a report is a pure function of the folder's `manifest.json` and
//! `results.jsonl` (and the suites, for chance levels): no clock, no randomness beyond the
//! fixed-seed bootstrap, so the same folder always gives the same files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bench::{ablation, chance_levels, compare, summarise, table, Manifest, Record, Row};
use crate::run::io;
use crate::svg::{grouped_bars, scatter, Point};
use crate::{stats, HarnessError};

/// A bench folder's manifest and finished runs.
pub fn load(dir: &Path) -> Result<(Manifest, Vec<Record>), HarnessError> {
    let shown = dir.display();
    if !dir.is_dir() {
        return Err(HarnessError::Choose(format!(
            "{shown} is not a folder; give the --out folder of a `ladder bench`"
        )));
    }
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        HarnessError::Choose(format!(
            "{shown} is not a bench folder: it has no manifest.json (`ladder bench --out {shown}` makes one)"
        ))
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        HarnessError::Choose(format!(
            "{} is not a bench manifest ({e}); was it written by another version of ladder?",
            path.display()
        ))
    })?;
    let path = dir.join("results.jsonl");
    let read = crate::bench::read_results(&path)?;
    if !read.unreadable.is_empty() {
        return Err(HarnessError::Choose(format!(
            "{}; the report would leave them out. Run `ladder bench --out {shown} --resume` with the bench's settings to set them aside and redo their runs, or mend them",
            read.unreadable
                .iter()
                .map(|u| format!("{} line {} is not a record: {}", path.display(), u.line, u.error))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let records = read.records;
    if records.is_empty() {
        return Err(HarnessError::Choose(format!(
            "{shown}/results.jsonl has no finished run yet; run `ladder bench --out {shown} --resume`"
        )));
    }
    Ok((manifest, records))
}

/// The strategies on the cost frontier over all suites: no other strategy has at least
/// their success rate at no more tokens per run, better on one of the two.
pub fn frontier(rows: &[Row]) -> Vec<String> {
    let all: Vec<&Row> = rows.iter().filter(|r| r.suite == "all").collect();
    all.iter()
        .filter(|a| {
            !all.iter().any(|b| {
                b.rate >= a.rate && b.tokens <= a.tokens && (b.rate > a.rate || b.tokens < a.tokens)
            })
        })
        .map(|a| a.strategy.clone())
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per run.
pub fn csv(records: &[Record]) -> String {
    let mut s = String::from(
        "suite,task,strategy,trial,seed,stop,success,partial,user_turns,irrelevant_questions,model_calls,prompt_tokens,cached_tokens,completion_tokens,wall_ms,intent_exact,retrieval_recall,hallucinations,error\n",
    );
    for r in records {
        let m = r.metrics.clone().unwrap_or_default();
        let score = r.score.as_ref();
        let stop = r
            .outcome
            .as_ref()
            .map(|o| o.stop.label())
            .unwrap_or("error");
        let fields = [
            csv_field(&r.suite),
            csv_field(&r.task),
            csv_field(&r.strategy),
            r.trial.to_string(),
            r.seed.to_string(),
            csv_field(stop),
            score.map_or(String::new(), |s| s.success.to_string()),
            score.map_or(String::new(), |s| format!("{:.3}", s.partial)),
            m.user_turns.to_string(),
            score.map_or(String::new(), |s| s.irrelevant_questions.to_string()),
            m.model_calls.to_string(),
            m.prompt_tokens.to_string(),
            m.cached_tokens.to_string(),
            m.completion_tokens.to_string(),
            format!("{:.0}", m.wall_ms),
            score
                .and_then(|s| s.intent.as_ref())
                .map_or(String::new(), |i| i.exact.to_string()),
            score
                .and_then(|s| s.retrieval_recall)
                .map_or(String::new(), |v| format!("{v:.3}")),
            score.map_or(String::new(), |s| s.hallucinations.len().to_string()),
            csv_field(r.error.as_deref().unwrap_or("")),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    s
}

/// Every figure of the report's tables, as JSON.
pub fn summary(manifest: &Manifest, records: &[Record]) -> serde_json::Value {
    let rows = summarise(records);
    serde_json::json!({
        "plan": manifest.plan,
        "git_revision": manifest.git_revision,
        "git_dirty": manifest.git_dirty,
        "machine": manifest.machine,
        "runs": records.len(),
        "rows": rows,
        "chance": chance_levels(records, &manifest.plan.suite_hashes),
        "paired_against_direct": compare(records, "direct")
            .into_iter()
            .map(|(s, p)| serde_json::json!({
                "strategy": s, "pairs": p.pairs, "only_it": p.only_first,
                "only_direct": p.only_second, "difference": p.difference, "p_value": p.p_value
            }))
            .collect::<Vec<_>>(),
        "ablation": ablation(records),
        "frontier": frontier(&rows),
    })
}

/// The charts, by file name.
pub fn charts(records: &[Record]) -> Vec<(String, String)> {
    let rows = summarise(records);
    let on_frontier = frontier(&rows);
    let all: Vec<&Row> = rows.iter().filter(|r| r.suite == "all").collect();
    let point = |r: &Row, x: f64| Point {
        label: r.strategy.clone(),
        x,
        y: r.rate,
        low: r.low,
        high: r.high,
        highlight: on_frontier.contains(&r.strategy),
    };
    let turns: Vec<Point> = all.iter().map(|r| point(r, r.user_turns)).collect();
    let tokens: Vec<Point> = all.iter().map(|r| point(r, r.tokens)).collect();
    let suites: Vec<String> = {
        let mut v: Vec<String> = records.iter().map(|r| r.suite.clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    let strategies: Vec<String> = all.iter().map(|r| r.strategy.clone()).collect();
    let by: BTreeMap<(String, String), (f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                (r.suite.clone(), r.strategy.clone()),
                (r.rate, r.low, r.high),
            )
        })
        .collect();
    vec![
        (
            "success-vs-turns.svg".into(),
            scatter(
                "Success against user turns (all suites; whiskers: 95% Wilson)",
                "mean user turns per run",
                "success rate",
                &turns,
                false,
            ),
        ),
        (
            "success-vs-tokens.svg".into(),
            scatter(
                "Success against tokens: the cost frontier (filled)",
                "mean tokens per run",
                "success rate",
                &tokens,
                true,
            ),
        ),
        (
            "success-by-suite.svg".into(),
            grouped_bars(
                "Success per suite (whiskers: 95% Wilson)",
                "success rate",
                &suites,
                &strategies,
                |g, s| by.get(&(g.to_string(), s.to_string())).copied(),
            ),
        ),
    ]
}

/// With several models whose sizes are known (a GGUF's parameter count, in its settings),
/// each strategy's success against the model's size: the crossover chart.
pub fn crossover(manifest: &Manifest, records: &[Record]) -> Option<String> {
    let sizes: Vec<(String, f64)> = manifest
        .plan
        .models
        .iter()
        .filter_map(|m| {
            m.settings["parameters"]
                .as_f64()
                .map(|p| (crate::bench::model_label(&m.name), p / 1e6))
        })
        .collect();
    if sizes.len() < 2 {
        return None;
    }
    let points: Vec<Point> = summarise(records)
        .into_iter()
        .filter(|r| r.suite == "all")
        .filter_map(|r| {
            let (_, model) = r.strategy.split_once('@')?;
            let (_, size) = sizes.iter().find(|(m, _)| m == model)?;
            Some(Point {
                label: r.strategy.clone(),
                x: *size,
                y: r.rate,
                low: r.low,
                high: r.high,
                highlight: false,
            })
        })
        .collect();
    Some(scatter(
        "Success against model size: does the scaffold carry the weak model?",
        "model parameters (millions)",
        "success rate",
        &points,
        false,
    ))
}

/// What produced a bench, in one paragraph: plan, models, revision, machine.
fn provenance(manifest: &Manifest) -> String {
    let p = &manifest.plan;
    let models: Vec<String> = if p.models.is_empty() {
        vec![p.model.clone()]
    } else {
        p.models.iter().map(|m| m.name.clone()).collect()
    };
    format!(
        "suites {}; tasks {}; split {}; strategies {}; {} trial(s); seed {}; model {}; ladder {}{}; {} ({} cores), {}.",
        p.suites.join(", "),
        p.tasks,
        p.split,
        p.strategies.join(", "),
        p.trials,
        p.seed,
        models.join(", "),
        manifest.git_revision.get(..12).unwrap_or(&manifest.git_revision),
        if manifest.git_dirty { " (with uncommitted changes)" } else { "" },
        manifest.machine["cpu"].as_str().unwrap_or("?"),
        manifest.machine["cores"],
        match manifest.concurrency {
            0 | 1 => "one run at a time".to_string(),
            n => format!("{n} runs at once"),
        },
    ) + &merged(manifest)
}

/// For a merged folder, where each part came from.
fn merged(manifest: &Manifest) -> String {
    if manifest.merged_from.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = manifest
        .merged_from
        .iter()
        .map(|s| {
            format!(
                "`{}` ({}; {} runs; ladder {}{})",
                s.dir,
                s.models.join(", "),
                s.runs,
                s.git_revision.get(..12).unwrap_or(&s.git_revision),
                if s.git_dirty {
                    ", uncommitted changes"
                } else {
                    ""
                }
            )
        })
        .collect();
    format!(
        " Merged from {} folders: {}.",
        parts.len(),
        parts.join("; ")
    )
}

/// `report.md`.
pub fn markdown(name: &str, manifest: &Manifest, records: &[Record]) -> String {
    let rows = summarise(records);
    let mut s = format!("# Bench report: {name}\n\n");
    s.push_str(&format!(
        "{}\n\nRuns finished: {} (errors: {}).\n\n",
        provenance(manifest),
        records.len(),
        records.iter().filter(|r| r.outcome.is_none()).count(),
    ));
    s.push_str(&format!("## Results (split: {})\n\n", manifest.plan.split));
    s.push_str(&table(
        records,
        &chance_levels(records, &manifest.plan.suite_hashes),
    ));
    s.push_str("\n## Costs and conversations\n\n");
    s.push_str(&crate::bench::costs_table(records));
    s.push_str(&format!(
        "\nThe cost frontier (no other strategy has at least the success rate at no more tokens): {}.\n",
        frontier(&rows).join(", ")
    ));
    s.push_str("\n## Charts\n\n![success against user turns](success-vs-turns.svg)\n\n![success against tokens](success-vs-tokens.svg)\n\n![success per suite](success-by-suite.svg)\n");
    if crossover(manifest, records).is_some() {
        s.push_str("\n![success against model size](success-vs-model-size.svg)\n");
    }
    s.push_str(
        "\nEvery run is a line of `results.csv`; every figure above is in `summary.json`.\n",
    );
    s
}

/// The block a bench contributes to a document such as BENCHMARKS.md: what produced it
/// (folder, plan, revision, machine) and its results table.
pub fn section(dir: &Path, manifest: &Manifest, records: &[Record]) -> String {
    format!(
        "Bench folder `{}`: {}\n\n```\n{}```\n",
        dir.display(),
        provenance(manifest),
        table(
            records,
            &chance_levels(records, &manifest.plan.suite_hashes)
        )
    )
}

/// Replace the text between `<!-- ladder report: NAME -->` and `<!-- end: NAME -->` in
/// `document` with the bench's [`section`]. The markers must be there: a document is never
/// rewritten where nobody asked for it.
pub fn into_document(dir: &Path, document: &Path, name: &str) -> Result<(), HarnessError> {
    let (manifest, records) = load(dir)?;
    let text = std::fs::read_to_string(document).map_err(io("cannot read", document))?;
    let start = format!("<!-- ladder report: {name} -->");
    let end = format!("<!-- end: {name} -->");
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        return Err(HarnessError::Choose(format!(
            "{} has no section {name}: add the lines `{start}` and `{end}` where its table goes",
            document.display()
        )));
    };
    if b < a {
        return Err(HarnessError::Choose(format!(
            "{}: `{end}` comes before `{start}`",
            document.display()
        )));
    }
    let new = format!(
        "{}{start}\n{}{}",
        &text[..a],
        section(dir, &manifest, &records),
        &text[b..]
    );
    std::fs::write(document, new).map_err(io("cannot write", document))
}

/// Write `report.md`, `results.csv`, `summary.json` and the charts into `dir`.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, HarnessError> {
    let (manifest, records) = load(dir)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let mut files: Vec<(String, String)> = vec![
        ("report.md".into(), markdown(&name, &manifest, &records)),
        ("results.csv".into(), csv(&records)),
        (
            "summary.json".into(),
            serde_json::to_string_pretty(&summary(&manifest, &records)).unwrap_or_default() + "\n",
        ),
    ];
    files.extend(charts(&records));
    if let Some(svg) = crossover(&manifest, &records) {
        files.push(("success-vs-model-size.svg".into(), svg));
    }
    let mut written = Vec::new();
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(io("cannot write", &path))?;
        written.push(path);
    }
    Ok(written)
}

/// `ladder compare A B`: each strategy's figures in both benches, the change, and whether
/// the success intervals separate; paired (McNemar) on the runs both made.
pub fn compare_dirs(a: &Path, b: &Path) -> Result<String, HarnessError> {
    let (_, ra) = load(a)?;
    let (_, rb) = load(b)?;
    let rows_a = summarise(&ra);
    let rows_b = summarise(&rb);
    let mut s = format!(
        "A = {}, B = {}\n\n| suite | strategy | success A | success B | intervals | paired runs | only A | only B | McNemar p | tokens A -> B | user turns A -> B | wall p50 s A -> B |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        a.display(),
        b.display()
    );
    let key = |r: &Record| (r.suite.clone(), r.task.clone(), r.label(), r.trial);
    let by_b: BTreeMap<_, &Record> = rb.iter().map(|r| (key(r), r)).collect();
    let mut any = false;
    for x in &rows_a {
        let Some(y) = rows_b
            .iter()
            .find(|y| y.suite == x.suite && y.strategy == x.strategy)
        else {
            continue;
        };
        any = true;
        let pairs: Vec<(bool, bool)> = ra
            .iter()
            .filter(|r| (x.suite == "all" || r.suite == x.suite) && r.label() == x.strategy)
            .filter_map(|r| by_b.get(&key(r)).map(|o| (r.success(), o.success())))
            .collect();
        let p = stats::paired(&pairs);
        let separate = x.high < y.low || y.high < x.low;
        s.push_str(&format!(
            "| {} | {} | {:.2} [{:.2}, {:.2}] | {:.2} [{:.2}, {:.2}] | {} | {} | {} | {} | {} | {:.0} -> {:.0} | {:.1} -> {:.1} | {:.1} -> {:.1} |\n",
            x.suite, x.strategy, x.rate, x.low, x.high, y.rate, y.low, y.high,
            if separate { "separate" } else { "overlap (within noise)" },
            p.pairs, p.only_first, p.only_second,
            if p.pairs > 0 { format!("{:.3}", p.p_value) } else { "-".into() },
            x.tokens, y.tokens, x.user_turns, y.user_turns, x.wall_p50_s, y.wall_p50_s
        ));
    }
    if !any {
        return Err(HarnessError::Choose(format!(
            "{} and {} have no strategy on a suite in common; nothing to compare",
            a.display(),
            b.display()
        )));
    }
    Ok(s)
}
