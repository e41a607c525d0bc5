//! Reading a suite folder's files into the suite types: the manifest, the knowledge
//! base's documents (TOML front matter between `+++` lines, then markdown) and the task
//! file.
//!
//! Invariants:
//! - Every file is read even when another one fails, and every problem is collected with
//!   its file and, for a syntax error, its line; nothing here stops at the first problem.
//! - A task file with a syntax error is parsed again `[[task]]` block by block, so every
//!   broken task is reported and the tasks that parse are still returned (and checked).
//! - No checks across files (slots, gold labels, entities): those are
//!   [`crate::validate`]'s, which calls this first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ladder_core::{Task, TaskFile};
use serde::Deserialize;

use crate::suite::{Document, FrontMatter, Manifest, PipelineFile, Problem, PIPELINE_FILE};

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn toml_problem(file: &Path, text: &str, e: &toml::de::Error, line_offset: usize) -> Problem {
    let line = e.span().map(|s| line_of(text, s.start) + line_offset);
    let message = e.message().trim().to_string();
    Problem {
        file: file.to_path_buf(),
        line,
        message,
    }
}

/// The problems found so far, in the order found.
#[derive(Default)]
pub(crate) struct Collector {
    pub problems: Vec<Problem>,
    /// Documents that could not be read: checks that look entities up are then skipped
    /// (one note instead of a follow-on line per task).
    pub unreadable_documents: usize,
}

impl Collector {
    pub fn add(&mut self, file: &Path, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        });
    }
}

/// A suite folder's files, each part that could be read (with its text, for line
/// numbers).
pub(crate) struct Files {
    pub manifest_path: PathBuf,
    pub manifest: Option<(Manifest, String)>,
    pub documents: Vec<Document>,
    pub tasks_path: PathBuf,
    pub tasks: Option<(Vec<Task>, String)>,
    /// `pipeline.toml`, when there is one and it could be read.
    pub pipeline: Option<PipelineFile>,
}

/// The suite's `pipeline.toml`: none when there is no such file, a problem when it cannot
/// be read as text (its settings are parsed by the scaffold, not here).
fn read_pipeline(dir: &Path, c: &mut Collector) -> Option<PipelineFile> {
    let path = dir.join(PIPELINE_FILE);
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            c.add(
                &path,
                None,
                format!("cannot read the suite's pipeline: {e}"),
            );
            None
        }
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(PipelineFile { path, text }),
            Err(_) => {
                c.add(&path, None, "the suite's pipeline is not UTF-8 text");
                None
            }
        },
    }
}

/// Read and parse the files of the suite folder `dir`, collecting the problems in `c`:
/// the manifest's first, then the documents', then the task file's. Without a manifest the
/// knowledge base is `kb/` and the tasks `tasks.toml`.
pub(crate) fn read_files(dir: &Path, c: &mut Collector) -> Files {
    let manifest_path = dir.join("suite.toml");
    let manifest = match std::fs::read_to_string(&manifest_path) {
        Err(e) => {
            c.add(
                &manifest_path,
                None,
                format!("cannot read the manifest: {e}"),
            );
            None
        }
        Ok(text) => match toml::from_str::<Manifest>(&text) {
            Ok(m) => Some((m, text)),
            Err(e) => {
                c.problems.push(toml_problem(&manifest_path, &text, &e, 0));
                // The rest of the suite is still checked against the manifest as far as it
                // can be read: a missing top-level field stands in empty, and every other
                // problem is still listed.
                with_missing_fields(&text).map(|(m, filled)| {
                    for field in filled
                        .iter()
                        .filter(|f| !e.message().contains(&format!("`{f}`")))
                    {
                        c.add(&manifest_path, None, format!("missing field `{field}`"));
                    }
                    (m, text)
                })
            }
        },
    };
    let (kb_rel, tasks_rel) = manifest
        .as_ref()
        .map(|(m, _)| (m.knowledge_base.clone(), m.tasks.clone()))
        .unwrap_or_else(|| ("kb".into(), "tasks.toml".into()));

    let documents = read_documents(&dir.join(&kb_rel), c);
    let tasks_path = dir.join(&tasks_rel);
    let tasks = read_tasks(&tasks_path, c);
    let pipeline = read_pipeline(dir, c);
    Files {
        manifest_path,
        manifest,
        documents,
        tasks_path,
        tasks,
        pipeline,
    }
}

