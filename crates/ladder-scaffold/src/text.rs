//! Plain text helpers of the scaffold's components: pure functions, unit-tested.

/// The clauses of a message: split at sentence ends, commas, semicolons and the word
/// "and"/"also"/"but", trimmed, empty ones dropped. The whole message is not included.
pub fn clauses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sentence in text.split(['.', '?', '!', ';', ',']) {
        let mut rest: Vec<&str> = Vec::new();
        for word in sentence.split_whitespace() {
            let w = word.to_lowercase();
            if matches!(w.as_str(), "and" | "also" | "but") {
                push_clause(&mut out, &rest);
                rest.clear();
            } else {
                rest.push(word);
            }
        }
        push_clause(&mut out, &rest);
    }
    out
}

fn push_clause(out: &mut Vec<String>, words: &[&str]) {
    // A lone word or two ("Also", "please") carries no request of its own.
    if words.len() >= 2 {
        out.push(words.join(" "));
    }
}

/// The sentences of a passage (split after `.`, `?`, `!` followed by a space or the end),
/// trimmed, empty ones dropped.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        current.push(c);
        let end =
            matches!(c, '.' | '?' | '!') && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if end || c == '\n' && chars.get(i + 1) == Some(&'\n') {
            let s = current.trim();
            if !s.is_empty() {
                out.push(s.to_string());
            }
            current.clear();
        }
    }
    let s = current.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    out
}

/// The option `text` names as a whole word (case-insensitive), when exactly one option
/// is named; a text naming none, or two different ones ("not lively, quiet"), gives
/// `None`, since a word alone cannot tell which is meant.
pub fn named_option<'a>(text: &str, options: &'a [String]) -> Option<&'a String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    let named: Vec<&'a String> = options
        .iter()
        .filter(|o| {
            let o = o.to_lowercase();
            let parts: Vec<&str> = o.split_whitespace().collect();
            !parts.is_empty() && words.windows(parts.len()).any(|w| w == parts.as_slice())
        })
        .collect();
    match named.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// Whether the text negates what it says ("not", "no", "don't", "never", "without").
pub fn negated(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .any(|w| {
            matches!(
                w,
                "not"
                    | "no"
                    | "don't"
                    | "dont"
                    | "never"
                    | "without"
                    | "isn't"
                    | "won't"
                    | "nothing"
            )
        })
}

/// The unit a "How many <unit> ..." question asks for ("How many days will you be
/// away?" -> "days").
pub fn question_unit(question: &str) -> Option<String> {
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(3)
        .find(|w| w[0] == "how" && matches!(w[1], "many" | "much"))
        .map(|w| w[2].to_string())
}

/// The number a text gives in `unit` ("I won't travel more than 8 hours", unit "hours"
/// -> 8): a number directly followed by the unit (singular or plural).
pub fn number_with_unit(text: &str, unit: &str) -> Option<f64> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '.')
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    let singular = unit.strip_suffix('s').unwrap_or(unit);
    words.windows(2).find_map(|w| {
        (w[1] == unit || w[1] == singular)
            .then(|| first_number(w[0]))
            .flatten()
    })
}

/// Whether a reply says the user does not mind ("No preference.", "I don't mind",
/// "anything is fine"): a form records it but it is no information for a search.
pub fn no_preference(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "no preference",
        "don't mind",
        "do not mind",
        "don't care",
        "doesn't matter",
        "does not matter",
        "anything is fine",
        "either is fine",
        "whatever",
    ]
    .iter()
    .any(|p| t.contains(p))
}

/// The first whole number in the text ("about 5 days" -> 5; "five" -> 5 for one to
/// twelve spelled out).
pub fn first_number(text: &str) -> Option<f64> {
    const WORDS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    for word in text.split(|c: char| !c.is_alphanumeric() && c != '.') {
        let w = word.trim_end_matches('.');
        if let Ok(n) = w.parse::<f64>() {
            return Some(n);
        }
        if let Some(i) = WORDS.iter().position(|x| x.eq_ignore_ascii_case(w)) {
            return Some((i + 1) as f64);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clauses_split_requests_that_ask_two_things() {
        assert_eq!(
            clauses("I want to return my lamp, and I also need an invoice for it."),
            vec!["I want to return my lamp", "I", "need an invoice for it"]
                .into_iter()
                .filter(|c| c.split_whitespace().count() >= 2)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            clauses("I want to stay in Norland. Where should I go by the sea?"),
            vec!["I want to stay in Norland", "Where should I go by the sea"]
        );
        assert!(clauses("").is_empty());
        assert!(clauses("Hi.").is_empty());
    }

    #[test]
    fn sentences_keep_decimals_and_split_at_ends() {
        assert_eq!(
            sentences("It costs 4.50 a day. Open in July! Why? Because"),
            vec!["It costs 4.50 a day.", "Open in July!", "Why?", "Because"]
        );
    }

    #[test]
    fn an_option_counts_only_when_named_alone_as_a_word() {
        let o = opts(&["quiet", "lively"]);
        assert_eq!(named_option("Somewhere quiet, please", &o), Some(&o[0]));
        assert_eq!(
            named_option("Not lively, rather quiet", &o),
            None,
            "two named"
        );
        assert_eq!(
            named_option("quietly", &o),
            None,
            "a longer word is not the option"
        );
        assert_eq!(named_option("Anything goes", &o), None);
        let two_words = opts(&["city break", "beach"]);
        assert_eq!(
            named_option("A City Break!", &two_words),
            Some(&two_words[0])
        );
    }

    #[test]
    fn negations_are_seen() {
        assert!(negated("I don't want anywhere lively"));
        assert!(negated("Not abroad"));
        assert!(!negated("Somewhere lively, nothing fancy"[..18].as_ref()));
        assert!(!negated("Notable places"));
    }

    #[test]
    fn a_number_counts_only_with_the_unit_asked_for() {
        assert_eq!(
            question_unit("How many days will you be away?").as_deref(),
            Some("days")
        );
        assert_eq!(question_unit("Where are you from?"), None);
        assert_eq!(number_with_unit("I have 7 days.", "days"), Some(7.0));
        assert_eq!(
            number_with_unit("I won't travel more than 8 hours", "hours"),
            Some(8.0)
        );
        assert_eq!(number_with_unit("one day only", "days"), Some(1.0));
        assert_eq!(
            number_with_unit("I won't travel more than 8 hours", "days"),
            None
        );
        assert_eq!(number_with_unit("7 people", "days"), None);
    }

    #[test]
    fn not_minding_is_recognised() {
        assert!(no_preference("No preference."));
        assert!(no_preference("I don't mind, really"));
        assert!(!no_preference("I have a preference for quiet places"));
        assert!(!no_preference("Somewhere lively"));
    }

    #[test]
    fn numbers_are_read_in_digits_and_words() {
        assert_eq!(first_number("I have 5 days."), Some(5.0));
        assert_eq!(first_number("about three days"), Some(3.0));
        assert_eq!(first_number("No more than 4 hours of travel."), Some(4.0));
        assert_eq!(first_number("a long weekend"), None);
    }
}
