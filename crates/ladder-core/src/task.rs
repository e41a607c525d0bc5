//! Tasks and budgets, and reading them from task files.
//!
//! A task file is TOML (or JSON, by extension) holding one or more `[[task]]` tables.
//! Unknown fields are errors, so a typo is caught instead of silently ignored.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Limits a strategy must respect. A limit of 0 means "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    /// Strategy steps (one pass of a strategy's loop).
    pub max_steps: u32,
    pub max_model_calls: u32,
    /// Prompt plus completion tokens over all model calls.
    pub max_tokens: u64,
    /// Wall time of the whole run, in milliseconds.
    pub max_wall_ms: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_steps: 12,
            max_model_calls: 24,
            max_tokens: 60_000,
            max_wall_ms: 600_000,
        }
    }
}

/// One fact the simulated user knows and the model does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileFact {
    /// The slot the fact fills, e.g. "home_city".
    pub slot: String,
    /// The fact's value, e.g. "Harrowgate".
    pub value: String,
    /// How the user says it, e.g. "I live in Harrowgate." Defaults to the value.
    #[serde(default)]
    pub say: Option<String>,
    /// A hard constraint the answer must respect (default true).
    #[serde(default = "yes")]
    pub hard: bool,
    /// Already said in the opening utterance, so the user repeats it freely.
    #[serde(default)]
    pub stated: bool,
}

fn yes() -> bool {
    true
}

/// What a correct answer looks like. Every list may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Expectations {
    /// Strings the answer must contain (case-insensitive).
    pub must_mention: Vec<String>,
    /// The answer must recommend at least one of these.
    pub recommend_any: Vec<String>,
    /// The answer must not recommend any of these.
    pub must_not_recommend: Vec<String>,
    /// A detail the strategy has to obtain from the user before it can answer.
    pub needs_detail: Option<String>,
}

/// Gold labels: what a correct run would find. The judge's and the benchmark's, never a
/// strategy's; they measure the parts of a pipeline (an intent classifier's accuracy, a
/// retriever's recall).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Gold {
    /// The intent label(s) the opening expresses; empty when none of the suite's labels
    /// fits; absent when the task is not labelled (a classifier is then not scored on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intents: Option<Vec<String>>,
    /// Ids of the documents that back a correct answer. For a task that asks for a pick
    /// (`recommend_any`), any one of them is a hit; otherwise every one is needed (each
    /// holds part of the answer, as the hops of a two-hop question do).
    pub documents: Vec<String>,
}

/// Which half of a suite a task is in: `dev` (prompts, thresholds and pipelines are tuned
/// on it) or `test` (held out: reported on, never tuned on). A task without one (a
/// stand-alone task file, a suite written before splits) is in neither: only
/// `ladder bench --split all` runs it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Dev,
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of work for a strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: String,
    /// The suite this task belongs to (empty for a stand-alone task).
    #[serde(default)]
    pub suite: String,
    /// What the user says first.
    pub opening: String,
    /// Facts only the user knows.
    #[serde(default)]
    pub profile: Vec<ProfileFact>,
    #[serde(default)]
    pub expect: Expectations,
    /// Gold labels for measuring a pipeline's parts.
    #[serde(default)]
    pub gold: Gold,
    #[serde(default)]
    pub budget: Budget,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The task's split ([`Split`]); `None` when the file gives none (in neither split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

impl Task {
    /// What a strategy may see of this task: its id, its suite and the user's opening
    /// words. Never the profile or the expectations.
    pub fn view(&self) -> TaskView {
        TaskView {
            id: self.id.clone(),
            suite: self.suite.clone(),
            opening: self.opening.clone(),
            brief: String::new(),
        }
    }
}

/// A task as a strategy sees it: what a real assistant would know when the user first
/// speaks. It has no way back to the [`Task`] it was made from, so the hidden profile and
/// the expected answers are out of a strategy's reach by construction:
///
/// ```compile_fail,E0609
/// fn peek(task: &ladder_core::TaskView) -> usize {
///     task.profile.len() // no such field
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: String,
    /// The suite the task belongs to (empty for a stand-alone task).
    pub suite: String,
    /// What the user says first.
    pub opening: String,
    /// What the deployed assistant is told about its job (the suite's assistant brief;
    /// empty for a stand-alone task).
    #[serde(default)]
    pub brief: String,
}

/// The contents of a task file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    #[serde(default)]
    pub task: Vec<Task>,
}

#[derive(Debug, thiserror::Error)]
pub enum TaskFileError {
    #[error("cannot read task file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("task file {path} is malformed: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("task file {path} holds no [[task]] entries")]
    Empty { path: PathBuf },
    #[error("task file {path} has no task with id {id:?}; it has: {}", available.join(", "))]
    NoSuchTask {
        path: PathBuf,
        id: String,
        available: Vec<String>,
    },
    #[error("task file {path} holds {count} tasks: choose one with --id (ids: {})", ids.join(", "))]
    Ambiguous {
        path: PathBuf,
        count: usize,
        ids: Vec<String>,
    },
}

