//! A bench's records summarised: per suite and strategy (and over all suites), the
//! success rate with its intervals, the costs and conversation figures, each ablation
//! variant against the full scaffold, each strategy paired against a baseline, and the
//! Markdown tables that print them.
//!
//! Invariants:
//! - Pure over the records (only the chance levels load the suites they name): the same
//!   records give the same rows and the same tables, byte for byte (the bootstrap
//!   intervals come from a fixed seed, see [`crate::stats`]).
//! - Rows are grouped by (suite, label) in sorted order, `all` among the suites; a label is
//!   the strategy, `strategy@model` in a bench with several models.
//! - Runs are paired on (suite, task, trial, model): a strategy is only ever compared with
//!   the baseline's (or the full scaffold's) run of the same task, trial and model.
//! - Every p50/p95 here is [`stats::quantile`] (nearest rank).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::records::Record;
use crate::run::load_suite;
use crate::stats;

/// One row of the summary: a strategy on a suite (or `all`).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub suite: String,
    pub strategy: String,
    pub runs: u64,
    pub successes: u64,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
    pub partial: f64,
    pub user_turns: f64,
    pub model_calls: f64,
    pub tokens: f64,
    pub wall_p50_s: f64,
    pub errors: u64,
    /// pass^k with k the fewest trials any task had (tau-bench's: all k trials of a task
    /// succeed); `None` with one trial.
    pub pass_k: Option<(u64, f64)>,
    /// The share of runs whose intent classifier chose exactly the gold intents, over the
    /// runs that classified (the scaffold); `None` when none did.
    pub intent_accuracy: Option<f64>,
    /// Mean recall of the gold documents over the runs that searched.
    pub retrieval_recall: Option<f64>,
    /// The success rate's 95% interval from a bootstrap over tasks (each task's runs
    /// resampled together), beside Wilson's over runs.
    pub task_bootstrap: (f64, f64),
    pub user_turns_p95: f64,
    /// Question parts per user turn, and the parts the user found irrelevant (or had no
    /// preference on) or repeated, per run.
    pub questions_per_turn: f64,
    pub irrelevant: f64,
    pub repeated: f64,
    pub prompt_tokens: f64,
    pub cached_tokens: f64,
    pub completion_tokens: f64,
    pub wall_p95_s: f64,
    pub model_p50_s: f64,
    pub model_p95_s: f64,
    pub retrievals: f64,
    /// Invented entity names per run.
    pub hallucinations: f64,
}

