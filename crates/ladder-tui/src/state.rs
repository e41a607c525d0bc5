//! The UI's state: plain data, changed only by [`crate::update::update`].

use ladder_core::trace::{Event, EventKind};
use ladder_core::Metrics;

/// One run shown in a pane.
#[derive(Debug, Clone, Default)]
pub struct Pane {
    /// What the pane shows (a strategy's name, or a trace file's).
    pub title: String,
    pub events: Vec<Event>,
    /// The selected event (the detail view opens it).
    pub selected: usize,
    /// Text streamed by the call in flight, if any.
    pub streaming: String,
    /// The run's score line, once known.
    pub score: Option<String>,
    /// True once the run finished (its `RunFinished` event arrived).
    pub done: bool,
}

impl Pane {
    pub fn new(title: impl Into<String>) -> Pane {
        Pane {
            title: title.into(),
            ..Pane::default()
        }
    }

    /// A pane holding a finished trace.
    pub fn from_events(title: impl Into<String>, events: Vec<Event>) -> Pane {
        let done = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::RunFinished { .. }));
        Pane {
            title: title.into(),
            events,
            done,
            ..Pane::default()
        }
    }

    /// Metrics of what has happened so far (a pure function of the events).
    pub fn metrics(&self) -> Metrics {
        Metrics::from_events(&self.events)
    }

    /// The component running now: the last one started and not yet finished.
    pub fn running_component(&self) -> Option<&str> {
        let mut open: Option<&str> = None;
        for e in &self.events {
            match &e.kind {
                EventKind::ComponentStarted { component, .. } => open = Some(component),
                EventKind::ComponentFinished { .. } => open = None,
                _ => {}
            }
        }
        open
    }

    /// Each component in the order it started: (name, kind, state, ms, tokens).
    pub fn components(&self) -> Vec<ComponentRow> {
        let mut rows: Vec<ComponentRow> = Vec::new();
        let mut current: Option<usize> = None;
        for e in &self.events {
            match &e.kind {
                EventKind::ComponentStarted { component, kind } => {
                    rows.push(ComponentRow {
                        name: component.clone(),
                        kind: kind.clone(),
                        state: ComponentState::Running,
                        started_ms: e.at_ms,
                        ms: 0.0,
                        tokens: 0,
                        detail: String::new(),
                    });
                    current = Some(rows.len() - 1);
                }
                EventKind::ComponentFinished { ok, detail, .. } => {
                    if let Some(i) = current.take() {
                        let r = &mut rows[i];
                        r.state = if *ok {
                            ComponentState::Done
                        } else {
                            ComponentState::Failed
                        };
                        r.ms = e.at_ms - r.started_ms;
                        r.detail = detail.clone();
                    }
                }
                EventKind::ModelCall { usage, .. } => {
                    if let Some(i) = current {
                        rows[i].tokens += usage.prompt_tokens + usage.completion_tokens;
                    }
                }
                _ => {}
            }
        }
        rows
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentState {
    Running,
    Done,
    Failed,
}

/// One row of the component view.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRow {
    pub name: String,
    pub kind: String,
    pub state: ComponentState,
    pub started_ms: f64,
    pub ms: f64,
    pub tokens: u64,
    pub detail: String,
}

/// What fills the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// The two panes side by side.
    #[default]
    Panes,
    /// The focused pane's selected event in full.
    Detail,
    /// Each pane's components with their time and tokens.
    Components,
    /// The keys.
    Help,
}

/// The whole UI.
#[derive(Debug, Clone, Default)]
pub struct App {
    /// Up to two panes (left, right).
    pub panes: Vec<Pane>,
    /// The pane the keys act on.
    pub focus: usize,
    pub screen: Screen,
    /// Panes move together (the other follows the focused one's selection, by time).
    pub locked: bool,
    /// Set when the user asked to quit.
    pub quit: bool,
    /// A line for the status bar (what the app is doing, or an error).
    pub status: String,
}

impl App {
    pub fn new(panes: Vec<Pane>) -> App {
        App {
            panes,
            ..App::default()
        }
    }
}
