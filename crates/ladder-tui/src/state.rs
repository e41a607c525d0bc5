//! The UI's state: plain data, changed only by [`crate::update::update`].
//!
//! What the UI needs done outside itself (start runs, read trace files, pass a person's
//! reply to a run) it asks for by pushing a [`Request`]; the terminal loop hands each to
//! its runner. So `update` stays a pure function, tested without a terminal or a model.

use std::path::PathBuf;

use ladder_core::trace::{Event, EventKind};
use ladder_core::Metrics;

/// One run shown in a pane.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pane {
    /// What the pane shows (a strategy's name, or a trace file's).
    pub title: String,
    pub events: Vec<Event>,
    /// The selected event (the detail view opens it).
    pub selected: usize,
    /// Text streamed by each call in flight, in the order they started (a debate's agents
    /// write at once: one stream each, never mixed).
    pub streaming: Vec<Stream>,
    /// Calls whose `ModelCall` event has arrived: a token of theirs that comes later (tokens
    /// and events travel apart) starts no stream.
    pub finished_calls: std::collections::BTreeSet<u64>,
    /// The run's score line, once known.
    pub score: Option<String>,
    /// Why it was scored so: the judge's failed checks ("what: why"), once scored.
    pub verdicts: Vec<String>,
    /// Where the run's trace is, when known.
    pub trace: Option<String>,
    /// True once the run finished (its `RunFinished` event arrived).
    pub done: bool,
    /// The metrics of `events`, and the component running after them, kept up to date by
    /// [`Pane::push`] so that a frame does not go over a long trace again.
    totals: Metrics,
    running: Option<String>,
}

