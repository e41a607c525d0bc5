//! Scoring: a pure function from (suite, task, outcome, trace) to a [`Score`].
//!
//! - Recommendations: the answer's picks when it has them, else the knowledge-base entities
//!   its text recommends ([`crate::text`]: "avoid X", "X is a poor fit", "rather than X",
//!   "I don't recommend X" are rejections). With picks, the text must agree: a pick the
//!   text rejects, or a name the text recommends that is not a pick, fails. A recommended
//!   name that is not an entity (an invented place, a pick the knowledge base lacks) fails.
//! - Constraints: each hard profile fact whose slot has a check is judged against the
//!   entity's attributes ([`crate::check::evaluate`]), for every recommendation.
//! - Facts: each `must_mention` string must be stated in the answer (case-insensitive,
//!   whole words, spacing ignored), not only mentioned to deny it ("it is not 30 days").
//! - Detail: when a task needs a detail, the user must have given it (asked for in the
//!   trace, or stated in the opening).
//! - Hallucinations: names matching the suite's entity patterns that are not entities.
//! - Success is every verdict passing with an answer; partial credit: see [`Score::partial`].

use std::collections::BTreeSet;

use ladder_core::trace::{Event, EventKind};
use ladder_core::{Outcome, Task};
use serde::{Deserialize, Serialize};

use crate::check::{evaluate, hard_checks};
use crate::rules::{replay, Relevance};
use crate::suite::Suite;

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
    /// [`JUDGE_VERSION`] of the judge that gave this score.
    pub judge: u32,
    /// Who played the user and how patient they were (from the trace header).
    #[serde(default)]
    pub user: serde_json::Value,
    pub success: bool,
    /// Progress toward success: the share of the task's positive items (each hard
    /// constraint on the first recommendation, every further recommendation meeting all of
    /// them, each required fact, a needed detail) that the answer meets; 0 when a gating verdict fails (no answer, a forbidden or invented
    /// recommendation). 1.0 only with success.
    pub partial: f64,
    pub verdicts: Vec<Verdict>,
    pub recommended: Vec<String>,
    pub rejected: Vec<String>,
    pub hallucinations: Vec<String>,
    pub user_turns: u32,
    pub irrelevant_questions: u32,
    pub repeated_questions: u32,
    /// Question parts by how the user took them, as the user recorded them in the trace.
    #[serde(default)]
    pub parts: PartCounts,
    /// How the strategy's intent classifier did against the task's gold intents (only
    /// when the trace has an intent decision). Diagnostic: not part of success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<IntentCheck>,
    /// The share of the task's gold documents found by any of the run's searches (only
    /// when it searched and the task names gold documents). Diagnostic: not part of
    /// success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_recall: Option<f64>,
}

/// A classifier's labels against the gold ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentCheck {
    pub chosen: Vec<String>,
    pub gold: Vec<String>,
    /// The same set of labels (empty for both: the request is outside every label).
    pub exact: bool,
}

/// The first intent decision of a trace, checked against the gold intents; `None` (not
/// scored) when the trace has no decision or the task has no gold intents.
pub fn intent_check(task: &Task, events: &[Event]) -> Option<IntentCheck> {
    let gold = task.gold.intents.as_ref()?;
    let chosen = events.iter().find_map(|e| match &e.kind {
        EventKind::IntentDecision { chosen, .. } => Some(chosen.clone()),
        _ => None,
    })?;
    let mut a = chosen.clone();
    let mut b = gold.clone();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    Some(IntentCheck {
        exact: a == b,
        chosen,
        gold: gold.clone(),
    })
}

/// The share of the gold documents that any search of the run returned.
pub fn retrieval_recall(task: &Task, events: &[Event]) -> Option<f64> {
    if task.gold.documents.is_empty() {
        return None;
    }
    let mut found: Vec<&str> = Vec::new();
    let mut searched = false;
    for e in events {
        if let EventKind::Retrieval { hits, .. } = &e.kind {
            searched = true;
            found.extend(hits.iter().map(|h| h.document.as_str()));
        }
    }
    searched.then(|| {
        let got = task
            .gold
            .documents
            .iter()
            .filter(|d| found.contains(&d.as_str()))
            .count();
        got as f64 / task.gold.documents.len() as f64
    })
}

/// Question parts by kind ([`ladder_core::PartKind`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartCounts {
    pub answered: u32,
    pub repeated: u32,
    pub no_preference: u32,
    pub irrelevant: u32,
}

