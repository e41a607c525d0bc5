//! `validate` on deliberately broken copies of a committed suite: each kind of breakage is
//! reported with its file (and line where there is one), and all problems at once.

use std::path::{Path, PathBuf};

use ladder_world::default_suites_dir;
use ladder_world::validate::read;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A copy of a committed suite in a temporary folder.
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&default_suites_dir().join(name), &dir);
    (tmp, dir)
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

fn problems(dir: &Path) -> Vec<String> {
    read(dir).1.iter().map(|p| p.to_string()).collect()
}

fn assert_reported(problems: &[String], file: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.contains(file) && p.contains(needle)),
        "expected a problem in {file} mentioning {needle:?}; got:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_committed_copy_is_clean() {
    for name in ["seaside", "helpdesk", "facts"] {
        let (_tmp, dir) = copy(name);
        assert_eq!(problems(&dir), Vec::<String>::new());
    }
}

#[test]
fn syntax_error_names_file_and_line() {
    let (_tmp, dir) = copy("facts");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen(
            "[[task]]\nid = \"facts-002\"",
            "[[task]\nid = \"facts-002\"",
            1,
        )
    });
    let p = problems(&dir);
    let line = std::fs::read_to_string(dir.join("tasks.toml"))
        .unwrap()
        .lines()
        .position(|l| l == "[[task]")
        .unwrap()
        + 1;
    assert_reported(&p, &format!("tasks.toml:{line}:"), "");
}

#[test]
fn unknown_field_is_reported() {
    let (_tmp, dir) = copy("facts");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("suite = \"facts\"", "suite = \"facts\"\ndifficulty = 3", 1)
    });
    assert_reported(&problems(&dir), "tasks.toml:", "unknown field `difficulty`");
}

#[test]
fn an_unknown_split_is_reported_with_its_line() {
    let (_tmp, dir) = copy("facts");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("split = \"test\"", "split = \"train\"", 1)
    });
    let line = std::fs::read_to_string(dir.join("tasks.toml"))
        .unwrap()
        .lines()
        .position(|l| l == "split = \"train\"")
        .unwrap()
        + 1;
    assert_reported(
        &problems(&dir),
        &format!("tasks.toml:{line}:"),
        "unknown variant `train`",
    );
}

#[test]
fn repeated_task_id_is_reported() {
    let (_tmp, dir) = copy("facts");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("id = \"facts-002\"", "id = \"facts-001\"", 1)
    });
    assert_reported(
        &problems(&dir),
        "tasks.toml:",
        "task id \"facts-001\" is used more than once",
    );
}

#[test]
fn undeclared_slot_is_reported() {
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("slot = \"home_city\"", "slot = \"shoe_size\"", 1)
    });
    assert_reported(
        &problems(&dir),
        "tasks.toml:",
        "uses slot \"shoe_size\", which the suite does not declare",
    );
}

#[test]
fn expectation_naming_a_missing_entity_is_reported() {
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen(
            "recommend_any = [",
            "recommend_any = [\"Atlantis Bay\", ",
            1,
        )
    });
    assert_reported(
        &problems(&dir),
        "tasks.toml:",
        "\"Atlantis Bay\", which is not an entity",
    );
}

#[test]
fn expected_fact_missing_from_the_knowledge_base_is_reported() {
    let (_tmp, dir) = copy("helpdesk");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen(
            "must_mention = [\"30 days\"]",
            "must_mention = [\"45 days\"]",
            1,
        )
    });
    assert_reported(
        &problems(&dir),
        "tasks.toml:",
        "expects \"45 days\", which no knowledge-base document states",
    );
}

#[test]
fn empty_and_unreadable_documents_are_reported() {
    let (_tmp, dir) = copy("helpdesk");
    std::fs::write(dir.join("kb/empty.md"), "  \n").unwrap();
    std::fs::write(
        dir.join("kb/latin1.md"),
        b"+++\nid = \"x\"\ntitle = \"Caf\xe9\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("kb/no-front.md"),
        "# Just text\n\nNo front matter here.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("kb/no-body.md"),
        "+++\nid = \"no-body\"\ntitle = \"No body\"\nkind = \"policy\"\n+++\n",
    )
    .unwrap();
    let p = problems(&dir);
    assert_reported(&p, "kb/empty.md", "empty document");
    assert_reported(&p, "kb/latin1.md", "not UTF-8");
    assert_reported(&p, "kb/no-front.md:1:", "missing front matter");
    assert_reported(&p, "kb/no-body.md", "no text");
}

