//! The UI without a terminal: updates on messages, and the screens drawn on ratatui's
//! `TestBackend` (80x24, the smallest terminal it must work in), from two committed traces
//! of the first comparison (scaffold and bootstrap on seaside sea-002).

use std::path::Path;

use ladder_core::trace::{Event, EventKind};
use ladder_tui::state::Screen;
use ladder_tui::update::Key;
use ladder_tui::{update, App, Msg, Pane};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn trace(name: &str) -> Pane {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/traces")
        .join(name);
    ladder_tui::live::from_file(&path).unwrap()
}

fn app() -> App {
    App::new(vec![
        trace("sea-002-scaffold.jsonl"),
        trace("sea-002-bootstrap.jsonl"),
    ])
}

/// The screen as text, one string per row.
fn draw(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ladder_tui::view::view(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn key(app: &mut App, k: Key) {
    update(app, Msg::Key(k));
}

#[test]
fn two_traces_side_by_side_fit_an_80_by_24_terminal() {
    let app = app();
    let screen = draw(&app, 80, 24);
    let text = screen.join("\n");
    assert!(
        screen[0].contains("scaffold · sea-002") && screen[0].contains("bootstrap · sea-002"),
        "{text}"
    );
    assert!(text.contains("metrics"), "{text}");
    assert!(text.contains("? help"), "{text}");
    // Both panes end at their last event, the run's end.
    assert!(
        text.contains("■ answered") || text.contains("■ repeating"),
        "{text}"
    );
}

#[test]
fn keys_move_switch_open_and_quit() {
    let mut app = app();
    let last = app.panes[0].events.len() - 1;
    assert_eq!(app.panes[0].selected, 0);
    key(&mut app, Key::End);
    assert_eq!(app.panes[0].selected, last);
    key(&mut app, Key::Down);
    assert_eq!(app.panes[0].selected, last, "clamped at the end");
    key(&mut app, Key::Home);
    key(&mut app, Key::PageDown);
    assert_eq!(app.panes[0].selected, 10);
    key(&mut app, Key::Tab);
    assert_eq!(app.focus, 1);
    key(&mut app, Key::Down);
    assert_eq!(
        (app.panes[0].selected, app.panes[1].selected),
        (10, 1),
        "unlocked: only the focused pane moves"
    );
    // The detail of a model call shows its prompt and output.
    let call = app.panes[1]
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::ModelCall { .. }))
        .unwrap();
    app.panes[1].selected = call;
    key(&mut app, Key::Enter);
    assert_eq!(app.screen, Screen::Detail);
    let text = draw(&app, 80, 24).join("\n");
    assert!(
        text.contains("── output ──") || text.contains("model call"),
        "{text}"
    );
    key(&mut app, Key::Esc);
    assert_eq!(app.screen, Screen::Panes);
    key(&mut app, Key::Char('?'));
    let text = draw(&app, 80, 24).join("\n");
    assert!(text.contains("lock the panes"), "{text}");
    key(&mut app, Key::Char('?'));
    assert_eq!(app.screen, Screen::Panes);
    key(&mut app, Key::Char('q'));
    assert!(app.quit);
    let mut app2 = App::default();
    key(&mut app2, Key::Interrupt);
    assert!(app2.quit, "Ctrl-C quits");
}

#[test]
fn locked_panes_follow_each_other_by_time() {
    let mut app = app();
    key(&mut app, Key::Char('l'));
    key(&mut app, Key::End);
    let at = app.panes[0].events[app.panes[0].selected].at_ms;
    let other = &app.panes[1];
    let sel = other.events[other.selected].at_ms;
    assert!(sel <= at, "the other pane is at or before the same time");
    assert!(other
        .events
        .get(other.selected + 1)
        .is_none_or(|e| e.at_ms > at));
}

#[test]
fn the_component_view_shows_each_component_with_its_time_and_tokens() {
    let mut app = app();
    let rows = app.panes[0].components();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["classify", "form", "retrieve", "compress", "debate", "answer"]
    );
    let debate = &rows[4];
    assert!(debate.tokens > 0 && debate.ms > 0.0, "{debate:?}");
    assert_eq!(
        rows[0].tokens, 0,
        "the embedding classifier makes no model call"
    );
    key(&mut app, Key::Char('g'));
    let text = draw(&app, 100, 30).join("\n");
    assert!(text.contains("debate") && text.contains("tok"), "{text}");
    assert!(
        text.contains("not a pipeline"),
        "the bootstrapped loop has no components: {text}"
    );
}

#[test]
fn live_events_are_followed_and_streamed_text_is_shown() {
    let mut app = App::new(vec![Pane::new("scaffold"), Pane::new("bootstrap")]);
    let events = trace("sea-002-scaffold.jsonl").events;
    for e in events.iter().take(5) {
        update(
            &mut app,
            Msg::Event {
                pane: 0,
                event: e.clone(),
            },
        );
    }
    assert_eq!(app.panes[0].selected, 4, "the selection follows new events");
    assert_eq!(app.panes[0].running_component(), Some("form"));
    update(
        &mut app,
        Msg::Token {
            pane: 0,
            text: "Where are you".into(),
        },
    );
    let text = draw(&app, 80, 24).join("\n");
    assert!(
        text.contains("running: form") && text.contains("… Where are you"),
        "{text}"
    );
    for e in events.iter().skip(5) {
        update(
            &mut app,
            Msg::Event {
                pane: 0,
                event: e.clone(),
            },
        );
    }
    assert!(app.panes[0].done);
    update(
        &mut app,
        Msg::Score {
            pane: 0,
            line: "failure (partial 0.00)".into(),
        },
    );
    let text = draw(&app, 120, 24).join("\n");
    assert!(text.contains("failure (partial 0.00)"), "{text}");
}

#[test]
fn a_ten_thousand_event_trace_draws_only_its_visible_window() {
    let one: Event = trace("sea-002-scaffold.jsonl").events[5].clone();
    let events: Vec<Event> = (0..10_000)
        .map(|i| Event {
            seq: i,
            at_ms: i as f64,
            ..one.clone()
        })
        .collect();
    let mut app = App::new(vec![Pane::from_events("long", events)]);
    key(&mut app, Key::End);
    let screen = draw(&app, 80, 24);
    assert!(screen.iter().any(|l| l.contains("10.0s")), "{screen:?}");
    key(&mut app, Key::Home);
    let screen = draw(&app, 80, 24);
    assert!(screen.iter().any(|l| l.contains("0.0s")));
}
