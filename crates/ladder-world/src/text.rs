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
//! - A governing cue ("unlike", "rather than", "better than", "compared with") rejects only
//!   the name it governs: within three words after it, and not past a comma unless a list
//!   goes on ("Compared with X, Y is better" rejects X only).
//! - A contrast later in the sentence that turns against a name ("X is lively, but there's
//!   no sailing") or recommends another ("..., but Y suits you") rejects it, unless a
//!   recommending cue stood before it; a rejection through "it" ("so I would not suggest
//!   it") holds whatever clause stands between.
//! - A name counts as recommended if any of its mentions recommends it.
//! - Figures are read in one notation ([`canonical_figures`]): "thirty days", "30-day" and
//!   "30 days" are one fact; so are "2 pm" and "14:00".
//! - A fact is stated when some mention of it is not denied in the three words before it
//!   (articles aside; "until"/"before" turns a denial round), in a sentence that does not
//!   hedge it, not as one of several named alternatives, and not of a rival of the task's
//!   subjects ([`states_about`]).

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
    "than",
    "beats",
    "outshines",
    "compared with",
    "compared to",
    "confused with",
    "left out",
    "leave out",
    "leaving out",
    "not including",
    "preferable to",
    "in preference to",
];

/// Rejecting cues that are prepositions: they reject the name they govern, right after
/// them ("unlike X", "rather than X", "better than X"), not a name further on in their
/// sentence ("Unlike X, which is busy, Y is quiet").
const GOVERNING: &[&str] = &[
    "unlike",
    "rather than",
    "instead of",
    "except",
    "over",
    "apart from",
    "than",
    "compared with",
    "compared to",
    "confused with",
    "preferable to",
    "in preference to",
];

/// How many words may stand between a governing cue and the name it governs, other names
/// and "and"/"or" aside ("unlike the busy X").
const GOVERNED_GAP: usize = 3;

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
    "worse than",
    "less suitable than",
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
    "is worse",
    "is a worse",
    "would be worse",
    "is not something",
    "isn't something",
    "is not somewhere",
    "isn't somewhere",
    "is not the one",
    "isn't the one",
    "is not the right",
    "isn't the right",
    "has no",
    "there's no",
    "there is no",
    "is beyond",
    "is outside",
    "it's beyond",
    "it's outside",
];

/// Phrases after a name that reject it through a pronoun or a judgement of the user's
/// wishes, whatever clause stands between ("X is lively, and that is not what you're
/// after, so I would not suggest it").
const REJECT_IT: &[&str] = &[
    "not suggest it",
    "n't suggest it",
    "not recommend it",
    "n't recommend it",
    "skip it",
    "avoid it",
    "rule it out",
    "give it a miss",
    "not what you",
    "isn't what you",
    "not for you",
];

/// Words in the contrast that follows a mention which turn against it ("X is lively, but
/// there's no sailing there").
const AGAINST: &[&str] = &[
    "no", "not", "isn't", "aren't", "doesn't", "don't", "lacks", "without", "too", "won't",
    "wouldn't", "can't", "cannot", "never", "only", "beyond", "outside",
];