#[test]
fn bad_front_matter_names_the_line() {
    let (_tmp, dir) = copy("facts");
    edit(&dir.join("kb/kaldor-vance.md"), |t| {
        t.replacen("kind = \"person\"", "kind = person", 1)
    });
    assert_reported(&problems(&dir), "kb/kaldor-vance.md:4:", "");
    let (_tmp, dir) = copy("facts");
    edit(&dir.join("kb/ostmere.md"), |t| {
        t.replacen("id = \"ostmere\"", "id = \"kelport\"", 1)
    });
    assert_reported(
        &problems(&dir),
        "kb/ostmere.md",
        "document id \"kelport\" is also used",
    );
}

#[test]
fn smoke_subset_must_be_small_and_known() {
    let (_tmp, dir) = copy("facts");
    edit(&dir.join("suite.toml"), |t| {
        t.replacen(
            "\"facts-001\",",
            "\"facts-001\",\n    \"facts-007\",\n    \"facts-099\",",
            1,
        )
    });
    let p = problems(&dir);
    assert_reported(&p, "suite.toml:", "the smoke subset has 7 tasks; at most 5");
    assert_reported(&p, "suite.toml:", "names task \"facts-099\"");
}

#[test]
fn manifest_problems_are_reported() {
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("suite.toml"), |t| {
        t.replacen(
            "interactive = true",
            "interactive = true\ncolour = \"blue\"",
            1,
        )
    });
    assert_reported(&problems(&dir), "suite.toml:", "unknown field `colour`");
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("suite.toml"), |t| {
        t.replacen("attribute = \"mood\"", "attribute = \"vibe\"", 1)
    });
    assert_reported(
        &problems(&dir),
        "suite.toml:",
        "checks attribute \"vibe\", which no document has",
    );
}

#[test]
fn needs_detail_without_the_slot_and_bad_values_are_reported() {
    let (_tmp, dir) = copy("helpdesk");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("needs_detail = \"model\"", "needs_detail = \"serial\"", 1)
    });
    assert_reported(
        &problems(&dir),
        "tasks.toml:",
        "needs detail \"serial\", but its profile has no such slot",
    );
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen(
            "slot = \"budget\", value = \"expensive\"",
            "slot = \"budget\", value = \"lavish\"",
            1,
        )
    });
    assert_reported(&problems(&dir), "tasks.toml:", "must be one of");
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("id = \"sea-002\"", "id = \"sea-001\"", 1)
            .replacen("slot = \"home_city\"", "slot = \"shoe_size\"", 1)
    });
    std::fs::write(dir.join("kb/empty.md"), "").unwrap();
    let p = problems(&dir);
    assert!(p.len() >= 3, "{p:?}");
    assert_reported(&p, "tasks.toml", "more than once");
    assert_reported(&p, "tasks.toml", "shoe_size");
    assert_reported(&p, "kb/empty.md", "empty document");
}

#[test]
fn an_opening_that_repeats_an_intent_example_and_a_form_question_that_leaks_are_reported() {
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen(
            "opening = \"Can you find me a beach holiday?\"",
            "opening = \"Arrange a seaside break for me!\"",
            1,
        )
    });
    edit(&dir.join("suite.toml"), |t| {
        t.replace(
            "question = \"Are you after somewhere quiet or somewhere lively?\"",
            "question = \"Are you after somewhere quiet, and how many days?\"",
        )
    });
    let p = problems(&dir);
    assert_reported(
        &p,
        "tasks.toml",
        "repeats the example \"Arrange a seaside break for me.\"",
    );
    assert_reported(&p, "suite.toml", "slot \"mood\": its question");
    assert_reported(&p, "suite.toml", "also matches the keywords of [\"days\"]");
}

