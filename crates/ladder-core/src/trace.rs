//! The trace: everything that happened in a run, as a sequence of [`Event`]s.
//!
//! On disk a trace is JSON Lines, one event per line. Every line carries the format
//! version `v` ([`TRACE_VERSION`]); a reader refuses versions it does not know. Fields are
//! only ever added (with serde defaults), never renamed, within one version.
//!
//! The [`TraceSink`] keeps the events of a run in order and copies each one to live
//! subscribers (the TUI) over channels. It never blocks on a subscriber.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::model::Usage;
use crate::outcome::Outcome;
use crate::retrieval::Filter;
use crate::task::Budget;

/// Version of the JSONL trace format. Version 2 (this one) was designed for the scaffold,
/// the bootstrapped loop, the harness and the TUI together; later work only adds fields
/// (with serde defaults) or event kinds.
pub const TRACE_VERSION: u32 = 2;

/// One retrieval hit as the trace records it (no chunk text, to keep traces small).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHit {
    pub id: String,
    pub score: f32,
    pub document: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub heading: String,
}

/// Who made a model call: the strategy under test, or the model playing the user. Metrics
/// keep the two apart, so a model-played user never counts as the strategy's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    #[default]
    Strategy,
    User,
}

impl Actor {
    fn is_strategy(&self) -> bool {
        *self == Actor::Strategy
    }
}

/// The first event of every trace: everything needed to know what was run and to run it
/// again.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunHeader {
    pub task: String,
    /// The suite, when the task is a suite's.
    #[serde(default)]
    pub suite: String,
    pub strategy: String,
    /// The strategy's settings as it reports them ([`crate::Strategy::settings`]).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// The model's identity, e.g. `local:SmolLM2-135M-Instruct.Q4_1.gguf`.
    pub model: String,
    /// The backend's settings that change its output ([`crate::LanguageModel::settings`]).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub model_settings: serde_json::Value,
    /// The run's seed; each model call's seed is derived from it and the call id.
    pub seed: u64,
    pub budget: Budget,
    /// Who plays the user and how patient they are (empty when no user is attached).
    #[serde(default)]
    pub user: serde_json::Value,
    /// SHA-256 of the task's canonical JSON (profile and expectations included).
    #[serde(default)]
    pub task_hash: String,
    /// SHA-256 of the suite's files, when the task is a suite's.
    #[serde(default)]
    pub suite_hash: String,
}

/// One intent label with the classifier's confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentScore {
    pub intent: String,
    pub confidence: f32,
}