pub use crate::text::{mentions, recommendations, states, states_about, About};

/// The judge's version: scores of different versions are never put in one table.
/// 2: rejections read by segment and last cue, facts must be stated (not negated), picks,
/// recommended invented names fail, partial credit is 0 when a gating verdict fails.
/// 3: read as a person reads (measured on `fixtures/agreement/`): governing cues ("unlike
/// X", "better than X") reject only the name they govern, a contrast that turns against a
/// name or recommends another rejects it, rejections through "it" and after the name; a
/// place prefix makes a new (invented) name, a distinct short name is its title; facts in
/// any notation ("thirty days", "3-year", "2 pm", "fifteen per cent"), denied within three
/// words unless "until"/"before" turns it round, hedged ("might", "not sure") or listed as
/// one of several alternatives do not count, nor a fact said of a rival of the task's
/// subjects (its gold documents and what its opening names).
/// 4: where the picks and the text disagree, the text the user reads decides (was: a
/// failure): the text's recommendations stand for the picks when it makes any, else the
/// picks it does not reject. A facts answer naming its subject, its maker and a place
/// beside one pick is no longer failed for the names it mentions.
pub const JUDGE_VERSION: u32 = 4;

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
    let titles: Vec<&str> = suite
        .documents
        .iter()
        .map(|d| d.meta.title.as_str())
        .collect();
    out.extend(crate::text::prefixed(answer, &titles));
    out.into_iter().collect()
}

