//! The matching rules: what a question asks for, and what it was for a given user. Used by
//! the simulated user ([`crate::user`]), by `validate` (a form's question must ask for its
//! own slot) and by scoring (which replays the trace with [`replay`]).
//!
//! Invariants:
//! - Pure: plain data in, plain data out; no I/O, no embedder, no state.
//! - A question is cut into parts by [`parts`]; a part asks for a slot when one of the
//!   slot's keywords occurs in it as whole words ([`crate::text::normalise`] with
//!   [`Keep::Hyphens`]).
//! - [`replay`] over the questions of a trace, each with the slots the user recorded as
//!   matched, gives the same relevances the user answered with, so a score's counts always
//!   match what the user did.

use std::collections::BTreeSet;

use ladder_core::{PartKind, Task};

use crate::suite::Manifest;
use crate::text::{normalise, Keep};

/// What a question was, for this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relevance {
    /// Asked for these profile slots, at least one of them new.
    Answered(Vec<String>),
    /// Asked only for slots already given or stated in the opening.
    Repeated(Vec<String>),
    /// About a slot the suite knows but this user has no preference on.
    NoPreference(String),
    /// About nothing this user knows.
    Irrelevant,
}

impl Relevance {
    pub fn is_wasted(&self) -> bool {
        !matches!(self, Relevance::Answered(_))
    }

    pub fn kind(&self) -> PartKind {
        match self {
            Relevance::Answered(_) => PartKind::Answered,
            Relevance::Repeated(_) => PartKind::Repeated,
            Relevance::NoPreference(_) => PartKind::NoPreference,
            Relevance::Irrelevant => PartKind::Irrelevant,
        }
    }
}

/// Is this part of a question only a pleasantry ("Thanks!", "Happy to help.")? Not a
/// question (no "?"), not a request ("Tell me ...", "Please share ..."), and naming no slot
/// of the suite: a person hears it and answers nothing.
pub fn pleasantry(manifest: &Manifest, part: &str) -> bool {
    let w = words(part);
    let request = [
        " tell ",
        " share ",
        " describe ",
        " let me know ",
        " give me ",
        " list ",
        " say ",
    ]
    .iter()
    .any(|r| w.contains(r));
    !part.contains('?') && !request && slots_asked(manifest, part).is_empty()
}

/// Is this part an open question, one that asks for whatever the user wants
/// ("Anything else I should know?", "Tell me all your preferences.")? A person answers it
/// with what they have not said yet.
pub fn open_question(part: &str) -> bool {
    let w = words(part);
    [
        " anything else ",
        " anything more ",
        " something more ",
        " tell me more ",
        " a bit more ",
        " more about ",
        " looking for ",
        " preferences ",
        " what matters ",
        " matters most ",
        " hoping for ",
        " in mind ",
        " any details ",
        " details that ",
        " requirements ",
        " take into account ",
        " should know ",
        " need to know ",
        " tell me about your ",
        " what you want ",
        " what do you want ",
    ]
    .iter()
    .any(|p| w.contains(p))
}

/// The parts of a question: its sentences (ending in "?", "!", ";", a new line, or a "."
/// followed by a space), each answered on its own. "Domestic or abroad? Quiet or lively?"
/// has two parts; "Where from, and for how many days?" one (that asks for two slots).
pub fn parts(question: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = question.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let end = match c {
            '?' | '!' | ';' | '\n' => true,
            '.' => chars.peek().is_none_or(|n| n.is_whitespace()),
            _ => false,
        };
        if end {
            if current.chars().any(|c| c.is_alphanumeric()) {
                out.push(current.trim().to_string());
            }
            current.clear();
        }
    }
    if current.chars().any(|c| c.is_alphanumeric()) {
        out.push(current.trim().to_string());
    }
    if out.is_empty() {
        out.push(question.trim().to_string());
    }
    out
}

/// A question's words, as keywords are matched against them.
fn words(text: &str) -> String {
    normalise(text, Keep::Hyphens)
}

