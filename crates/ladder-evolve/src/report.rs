//! The report of an experiment's folder: per generation, the playbook's size and the
//! success on dev, test and transfer with Wilson intervals, user turns and tokens; the
//! baselines beside them; paired comparisons with McNemar's exact test; two charts.
//!
//! Invariants: a pure function of the folder (and of the suites on disk, for the chance
//! level, only where a suite's content hash is the bench's); parts not run yet are shown
//! as missing, never guessed; every figure is counted from the saved records.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use ladder_harness::bench::{self, Record};
use ladder_harness::stats::{paired, wilson};
use ladder_harness::svg::{lines, scatter, Point};

use crate::driver::{gen_dir, read_json, Curation, Generation, Settings, UpdateMode, SETTINGS};
use crate::playbook::Playbook;
use crate::EvolveError;

/// The records of a bench folder (none when it was not run).
fn records(dir: &Path) -> Vec<Record> {
    bench::read_results(&dir.join("results.jsonl"))
        .map(|r| r.records)
        .unwrap_or_default()
}

fn rate(rs: &[Record], planned: usize) -> String {
    if rs.is_empty() {
        return "-".into();
    }
    let partly = if rs.len() < planned {
        format!(" [{} of {planned} run]", rs.len())
    } else {
        String::new()
    };
    let k = rs.iter().filter(|r| r.success()).count() as u64;
    let n = rs.len() as u64;
    let (lo, hi) = wilson(k, n);
    format!(
        "{k}/{n} ({:.0}%, {:.0}-{:.0}){partly}",
        100.0 * k as f64 / n as f64,
        100.0 * lo,
        100.0 * hi
    )
}

fn point(label: String, x: f64, rs: &[Record], highlight: bool) -> Option<Point> {
    if rs.is_empty() {
        return None;
    }
    let k = rs.iter().filter(|r| r.success()).count() as u64;
    let n = rs.len() as u64;
    let (low, high) = wilson(k, n);
    Some(Point {
        label,
        x,
        y: k as f64 / n as f64,
        low,
        high,
        highlight,
    })
}

fn mean_of(rs: &[Record], f: impl Fn(&ladder_core::Metrics) -> u64) -> Option<f64> {
    let v: Vec<u64> = rs
        .iter()
        .filter_map(|r| r.metrics.as_ref())
        .map(f)
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64)
}

fn mean(rs: &[Record], f: impl Fn(&ladder_core::Metrics) -> u64) -> String {
    mean_of(rs, f).map_or("-".into(), |m| format!("{m:.1}"))
}

/// `a` against `b` on the tasks both ran: a line with the discordant pairs and p.
fn compare(name_a: &str, a: &[Record], name_b: &str, b: &[Record]) -> Option<String> {
    let by: BTreeMap<&str, bool> = b.iter().map(|r| (r.task.as_str(), r.success())).collect();
    let pairs: Vec<(bool, bool)> = a
        .iter()
        .filter_map(|r| by.get(r.task.as_str()).map(|s| (r.success(), *s)))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let p = paired(&pairs);
    let verdict = if p.p_value < 0.05 {
        "a difference at p < 0.05"
    } else {
        "nothing separates them"
    };
    Some(format!(
        "{name_a} vs {name_b}: {} pairs, {} solved only by the first, {} only by the second, difference {:+.0} points, McNemar p = {:.2}: {verdict}",
        p.pairs, p.only_first, p.only_second, 100.0 * p.difference, p.p_value
    ))
}

fn chance(dir: &Path) -> Option<f64> {
    let (manifest, records) = ladder_harness::report::load(dir).ok()?;
    let c = bench::chance_levels(&records, &manifest.plan.suite_hashes);
    c.levels.values().next().copied()
}

