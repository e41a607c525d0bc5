//! Suites on disk: a manifest, a task file and a knowledge base of markdown documents.
//!
//! ```text
//! fixtures/suites/<name>/suite.toml   the manifest (intents, slots, checks, smoke subset)
//!                        tasks.toml   [[task]] entries (ladder_core::Task)
//!                        kb/*.md      one document per entity, TOML front matter between +++ lines
//! ```
//!
//! The types only, with what can be derived from them alone (a suite's form spec, its
//! content hash): no I/O. Reading the files is [`crate::parse`]'s; checking them and
//! `Suite::load` (strict: unknown fields are errors, every problem listed with file and
//! line) are [`crate::validate`]'s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ladder_core::Task;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a slot's value constrains a recommended entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, tag = "rule", rename_all = "snake_case")]
pub enum Check {
    /// The attribute equals the value (case-insensitive).
    Equals { attribute: String },
    /// The attribute (a list) contains the value.
    Contains { attribute: String },
    /// The attribute (a number) is at most the value.
    AtMost { attribute: String },
    /// The attribute (a number) is at least the value.
    AtLeast { attribute: String },
    /// The attribute is at most the value on an ordered scale.
    ScaleAtMost {
        attribute: String,
        scale: Vec<String>,
    },
    /// The attribute is at least the value on an ordered scale.
    ScaleAtLeast {
        attribute: String,
        scale: Vec<String>,
    },
    /// The attribute equals one of the values the profile lists, separated by `|`
    /// ("Valmora|Esteria"; case-insensitive).
    OneOf { attribute: String },
}

impl Check {
    /// The attribute path; `{slot}` placeholders are filled from the profile.
    pub fn attribute(&self) -> &str {
        match self {
            Check::Equals { attribute }
            | Check::Contains { attribute }
            | Check::AtMost { attribute }
            | Check::AtLeast { attribute }
            | Check::OneOf { attribute }
            | Check::ScaleAtMost { attribute, .. }
            | Check::ScaleAtLeast { attribute, .. } => attribute,
        }
    }
}

/// One question a slot-filling form would ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub name: String,
    /// The form's question for this slot.
    pub question: String,
    /// Words that show a question is about this slot (the simulated user matches on them).
    pub keywords: Vec<String>,
    /// How a value of this slot constrains a recommendation; none for plain information.
    #[serde(default)]
    pub check: Option<Check>,
}

/// A user intent with labelled examples for an intent classifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
    #[serde(default, rename = "slot")]
    pub slots: Vec<Slot>,
}

/// The manifest, `suite.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// For people: what the suite is and what it tests. Strategies never see it.
    pub description: String,
    /// The one paragraph a deployed assistant would be told about its job ("You are the
    /// helpdesk of a lamp shop..."), with no hint of the benchmark. Every strategy gets it.
    pub assistant_brief: String,
    /// Knowledge-base folder, relative to the suite folder.
    pub knowledge_base: String,
    /// Task file, relative to the suite folder.
    pub tasks: String,
    /// Ids of at most 5 tasks for fast tests.
    pub smoke: Vec<String>,
    /// Regular expressions for names that look like entities of this world; a match in an
    /// answer that is not a knowledge-base entity counts as a hallucination.
    #[serde(default)]
    pub entity_patterns: Vec<String>,
    /// Whether tasks need the user at all; when false, every question is wasted time.
    #[serde(default = "yes")]
    pub interactive: bool,
    #[serde(rename = "intent")]
    pub intents: Vec<Intent>,
}

fn yes() -> bool {
    true
}

impl Manifest {
    /// Every slot of every intent, first declaration wins.
    pub fn slots(&self) -> Vec<&Slot> {
        let mut seen = std::collections::BTreeSet::new();
        self.intents
            .iter()
            .flat_map(|i| &i.slots)
            .filter(|s| seen.insert(s.name.clone()))
            .collect()
    }

    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.intents
            .iter()
            .flat_map(|i| &i.slots)
            .find(|s| s.name == name)
    }
}

