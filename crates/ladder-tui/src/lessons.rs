//! `ladder demo`'s lessons: a suite task, the two strategies to compare on it, what to
//! watch for, and a one-line caption for each step of a run (what the component or action
//! is doing and why). Captions are a pure function of a trace event.

use ladder_core::trace::{Event, EventKind, SlotSource};
use ladder_core::Task;

use crate::state::{Pane, TaskCard};
use crate::view::{count, cut, hit_names};

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
    /// The lesson's point, as something a run shows or does not: the commentary checks it.
    pub point: Point,
}

/// What a lesson claims its runs show, checked against them by [`commentary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The loop (right pane) asks the user something of its own choosing, then answers.
    LoopAsks,
    /// The scaffold's classifier (left pane) finds no intent: the `unknown` route.
    Unplaceable,
    /// The form asks only for what the opening did not say.
    FormAsksOnlyTheRest,
    /// The scaffold's agents debate (drafts, then revisions) before its answer.
    Debate,
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
        point: Point::LoopAsks,
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
        point: Point::Unplaceable,
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
        point: Point::FormAsksOnlyTheRest,
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
        point: Point::Debate,
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
                "candidates" => "ranks every document of the catalogue by the form's answers; the few that fit best go to the answer",
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
        EventKind::RunFinished { outcome } => {
            use ladder_core::StopReason as S;
            match &outcome.stop {
                S::Answered => "the run is over: it answered".into(),
                S::BudgetExhausted { limit } => {
                    format!("the run was stopped before an answer: its {limit} ran out")
                }
                S::UserGaveUp => "the run is over: the user gave up before an answer".into(),
                S::Cancelled => "the run was cancelled before it finished".into(),
                S::Repeating { detail } => format!(
                    "the run was stopped before an answer: it kept doing the same thing ({detail})"
                ),
                S::Error { message } => format!("the run failed: {message}"),
            }
        }
        _ => return None,
    };
    Some(text)
}

/// What the two runs of a lesson did, computed from their panes (left: the scaffold,
/// right: the loop): for each, what it asked and in how many turns, what it looked up,
/// whether and what it answered and what the judge said and why; then whether the
/// lesson's point shows in these runs, and plainly when it does not. Empty until both
/// runs are scored.
pub fn commentary(lesson: &Lesson, panes: &[Pane]) -> Vec<String> {
    if panes.len() != 2 || panes.iter().any(|p| p.score.is_none()) {
        return Vec::new();
    }
    let mut lines: Vec<String> = panes.iter().map(run_story).collect();
    lines.push(point_shown(lesson.point, &panes[0], &panes[1]));
    lines
}

