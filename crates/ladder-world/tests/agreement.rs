//! The judge and the simulated user against a person: the crafted tables of
//! `fixtures/agreement/` (verdicts and reply classes a person wrote before either was run).
//! The figures, per class, and every disagreement are printed:
//!
//! ```text
//! cargo test -p ladder-world --test agreement -- --nocapture
//! ```
//!
//! Agreement is not required to be 100%: each test fails only below a floor (the figure
//! measured when the floor was set, less a margin), so a change that makes either read
//! people worse shows here, and BENCHMARKS.md carries the figure and the disagreements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ladder_world::{agreement, default_suites_dir, Patience, SimulatedUser, Suite};

fn table(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/agreement")
        .join(name)
}

fn suites() -> BTreeMap<String, Suite> {
    ["seaside", "helpdesk", "facts"]
        .into_iter()
        .map(|n| {
            (
                n.to_string(),
                Suite::load(&default_suites_dir().join(n)).unwrap(),
            )
        })
        .collect()
}

/// Least share of the held-out judge table (written after the judge was tuned on
/// `judge.toml`, never used to tune it) the judge must agree on.
const HELDOUT_FLOOR: f64 = 0.77;

/// Least share of the judge table the judge must agree on.
const JUDGE_FLOOR: f64 = 0.88;
/// Least share of the user table the simulated user must agree on.
const USER_FLOOR: f64 = 0.74;

#[test]
fn the_judge_agrees_with_a_person_on_the_crafted_answers() {
    let a = agreement::judge(&table("judge.toml"), &suites()).unwrap();
    println!("{}", a.render("judge"));
    assert!(a.cases >= 150, "the table has {} cases", a.cases);
    assert!(
        a.rate() >= JUDGE_FLOOR,
        "the judge agrees on {:.3}, below its floor {JUDGE_FLOOR}:\n{}",
        a.rate(),
        a.render("judge")
    );
}

#[test]
fn the_judge_agrees_with_a_person_on_answers_it_was_never_tuned_on() {
    let a = agreement::judge(&table("judge-heldout.toml"), &suites()).unwrap();
    println!("{}", a.render("judge, held out"));
    assert!(a.cases >= 80, "the table has {} cases", a.cases);
    assert!(
        a.rate() >= HELDOUT_FLOOR,
        "the judge agrees on {:.3} of the held-out table, below its floor {HELDOUT_FLOOR}:\n{}",
        a.rate(),
        a.render("judge, held out")
    );
}

#[tokio::test]
async fn the_simulated_user_agrees_with_a_person_on_the_crafted_questions() {
    let embedder: Arc<dyn ladder_core::Embedder> = Arc::new(
        ladder_retrieval::FastEmbedder::load_default()
            .expect("`just setup` installs the embedding model"),
    );
    let a = agreement::user(&table("user.toml"), &suites(), |s, t| {
        SimulatedUser::new(Arc::new(s.manifest.clone()), t.clone(), Patience::default())
            .with_embedder(embedder.clone(), ladder_world::user::SIMILARITY_THRESHOLD)
            .unwrap()
    })
    .await
    .unwrap();
    println!("{}", a.render("simulated user"));
    assert!(a.cases >= 60, "the table has {} cases", a.cases);
    assert!(
        a.rate() >= USER_FLOOR,
        "the user agrees on {:.3}, below its floor {USER_FLOOR}:\n{}",
        a.rate(),
        a.render("simulated user")
    );
}

#[test]
fn a_case_naming_a_task_that_does_not_exist_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("judge.toml");
    std::fs::write(
        &path,
        "[[case]]\nid = \"x-1\"\nsuite = \"seaside\"\ntask = \"sea-999\"\nclass = \"c\"\nanswer = \"a\"\nsuccess = true\nwhy = \"w\"\n",
    )
    .unwrap();
    let e = agreement::judge(&path, &suites()).unwrap_err().to_string();
    assert!(e.contains("case x-1") && e.contains("sea-999"), "{e}");
}
