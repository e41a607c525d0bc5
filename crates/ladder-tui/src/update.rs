//! The one place the state changes: a message in, the state updated.

use ladder_core::trace::{Event, EventKind};

use crate::state::{App, Asking, Base, Lock, Pane, Request, Screen, Stream};

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
    Backspace,
    /// The space bar.
    Space,
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
    /// Text streamed by call `call` (of agent `agent`) of pane `pane`'s run.
    Token {
        pane: usize,
        call: u64,
        agent: Option<String>,
        text: String,
    },
    /// Pane `pane`'s run was scored: the score in a few words, the judge's failed checks
    /// ("what: why") and where the trace was saved.
    Score {
        pane: usize,
        line: String,
        verdicts: Vec<String>,
        trace: Option<String>,
    },
    /// A line for the status bar.
    Status(String),
    /// Pane `pane`'s run asks the person a question (they play the user).
    Ask {
        pane: usize,
        question: String,
    },
    /// Trace files read into panes (the answer to [`Request::Open`]).
    Opened(Vec<Pane>),
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
                match &event.kind {
                    EventKind::ModelCall { call, .. } => {
                        p.streaming.retain(|s| s.call != *call);
                        p.finished_calls.insert(*call);
                    }
                    // A failed call traces no ModelCall: nothing streams past an error.
                    EventKind::Error { .. } => p.streaming.clear(),
                    _ => {}
                }
                p.push(event);
                if following {
                    p.selected = p.events.len() - 1;
                }
            }
        }
        Msg::Token {
            pane,
            call,
            agent,
            text,
        } => {
            if let Some(p) = app
                .panes
                .get_mut(pane)
                .filter(|p| !p.finished_calls.contains(&call))
            {
                match p.streaming.iter_mut().find(|s| s.call == call) {
                    Some(s) => s.text.push_str(&text),
                    None => p.streaming.push(Stream { call, agent, text }),
                }
            }
        }
        Msg::Score {
            pane,
            line,
            verdicts,
            trace,
        } => {
            if let Some(p) = app.panes.get_mut(pane) {
                p.score = Some(line);
                p.verdicts = verdicts;
                p.trace = trace;
            }
            if let Some(lesson) = &app.lesson {
                app.commentary = crate::lessons::commentary(lesson, &app.panes);
                if !app.commentary.is_empty() {
                    app.status = format!(
                        "both runs are done: ? shows what happened in them · {}",
                        app.status
                    );
                }
            }
        }
        Msg::Status(line) => app.status = line,
        Msg::Ask { pane, question } => {
            // What they typed ahead starts this reply.
            let input = std::mem::take(&mut app.ahead);
            app.asking.push(Asking {
                pane,
                question,
                input,
            })
        }
        Msg::Opened(panes) => {
            app.panes = panes;
            app.focus = 0;
            app.base = Base::Panes;
            app.screen = Screen::Panes;
            app.status = String::new();
        }
    }
}

fn on_key(app: &mut App, key: Key) {
    if key == Key::Interrupt {
        app.quit = true;
        app.interrupted = true;
        return;
    }
    // A question waiting for the person: typing goes into the reply.
    if app.base == Base::Panes && typing(app, key) {
        return;
    }
    // Playing the user between questions: typing is the person's next reply, not commands.
    if app.screen == Screen::Panes && app.playing() && typing_ahead(app, key) {
        return;
    }
    if app.screen == Screen::Panes {
        match app.base {
            Base::Picker => return picker_key(app, key),
            Base::Runs => return runs_key(app, key),
            Base::Panes => {}
        }
    }
    match key {
        Key::Char('q') => app.quit = true,
        Key::Char('b') | Key::Esc | Key::Backspace
            if app.screen == Screen::Panes && (app.picker.is_some() || app.runs.is_some()) =>
        {
            // Runs still going on the panes stop: nothing runs where nobody sees it.
            if app.panes.iter().any(|p| p.score.is_none()) && app.runs.is_none() {
                app.requests.push(Request::Stop);
            }
            app.asking.clear();
            app.ahead.clear();
            // The picker's hints come back; the heading named the run.
            app.status.clear();
            app.heading.clear();
            app.base = if app.runs.is_some() {
                Base::Runs
            } else {
                Base::Picker
            };
        }
        Key::Char('?') => app.screen = toggle(app.screen, Screen::Help),
        Key::Char('g') => app.screen = toggle(app.screen, Screen::Components),
        Key::Enter => app.screen = toggle(app.screen, Screen::Detail),
        Key::Esc | Key::Backspace => app.screen = Screen::Panes,
        Key::Char('l') => app.lock = app.lock.next(),
        Key::Tab | Key::Left | Key::Right => {
            if app.panes.len() > 1 {
                app.focus = (app.focus + 1) % app.panes.len();
            }
        }
        Key::Char('p') => move_selection(app, -1),
        Key::Char('n') => move_selection(app, 1),
        _ => {
            if let Some(by) = moves(key) {
                move_selection(app, by);
            }
        }
    }
}

