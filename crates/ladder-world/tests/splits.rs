//! The committed splits: fixed, disjoint, about half each, stratified by tag, the smoke
//! tasks all dev; and no tuned file names a test task.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ladder_core::{Split, TaskFile};
use ladder_world::gen::{generate, GenOptions, SUITES};
use ladder_world::{default_suites_dir, Suite};

fn suite(name: &str) -> Suite {
    Suite::load(&default_suites_dir().join(name)).unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

#[test]
fn every_task_has_a_split_and_regenerating_gives_the_same() {
    for name in SUITES {
        let s = suite(name);
        let generated = generate(name, GenOptions::default()).expect("a known suite");
        let text = &generated.files[Path::new("tasks.toml")];
        let again = TaskFile::parse(text, Path::new("tasks.toml")).expect("generated tasks");
        let committed: Vec<_> = s.tasks.iter().map(|t| (&t.id, t.split)).collect();
        let regenerated: Vec<_> = again.task.iter().map(|t| (&t.id, t.split)).collect();
        assert_eq!(committed, regenerated, "{name}: the splits changed");
        for t in &s.tasks {
            assert!(t.split.is_some(), "{name}/{} has no split", t.id);
        }
    }
}

#[test]
fn the_splits_are_disjoint_about_half_each_and_the_smoke_tasks_are_dev() {
    for name in SUITES {
        let s = suite(name);
        let of = |split: Split| -> BTreeSet<&str> {
            s.tasks
                .iter()
                .filter(|t| t.split == Some(split))
                .map(|t| t.id.as_str())
                .collect()
        };
        let (dev, test) = (of(Split::Dev), of(Split::Test));
        assert!(dev.is_disjoint(&test), "{name}: a task in both splits");
        assert!(
            !dev.is_empty() && !test.is_empty(),
            "{name}: an empty split"
        );
        assert_eq!(dev.len() + test.len(), s.tasks.len(), "{name}");
        let share = dev.len() as f64 / s.tasks.len() as f64;
        assert!(
            (0.35..=0.65).contains(&share),
            "{name}: {} of {} tasks in dev",
            dev.len(),
            s.tasks.len()
        );
        for id in &s.manifest.smoke {
            assert!(
                dev.contains(id.as_str()),
                "{name}: smoke task {id} is not dev"
            );
        }
        for t in &s.tasks {
            if t.tags.iter().any(|g| g == "smoke") {
                assert_eq!(
                    t.split,
                    Some(Split::Dev),
                    "{name}/{}: smoke but not dev",
                    t.id
                );
            }
        }
    }
}

#[test]
fn every_tag_with_two_tasks_or_more_is_in_both_splits() {
    for name in SUITES {
        let s = suite(name);
        let mut by_tag: BTreeMap<&str, BTreeSet<Option<Split>>> = BTreeMap::new();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &s.tasks {
            for tag in t.tags.iter().filter(|g| *g != "smoke") {
                by_tag.entry(tag).or_default().insert(t.split);
                *counts.entry(tag).or_default() += 1;
            }
        }
        for (tag, splits) in by_tag {
            if counts[tag] >= 2 {
                assert_eq!(
                    splits,
                    BTreeSet::from([Some(Split::Dev), Some(Split::Test)]),
                    "{name}: tag {tag} is not in both splits"
                );
            }
        }
    }
}

/// The files tuned on dev: the scaffold's pipelines, the suites' pipeline overrides, and
/// the prompts of the scaffold and the loop.
fn tuned_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    let mut add_dir = |dir: PathBuf, ext: Option<&str>| {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a folder entry").path();
            if path.is_file() && ext.is_none_or(|x| path.extension().is_some_and(|e| e == x)) {
                files.push(path);
            }
        }
    };
    add_dir(root.join("fixtures/pipelines"), Some("toml"));
    add_dir(root.join("crates/ladder-bootstrap/prompts"), None);
    add_dir(root.join("crates/ladder-scaffold/prompts"), None);
    for name in SUITES {
        let p = default_suites_dir().join(name).join("pipeline.toml");
        if p.exists() {
            files.push(p);
        }
    }
    files
}

/// Whether `text` holds `id` as a whole word (not inside a longer id).
fn names(text: &str, id: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(id).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + id.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[test]
fn no_tuned_file_names_a_test_task() {
    let test_ids: Vec<String> = SUITES
        .iter()
        .flat_map(|name| suite(name).tasks)
        .filter(|t| t.split == Some(Split::Test))
        .map(|t| t.id)
        .collect();
    assert!(!test_ids.is_empty());
    let files = tuned_files();
    assert!(files.len() >= 4, "{files:?}");
    let mut found = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for id in test_ids.iter().filter(|id| names(&text, id)) {
            found.push(format!("{} names test task {id}", path.display()));
        }
    }
    assert!(
        found.is_empty(),
        "tuned on test tasks:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_whole_word_id_is_found_and_a_prefix_is_not() {
    assert!(names("see sea-045.", "sea-045"));
    assert!(!names("see sea-0451", "sea-045"));
    assert!(!names("xsea-045", "sea-045"));
}