/// Where a slot's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotSource {
    /// Read from the user's opening words.
    Opening,
    /// From the user's reply to a question.
    Reply,
    /// Not given; the form's default was used.
    Default,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// Always the first event.
    Header(Box<RunHeader>),
    ModelCall {
        /// The call's id within the run, from 0, in the order calls were requested.
        call: u64,
        /// What the call was for, in the strategy's words ("answer", "classify", ...).
        purpose: String,
        /// The agent that made it, in a multi-agent strategy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
        /// Who made it: the strategy, or the model playing the user.
        #[serde(default, skip_serializing_if = "Actor::is_strategy")]
        actor: Actor,
        messages: Vec<Message>,
        output: String,
        usage: Usage,
        latency_ms: f64,
        /// "json_schema" or "gbnf" when the output was constrained.
        grammar: Option<String>,
        /// The seed the call was sampled with.
        #[serde(default)]
        seed: u32,
    },
    UserTurn {
        question: String,
        reply: String,
        gave_up: bool,
        /// The profile slots a simulated user judged the question to ask for, when it says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched: Option<Vec<String>>,
        /// The question's parts as the user took them, when it says.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parts: Vec<crate::user::UserPart>,
    },
    Retrieval {
        query: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Filter>,
        k: usize,
        hits: Vec<TraceHit>,
    },
    /// A pipeline component (classifier, form, retriever, ...) began its work.
    ComponentStarted {
        component: String,
        kind: String,
    },
    /// It ended; `ok` is false when it failed, `detail` says how or what it produced.
    ComponentFinished {
        component: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// An intent classifier's decision: every label it scored, and the ones it chose.
    IntentDecision {
        scores: Vec<IntentScore>,
        chosen: Vec<String>,
    },
    SlotFilled {
        slot: String,
        value: String,
        source: SlotSource,
    },
    DebateMessage {
        agent: String,
        round: u32,
        text: String,
    },
    /// An agent's vote for a candidate answer.
    Vote {
        agent: String,
        round: u32,
        choice: String,
    },
    /// One action the bootstrapped loop chose: `ask`, `search`, `note`, `answer`, ...
    Action {
        step: u32,
        action: String,
        argument: String,
        /// Set when the model's output could not be read as an action.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parse_error: Option<String>,
    },
    /// What the bootstrapped loop told its model besides a user's reply or search results:
    /// that an action repeats an earlier one, that a search found only passages already
    /// shown, that the run is at its last step.
    Observation {
        step: u32,
        text: String,
    },
    ContextCompression {
        tokens_before: u64,
        tokens_after: u64,
        /// True when the loop made the model condense because the context was full.
        #[serde(default)]
        forced: bool,
    },
    Answer {
        text: String,
        /// The entities the answer commits to (empty where the task asks for none).
        #[serde(default)]
        picks: Vec<String>,
    },
    Error {
        message: String,
    },
    RunFinished {
        outcome: Outcome,
    },
}

impl EventKind {
    /// Events only [`crate::RunContext`] itself may write: a strategy cannot forge a model
    /// call, a user turn, a retrieval, an answer or the run's start and end.
    pub fn is_context_owned(&self) -> bool {
        matches!(
            self,
            EventKind::Header(_)
                | EventKind::ModelCall { .. }
                | EventKind::UserTurn { .. }
                | EventKind::Retrieval { .. }
                | EventKind::Answer { .. }
                | EventKind::RunFinished { .. }
        )
    }
}

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Trace format version.
    pub v: u32,
    /// Position in the run, from 0.
    pub seq: u64,
    /// Milliseconds since the run started.
    pub at_ms: f64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read trace {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("trace {path}, line {line}: {message}")]
    Malformed {
        path: String,
        line: usize,
        message: String,
    },
}

/// Collects a run's events, forwards them to live subscribers and, when a file is
/// attached, appends each one to it (flushed) the moment it is emitted, so a crash loses
/// nothing that happened before it.
pub struct TraceSink {
    start: Instant,
    events: Vec<Event>,
    subscribers: Vec<tokio::sync::mpsc::UnboundedSender<Event>>,
    file: Option<(std::path::PathBuf, std::fs::File)>,
    write_error: Option<String>,
}

impl Default for TraceSink {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceSink {
    pub fn new() -> Self {
        TraceSink {
            start: Instant::now(),
            events: Vec::new(),
            subscribers: Vec::new(),
            file: None,
            write_error: None,
        }
    }

    /// A sink that also writes every event to `path` as it happens (the file is created,
    /// or truncated).
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        let mut sink = TraceSink::new();
        sink.file = Some((path.to_path_buf(), file));
        Ok(sink)
    }

    /// The file events are written to, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    /// The first failure to write the trace file, if any (the run goes on regardless;
    /// the events stay in memory).
    pub fn write_error(&self) -> Option<&str> {
        self.write_error.as_deref()
    }

