//! Reading and checking a suite, collecting every problem instead of stopping at the first:
//! [`read`] parses the files ([`crate::parse`]) and checks what they say; [`Suite::load`]
//! is [`read`] that fails on any problem.
//!
//! Checks: syntax errors (with file and line), unknown fields, repeated task ids, profile
//! slots the suite does not declare, expectations naming entities or facts that the
//! knowledge base lacks, empty or unreadable documents, a smoke subset that is too large or
//! names unknown tasks, slot checks on attributes no document has, bad entity patterns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ladder_core::Task;

use crate::check::{evaluate, hard_checks};
use crate::parse::{line_of, read_files, Collector, Files};
use crate::rules::slots_asked;
use crate::suite::{Check, Document, Manifest, Problem, Suite, SuiteError};
use crate::text::{mentions, normalise, Keep};

pub const MAX_SMOKE: usize = 5;

/// The line of the `n`-th (0-based) occurrence of `needle`, if any.
fn find_line(text: &str, needle: &str, n: usize) -> Option<usize> {
    text.match_indices(needle)
        .nth(n)
        .map(|(i, _)| line_of(text, i))
}

/// Read a suite folder. Returns the suite when it could be read at all, and every problem:
/// the files' own ([`crate::parse`]), then the manifest's, then the tasks'.
pub fn read(dir: &Path) -> (Option<Suite>, Vec<Problem>) {
    let mut c = Collector::default();
    let Files {
        manifest_path,
        manifest,
        documents,
        tasks_path,
        tasks,
        pipeline,
    } = read_files(dir, &mut c);
    let Some((manifest, manifest_text)) = manifest else {
        return (None, c.problems);
    };
    check_manifest(
        &manifest,
        &manifest_text,
        &manifest_path,
        &documents,
        &mut c,
    );
    if let Some((tasks, text)) = &tasks {
        check_tasks(&manifest, tasks, text, &tasks_path, &documents, &mut c);
        for id in &manifest.smoke {
            if !tasks.iter().any(|t| &t.id == id) {
                let line = find_line(&manifest_text, &format!("\"{id}\""), 0);
                c.add(
                    &manifest_path,
                    line,
                    format!(
                        "the smoke subset names task {id:?}, which {} lacks",
                        tasks_path.display()
                    ),
                );
            }
        }
    }
    let suite = tasks.map(|(tasks, _)| Suite {
        dir: dir.to_path_buf(),
        manifest,
        tasks,
        documents,
        pipeline,
    });
    (suite, c.problems)
}

impl Suite {
    /// Load a suite folder; fails with every problem found ([`read`]).
    pub fn load(dir: &Path) -> Result<Suite, SuiteError> {
        let (suite, problems) = read(dir);
        match suite {
            Some(suite) if problems.is_empty() => Ok(suite),
            _ => Err(SuiteError { problems }),
        }
    }
}

fn check_manifest(m: &Manifest, text: &str, path: &Path, docs: &[Document], c: &mut Collector) {
    if m.intents.is_empty() {
        c.add(path, None, "the manifest declares no [[intent]]");
    }
    if m.assistant_brief.trim().is_empty() {
        c.add(
            path,
            find_line(text, "assistant_brief", 0),
            "assistant_brief is empty: write the paragraph a deployed assistant would be told",
        );
    }
    for intent in &m.intents {
        let line = find_line(text, &format!("name = \"{}\"", intent.name), 0);
        if intent.examples.is_empty() {
            c.add(
                path,
                line,
                format!("intent {:?} has no labelled examples", intent.name),
            );
        }
        let mut names = BTreeSet::new();
        for slot in &intent.slots {
            if !names.insert(&slot.name) {
                c.add(
                    path,
                    line,
                    format!(
                        "intent {:?} declares slot {:?} twice",
                        intent.name, slot.name
                    ),
                );
            }
            if slot.keywords.is_empty() {
                c.add(path, line, format!("slot {:?} has no keywords", slot.name));
            } else if m.interactive {
                // The form's own question must ask for its slot, and only for it: otherwise
                // the simulated user hands a form two facts for one question.
                let matched = slots_asked(m, &slot.question);
                let slot_line =
                    find_line(text, &format!("question = {:?}", slot.question), 0).or(line);
                if !matched.contains(&slot.name) {
                    c.add(
                        path,
                        slot_line,
                        format!(
                            "slot {:?}: its question {:?} matches none of its keywords",
                            slot.name, slot.question
                        ),
                    );
                }
                let others: Vec<&String> = matched.iter().filter(|s| **s != slot.name).collect();
                if !others.is_empty() {
                    c.add(
                        path,
                        slot_line,
                        format!(
                            "slot {:?}: its question {:?} also matches the keywords of {:?}",
                            slot.name, slot.question, others
                        ),
                    );
                }
            }
            if let Some(check) = &slot.check {
                let attr = check.attribute().split('.').next().unwrap_or_default();
                if !docs.is_empty() && !docs.iter().any(|d| d.meta.attributes.contains_key(attr)) {
                    c.add(
                        path,
                        line,
                        format!(
                            "slot {:?} checks attribute {attr:?}, which no document has",
                            slot.name
                        ),
                    );
                }
            }
        }
    }
    if m.smoke.len() > MAX_SMOKE {
        c.add(
            path,
            find_line(text, "smoke", 0),
            format!(
                "the smoke subset has {} tasks; at most {MAX_SMOKE} are allowed",
                m.smoke.len()
            ),
        );
    }
    for p in &m.entity_patterns {
        if let Err(e) = regex::Regex::new(p) {
            c.add(
                path,
                find_line(text, "entity_patterns", 0),
                format!("entity pattern {p:?} is not a valid regular expression: {e}"),
            );
        }
    }
}