/// One run in a sentence or three.
fn run_story(p: &Pane) -> String {
    let m = p.metrics();
    let questions = questions(p);
    let asked = match questions.len() {
        0 => "asked the user nothing".to_string(),
        n => format!(
            "asked {} in {} ({})",
            count(n as u64, "question"),
            count(m.user_turns, "turn"),
            questions
                .iter()
                .map(|q| format!("\"{}\"", cut(q, 60)))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    let repeated = match m.parts_repeated {
        0 => String::new(),
        n => format!(", {n} part(s) about what the user had already said"),
    };
    let searches = match searched(p).as_slice() {
        [] => String::new(),
        docs if docs.len() > 5 => format!(
            "; looked up {} time(s), finding {} documents ({}, and {} more)",
            m.retrievals,
            docs.len(),
            docs[..4].join(", "),
            docs.len() - 4
        ),
        docs => format!(
            "; looked up {} time(s), finding {}",
            m.retrievals,
            docs.join(", ")
        ),
    };
    let ended = match answer(p) {
        Some((text, picks)) if !picks.is_empty() => {
            format!(
                "answered, picking {} (\"{}\")",
                picks.join(", "),
                cut(&text, 80)
            )
        }
        Some((text, _)) => format!("answered \"{}\"", cut(&text, 100)),
        None => match &m.stop {
            Some(stop) => format!("gave no answer (stopped: {})", stop_why(stop)),
            None => "gave no answer".into(),
        },
    };
    let judged = match (&p.score, p.verdicts.as_slice()) {
        (Some(s), []) => format!("the judge: {s}"),
        (Some(s), v) => format!("the judge: {s}, because {}", v.join("; ")),
        (None, _) => String::new(),
    };
    format!(
        "{}: {asked}{repeated}{searches}; {ended}; {judged}.",
        p.title
    )
}

fn point_shown(point: Point, scaffold: &Pane, lp: &Pane) -> String {
    let (s, l) = (scaffold.metrics(), lp.metrics());
    match point {
        Point::LoopAsks => {
            let asked = questions(lp).len();
            let answered = answer(lp).is_some();
            let turns = format!(
                "the form took {} user turn(s), the loop {}",
                s.user_turns, l.user_turns
            );
            match (asked, answered) {
                (0, _) => format!(
                    "The lesson's point does not show in this run: the loop asked nothing of its own ({turns})."
                ),
                (_, false) => format!(
                    "The loop asked {asked} question(s) of its own choosing but never answered, so only half the point shows ({turns})."
                ),
                _ => format!(
                    "The lesson's point shows: the loop chose its own {asked} question(s) and then answered ({turns})."
                ),
            }
        }
        Point::Unplaceable => {
            let chosen = scaffold.events.iter().find_map(|e| match &e.kind {
                EventKind::IntentDecision { chosen, .. } => Some(chosen.clone()),
                _ => None,
            });
            match chosen {
                Some(c) if c.is_empty() => format!(
                    "The lesson's point shows: no intent fit, the scaffold took the `unknown` route and asked {} question(s).",
                    questions(scaffold).len()
                ),
                Some(c) => format!(
                    "The lesson's point does not show in this run: the classifier placed the request under {}, so its form ran.",
                    c.join(" + ")
                ),
                None => "The lesson's point does not show in this run: the scaffold made no intent decision.".into(),
            }
        }
        Point::FormAsksOnlyTheRest => match s.parts_repeated {
            0 => format!(
                "The lesson's point shows: the form asked only for what the opening left out ({} question(s)); the loop asked {} part(s) again.",
                questions(scaffold).len(),
                l.parts_repeated
            ),
            n => format!(
                "The form asked again about {n} thing(s) the opening had said: it did not extract them; the loop asked {} part(s) again.",
                l.parts_repeated
            ),
        },
        Point::Debate => {
            let rounds: std::collections::BTreeSet<u32> = scaffold
                .events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::DebateMessage { round, .. } => Some(*round),
                    _ => None,
                })
                .collect();
            match rounds.len() {
                0 => "The lesson's point does not show in this run: the scaffold's agents wrote no drafts.".into(),
                1 => format!(
                    "Only the first drafts were written ({} of them): no revision round, so no debate to follow.",
                    s.debate_messages
                ),
                n => format!(
                    "The lesson's point shows: {} drafts over {n} rounds before the synthesis; the loop searched {} time(s) on its own.",
                    s.debate_messages, l.retrievals
                ),
            }
        }
    }
}

/// The questions put to the user, in order.
fn questions(p: &Pane) -> Vec<String> {
    p.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::UserTurn { question, .. } => Some(question.clone()),
            _ => None,
        })
        .collect()
}

/// The documents the run's searches found, each once, in the order first found.
fn searched(p: &Pane) -> Vec<&str> {
    hit_names(p.events.iter().flat_map(|e| match &e.kind {
        EventKind::Retrieval { hits, .. } => hits.as_slice(),
        _ => &[],
    }))
}

/// The run's final answer and picks.
fn answer(p: &Pane) -> Option<(String, Vec<String>)> {
    p.events.iter().rev().find_map(|e| match &e.kind {
        EventKind::Answer { text, picks } => Some((text.clone(), picks.clone())),
        _ => None,
    })
}

fn stop_why(stop: &ladder_core::StopReason) -> String {
    use ladder_core::StopReason as S;
    match stop {
        S::BudgetExhausted { limit } => format!("its {limit} ran out"),
        S::Repeating { detail } => format!("repeating, {detail}"),
        S::Error { message } => format!("error, {message}"),
        other => other.label().to_string(),
    }
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