/// What the knowledge base's entities are called ("destination", "policy", "person"): the
/// most common `kind` of its documents.
fn entity_noun(suite: &Suite) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for d in &suite.documents {
        match counts.iter_mut().find(|(k, _)| *k == d.meta.kind) {
            Some(c) => c.1 += 1,
            None => counts.push((d.meta.kind.clone(), 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(k, _)| k)
        .unwrap_or_else(|| "entity".into())
}

fn verdict(what: impl Into<String>, ok: bool, detail: impl Into<String>) -> Verdict {
    Verdict {
        what: what.into(),
        ok,
        detail: detail.into(),
    }
}

pub fn score(suite: &Suite, task: &Task, outcome: &Outcome, events: &[Event]) -> Score {
    let answer = outcome.answer.clone().unwrap_or_default();
    let invented = hallucinations(suite, &answer);
    let titles: Vec<&str> = suite
        .documents
        .iter()
        .map(|d| d.meta.title.as_str())
        .collect();
    let mut names = titles.clone();
    names.extend(invented.iter().map(String::as_str));
    // Short names ("Tidewick"), read as their titles; only where one stands alone, not as
    // part of a longer name ("Bramholm Pointside Hotel").
    let short: Vec<(String, String)> = crate::text::short_names(&titles)
        .into_iter()
        .filter(|(s, _)| {
            crate::text::find_all(&answer, s).into_iter().any(|at| {
                !answer[at + s.len()..]
                    .trim_start_matches(' ')
                    .starts_with(|c: char| c.is_uppercase())
            })
        })
        .collect();
    names.extend(short.iter().map(|(s, _)| s.as_str()));
    let title_of = |n: String| {
        short
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(&n))
            .map_or(n, |(_, t)| t.clone())
    };
    let (text_recommended, rejected) = recommendations(&answer, &names);
    let dedup = |v: Vec<String>| {
        let mut out: Vec<String> = Vec::new();
        for n in v.into_iter().map(title_of) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    };
    let (text_recommended, rejected) = (dedup(text_recommended), dedup(rejected));
    let canonical = |name: &str| suite.entity(name).map(|d| d.meta.title.clone());
    let noun = entity_noun(suite);
    // Gating verdicts: any failure means no success and no partial credit.
    let mut gates: Vec<Verdict> = Vec::new();
    // The text the user reads decides: its recommendations when it makes any; else the
    // picks, less any the text rejects.
    let recommended: Vec<String> = if outcome.picks.is_empty() || !text_recommended.is_empty() {
        text_recommended.clone()
    } else {
        outcome
            .picks
            .iter()
            .map(|p| canonical(p).unwrap_or_else(|| p.clone()))
            .filter(|p| !rejected.iter().any(|r| r.eq_ignore_ascii_case(p)))
            .collect()
    };
    for r in &recommended {
        if canonical(r).is_none() {
            gates.push(verdict(
                format!("exists {r}"),
                false,
                format!("no {noun} of that name is in the knowledge base"),
            ));
        }
    }
    let mut verdicts = Vec::new();
    let mut partial_items: Vec<bool> = Vec::new();

    let checks = hard_checks(&suite.manifest, &task.profile);
    if !checks.is_empty() {
        let known: Vec<&String> = recommended
            .iter()
            .filter(|r| canonical(r).is_some())
            .collect();
        if known.is_empty() {
            verdicts.push(verdict(
                "recommendation",
                false,
                format!("the answer recommends no {noun} of the knowledge base"),
            ));
            partial_items.extend(checks.iter().map(|_| false));
        }
        for (rank, name) in known.iter().enumerate() {
            let Some(doc) = suite.entity(name) else {
                continue;
            };
            let mut all_met = true;
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
                all_met &= ok;
                if rank == 0 {
                    partial_items.push(ok);
                }
                if rank == 0 || !ok {
                    verdicts.push(verdict(fact.slot.clone(), ok, detail));
                }
            }
            // Each further recommendation is one more item: a shotgun list of places that
            // break the constraints does not keep the first one's full credit.
            if rank > 0 {
                partial_items.push(all_met);
            }
        }
    }

    // A fact must be said of what the task asks about: its gold documents' entities.
    let entities: Vec<(&str, &str)> = suite
        .documents
        .iter()
        .map(|d| (d.meta.title.as_str(), d.meta.kind.as_str()))
        .collect();
    // What the task is about: its gold documents, and the entities its opening names.
    let subjects: Vec<&str> = suite
        .documents
        .iter()
        .filter(|d| {
            task.gold.documents.contains(&d.meta.id)
                || !crate::text::find_all(&task.opening, &d.meta.title).is_empty()
        })
        .map(|d| d.meta.title.as_str())
        .collect();
    let facts: Vec<&str> = task
        .expect
        .must_mention
        .iter()
        .map(String::as_str)
        .collect();
    let about = About {
        entities: &entities,
        subjects: &subjects,
        facts: &facts,
    };
    for f in &task.expect.must_mention {
        let ok = states_about(&answer, f, about);
        partial_items.push(ok);
        let detail = if ok {
            "stated"
        } else if mentions(&answer, f) {
            "mentioned only to deny it"
        } else {
            "missing from the answer"
        };
        verdicts.push(verdict(format!("fact {f:?}"), ok, detail));
    }
    for name in &task.expect.must_not_recommend {
        if recommended.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            gates.push(verdict(format!("not {name}"), false, "recommended"));
        }
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
        verdicts.push(verdict(
            format!("detail {slot}"),
            ok,
            if ok {
                "obtained from the user"
            } else {
                "never asked for"
            },
        ));
    }
    let answered = outcome
        .answer
        .as_deref()
        .is_some_and(|a| !a.trim().is_empty());
    if !answered {
        gates.push(verdict(
            "answer",
            false,
            format!("no answer ({})", outcome.stop.label()),
        ));
    }
    let gated = !gates.is_empty();
    verdicts.extend(gates);
    let success = answered && verdicts.iter().all(|v| v.ok);
    let partial = if gated {
        0.0
    } else if partial_items.is_empty() {
        if success {
            1.0
        } else {
            0.0
        }
    } else {
        partial_items.iter().filter(|ok| **ok).count() as f64 / partial_items.len() as f64
    };
    let user = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Header(h) => Some(h.user.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let mut parts = PartCounts::default();
    for e in events {
        if let EventKind::UserTurn { parts: ps, .. } = &e.kind {
            for p in ps {
                *match p.kind {
                    ladder_core::PartKind::Answered => &mut parts.answered,
                    ladder_core::PartKind::Repeated => &mut parts.repeated,
                    ladder_core::PartKind::NoPreference => &mut parts.no_preference,
                    ladder_core::PartKind::Irrelevant => &mut parts.irrelevant,
                } += 1;
            }
        }
    }
    Score {
        task: task.id.clone(),
        judge: JUDGE_VERSION,
        user,
        success,
        partial,
        verdicts,
        recommended,
        rejected,
        hallucinations: invented,
        user_turns: questions.len() as u32,
        irrelevant_questions: relevance
            .iter()
            .filter(|r| matches!(r, Relevance::Irrelevant | Relevance::NoPreference(_)))
            .count() as u32,
        repeated_questions: relevance
            .iter()
            .filter(|r| matches!(r, Relevance::Repeated(_)))
            .count() as u32,
        parts,
        intent: intent_check(task, events),
        retrieval_recall: retrieval_recall(task, events),
    }
}
