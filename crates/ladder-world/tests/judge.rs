//! The judge cannot be talked round: crafted answers (negations, rejections, lists,
//! invented and near-miss names, shotgun lists, questions instead of answers, picks that
//! disagree with the text), each with the verdict a person gives, and the scorer's.

use ladder_core::{Outcome, Task};
use ladder_world::{default_suites_dir, score, Suite};

fn suite(name: &str) -> Suite {
    Suite::load(&default_suites_dir().join(name)).unwrap()
}

/// One crafted answer and what a person says of it.
struct Case {
    why: &'static str,
    answer: String,
    picks: Vec<String>,
    /// A person's verdict: does this answer solve the task?
    success: bool,
}

fn case(why: &'static str, answer: String, success: bool) -> Case {
    Case {
        why,
        answer,
        picks: vec![],
        success,
    }
}

fn picked(why: &'static str, answer: String, picks: &[&str], success: bool) -> Case {
    Case {
        why,
        answer,
        picks: picks.iter().map(|p| p.to_string()).collect(),
        success,
    }
}

fn judge(s: &Suite, t: &Task, cases: &[Case]) -> Vec<String> {
    let mut disagreements = Vec::new();
    for c in cases {
        let outcome = Outcome::answered(c.answer.clone()).with_picks(c.picks.clone());
        let sc = score(s, t, &outcome, &[]);
        if sc.success != c.success {
            disagreements.push(format!(
                "{} ({:?}, picks {:?}): a person says {}, the scorer {} (recommended {:?}, rejected {:?}, verdicts {:?})",
                c.why,
                c.answer,
                c.picks,
                c.success,
                sc.success,
                sc.recommended,
                sc.rejected,
                sc.verdicts.iter().filter(|v| !v.ok).collect::<Vec<_>>()
            ));
        }
        if !sc.success {
            assert!(sc.partial < 1.0, "{}: a failure scored full credit", c.why);
        }
    }
    disagreements
}

#[test]
fn crafted_seaside_answers_get_the_verdict_a_person_gives() {
    let s = suite("seaside");
    let t = s.task("sea-001").unwrap();
    let good = t.expect.recommend_any[0].as_str();
    let other_good = t.expect.recommend_any[1].as_str();
    let bad: Vec<&str> = s
        .documents
        .iter()
        .map(|d| d.meta.title.as_str())
        .filter(|n| !t.expect.recommend_any.iter().any(|g| g == n))
        .take(3)
        .collect();
    let (b1, b2, b3) = (bad[0], bad[1], bad[2]);
    // A name that looks like an entity of this world but is not one.
    let near_miss = format!("{} Bay", good.split(' ').next().unwrap());
    assert!(s.entity(&near_miss).is_none());
    let cases = vec![
        case("plain recommendation", format!("Go to {good}."), true),
        case(
            "negated recommendation",
            format!("I don't recommend {good}."),
            false,
        ),
        case("would not go", format!("I would not go to {good}."), false),
        case("stay away", format!("Stay away from {good}."), false),
        case("poor fit", format!("{good} is a poor fit for you."), false),
        case(
            "an unrelated negation before a recommendation",
            format!("Since you did not mention a budget, I suggest {good}."),
            true,
        ),
        case(
            "a rejected list, then a recommendation",
            format!("Avoid {b1}, {b2} and {b3}. Go to {good}."),
            true,
        ),
        case(
            "the last of a rejected list is rejected too",
            format!("Go to {good}. Avoid {b1}, {b2} and {b3}."),
            true,
        ),
        case(
            "rejection, then a recommending cue",
            format!("Avoid {b1}, and go to {good}."),
            true,
        ),
        case(
            "rather than",
            format!("I recommend {good} rather than {b1}."),
            true,
        ),
        case(
            "too far, then instead",
            format!("{b1} is too far for you. Go to {good} instead."),
            true,
        ),
        case("not ... but", format!("Not {b1} but {good}."), true),
        case(
            "contrast",
            format!("{good} is lovely, but {b1} is too busy for you."),
            true,
        ),
        case(
            "a relative clause with a negation",
            format!("{good}, which is not too far from you, is ideal."),
            true,
        ),
        case("best option", format!("The best option is {good}."), true),
        case(
            "two fitting places",
            format!("Try {good} or {other_good}."),
            true,
        ),
        case(
            "shotgun list with places that break the constraints",
            format!("Try {good}, {b1}, {b2} or {b3}."),
            false,
        ),
        case(
            "an invented place recommended",
            format!("Try {good} or Sunnyvale Bay."),
            false,
        ),
        case(
            "a near-miss name recommended",
            format!("Go to {near_miss}."),
            false,
        ),
        case(
            "an invented place rejected",
            format!("Forget Sunnyvale Bay; go to {good}."),
            true,
        ),
        case(
            "a question instead of an answer",
            "Where are you travelling from?".to_string(),
            false,
        ),
        case(
            "nothing named",
            "Any quiet beach will do.".to_string(),
            false,
        ),
        case(
            "only a place that breaks the constraints",
            format!("Go to {b1}."),
            false,
        ),
        picked("picks agree", format!("Go to {good}."), &[good], true),
        picked(
            "picks without names in the text",
            "Here is my pick.".into(),
            &[good],
            true,
        ),
        picked(
            "the text rejects the pick",
            format!("Avoid {good}."),
            &[good],
            false,
        ),
        picked(
            "the text recommends what the picks leave out",
            format!("Go to {good} or {b1}."),
            &[good],
            false,
        ),
        picked(
            "an invented pick",
            "Sunnyvale Bay it is.".into(),
            &["Sunnyvale Bay"],
            false,
        ),
        picked("a bad pick", format!("Go to {b1}."), &[b1], false),
    ];
    assert!(cases.len() >= 20);
    let disagreements = judge(&s, t, &cases);
    assert!(disagreements.is_empty(), "\n{}", disagreements.join("\n"));
}

