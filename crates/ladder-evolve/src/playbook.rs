//! The playbook: itemised lessons with stable ids and provenance, changed only by
//! [`Delta`]s (add, edit, remove) or, in the other mode, replaced whole ([`rewrite`]).
//!
//! Invariants:
//! - Pure: nothing here reads a file or calls a model; [`apply`] and [`rewrite`] return the
//!   new playbook and what they refused, and never change the one they are given.
//! - An id is never reused: `next_id` only grows, so a removed lesson's id stays its own.
//! - The [`Cap`] always holds: a delta that would break it is refused (with the reason),
//!   never cut to fit.
//! - A lesson's text is only ever a model's own words: the code inserts none, it only
//!   keeps, refuses or removes what the curator wrote.
//! - [`Playbook::to_json`] is canonical (pretty JSON, fields in declaration order, lessons
//!   in id order), so a saved playbook's bytes and [`Playbook::hash`] are a function of
//!   its content.

use serde::{Deserialize, Serialize};

/// One lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lesson {
    /// `L1`, `L2`, ...: stable for the lesson's life.
    pub id: String,
    pub text: String,
    /// The generation whose traces it was drawn from, and the last that edited it.
    pub added_in: u32,
    pub edited_in: u32,
    /// The dev runs (task ids) whose reflections it came from.
    pub sources: Vec<String>,
    /// How often a reflection found it helped, or harmed, a run.
    pub helpful: u32,
    pub harmful: u32,
}

/// The whole playbook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playbook {
    pub lessons: Vec<Lesson>,
    /// The number of the next lesson's id.
    pub next_id: u32,
}

/// How large a playbook may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    pub lessons: usize,
    /// Characters of one lesson's text.
    pub lesson_chars: usize,
    /// Characters of all the lessons' texts together.
    pub total_chars: usize,
}

impl Default for Cap {
    fn default() -> Self {
        Cap {
            lessons: 10,
            lesson_chars: 200,
            total_chars: 1600,
        }
    }
}

/// A change the curator proposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Delta {
    Add {
        text: String,
        sources: Vec<String>,
    },
    Edit {
        id: String,
        text: String,
        sources: Vec<String>,
    },
    Remove {
        id: String,
    },
}

/// A delta that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub delta: Delta,
    pub reason: String,
}

/// The heading of the playbook in the loop's system prompt.
pub const HEADING: &str =
    "Your playbook: lessons you drew from your own earlier tasks. Follow them where they apply.";

impl Playbook {
    /// The text placed in the loop's system prompt; empty for an empty playbook.
    pub fn render(&self) -> String {
        if self.lessons.is_empty() {
            return String::new();
        }
        let mut s = HEADING.to_string();
        for l in &self.lessons {
            s.push_str(&format!("\n- [{}] {}", l.id, l.text));
        }
        s
    }

    /// The canonical bytes of the playbook (what is saved and hashed).
    pub fn to_json(&self) -> String {
        let mut p = self.clone();
        p.lessons.sort_by_key(|l| id_number(&l.id));
        let mut s = serde_json::to_string_pretty(&p).expect("a playbook serialises");
        s.push('\n');
        s
    }

    /// SHA-256 of the canonical bytes.
    pub fn hash(&self) -> String {
        ladder_core::content_hash(&self.to_json())
    }

    /// Characters of all the lessons' texts.
    pub fn chars(&self) -> usize {
        self.lessons.iter().map(|l| l.text.chars().count()).sum()
    }

    pub fn get(&self, id: &str) -> Option<&Lesson> {
        self.lessons.iter().find(|l| l.id == id)
    }

    /// Count a reflection's verdicts on lessons: each named lesson once (unknown ids are
    /// ignored).
    pub fn tally(&mut self, helpful: &[String], harmful: &[String]) {
        for l in &mut self.lessons {
            l.helpful += u32::from(helpful.contains(&l.id));
            l.harmful += u32::from(harmful.contains(&l.id));
        }
    }
}

fn id_number(id: &str) -> u32 {
    id.trim_start_matches('L').parse().unwrap_or(u32::MAX)
}

