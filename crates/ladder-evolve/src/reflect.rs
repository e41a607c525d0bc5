//! The model reading its own traces: a run's transcript made short ([`digest`]), the
//! reflection on one run, and the curator's changes to the playbook (deltas, or the whole
//! playbook anew), each a request under a JSON Schema and a reader of its reply.
//!
//! Invariants:
//! - Pure: requests are built and replies read here; the calls are made by the driver.
//! - What the reflector sees of a run is what the loop saw and did (the user's words, its
//!   actions, what came back, its answer) and the judge's verdict on it: never the task's
//!   hidden profile or expected answers as such (a dev task's verdict may name them; the
//!   leak check keeps held-out ones out of the playbook).
//! - Every lesson text in a reply is the model's own; the readers trim it, and the
//!   playbook collapses its runs of spaces, and nothing else.

use ladder_core::trace::{Event, EventKind};
use ladder_core::{ChatRequest, Constraint, Message, Sampling};
use ladder_world::Score;
use serde::{Deserialize, Serialize};

use crate::playbook::{Cap, Delta, Playbook};

pub const REFLECT_PROMPT: &str = include_str!("../prompts/reflect.txt");
pub const CURATE_PROMPT: &str = include_str!("../prompts/curate.txt");
pub const REWRITE_PROMPT: &str = include_str!("../prompts/rewrite.txt");

/// Changes the curator may propose at once.
pub const MAX_CHANGES: usize = 4;

/// The prompts' hash, saved with every generation.
pub fn prompts_hash() -> String {
    ladder_core::content_hash(&(REFLECT_PROMPT, CURATE_PROMPT, REWRITE_PROMPT))
}

/// One reflection on one dev run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reflection {
    pub task: String,
    pub success: bool,
    pub lesson: String,
    pub helpful: Vec<String>,
    pub harmful: Vec<String>,
    /// The model's reply as it came (what the lesson was read from).
    pub response: String,
}

fn clip(s: &str, chars: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= chars {
        s
    } else {
        format!("{}...", s.chars().take(chars).collect::<String>())
    }
}

/// A run's transcript, short: the opening, each action and what came back, the answer and
/// the judge's verdict with the checks that failed.
pub fn digest(opening: &str, events: &[Event], score: Option<&Score>) -> String {
    let mut s = format!("The user said: \"{}\"\n", clip(opening, 300));
    for e in events {
        match &e.kind {
            EventKind::Action {
                step,
                action,
                argument,
                parse_error,
            } => {
                if action == "answer" {
                    continue;
                }
                s.push_str(&format!("Step {step}, {action}: {}\n", clip(argument, 240)));
                if let Some(p) = parse_error {
                    s.push_str(&format!("  (could not be read: {})\n", clip(p, 120)));
                }
            }
            EventKind::UserTurn { reply, gave_up, .. } => {
                s.push_str(&format!(
                    "  The user replied: \"{}\"{}\n",
                    clip(reply, 240),
                    if *gave_up { " (and gave up)" } else { "" }
                ));
            }
            EventKind::Retrieval { hits, .. } => {
                let titles: Vec<&str> = hits.iter().map(|h| h.title.as_str()).collect();
                s.push_str(&format!(
                    "  Found: {}\n",
                    if titles.is_empty() {
                        "nothing".to_string()
                    } else {
                        titles.join("; ")
                    }
                ));
            }
            EventKind::Observation { text, .. } => {
                s.push_str(&format!("  (The loop said: {})\n", clip(text, 160)));
            }
            EventKind::Answer { text, .. } => {
                s.push_str(&format!("Answer: \"{}\"\n", clip(text, 500)));
            }
            EventKind::RunFinished { outcome } if outcome.answer.is_none() => {
                s.push_str(&format!(
                    "The run ended without an answer ({:?}).\n",
                    outcome.stop
                ));
            }
            _ => {}
        }
    }
    match score {
        Some(sc) => {
            s.push_str(if sc.success {
                "Verdict: success.\n"
            } else {
                "Verdict: failure.\n"
            });
            let failed: Vec<String> = sc
                .verdicts
                .iter()
                .filter(|v| !v.ok)
                .map(|v| format!("{}: {}", v.what, clip(&v.detail, 160)))
                .collect();
            if !failed.is_empty() {
                s.push_str(&format!("Failed checks: {}\n", failed.join("; ")));
            }
            if !sc.hallucinations.is_empty() {
                s.push_str(&format!(
                    "Names not in the knowledge base: {}\n",
                    sc.hallucinations.join(", ")
                ));
            }
            s.push_str(&format!("User turns: {}.\n", sc.user_turns));
        }
        None => s.push_str("Verdict: not scored.\n"),
    }
    s
}