impl TaskFile {
    /// Parse task-file text. `path` is used for messages and to pick the format
    /// (`.json` is JSON, anything else TOML).
    pub fn parse(text: &str, path: &Path) -> Result<TaskFile, TaskFileError> {
        let syntax = |message: String| TaskFileError::Syntax {
            path: path.to_path_buf(),
            message,
        };
        let file: TaskFile = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| syntax(e.to_string().trim_end().to_string()))?
        };
        if file.task.is_empty() {
            return Err(TaskFileError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(file)
    }

    pub fn load(path: &Path) -> Result<TaskFile, TaskFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TaskFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Pick one task: the one with `id`, or the only one when `id` is `None`.
    pub fn select(self, id: Option<&str>, path: &Path) -> Result<Task, TaskFileError> {
        let ids = || self.task.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        match id {
            Some(id) => match self.task.iter().position(|t| t.id == id) {
                Some(i) => Ok(self.task.into_iter().nth(i).expect("index is in range")),
                None => Err(TaskFileError::NoSuchTask {
                    path: path.to_path_buf(),
                    id: id.to_string(),
                    available: ids(),
                }),
            },
            None if self.task.len() == 1 => {
                Ok(self.task.into_iter().next().expect("one task is there"))
            }
            None => Err(TaskFileError::Ambiguous {
                path: path.to_path_buf(),
                count: self.task.len(),
                ids: ids(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[task]]
id = "paris"
opening = "What is the capital of France?"
expect.must_mention = ["Paris"]

[[task]]
id = "sea"
opening = "I'd like to go to the seaside next week."
profile = [{ slot = "days", value = "3", say = "Three days." }]
budget = { max_model_calls = 4 }
"#;

    #[test]
    fn parses_tasks_with_defaults() {
        let f = TaskFile::parse(GOOD, Path::new("t.toml")).unwrap();
        assert_eq!(f.task.len(), 2);
        assert_eq!(f.task[0].expect.must_mention, vec!["Paris".to_string()]);
        assert_eq!(f.task[1].budget.max_model_calls, 4);
        assert_eq!(f.task[1].budget.max_steps, Budget::default().max_steps);
        assert!(f.task[1].profile[0].hard);
    }

    #[test]
    fn select_by_id_and_ambiguity() {
        let p = Path::new("t.toml");
        let f = TaskFile::parse(GOOD, p).unwrap();
        assert_eq!(f.clone().select(Some("sea"), p).unwrap().id, "sea");
        let e = f.clone().select(None, p).unwrap_err().to_string();
        assert!(e.contains("--id") && e.contains("paris, sea"), "{e}");
        let e = f.select(Some("nope"), p).unwrap_err().to_string();
        assert!(e.contains("\"nope\"") && e.contains("paris"), "{e}");
    }

    #[test]
    fn missing_field_names_file_line_and_field() {
        let bad = "[[task]]\nid = \"x\"\n";
        let e = TaskFile::parse(bad, Path::new("dir/bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("dir/bad.toml"), "{e}");
        assert!(e.contains("opening"), "{e}");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn unknown_field_is_an_error() {
        let bad = "[[task]]\nid = \"x\"\nopening = \"hi\"\noppening = \"typo\"\n";
        let e = TaskFile::parse(bad, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("oppening") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let bad = "[[task]]\nid = \"x\"\nopening = \"hi\"\nbudget = { max_steps = \"ten\" }\n";
        let e = TaskFile::parse(bad, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_steps"), "{e}");
    }

    #[test]
    fn a_split_is_dev_or_test_and_may_be_left_out() {
        let f = TaskFile::parse(GOOD, Path::new("t.toml")).unwrap();
        assert_eq!(f.task[0].split, None);
        let ok = "[[task]]\nid = \"x\"\nopening = \"hi\"\nsplit = \"test\"\n";
        let f = TaskFile::parse(ok, Path::new("t.toml")).unwrap();
        assert_eq!(f.task[0].split, Some(Split::Test));
        let bad = "[[task]]\nid = \"x\"\nopening = \"hi\"\nsplit = \"train\"\n";
        let e = TaskFile::parse(bad, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.toml") && e.contains("line 4") && e.contains("dev"),
            "{e}"
        );
    }

    #[test]
    fn json_task_files_parse_too() {
        let json = r#"{"task":[{"id":"a","opening":"hi"}]}"#;
        let f = TaskFile::parse(json, Path::new("a.json")).unwrap();
        assert_eq!(f.task[0].id, "a");
        let e = TaskFile::parse(r#"{"task":[{"id":"a"}]}"#, Path::new("a.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("opening") && e.contains("line 1"), "{e}");
    }
}