    /// A channel that receives every event emitted from now on.
    pub fn subscribe(&mut self) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.add_subscriber(tx);
        rx
    }

    /// Send every event from now on to `tx` as well (a UI watching the run).
    pub fn add_subscriber(&mut self, tx: tokio::sync::mpsc::UnboundedSender<Event>) {
        self.subscribers.push(tx);
    }

    /// Milliseconds since the sink was created.
    pub fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    pub fn emit(&mut self, kind: EventKind) {
        let event = Event {
            v: TRACE_VERSION,
            seq: self.events.len() as u64,
            at_ms: self.elapsed_ms(),
            kind,
        };
        if let Some((path, file)) = &mut self.file {
            let written = serde_json::to_vec(&event)
                .map_err(std::io::Error::other)
                .and_then(|mut line| {
                    line.push(b'\n');
                    file.write_all(&line)?;
                    file.flush()
                });
            if let Err(e) = written {
                self.write_error
                    .get_or_insert_with(|| format!("cannot write {}: {e}", path.display()));
            }
        }
        self.subscribers.retain(|s| s.send(event.clone()).is_ok());
        self.events.push(event);
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

/// Write events as JSON Lines.
pub fn write_jsonl(events: &[Event], mut out: impl Write) -> std::io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Read a JSONL trace. Blank lines are skipped; anything else must be a known event of a
/// known version.
pub fn read_jsonl(path: &Path) -> Result<Vec<Event>, TraceError> {
    let (events, torn) = read_jsonl_whole_lines(path)?;
    match torn {
        None => Ok(events),
        Some(line) => Err(TraceError::Malformed {
            path: path.display().to_string(),
            line,
            message: "the last line is torn (the run was interrupted while writing it)".into(),
        }),
    }
}

/// Read a JSONL trace up to its last whole line: what a run that was killed leaves. The
/// events of every whole line, and the number of a torn last line (one with no newline at
/// its end that does not parse), if there is one. Any other malformed line is an error, as
/// in [`read_jsonl`].
pub fn read_jsonl_whole_lines(path: &Path) -> Result<(Vec<Event>, Option<usize>), TraceError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
        path: p.clone(),
        source,
    })?;
    let mut events = Vec::new();
    let count = text.lines().count();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |message: String| TraceError::Malformed {
            path: p.clone(),
            line: i + 1,
            message,
        };
        let raw: serde_json::Value = match serde_json::from_str(line) {
            Ok(raw) => raw,
            Err(_) if i + 1 == count && !text.ends_with('\n') => return Ok((events, Some(i + 1))),
            Err(e) => return Err(malformed(e.to_string())),
        };
        match raw.get("v").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(TRACE_VERSION) => {}
            Some(v) => {
                return Err(malformed(format!(
                    "trace format version {v} is not supported (this ladder reads version {TRACE_VERSION})"
                )))
            }
            None => return Err(malformed("missing the version field `v`".into())),
        }
        events.push(serde_json::from_value(raw).map_err(|e| malformed(e.to_string()))?);
    }
    Ok((events, None))
}