fn listing(playbook: &Playbook) -> String {
    if playbook.lessons.is_empty() {
        return "Your playbook is empty.".into();
    }
    let mut s = "Your playbook:".to_string();
    for l in &playbook.lessons {
        s.push_str(&format!(
            "\n[{}] {} (helped {}, misled {})",
            l.id, l.text, l.helpful, l.harmful
        ));
    }
    s
}

fn ids(playbook: &Playbook) -> Vec<String> {
    playbook.lessons.iter().map(|l| l.id.clone()).collect()
}

fn request(
    system: &str,
    user: String,
    schema: serde_json::Value,
    max_tokens: u32,
    seed: u32,
) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system(system.trim()), Message::user(user)],
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed,
            max_tokens,
        },
        stop: Vec::new(),
        constraint: Some(Constraint::JsonSchema(schema)),
    }
}

fn id_list(ids: &[String]) -> serde_json::Value {
    if ids.is_empty() {
        serde_json::json!({"type": "array", "maxItems": 0})
    } else {
        serde_json::json!({"type": "array", "items": {"type": "string", "enum": ids}, "maxItems": 3})
    }
}

/// The reflection on one run.
pub fn reflect_request(playbook: &Playbook, digest: &str, cap: &Cap, seed: u32) -> ChatRequest {
    let ids = ids(playbook);
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "lesson": {"type": "string", "maxLength": cap.lesson_chars},
            "helpful": id_list(&ids),
            "harmful": id_list(&ids),
        },
        "required": ["lesson", "helpful", "harmful"],
    });
    let user = format!("{}\n\nThe attempt:\n{digest}", listing(playbook));
    request(
        REFLECT_PROMPT,
        user,
        schema,
        (cap.lesson_chars / 2 + 60) as u32,
        seed,
    )
}

/// A reflection's reply read.
pub fn read_reflection(task: &str, success: bool, text: &str) -> Reflection {
    #[derive(Deserialize)]
    struct Reply {
        #[serde(default)]
        lesson: String,
        #[serde(default)]
        helpful: Vec<String>,
        #[serde(default)]
        harmful: Vec<String>,
    }
    let r = serde_json::from_str::<Reply>(text.trim()).unwrap_or(Reply {
        lesson: String::new(),
        helpful: vec![],
        harmful: vec![],
    });
    Reflection {
        task: task.into(),
        success,
        lesson: r.lesson.trim().to_string(),
        helpful: r.helpful,
        harmful: r.harmful,
        response: text.to_string(),
    }
}

fn candidates(reflections: &[Reflection]) -> String {
    let mut s = "Candidate lessons:".to_string();
    for (i, r) in reflections.iter().enumerate() {
        s.push_str(&format!(
            "\n{}. ({}) {}",
            i + 1,
            if r.success {
                "from a success"
            } else {
                "from a failure"
            },
            r.lesson
        ));
    }
    s
}

/// The reflections that wrote a lesson, in order (the ones the curator is shown).
pub fn with_lessons(reflections: &[Reflection]) -> Vec<Reflection> {
    reflections
        .iter()
        .filter(|r| !r.lesson.is_empty())
        .cloned()
        .collect()
}

/// The curator's changes to the playbook, from the reflections that wrote a lesson.
pub fn curate_request(
    playbook: &Playbook,
    shown: &[Reflection],
    cap: &Cap,
    seed: u32,
) -> ChatRequest {
    let mut ids = vec![String::new()];
    ids.extend(self::ids(playbook));
    let numbers: Vec<usize> = (1..=shown.len().max(1)).collect();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "changes": {
                "type": "array",
                "maxItems": MAX_CHANGES,
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"type": "string", "enum": ["add", "edit", "remove"]},
                        "id": {"type": "string", "enum": ids},
                        "text": {"type": "string", "maxLength": cap.lesson_chars},
                        "from": {"type": "array", "items": {"type": "integer", "enum": numbers}, "maxItems": 4},
                    },
                    "required": ["op", "id", "text", "from"],
                },
            },
        },
        "required": ["changes"],
    });
    let user = format!(
        "{}\n\n{}\n\nThe playbook holds at most {} lessons. Use id \"\" for an add, text \"\" for a remove.",
        listing(playbook),
        candidates(shown),
        cap.lessons
    );
    let per_change = cap.lesson_chars / 2 + 40;
    request(
        CURATE_PROMPT,
        user,
        schema,
        (MAX_CHANGES * per_change + 20) as u32,
        seed,
    )
}

