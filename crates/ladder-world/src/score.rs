//! Scoring: a pure function from (suite, task, outcome, trace) to a [`Score`].
//!
//! - Recommendations: knowledge-base entities named in the answer, as whole words. A name
//!   whose clause rejects it ("avoid X", "X is too lively", "rather than X") is a rejection,
//!   not a recommendation.
//! - Constraints: each hard profile fact whose slot has a check is judged against the
//!   entity's attributes ([`crate::check::evaluate`]), for every recommendation.
//! - Facts: each `must_mention` string must appear in the answer (case-insensitive, whole
//!   words, spacing ignored).
//! - Detail: when a task needs a detail, the user must have given it (asked for in the
//!   trace, or stated in the opening).
//! - Hallucinations: names matching the suite's entity patterns that are not entities.
//! - Success is every verdict passing with an answer; partial credit is the share of
//!   verdicts that pass (constraints judged on the top recommendation).

use std::collections::BTreeSet;

use ladder_core::trace::{Event, EventKind};
use ladder_core::{Outcome, Task};
use serde::{Deserialize, Serialize};

use crate::check::evaluate;
use crate::suite::Suite;
use crate::user::{replay, Relevance};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// What was checked: "mood", "fact \"30 days\"", "detail order_number".
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub task: String,
    pub success: bool,
    pub partial: f64,
    pub verdicts: Vec<Verdict>,
    pub recommended: Vec<String>,
    pub rejected: Vec<String>,
    pub hallucinations: Vec<String>,
    pub user_turns: u32,
    pub irrelevant_questions: u32,
    pub repeated_questions: u32,
}

/// Cues before a name that reject it within its clause.
const BEFORE: [&str; 14] = [
    "avoid",
    "skip",
    "rather than",
    "instead of",
    "not",
    "except",
    "steer clear of",
    "rule out",
    "ruled out",
    "unlike",
    "over",
    "besides",
    "apart from",
    "don't go to",
];
/// Cues after a name that reject it within its clause.
const AFTER: [&str; 12] = [
    "is too",
    "are too",
    "isn't",
    "is not",
    "doesn't",
    "does not",
    "wouldn't",
    "would not",
    "is out",
    "won't",
    "lacks",
    "is ruled out",
];