/// Phrases in a contrast that recommend the name it holds ("X is lively, but Y suits
/// you"), besides the cues before a name.
const SUITS: &[&str] = &[
    "suits",
    "fits",
    "is ideal",
    "is perfect",
    "is the one",
    "is better",
    "is the better",
    "is a better",
    "works",
    "has the",
    "is what you",
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
    let mut starts = sentence_starts(text);
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
    let seg_start = |at: usize| around(&starts, at, answer.len()).0;
    let seg_end = |at: usize| around(&starts, at, answer.len()).1;
    struct Mention<'a> {
        name: &'a str,
        start: usize,
        rejected: bool,
        /// A recommending cue stands before it.
        cued: bool,
    }
    let mut mentions: Vec<Mention> = Vec::new();
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
        // A governing cue ("unlike", "than") rejects only the name it governs.
        found.retain(|&(at, len, rejects)| {
            let cue = w[at - len..at].trim();
            if !rejects || !GOVERNING.contains(&cue) {
                return true;
            }
            let gap = w[at..]
                .split_whitespace()
                .filter(|g| !g.chars().all(|c| c == 'x') && !matches!(*g, "and" | "or"))
                .count();
            // "Compared with X, Y is better": a comma after the governed name ends its
            // reach, unless this name goes on a list ("rather than X, Y or Z").
            let comma_last = before.trim_end().ends_with(',');
            let next_mention = kept.get(k + 1).map_or(answer.len(), |s| s.0).max(end);
            let listed = matches!(
                words(&answer[end..next_mention]).split_whitespace().next(),
                Some("and" | "or" | "nor")
            );
            gap <= GOVERNED_GAP && (listed || !comma_last)
        });
        found.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let last = found.last().copied();
        let cued = matches!(last, Some((_, _, false)));
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
        let rejected_it = REJECT_IT
            .iter()
            .any(|cue| after.contains(&format!("{cue} ")));
        mentions.push(Mention {
            name,
            start,
            rejected: rejected_before || rejected_after || rejected_it,
            cued,
        });
    }
    let sentences = sentence_starts(answer);
    let sentence_end = |at: usize| around(&sentences, at, answer.len()).1;
    // A contrast after a mention, in its sentence, that turns against it or recommends
    // another name rejects it, unless a cue recommended it ("X is lively, but Y suits you").
    let turned: Vec<bool> = mentions
        .iter()
        .map(|m| {
            if m.rejected || m.cued {
                return false;
            }
            let end_of_sentence = sentence_end(m.start);
            let mut at = seg_end(m.start);
            while at < end_of_sentence {
                let next = seg_end(at).min(end_of_sentence);
                let others: Vec<&Mention> = mentions
                    .iter()
                    .filter(|o| o.start >= at && o.start < next)
                    .collect();
                let t = words(&answer[at..next]);
                if others.is_empty() {
                    if t.split_whitespace().any(|w| AGAINST.contains(&w)) {
                        return true;
                    }
                } else if others.iter().any(|o| {
                    o.name != m.name
                        && !o.rejected
                        && (o.cued || SUITS.iter().any(|s| t.contains(&format!(" {s} "))))
                }) {
                    return true;
                }
                at = next.max(at + 1);
            }
            false
        })
        .collect();
    let mut verdict: Vec<(&str, bool)> = Vec::new();
    for (m, turned) in mentions.iter().zip(turned) {
        let rejected = m.rejected || turned;
        match verdict.iter_mut().find(|(n, _)| *n == m.name) {
            Some(v) => v.1 = v.1 && rejected,
            None => verdict.push((m.name, rejected)),
        }
    }
    let (rej, rec): (Vec<_>, Vec<_>) = verdict.into_iter().partition(|(_, r)| *r);
    (
        rec.into_iter().map(|(n, _)| n.to_string()).collect(),
        rej.into_iter().map(|(n, _)| n.to_string()).collect(),
    )
}

/// Words that make a new place of the name they stand before ("North Gullby Cove" is not
/// Gullby Cove).
const PLACE_PREFIXES: &[&str] = &[
    "North", "South", "East", "West", "Upper", "Lower", "Little", "Great", "Old", "New", "Greater",
    "Saint", "St", "Port", "Mount", "Cape", "Isle",
];

/// Names made by a place prefix before one of `names` ("Upper Wrenholm Bay"), as the
/// answer writes them: a longer name that is not the known one.
pub fn prefixed(answer: &str, names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        for at in find_all(answer, name) {
            let head = answer[..at].trim_end_matches(' ');
            if head.len() + 1 != at {
                continue;
            }
            let word = head
                .rsplit(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default();
            if PLACE_PREFIXES.contains(&word)
                && !names.iter().any(|n| n.starts_with(&format!("{word} ")))
            {
                let full = format!("{word} {}", &answer[at..at + name.len()]);
                if !out.contains(&full) {
                    out.push(full);
                }
            }
        }
    }
    out
}

