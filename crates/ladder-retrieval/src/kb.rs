//! A knowledge base: an embedder, a store and a collection, as the core's [`Retriever`].

use std::sync::Arc;

use async_trait::async_trait;
use ladder_core::{Embedder, Hit, RetrievalError, Retriever};

use crate::store::{Filter, Scored, VectorStore};

pub struct KnowledgeBase {
    pub embedder: Arc<dyn Embedder>,
    pub store: Arc<dyn VectorStore>,
    pub collection: String,
}

impl KnowledgeBase {
    /// Search with an optional payload filter; hits carry their payload.
    pub async fn search_filtered(
        &self,
        query: &str,
        k: usize,
        filter: Option<Filter>,
    ) -> Result<Vec<Scored>, RetrievalError> {
        let e = Arc::clone(&self.embedder);
        let q = vec![query.to_string()];
        let mut v = tokio::task::spawn_blocking(move || e.embed(&q))
            .await
            .map_err(|e| RetrievalError::Failed(e.to_string()))?
            .map_err(|e| RetrievalError::Failed(e.to_string()))?;
        let vector = v
            .pop()
            .ok_or_else(|| RetrievalError::Failed("the embedder returned no vector".into()))?;
        self.store
            .search(&self.collection, vector, k, filter, false)
            .await
            .map_err(|e| RetrievalError::Failed(e.to_string()))
    }
}

#[async_trait]
impl Retriever for KnowledgeBase {
    async fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>, RetrievalError> {
        let hits = self.search_filtered(query, k, None).await?;
        Ok(hits
            .iter()
            .map(|h| Hit {
                id: format!("{}#{}", h.field("document"), h.chunk()),
                score: h.score,
                document: h.field("document").to_string(),
                text: h.field("text").to_string(),
            })
            .collect())
    }
}