/// What made a generation's candidate from its parent (the generation before's kept
/// playbook): `+added ~edited -removed` lessons by id, and the changes the curation refused
/// (a held-out text, the cap) or an unreadable reply.
fn changes(out: &Path, mode: UpdateMode, generation: u32) -> String {
    let Some(parent_gen) = generation.checked_sub(1) else {
        return "-".into();
    };
    let read =
        |dir: std::path::PathBuf, file: &str| read_json::<Playbook>(&dir.join(file)).ok().flatten();
    let (Some(parent), Some(candidate)) = (
        read(gen_dir(out, mode, parent_gen), "playbook.json"),
        read(gen_dir(out, mode, generation), "candidate.json"),
    ) else {
        return "-".into();
    };
    let added = candidate
        .lessons
        .iter()
        .filter(|l| parent.get(&l.id).is_none())
        .count();
    let removed = parent
        .lessons
        .iter()
        .filter(|l| candidate.get(&l.id).is_none())
        .count();
    let edited = candidate
        .lessons
        .iter()
        .filter(|l| parent.get(&l.id).is_some_and(|p| p.text != l.text))
        .count();
    let mut s = format!("+{added} ~{edited} -{removed}");
    if let Ok(Some(c)) =
        read_json::<Curation>(&gen_dir(out, mode, generation).join("curation.json"))
    {
        let held_out = c
            .refused
            .iter()
            .filter(|r| r.reason.contains("held out"))
            .count();
        if !c.refused.is_empty() {
            s.push_str(&format!(
                " ({} refused, {held_out} for held-out text)",
                c.refused.len()
            ));
        }
        if c.unreadable {
            s.push_str(" (reply unreadable: parent kept)");
        }
    }
    s
}

/// Every saved playbook checked against the held-out tasks (the whole test splits), as the
/// suites on disk have them: a line saying how many were checked and what leaked.
fn leak_check(out: &Path, s: &Settings) -> String {
    let secrets = match crate::driver::secrets(s) {
        Ok(secrets) => secrets,
        Err(e) => return format!("Leak check: not done ({e})."),
    };
    let (mut playbooks, mut lessons, mut leaks) = (0, 0, Vec::new());
    for &mode in &s.modes {
        for g in 0..=s.generations {
            for file in ["candidate.json", "playbook.json"] {
                let path = gen_dir(out, mode, g).join(file);
                let Ok(Some(p)) = read_json::<Playbook>(&path) else {
                    continue;
                };
                playbooks += 1;
                for l in &p.lessons {
                    lessons += 1;
                    if let Some(why) = secrets.find(&l.text) {
                        leaks.push(format!("{} {}: {why}", path.display(), l.id));
                    }
                }
            }
        }
    }
    if leaks.is_empty() {
        format!("Leak check: {playbooks} saved playbooks ({lessons} lessons) hold no text of the {} held-out texts (the test splits' ids, openings, hidden profiles and expected answers, less what the dev tasks and the form make public).", secrets.len())
    } else {
        format!(
            "Leak check: FAILED, {} lessons hold held-out text:\n- {}",
            leaks.len(),
            leaks.join("\n- ")
        )
    }
}

/// One part (test or transfer) of every generation of a mode.
struct Row {
    generation: u32,
    figures: Option<Generation>,
    playbook: Option<Playbook>,
    dev: Vec<Record>,
    test: Vec<Record>,
    transfer: Vec<Record>,
}

fn rows(out: &Path, s: &Settings, mode: UpdateMode) -> Vec<Row> {
    (0..=s.generations)
        .map(|g| {
            let dir = gen_dir(out, mode, g);
            Row {
                generation: g,
                figures: read_json(&dir.join("generation.json")).ok().flatten(),
                playbook: read_json(&dir.join("playbook.json")).ok().flatten(),
                dev: records(&dir.join("dev")),
                test: records(&dir.join("test")),
                transfer: records(&dir.join("transfer")),
            }
        })
        .collect()
}