/// Short names a person would read as one entity: the first word of a title whose other
/// words are generic (each also in another title: "Point", "Sands"), when no other title
/// has that word ("Tidewick" for "Tidewick Point", never "Praia" or "Lumo"). As (short
/// name, title).
pub fn short_names(titles: &[&str]) -> Vec<(String, String)> {
    let words_of =
        |t: &str| -> Vec<String> { t.split_whitespace().map(str::to_lowercase).collect() };
    let all: Vec<Vec<String>> = titles.iter().map(|t| words_of(t)).collect();
    let count = |w: &str| all.iter().filter(|ws| ws.iter().any(|x| x == w)).count();
    titles
        .iter()
        .zip(&all)
        .filter_map(|(title, ws)| {
            let first = title.split_whitespace().next()?;
            let generic_rest = ws.len() >= 2 && ws[1..].iter().all(|w| count(w) >= 2);
            let distinct = first.chars().count() >= 5
                && first.chars().next().is_some_and(char::is_uppercase)
                && count(&ws[0]) == 1;
            (generic_rest && distinct).then(|| (first.to_string(), title.to_string()))
        })
        .collect()
}

/// A text's words as facts are matched in them: figures kept, a "." that ends a sentence
/// dropped (the one inside "3.5" stays), and every way of writing a figure made one
/// ([`canonical_figures`]): "thirty days" and "30-day" are "30 days".
fn fact_words(s: &str) -> String {
    canonical_figures(&normalise(s, Keep::Figures).replace(". ", " "))
}

