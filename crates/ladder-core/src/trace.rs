//! The trace: everything that happened in a run, as a sequence of [`Event`]s.
//!
//! On disk a trace is JSON Lines, one event per line. Every line carries the format
//! version `v` ([`TRACE_VERSION`]); a reader refuses versions it does not know. Fields are
//! only ever added (with serde defaults), never renamed, within one version.
//!
//! The [`TraceSink`] keeps the events of a run in order and copies each one to live
//! subscribers (the TUI) over channels. It never blocks on a subscriber.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::model::Usage;
use crate::outcome::Outcome;

/// Version of the JSONL trace format.
pub const TRACE_VERSION: u32 = 1;

/// One retrieval hit as the trace records it (no chunk text, to keep traces small).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHit {
    pub id: String,
    pub score: f32,
    pub document: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        task: String,
        strategy: String,
        model: String,
    },
    ModelCall {
        /// What the call was for, in the strategy's words ("answer", "classify", ...).
        purpose: String,
        messages: Vec<Message>,
        output: String,
        usage: Usage,
        latency_ms: f64,
        /// "json_schema" or "gbnf" when the output was constrained.
        grammar: Option<String>,
    },
    UserTurn {
        question: String,
        reply: String,
        gave_up: bool,
        /// The profile slots a simulated user judged the question to ask for, when it says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched: Option<Vec<String>>,
    },
    Retrieval {
        query: String,
        hits: Vec<TraceHit>,
    },
    IntentDecision {
        intent: String,
        confidence: f32,
    },
    SlotFilled {
        slot: String,
        value: String,
    },
    DebateMessage {
        agent: String,
        round: u32,
        text: String,
    },
    ContextCompression {
        tokens_before: u64,
        tokens_after: u64,
    },
    Answer {
        text: String,
    },
    Error {
        message: String,
    },
    RunFinished {
        outcome: Outcome,
    },
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

/// Collects a run's events and forwards them to live subscribers.
pub struct TraceSink {
    start: Instant,
    events: Vec<Event>,
    subscribers: Vec<tokio::sync::mpsc::UnboundedSender<Event>>,
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
        }
    }

    /// A channel that receives every event emitted from now on.
    pub fn subscribe(&mut self) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.subscribers.push(tx);
        rx
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
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| TraceError::Io {
        path: p.clone(),
        source,
    })?;
    let mut events = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| TraceError::Io {
            path: p.clone(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |message: String| TraceError::Malformed {
            path: p.clone(),
            line: i + 1,
            message,
        };
        let raw: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| malformed(e.to_string()))?;
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
    Ok(events)
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
        sink.emit(EventKind::RunStarted {
            task: "t".into(),
            strategy: "direct".into(),
            model: "local:x".into(),
        });
        sink.emit(EventKind::ModelCall {
            purpose: "answer".into(),
            messages: vec![Message::user("hi")],
            output: "hello".into(),
            usage: Usage {
                prompt_tokens: 5,
                cached_tokens: 0,
                completion_tokens: 2,
            },
            latency_ms: 12.5,
            grammar: None,
        });
        sink.emit(EventKind::RunFinished {
            outcome: Outcome {
                answer: None,
                stop: StopReason::BudgetExhausted {
                    limit: "model calls".into(),
                },
            },
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
        assert!(text.lines().all(|l| l.starts_with("{\"v\":1,")), "{text}");
        assert!(text.contains("\"type\":\"model_call\""));
        assert_eq!(read_jsonl(&path).unwrap(), events);
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
        std::fs::write(&path, "{\"v\":1,\"seq\":0,\"at_ms\":0,\"type\":\"answer\",\"text\":\"x\"}\n{\"v\":9,\"seq\":1,\"at_ms\":0,\"type\":\"answer\",\"text\":\"x\"}\n").unwrap();
        let e = read_jsonl(&path).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("version 9"), "{e}");
        std::fs::write(
            &path,
            "{\"v\":1,\"seq\":0,\"at_ms\":0,\"type\":\"teleport\"}\n",
        )
        .unwrap();
        let e = read_jsonl(&path).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("teleport"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