/// A task's gold labels: declared intents, existing documents; for a pick, exactly the
/// documents of the entities `recommend_any` lists; for facts, each stated in a gold
/// document (as whole words: a fact found only inside another phrase is not backed).
fn check_gold(
    m: &Manifest,
    t: &Task,
    docs: &[Document],
    path: &Path,
    line: Option<usize>,
    c: &mut Collector,
) {
    for i in t.gold.intents.iter().flatten() {
        if !m.intents.iter().any(|x| &x.name == i) {
            c.add(
                path,
                line,
                format!(
                    "task {:?}: gold intent {i:?} is not an intent of the manifest",
                    t.id
                ),
            );
        }
    }
    let gold: Vec<&Document> = t
        .gold
        .documents
        .iter()
        .filter_map(|id| {
            let d = docs.iter().find(|d| &d.meta.id == id);
            if d.is_none() {
                c.add(
                    path,
                    line,
                    format!(
                        "task {:?}: gold document {id:?} is not in the knowledge base",
                        t.id
                    ),
                );
            }
            d
        })
        .collect();
    // Gold documents are optional (retrieval recall is then not measured); given for a
    // pick, they must be exactly the documents of recommend_any.
    if !t.expect.recommend_any.is_empty() && !t.gold.documents.is_empty() {
        let mut want: Vec<&str> = docs
            .iter()
            .filter(|d| {
                t.expect
                    .recommend_any
                    .iter()
                    .any(|r| d.meta.title.eq_ignore_ascii_case(r))
            })
            .map(|d| d.meta.id.as_str())
            .collect();
        let mut got: Vec<&str> = t.gold.documents.iter().map(String::as_str).collect();
        want.sort_unstable();
        got.sort_unstable();
        if want != got {
            c.add(
                path,
                line,
                format!(
                    "task {:?}: gold documents {got:?} are not the documents of recommend_any {want:?}",
                    t.id
                ),
            );
        }
    } else if !gold.is_empty() {
        for fact in &t.expect.must_mention {
            if !gold.iter().any(|d| mentions(&d.body, fact)) {
                c.add(
                    path,
                    line,
                    format!(
                        "task {:?}: no gold document states {fact:?} (gold: {:?})",
                        t.id, t.gold.documents
                    ),
                );
            }
        }
    }
}

/// A task's hard checks against the knowledge base: each profile value must be comparable
/// with its attribute (a type mismatch fails every entity quietly at scoring), the same
/// name may not be both recommended and forbidden, and `recommend_any` must be exactly the
/// entities that meet every hard check.
fn check_recommendations(
    m: &Manifest,
    t: &Task,
    docs: &[Document],
    path: &Path,
    line: Option<usize>,
    c: &mut Collector,
) {
    for name in &t.expect.recommend_any {
        if t.expect
            .must_not_recommend
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            c.add(
                path,
                line,
                format!(
                    "task {:?}: {name:?} is both in recommend_any and in must_not_recommend",
                    t.id
                ),
            );
        }
    }
    let checks = hard_checks(m, &t.profile);
    if checks.is_empty() || docs.is_empty() {
        return;
    }
    let mut meets_all: Vec<&str> = Vec::new();
    let mut reported = BTreeSet::new();
    for d in docs {
        let mut all = true;
        for (fact, check) in &checks {
            match evaluate(check, &d.meta.attributes, &fact.value, &t.profile) {
                Ok(ok) => all &= ok,
                Err(why) => {
                    all = false;
                    // One line per slot, not one per entity: no cascade.
                    if !why.starts_with("has no attribute") && reported.insert(&fact.slot) {
                        c.add(
                            path,
                            line,
                            format!(
                                "task {:?}: slot {:?} = {:?} cannot be checked: {why}",
                                t.id, fact.slot, fact.value
                            ),
                        );
                    }
                }
            }
        }
        if all {
            meets_all.push(&d.meta.title);
        }
    }
    if t.expect.recommend_any.is_empty() {
        return;
    }
    let listed = |n: &str| {
        t.expect
            .recommend_any
            .iter()
            .any(|r| r.eq_ignore_ascii_case(n))
    };
    let breaking: Vec<&String> = t
        .expect
        .recommend_any
        .iter()
        .filter(|r| docs.iter().any(|d| d.meta.title.eq_ignore_ascii_case(r)))
        .filter(|r| !meets_all.iter().any(|n| n.eq_ignore_ascii_case(r)))
        .collect();
    if !breaking.is_empty() {
        c.add(
            path,
            line,
            format!(
                "task {:?}: recommend_any lists {breaking:?}, which break the task's own checks",
                t.id
            ),
        );
    }
    let missing: Vec<&&str> = meets_all.iter().filter(|n| !listed(n)).collect();
    if !missing.is_empty() {
        c.add(
            path,
            line,
            format!(
                "task {:?}: recommend_any leaves out {missing:?}, which meet every check",
                t.id
            ),
        );
    }
}