/// The text as a lesson keeps it (spaces collapsed), or why it cannot be one.
fn check_text(
    text: &str,
    cap: &Cap,
    refuse: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() < 12 {
        return Err("too short to be a lesson".into());
    }
    if t.chars().count() > cap.lesson_chars {
        return Err(format!(
            "longer than the cap of {} characters",
            cap.lesson_chars
        ));
    }
    if let Some(why) = refuse(&t) {
        return Err(why);
    }
    Ok(t)
}

/// `playbook` with `deltas` applied in order, in generation `generation`. `refuse` says
/// why a text may not be kept (the leak check), or `None`. Refused deltas are returned
/// with their reasons.
pub fn apply(
    playbook: &Playbook,
    deltas: &[Delta],
    generation: u32,
    cap: &Cap,
    refuse: &dyn Fn(&str) -> Option<String>,
) -> (Playbook, Vec<Refused>) {
    let mut p = playbook.clone();
    let mut refused = Vec::new();
    for d in deltas {
        let outcome: Result<(), String> = match d {
            Delta::Add { text, sources } => check_text(text, cap, refuse).and_then(|t| {
                if p.lessons.iter().any(|l| same(&l.text, &t)) {
                    return Err("the playbook already has this lesson".into());
                }
                if p.lessons.len() >= cap.lessons {
                    return Err(format!(
                        "the playbook is full ({} lessons): edit or remove one first",
                        cap.lessons
                    ));
                }
                if p.chars() + t.chars().count() > cap.total_chars {
                    return Err(format!(
                        "the playbook would pass {} characters",
                        cap.total_chars
                    ));
                }
                p.next_id = p.next_id.max(1);
                p.lessons.push(Lesson {
                    id: format!("L{}", p.next_id),
                    text: t,
                    added_in: generation,
                    edited_in: generation,
                    sources: sources.clone(),
                    helpful: 0,
                    harmful: 0,
                });
                p.next_id += 1;
                Ok(())
            }),
            Delta::Edit { id, .. } if p.get(id).is_none() => Err(format!("no lesson {id}")),
            Delta::Edit { id, text, sources } => check_text(text, cap, refuse).and_then(|t| {
                let others = p
                    .lessons
                    .iter()
                    .filter(|l| l.id != *id)
                    .map(|l| l.text.chars().count())
                    .sum::<usize>();
                if others + t.chars().count() > cap.total_chars {
                    return Err(format!(
                        "the playbook would pass {} characters",
                        cap.total_chars
                    ));
                }
                let l = p
                    .lessons
                    .iter_mut()
                    .find(|l| l.id == *id)
                    .ok_or_else(|| format!("no lesson {id}"))?;
                if same(&l.text, &t) {
                    return Err("the edit changes nothing".into());
                }
                l.text = t;
                l.edited_in = generation;
                for s in sources {
                    if !l.sources.contains(s) {
                        l.sources.push(s.clone());
                    }
                }
                Ok(())
            }),
            Delta::Remove { id } => {
                let before = p.lessons.len();
                p.lessons.retain(|l| l.id != *id);
                if p.lessons.len() == before {
                    Err(format!("no lesson {id}"))
                } else {
                    Ok(())
                }
            }
        };
        if let Err(reason) = outcome {
            refused.push(Refused {
                delta: d.clone(),
                reason,
            });
        }
    }
    (p, refused)
}

/// The other mode: the playbook replaced whole by `texts` (the curator's rewrite), each new
/// lesson with a new id and every source of the generation. What breaks the cap or is
/// refused is left out and returned.
pub fn rewrite(
    playbook: &Playbook,
    texts: &[String],
    sources: &[String],
    generation: u32,
    cap: &Cap,
    refuse: &dyn Fn(&str) -> Option<String>,
) -> (Playbook, Vec<Refused>) {
    let empty = Playbook {
        lessons: Vec::new(),
        next_id: playbook.next_id,
    };
    let deltas: Vec<Delta> = texts
        .iter()
        .map(|t| Delta::Add {
            text: t.clone(),
            sources: sources.to_vec(),
        })
        .collect();
    apply(&empty, &deltas, generation, cap, refuse)
}