/// The manifest with each missing top-level field filled by an empty stand-in (a string,
/// a list or a table, whichever its type takes), when that is all that is wrong with it;
/// and the fields filled.
fn with_missing_fields(text: &str) -> Option<(Manifest, Vec<String>)> {
    let mut table: toml::Table = toml::from_str(text).ok()?;
    let mut filled_fields = Vec::new();
    for _ in 0..16 {
        let e = match Manifest::deserialize(toml::Value::Table(table.clone())) {
            Ok(m) => return Some((m, filled_fields)),
            Err(e) => e.message().to_string(),
        };
        let field = e
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())?
            .to_string();
        let filled = [
            toml::Value::String(String::new()),
            toml::Value::Array(Vec::new()),
            toml::Value::Table(toml::Table::new()),
            toml::Value::Boolean(false),
            toml::Value::Integer(0),
        ]
        .into_iter()
        .find(|stand_in| {
            let mut t = table.clone();
            t.insert(field.clone(), stand_in.clone());
            match Manifest::deserialize(toml::Value::Table(t)) {
                Ok(_) => true,
                Err(e) => {
                    !e.message().contains(&format!("`{field}`"))
                        && !e.message().contains("invalid type")
                }
            }
        })?;
        table.insert(field.clone(), filled);
        filled_fields.push(field);
    }
    None
}

fn read_documents(kb: &Path, c: &mut Collector) -> Vec<Document> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(kb) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect(),
        Err(e) => {
            c.add(
                kb,
                None,
                format!("cannot read the knowledge-base folder: {e}"),
            );
            return vec![];
        }
    };
    paths.sort();
    if paths.is_empty() {
        c.add(kb, None, "the knowledge base has no .md documents");
    }
    let mut docs = Vec::new();
    let mut ids: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in paths {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                c.add(&path, None, format!("cannot read: {e}"));
                continue;
            }
        };
        let Ok(text) = String::from_utf8(bytes) else {
            c.add(&path, None, "not UTF-8 text");
            continue;
        };
        if text.trim().is_empty() {
            c.add(&path, None, "empty document");
            continue;
        }
        let Some((front, body, _)) = split_front_matter(&text) else {
            c.add(&path, Some(1), "missing front matter: a document starts with a +++ line, TOML (id, title, kind, [attributes]), and another +++ line");
            c.unreadable_documents += 1;
            continue;
        };
        let meta: FrontMatter = match toml::from_str(front) {
            Ok(m) => m,
            Err(e) => {
                c.problems.push(toml_problem(&path, front, &e, 1));
                c.unreadable_documents += 1;
                continue;
            }
        };
        if body.trim().is_empty() {
            c.add(
                &path,
                None,
                format!("document {:?} has front matter but no text", meta.id),
            );
        }
        if let Some(first) = ids.insert(meta.id.clone(), path.clone()) {
            c.add(
                &path,
                Some(2),
                format!(
                    "document id {:?} is also used by {}",
                    meta.id,
                    first.display()
                ),
            );
        }
        docs.push(Document {
            path,
            meta,
            body: body.to_string(),
        });
    }
    docs
}

fn read_tasks(path: &Path, c: &mut Collector) -> Option<(Vec<Task>, String)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            c.add(path, None, format!("cannot read the task file: {e}"));
            return None;
        }
    };
    match toml::from_str::<TaskFile>(&text) {
        Ok(f) if f.task.is_empty() => {
            c.add(path, None, "the task file holds no [[task]] entries");
            Some((vec![], text))
        }
        Ok(f) => Some((f.task, text)),
        Err(e) => {
            // Report every broken [[task]], not only the first: parse each block alone.
            let mut tasks = Vec::new();
            let before = c.problems.len();
            for (offset, block) in task_blocks(&text) {
                match toml::from_str::<TaskFile>(block) {
                    Ok(f) => tasks.extend(f.task),
                    Err(e) => c.problems.push(toml_problem(path, block, &e, offset)),
                }
            }
            if c.problems.len() == before {
                c.problems.push(toml_problem(path, &text, &e, 0));
            }
            // The tasks that parsed are still checked, so their problems show too.
            Some((tasks, text))
        }
    }
}

/// The task file cut before each `[[task]]` line: (lines before the block, the block).
fn task_blocks(text: &str) -> Vec<(usize, &str)> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("[[task]]") && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(text.len());
    starts
        .windows(2)
        .map(|w| (text[..w[0]].matches('\n').count(), &text[w[0]..w[1]]))
        .collect()
}

/// Split `+++`-fenced TOML front matter from a markdown document.
pub fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let rest = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))?;
    let end = rest.find("\n+++")?;
    let front = &rest[..end + 1];
    let after = &rest[end + 4..];
    let body = after
        .strip_prefix('\n')
        .or_else(|| after.strip_prefix("\r\n"))
        .unwrap_or(after);
    Some((front, body, 1))
}
