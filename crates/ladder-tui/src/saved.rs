//! Panes from saved trace files: what `ladder tui TRACE...` and a bench folder's run table
//! open. Reading only; runs that are live are the binary's (`src/live.rs`), which feeds
//! their events in as [`crate::Msg`]s.

use ladder_core::trace::read_jsonl;

use crate::state::Pane;

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