/// A document's front matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub id: String,
    /// The entity's name as it appears in answers.
    pub title: String,
    /// "destination", "policy", "person", ...
    pub kind: String,
    /// Structured facts the scorer checks against (free-form TOML values).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub attributes: BTreeMap<String, toml::Value>,
}

/// One knowledge-base document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub path: PathBuf,
    pub meta: FrontMatter,
    /// The markdown body (without front matter).
    pub body: String,
}

/// A problem found while reading a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file.display(), l, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct SuiteError {
    pub problems: Vec<Problem>,
}

/// The file a suite's scaffold settings live in, beside its manifest: an override of the
/// scaffold's default pipeline (named nodes' settings), optional.
pub const PIPELINE_FILE: &str = "pipeline.toml";

/// A suite's `pipeline.toml`, as read when the suite was loaded. The world only reads it;
/// the scaffold parses it (`ladder validate` checks it as the scaffold would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFile {
    pub path: PathBuf,
    pub text: String,
}

/// A loaded suite ([`Suite::load`]).
#[derive(Debug, Clone)]
pub struct Suite {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub tasks: Vec<Task>,
    pub documents: Vec<Document>,
    /// Its scaffold settings ([`PIPELINE_FILE`]), when it brings them.
    pub pipeline: Option<PipelineFile>,
}

impl Suite {
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    pub fn smoke_tasks(&self) -> Vec<&Task> {
        self.manifest
            .smoke
            .iter()
            .filter_map(|id| self.task(id))
            .collect()
    }

    /// The form spec a team would configure for this suite: intents with their examples,
    /// slots with their questions and, for a slot whose check compares with a fixed set
    /// of values, those values as the slot's options (a scale's steps, or the values the
    /// knowledge base's documents have for the attribute). None of the judge's parts: no
    /// keywords, checks or entity patterns.
    pub fn form_spec(&self) -> ladder_core::FormSpec {
        ladder_core::FormSpec {
            suite: self.manifest.name.clone(),
            intents: self
                .manifest
                .intents
                .iter()
                .map(|i| ladder_core::FormIntent {
                    name: i.name.clone(),
                    description: i.description.clone(),
                    examples: i.examples.clone(),
                    slots: i
                        .slots
                        .iter()
                        .map(|s| ladder_core::FormSlot {
                            name: s.name.clone(),
                            question: s.question.clone(),
                            options: self.options(s.check.as_ref()),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The values a checked attribute can take, in first-seen order.
    fn options(&self, check: Option<&Check>) -> Vec<String> {
        let attribute = match check {
            Some(Check::ScaleAtMost { scale, .. } | Check::ScaleAtLeast { scale, .. }) => {
                return scale.clone()
            }
            Some(
                Check::Equals { attribute }
                | Check::Contains { attribute }
                | Check::OneOf { attribute },
            ) if !attribute.contains('{') => attribute,
            _ => return Vec::new(),
        };
        let mut out: Vec<String> = Vec::new();
        for d in &self.documents {
            let values = match d.meta.attributes.get(attribute) {
                Some(toml::Value::String(v)) => vec![v.clone()],
                Some(toml::Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => vec![],
            };
            for v in values {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// SHA-256 (hex) of the suite's contents: manifest, tasks and documents (front matter
    /// and body), as canonical JSON (keys sorted): it depends on what the files say, never
    /// on how a library prints its types, and not on where the suite lies on disk.
    pub fn content_hash(&self) -> String {
        let docs: Vec<(&FrontMatter, &str)> = self
            .documents
            .iter()
            .map(|d| (&d.meta, d.body.as_str()))
            .collect();
        ladder_core::content_hash(&(&self.manifest, &self.tasks, docs))
    }

    /// The document whose title is `name` (case-insensitive).
    pub fn entity(&self, name: &str) -> Option<&Document> {
        self.documents
            .iter()
            .find(|d| d.meta.title.eq_ignore_ascii_case(name))
    }
}