/// The mean of the values present, or `None` when there are none.
fn mean_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Per suite and strategy, and over all suites.
pub fn summarise(records: &[Record]) -> Vec<Row> {
    let mut groups: BTreeMap<(String, String), Vec<&Record>> = BTreeMap::new();
    for r in records {
        groups
            .entry((r.suite.clone(), r.label()))
            .or_default()
            .push(r);
        groups.entry(("all".into(), r.label())).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((suite, strategy), rs)| {
            let n = rs.len() as u64;
            let successes = rs.iter().filter(|r| r.success()).count() as u64;
            let (low, high) = stats::wilson(successes, n);
            let mean = |f: &dyn Fn(&Record) -> f64| rs.iter().map(|r| f(r)).sum::<f64>() / n as f64;
            let walls: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.metrics.as_ref().map(|m| m.wall_ms / 1000.0))
                .collect();
            let mut per_task: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
            for r in &rs {
                let e = per_task.entry((&r.suite, &r.task)).or_default();
                e.0 += u64::from(r.success());
                e.1 += 1;
            }
            let k = per_task.values().map(|(_, t)| *t).min().unwrap_or(0);
            let counts: Vec<(u64, u64)> = per_task.values().copied().collect();
            let task_rates: Vec<f64> = counts
                .iter()
                .map(|(ok, n)| *ok as f64 / (*n).max(1) as f64)
                .collect();
            let (_, boot_low, boot_high) = stats::mean_with_interval(&task_rates);
            let metric = |f: &dyn Fn(&ladder_core::Metrics) -> f64| -> Vec<f64> {
                rs.iter()
                    .filter_map(|r| r.metrics.as_ref().map(f))
                    .collect()
            };
            let turns = metric(&|m| m.user_turns as f64);
            let models: Vec<f64> = metric(&|m| m.model_ms / 1000.0);
            let parts = |m: &ladder_core::Metrics| {
                m.parts_answered + m.parts_repeated + m.parts_no_preference + m.parts_irrelevant
            };
            let asked: f64 = metric(&|m| parts(m) as f64).iter().sum();
            let turn_total: f64 = turns.iter().sum();
            let pass_k = (k >= 2)
                .then(|| stats::pass_hat_k(&counts, k).map(|p| (k, p)))
                .flatten();
            Row {
                intent_accuracy: mean_of(rs.iter().filter_map(|r| {
                    r.score
                        .as_ref()
                        .and_then(|s| s.intent.as_ref())
                        .map(|i| f64::from(u8::from(i.exact)))
                })),
                retrieval_recall: mean_of(
                    rs.iter()
                        .filter_map(|r| r.score.as_ref().and_then(|s| s.retrieval_recall)),
                ),
                suite,
                strategy,
                pass_k,
                runs: n,
                successes,
                rate: successes as f64 / n as f64,
                low,
                high,
                partial: mean(&|r| r.score.as_ref().map_or(0.0, |s| s.partial)),
                user_turns: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.user_turns as f64)),
                model_calls: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.model_calls as f64)),
                tokens: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.total_tokens as f64)),
                wall_p50_s: stats::quantile(&walls, 0.5),
                errors: rs.iter().filter(|r| r.outcome.is_none()).count() as u64,
                task_bootstrap: (boot_low, boot_high),
                user_turns_p95: stats::quantile(&turns, 0.95),
                questions_per_turn: if turn_total > 0.0 {
                    asked / turn_total
                } else {
                    0.0
                },
                irrelevant: mean(&|r| {
                    r.metrics
                        .as_ref()
                        .map_or(0.0, |m| (m.parts_irrelevant + m.parts_no_preference) as f64)
                }),
                repeated: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.parts_repeated as f64)),
                prompt_tokens: mean(&|r| {
                    r.metrics.as_ref().map_or(0.0, |m| m.prompt_tokens as f64)
                }),
                cached_tokens: mean(&|r| {
                    r.metrics.as_ref().map_or(0.0, |m| m.cached_tokens as f64)
                }),
                completion_tokens: mean(&|r| {
                    r.metrics
                        .as_ref()
                        .map_or(0.0, |m| m.completion_tokens as f64)
                }),
                wall_p95_s: stats::quantile(&walls, 0.95),
                model_p50_s: stats::quantile(&models, 0.5),
                model_p95_s: stats::quantile(&models, 0.95),
                retrievals: mean(&|r| r.metrics.as_ref().map_or(0.0, |m| m.retrievals as f64)),
                hallucinations: mean(&|r| {
                    r.score
                        .as_ref()
                        .map_or(0.0, |s| s.hallucinations.len() as f64)
                }),
            }
        })
        .collect()
}

/// The costs and conversation figures per strategy (report.md; every figure is also in
/// summary.json).
pub fn costs_table(records: &[Record]) -> String {
    let mut s = String::from(
        "| suite | strategy | user turns (p95) | questions/turn | irrelevant | repeated | prompt tok | cached | completion tok | wall p50/p95 s | model p50/p95 s | retrievals | invented names |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in summarise(records) {
        s.push_str(&format!(
            "| {} | {} | {:.1} ({:.0}) | {:.2} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1}/{:.1} | {:.1}/{:.1} | {:.1} | {:.2} |\n",
            r.suite, r.strategy, r.user_turns, r.user_turns_p95, r.questions_per_turn,
            r.irrelevant, r.repeated, r.prompt_tokens, r.cached_tokens, r.completion_tokens,
            r.wall_p50_s, r.wall_p95_s, r.model_p50_s, r.model_p95_s, r.retrievals,
            r.hallucinations
        ));
    }
    s
}

