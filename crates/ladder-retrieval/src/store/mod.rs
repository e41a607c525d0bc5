//! Vector stores behind one trait: Qdrant Edge in-process (the default) and a Qdrant
//! server through qdrant-client.
//!
//! Our own small filter and point types are mapped to each backend's types, so callers
//! never see either library's API, and one conformance suite tests both.

pub mod edge;
pub mod server;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One stored vector with its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: u64,
    pub vector: Vec<f32>,
    pub payload: Map<String, Value>,
}

/// A value to match exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatchValue {
    Bool(bool),
    Integer(i64),
    Keyword(String),
}

/// One condition on a payload field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The field equals the value.
    Match { key: String, value: MatchValue },
    /// The field is a number within the bounds (inclusive bounds `gte`/`lte`, strict `gt`/`lt`).
    Range {
        key: String,
        gt: Option<f64>,
        gte: Option<f64>,
        lt: Option<f64>,
        lte: Option<f64>,
    },
}

impl Condition {
    pub fn keyword(key: &str, value: &str) -> Self {
        Condition::Match {
            key: key.into(),
            value: MatchValue::Keyword(value.into()),
        }
    }
    pub fn integer(key: &str, value: i64) -> Self {
        Condition::Match {
            key: key.into(),
            value: MatchValue::Integer(value),
        }
    }
    pub fn between(key: &str, gte: Option<f64>, lte: Option<f64>) -> Self {
        Condition::Range {
            key: key.into(),
            gt: None,
            gte,
            lt: None,
            lte,
        }
    }
}

/// All `must`, at least one `should` (when any), no `must_not`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub must: Vec<Condition>,
    pub should: Vec<Condition>,
    pub must_not: Vec<Condition>,
}

impl Filter {
    pub fn must(conditions: Vec<Condition>) -> Self {
        Filter {
            must: conditions,
            ..Default::default()
        }
    }

    /// Parse `FIELD=VALUE` (an integer or `true`/`false` when it parses as one, else a keyword).
    pub fn parse_equals(spec: &str) -> Result<Condition, String> {
        let (key, value) = spec
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| format!("filter {spec:?} is not FIELD=VALUE"))?;
        let value = if let Ok(i) = value.parse::<i64>() {
            MatchValue::Integer(i)
        } else if let Ok(b) = value.parse::<bool>() {
            MatchValue::Bool(b)
        } else {
            MatchValue::Keyword(value.to_string())
        };
        Ok(Condition::Match {
            key: key.into(),
            value,
        })
    }
}

/// The kind of a payload index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Keyword,
    Integer,
    Float,
    Bool,
}

/// A search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub id: u64,
    pub score: f32,
    pub payload: Map<String, Value>,
}

/// A string payload field, or "" when it is absent or not a string.
pub fn payload_str<'a>(payload: &'a Map<String, Value>, key: &str) -> &'a str {
    payload
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

impl Scored {
    /// A string field of the hit's payload ("" when absent).
    pub fn field(&self, key: &str) -> &str {
        payload_str(&self.payload, key)
    }

    /// The chunk index ingestion stored with the point (0 when absent).
    pub fn chunk(&self) -> i64 {
        self.payload
            .get("chunk")
            .and_then(|c| c.as_i64())
            .unwrap_or(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("collection {name:?} does not exist; create it with `ladder ingest`")]
    NoCollection { name: String },
    #[error("collection {name:?} holds {existing}-dimensional vectors, not {wanted}; use another collection name, or rebuild it with `ladder ingest --recreate`")]
    Dimension {
        name: String,
        existing: usize,
        wanted: usize,
    },
    #[error("the index folder {path} is damaged ({reason}); rebuild it with `ladder ingest --recreate` (nothing was deleted)")]
    Damaged { path: String, reason: String },
    #[error("the index folder {path} is in use by another process (another ladder running?); try again when it has finished")]
    Busy { path: String },
    #[error("the index folder {path} is in use by another process, so this one reads a copy of it and cannot change it (an ingest with changes, --recreate); try again when the other ladder has finished")]
    ReadOnly { path: String },
    #[error("cannot reach the Qdrant server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Backend(String),
}

#[async_trait]
pub trait VectorStore: Send + Sync {
    /// "edge:<folder>" or "qdrant://host:port".
    fn describe(&self) -> String;

    /// The vector dimension of a collection, or `None` when it does not exist.
    async fn dimension(&self, collection: &str) -> Result<Option<usize>, StoreError>;

    /// Create a collection of cosine-distance vectors with payload indexes. An existing
    /// collection of the same dimension is kept as it is (indexes included); another
    /// dimension is an error.
    async fn create(
        &self,
        collection: &str,
        dim: usize,
        indexes: &[(&str, FieldType)],
    ) -> Result<(), StoreError>;

    /// Delete a collection and everything in it.
    async fn drop_collection(&self, collection: &str) -> Result<(), StoreError>;

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), StoreError>;

    async fn delete_ids(&self, collection: &str, ids: Vec<u64>) -> Result<(), StoreError>;

    async fn delete_where(&self, collection: &str, filter: Filter) -> Result<(), StoreError>;

    async fn count(&self, collection: &str, filter: Option<Filter>) -> Result<usize, StoreError>;

    /// Every point's id and payload (no vectors).
    async fn payloads(
        &self,
        collection: &str,
    ) -> Result<Vec<(u64, Map<String, Value>)>, StoreError>;

    /// The `k` nearest points; `exact` forces a full scan instead of the HNSW index.
    async fn search(
        &self,
        collection: &str,
        vector: Vec<f32>,
        k: usize,
        filter: Option<Filter>,
        exact: bool,
    ) -> Result<Vec<Scored>, StoreError>;

    /// Build indexes after a bulk load (blocking work; may take a while).
    async fn optimize(&self, collection: &str) -> Result<(), StoreError>;
}

/// Open the store a `--store` argument names: `edge:<folder>` (default folder when just
/// `edge`) or `qdrant://host:port` (API key from `QDRANT_API_KEY`).
pub fn open(
    spec: &str,
    default_edge_dir: &std::path::Path,
) -> Result<Box<dyn VectorStore>, StoreError> {
    if spec == "edge" {
        return Ok(Box::new(edge::EdgeStore::new(default_edge_dir)));
    }
    if let Some(dir) = spec.strip_prefix("edge:") {
        return Ok(Box::new(edge::EdgeStore::new(std::path::Path::new(dir))));
    }
    if let Some(rest) = spec.strip_prefix("qdrant://") {
        let key = std::env::var("QDRANT_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        return Ok(Box::new(server::ServerStore::connect(
            &format!("http://{rest}"),
            key,
        )?));
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        let key = std::env::var("QDRANT_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        return Ok(Box::new(server::ServerStore::connect(spec, key)?));
    }
    Err(StoreError::Backend(format!(
        "unknown store {spec:?}: expected edge, edge:FOLDER or qdrant://HOST:PORT"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_filters_parse() {
        assert_eq!(
            Filter::parse_equals("document=returns-policy").unwrap(),
            Condition::keyword("document", "returns-policy")
        );
        assert_eq!(
            Filter::parse_equals("chunk=3").unwrap(),
            Condition::integer("chunk", 3)
        );
        assert!(Filter::parse_equals("nope")
            .unwrap_err()
            .contains("FIELD=VALUE"));
        assert!(Filter::parse_equals("=x").is_err());
    }
}