/// Keys while a question waits for the person's reply: characters, Backspace, Enter
/// (send) and Esc (give up). Returns false for the keys it leaves to the panes.
fn typing(app: &mut App, key: Key) -> bool {
    let Some(ask) = app.asking.first_mut() else {
        return false;
    };
    let text = match key {
        Key::Char(c) => {
            ask.input.push(c);
            return true;
        }
        Key::Space => {
            ask.input.push(' ');
            return true;
        }
        Key::Backspace => {
            ask.input.pop();
            return true;
        }
        Key::Enter if ask.input.trim().is_empty() => return true,
        Key::Enter => Some(ask.input.trim().to_string()),
        Key::Esc => None,
        _ => return false,
    };
    let pane = app.asking.remove(0).pane;
    app.requests.push(Request::Reply { pane, text });
    true
}

/// Keys while the person plays the user and no question is open: characters, Space and
/// Backspace edit the start of their next reply; Enter keeps it for the next question;
/// Esc clears it (and, with nothing typed, goes back as usual). Returns false for the keys
/// it leaves to the panes (navigation, Tab, Esc with nothing typed).
fn typing_ahead(app: &mut App, key: Key) -> bool {
    match key {
        Key::Char(c) => app.ahead.push(c),
        Key::Space => app.ahead.push(' '),
        Key::Backspace => {
            app.ahead.pop();
        }
        // Nothing to send it to yet: kept for the next question.
        Key::Enter if !app.ahead.trim().is_empty() => {}
        Key::Esc if !app.ahead.trim().is_empty() => app.ahead.clear(),
        _ => return false,
    }
    true
}

/// Move `at` by `by` within `0..len` (clamped; 0 when empty).
fn step(at: usize, by: i64, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (at as i64).saturating_add(by).clamp(0, len as i64 - 1) as usize
}

/// How far a navigation key moves a selection (the panes, the picker and the run table
/// share them).
fn moves(key: Key) -> Option<i64> {
    Some(match key {
        Key::Up | Key::Char('k') => -1,
        Key::Down | Key::Char('j') => 1,
        Key::PageUp => -(PAGE as i64),
        Key::PageDown => PAGE as i64,
        Key::Home => i64::MIN / 2,
        Key::End => i64::MAX / 2,
        _ => return None,
    })
}

