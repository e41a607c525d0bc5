//! The retriever interface: how a strategy looks something up in the knowledge base.
//! Implemented by crate ladder-retrieval.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Stable chunk id.
    pub id: String,
    /// Similarity score, higher is better.
    pub score: f32,
    /// The document the chunk comes from.
    pub document: String,
    /// The chunk's text.
    pub text: String,
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
    /// The `k` best chunks for `query`, best first.
    async fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>, RetrievalError>;
}