/// The curator's reply as deltas, each add's and edit's sources the shown reflections'
/// tasks it names.
pub fn read_curation(text: &str, shown: &[Reflection]) -> Vec<Delta> {
    #[derive(Deserialize)]
    struct Change {
        op: String,
        #[serde(default)]
        id: String,
        #[serde(default)]
        text: String,
        #[serde(default)]
        from: Vec<usize>,
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(default)]
        changes: Vec<Change>,
    }
    let Ok(r) = serde_json::from_str::<Reply>(text.trim()) else {
        return Vec::new();
    };
    r.changes
        .into_iter()
        .filter_map(|c| {
            let mut sources: Vec<String> = c
                .from
                .iter()
                .filter_map(|n| n.checked_sub(1).and_then(|i| shown.get(i)))
                .map(|r| r.task.clone())
                .collect();
            // Each source once, in the order the curator named them.
            let mut seen = std::collections::BTreeSet::new();
            sources.retain(|t| seen.insert(t.clone()));
            match c.op.as_str() {
                "add" => Some(Delta::Add {
                    text: c.text.trim().to_string(),
                    sources,
                }),
                "edit" => Some(Delta::Edit {
                    id: c.id,
                    text: c.text.trim().to_string(),
                    sources,
                }),
                "remove" => Some(Delta::Remove { id: c.id }),
                _ => None,
            }
        })
        .collect()
}

/// The whole playbook written anew (the rewrite mode).
pub fn rewrite_request(
    playbook: &Playbook,
    shown: &[Reflection],
    cap: &Cap,
    seed: u32,
) -> ChatRequest {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "lessons": {"type": "array", "maxItems": cap.lessons, "items": {"type": "string", "maxLength": cap.lesson_chars}},
        },
        "required": ["lessons"],
    });
    let user = format!(
        "{}\n\n{}\n\nWrite at most {} lessons.",
        listing(playbook),
        candidates(shown),
        cap.lessons
    );
    request(
        REWRITE_PROMPT,
        user,
        schema,
        (cap.lessons * (cap.lesson_chars / 2 + 10) + 20) as u32,
        seed,
    )
}

/// Whether a curator's reply is not the JSON its schema asks for (the rewrite's when
/// `rewrite`): the parent playbook is then kept, and the curation says so.
pub fn unreadable(rewrite: bool, text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
        return true;
    };
    let key = if rewrite { "lessons" } else { "changes" };
    !v.get(key).is_some_and(|x| x.is_array())
}

/// The rewrite's lessons.
pub fn read_rewrite(text: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Reply {
        #[serde(default)]
        lessons: Vec<String>,
    }
    serde_json::from_str::<Reply>(text.trim())
        .map(|r| {
            r.lessons
                .into_iter()
                .map(|l| l.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(task: &str, lesson: &str) -> Reflection {
        Reflection {
            task: task.into(),
            success: false,
            lesson: lesson.into(),
            helpful: vec![],
            harmful: vec![],
            response: String::new(),
        }
    }

    #[test]
    fn a_curation_reads_into_deltas_with_their_sources() {
        let shown = [r("sea-001", "Ask first."), r("sea-002", "Search first.")];
        let text = r#"{"changes": [{"op": "add", "id": "", "text": " Ask how long the trip is. ", "from": [2, 1, 9]}, {"op": "remove", "id": "L3", "text": "", "from": []}, {"op": "bogus", "id": "", "text": "", "from": []}]}"#;
        assert_eq!(
            read_curation(text, &shown),
            [
                Delta::Add {
                    text: "Ask how long the trip is.".into(),
                    sources: vec!["sea-002".into(), "sea-001".into()]
                },
                Delta::Remove { id: "L3".into() }
            ]
        );
        assert!(read_curation("not json", &shown).is_empty());
        assert_eq!(read_rewrite(r#"{"lessons": ["a", " b "]}"#), ["a", "b"]);
        assert_eq!(
            read_reflection(
                "t",
                true,
                r#"{"lesson": " x ", "helpful": ["L1"], "harmful": []}"#
            )
            .lesson,
            "x"
        );
    }
}
