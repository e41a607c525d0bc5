//! `ladder demo`'s lessons: a suite task, the two strategies to compare on it, what to
//! watch for, and a one-line caption for each step of a run (what the component or action
//! is doing and why). Captions are a pure function of a trace event.

use ladder_core::trace::{Event, EventKind, SlotSource};
use ladder_core::Task;

use crate::state::TaskCard;

/// One lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lesson {
    pub name: &'static str,
    pub title: &'static str,
    pub suite: &'static str,
    pub task: &'static str,
    pub left: &'static str,
    pub right: &'static str,
    /// What the lesson shows, before the runs.
    pub intro: &'static str,
    /// What to look at, after them.
    pub notice: &'static str,
}

pub const LESSONS: [Lesson; 4] = [
    Lesson {
        name: "seaside",
        title: "The essay's scene: a vague request",
        suite: "seaside",
        task: "sea-045",
        left: "scaffold",
        right: "bootstrap",
        intro: "\"I'd like to go to the seaside next week, sort it out for me.\" The scaffold \
                classifies the request as trip planning and walks its form, one slot question \
                per turn; the loop decides for itself what to ask (several things at once, \
                if it likes) and when to answer.",
        notice: "Count the user turns and the questions in each: a form asks for every missing \
                 slot in a fixed order; the loop asks what it judges it needs. Then look at the \
                 answers: options with trade-offs, or one pick.",
    },
    Lesson {
        name: "unplaceable",
        title: "A request outside the classifier's labels",
        suite: "helpdesk",
        task: "help-037",
        left: "scaffold",
        right: "bootstrap",
        intro: "\"Do you offer gift wrapping?\" None of the help desk's intents (returns, \
                shipping, order status, warranty, troubleshooting, billing) fits. The scaffold's \
                classifier has to send it down its `unknown` route, with no form; the loop has \
                no labels to miss.",
        notice: "See the intent decision: a score under the threshold means `unknown`, so no \
                 slot questions, and the answer rests on retrieval alone. Did either find the \
                 gift-wrapping page?",
    },
    Lesson {
        name: "already-said",
        title: "An opening that already states most of what is needed",
        suite: "seaside",
        task: "sea-046",
        left: "scaffold",
        right: "bootstrap",
        intro: "The traveller states their home city, Norland or abroad, the number of days and \
                the activity in the first message; only the month is left. A form that \
                extracts well asks only for the rest; one that does not asks again.",
        notice: "The metrics' repeated parts count questions about what the user had already \
                 said: the simulated user loses patience with those.",
    },
    Lesson {
        name: "debate",
        title: "Agents that debate, and a judge",
        suite: "facts",
        task: "facts-006",
        left: "scaffold",
        right: "bootstrap",
        intro: "\"In which year was the copper loom created?\" The scaffold retrieves, then its \
                agents draft answers, read each other's and revise, and a synthesis writes the \
                answer; the loop searches and answers on its own.",
        notice: "Follow the debate by agent and round: do the agents converge, and on what? \
                 Compare the final answer with the ground truth below (the judge's, never shown \
                 to a strategy).",
    },
];

/// The lesson called `name`.
pub fn find(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.name == name)
}

