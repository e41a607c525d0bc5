//! Reading an answer the way a person would: which named entities it recommends and which
//! it rejects, and whether it states a fact or only mentions it to deny it. Also the
//! crate's one text normaliser, [`normalise`], which every whole-word match in the crate
//! goes through (cues here, facts here and in `validate`, keywords in [`crate::rules`]);
//! [`Keep`] names what each job keeps besides letters and digits.
//!
//! Invariants (each has a case in `tests/judge.rs`):
//! - A mention is judged within its *segment*: the sentence, cut again at contrast words
//!   ("but", "however", "whereas", ...), never at the commas of a list, so "Avoid A, B and
//!   C" rejects all three.
//! - Within the segment, the last cue before the name decides: a rejecting cue ("avoid",
//!   "stay away from", "I don't recommend", "rather than", ...) rejects it, a recommending
//!   cue after it ("... and go to B") recommends again. A bare negation elsewhere in the
//!   segment ("Since you did not mention a budget, I suggest X") is not a cue; "not"
//!   directly before the name is.
//! - After the name, a rejecting phrase ("is too", "is a poor fit", "doesn't suit", ...)
//!   rejects it unless a relative clause stands between ("X, which is not too far").
//! - A name counts as recommended if any of its mentions recommends it.
//! - A fact is stated when some mention of it is not negated within its clause ("it is not
//!   30 days" does not state "30 days"; "30 days, not 14" does).

/// Cues before a name that reject it.
const REJECT_BEFORE: &[&str] = &[
    "avoid",
    "skip",
    "stay away from",
    "keep away from",
    "steer clear of",
    "rule out",
    "ruled out",
    "rather than",
    "instead of",
    "except",
    "unlike",
    "over",
    "apart from",
    "don't go to",
    "do not go to",
    "don't recommend",
    "do not recommend",
    "wouldn't recommend",
    "would not recommend",
    "can't recommend",
    "cannot recommend",
    "not recommend",
    "don't suggest",
    "do not suggest",
    "wouldn't suggest",
    "would not suggest",
    "advise against",
    "recommend against",
    "not a good idea to go to",
    "forget",
    "pass on",
    "not",
];

/// Cues before a name that recommend it (they undo an earlier rejecting cue).
const RECOMMEND_BEFORE: &[&str] = &[
    "recommend",
    "suggest",
    "go to",
    "go for",
    "go with",
    "head to",
    "opt for",
    "try",
    "choose",
    "pick",
    "visit",
    "consider",
    "book",
    "best",
    "ideal",
    "perfect",
    "great",
];

/// Words that turn a recommending cue just after them into a rejecting one.
const NEGATING: &[&str] = &[
    "not",
    "don't",
    "never",
    "wouldn't",
    "shouldn't",
    "can't",
    "cannot",
    "won't",
    "didn't",
    "doesn't",
    "no",
];

/// Phrases after a name that reject it.
const REJECT_AFTER: &[&str] = &[
    "is too",
    "are too",
    "would be too",
    "is a poor",
    "is a bad",
    "would be a poor",
    "would be a bad",
    "is not a good",
    "isn't a good",
    "is not suitable",
    "isn't suitable",
    "is unsuitable",
    "is not for you",
    "isn't for you",
    "is not right",
    "isn't right",
    "is not recommended",
    "isn't recommended",
    "is not an option",
    "isn't an option",
    "doesn't suit",
    "does not suit",
    "won't suit",
    "doesn't fit",
    "does not fit",
    "doesn't meet",
    "does not meet",
    "doesn't have",
    "does not have",
    "doesn't offer",
    "does not offer",
    "lacks",
    "is out",
    "is ruled out",
    "won't work",
    "will not work",
    "wouldn't work",
    "would not work",
    "fails",
    "breaks",
    "exceeds",
];

/// Words that start a relative or subordinate clause: a rejecting phrase after one of them
/// describes something else ("X, which is not too far").
const RELATIVE: &[&str] = &[
    "which",
    "where",
    "that",
    "who",
    "with",
    "so",
    "and it's not",
];

