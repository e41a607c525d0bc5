//! A strategy sees what a real assistant would: the task view (id, suite, opening) and,
//! when it asks, the form spec. Neither carries anything of the judge's: no hidden
//! profile, no expectations, no simulated-user keywords, checks or entity patterns.

use ladder_world::{default_suites_dir, Suite};

fn suites() -> Vec<Suite> {
    ["seaside", "helpdesk", "facts"]
        .iter()
        .map(|n| Suite::load(&default_suites_dir().join(n)).unwrap())
        .collect()
}

#[test]
fn the_form_spec_has_none_of_the_judges_parts() {
    for suite in suites() {
        let form = suite.form_spec();
        let json = serde_json::to_string(&form).unwrap();
        for judge_only in [
            "keywords",
            "\"check\"",
            "\"rule\"",
            "entity_patterns",
            "smoke",
        ] {
            assert!(
                !json.contains(judge_only),
                "{}: {judge_only}",
                suite.manifest.name
            );
        }
        for pattern in &suite.manifest.entity_patterns {
            assert!(!json.contains(pattern.as_str()));
        }
        // Everything a form needs is there: every intent, example, slot and question.
        assert_eq!(form.intents.len(), suite.manifest.intents.len());
        for (fi, mi) in form.intents.iter().zip(&suite.manifest.intents) {
            assert_eq!(fi.examples, mi.examples);
            let questions: Vec<&str> = fi.slots.iter().map(|s| s.question.as_str()).collect();
            let expected: Vec<&str> = mi.slots.iter().map(|s| s.question.as_str()).collect();
            assert_eq!(questions, expected);
        }
    }
}

#[test]
fn no_task_view_or_form_spec_carries_a_hidden_fact_or_an_expected_answer() {
    for suite in suites() {
        let form = serde_json::to_string(&suite.form_spec()).unwrap();
        for task in &suite.tasks {
            let seen = format!("{} {form}", serde_json::to_string(&task.view()).unwrap());
            for fact in task.profile.iter().filter(|f| !f.stated) {
                if let Some(say) = &fact.say {
                    assert!(!seen.contains(say.as_str()), "{}: {say}", task.id);
                }
            }
            // A fact the user says in the opening is theirs to say; any other must not show.
            for m in task
                .expect
                .must_mention
                .iter()
                .filter(|m| !task.opening.to_lowercase().contains(&m.to_lowercase()))
            {
                assert!(
                    !seen.to_lowercase().contains(&m.to_lowercase()),
                    "{}: must_mention {m:?} is visible",
                    task.id
                );
            }
            for name in task
                .expect
                .recommend_any
                .iter()
                .chain(&task.expect.must_not_recommend)
            {
                assert!(!seen.contains(name.as_str()), "{}: {name}", task.id);
            }
            // `needs_detail` names a slot (which a form legitimately asks for), not a value.
        }
    }
}

#[test]
fn a_choice_slot_offers_the_values_the_knowledge_base_has() {
    let seaside = Suite::load(&default_suites_dir().join("seaside")).unwrap();
    let form = seaside.form_spec();
    let slot = |name: &str| {
        form.intents
            .iter()
            .flat_map(|i| &i.slots)
            .find(|s| s.name == name)
            .unwrap()
            .clone()
    };
    let mut scope = slot("scope").options;
    scope.sort();
    assert_eq!(scope, vec!["abroad".to_string(), "domestic".to_string()]);
    assert!(slot("home_city").options.is_empty(), "free text");
}