/// Number words and their values: units and teens, then tens.
const UNITS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: &[&str] = &[
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Units a figure is counted in, singular and plural: after a number both read as the
/// plural, so "a 3-year warranty" and "3 years" are one figure.
const COUNTED: &[(&str, &str)] = &[
    ("year", "years"),
    ("month", "months"),
    ("day", "days"),
    ("hour", "hours"),
    ("minute", "minutes"),
    ("second", "seconds"),
    ("point", "points"),
    ("metre", "metres"),
    ("meter", "metres"),
    ("meters", "metres"),
];

/// The value of a number word below 100 ("seventeen", "ninety"), if it is one.
fn small_number(w: &str) -> Option<u64> {
    UNITS
        .iter()
        .position(|u| *u == w)
        .or_else(|| {
            TENS.iter()
                .position(|t| !t.is_empty() && *t == w)
                .map(|i| i * 10)
        })
        .map(|v| v as u64)
}

/// Read number words starting at `words[i]`: the value and how many words it took.
/// "twenty four" is 24, "one thousand and twenty four" 1024, "a hundred" 100, and two
/// numbers of two digits in a row read as a year ("seventeen ninety six" is 1796).
fn number_words(words: &[&str], i: usize) -> Option<(u64, usize)> {
    // A pair below 100 read as one: "twenty four", or "seventeen" alone.
    let pair = |at: usize| -> Option<(u64, usize)> {
        let first = small_number(words.get(at)?)?;
        if first >= 20 && first % 10 == 0 {
            if let Some(unit) = words.get(at + 1).and_then(|w| small_number(w)) {
                if (1..10).contains(&unit) {
                    return Some((first + unit, 2));
                }
            }
        }
        Some((first, 1))
    };
    let starts_with_a = words.get(i) == Some(&"a")
        && matches!(words.get(i + 1), Some(&"hundred") | Some(&"thousand"));
    let bare = matches!(words.get(i), Some(&"hundred") | Some(&"thousand"));
    let (mut total, mut current, mut used) = if starts_with_a {
        (0, 1, 1)
    } else if bare {
        (0, 1, 0)
    } else {
        let (v, n) = pair(i)?;
        // A year said in two pairs: "seventeen ninety", "fourteen forty five".
        if (10..100).contains(&v) && !matches!(words.get(i + n), Some(&"hundred")) {
            if let Some((w, m)) = pair(i + n) {
                if (10..100).contains(&w) {
                    return Some((v * 100 + w, n + m));
                }
            }
        }
        (0, v, n)
    };
    loop {
        match words.get(i + used) {
            Some(&"hundred") => {
                current *= 100;
                used += 1;
            }
            Some(&"thousand") => {
                total += current * 1000;
                current = 0;
                used += 1;
            }
            Some(&"and")
                if words
                    .get(i + used + 1)
                    .and_then(|w| small_number(w))
                    .is_some()
                    && (total > 0 || current >= 100) =>
            {
                used += 1;
            }
            Some(w)
                if small_number(w).is_some()
                    && (total > 0 || current >= 100)
                    && current % 100 == 0 =>
            {
                let (v, n) = pair(i + used)?;
                current += v;
                used += n;
            }
            _ => break,
        }
    }
    Some((total + current, used))
}

/// An hour on the 24-hour clock: `hour` said with "pm" (`pm`), "am" (`am`) or neither.
fn clock_hour(hour: u32, pm: bool, am: bool) -> u32 {
    match (pm, am, hour) {
        (true, _, h) if h < 12 => h + 12,
        (_, true, 12) => 0,
        (_, _, h) => h,
    }
}

/// One way of writing each figure, in an already normalised text: number words as digits,
/// amounts of money as `€N`, shares as `N%`, clock times as 24-hour `H:MM`, counted units
/// in the plural, weeks and fortnights as days, and a phone number's digit groups joined.
pub fn canonical_figures(normalised: &str) -> String {
    let words: Vec<&str> = normalised.split_whitespace().collect();
    // Number words to digits first.
    let mut toks: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match number_words(&words, i) {
            Some((v, n))
                if !(n == 1 && words[i] == "one" && toks.last().is_some_and(|t| t == "the")) =>
            {
                toks.push(v.to_string());
                i += n;
            }
            _ => {
                toks.push(words[i].to_string());
                i += 1;
            }
        }
    }
    let is_num = |t: &str| {
        !t.is_empty()
            && t.chars().all(|c| c.is_ascii_digit() || c == '.')
            && t.chars().next().is_some_and(|c| c.is_ascii_digit())
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].as_str();
        let next = toks.get(i + 1).map(String::as_str);
        let next2 = toks.get(i + 2).map(String::as_str);
        if t == "a" && next == Some("fortnight") {
            out.push("14".into());
            out.push("days".into());
            i += 2;
            continue;
        }
        if is_num(t) {
            // A phone number: digit groups after a leading 0, joined.
            if t.starts_with('0') && t.len() >= 3 {
                let mut joined = t.to_string();
                let mut j = i + 1;
                while let Some(g) = toks
                    .get(j)
                    .filter(|g| g.len() >= 2 && g.chars().all(|c| c.is_ascii_digit()))
                {
                    joined.push_str(g);
                    j += 1;
                }
                if j > i + 1 {
                    out.push(joined);
                    i = j;
                    continue;
                }
            }
            match (next, next2) {
                (Some("euro" | "euros" | "eur"), _) => {
                    out.push(format!("€{t}"));
                    i += 2;
                    continue;
                }
                (Some("percent" | "%"), _) => {
                    out.push(format!("{t}%"));
                    i += 2;
                    continue;
                }
                (Some("per"), Some("cent")) => {
                    out.push(format!("{t}%"));
                    i += 3;
                    continue;
                }
                (Some("pm" | "p.m" | "p.m."), _)
                | (Some("p"), Some("m"))
                | (Some("am" | "a.m" | "a.m."), _)
                | (Some("a"), Some("m" | "m.")) => {
                    let pm = next.is_some_and(|n| n.starts_with('p'));
                    let used = if matches!(next, Some("p" | "a")) {
                        3
                    } else {
                        2
                    };
                    if let Ok(h) = t.parse::<u32>() {
                        if (1..=12).contains(&h) {
                            out.push(format!("{}:00", clock_hour(h, pm, !pm)));
                            i += used;
                            continue;
                        }
                    }
                }
                (Some("week" | "weeks"), _) => {
                    if let Ok(n) = t.parse::<u64>() {
                        out.push((n * 7).to_string());
                        out.push("days".into());
                        i += 2;
                        continue;
                    }
                }
                (Some(unit), _) => {
                    if let Some((_, plural)) =
                        COUNTED.iter().find(|(s, p)| *s == unit || *p == unit)
                    {
                        out.push(t.to_string());
                        out.push((*plural).to_string());
                        i += 2;
                        continue;
                    }
                }
                _ => {}
            }
        }
        if t == "€" || t == "eur" {
            if let Some(n) = next.filter(|n| is_num(n)) {
                out.push(format!("€{n}"));
                i += 2;
                continue;
            }
        }
        // A clock time "09:00" or "9:00 pm".
        if let Some((h, m)) = t.split_once(':') {
            if let (Ok(hour), true) = (
                h.parse::<u32>(),
                m.len() == 2 && m.chars().all(|c| c.is_ascii_digit()),
            ) {
                let pm = matches!(next, Some("pm" | "p.m" | "p.m."));
                let am = matches!(next, Some("am" | "a.m" | "a.m."));
                out.push(format!("{}:{m}", clock_hour(hour, pm, am)));
                i += if pm || am { 2 } else { 1 };
                continue;
            }
        }
        out.push(t.to_string());
        i += 1;
    }
    format!(" {} ", out.join(" "))
}