/// What the event is doing and why, in a line (None for events that need no caption).
pub fn caption(e: &Event) -> Option<String> {
    let text = match &e.kind {
        EventKind::ComponentStarted { component, kind } => {
            let why = match kind.as_str() {
                "classifier" => "matches the opening against labelled examples to pick an intent; the intent decides which form is filled",
                "form" => "fills each slot it can from what was said, then asks for each missing one, one question per turn, in a fixed order",
                "retrieve" => "searches the knowledge base with the opening and the slot values; the hits become the model's reference text",
                "compress" => "trims the reference text to a token budget so the prompt fits",
                "debate" => "agents draft answers, read each other's and revise them, round by round",
                "vote" => "samples several answers and keeps the most common one",
                "synthesis" => "one model call writes the answer from the form, the references and the debate",
                _ => "runs",
            };
            format!("{component}: {why}")
        }
        EventKind::IntentDecision { chosen, .. } if chosen.is_empty() => {
            "no intent scored above the threshold: the `unknown` route, no form, answer from retrieval alone".into()
        }
        EventKind::IntentDecision { chosen, .. } => {
            format!("intent {}: its form's slots come next", chosen.join(" + "))
        }
        EventKind::SlotFilled { slot, source, .. } => match source {
            SlotSource::Opening => format!("{slot} read from the opening: the form will not ask for it"),
            SlotSource::Reply => format!("{slot} read from the user's reply"),
            SlotSource::Default => format!("{slot} not given: the form's default"),
        },
        EventKind::Action {
            action,
            parse_error: None,
            ..
        } => match action.as_str() {
            "ask" => "the model chose to ask the user: what, and how much at once, is its own call".into(),
            "search" => "the model chose to look something up in the knowledge base".into(),
            "note" => "the model condensed what it knows into a note, to keep its context short".into(),
            "answer" => "the model judged it knows enough and answers".into(),
            other => format!("the model chose {other}"),
        },
        EventKind::Observation { .. } => {
            "the loop tells the model something its action did not show it (a repeat, nothing new found, the last step)".into()
        }
        EventKind::Action {
            parse_error: Some(_),
            ..
        } => "the model's output was not a valid action; the loop tells it and goes on".into(),
        EventKind::UserTurn { parts, gave_up, .. } => {
            if *gave_up {
                "the user gave up: too many questions, or the same ones again".into()
            } else if parts.is_empty() {
                "the user replied".into()
            } else {
                let repeated = parts
                    .iter()
                    .filter(|p| p.kind == ladder_core::user::PartKind::Repeated)
                    .count();
                format!(
                    "the user answered a question of {} part(s){}",
                    parts.len(),
                    if repeated > 0 {
                        format!(", {repeated} about what they had already said")
                    } else {
                        String::new()
                    }
                )
            }
        }
        EventKind::DebateMessage { agent, round, .. } => {
            format!("{agent}, round {round}: a draft the other agents will read")
        }
        EventKind::ContextCompression { .. } => "the context was condensed to fit".into(),
        EventKind::Answer { .. } => "the answer: the judge scores it against the hidden profile".into(),
        _ => return None,
    };
    Some(text)
}

/// The caption of the last event at or before index `upto` that has one.
pub fn latest_caption(events: &[Event], upto: usize) -> Option<String> {
    events
        .iter()
        .take(upto.saturating_add(1))
        .rev()
        .find_map(caption)
}

/// A picker card of a suite task: its opening, and its hidden profile and expectations as
/// lines for the person.
pub fn card(task: &Task) -> TaskCard {
    let mut hidden: Vec<String> = task
        .profile
        .iter()
        .map(|f| {
            format!(
                "{} = {}{}{}",
                f.slot,
                f.value,
                if f.hard { "" } else { " (soft)" },
                if f.stated {
                    " (said in the opening)"
                } else {
                    ""
                }
            )
        })
        .collect();
    hidden.extend(ground_truth(task));
    TaskCard {
        suite: task.suite.clone(),
        id: task.id.clone(),
        opening: task.opening.clone(),
        tags: task.tags.clone(),
        hidden,
    }
}

/// What the judge expects of an answer, a line each.
pub fn ground_truth(task: &Task) -> Vec<String> {
    let e = &task.expect;
    let mut lines = Vec::new();
    if !e.must_mention.is_empty() {
        lines.push(format!("must mention: {}", e.must_mention.join(", ")));
    }
    if !e.recommend_any.is_empty() {
        lines.push(format!("recommend any of: {}", e.recommend_any.join(", ")));
    }
    if !e.must_not_recommend.is_empty() {
        lines.push(format!(
            "must not recommend: {}",
            e.must_not_recommend.join(", ")
        ));
    }
    if let Some(d) = &e.needs_detail {
        lines.push(format!("needs the detail: {d}"));
    }
    lines
}