#[test]
fn gold_labels_must_name_real_intents_and_documents_that_back_the_answer() {
    let (_tmp, dir) = copy("helpdesk");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen(
            "intents = [\"returns\"]\ndocuments = [\"returns-policy\"]",
            "intents = [\"refunds\"]\ndocuments = [\"gift-wrapping\", \"no-such-page\"]",
            1,
        )
    });
    let p = problems(&dir);
    assert_reported(&p, "tasks.toml", "gold intent \"refunds\" is not an intent");
    assert_reported(
        &p,
        "tasks.toml",
        "gold document \"no-such-page\" is not in the knowledge base",
    );
    assert_reported(&p, "tasks.toml", "no gold document states \"30 days\"");

    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("documents = [\"", "documents = [\"zz-", 1)
    });
    assert_reported(
        &problems(&dir),
        "tasks.toml",
        "are not the documents of recommend_any",
    );
}

#[test]
fn recommend_any_must_be_exactly_what_the_checks_select_and_values_must_fit_their_type() {
    let (_tmp, dir) = copy("seaside");
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen(
            "recommend_any = [\"Bramholm Point\", \"Gullby Cove\", \"Heroncombe Sands\", \"Tidewick Point\"]",
            "recommend_any = [\"Bramby Cove\", \"Gullby Cove\", \"Heroncombe Sands\"]\nmust_not_recommend = [\"Gullby Cove\"]",
            1,
        )
        .replacen("value = \"5\", say = \"I have 5 days.\"", "value = \"five\", say = \"I have 5 days.\"", 1)
    });
    let p = problems(&dir);
    assert_reported(
        &p,
        "tasks.toml",
        "\"Gullby Cove\" is both in recommend_any and in must_not_recommend",
    );
    assert_reported(
        &p,
        "tasks.toml",
        "slot \"days\" = \"five\" cannot be checked",
    );
    assert_reported(&p, "tasks.toml", "which break the task's own checks");
    // With the type error no entity meets the checks, so none is "left out": fix it and
    // the omission of two fitting places shows.
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("value = \"five\"", "value = \"5\"", 1)
    });
    assert_reported(
        &problems(&dir),
        "tasks.toml",
        "leaves out [\"Bramholm Point\", ",
    );
}

#[test]
fn every_broken_task_is_reported_and_a_broken_document_does_not_cascade() {
    let (_tmp, dir) = copy("facts");
    // Two syntax errors in two different tasks: both are reported, with their lines.
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("id = \"facts-002\"", "id = \"facts-002", 1)
            .replacen("id = \"facts-009\"", "id = facts-009\"", 1)
    });
    let p = problems(&dir);
    let text = std::fs::read_to_string(dir.join("tasks.toml")).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert_reported(&p, &format!("tasks.toml:{}", line("id = \"facts-002")), "");
    assert_reported(&p, &format!("tasks.toml:{}", line("id = facts-009")), "");

    // One unreadable document: one problem for it and one note, not a line per task.
    let (_tmp, dir) = copy("facts");
    let doc = std::fs::read_dir(dir.join("kb"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    edit(&doc, |t| t.replacen("title = ", "title = = ", 1));
    let p = problems(&dir);
    assert_eq!(p.len(), 2, "{}", p.join("\n"));
    assert_reported(
        &p,
        "tasks.toml",
        "were not checked against the knowledge base",
    );
}

#[test]
fn missing_required_fields_of_the_manifest_are_each_named_and_hide_no_other_problem() {
    let (_tmp, dir) = copy("seaside");
    // The manifest's own description and brief (the intents have descriptions too).
    edit(&dir.join("suite.toml"), |t| {
        let mut seen = false;
        t.lines()
            .filter(|l| {
                let top_description = l.starts_with("description") && !seen;
                seen |= l.starts_with("description");
                !l.starts_with("assistant_brief") && !top_description
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    edit(&dir.join("tasks.toml"), |t| {
        t.replacen("slot = \"home_city\"", "slot = \"shoe_size\"", 1)
            .replacen("id = \"sea-002\"", "id = \"sea-001\"", 1)
    });
    let found = problems(&dir);
    // Each missing field is named, not only the first.
    assert_reported(&found, "suite.toml", "`assistant_brief`");
    assert_reported(&found, "suite.toml", "`description`");
    // The checks that need the manifest still run: the tasks' problems are listed too.
    assert_reported(&found, "tasks.toml:", "which the suite does not declare");
    assert_reported(&found, "tasks.toml:", "is used more than once");
}