/// How many of `keywords` occur in `question` (already [`words`]) as whole words.
fn hits(keywords: &[String], question: &str) -> usize {
    keywords
        .iter()
        .filter(|k| question.contains(&format!(" {} ", k.to_lowercase())))
        .count()
}

/// Every slot of the manifest (not only the profile's) whose keywords appear in `text`.
pub fn slots_asked(manifest: &Manifest, text: &str) -> Vec<String> {
    let q = words(text);
    manifest
        .slots()
        .into_iter()
        .filter(|s| hits(&s.keywords, &q) > 0)
        .map(|s| s.name.clone())
        .collect()
}

/// The profile slots whose keywords appear in the question.
pub fn keyword_matches(manifest: &Manifest, task: &Task, question: &str) -> Vec<String> {
    if !manifest.interactive {
        return vec![];
    }
    let q = words(question);
    task.profile
        .iter()
        .filter(|f| {
            manifest
                .slot(&f.slot)
                .is_some_and(|s| hits(&s.keywords, &q) > 0)
        })
        .map(|f| f.slot.clone())
        .collect()
}

/// Which of the user's facts a question asks for (by keywords), given the slots already given.
pub fn classify(
    manifest: &Manifest,
    task: &Task,
    question: &str,
    given: &BTreeSet<String>,
) -> Relevance {
    relevance(
        manifest,
        task,
        question,
        &keyword_matches(manifest, task, question),
        given,
    )
}

/// The relevance of a question that matched the slots `matched`: profile slots, or (when
/// none of them is the profile's) a slot of the suite this user has no fact for.
pub fn relevance(
    manifest: &Manifest,
    task: &Task,
    question: &str,
    matched: &[String],
    given: &BTreeSet<String>,
) -> Relevance {
    if !manifest.interactive {
        return Relevance::Irrelevant;
    }
    let in_profile = |s: &String| task.profile.iter().any(|f| &f.slot == s);
    if let Some(other) = matched.iter().find(|s| !in_profile(s)) {
        if !matched.iter().any(in_profile) {
            return Relevance::NoPreference(other.clone());
        }
    }
    let matched: Vec<String> = matched.iter().filter(|s| in_profile(s)).cloned().collect();
    let matched = matched.as_slice();
    if matched.is_empty() {
        let q = words(question);
        return match manifest
            .slots()
            .into_iter()
            .find(|s| hits(&s.keywords, &q) > 0)
        {
            Some(s) => Relevance::NoPreference(s.name.clone()),
            None => Relevance::Irrelevant,
        };
    }
    let already = |slot: &String| {
        given.contains(slot) || task.profile.iter().any(|f| &f.slot == slot && f.stated)
    };
    if matched.iter().all(already) {
        Relevance::Repeated(matched.to_vec())
    } else {
        Relevance::Answered(matched.to_vec())
    }
}

/// Slots whose facts the user has given (stated in the opening or answered) by the end of
/// these questions, and the relevance of each. Each question comes with the slots the user
/// recorded as matched, when it recorded them; otherwise its keywords decide.
pub fn replay(
    manifest: &Manifest,
    task: &Task,
    questions: &[(&str, Option<&[String]>)],
) -> (BTreeSet<String>, Vec<Relevance>) {
    let mut given = stated(task);
    let mut out = Vec::new();
    for (q, recorded) in questions {
        let r = match recorded {
            Some(slots) => relevance(manifest, task, q, slots, &given),
            None => classify(manifest, task, q, &given),
        };
        if let Relevance::Answered(slots) | Relevance::Repeated(slots) = &r {
            given.extend(slots.iter().cloned());
        }
        out.push(r);
    }
    (given, out)
}

/// The slots whose facts the task's opening states: given before any question.
pub fn stated(task: &Task) -> BTreeSet<String> {
    task.profile
        .iter()
        .filter(|f| f.stated)
        .map(|f| f.slot.clone())
        .collect()
}
