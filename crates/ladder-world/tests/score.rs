//! Scoring with hand-written answers on the committed suites.

use ladder_core::trace::{Event, EventKind, TRACE_VERSION};
use ladder_core::{Outcome, StopReason, Task};
use ladder_world::{default_suites_dir, score, Suite};

fn suite(name: &str) -> Suite {
    Suite::load(&default_suites_dir().join(name)).unwrap()
}

fn task<'a>(s: &'a Suite, id: &str) -> &'a Task {
    s.task(id).unwrap()
}

fn turn(question: &str, reply: &str) -> Event {
    Event {
        v: TRACE_VERSION,
        seq: 0,
        at_ms: 0.0,
        kind: EventKind::UserTurn {
            question: question.into(),
            reply: reply.into(),
            gave_up: false,
            matched: None,
            parts: vec![],
        },
    }
}

/// A destination that meets every hard constraint of `t`, and one that breaks some.
fn good_and_bad(s: &Suite, t: &Task) -> (String, String) {
    let good = t.expect.recommend_any[0].clone();
    let bad = s
        .documents
        .iter()
        .map(|d| d.meta.title.clone())
        .find(|n| !t.expect.recommend_any.contains(n))
        .unwrap();
    (good, bad)
}

#[test]
fn a_fitting_recommendation_succeeds_with_full_credit() {
    let s = suite("seaside");
    let t = task(&s, "sea-001");
    let (good, _) = good_and_bad(&s, t);
    let sc = score(
        &s,
        t,
        &Outcome::answered(format!("Go to {good}: it has everything you asked for.")),
        &[],
    );
    assert!(sc.success, "{:?}", sc.verdicts);
    assert_eq!(sc.partial, 1.0);
    assert_eq!(sc.recommended, vec![good]);
    assert!(sc.hallucinations.is_empty());
}

#[test]
fn a_recommendation_that_breaks_a_constraint_fails_and_says_which() {
    let s = suite("seaside");
    let t = task(&s, "sea-001");
    let (good, bad) = good_and_bad(&s, t);
    let sc = score(
        &s,
        t,
        &Outcome::answered(format!("Try {bad}, or {good}.")),
        &[],
    );
    assert!(!sc.success);
    assert_eq!(sc.recommended, vec![bad.clone(), good]);
    let broken: Vec<_> = sc.verdicts.iter().filter(|v| !v.ok).collect();
    assert!(
        !broken.is_empty()
            && broken
                .iter()
                .all(|v| v.detail.contains(&bad) && v.detail.contains("breaks")),
        "{broken:?}"
    );
    assert!(sc.partial < 1.0);
}

#[test]
fn a_destination_mentioned_only_to_reject_it_is_not_a_recommendation() {
    let s = suite("seaside");
    let t = task(&s, "sea-001");
    let (good, bad) = good_and_bad(&s, t);
    for answer in [
        format!("Avoid {bad}, it does not suit you. I recommend {good}."),
        format!("I recommend {good} rather than {bad}."),
        format!("{bad} is too far for you. Go to {good} instead."),
        format!("Go to {good}. {bad} doesn't have what you want."),
    ] {
        let sc = score(&s, t, &Outcome::answered(answer.clone()), &[]);
        assert_eq!(sc.recommended, vec![good.clone()], "{answer}");
        assert_eq!(sc.rejected, vec![bad.clone()], "{answer}");
        assert!(sc.success, "{answer}: {:?}", sc.verdicts);
    }
}

#[test]
fn a_name_inside_another_word_is_not_a_mention() {
    let s = suite("seaside");
    let t = task(&s, "sea-001");
    let (good, _) = good_and_bad(&s, t);
    let glued = format!("The {good}side Hotel is lovely.");
    let sc = score(&s, t, &Outcome::answered(glued), &[]);
    assert!(sc.recommended.is_empty(), "{:?}", sc.recommended);
    assert!(!sc.success);
    let prefixed = format!("Visit New{}.", good.replace(' ', ""));
    assert!(score(&s, t, &Outcome::answered(prefixed), &[])
        .recommended
        .is_empty());
}

