//! Comparing short texts by their words.

/// The same words, up to case, spacing and punctuation ("Ask first." and "ask  first").
pub fn same_words(a: &str, b: &str) -> bool {
    let words = |s: &str| {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    words(a) == words(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn case_spacing_and_punctuation_do_not_count() {
        assert!(super::same_words("Ask first.", "ask  first"));
        assert!(!super::same_words("Ask first.", "Ask later."));
    }
}
