//! The terminal UI's frame time (`cargo bench --profile dev --bench tui`): one frame of
//! two panes with a 10,000-event trace each, against the same frame with 100 events (the
//! baseline: drawing lays out only the visible window, so the ratio should stay near 1),
//! at 80x24 and 200x50; and a key press with the panes locked (the other pane searches
//! its events by time) followed by a frame. Goal: a frame under 16 ms (60 per second).

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use ladder_core::trace::Event;
use ladder_tui::update::Key;
use ladder_tui::{update, App, Msg, Pane};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn events(n: usize) -> Vec<Event> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/traces/sea-002-scaffold.jsonl");
    let trace = ladder_core::trace::read_jsonl(&path).expect("the committed trace");
    // The trace's events over and over (model calls with their prompts among them).
    (0..n)
        .map(|i| Event {
            seq: i as u64,
            at_ms: i as f64 * 10.0,
            ..trace[1 + i % (trace.len() - 2)].clone()
        })
        .collect()
}

fn app(n: usize) -> App {
    let mut app = App::new(vec![
        Pane::from_events("scaffold", events(n)),
        Pane::from_events("bootstrap", events(n)),
    ]);
    app.panes[0].selected = n / 2;
    app.panes[1].selected = n / 2;
    app
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("tui frame");
    for (w, h) in [(80u16, 24u16), (200, 50)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
        for n in [100usize, 10_000] {
            let app = app(n);
            group.bench_function(format!("{n} events, {w}x{h}"), |b| {
                b.iter(|| {
                    terminal
                        .draw(|f| ladder_tui::view::view(f, &app))
                        .map(|frame| frame.area)
                        .expect("a frame")
                })
            });
        }
    }
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal");
    let mut locked = app(10_000);
    update(&mut locked, Msg::Key(Key::Char('l')));
    group.bench_function("10000 events, locked, key + frame, 80x24", |b| {
        b.iter(|| {
            update(&mut locked, Msg::Key(Key::Down));
            terminal
                .draw(|f| ladder_tui::view::view(f, &locked))
                .map(|frame| frame.area)
                .expect("a frame")
        })
    });
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
