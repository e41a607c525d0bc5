//! The world generator: writes the three suites from a fixed seed.
//!
//! The committed `fixtures/suites/` are this generator's output (a test regenerates them
//! and compares). `scale` multiplies the number of knowledge-base entities, so performance
//! tests can make much larger knowledge bases from the same code.

mod facts;
mod helpdesk;
mod seaside;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ladder_core::rng::Rng;
use ladder_core::{ProfileFact, Split};

pub const DEFAULT_SEED: u64 = 20261129;

/// Files of one generated suite, by path relative to the suite folder.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Generated {
    pub name: String,
    pub files: BTreeMap<PathBuf, String>,
}

/// A suite's manifest from the generator's data file (`gen/<suite>.toml`, compiled in).
/// The committed fixtures are checked against the generator's output by a test, so a data
/// file that does not parse fails that test and `ladder world generate` at once.
pub(crate) fn manifest_data(text: &str, suite: &str) -> crate::suite::Manifest {
    toml::from_str(text).unwrap_or_else(|e| {
        panic!("crates/ladder-world/src/gen/{suite}.toml is not a valid manifest: {e}")
    })
}

impl Generated {
    fn new(name: &str) -> Self {
        Generated {
            name: name.to_string(),
            files: BTreeMap::new(),
        }
    }

    fn add(&mut self, path: impl Into<PathBuf>, text: String) {
        self.files.insert(path.into(), text);
    }

    /// Write into `<root>/<name>/`, replacing the suite's knowledge base.
    pub fn write(&self, root: &Path) -> std::io::Result<()> {
        let dir = root.join(&self.name);
        let kb = dir.join("kb");
        if kb.is_dir() {
            std::fs::remove_dir_all(&kb)?;
        }
        for (rel, text) in &self.files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        Ok(())
    }
}

/// Options for the generator.
#[derive(Debug, Clone, Copy)]
pub struct GenOptions {
    pub seed: u64,
    /// Multiplies the number of knowledge-base entities (1 = the committed fixtures).
    pub scale: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            seed: DEFAULT_SEED,
            scale: 1,
        }
    }
}

pub const SUITES: [&str; 3] = ["seaside", "helpdesk", "facts"];

/// Generate one suite by name.
pub fn generate(name: &str, options: GenOptions) -> Option<Generated> {
    match name {
        "seaside" => Some(seaside::generate(options)),
        "helpdesk" => Some(helpdesk::generate(options)),
        "facts" => Some(facts::generate(options)),
        _ => None,
    }
}

/// A TOML string literal.
pub(crate) fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(crate) fn q_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

/// The first letter in upper case.
pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A lowercase, dash-separated id.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// One generated task, written as a `[[task]]` table.
pub(crate) struct TaskOut {
    pub id: String,
    pub suite: String,
    pub opening: String,
    pub profile: Vec<ProfileFact>,
    pub must_mention: Vec<String>,
    pub recommend_any: Vec<String>,
    pub needs_detail: Option<String>,
    pub tags: Vec<String>,
    pub comment: String,
    /// Gold labels: the opening's intents and the documents backing the answer.
    pub gold_intents: Vec<String>,
    pub gold_documents: Vec<String>,
    /// Set by [`assign_splits`] when the suite is finished.
    pub split: Option<Split>,
}

/// Give every task its split, stratified by tag: the tasks are grouped by their tags other
/// than `smoke` (untagged tasks are one group); in each group the smoke tasks go to dev,
/// then the rest, in an order shuffled by a fixed-seed RNG, fill dev up to half the group
/// (rounded up) and test takes the others. So every tag with two tasks or more is in both
/// splits, and the smoke tasks (what quick benches and tuning runs use) are all dev.
pub(crate) fn assign_splits(tasks: &mut [TaskOut], seed: u64) {
    let suite = tasks.first().map(|t| t.suite.clone()).unwrap_or_default();
    // FNV-1a of the suite's name, so each suite's shuffle is its own.
    let name = suite.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut rng = Rng::new(seed ^ name ^ 0x5B11_7000);
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for (i, t) in tasks.iter().enumerate() {
        let key: Vec<String> = t.tags.iter().filter(|g| *g != "smoke").cloned().collect();
        groups.entry(key).or_default().push(i);
    }
    for members in groups.values() {
        let (smoke, mut rest): (Vec<usize>, Vec<usize>) = members
            .iter()
            .partition(|&&i| tasks[i].tags.iter().any(|g| g == "smoke"));
        for i in (1..rest.len()).rev() {
            let j = rng.below(i + 1);
            rest.swap(i, j);
        }
        let dev = members.len().div_ceil(2).max(smoke.len()) - smoke.len();
        for &i in &smoke {
            tasks[i].split = Some(Split::Dev);
        }
        for (n, &i) in rest.iter().enumerate() {
            tasks[i].split = Some(if n < dev { Split::Dev } else { Split::Test });
        }
    }
}