/// The events with their timing fields zeroed: two runs that did the same thing compare
/// equal after this, whatever the clock said.
pub fn without_timing(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .cloned()
        .map(|mut e| {
            e.at_ms = 0.0;
            if let EventKind::ModelCall { latency_ms, .. } = &mut e.kind {
                *latency_ms = 0.0;
            }
            e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::StopReason;

    fn sample() -> Vec<Event> {
        let mut sink = TraceSink::new();
        sink.emit(EventKind::Header(Box::new(RunHeader {
            task: "t".into(),
            strategy: "direct".into(),
            model: "local:x".into(),
            seed: 7,
            ..Default::default()
        })));
        sink.emit(EventKind::ModelCall {
            call: 0,
            agent: Some("critic".into()),
            actor: Actor::Strategy,
            seed: 3,
            purpose: "answer".into(),
            messages: vec![Message::user("hi")],
            output: "hello".into(),
            usage: Usage {
                prompt_tokens: 5,
                cached_tokens: 0,
                completion_tokens: 2,
                estimated: false,
            },
            latency_ms: 12.5,
            grammar: None,
        });
        sink.emit(EventKind::RunFinished {
            outcome: Outcome::stopped(StopReason::BudgetExhausted {
                limit: "model calls".into(),
            }),
        });
        sink.into_events()
    }

    #[test]
    fn jsonl_round_trips() {
        let events = sample();
        let dir = std::env::temp_dir().join(format!("ladder-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        write_jsonl(&events, std::fs::File::create(&path).unwrap()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| l.starts_with("{\"v\":2,")), "{text}");
        assert!(text.contains("\"type\":\"model_call\""));
        assert_eq!(read_jsonl(&path).unwrap(), events);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_sink_has_every_event_on_disk_as_soon_as_it_is_emitted() {
        let dir = std::env::temp_dir().join(format!("ladder-trace-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("live.jsonl");
        let mut sink = TraceSink::to_file(&path).unwrap();
        for (i, e) in sample().into_iter().enumerate() {
            sink.emit(e.kind);
            // Read back while the sink is still open: nothing waits for the run's end.
            assert_eq!(read_jsonl(&path).unwrap().len(), i + 1);
        }
        assert_eq!(read_jsonl(&path).unwrap(), sink.events());
        assert!(sink.write_error().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_last_line_leaves_the_whole_lines_readable_and_any_other_bad_line_is_an_error() {
        let dir = std::env::temp_dir().join(format!("ladder-trace-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let events = sample();
        let mut whole = Vec::new();
        write_jsonl(&events, &mut whole).unwrap();
        let whole = String::from_utf8(whole).unwrap();
        // What a kill mid-write leaves: the last line cut short, no newline after it.
        let path = dir.join("torn.jsonl");
        std::fs::write(&path, &whole[..whole.len() - 20]).unwrap();
        let (read, torn) = read_jsonl_whole_lines(&path).unwrap();
        assert_eq!(read, events[..2]);
        assert_eq!(torn, Some(3));
        let strict = read_jsonl(&path).unwrap_err().to_string();
        assert!(
            strict.contains("line 3") && strict.contains("torn"),
            "{strict}"
        );
        // A bad line in the middle is not a torn line: nothing is skipped.
        let lines: Vec<&str> = whole.lines().collect();
        let middle = dir.join("middle.jsonl");
        std::fs::write(&middle, format!("{}\n{{\"v\":2,\n{}\n", lines[0], lines[2])).unwrap();
        let e = read_jsonl_whole_lines(&middle).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        // A bad last line that ends with a newline was written whole: an error too.
        let ended = dir.join("ended.jsonl");
        std::fs::write(&ended, format!("{}\n{{\"v\":2,\n", lines[0])).unwrap();
        assert!(read_jsonl_whole_lines(&ended).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn version_1_traces_are_refused() {
        let dir = std::env::temp_dir().join(format!("ladder-trace-v1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.jsonl");
        std::fs::write(&path, "{\"v\":1,\"seq\":0,\"at_ms\":0,\"type\":\"run_started\",\"task\":\"t\",\"strategy\":\"s\",\"model\":\"m\"}\n").unwrap();
        let e = read_jsonl(&path).unwrap_err().to_string();
        assert!(
            e.contains("version 1") && e.contains("reads version 2"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sequence_numbers_count_up_and_subscribers_see_everything() {
        let mut sink = TraceSink::new();
        let mut rx = sink.subscribe();
        for e in sample() {
            sink.emit(e.kind);
        }
        let seqs: Vec<u64> = sink.events().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2]);
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 3);
    }

    #[test]
    fn unknown_version_and_bad_lines_are_refused_with_line_numbers() {
        let dir = std::env::temp_dir().join(format!("ladder-trace-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.jsonl");
        std::fs::write(&path, "{\"v\":2,\"seq\":0,\"at_ms\":0,\"type\":\"answer\",\"text\":\"x\"}\n{\"v\":9,\"seq\":1,\"at_ms\":0,\"type\":\"answer\",\"text\":\"x\"}\n").unwrap();
        let e = read_jsonl(&path).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("version 9"), "{e}");
        std::fs::write(
            &path,
            "{\"v\":2,\"seq\":0,\"at_ms\":0,\"type\":\"teleport\"}\n",
        )
        .unwrap();
        let e = read_jsonl(&path).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("teleport"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
