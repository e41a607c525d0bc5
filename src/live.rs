//! The live side of `ladder tui` and `ladder demo`: runs started for the UI, their trace
//! events (and streamed tokens) turned into the UI's messages, and a bench folder's
//! results read into its run table.
//!
//! Invariants:
//! - ladder-tui knows nothing of the harness: this module is the one place where runs
//!   and bench records become [`Msg`]s and [`RunTable`]s.
//! - A run forwards its messages only while its generation is the one on screen (a new
//!   start on the same panes silences the old runs).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ladder_harness::RunSpec;
use ladder_tui::{Msg, RunRow, RunTable};
use tokio::sync::mpsc::UnboundedSender;

/// Which runs are on screen: a run started as generation `mine` forwards its messages only
/// while the shared counter still says `mine`.
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
    let forwarded = tokio::spawn(async move {
        while let Some(event) = erx.recv().await {
            if !c1() || events.send(Msg::Event { pane, event }).is_err() {
                break;
            }
        }
    });
    let tokens = tx.clone();
    tokio::spawn(async move {
        while let Some(t) = trx.recv().await {
            let msg = Msg::Token {
                pane,
                call: t.call,
                agent: t.agent,
                text: t.text,
            };
            if !c2() || tokens.send(msg).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let msg = match ladder_harness::run(spec).await {
            Ok(out) => {
                let (line, verdicts) = match &out.score {
                    Some(s) => (
                        ladder_tui::saved::score_line(s.success, s.partial),
                        s.verdicts
                            .iter()
                            .filter(|v| !v.ok)
                            .map(|v| ladder_tui::saved::verdict_line(&v.what, &v.detail))
                            .collect(),
                    ),
                    None => (out.outcome.stop.label().to_string(), Vec::new()),
                };
                Msg::Score {
                    pane,
                    line,
                    verdicts,
                    trace: Some(out.trace_path.display().to_string()),
                }
            }
            Err(e) => Msg::Score {
                pane,
                line: format!("could not run: {e}"),
                verdicts: Vec::new(),
                trace: None,
            },
        };
        // The score goes after the run's last event (its answer, its end): the run is over,
        // so its event sender is gone and the forwarder ends once it has passed them on.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), forwarded).await;
        if c3() {
            let _ = tx.send(msg);
        }
    });
}

/// A bench folder's runs (its `results.jsonl`), for the run table.
pub fn bench_folder(dir: &Path) -> Result<RunTable, String> {
    let results = dir.join("results.jsonl");
    if !results.exists() && !dir.join("manifest.json").exists() {
        return Err(format!(
            "{} is not a bench folder: it has no {} and no manifest.json; give a folder that `ladder bench --out DIR` wrote, or one or two trace files",
            dir.display(),
            results.display()
        ));
    }
    let read = ladder_harness::bench::read_results(&results)
        .map_err(|e| format!("{}: {e}", results.display()))?;
    let unreadable: Vec<String> = read.unreadable.iter().map(|u| u.to_string()).collect();
    let records = read.records;
    if records.is_empty() {
        return Err(format!(
            "{} has no runs yet (is the bench still starting?){}",
            results.display(),
            if unreadable.is_empty() {
                String::new()
            } else {
                format!("; lines that are not records: {}", unreadable.join("; "))
            }
        ));
    }
    let rows = records
        .iter()
        .map(|r| {
            let m = r.metrics.clone().unwrap_or_default();
            RunRow {
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
    let folder = match unreadable.len() {
        0 => dir.display().to_string(),
        n => format!(
            "{} ({n} line(s) of results.jsonl are not records and not shown: {})",
            dir.display(),
            unreadable.join("; ")
        ),
    };
    Ok(RunTable {
        folder,
        rows,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ladder_tui::update::Key;
    use ladder_tui::{update, App, Base, Msg, Request};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::bench_folder;

    /// The screen at 80x24 as text, a line per row.
    fn snap(app: &App) -> String {
        let (w, h) = (80, 24);
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| ladder_tui::view::view(f, app)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn key(app: &mut App, k: Key) {
        update(app, Msg::Key(k));
    }

    #[test]
    fn a_bench_folder_lists_its_runs_and_opens_two_marked_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        crate::bench_folder_fixture::write(Path::new(env!("CARGO_MANIFEST_DIR")), dir);
        let mut table = bench_folder(dir).unwrap();
        table.folder = "runs/replay-small".into(); // the snapshot does not show the temp path
        assert!(table.rows.len() >= 2, "{:?}", table.rows);
        let mut app = App::bench_folder(table);
        insta::assert_snapshot!("bench_folder", snap(&app));
        key(&mut app, Key::Space);
        key(&mut app, Key::Down);
        key(&mut app, Key::Space);
        key(&mut app, Key::Enter);
        let rows = &app.runs.as_ref().unwrap().rows;
        let want: Vec<_> = rows[..2].iter().map(|r| r.trace.clone().unwrap()).collect();
        assert_eq!(app.requests, vec![Request::Open(want.clone())]);
        // The runner reads them; the answer puts them side by side.
        let panes = want
            .iter()
            .map(|p| ladder_tui::saved::from_file(p).unwrap())
            .collect();
        update(&mut app, Msg::Opened(panes));
        assert_eq!(app.base, Base::Panes);
        assert_eq!(app.panes.len(), 2);
        key(&mut app, Key::Esc);
        assert_eq!(app.base, Base::Runs, "Esc goes back to the table");
        let missing = bench_folder(Path::new("no/such/folder")).unwrap_err();
        assert!(
            missing.contains("no/such/folder/results.jsonl"),
            "{missing}"
        );
        // A folder that is not a bench's is said to be so, not "no runs yet".
        let other = tempfile::tempdir().unwrap();
        let not_bench = bench_folder(other.path()).unwrap_err();
        assert!(not_bench.contains("is not a bench folder"), "{not_bench}");
        // A bench that has started (its manifest written) but finished no run yet.
        std::fs::write(other.path().join("manifest.json"), "{}").unwrap();
        let starting = bench_folder(other.path()).unwrap_err();
        assert!(starting.contains("no runs yet"), "{starting}");
    }
}