/// The same text up to case, spacing and punctuation.
fn same(a: &str, b: &str) -> bool {
    ladder_core::words::same_words(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(t: &str) -> Delta {
        Delta::Add {
            text: t.into(),
            sources: vec!["sea-001".into()],
        }
    }

    const NONE: &dyn Fn(&str) -> Option<String> = &|_| None;

    #[test]
    fn deltas_add_edit_and_remove_with_stable_ids() {
        let cap = Cap::default();
        let (p, r) = apply(
            &Playbook::default(),
            &[
                add("Ask how many days before answering."),
                add("Search the catalogue before naming a place."),
            ],
            0,
            &cap,
            NONE,
        );
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(
            p.lessons.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            ["L1", "L2"]
        );
        let (q, r) = apply(
            &p,
            &[
                Delta::Remove { id: "L1".into() },
                Delta::Edit {
                    id: "L2".into(),
                    text: "Search before naming any place.".into(),
                    sources: vec!["sea-002".into()],
                },
                add("Say why each place fits the wishes."),
            ],
            1,
            &cap,
            NONE,
        );
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(
            q.lessons.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            ["L2", "L3"],
            "a removed id is never reused"
        );
        assert_eq!(
            q.get("L2").map(|l| (l.edited_in, l.sources.len())),
            Some((1, 2))
        );
        assert_eq!(p.lessons.len(), 2, "the playbook given is not changed");
    }

    #[test]
    fn the_cap_holds_and_what_breaks_it_is_refused_with_a_reason() {
        let cap = Cap {
            lessons: 2,
            lesson_chars: 40,
            total_chars: 60,
        };
        let deltas = [
            add("Ask how many days first."),
            add("This lesson is far too long to fit in forty characters."),
            add("Search before you answer."),
            add("Name three places, not one."),
            add("short"),
        ];
        let (p, r) = apply(&Playbook::default(), &deltas, 0, &cap, NONE);
        assert_eq!(p.lessons.len(), 2);
        assert!(p.chars() <= 60);
        let reasons: Vec<&str> = r.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("40 characters"), "{reasons:?}");
        assert!(reasons[1].contains("full"), "{reasons:?}");
        assert!(reasons[2].contains("short"), "{reasons:?}");
    }

    #[test]
    fn a_refused_text_is_left_out_and_unknown_ids_are_named() {
        let refuse = |t: &str| {
            t.contains("Gullby")
                .then(|| "names a test answer".to_string())
        };
        let (p, r) = apply(
            &Playbook::default(),
            &[
                add("Recommend Gullby Cove for divers."),
                Delta::Remove { id: "L9".into() },
                Delta::Edit {
                    id: "L4".into(),
                    text: "Ask about the budget early.".into(),
                    sources: vec![],
                },
            ],
            0,
            &Cap::default(),
            &refuse,
        );
        assert!(p.lessons.is_empty());
        assert_eq!(
            r.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
            ["names a test answer", "no lesson L9", "no lesson L4"]
        );
    }

    #[test]
    fn the_canonical_bytes_are_the_contents_and_a_rewrite_starts_new_ids() {
        let (p, _) = apply(
            &Playbook::default(),
            &[add("Ask how many days before answering.")],
            0,
            &Cap::default(),
            NONE,
        );
        let back: Playbook = serde_json::from_str(&p.to_json()).expect("reads back");
        assert_eq!(back.to_json(), p.to_json());
        assert_eq!(back.hash(), p.hash());
        let (q, _) = rewrite(
            &p,
            &["Ask about days and budget together.".into()],
            &["sea-003".into()],
            1,
            &Cap::default(),
            NONE,
        );
        assert_eq!(
            q.lessons.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            ["L2"]
        );
        assert!(p.render().starts_with(HEADING) && p.render().contains("[L1] Ask how many days"));
        assert_eq!(Playbook::default().render(), "");
    }
}
