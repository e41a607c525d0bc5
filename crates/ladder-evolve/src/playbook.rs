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
//!   keeps, refuses or removes what the curator wrote. Two readings take words away, never
//!   add any: the listing's own marks a model copied into a text (`[L3]`, `(helped 2,
//!   misled 1)`) are dropped, and a text that reached the cap (the grammar's maxLength)
//!   without ending a sentence keeps its complete sentences (with none, it is refused).
//! - An add or edit that nearly repeats another lesson ([`near_same`]) is refused, so a
//!   playbook grown by [`apply`] or [`rewrite`] from one without repeats has none. A
//!   batch's removes apply first, then its adds and edits in order.
//! - [`Playbook::to_json`] is canonical (pretty JSON, fields in declaration order, lessons
//!   in id order), so a saved playbook's bytes and [`Playbook::hash`] are a function of
//!   its content.

use ladder_core::words::{same_words, words};
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

/// The text as a lesson keeps it (spaces collapsed, the listing's marks dropped, a cut
/// sentence left out), or why it cannot be one.
fn check_text(
    text: &str,
    cap: &Cap,
    refuse: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut t = without_marks(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    if t.chars().count() > cap.lesson_chars {
        return Err(format!(
            "longer than the cap of {} characters",
            cap.lesson_chars
        ));
    }
    // The grammar's length limit (the schema's maxLength, the cap) stopped the text
    // mid-sentence: it reached the cap as the model wrote it (or one short of it, as the
    // readers trim a cut that fell on a space) and does not end a sentence.
    if text.chars().count() + 1 >= cap.lesson_chars && !ends_sentence(&t) {
        match complete_sentences(&t) {
            Some(whole) => t = whole,
            None => {
                return Err(format!(
                    "cut off mid-sentence at the cap of {} characters",
                    cap.lesson_chars
                ))
            }
        }
    }
    if t.chars().count() < 12 {
        return Err("too short to be a lesson".into());
    }
    if let Some(why) = refuse(&t) {
        return Err(why);
    }
    Ok(t)
}

/// `playbook` with `deltas` applied (removes first, then the rest in order), in generation
/// `generation`. `refuse` says why a text may not be kept (the leak check), or `None`.
/// Refused deltas are returned with their reasons.
pub fn apply(
    playbook: &Playbook,
    deltas: &[Delta],
    generation: u32,
    cap: &Cap,
    refuse: &dyn Fn(&str) -> Option<String>,
) -> (Playbook, Vec<Refused>) {
    let mut p = playbook.clone();
    let mut refused = Vec::new();
    // Removes first: "add a merge of L2 and a candidate; remove L2" must not find the
    // merge a repeat of L2, nor the playbook full.
    let (removes, changes): (Vec<&Delta>, Vec<&Delta>) = deltas
        .iter()
        .partition(|d| matches!(d, Delta::Remove { .. }));
    for d in removes.into_iter().chain(changes) {
        let outcome: Result<(), String> = match d {
            Delta::Add { text, sources } => check_text(text, cap, refuse).and_then(|t| {
                if let Some(why) = repeats(p.lessons.iter(), &t) {
                    return Err(why);
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
                if let Some(why) = repeats(p.lessons.iter().filter(|l| l.id != *id), &t) {
                    return Err(why);
                }
                let l = p
                    .lessons
                    .iter_mut()
                    .find(|l| l.id == *id)
                    .ok_or_else(|| format!("no lesson {id}"))?;
                if same_words(&l.text, &t) {
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

/// Why `text` may not join `lessons`: the first it nearly repeats, with the share of
/// content words they hold in common.
fn repeats<'a>(lessons: impl Iterator<Item = &'a Lesson>, text: &str) -> Option<String> {
    lessons
        .filter(|l| near_same(&l.text, text))
        .map(|l| {
            format!(
                "{} already says this ({:.2} of their content words shared)",
                l.id,
                overlap(&l.text, text)
            )
        })
        .next()
}

/// Nearly the same lesson: the same words up to case, spacing and punctuation, or, over
/// their content words (function words such as "the", "before", "always" left out), at
/// least [`NEAR`] of the two sets shared (Jaccard), and both negated or neither ("do not
/// search before you answer" is not "search before you answer"). In a lesson of six to
/// ten content words that is a rewording by a word, or one word added.
pub fn near_same(a: &str, b: &str) -> bool {
    if same_words(a, b) {
        return true;
    }
    let negated = |s: &str| words(s).any(|w| NEGATIONS.contains(&w.as_str()));
    negated(a) == negated(b) && overlap(a, b) >= NEAR
}

/// The share of content words two lessons must hold in common to count as one.
pub const NEAR: f64 = 0.7;

/// Words that turn a lesson around (split at apostrophes: "don't" is "don" and "t").
const NEGATIONS: &[&str] = &[
    "not", "never", "no", "don", "doesn", "avoid", "without", "nor", "stop",
];

/// Words that say little of what a lesson teaches.
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "if", "then", "so", "to", "of", "for", "in", "on", "at",
    "by", "with", "from", "as", "into", "about", "before", "after", "when", "while", "until", "is",
    "are", "be", "been", "it", "its", "this", "that", "these", "those", "you", "your", "yourself",
    "they", "their", "them", "he", "she", "we", "i", "me", "my", "what", "which", "who", "whom",
    "how", "any", "each", "every", "all", "some", "do", "does", "will", "can", "could", "should",
    "must", "would", "may", "might", "always", "also", "just", "only", "more", "most", "very",
    "too", "s", "t", "re", "ve", "ll", "d",
];

/// The Jaccard share of two lessons' content words (0 when neither has any).
fn overlap(a: &str, b: &str) -> f64 {
    let set = |s: &str| {
        words(s)
            .filter(|w| !FUNCTION_WORDS.contains(&w.as_str()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (x, y) = (set(a), set(b));
    let union = x.union(&y).count();
    if union == 0 {
        return 0.0;
    }
    x.intersection(&y).count() as f64 / union as f64
}

/// The text without the marks of the listing the curator and reflector read (a leading
/// `[L3]`, a trailing `(helped 2, misled 1)`), which a model sometimes copies into a lesson.
fn without_marks(text: &str) -> String {
    let mut t = text.trim();
    if let Some(rest) = t.strip_prefix("[L") {
        if let Some((n, after)) = rest.split_once(']') {
            if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) {
                t = after.trim_start();
            }
        }
    }
    while let Some(open) = t.rfind("(helped ") {
        let tail = &t[open..];
        let counts = tail
            .trim_start_matches("(helped ")
            .trim_end()
            .strip_suffix(')')
            .and_then(|c| c.split_once(", misled "));
        match counts {
            Some((h, m))
                if !h.is_empty()
                    && !m.is_empty()
                    && h.chars().chain(m.chars()).all(|c| c.is_ascii_digit()) =>
            {
                t = t[..open].trim_end();
            }
            _ => break,
        }
    }
    t.to_string()
}

fn ends_sentence(t: &str) -> bool {
    t.trim_end_matches(['"', '\'', ')'])
        .ends_with(['.', '!', '?'])
}

/// The text up to the end of its last complete sentence, if it has one: a `.`, `!` or `?`
/// followed by a space and a capital ("e.g. the dates" ends no sentence).
fn complete_sentences(t: &str) -> Option<String> {
    let ends: Vec<usize> = t
        .char_indices()
        .filter(|&(i, c)| {
            let rest = &t[i + c.len_utf8()..];
            matches!(c, '.' | '!' | '?')
                && rest.starts_with(' ')
                && rest.trim_start().starts_with(char::is_uppercase)
        })
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    ends.last().map(|&e| t[..e].to_string())
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
            ["no lesson L9", "names a test answer", "no lesson L4"],
            "removes first, then the rest in order"
        );
    }

    #[test]
    fn copied_listing_marks_are_dropped_and_a_repeat_or_near_repeat_is_refused() {
        let first =
            "Ask the user what kind of trip they want before you search the knowledge base.";
        let (p, r) = apply(
            &Playbook::default(),
            &[add(first)],
            0,
            &Cap::default(),
            NONE,
        );
        assert!(r.is_empty(), "{r:?}");
        // What a curator copies from the listing, and rewordings by a word or two.
        let repeats = [
            "[L1] Ask the user what kind of trip they want before you search the knowledge base. (helped 3, misled 2)",
            "Ask the user what kind of trip they want before you search the knowledge base (helped 0, misled 0)",
            "Ask the user what kind of trip they would like before you search the knowledge base.",
            "Always ask the user what kind of trip they want before you search the knowledge base.",
            "ask the user, what kind of trip they want, before you search the knowledge base",
        ];
        for t in repeats {
            let (q, r) = apply(&p, &[add(t)], 1, &Cap::default(), NONE);
            assert_eq!(q.lessons.len(), 1, "kept a repeat: {t}");
            assert!(r[0].reason.contains("L1 already says this"), "{r:?}");
        }
        // Lessons on other things, however alike in form, are kept.
        let others = [
            "Ask the user about the budget and the dates before you recommend anything.",
            "Search the knowledge base again with other words when nothing fits.",
            "Give three options with one trade-off each, and say which fits best.",
        ];
        let deltas: Vec<Delta> = others.iter().map(|t| add(t)).collect();
        let (q, r) = apply(&p, &deltas, 1, &Cap::default(), NONE);
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(q.lessons.len(), 4);
        // An edit may not turn one lesson into another's repeat; marks go from edits too.
        let (q2, r) = apply(
            &q,
            &[
                Delta::Edit {
                    id: "L2".into(),
                    text: first.into(),
                    sources: vec![],
                },
                Delta::Edit {
                    id: "L3".into(),
                    text:
                        "[L3] Search again with other words when nothing fits. (helped 1, misled 0)"
                            .into(),
                    sources: vec![],
                },
            ],
            2,
            &Cap::default(),
            NONE,
        );
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].reason.contains("L1 already says this"), "{r:?}");
        assert_eq!(
            q2.get("L3").map(|l| l.text.as_str()),
            Some("Search again with other words when nothing fits.")
        );
    }

    #[test]
    fn a_text_cut_at_the_cap_keeps_its_complete_sentences_or_is_refused() {
        let cap = Cap {
            lessons: 10,
            lesson_chars: 60,
            total_chars: 600,
        };
        // Cut by the grammar's length limit, as the reply ends at exactly 60 characters.
        let cut = "Ask the user first. Then search the knowledge base for every";
        assert_eq!(cut.chars().count(), 60);
        let no_end = "Ask the user about every single wish they have and then sear";
        assert_eq!(no_end.chars().count(), 60);
        let whole = "Ask the user about their wishes before searching for places.";
        assert_eq!(whole.chars().count(), 60);
        let short_no_stop = "Name three places and say why each one fits best";
        let (p, r) = apply(
            &Playbook::default(),
            &[add(cut), add(no_end), add(whole), add(short_no_stop)],
            0,
            &cap,
            NONE,
        );
        let texts: Vec<&str> = p.lessons.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Ask the user first.",
                "Ask the user about their wishes before searching for places.",
                "Name three places and say why each one fits best"
            ]
        );
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].reason.contains("mid-sentence"), "{r:?}");
        // A cut that fell on a space (one short once trimmed) is a cut; a text short of the
        // cap is the model's whole text, period or none; "e.g." ends no sentence.
        let on_space = "Ask the user first. Then search the knowledge base for many ";
        assert_eq!(on_space.chars().count(), 60);
        let shorter = "Ask the user about their wishes and then search for places";
        assert_eq!(shorter.chars().count(), 58);
        let abbreviation = "Ask the user for details, e.g. the dates, budget and the num";
        assert_eq!(abbreviation.chars().count(), 60);
        let (p, r) = apply(
            &Playbook::default(),
            &[add(on_space), add(shorter), add(abbreviation)],
            0,
            &cap,
            NONE,
        );
        let texts: Vec<&str> = p.lessons.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Ask the user first.", shorter]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].reason.contains("mid-sentence"), "{r:?}");
    }

    #[test]
    fn lessons_alike_in_form_but_not_in_what_they_teach_are_all_kept() {
        let lessons = [
            "Ask the user for their budget before you search the knowledge base.",
            "Ask the user for their travel dates before you search the knowledge base.",
            "Ask the user how many days they have before you search the knowledge base.",
            "Search the knowledge base before you answer.",
            "Do not search the knowledge base before you ask the user anything.",
            "Never answer before you search the knowledge base.",
        ];
        let deltas: Vec<Delta> = lessons.iter().map(|t| add(t)).collect();
        let (p, r) = apply(&Playbook::default(), &deltas, 0, &Cap::default(), NONE);
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(p.lessons.len(), lessons.len());
        // A kept text that carried the listing's marks is stored without them.
        let (q, r) = apply(
            &Playbook::default(),
            &[add(
                "[L7] Give three options with one trade-off each. (helped 2, misled 1)",
            )],
            0,
            &Cap::default(),
            NONE,
        );
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(
            q.lessons[0].text,
            "Give three options with one trade-off each."
        );
    }

    #[test]
    fn a_merge_that_replaces_the_lesson_it_removes_is_kept() {
        let first =
            "Ask the user what kind of trip they want before you search the knowledge base.";
        let cap = Cap {
            lessons: 1,
            ..Cap::default()
        };
        let (p, _) = apply(&Playbook::default(), &[add(first)], 0, &cap, NONE);
        let merged =
            "Ask the user what kind of trip they want, and for how long, before you search the knowledge base.";
        // In the curator's order: the merge first, then the remove of what it merges.
        let (q, r) = apply(
            &p,
            &[add(merged), Delta::Remove { id: "L1".into() }],
            1,
            &cap,
            NONE,
        );
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(
            q.lessons
                .iter()
                .map(|l| (l.id.as_str(), l.text.as_str()))
                .collect::<Vec<_>>(),
            [("L2", merged)]
        );
        // Without the remove it is a repeat, named with its share of words.
        let (_, r) = apply(&p, &[add(merged)], 1, &Cap::default(), NONE);
        assert!(r[0].reason.starts_with("L1 already says this (0."), "{r:?}");
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
