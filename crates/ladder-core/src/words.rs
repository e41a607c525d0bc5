//! Comparing short texts by their words.

/// A text's words, lowercased: its runs of letters and digits ("Don't ask!" is "don", "t",
/// "ask").
pub fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The same words, up to case, spacing and punctuation ("Ask first." and "ask  first").
pub fn same_words(a: &str, b: &str) -> bool {
    words(a).eq(words(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn case_spacing_and_punctuation_do_not_count() {
        assert!(super::same_words("Ask first.", "ask  first"));
        assert!(!super::same_words("Ask first.", "Ask later."));
        assert!(!super::same_words("Ask first.", "Ask first, then search."));
        assert_eq!(
            super::words("Don't ask!").collect::<Vec<_>>(),
            ["don", "t", "ask"]
        );
    }
}