/// Contrast words that start a new segment.
const CONTRAST: &[&str] = &[
    " but ",
    " however",
    " whereas ",
    " while ",
    " although ",
    " though ",
    " on the other hand",
];

/// Which characters besides letters and digits a normalised text keeps, named for the job
/// each reading of a text does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Apostrophes ("don't", "wouldn't"): the cues of an answer; the word sets that
    /// `validate` compares.
    Apostrophes,
    /// `€`, `%`, `:` and `.`: facts, whose prices, shares, times and decimals must survive.
    Figures,
    /// Hyphens ("half-board"): a question's words, matched against slot keywords.
    Hyphens,
}

impl Keep {
    fn keeps(self, c: char) -> bool {
        match self {
            Keep::Apostrophes => c == '\'',
            Keep::Figures => "€%:.".contains(c),
            Keep::Hyphens => c == '-',
        }
    }
}

/// The crate's one text normaliser: `s` lowercased, every character that is neither
/// alphanumeric nor kept by `keep` turned into a space, runs of spaces collapsed into one,
/// and one space of padding on each side, so that `" {phrase} "` finds whole words only.
pub fn normalise(s: &str, keep: Keep) -> String {
    let t: String = s
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || keep.keeps(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    format!(" {} ", t.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An answer's words as cues are read in them: curly apostrophes read as straight ones
/// ("don’t" is "don't").
fn words(s: &str) -> String {
    normalise(&s.replace(['\u{2019}', '\u{2018}'], "'"), Keep::Apostrophes)
}

/// Where each cue occurs in `w` (already [`words`]): (end position, length, rejects).
fn cues(w: &str) -> Vec<(usize, usize, bool)> {
    let mut out = Vec::new();
    for (list, rejects) in [(REJECT_BEFORE, true), (RECOMMEND_BEFORE, false)] {
        for cue in list {
            let needle = format!(" {cue} ");
            let mut from = 0;
            while let Some(i) = w[from..].find(&needle) {
                let at = from + i;
                out.push((at + needle.len(), needle.len(), rejects));
                from = at + 1;
            }
        }
    }
    out
}

/// Byte positions of whole-word, case-insensitive occurrences of `name` in `text`.
pub fn find_all(text: &str, name: &str) -> Vec<usize> {
    let lower = text.to_lowercase();
    let needle = name.to_lowercase();
    if needle.is_empty() || lower.len() != text.len() {
        // Lowercasing changed byte lengths (rare scripts): fall back to exact case.
        return exact_find_all(text, name);
    }
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

fn exact_find_all(text: &str, name: &str) -> Vec<usize> {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    text.match_indices(name)
        .filter(|(i, _)| {
            !is_word(text[..*i].chars().next_back())
                && !is_word(text[i + name.len()..].chars().next())
        })
        .map(|(i, _)| i)
        .collect()
}

/// Byte offsets where segments start: after a sentence end (".", "!", "?" followed by a
/// space or the end, ";", a new line) or at a contrast word.
fn segment_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let boundary = match c {
            ';' | '\n' | '!' | '?' => true,
            '.' => bytes.get(end).is_none_or(|b| b.is_ascii_whitespace()),
            _ => false,
        };
        if boundary {
            starts.push(end);
        }
    }
    let lower = text.to_lowercase();
    if lower.len() == text.len() {
        for word in CONTRAST {
            for (i, _) in lower.match_indices(word) {
                starts.push(i);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// Entities mentioned in `answer`, split into recommended and rejected, each in order of
/// first mention.
pub fn recommendations(answer: &str, names: &[&str]) -> (Vec<String>, Vec<String>) {
    // Every mention; a shorter name inside a longer one's mention does not count.
    let mut spans: Vec<(usize, usize, &str)> = names
        .iter()
        .flat_map(|n| {
            find_all(answer, n)
                .into_iter()
                .map(move |i| (i, i + n.len(), *n))
        })
        .collect();
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut kept: Vec<(usize, usize, &str)> = Vec::new();
    for s in spans {
        if kept.last().is_none_or(|k| s.0 >= k.1) {
            kept.push(s);
        }
    }
    let starts = segment_starts(answer);
    let seg_start = |at: usize| {
        starts
            .iter()
            .rev()
            .find(|s| **s <= at)
            .copied()
            .unwrap_or(0)
    };
    let seg_end = |at: usize| {
        starts
            .iter()
            .find(|s| **s > at)
            .copied()
            .unwrap_or(answer.len())
    };
    let mut verdict: Vec<(&str, bool)> = Vec::new();
    for (k, &(start, end, name)) in kept.iter().enumerate() {
        // Before: from the segment's start, other names blanked out.
        let from = seg_start(start);
        let mut before = answer[from..start].to_string();
        for &(s, e, _) in kept[..k].iter().filter(|(s, _, _)| *s >= from) {
            before.replace_range(s - from..e - from, &"X".repeat(e - s));
        }
        let w = words(&before);
        let mut found = cues(&w);
        // A recommending cue right after a negation rejects: "I don't recommend", "I would
        // not go to", "never visit".
        for cue in found.iter_mut().filter(|c| !c.2) {
            let head: Vec<&str> = w[..cue.0 - cue.1 + 1].split_whitespace().collect();
            let negated = head.iter().rev().take(2).any(|p| NEGATING.contains(p));
            if negated {
                cue.2 = true;
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let last = found.last().copied();
        let rejected_before = match last {
            // "not" counts only directly before the name.
            Some((at, len, true)) if w[at - len..at].trim() == "not" => at == w.len(),
            Some((_, _, rejects)) => rejects,
            None => false,
        };
        // After: to the segment's end or the next mention.
        let until = seg_end(start)
            .min(kept.get(k + 1).map(|s| s.0).unwrap_or(answer.len()))
            .max(end);
        let after = words(&answer[end..until]);
        let rejected_after = REJECT_AFTER.iter().any(|cue| {
            after.find(&format!(" {cue} ")).is_some_and(|at| {
                let between = &after[..at + 1];
                !RELATIVE.iter().any(|r| between.contains(&format!(" {r} ")))
            })
        });
        let rejected = rejected_before || rejected_after;
        match verdict.iter_mut().find(|(n, _)| *n == name) {
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

/// A text's words as facts are matched in them: figures kept, and a "." that ends a
/// sentence dropped (the one inside "3.5" stays).
fn fact_words(s: &str) -> String {
    normalise(s, Keep::Figures).replace(". ", " ")
}

/// Does `text` contain `needle` as whole words?
pub fn mentions(text: &str, needle: &str) -> bool {
    let n = normalise(needle, Keep::Figures);
    !n.trim().is_empty() && fact_words(text).contains(&n.replace(". ", " "))
}

/// Words that deny what follows them within a few words.
const NEGATORS: &[&str] = &[
    "not", "no", "never", "t", "nor", "neither", "without", "instead", "rather", "longer", "other",
];

/// Does `text` state `fact`, not only mention it to deny it?
pub fn states(text: &str, fact: &str) -> bool {
    if fact.contains([',', ';']) {
        return mentions(text, fact);
    }
    let n = fact_words(fact);
    let n = n.trim();
    if n.is_empty() {
        return false;
    }
    // Clauses: cut at commas, semicolons and sentence ends (a "." inside a number stays).
    let mut clauses = Vec::new();
    let mut from = 0;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let cut = match c {
            ',' | ';' | '!' | '?' | '\n' => true,
            '.' => bytes.get(end).is_none_or(|b| b.is_ascii_whitespace()),
            _ => false,
        };
        if cut {
            clauses.push(&text[from..i]);
            from = end;
        }
    }
    clauses.push(&text[from..]);
    clauses.iter().any(|clause| {
        let c = fact_words(clause);
        let mut from = 0;
        while let Some(i) = c[from..].find(&format!(" {n} ")) {
            let at = from + i;
            let before: Vec<&str> = c[..at].split_whitespace().collect();
            let window = &before[before.len().saturating_sub(3)..];
            if !window.iter().any(|w| NEGATORS.contains(w)) {
                return true;
            }
            from = at + 1;
        }
        false
    })
}