/// Does `text` contain `needle` as whole words (figures read as one, see
/// [`canonical_figures`])?
pub fn mentions(text: &str, needle: &str) -> bool {
    let n = fact_words(needle);
    !n.trim().is_empty() && fact_words(text).contains(&n)
}

/// Words that deny what follows them within a few words.
const NEGATORS: &[&str] = &[
    "not", "no", "never", "t", "nor", "neither", "without", "instead", "rather", "longer", "other",
];

/// Words between a negation and a figure that turn the denial into a statement of it:
/// "it does not expire until 3 years", "it did not exist before 1865".
const UNTIL: &[&str] = &["until", "till", "before"];

/// Phrases that put what their sentence says in doubt: a fact said only with one of them
/// is not stated ("it might have been 1790").
const HEDGES: &[&str] = &[
    "not sure",
    "not certain",
    "can't be certain",
    "cannot be certain",
    "not confident",
    "unsure",
    "uncertain",
    "can't confirm",
    "cannot confirm",
    "couldn't confirm",
    "could not confirm",
    "can't say for sure",
    "might",
    "may have",
    "maybe",
    "perhaps",
    "possibly",
    "could be",
    "could have been",
    "i'm guessing",
    "my guess",
    "no idea",
];

/// Who a fact must be said of, for [`states_about`]: the knowledge base's entities (name
/// and kind), and the names the task is about (its gold documents' titles).
#[derive(Debug, Clone, Copy, Default)]
pub struct About<'a> {
    pub entities: &'a [(&'a str, &'a str)],
    pub subjects: &'a [&'a str],
    /// The task's other facts: an entity among them is said with the fact, not instead.
    pub facts: &'a [&'a str],
}

impl About<'_> {
    /// The kinds of the subjects: an entity of one of them is a rival to whom the fact
    /// could be given instead.
    fn rival(&self, name: &str) -> bool {
        let Some(k) = self.kind(name) else {
            return false;
        };
        !self.subject(name)
            && !self.facts.iter().any(|f| f.eq_ignore_ascii_case(name))
            && self.subjects.iter().any(|s| self.kind(s) == Some(k))
    }

    /// The kind of the entity called `name`, if it is one.
    fn kind(&self, name: &str) -> Option<&str> {
        self.entities
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
    }

    fn subject(&self, name: &str) -> bool {
        self.subjects.iter().any(|s| s.eq_ignore_ascii_case(name))
    }
}

/// Does `text` state `fact`, not only mention it to deny it?
pub fn states(text: &str, fact: &str) -> bool {
    states_about(text, fact, About::default())
}

/// Byte ranges of `text`'s clauses: cut at commas, semicolons, colons, brackets, sentence
/// ends (a "." inside a number stays) and before "but", "while" and "whereas".
fn clauses(text: &str) -> Vec<(usize, usize)> {
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let cut = match c {
            ',' | ';' | '!' | '?' | '\n' | '(' | ')' => true,
            // Not the ones inside "3.5" and "14:00".
            '.' | ':' => bytes.get(end).is_none_or(|b| b.is_ascii_whitespace()),
            _ => false,
        };
        if cut {
            cuts.push((i, end));
        }
    }
    let lower = text.to_lowercase();
    if lower.len() == text.len() {
        for word in [" but ", " while ", " whereas "] {
            for (i, _) in lower.match_indices(word) {
                cuts.push((i, i));
            }
        }
    }
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for (at, end) in cuts {
        if at >= from {
            out.push((from, at));
            from = end;
        }
    }
    out.push((from, text.len()));
    out
}

