//! Panes from saved trace files: what `ladder tui TRACE...` and a bench folder's run table
//! open. Reading only; runs that are live are the binary's (`src/live.rs`), which feeds
//! their events in as [`crate::Msg`]s.

use std::path::Path;

use ladder_core::trace::read_jsonl_whole_lines;

use crate::state::Pane;

/// A score in a few words, as a pane shows it.
pub fn score_line(success: bool, partial: f64) -> String {
    format!(
        "{} (partial {partial:.2})",
        if success { "SUCCESS" } else { "failure" }
    )
}

/// One of the judge's failed checks, as a pane lists it.
pub fn verdict_line(what: &str, detail: &str) -> String {
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    }
}

/// The score saved beside a trace (`NAME.score.json`, as a run writes it): its line and
/// failed checks; None when there is none or it cannot be read (the pane then shows none).
fn saved_score(trace: &Path) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(trace.with_extension("score.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let line = score_line(v["success"].as_bool()?, v["partial"].as_f64()?);
    let verdicts = v["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["ok"].as_bool() == Some(false))
        .map(|c| {
            verdict_line(
                c["what"].as_str().unwrap_or(""),
                c["detail"].as_str().unwrap_or(""),
            )
        })
        .collect();
    Some((line, verdicts))
}

/// A pane from a saved trace file (its strategy and task as the title, its score and the
/// judge's failed checks when saved beside it). A trace whose last line is torn (a run
/// killed while writing it) opens up to its last whole line, and its title says so.
pub fn from_file(path: &Path) -> Result<Pane, String> {
    let (events, torn) =
        read_jsonl_whole_lines(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let title = events
        .iter()
        .find_map(|e| match &e.kind {
            ladder_core::trace::EventKind::Header(h) => {
                Some(format!("{} · {}", h.strategy, h.task))
            }
            _ => None,
        })
        .unwrap_or_else(|| path.display().to_string());
    let title = match torn {
        Some(line) => format!(
            "{title} · interrupted: lines 1-{} of a torn trace",
            line - 1
        ),
        None => title,
    };
    let mut pane = Pane::from_events(title, events);
    if let Some((line, verdicts)) = saved_score(path) {
        pane.score = Some(line);
        pane.verdicts = verdicts;
    }
    pane.trace = Some(path.display().to_string());
    Ok(pane)
}