/// What one scaffold component is worth: the full scaffold against the variant without
/// it (or, for `scaffold-vote`, the vote against the debate), on the runs both made.
#[derive(Debug, Clone, Serialize)]
pub struct AblationRow {
    pub variant: String,
    pub pairs: u64,
    /// Success rates of the full scaffold and of the variant on the pairs.
    pub full: f64,
    pub ablated: f64,
    /// full - ablated, with a 95% bootstrap interval.
    pub success: (f64, f64, f64),
    /// McNemar's exact test on the pairs.
    pub p_value: f64,
    /// User turns and tokens per run the component adds (full - ablated), with intervals.
    pub turns: (f64, f64, f64),
    pub tokens: (f64, f64, f64),
}

/// One row per ablation variant found in `records`, against `scaffold`.
pub fn ablation(records: &[Record]) -> Vec<AblationRow> {
    let full: BTreeMap<_, &Record> = records
        .iter()
        .filter(|r| r.strategy == "scaffold")
        .map(|r| (r.pair_key(), r))
        .collect();
    // Each variant (with each model, in a bench with several), in the registry's order.
    let mut labels: Vec<(usize, String)> = records
        .iter()
        .filter_map(|r| {
            crate::registry::ablations()
                .iter()
                .position(|v| *v == r.strategy)
                .map(|i| (i, r.label()))
        })
        .collect();
    labels.sort();
    labels.dedup();
    let mut rows = Vec::new();
    for (_, variant) in labels {
        let pairs: Vec<(&Record, &Record)> = records
            .iter()
            .filter(|r| r.label() == variant)
            .filter_map(|r| full.get(&r.pair_key()).map(|f| (*f, r)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let n = pairs.len() as f64;
        let metric = |r: &Record, f: &dyn Fn(&ladder_core::Metrics) -> f64| {
            r.metrics.as_ref().map_or(0.0, f)
        };
        let diffs = |f: &dyn Fn(&Record) -> f64| -> Vec<f64> {
            pairs.iter().map(|(a, b)| f(a) - f(b)).collect()
        };
        let outcomes: Vec<(bool, bool)> = pairs
            .iter()
            .map(|(a, b)| (a.success(), b.success()))
            .collect();
        rows.push(AblationRow {
            variant: variant.to_string(),
            pairs: pairs.len() as u64,
            full: pairs.iter().filter(|(a, _)| a.success()).count() as f64 / n,
            ablated: pairs.iter().filter(|(_, b)| b.success()).count() as f64 / n,
            success: stats::mean_with_interval(&diffs(&|r| f64::from(u8::from(r.success())))),
            p_value: stats::paired(&outcomes).p_value,
            turns: stats::mean_with_interval(&diffs(&|r| metric(r, &|m| m.user_turns as f64))),
            tokens: stats::mean_with_interval(&diffs(&|r| metric(r, &|m| m.total_tokens as f64))),
        });
    }
    rows
}

/// The ablation table in Markdown; empty when there are no ablation runs.
pub fn ablation_table(records: &[Record]) -> String {
    let rows = ablation(records);
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\nWhat each scaffold component is worth (full scaffold minus the variant, paired; 95% bootstrap intervals; for scaffold-vote, debate minus vote):\n\n| variant | pairs | success full / variant | success worth | McNemar p | user turns it adds | tokens it adds |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let ci = |(m, lo, hi): (f64, f64, f64), digits: usize| {
            format!("{m:+.digits$} [{lo:+.digits$}, {hi:+.digits$}]")
        };
        s.push_str(&format!(
            "| {} | {} | {:.2} / {:.2} | {} | {:.3}{} | {} | {} |\n",
            r.variant,
            r.pairs,
            r.full,
            r.ablated,
            ci(r.success, 2),
            r.p_value,
            if r.p_value >= 0.05 {
                " (within noise)"
            } else {
                ""
            },
            ci(r.turns, 1),
            ci(r.tokens, 0),
        ));
    }
    s
}

/// Each strategy against `baseline` on the runs both made (same suite, task and trial).
/// With several models, each strategy is paired with the baseline on the same model.
pub fn compare(records: &[Record], baseline: &str) -> Vec<(String, stats::Paired)> {
    let by_key: BTreeMap<_, &Record> = records
        .iter()
        .filter(|r| r.strategy == baseline)
        .map(|r| (r.pair_key(), r))
        .collect();
    let labels: BTreeSet<String> = records
        .iter()
        .filter(|r| r.strategy != baseline)
        .map(Record::label)
        .collect();
    labels
        .into_iter()
        .map(|label| {
            let pairs: Vec<(bool, bool)> = records
                .iter()
                .filter(|r| r.label() == label)
                .filter_map(|r| {
                    by_key
                        .get(&r.pair_key())
                        .map(|b| (r.success(), b.success()))
                })
                .collect();
            (label, stats::paired(&pairs))
        })
        .collect()
}

/// The chance level of a suite whose tasks ask for a pick: the success rate of picking one
/// knowledge-base entity at random, exactly: the mean over its pick tasks of the share of
/// entities that meet the task. `None` for a suite without pick tasks.
pub fn chance_level(suite: &ladder_world::Suite, tasks: &[String]) -> Option<f64> {
    let picks: Vec<&ladder_core::Task> = suite
        .tasks
        .iter()
        .filter(|t| tasks.contains(&t.id) && !t.expect.recommend_any.is_empty())
        .collect();
    if picks.is_empty() || suite.documents.is_empty() {
        return None;
    }
    let n = suite.documents.len() as f64;
    Some(
        picks
            .iter()
            .map(|t| t.expect.recommend_any.len() as f64 / n)
            .sum::<f64>()
            / picks.len() as f64,
    )
}

/// The chance levels of a bench's suites, and why any suite has none.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Chance {
    /// Per suite, for the tasks its records ran.
    pub levels: BTreeMap<String, f64>,
    /// A line per suite left out: it cannot be loaded, or the suite on disk is not the one
    /// the bench ran (its content hash is not the manifest's).
    pub left_out: Vec<String>,
}

