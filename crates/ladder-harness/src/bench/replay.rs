//! A replayed bench against the one it replays: first that the replay can reproduce it
//! (same strategy settings, same suites), then, once it ran, run by run.
//!
//! Invariants:
//! - Pure: plans and records in, lines of text out; empty means nothing differs.
//! - Timings never count: every metric whose name ends in `_ms` is left out of the
//!   comparison, so a replay on another machine or at another speed still matches.
//! - Runs are matched on their key (suite, task, label, trial) and reported in key order,
//!   then the replay's runs the original lacks.

use std::collections::BTreeMap;

use super::plan::Plan;
use super::records::Record;

/// What must match between a bench and its replay: the strategies' settings (prompt and
/// pipeline hashes among them) and the suites' content. The differences, one per line.
pub fn replay_mismatches(original: &Plan, replay: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for (name, settings) in &original.strategy_settings {
        if replay.strategy_settings.get(name) != Some(settings) {
            out.push(format!(
                "strategy {name} has other settings now (a changed prompt or pipeline, or other --pipeline/--with/--without)"
            ));
        }
    }
    if original.pipelines != replay.pipelines {
        out.push(format!(
            "the suites' own pipelines differ (a changed pipeline.toml or --pipeline SUITE=FILE): {} then, {} now",
            serde_json::to_string(&original.pipelines).unwrap_or_default(),
            serde_json::to_string(&replay.pipelines).unwrap_or_default()
        ));
    }
    for (suite, hash) in &original.suite_hashes {
        match replay.suite_hashes.get(suite) {
            Some(now) if now == hash => {}
            now => out.push(format!(
                "suite {suite} changed since the bench ran (content hash {hash} then, {} now)",
                now.map_or("none", String::as_str)
            )),
        }
    }
    out
}

/// A record as a replay must reproduce it: outcome, score and metrics with every timing
/// (`*_ms`) removed.
fn comparable(r: &Record) -> serde_json::Value {
    let mut v = serde_json::json!({
        "outcome": r.outcome,
        "score": r.score,
        "metrics": r.metrics,
        "error": r.error,
    });
    if let Some(m) = v.get_mut("metrics").and_then(|m| m.as_object_mut()) {
        m.retain(|k, _| !k.ends_with("_ms"));
    }
    v
}

/// Where two benches' results differ, compared run by run in (suite, task, strategy,
/// trial) order with timings removed; empty when they are identical.
pub fn differences(a: &[Record], b: &[Record]) -> Vec<String> {
    let index = |rs: &[Record]| -> BTreeMap<(String, String, String, u32), serde_json::Value> {
        rs.iter().map(|r| (r.key(), comparable(r))).collect()
    };
    let (a, b) = (index(a), index(b));
    let mut out = Vec::new();
    for (k, va) in &a {
        match b.get(k) {
            None => out.push(format!(
                "{} {} {} trial {}: missing from the replay",
                k.0, k.1, k.2, k.3
            )),
            Some(vb) if vb != va => {
                let fields: Vec<&str> = ["outcome", "score", "metrics", "error"]
                    .into_iter()
                    .filter(|f| va.get(f) != vb.get(f))
                    .collect();
                out.push(format!(
                    "{} {} {} trial {}: {} differ",
                    k.0,
                    k.1,
                    k.2,
                    k.3,
                    fields.join(", ")
                ));
            }
            Some(_) => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!(
            "{} {} {} trial {}: not in the original",
            k.0, k.1, k.2, k.3
        ));
    }
    out
}
