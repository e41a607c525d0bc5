//! Free mode's parser: a table of malformed and odd model outputs, and properties.

use ladder_bootstrap::parse_free;
use proptest::prelude::*;

#[test]
fn a_table_of_model_outputs_each_becomes_an_action_or_an_observation() {
    let ok: &[(&str, &str, &str)] = &[
        (
            r#"{"action": "ask", "text": "Where from?", "picks": []}"#,
            "ask",
            "Where from?",
        ),
        (
            "Sure! {\"action\": \"search\", \"text\": \"quiet beach\"} Hope that helps.",
            "search",
            "quiet beach",
        ),
        (
            "```json\n{\"action\": \"note\", \"text\": \"User: Ostby.\"}\n```",
            "note",
            "User: Ostby.",
        ),
        (
            "ASK: Domestic or abroad? Quiet or lively?",
            "ask",
            "Domestic or abroad? Quiet or lively?",
        ),
        ("search: beaches near Ostby", "search", "beaches near Ostby"),
        ("**Answer**: hmm", "answer", "hmm"),
        (
            "- Note: the user wants 3 days",
            "note",
            "the user wants 3 days",
        ),
        (
            "I will think.\nANSWER: Go to Gullby Cove.\nPICKS: Gullby Cove",
            "answer",
            "Go to Gullby Cove.",
        ),
        ("```\nASK - How many days?\n```", "ask", "How many days?"),
    ];
    for (text, action, arg) in ok {
        let a = parse_free(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            (a.action.as_str(), a.text.as_str()),
            (*action, *arg),
            "{text:?}"
        );
    }
    let a = parse_free("ANSWER: Go to Gullby Cove.\nPICKS: Gullby Cove, Tideness Bay").unwrap();
    assert_eq!(a.picks, vec!["Gullby Cove", "Tideness Bay"]);
    let bad = [
        "",
        "   ",
        "I apologise, but I cannot help with that.",
        "{\"action\": \"fly\", \"text\": \"away\"}",
        "{not json at all",
        "```",
        "``````",
        "}{",
        "FLY: away",
        ":",
        "\u{0}\u{1f}",
        "ása: ñ",
    ];
    for text in bad {
        let e = parse_free(text).unwrap_err();
        assert!(
            e.contains("ACTION: argument") || e.contains("not"),
            "{text:?}: {e}"
        );
    }
}

fn kind() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("ask"), Just("search"), Just("note"), Just("answer")]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics(text in any::<String>()) {
        let _ = parse_free(&text);
    }

    #[test]
    fn an_action_line_reads_back(k in kind(), arg in "[A-Za-z0-9 ,.?!']{0,80}") {
        let line = format!("{}: {arg}", k.to_uppercase());
        let a = parse_free(&line).unwrap();
        prop_assert_eq!(a.action.as_str(), k);
        prop_assert_eq!(a.text.as_str(), arg.trim());
    }

    #[test]
    fn a_json_action_reads_back_wherever_it_stands(
        k in kind(),
        arg in "[A-Za-z0-9 ,.?!']{0,80}",
        before in "[A-Za-z ,.]{0,40}",
        after in "[A-Za-z ,.]{0,40}",
    ) {
        let json = serde_json::json!({"action": k, "text": arg, "picks": []}).to_string();
        let a = parse_free(&format!("{before}{json}{after}")).unwrap();
        prop_assert_eq!(a.action.as_str(), k);
        prop_assert_eq!(a.text, arg);
    }
}