/// The chance level of each suite in `records` (for the tasks they ran), read from the
/// suites on disk, and each only when the suite is the one the bench ran: its content hash
/// is `hashes[suite]` (the manifest's `suite_hashes`).
pub fn chance_levels(records: &[Record], hashes: &BTreeMap<String, String>) -> Chance {
    let mut tasks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        tasks
            .entry(r.suite.clone())
            .or_default()
            .push(r.task.clone());
    }
    let mut chance = Chance::default();
    for (name, ids) in tasks {
        let suite = match load_suite(&name) {
            Ok(s) => s,
            Err(e) => {
                chance.left_out.push(format!(
                    "{name}: no chance level, the suite cannot be loaded ({})",
                    e.to_string().lines().next().unwrap_or_default()
                ));
                continue;
            }
        };
        let hash = suite.content_hash();
        match hashes.get(&name) {
            Some(h) if *h == hash => {}
            Some(h) => {
                chance.left_out.push(format!(
                    "{name}: no chance level, the suite on disk is not the one the bench ran (content hash {} there, {} in the manifest)",
                    &hash[..12.min(hash.len())],
                    &h[..12.min(h.len())]
                ));
                continue;
            }
            None => {
                chance.left_out.push(format!(
                    "{name}: no chance level, the manifest has no hash for this suite to check it against"
                ));
                continue;
            }
        }
        if let Some(c) = chance_level(&suite, &ids) {
            chance.levels.insert(name, c);
        }
    }
    chance
}

