//! Runs feeding panes: each run's trace events (and streamed tokens) become messages for
//! its pane, and its score a last one.

use ladder_core::trace::read_jsonl;
use ladder_harness::RunSpec;
use tokio::sync::mpsc::UnboundedSender;

use crate::state::Pane;
use crate::update::Msg;

/// Start `spec` in the background; its events go to pane `pane` through `tx`.
pub fn start(pane: usize, mut spec: RunSpec, tx: UnboundedSender<Msg>) {
    let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
    let (ttx, mut trx) = tokio::sync::mpsc::unbounded_channel();
    spec.events = Some(etx);
    spec.tokens = Some(ttx);
    let events = tx.clone();
    tokio::spawn(async move {
        while let Some(event) = erx.recv().await {
            if events.send(Msg::Event { pane, event }).is_err() {
                break;
            }
        }
    });
    let tokens = tx.clone();
    tokio::spawn(async move {
        while let Some(t) = trx.recv().await {
            if tokens.send(Msg::Token { pane, text: t.text }).is_err() {
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
        let _ = tx.send(Msg::Score { pane, line });
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
