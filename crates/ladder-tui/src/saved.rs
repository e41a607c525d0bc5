//! Panes from saved trace files: what `ladder tui TRACE...` and a bench folder's run table
//! open. Reading only; runs that are live are the binary's (`src/live.rs`), which feeds
//! their events in as [`crate::Msg`]s.

use ladder_core::trace::read_jsonl_whole_lines;

use crate::state::Pane;

/// A pane from a saved trace file (its strategy and task as the title). A trace whose last
/// line is torn (a run killed while writing it) opens up to its last whole line, and its
/// title says so.
pub fn from_file(path: &std::path::Path) -> Result<Pane, String> {
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
    Ok(Pane::from_events(title, events))
}