/// The span around byte `at` of a text of `len` bytes cut at `starts` (sorted, from 0):
/// from the last start at or before `at` to the next one after it (or the end).
fn around(starts: &[usize], at: usize, len: usize) -> (usize, usize) {
    let from = starts
        .iter()
        .rev()
        .find(|s| **s <= at)
        .copied()
        .unwrap_or(0);
    let to = starts.iter().find(|s| **s > at).copied().unwrap_or(len);
    (from, to)
}

/// Byte offsets where sentences start: 0, and after ".", "!", "?" (followed by a space or
/// the end), ";" or a new line.
fn sentence_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
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
    starts
}

/// Does `text` state `fact` as a person reads it: said in some clause without a denial in
/// the three words before it, articles aside (unless "until"/"before" turns it round:
/// "does not expire until 3 years"), in a sentence that does not put it in doubt ("might", "I'm not sure"), not as
/// one of several named alternatives ("Kaldor Vance or Orrin Pellam"), and, when `about`
/// names the task's subjects, said of them: a clause that names a rival of the subjects'
/// kind and none of them gives the fact to the rival ("1790 is when the copper loom
/// appeared"); a clause that names nobody takes the last name said before it.
pub fn states_about(text: &str, fact: &str, about: About<'_>) -> bool {
    if fact.contains([',', ';']) {
        return mentions(text, fact);
    }
    let n = fact_words(fact);
    let n = n.trim();
    if n.is_empty() {
        return false;
    }
    // Every entity mention, in order: (start, end, name).
    let mut mentions_at: Vec<(usize, usize, &str)> = about
        .entities
        .iter()
        .flat_map(|(name, _)| {
            find_all(text, name)
                .into_iter()
                .map(move |i| (i, i + name.len(), *name))
        })
        .collect();
    mentions_at.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    // A name that is the fact, or holds it ("Kelmarsh flagship store" for "Kelmarsh").
    let is_fact = |name: &str| fact_words(name).contains(&format!(" {n} "));
    let fact_is_entity = about.entities.iter().any(|(e, _)| is_fact(e));
    let sentences = sentence_starts(text);
    clauses(text).into_iter().any(|(from, to)| {
        let clause = &text[from..to];
        let c = fact_words(clause);
        let mut search = 0;
        let mut found = false;
        while let Some(i) = c[search..].find(&format!(" {n} ")) {
            let at = search + i;
            search = at + 1;
            // The three words before it, articles aside ("not the work of X").
            let before: Vec<&str> = c[..at]
                .split_whitespace()
                .filter(|w| !matches!(*w, "the" | "a" | "an"))
                .collect();
            let window = &before[before.len().saturating_sub(3)..];
            let denied = window.iter().enumerate().any(|(k, w)| {
                NEGATORS.contains(w) && !window[k + 1..].iter().any(|u| UNTIL.contains(u))
            });
            if denied {
                continue;
            }
            found = true;
            break;
        }
        if !found {
            return false;
        }
        let (sentence_from, sentence_to) = around(&sentences, from, text.len());
        let sentence = words(&text[sentence_from..sentence_to]);
        if HEDGES.iter().any(|h| sentence.contains(&format!(" {h} "))) {
            return false;
        }
        if about.entities.is_empty() {
            return true;
        }
        let named: Vec<&str> = mentions_at
            .iter()
            .filter(|(s, e, name)| *s >= from && *e <= to && !is_fact(name))
            .map(|(_, _, name)| *name)
            .collect();
        // Named alternatives: "born in Lindhaven, Emberly or Aldmoor".
        let fact_rivals = fact_is_entity
            && words(clause).contains(" or ")
            && mentions_at.iter().any(|(s, e, name)| {
                *s >= sentence_from && *e <= to && !is_fact(name) && same_kind(about, name, fact)
            });
        if fact_rivals {
            return false;
        }
        if named.iter().any(|name| about.subject(name)) {
            return true;
        }
        if named.iter().any(|name| about.rival(name)) {
            return false;
        }
        // Nobody named here: the last name said before the clause.
        match mentions_at
            .iter()
            .rev()
            .find(|(_, e, name)| *e <= from && !is_fact(name))
        {
            Some((_, _, name)) => !about.rival(name),
            None => true,
        }
    })
}

/// Are `a` and `b` entities of the same kind?
fn same_kind(about: About<'_>, a: &str, b: &str) -> bool {
    about.kind(a).is_some() && about.kind(a) == about.kind(b)
}