fn picker_key(app: &mut App, key: Key) {
    let Some(p) = app.picker.as_mut() else {
        return;
    };
    if p.searching && search_key(p, key) {
        return;
    }
    if let Some(by) = moves(key) {
        let visible = p.visible();
        let at = visible.iter().position(|&i| i == p.selected).unwrap_or(0);
        if let Some(&i) = visible.get(step(at, by, visible.len())) {
            p.selected = i;
        }
        return;
    }
    let n = p.strategies.len().max(1);
    match key {
        Key::Char('/') => p.searching = true,
        Key::Esc if !p.query.is_empty() => {
            p.query.clear();
        }
        Key::Char('q') => app.quit = true,
        Key::Char('?') => app.screen = Screen::Help,
        Key::Char('h') => p.show_hidden = !p.show_hidden,
        Key::Char('1') | Key::Left => p.left = (p.left + 1) % n,
        Key::Char('2') | Key::Right => p.right = (p.right + 1) % n,
        // Shift-1 and Shift-2: the same lists, backwards.
        Key::Char('!') => p.left = (p.left + n - 1) % n,
        Key::Char('@') => p.right = (p.right + n - 1) % n,
        Key::Char('u') => p.play_user = !p.play_user,
        Key::Enter => {
            let Some(task) = p.current() else {
                return;
            };
            let task = task.clone();
            let (left, right) = (
                p.strategy(p.left).to_string(),
                p.strategy(p.right).to_string(),
            );
            app.card = if p.play_user {
                task.hidden.clone()
            } else {
                Vec::new()
            };
            app.status.clear();
            app.heading = format!(
                "{left} vs {right} on {} {}{}",
                task.suite,
                task.id,
                if p.play_user {
                    " · you play the user"
                } else {
                    ""
                }
            );
            app.requests.push(Request::Start {
                suite: task.suite.clone(),
                id: task.id.clone(),
                left: left.clone(),
                right: right.clone(),
                play_user: p.play_user,
            });
            app.panes = vec![Pane::new(left), Pane::new(right)];
            app.focus = 0;
            app.asking.clear();
            app.base = Base::Panes;
        }
        _ => {}
    }
}

/// Keys while the person types the picker's search: characters and Backspace edit it (the
/// selection moves to the first task that matches), Enter keeps it, Esc clears it. Returns
/// false for the keys it leaves to the picker (navigation).
fn search_key(p: &mut crate::state::Picker, key: Key) -> bool {
    match key {
        Key::Char(c) => p.query.push(c),
        Key::Space => p.query.push(' '),
        Key::Backspace => {
            p.query.pop();
        }
        Key::Enter => {
            p.searching = false;
            return true;
        }
        Key::Esc => {
            p.searching = false;
            p.query.clear();
        }
        _ => return false,
    }
    let visible = p.visible();
    if !visible.contains(&p.selected) {
        if let Some(&first) = visible.first() {
            p.selected = first;
        }
    }
    true
}

fn runs_key(app: &mut App, key: Key) {
    let Some(t) = app.runs.as_mut() else {
        return;
    };
    if let Some(by) = moves(key) {
        t.selected = step(t.selected, by, t.rows.len());
        return;
    }
    match key {
        Key::Char('q') => app.quit = true,
        Key::Char('?') => app.screen = Screen::Help,
        Key::Space => {
            if let Some(at) = t.marked.iter().position(|&m| m == t.selected) {
                t.marked.remove(at);
            } else {
                if t.marked.len() == 2 {
                    t.marked.remove(0);
                }
                t.marked.push(t.selected);
            }
        }
        Key::Enter => {
            let picked = if t.marked.is_empty() {
                vec![t.selected]
            } else {
                t.marked.clone()
            };
            let paths: Vec<_> = picked
                .iter()
                .filter_map(|&i| t.rows.get(i).and_then(|r| r.trace.clone()))
                .collect();
            if paths.is_empty() {
                app.status = "that run has no trace (it could not be set up)".into();
            } else {
                app.status = "opening…".into();
                app.requests.push(Request::Open(paths));
            }
        }
        _ => {}
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
/// other pane follows (by time or by event number: [`Lock`]).
fn move_selection(app: &mut App, by: i64) {
    let Some(pane) = app.panes.get_mut(app.focus) else {
        return;
    };
    if pane.events.is_empty() {
        return;
    }
    pane.selected = step(pane.selected, by, pane.events.len());
    let (at, number) = (pane.events[pane.selected].at_ms, pane.selected);
    let focus = app.focus;
    for (i, other) in app.panes.iter_mut().enumerate() {
        if i == focus || other.events.is_empty() {
            continue;
        }
        match app.lock {
            Lock::Off => {}
            Lock::Time => {
                other.selected = other
                    .events
                    .iter()
                    .rposition(|e| e.at_ms <= at)
                    .unwrap_or(0)
            }
            Lock::Event => other.selected = number.min(other.events.len() - 1),
        }
    }
}