/// Lowercase text with every run of non-alphanumerics turned into one space, padded.
fn normal(s: &str) -> String {
    let t: String = s
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "€%:.".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    format!(" {} ", t.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Does `text` contain `needle` as whole words?
pub fn mentions(text: &str, needle: &str) -> bool {
    let n = normal(needle);
    !n.trim().is_empty()
        && normal(text)
            .replace(". ", " ")
            .contains(&n.replace(". ", " "))
}

/// Byte positions of whole-word, case-insensitive occurrences of `name` in `text`.
fn find_all(text: &str, name: &str) -> Vec<usize> {
    let lower = text.to_lowercase();
    let needle = name.to_lowercase();
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    lower
        .match_indices(&needle)
        .filter(|(i, _)| {
            !is_word(lower[..*i].chars().next_back())
                && !is_word(lower[i + needle.len()..].chars().next())
        })
        .map(|(i, _)| i)
        .collect()
}

fn has_cue(window: &str, cues: &[&str]) -> bool {
    let w = normal(window);
    cues.iter().any(|c| w.contains(&normal(c)))
}

/// Entities mentioned in the answer, split into recommended and rejected, in order of
/// first mention.
pub fn recommendations(answer: &str, names: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut spans: Vec<(usize, usize, &str)> = names
        .iter()
        .flat_map(|n| {
            find_all(answer, n)
                .into_iter()
                .map(move |i| (i, i + n.len(), *n))
        })
        .collect();
    spans.sort();
    let boundary = |c: char| ".!?;\n".contains(c);
    let mut verdict: Vec<(&str, bool)> = Vec::new();
    for (k, &(start, end, name)) in spans.iter().enumerate() {
        let clause_start = answer[..start].rfind(boundary).map(|i| i + 1).unwrap_or(0);
        let prev_end = if k > 0 { spans[k - 1].1 } else { 0 };
        let before = &answer[clause_start.max(prev_end).min(start)..start];
        let clause_end = answer[end..]
            .find(boundary)
            .map(|i| end + i)
            .unwrap_or(answer.len());
        let next_start = spans.get(k + 1).map(|s| s.0).unwrap_or(answer.len());
        let after = &answer[end..clause_end.min(next_start).max(end)];
        let rejected = has_cue(before, &BEFORE) || has_cue(after, &AFTER);
        match verdict.iter_mut().find(|(n, _)| *n == name) {
            // A name counts as recommended if any of its mentions recommends it.
            Some(v) => v.1 = v.1 && rejected,
            None => verdict.push((name, rejected)),
        }
    }
    let (rej, rec): (Vec<_>, Vec<_>) = verdict.into_iter().partition(|(_, r)| *r);
    (
        rec.into_iter().map(|(n, _)| n.to_string()).collect(),
        rej.into_iter().map(|(n, _)| n.to_string()).collect(),
    )
}

/// Names matching the suite's entity patterns that are not entities of its knowledge base.
pub fn hallucinations(suite: &Suite, answer: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for p in &suite.manifest.entity_patterns {
        let Ok(re) = regex::Regex::new(p) else {
            continue;
        };
        for m in re.find_iter(answer) {
            let name = m.as_str();
            let known = suite.documents.iter().any(|d| {
                let title = d.meta.title.to_lowercase();
                let n = name.to_lowercase();
                title == n || title.contains(&n)
            });
            if !known {
                out.insert(name.to_string());
            }
        }
    }
    out.into_iter().collect()
}

pub fn score(suite: &Suite, task: &Task, outcome: &Outcome, events: &[Event]) -> Score {
    let answer = outcome.answer.clone().unwrap_or_default();
    let titles: Vec<&str> = suite
        .documents
        .iter()
        .map(|d| d.meta.title.as_str())
        .collect();
    let (recommended, rejected) = recommendations(&answer, &titles);
    let mut verdicts = Vec::new();
    let mut partial_items: Vec<bool> = Vec::new();

    let checks: Vec<_> = task
        .profile
        .iter()
        .filter(|f| f.hard)
        .filter_map(|f| {
            suite
                .manifest
                .slot(&f.slot)
                .and_then(|s| s.check.as_ref())
                .map(|c| (f, c))
        })
        .collect();
    if !checks.is_empty() {
        if recommended.is_empty() {
            verdicts.push(Verdict {
                what: "recommendation".into(),
                ok: false,
                detail: "the answer recommends no destination of the knowledge base".into(),
            });
            partial_items.extend(checks.iter().map(|_| false));
        }
        for (rank, name) in recommended.iter().enumerate() {
            let Some(doc) = suite.entity(name) else {
                continue;
            };
            for (fact, check) in &checks {
                let (ok, detail) =
                    match evaluate(check, &doc.meta.attributes, &fact.value, &task.profile) {
                        Ok(true) => (true, format!("{name} meets {} = {}", fact.slot, fact.value)),
                        Ok(false) => (
                            false,
                            format!("{name} breaks {} = {}", fact.slot, fact.value),
                        ),
                        Err(why) => (
                            false,
                            format!("{name} cannot be judged on {}: {why}", fact.slot),
                        ),
                    };
                if rank == 0 {
                    partial_items.push(ok);
                }
                if rank == 0 || !ok {
                    verdicts.push(Verdict {
                        what: fact.slot.clone(),
                        ok,
                        detail,
                    });
                }
            }
        }
    }

    for f in &task.expect.must_mention {
        let ok = mentions(&answer, f);
        partial_items.push(ok);
        verdicts.push(Verdict {
            what: format!("fact {f:?}"),
            ok,
            detail: if ok {
                "stated".into()
            } else {
                "missing from the answer".into()
            },
        });
    }
    for name in &task.expect.must_not_recommend {
        let ok = !recommended.iter().any(|r| r.eq_ignore_ascii_case(name));
        partial_items.push(ok);
        verdicts.push(Verdict {
            what: format!("not {name}"),
            ok,
            detail: if ok {
                "not recommended".into()
            } else {
                "recommended".into()
            },
        });
    }

    let questions: Vec<(&str, Option<&[String]>)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::UserTurn {
                question, matched, ..
            } => Some((question.as_str(), matched.as_deref())),
            _ => None,
        })
        .collect();
    let (given, relevance) = replay(&suite.manifest, task, &questions);
    if let Some(slot) = &task.expect.needs_detail {
        let ok = given.contains(slot);
        partial_items.push(ok);
        verdicts.push(Verdict {
            what: format!("detail {slot}"),
            ok,
            detail: if ok {
                "obtained from the user".into()
            } else {
                "never asked for".into()
            },
        });
    }
    let answered = outcome
        .answer
        .as_deref()
        .is_some_and(|a| !a.trim().is_empty());
    if !answered {
        verdicts.push(Verdict {
            what: "answer".into(),
            ok: false,
            detail: format!("no answer ({})", outcome.stop.label()),
        });
    }
    let success = answered && verdicts.iter().all(|v| v.ok);
    let partial = if !answered || partial_items.is_empty() {
        if success {
            1.0
        } else {
            0.0
        }
    } else {
        partial_items.iter().filter(|ok| **ok).count() as f64 / partial_items.len() as f64
    };
    Score {
        task: task.id.clone(),
        success,
        partial,
        verdicts,
        recommended,
        rejected,
        hallucinations: hallucinations(suite, &answer),
        user_turns: questions.len() as u32,
        irrelevant_questions: relevance
            .iter()
            .filter(|r| matches!(r, Relevance::Irrelevant | Relevance::NoPreference(_)))
            .count() as u32,
        repeated_questions: relevance
            .iter()
            .filter(|r| matches!(r, Relevance::Repeated(_)))
            .count() as u32,
    }
}
