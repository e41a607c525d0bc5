//! The retriever interface: how a strategy looks something up in the knowledge base.
//! Implemented by crate ladder-retrieval.
//!
//! Filters are ladder's own small type (exact match and numeric range on a document's
//! attributes, the front matter's `attributes` table); each store maps them to its own.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Stable chunk id.
    pub id: String,
    /// Similarity score, higher is better.
    pub score: f32,
    /// The id of the document the chunk comes from.
    pub document: String,
    /// The document's title.
    #[serde(default)]
    pub title: String,
    /// The headings above the chunk, outermost first, joined with " > " (may be empty).
    #[serde(default)]
    pub heading: String,
    /// The chunk's text.
    pub text: String,
    /// Its document's typed attributes (a catalogue's fields), when it has any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// A value an attribute must equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    Bool(bool),
    Integer(i64),
    Text(String),
}

/// One condition on a document attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The attribute equals the value (for a list attribute: contains it).
    Equals { attribute: String, value: AttrValue },
    /// The attribute is a number within the inclusive bounds.
    Range {
        attribute: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
}

/// Every condition must hold. The empty filter lets everything through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub all: Vec<Condition>,
}

impl Filter {
    pub fn equals(attribute: &str, value: AttrValue) -> Filter {
        Filter::default().and_equals(attribute, value)
    }

    pub fn and_equals(mut self, attribute: &str, value: AttrValue) -> Filter {
        self.all.push(Condition::Equals {
            attribute: attribute.into(),
            value,
        });
        self
    }

    pub fn and_range(mut self, attribute: &str, min: Option<f64>, max: Option<f64>) -> Filter {
        self.all.push(Condition::Range {
            attribute: attribute.into(),
            min,
            max,
        });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error("no knowledge base is attached to this run")]
    NoRetriever,
    #[error("retrieval failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Retriever: Send + Sync {
    /// The `k` best chunks for `query` among those whose document passes `filter`, best
    /// first.
    async fn search(
        &self,
        query: &str,
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit>, RetrievalError>;
}
