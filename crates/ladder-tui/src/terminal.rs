//! The terminal: raw mode, the alternate screen and mouse capture, always undone (on drop,
//! and by a panic hook); and the loop that turns key presses and run messages into
//! updates and redraws.

use std::io::{self, Stdout};

use crossterm::event::{
    self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::state::{App, Request};
use crate::update::{update, Key, Msg};
use crate::view::view;

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        LeaveAlternateScreen,
        crossterm::event::DisableMouseCapture
    );
}

/// The terminal in UI mode; dropping it puts the terminal back as it was.
pub struct Session {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Session {
    pub fn enter() -> io::Result<Session> {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            hook(info);
        }));
        enable_raw_mode()?;
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            crossterm::event::EnableMouseCapture
        )?;
        Ok(Session {
            terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
        let _ = self.terminal.show_cursor();
    }
}

/// A terminal event as a UI message (None for what the UI ignores).
pub fn message(e: TermEvent) -> Option<Msg> {
    match e {
        TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
            let key = match k.code {
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Interrupt,
                KeyCode::Char(' ') => Key::Space,
                KeyCode::Char(c) => Key::Char(c),
                KeyCode::Up => Key::Up,
                KeyCode::Down => Key::Down,
                KeyCode::PageUp => Key::PageUp,
                KeyCode::PageDown => Key::PageDown,
                KeyCode::Home => Key::Home,
                KeyCode::End => Key::End,
                KeyCode::Left => Key::Left,
                KeyCode::Right => Key::Right,
                KeyCode::Tab | KeyCode::BackTab => Key::Tab,
                KeyCode::Enter => Key::Enter,
                KeyCode::Esc => Key::Esc,
                KeyCode::Backspace => Key::Backspace,
                _ => return None,
            };
            Some(Msg::Key(key))
        }
        TermEvent::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => Some(Msg::Scroll(-3)),
            MouseEventKind::ScrollDown => Some(Msg::Scroll(3)),
            _ => None,
        },
        // A resize needs only a redraw, which every message brings.
        TermEvent::Resize(..) => Some(Msg::Status(String::new())),
        _ => None,
    }
}

/// Run the UI until the user quits: draw, wait for a message (a key, or an event of a
/// run), update, hand the requests it made to `handle`, draw again. Returns the final
/// state.
pub async fn run(
    mut app: App,
    tx: UnboundedSender<Msg>,
    mut rx: UnboundedReceiver<Msg>,
    mut handle: impl FnMut(Request, &UnboundedSender<Msg>),
) -> io::Result<App> {
    let mut session = Session::enter()?;
    for r in std::mem::take(&mut app.requests) {
        handle(r, &tx);
    }
    let keys = tx.clone();
    std::thread::spawn(move || {
        while let Ok(e) = event::read() {
            if let Some(m) = message(e) {
                if keys.send(m).is_err() {
                    break;
                }
            }
        }
    });
    loop {
        session.terminal.draw(|f| view(f, &app))?;
        let Some(msg) = rx.recv().await else { break };
        update(&mut app, msg);
        // Take whatever else arrived before drawing again (a run streams many tokens).
        while let Ok(msg) = rx.try_recv() {
            update(&mut app, msg);
        }
        for r in std::mem::take(&mut app.requests) {
            handle(r, &tx);
        }
        if app.quit {
            break;
        }
    }
    Ok(app)
}