#[test]
fn stated_facts_are_told_apart_from_denied_ones() {
    let s = suite("helpdesk");
    let t = s.task("help-003").unwrap(); // delivery: €4.95, free over €60
    let cases = vec![
        case(
            "both facts",
            "Standard delivery costs €4.95, and it is free on orders over €60.".into(),
            true,
        ),
        case(
            "a fact denied",
            "Delivery is not €4.95; it is free on orders over €60.".into(),
            false,
        ),
        case(
            "a fact stated against a denied alternative",
            "Delivery costs €4.95, not €10, and it is free over €60.".into(),
            true,
        ),
        case(
            "a negation in another clause",
            "If your order is not over €60, delivery costs €4.95. Over €60 it is free.".into(),
            true,
        ),
        case("one fact missing", "Delivery costs €4.95.".into(), false),
    ];
    let disagreements = judge(&s, t, &cases);
    assert!(disagreements.is_empty(), "\n{}", disagreements.join("\n"));

    let f = suite("facts");
    let t = f.task("facts-001").unwrap();
    let cases = vec![
        case("the answer", "Kaldor Vance created it.".into(), true),
        case(
            "the answer denied",
            "It was not Kaldor Vance.".into(),
            false,
        ),
        case(
            "an invented person",
            "Kaldor Smith created it.".into(),
            false,
        ),
    ];
    let disagreements = judge(&f, t, &cases);
    assert!(disagreements.is_empty(), "\n{}", disagreements.join("\n"));
}

#[test]
fn every_score_says_which_judge_gave_it() {
    let s = suite("facts");
    let t = s.task("facts-001").unwrap();
    let sc = score(&s, t, &Outcome::answered("Kaldor Vance."), &[]);
    assert_eq!(sc.judge, ladder_world::score::JUDGE_VERSION);
}

/// `recommend_any` is exactly the set of entities the task's checks select: the scorer
/// accepts a single pick of each of them and of nothing else, on every task.
#[test]
fn the_scorer_accepts_exactly_the_picks_recommend_any_lists() {
    let mut judged = 0;
    for name in ["seaside", "helpdesk", "facts"] {
        let s = suite(name);
        for t in s.tasks.iter().filter(|t| {
            !t.expect.recommend_any.is_empty()
                && t.expect.must_mention.is_empty()
                && t.expect.needs_detail.is_none()
        }) {
            for d in &s.documents {
                let title = d.meta.title.as_str();
                let outcome =
                    Outcome::answered("Here is my pick.").with_picks(vec![title.to_string()]);
                let sc = score(&s, t, &outcome, &[]);
                let listed = t.expect.recommend_any.iter().any(|r| r == title);
                assert_eq!(
                    sc.success,
                    listed,
                    "{} / {title}: listed {listed}, scored {:?}",
                    t.id,
                    sc.verdicts.iter().filter(|v| !v.ok).collect::<Vec<_>>()
                );
                judged += 1;
            }
        }
    }
    assert!(judged > 500, "{judged}");
}
