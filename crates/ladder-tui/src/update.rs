//! The one place the state changes: a message in, the state updated.

use ladder_core::trace::{Event, EventKind};

use crate::state::{App, Screen};

/// A key, as the UI understands it (the terminal layer maps crossterm's keys to these, so
/// the update logic is tested without a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Left,
    Right,
    Tab,
    Enter,
    Esc,
    Char(char),
    /// Ctrl-C.
    Interrupt,
}

/// Everything that can happen to the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(Key),
    /// Mouse wheel over the panes: lines up (negative) or down.
    Scroll(i32),
    /// A trace event of pane `pane`'s run.
    Event {
        pane: usize,
        event: Event,
    },
    /// Text streamed by pane `pane`'s call in flight.
    Token {
        pane: usize,
        text: String,
    },
    /// Pane `pane`'s run was scored.
    Score {
        pane: usize,
        line: String,
    },
    /// A line for the status bar.
    Status(String),
}

/// How many events a page key moves.
pub const PAGE: usize = 10;

/// Apply one message.
pub fn update(app: &mut App, msg: Msg) {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Scroll(lines) => move_selection(app, lines as i64),
        Msg::Event { pane, event } => {
            if let Some(p) = app.panes.get_mut(pane) {
                let following = p.events.is_empty() || p.selected + 1 >= p.events.len();
                if matches!(event.kind, EventKind::ModelCall { .. }) {
                    p.streaming.clear();
                }
                if matches!(event.kind, EventKind::RunFinished { .. }) {
                    p.done = true;
                }
                p.events.push(event);
                if following {
                    p.selected = p.events.len() - 1;
                }
            }
        }
        Msg::Token { pane, text } => {
            if let Some(p) = app.panes.get_mut(pane) {
                p.streaming.push_str(&text);
            }
        }
        Msg::Score { pane, line } => {
            if let Some(p) = app.panes.get_mut(pane) {
                p.score = Some(line);
            }
        }
        Msg::Status(line) => app.status = line,
    }
}

fn on_key(app: &mut App, key: Key) {
    match key {
        Key::Char('q') | Key::Interrupt => app.quit = true,
        Key::Char('?') => app.screen = toggle(app.screen, Screen::Help),
        Key::Char('g') => app.screen = toggle(app.screen, Screen::Components),
        Key::Enter => app.screen = toggle(app.screen, Screen::Detail),
        Key::Esc => app.screen = Screen::Panes,
        Key::Char('l') => app.locked = !app.locked,
        Key::Tab | Key::Left | Key::Right => {
            if app.panes.len() > 1 {
                app.focus = (app.focus + 1) % app.panes.len();
            }
        }
        Key::Up | Key::Char('k') | Key::Char('p') => move_selection(app, -1),
        Key::Down | Key::Char('j') | Key::Char('n') => move_selection(app, 1),
        Key::PageUp => move_selection(app, -(PAGE as i64)),
        Key::PageDown => move_selection(app, PAGE as i64),
        Key::Home => move_selection(app, i64::MIN / 2),
        Key::End => move_selection(app, i64::MAX / 2),
        Key::Char(_) => {}
    }
}

fn toggle(now: Screen, to: Screen) -> Screen {
    if now == to {
        Screen::Panes
    } else {
        to
    }
}

/// Move the focused pane's selection by `by` events (clamped); with the panes locked, the
/// other pane selects its last event at or before the same time.
fn move_selection(app: &mut App, by: i64) {
    let Some(pane) = app.panes.get_mut(app.focus) else {
        return;
    };
    if pane.events.is_empty() {
        return;
    }
    let last = pane.events.len() as i64 - 1;
    pane.selected = (pane.selected as i64).saturating_add(by).clamp(0, last) as usize;
    let at = pane.events[pane.selected].at_ms;
    if app.locked {
        let focus = app.focus;
        for (i, other) in app.panes.iter_mut().enumerate() {
            if i == focus || other.events.is_empty() {
                continue;
            }
            other.selected = other
                .events
                .iter()
                .rposition(|e| e.at_ms <= at)
                .unwrap_or(0);
        }
    }
}