/// Two texts with (nearly) the same words: a Jaccard similarity of their lowercase word
/// sets of at least 0.8.
pub fn nearly_equal(a: &str, b: &str) -> bool {
    let set = |s: &str| -> BTreeSet<String> {
        normalise(s, Keep::Apostrophes)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (set(a), set(b));
    let union = a.union(&b).count();
    union > 0 && a.intersection(&b).count() as f64 / union as f64 >= 0.8
}

fn check_tasks(
    m: &Manifest,
    tasks: &[Task],
    text: &str,
    path: &Path,
    docs: &[Document],
    c: &mut Collector,
) {
    if c.unreadable_documents > 0 {
        c.add(
            path,
            None,
            format!(
                "the tasks were not checked against the knowledge base: {} document(s) could not be read (see above)",
                c.unreadable_documents
            ),
        );
    }
    let kb_complete = c.unreadable_documents == 0;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let all_text: String = docs
        .iter()
        .map(|d| d.body.to_lowercase())
        .collect::<Vec<_>>()
        .join("\n");
    for t in tasks {
        let n = seen.entry(&t.id).or_insert(0);
        let line = find_line(text, &format!("id = \"{}\"", t.id), *n);
        *n += 1;
        if *n == 2 {
            c.add(
                path,
                line,
                format!("task id {:?} is used more than once", t.id),
            );
        }
        // An opening that (nearly) repeats a labelled example would measure a classifier
        // on its training data.
        for intent in &m.intents {
            if let Some(example) = intent.examples.iter().find(|e| nearly_equal(e, &t.opening)) {
                c.add(
                    path,
                    line,
                    format!(
                        "task {:?}: its opening {:?} (nearly) repeats the example {example:?} of intent {:?}",
                        t.id, t.opening, intent.name
                    ),
                );
            }
        }
        if !t.suite.is_empty() && t.suite != m.name {
            c.add(
                path,
                line,
                format!(
                    "task {:?} says suite {:?}, but this suite is {:?}",
                    t.id, t.suite, m.name
                ),
            );
        }
        if t.opening.trim().is_empty() {
            c.add(path, line, format!("task {:?} has an empty opening", t.id));
        }
        for f in &t.profile {
            match m.slot(&f.slot) {
                None => c.add(
                    path,
                    line,
                    format!(
                        "task {:?} uses slot {:?}, which the suite does not declare",
                        t.id, f.slot
                    ),
                ),
                Some(slot) => {
                    if let Some(Check::AtMost { .. } | Check::AtLeast { .. }) = &slot.check {
                        if f.value.trim().parse::<f64>().is_err() {
                            c.add(
                                path,
                                line,
                                format!(
                                    "task {:?}: slot {:?} needs a number, not {:?}",
                                    t.id, f.slot, f.value
                                ),
                            );
                        }
                    }
                    if let Some(Check::ScaleAtMost { scale, .. }) = &slot.check {
                        if !scale.iter().any(|s| s.eq_ignore_ascii_case(&f.value)) {
                            c.add(
                                path,
                                line,
                                format!(
                                    "task {:?}: slot {:?} must be one of {scale:?}, not {:?}",
                                    t.id, f.slot, f.value
                                ),
                            );
                        }
                    }
                }
            }
        }
        for name in t
            .expect
            .recommend_any
            .iter()
            .chain(&t.expect.must_not_recommend)
            .filter(|_| kb_complete)
        {
            if !docs.iter().any(|d| d.meta.title.eq_ignore_ascii_case(name)) {
                c.add(
                    path,
                    line,
                    format!(
                        "task {:?} names {name:?}, which is not an entity of the knowledge base",
                        t.id
                    ),
                );
            }
        }
        if kb_complete {
            check_gold(m, t, docs, path, line, c);
            check_recommendations(m, t, docs, path, line, c);
        }
        for fact in t.expect.must_mention.iter().filter(|_| kb_complete) {
            if !all_text.contains(&fact.to_lowercase())
                && !t.profile.iter().any(|f| f.value.eq_ignore_ascii_case(fact))
            {
                c.add(
                    path,
                    line,
                    format!(
                        "task {:?} expects {fact:?}, which no knowledge-base document states",
                        t.id
                    ),
                );
            }
        }
        if let Some(d) = &t.expect.needs_detail {
            if !t.profile.iter().any(|f| &f.slot == d) {
                c.add(
                    path,
                    line,
                    format!(
                        "task {:?} needs detail {d:?}, but its profile has no such slot",
                        t.id
                    ),
                );
            }
        }
    }
}