/// Write `report.md`, `test.svg` and `transfer.svg` into the folder; returns the report.
pub fn report(out: &Path) -> Result<String, EvolveError> {
    let s: Settings = read_json(&out.join(SETTINGS))?.ok_or_else(|| EvolveError::Bad {
        path: out.join(SETTINGS).display().to_string(),
        reason: "not an experiment folder (no evolve.json): run `ladder evolve --out` on it first"
            .into(),
    })?;
    let mut r = String::new();
    let transfer = s.transfer.clone().unwrap_or_else(|| "-".into());
    let _ = writeln!(
        r,
        "# ladder evolve: {} -> test, transfer {}\n",
        s.suite, transfer
    );
    let _ = writeln!(
        r,
        "Model {}; {} generations; dev {} tasks, test {}, transfer {}; cap {} lessons / {} characters; rollback {}; seed {}.\n",
        s.model,
        s.generations,
        s.dev.len(),
        s.test.len(),
        s.transfer_tasks.len(),
        s.cap.lessons,
        s.cap.total_chars,
        if s.rollback { "on" } else { "off" },
        s.seed
    );
    let _ = writeln!(r, "Success is the judge's; intervals are 95% Wilson intervals; user turns and tokens are means per test run. The dev column is the runs of the generation's candidate playbook; the other columns are the playbook kept (the parent's, on a row rolled back).\n");
    let _ = writeln!(r, "{}\n", leak_check(out, &s));
    let base = out.join("baselines");
    let baseline = |name: &str| {
        (
            records(&base.join(name).join("test")),
            records(&base.join(name).join("transfer")),
        )
    };
    let chance_test = chance(&gen_dir(out, UpdateMode::Deltas, 0).join("test"));
    let chance_transfer = chance(&gen_dir(out, UpdateMode::Deltas, 0).join("transfer"));
    let mut test_points = Vec::new();
    // Mean user turns and tokens per test run, a series per mode and per baseline.
    let mut turns: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut tokens: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut transfer_points = Vec::new();
    for &mode in &s.modes {
        let rows = rows(out, &s, mode);
        let per_gen = |f: fn(&ladder_core::Metrics) -> u64| -> Vec<(f64, f64)> {
            rows.iter()
                .filter_map(|row| mean_of(&row.test, f).map(|m| (row.generation as f64, m)))
                .collect()
        };
        turns.push((format!("loop, {}", mode.name()), per_gen(|m| m.user_turns)));
        tokens.push((
            format!("loop, {}", mode.name()),
            per_gen(|m| m.total_tokens),
        ));
        let _ = writeln!(r, "## The loop with its playbook, {} mode\n", mode.name());
        let _ = writeln!(r, "| gen | changes | lessons | chars | playbook | dev | test | transfer | test user turns | test tokens |");
        let _ = writeln!(r, "|---|---|---|---|---|---|---|---|---|---|");
        for row in &rows {
            let (lessons, chars, hash) = match &row.playbook {
                Some(p) => (
                    p.lessons.len().to_string(),
                    p.chars().to_string(),
                    p.hash()[..8].to_string(),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            let rolled = if row.figures.as_ref().is_some_and(|f| f.rolled_back) {
                " (rolled back)"
            } else {
                ""
            };
            let _ = writeln!(
                r,
                "| {}{rolled} | {} | {lessons} | {chars} | {hash} | {} | {} | {} | {} | {} |",
                row.generation,
                changes(out, mode, row.generation),
                rate(&row.dev, s.dev.len()),
                rate(&row.test, s.test.len()),
                rate(&row.transfer, s.transfer_tasks.len()),
                mean(&row.test, |m| m.user_turns),
                mean(&row.test, |m| m.total_tokens),
            );
            let x = row.generation as f64;
            test_points.extend(point(
                format!("{} {}", mode.name(), row.generation),
                x,
                &row.test,
                mode == UpdateMode::Deltas,
            ));
            transfer_points.extend(point(
                format!("{} {}", mode.name(), row.generation),
                x,
                &row.transfer,
                mode == UpdateMode::Deltas,
            ));
        }
        let _ = writeln!(r);
        let first = rows.first();
        let last = rows
            .iter()
            .rev()
            .find(|row| !row.test.is_empty() && row.generation > 0);
        if let (Some(a), Some(b)) = (last, first) {
            for (part, x, y) in [
                ("test", &a.test, &b.test),
                ("transfer", &a.transfer, &b.transfer),
            ] {
                if let Some(line) = compare(&format!("gen {}", a.generation), x, "gen 0", y) {
                    let _ = writeln!(r, "- {part}: {line}.");
                }
            }
            let _ = writeln!(r);
        }
        if let Some(p) = rows.iter().rev().find_map(|row| row.playbook.as_ref()) {
            let _ = writeln!(r, "The last playbook ({} lessons):\n", p.lessons.len());
            for l in &p.lessons {
                let _ = writeln!(
                    r,
                    "- [{}] {} (from gen {}, edited gen {}; sources {}; helped {}, misled {})",
                    l.id,
                    l.text,
                    l.added_in,
                    l.edited_in,
                    l.sources.join(", "),
                    l.helpful,
                    l.harmful
                );
            }
            let _ = writeln!(r);
        }
    }
    let _ = writeln!(
        r,
        "## Baselines (fixed), on the same test and transfer tasks\n"
    );
    let _ = writeln!(
        r,
        "| arm | test | transfer | test user turns | test tokens |"
    );
    let _ = writeln!(r, "|---|---|---|---|---|");
    let gen0 = (
        records(&out.join("gen-0").join("test")),
        records(&out.join("gen-0").join("transfer")),
    );
    let x_base = s.generations as f64 + 1.0;
    let mut arms = vec![("loop, no playbook (gen 0)".to_string(), gen0.clone())];
    for name in ["hand", "scaffold", "direct"] {
        let b = baseline(name);
        if !b.0.is_empty() || !b.1.is_empty() {
            let label = if name == "hand" {
                "loop, hand-written playbook".to_string()
            } else {
                name.to_string()
            };
            arms.push((label, b));
        }
    }
    for (name, (test, _)) in arms.iter().skip(1) {
        let flat = |f: fn(&ladder_core::Metrics) -> u64| -> Vec<(f64, f64)> {
            mean_of(test, f)
                .map(|m| vec![(0.0, m), (s.generations as f64, m)])
                .unwrap_or_default()
        };
        turns.push((name.clone(), flat(|m| m.user_turns)));
        tokens.push((name.clone(), flat(|m| m.total_tokens)));
    }
    for (i, (name, (test, transfer))) in arms.iter().enumerate() {
        let _ = writeln!(
            r,
            "| {name} | {} | {} | {} | {} |",
            rate(test, s.test.len()),
            rate(transfer, s.transfer_tasks.len()),
            mean(test, |m| m.user_turns),
            mean(test, |m| m.total_tokens)
        );
        if i > 0 {
            let short = name
                .split(',')
                .next_back()
                .unwrap_or(name)
                .trim()
                .to_string();
            test_points.extend(point(short.clone(), x_base, test, false));
            transfer_points.extend(point(short, x_base, transfer, false));
        }
    }
    let chance_line = |part: &str, c: Option<f64>| match c {
        Some(c) => format!(
            "- chance level on {part} (a pick at random from the knowledge base): {:.0}%\n",
            100.0 * c
        ),
        None => format!(
            "- chance level on {part}: none (its tasks pick nothing, or the suite changed)\n"
        ),
    };
    let _ = write!(
        r,
        "\n{}{}",
        chance_line("test", chance_test),
        chance_line("transfer", chance_transfer)
    );
    let hand = baseline("hand");
    for (name, (test, transfer)) in [
        ("hand-written playbook", &hand),
        ("scaffold", &baseline("scaffold")),
    ] {
        for (part, x, y) in [("test", test, &gen0.0), ("transfer", transfer, &gen0.1)] {
            if let Some(line) = compare(name, x, "gen 0", y) {
                let _ = writeln!(r, "- {part}: {line}.");
            }
        }
    }
    let _ = writeln!(
        r,
        "\nCharts: test.svg, transfer.svg (success; x: generation; the baselines at x = {}), user-turns.svg and tokens.svg (means per test run; the baselines as flat lines).",
        s.generations + 1
    );
    let write = |name: &str, text: &str| {
        std::fs::write(out.join(name), text).map_err(|cause| EvolveError::Io {
            what: "cannot write".into(),
            path: out.join(name).display().to_string(),
            cause,
        })
    };
    write(
        "test.svg",
        &scatter(
            &format!("{}: held-out test success per generation", s.suite),
            "generation",
            "success",
            &test_points,
            true,
        ),
    )?;
    write(
        "transfer.svg",
        &scatter(
            &format!("{transfer}: transfer success per generation"),
            "generation",
            "success",
            &transfer_points,
            true,
        ),
    )?;
    let title = |what: &str| format!("{}: {what} per test run, per generation", s.suite);
    write(
        "user-turns.svg",
        &lines(&title("user turns"), "generation", "user turns", &turns),
    )?;
    write(
        "tokens.svg",
        &lines(&title("tokens"), "generation", "tokens", &tokens),
    )?;
    write("report.md", &r)?;
    Ok(r)
}