#[test]
fn invented_places_are_hallucinations() {
    let s = suite("seaside");
    let t = task(&s, "sea-001");
    let (good, _) = good_and_bad(&s, t);
    let sc = score(
        &s,
        t,
        &Outcome::answered(format!("Try {good} or Sunnyvale Bay, or Porto Fantasia.")),
        &[],
    );
    assert_eq!(
        sc.hallucinations,
        vec!["Porto Fantasia".to_string(), "Sunnyvale Bay".to_string()]
    );
    assert!(
        !sc.success,
        "recommending a place that does not exist fails the task"
    );
    assert!(sc
        .verdicts
        .iter()
        .any(|v| v.what == "exists Sunnyvale Bay" && !v.ok));
    assert_eq!(sc.partial, 0.0);
}

#[test]
fn no_answer_scores_zero() {
    let s = suite("seaside");
    let t = task(&s, "sea-001");
    let sc = score(&s, t, &Outcome::stopped(StopReason::UserGaveUp), &[]);
    assert!(!sc.success);
    assert_eq!(sc.partial, 0.0);
    assert!(sc
        .verdicts
        .iter()
        .any(|v| v.what == "answer" && v.detail.contains("user gave up")));
}

#[test]
fn helpdesk_facts_must_be_stated() {
    let s = suite("helpdesk");
    let t = task(&s, "help-003"); // delivery cost: €4.95, free over €60
    let full = score(
        &s,
        t,
        &Outcome::answered("Standard delivery costs €4.95, and it is free on orders over €60."),
        &[],
    );
    assert!(full.success, "{:?}", full.verdicts);
    let half = score(
        &s,
        t,
        &Outcome::answered("Standard delivery costs €4.95."),
        &[],
    );
    assert!(!half.success);
    assert_eq!(half.partial, 0.5);
    let wrong = score(
        &s,
        t,
        &Outcome::answered("Delivery costs €4.950 on orders."),
        &[],
    );
    assert_eq!(
        wrong.partial, 0.0,
        "a number inside a longer number is not the fact"
    );
}

#[test]
fn a_needed_detail_must_have_been_obtained() {
    let s = suite("helpdesk");
    let t = task(&s, "help-017"); // pairing; needs the model (Lumo Desk)
    let answer = Outcome::answered(
        "Press the dimmer twice, then hold it for 5 seconds until the ring turns green.",
    );
    let unasked = score(&s, t, &answer, &[]);
    assert!(
        !unasked.success,
        "a lucky guess without asking is not a success"
    );
    assert!(unasked
        .verdicts
        .iter()
        .any(|v| v.what == "detail model" && !v.ok));
    let asked = score(
        &s,
        t,
        &answer,
        &[turn("Which Lumo model do you have?", "It's a Lumo Desk.")],
    );
    assert!(asked.success, "{:?}", asked.verdicts);
    assert_eq!(
        (
            asked.user_turns,
            asked.irrelevant_questions,
            asked.repeated_questions
        ),
        (1, 0, 0)
    );
}

#[test]
fn questions_are_counted_as_the_simulated_user_counts_them() {
    let s = suite("seaside");
    let t = task(&s, "sea-002"); // scope stated in the opening
    let events = vec![
        turn("Where are you travelling from?", "I live in Wenlow."),
        turn(
            "Where are you travelling from?",
            "As I said: I live in Wenlow.",
        ),
        turn(
            "Do you want to stay in Norland or go abroad?",
            "As I said: ...",
        ),
        turn("What's your favourite colour?", "I don't know."),
        turn("Quiet or lively?", "No preference."),
    ];
    let sc = score(&s, t, &Outcome::answered("x"), &events);
    assert_eq!(
        (
            sc.user_turns,
            sc.repeated_questions,
            sc.irrelevant_questions
        ),
        (5, 2, 2)
    );
}

