//! Runs feeding panes: each run's trace events (and streamed tokens) become messages for
//! its pane, and its score a last one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ladder_core::trace::read_jsonl;
use ladder_harness::RunSpec;
use tokio::sync::mpsc::UnboundedSender;

use crate::state::Pane;
use crate::update::Msg;

/// Which runs are on screen: a run started as generation `mine` forwards its messages only
/// while the shared counter still says `mine` (a new start on the same panes silences it).
pub type Generation = (Arc<AtomicU64>, u64);

/// Start `spec` in the background; its events go to pane `pane` through `tx`.
pub fn start(pane: usize, mut spec: RunSpec, tx: UnboundedSender<Msg>, generation: Generation) {
    let current = move || generation.0.load(Ordering::SeqCst) == generation.1;
    let (c1, c2, c3) = (current.clone(), current.clone(), current);
    let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
    let (ttx, mut trx) = tokio::sync::mpsc::unbounded_channel();
    spec.events = Some(etx);
    spec.tokens = Some(ttx);
    let events = tx.clone();
    tokio::spawn(async move {
        while let Some(event) = erx.recv().await {
            if !c1() || events.send(Msg::Event { pane, event }).is_err() {
                break;
            }
        }
    });
    let tokens = tx.clone();
    tokio::spawn(async move {
        while let Some(t) = trx.recv().await {
            if !c2() || tokens.send(Msg::Token { pane, text: t.text }).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let line = match ladder_harness::run(spec).await {
            Ok(out) => match out.score {
                Some(s) => format!(
                    "{} (partial {:.2})",
                    if s.success { "SUCCESS" } else { "failure" },
                    s.partial
                ),
                None => out.outcome.stop.label().to_string(),
            },
            Err(e) => format!("could not run: {e}"),
        };
        if c3() {
            let _ = tx.send(Msg::Score { pane, line });
        }
    });
}

/// A pane from a saved trace file (its name as the title).
pub fn from_file(path: &std::path::Path) -> Result<Pane, String> {
    let events = read_jsonl(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let title = events
        .iter()
        .find_map(|e| match &e.kind {
            ladder_core::trace::EventKind::Header(h) => {
                Some(format!("{} · {}", h.strategy, h.task))
            }
            _ => None,
        })
        .unwrap_or_else(|| path.display().to_string());
    Ok(Pane::from_events(title, events))
}

/// A bench folder's runs (its `results.jsonl`), for the run table.
pub fn bench_folder(dir: &std::path::Path) -> Result<crate::state::RunTable, String> {
    let results = dir.join("results.jsonl");
    let records = ladder_harness::bench::read_results(&results)
        .map_err(|e| format!("{}: {e}", results.display()))?;
    if records.is_empty() {
        return Err(format!(
            "{} has no runs yet (is the bench still starting?)",
            results.display()
        ));
    }
    let rows = records
        .iter()
        .map(|r| {
            let m = r.metrics.clone().unwrap_or_default();
            crate::state::RunRow {
                suite: r.suite.clone(),
                task: r.task.clone(),
                label: r.label(),
                trial: r.trial,
                success: r.score.as_ref().map(|s| s.success),
                partial: r.score.as_ref().map(|s| s.partial).unwrap_or(0.0),
                user_turns: m.user_turns,
                model_calls: m.model_calls,
                tokens: m.total_tokens,
                trace: (!r.trace.is_empty()).then(|| dir.join(&r.trace)),
            }
        })
        .collect();
    Ok(crate::state::RunTable {
        folder: dir.display().to_string(),
        rows,
        ..Default::default()
    })
}
