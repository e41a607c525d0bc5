//! Metrics: a pure function of a trace. Nothing here is counted while a run happens, so a
//! saved trace always reproduces the numbers that were reported for it.

use serde::{Deserialize, Serialize};

use crate::outcome::StopReason;
use crate::trace::{Event, EventKind};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    pub model_calls: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt plus completion tokens.
    pub total_tokens: u64,
    pub user_turns: u64,
    /// Question parts by how the user took them (when the user says).
    pub parts_answered: u64,
    pub parts_repeated: u64,
    pub parts_no_preference: u64,
    pub parts_irrelevant: u64,
    pub retrievals: u64,
    pub intent_decisions: u64,
    pub slots_filled: u64,
    pub debate_messages: u64,
    pub compressions: u64,
    /// Actions the bootstrapped loop chose, and those whose output could not be read.
    pub actions: u64,
    pub parse_errors: u64,
    pub votes: u64,
    pub errors: u64,
    /// Model calls made by a model playing the user, and their tokens: never the
    /// strategy's cost, so kept apart from the counts above.
    pub user_model_calls: u64,
    pub user_tokens: u64,
    /// From the first event to the last.
    pub wall_ms: f64,
    /// Sum of model-call latencies.
    pub model_ms: f64,
    /// How the run stopped, when the trace says.
    pub stop: Option<StopReason>,
}

impl Metrics {
    pub fn from_events(events: &[Event]) -> Metrics {
        let mut m = Metrics::default();
        if let Some(first) = events.first() {
            for e in events {
                m.add(first.at_ms, e);
            }
        }
        m
    }

    /// Count one more event of a run that started at `first_at_ms` (what a live view
    /// does as events arrive; [`Metrics::from_events`] is this over a whole trace).
    pub fn add(&mut self, first_at_ms: f64, e: &Event) {
        let m = self;
        match &e.kind {
            EventKind::ModelCall {
                actor: crate::trace::Actor::User,
                usage,
                ..
            } => {
                m.user_model_calls += 1;
                m.user_tokens += usage.prompt_tokens + usage.completion_tokens;
            }
            EventKind::ModelCall {
                usage, latency_ms, ..
            } => {
                m.model_calls += 1;
                m.prompt_tokens += usage.prompt_tokens;
                m.cached_tokens += usage.cached_tokens;
                m.completion_tokens += usage.completion_tokens;
                m.model_ms += latency_ms;
            }
            EventKind::UserTurn { parts, .. } => {
                m.user_turns += 1;
                for p in parts {
                    *match p.kind {
                        crate::user::PartKind::Answered => &mut m.parts_answered,
                        crate::user::PartKind::Repeated => &mut m.parts_repeated,
                        crate::user::PartKind::NoPreference => &mut m.parts_no_preference,
                        crate::user::PartKind::Irrelevant => &mut m.parts_irrelevant,
                    } += 1;
                }
            }
            EventKind::Retrieval { .. } => m.retrievals += 1,
            EventKind::IntentDecision { .. } => m.intent_decisions += 1,
            EventKind::SlotFilled { .. } => m.slots_filled += 1,
            EventKind::DebateMessage { .. } => m.debate_messages += 1,
            EventKind::ContextCompression { .. } => m.compressions += 1,
            EventKind::Error { .. } => m.errors += 1,
            EventKind::RunFinished { outcome } => m.stop = Some(outcome.stop.clone()),
            EventKind::Action { parse_error, .. } => {
                m.actions += 1;
                m.parse_errors += u64::from(parse_error.is_some());
            }
            EventKind::Vote { .. } => m.votes += 1,
            EventKind::Header(_)
            | EventKind::Answer { .. }
            | EventKind::Observation { .. }
            | EventKind::ComponentStarted { .. }
            | EventKind::ComponentFinished { .. } => {}
        }
        m.total_tokens = m.prompt_tokens + m.completion_tokens;
        m.wall_ms = e.at_ms - first_at_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::model::Usage;
    use crate::outcome::Outcome;
    use crate::trace::TRACE_VERSION;

    fn ev(seq: u64, at_ms: f64, kind: EventKind) -> Event {
        Event {
            v: TRACE_VERSION,
            seq,
            at_ms,
            kind,
        }
    }

    fn call(prompt: u64, completion: u64, latency_ms: f64) -> EventKind {
        EventKind::ModelCall {
            call: 0,
            agent: None,
            actor: Default::default(),
            seed: 0,
            purpose: "p".into(),
            messages: vec![Message::user("q")],
            output: "a".into(),
            usage: Usage {
                prompt_tokens: prompt,
                cached_tokens: 1,
                completion_tokens: completion,
                estimated: false,
            },
            latency_ms,
            grammar: None,
        }
    }

    #[test]
    fn sums_calls_tokens_turns_and_time() {
        let events = vec![
            ev(0, 0.0, EventKind::Header(Default::default())),
            ev(1, 10.0, call(100, 20, 40.0)),
            ev(
                2,
                60.0,
                EventKind::UserTurn {
                    question: "where?".into(),
                    reply: "home".into(),
                    gave_up: false,
                    matched: None,
                    parts: vec![],
                },
            ),
            ev(3, 70.0, call(150, 30, 50.0)),
            ev(
                4,
                80.0,
                EventKind::Retrieval {
                    query: "q".into(),
                    filter: None,
                    k: 3,
                    hits: vec![],
                },
            ),
            ev(5, 90.0, {
                let mut k = call(70, 7, 5.0);
                if let EventKind::ModelCall { actor, .. } = &mut k {
                    *actor = crate::trace::Actor::User;
                }
                k
            }),
            ev(
                6,
                130.0,
                EventKind::RunFinished {
                    outcome: Outcome::answered("x"),
                },
            ),
        ];
        let m = Metrics::from_events(&events);
        assert_eq!(m.model_calls, 2);
        assert_eq!(m.prompt_tokens, 250);
        assert_eq!(m.cached_tokens, 2);
        assert_eq!(m.completion_tokens, 50);
        assert_eq!(m.total_tokens, 300);
        assert_eq!(m.user_turns, 1);
        assert_eq!(m.retrievals, 1);
        assert_eq!(m.wall_ms, 130.0);
        assert_eq!(m.model_ms, 90.0);
        assert_eq!((m.user_model_calls, m.user_tokens), (1, 77));
        assert_eq!(m.stop, Some(StopReason::Answered));
    }

    #[test]
    fn empty_trace_has_zero_metrics() {
        assert_eq!(Metrics::from_events(&[]), Metrics::default());
    }
}