/// The summary as a markdown table, with the paired comparisons against `direct`, and the
/// chance level of each suite that has one (`chance`, with a line for each left out).
pub fn table(records: &[Record], chance: &Chance) -> String {
    let mut s = String::from(
        "| suite | strategy | runs | success | 95% CI (Wilson) | 95% CI (tasks) | pass^k | partial | user turns | model calls | tokens | wall p50 s | intent acc. | recall@k | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in summarise(records) {
        let pass_k = r
            .pass_k
            .map(|(k, p)| format!("pass^{k} {p:.2}"))
            .unwrap_or_else(|| "-".into());
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
        s.push_str(&format!(
            "| {} | {} | {} | {}/{} ({:.2}) | {:.2}-{:.2} | {:.2}-{:.2} | {pass_k} | {:.2} | {:.1} | {:.1} | {:.0} | {:.1} | {} | {} | {} |\n",
            r.suite, r.strategy, r.runs, r.successes, r.runs, r.rate, r.low, r.high,
            r.task_bootstrap.0, r.task_bootstrap.1, r.partial,
            r.user_turns, r.model_calls, r.tokens, r.wall_p50_s, opt(r.intent_accuracy),
            opt(r.retrieval_recall), r.errors
        ));
    }
    for (suite, c) in &chance.levels {
        s.push_str(&format!(
            "| {suite} | (chance: one entity at random) | | ({c:.2}) | | | | | | | | | | | |\n"
        ));
    }
    for line in &chance.left_out {
        s.push_str(&format!("\n{line}\n"));
    }
    s.push_str(&ablation_table(records));
    // Only strategies that ran beside direct on the same tasks (none when the bench had no
    // direct runs).
    let cmp: Vec<_> = compare(records, "direct")
        .into_iter()
        .filter(|(_, p)| p.pairs > 0)
        .collect();
    if !cmp.is_empty() {
        s.push_str("\nPaired against direct (same tasks, trials and seeds):\n\n| strategy | pairs | only it | only direct | difference | McNemar p |\n|---|---|---|---|---|---|\n");
        for (name, p) in cmp {
            s.push_str(&format!(
                "| {name} | {} | {} | {} | {:+.2} | {:.3}{} |\n",
                p.pairs,
                p.only_first,
                p.only_second,
                p.difference,
                p.p_value,
                if p.p_value >= 0.05 {
                    " (within noise)"
                } else {
                    ""
                }
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ladder_world::Score;

    fn record(strategy: &str, task: &str, success: bool, turns: u32, tokens: u64) -> Record {
        let score: Score = serde_json::from_value(serde_json::json!({
            "task": task, "judge": 2, "success": success, "partial": 0.0, "verdicts": [],
            "recommended": [], "rejected": [], "hallucinations": [], "user_turns": turns,
            "irrelevant_questions": 0, "repeated_questions": 0
        }))
        .expect("a score");
        Record {
            suite: "seaside".into(),
            task: task.into(),
            strategy: strategy.into(),
            model: String::new(),
            trial: 0,
            seed: 0,
            outcome: None,
            score: Some(score),
            metrics: Some(ladder_core::Metrics {
                user_turns: u64::from(turns),
                total_tokens: tokens,
                ..Default::default()
            }),
            error: None,
            trace: String::new(),
        }
    }

    #[test]
    fn the_summary_has_a_bootstrap_interval_over_tasks_and_the_conversation_figures() {
        let mut rs = Vec::new();
        for (t, ok) in [("a", true), ("b", true), ("c", false), ("d", false)] {
            let mut r = record("scaffold", t, ok, 2, 1000);
            if let Some(m) = r.metrics.as_mut() {
                m.parts_answered = 3;
                m.parts_no_preference = 1;
            }
            rs.push(r);
        }
        let row = summarise(&rs)
            .into_iter()
            .find(|r| r.suite == "all")
            .unwrap();
        assert_eq!(row.rate, 0.5);
        let (lo, hi) = row.task_bootstrap;
        assert!(lo < 0.5 && hi > 0.5 && lo >= 0.0 && hi <= 1.0, "{lo} {hi}");
        assert_eq!(row.questions_per_turn, 2.0, "4 parts over 2 turns");
        assert_eq!(row.irrelevant, 1.0, "no preference counts as irrelevant");
        let all_ok: Vec<Record> = ["a", "b"]
            .iter()
            .map(|t| record("x", t, true, 0, 1))
            .collect();
        let row = summarise(&all_ok).into_iter().next().unwrap();
        assert_eq!(row.task_bootstrap, (1.0, 1.0));
        assert!(costs_table(&rs).contains("| all | scaffold | 2.0 (2) | 2.00 | 1.0 |"));
    }

    #[test]
    fn with_several_models_each_strategy_is_labelled_and_paired_on_its_own_model() {
        let mut rs = Vec::new();
        for (model, direct_ok, scaffold_ok) in [("small", false, false), ("big", false, true)] {
            for t in ["a", "b"] {
                let mut d = record("direct", t, direct_ok, 0, 100);
                d.model = model.into();
                let mut s = record("scaffold", t, scaffold_ok, 5, 2000);
                s.model = model.into();
                rs.push(d);
                rs.push(s);
            }
        }
        let labels: Vec<String> = summarise(&rs)
            .into_iter()
            .filter(|r| r.suite == "all")
            .map(|r| format!("{} {}", r.strategy, r.successes))
            .collect();
        assert_eq!(
            labels,
            [
                "direct@big 0",
                "direct@small 0",
                "scaffold@big 2",
                "scaffold@small 0"
            ]
        );
        let cmp = compare(&rs, "direct");
        let names: Vec<(&str, u64, u64)> = cmp
            .iter()
            .map(|(n, p)| (n.as_str(), p.pairs, p.only_first))
            .collect();
        assert_eq!(
            names,
            [("scaffold@big", 2, 2), ("scaffold@small", 2, 0)],
            "paired on the same model"
        );
    }

    #[test]
    fn the_ablation_table_has_one_row_per_variant_paired_with_the_full_scaffold() {
        let mut rs = Vec::new();
        for (i, t) in ["a", "b", "c", "d"].iter().enumerate() {
            rs.push(record("scaffold", t, i < 3, 6, 3000));
            rs.push(record("scaffold-no-debate", t, i < 1, 6, 1000));
            rs.push(record("scaffold-no-form", t, i < 3, 0, 2500));
        }
        // A variant run with no full-scaffold pair is left out.
        rs.push(record("scaffold-no-form", "e", true, 0, 10));
        let rows = ablation(&rs);
        let names: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
        assert_eq!(
            names,
            ["scaffold-no-form", "scaffold-no-debate"],
            "registry order"
        );
        let debate = &rows[1];
        assert_eq!(debate.pairs, 4);
        assert_eq!((debate.full, debate.ablated), (0.75, 0.25));
        assert!((debate.success.0 - 0.5).abs() < 1e-9);
        assert!(
            (debate.tokens.0 - 2000.0).abs() < 1e-9,
            "every pair differs by 2000"
        );
        assert_eq!((debate.tokens.1, debate.tokens.2), (2000.0, 2000.0));
        let form = &rows[0];
        assert_eq!(form.pairs, 4);
        assert!((form.turns.0 - 6.0).abs() < 1e-9);
        assert_eq!(form.success.0, 0.0);
        assert_eq!(form.p_value, 1.0);
        let table = ablation_table(&rs);
        assert_eq!(table.matches("| scaffold-no-").count(), 2, "{table}");
        assert!(ablation_table(&rs[..1]).is_empty());
    }
}