pub(crate) fn write_tasks(header: &str, tasks: &[TaskOut]) -> String {
    let mut s = String::from(header);
    for t in tasks {
        s.push('\n');
        if !t.comment.is_empty() {
            s.push_str(&format!("# {}\n", t.comment));
        }
        s.push_str("[[task]]\n");
        s.push_str(&format!("id = {}\n", q(&t.id)));
        s.push_str(&format!("suite = {}\n", q(&t.suite)));
        s.push_str(&format!("opening = {}\n", q(&t.opening)));
        if !t.tags.is_empty() {
            s.push_str(&format!("tags = {}\n", q_list(&t.tags)));
        }
        if let Some(split) = t.split {
            s.push_str(&format!("split = {}\n", q(split.as_str())));
        }
        if !t.profile.is_empty() {
            s.push_str("profile = [\n");
            for f in &t.profile {
                let mut parts = vec![
                    format!("slot = {}", q(&f.slot)),
                    format!("value = {}", q(&f.value)),
                ];
                if let Some(say) = &f.say {
                    parts.push(format!("say = {}", q(say)));
                }
                if !f.hard {
                    parts.push("hard = false".into());
                }
                if f.stated {
                    parts.push("stated = true".into());
                }
                s.push_str(&format!("  {{ {} }},\n", parts.join(", ")));
            }
            s.push_str("]\n");
        }
        if !t.must_mention.is_empty() || !t.recommend_any.is_empty() || t.needs_detail.is_some() {
            s.push_str("[task.expect]\n");
            if !t.must_mention.is_empty() {
                s.push_str(&format!("must_mention = {}\n", q_list(&t.must_mention)));
            }
            if !t.recommend_any.is_empty() {
                s.push_str(&format!("recommend_any = {}\n", q_list(&t.recommend_any)));
            }
            if let Some(d) = &t.needs_detail {
                s.push_str(&format!("needs_detail = {}\n", q(d)));
            }
        }
        if !t.gold_intents.is_empty() || !t.gold_documents.is_empty() {
            s.push_str("[task.gold]\n");
            s.push_str(&format!("intents = {}\n", q_list(&t.gold_intents)));
            s.push_str(&format!("documents = {}\n", q_list(&t.gold_documents)));
        }
    }
    s
}

pub(crate) fn fact(slot: &str, value: &str, say: &str, hard: bool) -> ProfileFact {
    ProfileFact {
        slot: slot.into(),
        value: value.into(),
        say: Some(say.into()),
        hard,
        stated: false,
    }
}

impl Generated {
    /// Mark the smoke subset in the manifest and the tasks' tags, give every task its split
    /// ([`assign_splits`], from `seed`), and add `suite.toml` and `tasks.toml` (the latter
    /// headed by `header`).
    pub(crate) fn finish(
        &mut self,
        seed: u64,
        mut manifest: crate::suite::Manifest,
        smoke: &[&str],
        mut tasks: Vec<TaskOut>,
        header: &str,
    ) {
        manifest.smoke = smoke.iter().map(|s| s.to_string()).collect();
        for t in tasks.iter_mut().filter(|t| smoke.contains(&t.id.as_str())) {
            t.tags.push("smoke".into());
        }
        assign_splits(&mut tasks, seed);
        self.add("suite.toml", manifest_text(&manifest));
        self.add("tasks.toml", write_tasks(header, &tasks));
    }
}

/// A manifest as TOML, with a header.
pub(crate) fn manifest_text(m: &crate::suite::Manifest) -> String {
    format!(
        "# Generated by `ladder world generate`; do not edit by hand. Schema: fixtures/schema/suite.schema.json\n{}",
        toml::to_string_pretty(m).unwrap_or_default()
    )
}

/// A document with `+++` TOML front matter.
pub(crate) fn document(
    id: &str,
    title: &str,
    kind: &str,
    attributes: BTreeMap<String, toml::Value>,
    body: &str,
) -> String {
    let meta = crate::suite::FrontMatter {
        id: id.into(),
        title: title.into(),
        kind: kind.into(),
        attributes,
    };
    let mut s = format!("+++\n{}+++\n", toml::to_string(&meta).unwrap_or_default());
    s.push_str(body);
    if !body.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Attributes from (name, value) pairs.
pub(crate) fn attrs<const N: usize>(
    pairs: [(&str, toml::Value); N],
) -> BTreeMap<String, toml::Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Saltwick Bay"), "saltwick-bay");
        assert_eq!(slug("  Returns & refunds! "), "returns-refunds");
    }
}