/// The text one call in flight has streamed so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stream {
    /// The call's id within the run (that of its `ModelCall` event).
    pub call: u64,
    /// The agent writing it, in a multi-agent strategy.
    pub agent: Option<String>,
    pub text: String,
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
        let mut pane = Pane::new(title);
        pane.events.reserve(events.len());
        for e in events {
            pane.push(e);
        }
        pane.selected = 0;
        pane
    }

    /// Add the run's next event.
    pub fn push(&mut self, e: Event) {
        let first = self.events.first().map(|f| f.at_ms).unwrap_or(e.at_ms);
        self.totals.add(first, &e);
        match &e.kind {
            EventKind::ComponentStarted { component, .. } => self.running = Some(component.clone()),
            EventKind::ComponentFinished { .. } => self.running = None,
            EventKind::RunFinished { .. } => self.done = true,
            _ => {}
        }
        self.events.push(e);
    }

    /// Metrics of what has happened so far (those of [`Metrics::from_events`]).
    pub fn metrics(&self) -> &Metrics {
        &self.totals
    }

    /// The component running now: the last one started and not yet finished.
    pub fn running_component(&self) -> Option<&str> {
        self.running.as_deref()
    }

    /// Each component in the order it started: name, state, time, tokens and detail.
    pub fn components(&self) -> Vec<ComponentRow> {
        let mut rows: Vec<ComponentRow> = Vec::new();
        let mut current: Option<usize> = None;
        for e in &self.events {
            match &e.kind {
                EventKind::ComponentStarted { component, .. } => {
                    rows.push(ComponentRow {
                        name: component.clone(),
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

/// One node of a pipeline's graph, as the run's header states its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanNode {
    pub id: String,
    /// False for a component the pipeline switched off.
    pub enabled: bool,
    /// The components whose output it takes (the graph's edges into it).
    pub inputs: Vec<String>,
}

impl Pane {
    /// The pipeline's graph from the run's header (`settings.plan`: nodes in run order and
    /// edges); empty for a strategy that is not a pipeline.
    pub fn plan(&self) -> Vec<PlanNode> {
        let Some(EventKind::Header(h)) = self.events.first().map(|e| &e.kind) else {
            return Vec::new();
        };
        let plan = &h.settings["plan"];
        let edges: Vec<(&str, &str)> = plan["edges"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| Some((e.get(0)?.as_str()?, e.get(1)?.as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        plan["order"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .filter_map(|n| {
                        let id = n["id"].as_str()?.to_string();
                        Some(PlanNode {
                            inputs: edges
                                .iter()
                                .filter(|(_, to)| *to == id)
                                .map(|(from, _)| from.to_string())
                                .collect(),
                            enabled: n["enabled"].as_bool().unwrap_or(true),
                            id,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
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

/// A suite task in the picker.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCard {
    pub suite: String,
    pub id: String,
    pub opening: String,
    pub tags: Vec<String>,
    /// The hidden profile and what the judge expects, one line each: shown to the person
    /// on request (and while they play the user), never to a strategy.
    pub hidden: Vec<String>,
}

/// The task and strategy picker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Picker {
    /// Every suite's tasks, suite by suite.
    pub tasks: Vec<TaskCard>,
    pub selected: usize,
    /// Show the selected task's hidden profile card.
    pub show_hidden: bool,
    /// The registered strategies to choose from.
    pub strategies: Vec<String>,
    /// Indices into `strategies` of the two panes' strategies.
    pub left: usize,
    pub right: usize,
    /// A person answers the strategies' questions instead of the simulated user.
    pub play_user: bool,
    /// The search (`/`): only tasks whose suite, id, tags or opening contain each of its
    /// words are listed.
    pub query: String,
    /// True while the person types the search.
    pub searching: bool,
}

/// One run of a bench folder.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub suite: String,
    pub task: String,
    /// The strategy (`strategy@model` in a bench with several models).
    pub label: String,
    pub trial: u32,
    /// None when the run could not be scored (or set up).
    pub success: Option<bool>,
    pub partial: f64,
    pub user_turns: u64,
    pub model_calls: u64,
    pub tokens: u64,
    /// The run's trace file (None when the run never started).
    pub trace: Option<PathBuf>,
}

/// A bench folder's runs, to pick two from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTable {
    pub folder: String,
    pub rows: Vec<RunRow>,
    pub selected: usize,
    /// Rows marked to open (at most two, in the order marked).
    pub marked: Vec<usize>,
}

/// How the other pane follows the focused one's selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lock {
    /// It does not.
    #[default]
    Off,
    /// It selects its last event at or before the same time.
    Time,
    /// It selects the event with the same number (its own last, when it has fewer).
    Event,
}

impl Lock {
    /// The next mode (`l` cycles: off, by time, by event).
    pub fn next(self) -> Lock {
        match self {
            Lock::Off => Lock::Time,
            Lock::Time => Lock::Event,
            Lock::Event => Lock::Off,
        }
    }
}

/// The screen under the overlays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Base {
    /// Choose a task and two strategies.
    Picker,
    /// Choose runs of a bench folder.
    Runs,
    /// Two runs side by side.
    #[default]
    Panes,
}

/// What the UI asks its runner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Run two strategies on a suite task, pane 0 and pane 1; with `play_user`, a person
    /// answers their questions (through [`Request::Reply`]).
    Start {
        suite: String,
        id: String,
        left: String,
        right: String,
        play_user: bool,
    },
    /// Stop the runs on the panes (the person went back to the picker): they are cancelled,
    /// keep what they traced, and send nothing more.
    Stop,
    /// Read these trace files into panes (answered by [`crate::update::Msg::Opened`]).
    Open(Vec<PathBuf>),
    /// The person's reply to pane `pane`'s question; None: they gave up.
    Reply { pane: usize, text: Option<String> },
}

/// A question waiting for the person's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Asking {
    pub pane: usize,
    pub question: String,
    /// What they have typed so far.
    pub input: String,
}

/// The whole UI.
#[derive(Debug, Clone, Default)]
pub struct App {
    /// Up to two panes (left, right).
    pub panes: Vec<Pane>,
    /// The pane the keys act on.
    pub focus: usize,
    pub screen: Screen,
    /// Whether and how the panes move together.
    pub lock: Lock,
    /// Set when the user asked to quit.
    pub quit: bool,
    /// Set when they quit with Ctrl-C: quit everything (the all-lessons demo ends too,
    /// where `q` goes on to the next lesson).
    pub interrupted: bool,
    /// A line for the status bar (what the app is doing, or an error); empty: the keys.
    pub status: String,
    /// What the panes run ("scaffold vs bootstrap on seaside sea-002"), on the metrics
    /// box's border, so the status line keeps the keys.
    pub heading: String,
    pub base: Base,
    /// The picker, when the UI was started without a task.
    pub picker: Option<Picker>,
    /// The runs of a bench folder, when the UI was started on one.
    pub runs: Option<RunTable>,
    /// Questions waiting for the person's reply, oldest first.
    pub asking: Vec<Asking>,
    /// What the person typed while they play the user and no question was open: the start
    /// of their next reply (a word typed between questions is never a command).
    pub ahead: String,
    /// The hidden profile card shown while a person plays the user.
    pub card: Vec<String>,
    /// One-line captions under each pane saying what the latest component or action does
    /// (the `ladder demo` lessons).
    pub captions: bool,
    /// Requests for the runner, taken by the terminal loop after each update.
    pub requests: Vec<Request>,
    /// A lesson's text, shown above the keys on the help screen.
    pub intro: String,
    /// The lesson the panes run, when they run one: its commentary is computed when both
    /// runs are scored.
    pub lesson: Option<crate::lessons::Lesson>,
    /// What the lesson's runs did ([`crate::lessons::commentary`]), once both are scored;
    /// shown on the help screen under the lesson's text.
    pub commentary: Vec<String>,
}

impl App {
    pub fn new(panes: Vec<Pane>) -> App {
        App {
            panes,
            ..App::default()
        }
    }

    /// Whether a person plays the user of a run still in progress on the panes: then keys
    /// that type are the person's words, never commands (Ctrl-C still quits).
    pub fn playing(&self) -> bool {
        !self.card.is_empty()
            && self.base == Base::Panes
            && self.panes.iter().any(|p| p.score.is_none())
    }

    /// An app that opens on the task picker.
    pub fn picking(picker: Picker) -> App {
        App {
            base: Base::Picker,
            picker: Some(picker),
            ..App::default()
        }
    }

    /// An app that opens on a bench folder's runs.
    pub fn bench_folder(table: RunTable) -> App {
        App {
            base: Base::Runs,
            runs: Some(table),
            ..App::default()
        }
    }
}

impl Picker {
    /// A picker over `tasks` choosing among `strategies`, with `left` and `right`
    /// preselected when registered (else the first two).
    pub fn new(tasks: Vec<TaskCard>, strategies: Vec<String>, left: &str, right: &str) -> Picker {
        let at = |name: &str, or: usize| {
            strategies
                .iter()
                .position(|s| s == name)
                .unwrap_or(or.min(strategies.len().saturating_sub(1)))
        };
        Picker {
            left: at(left, 0),
            right: at(right, 1),
            tasks,
            strategies,
            ..Picker::default()
        }
    }

    /// The indices of the tasks the search lets through, in order (all without one).
    pub fn visible(&self) -> Vec<usize> {
        let words: Vec<String> = self
            .query
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        self.tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                let hay = format!("{} {} {} {}", t.suite, t.id, t.tags.join(" "), t.opening)
                    .to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The selected task, when the search lets it through.
    pub fn current(&self) -> Option<&TaskCard> {
        self.current_in(&self.visible())
    }

    /// The selected task, when it is among `visible` (what [`Picker::visible`] returned).
    pub fn current_in(&self, visible: &[usize]) -> Option<&TaskCard> {
        visible
            .contains(&self.selected)
            .then(|| self.tasks.get(self.selected))
            .flatten()
    }

    /// The strategy named by index `i` (empty when there are none).
    pub fn strategy(&self, i: usize) -> &str {
        self.strategies.get(i).map(String::as_str).unwrap_or("")
    }
}