#[test]
fn asking_in_the_facts_suite_is_wasted_time() {
    let s = suite("facts");
    let t = task(&s, "facts-001");
    let sc = score(
        &s,
        t,
        &Outcome::answered("Kaldor Vance created it."),
        &[turn(
            "Do you mean the tide clock?",
            "I don't know, that's why I'm asking you.",
        )],
    );
    assert!(sc.success);
    assert_eq!(sc.irrelevant_questions, 1);
    let invented = score(&s, t, &Outcome::answered("Kaldor Smith created it."), &[]);
    assert!(!invented.success);
    assert_eq!(invented.hallucinations, vec!["Kaldor Smith".to_string()]);
}

fn ev(kind: EventKind) -> Event {
    Event {
        v: TRACE_VERSION,
        seq: 0,
        at_ms: 0.0,
        kind,
    }
}

fn decision(chosen: &[&str]) -> Event {
    ev(EventKind::IntentDecision {
        scores: vec![],
        chosen: chosen.iter().map(|s| s.to_string()).collect(),
    })
}

#[test]
fn intent_accuracy_needs_the_exact_set_of_gold_labels() {
    let s = suite("helpdesk");
    let two = task(&s, "help-031"); // returns and billing
    let check = |t: &Task, chosen: &[&str]| ladder_world::intent_check(t, &[decision(chosen)]);
    assert!(
        check(two, &["billing", "returns"]).unwrap().exact,
        "order does not matter"
    );
    assert!(
        !check(two, &["returns"]).unwrap().exact,
        "one of two is not exact"
    );
    assert!(
        !check(two, &["returns", "billing", "shipping"])
            .unwrap()
            .exact,
        "a superset is not exact"
    );
    assert!(
        !check(two, &[]).unwrap().exact,
        "unknown for an in-label request"
    );
    let outside = task(&s, "help-037");
    assert!(
        check(outside, &[]).unwrap().exact,
        "unknown for an out-of-label request"
    );
    assert!(!check(outside, &["shipping"]).unwrap().exact);
    assert_eq!(
        ladder_world::intent_check(two, &[]),
        None,
        "no classifier, no figure"
    );
}

#[test]
fn retrieval_recall_counts_gold_documents_found_by_any_search() {
    let s = suite("facts");
    let t = task(&s, "facts-003"); // three gold documents
    let search = |docs: &[&str]| {
        ev(EventKind::Retrieval {
            query: "q".into(),
            filter: None,
            k: 3,
            hits: docs
                .iter()
                .map(|d| ladder_core::trace::TraceHit {
                    id: format!("{d}#0"),
                    score: 0.5,
                    document: d.to_string(),
                    title: String::new(),
                    heading: String::new(),
                })
                .collect(),
        })
    };
    let gold = &t.gold.documents;
    assert_eq!(gold.len(), 3);
    let r = ladder_world::retrieval_recall(
        t,
        &[
            search(&[&gold[0], "saltreach-x"]),
            search(&[&gold[1], &gold[0]]),
        ],
    );
    assert!(
        (r.unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{r:?}: a document found twice counts once"
    );
    assert_eq!(ladder_world::retrieval_recall(t, &[search(&[])]), Some(0.0));
    assert_eq!(
        ladder_world::retrieval_recall(t, &[]),
        None,
        "no search, no figure"
    );
}

#[test]
fn a_task_without_gold_intents_is_not_scored_on_intent() {
    let s = suite("seaside");
    let decision = Event {
        v: TRACE_VERSION,
        seq: 0,
        at_ms: 0.0,
        kind: EventKind::IntentDecision {
            scores: vec![],
            chosen: vec!["plan_trip".into()],
        },
    };
    let labelled = task(&s, "sea-001").clone();
    let check = ladder_world::intent_check(&labelled, std::slice::from_ref(&decision)).unwrap();
    assert!(check.exact);
    let mut unlabelled = labelled.clone();
    unlabelled.gold.intents = None;
    assert_eq!(
        ladder_world::intent_check(&unlabelled, std::slice::from_ref(&decision)),
        None
    );
    // Labelled "none fits": the classifier's choice is wrong, and scored so.
    let mut outside = labelled;
    outside.gold.intents = Some(vec![]);
    assert!(
        !ladder_world::intent_check(&outside, &[decision])
            .unwrap()
            .exact
    );
}
