//! A knowledge base: an embedder, a store and a collection, as the core's [`Retriever`].

use std::sync::Arc;

use async_trait::async_trait;
use ladder_core::{Embedder, Hit, RetrievalError, Retriever};

use crate::store::{Condition, Filter, MatchValue, Scored, VectorStore};

/// The store filter for a core filter: attributes live under `attributes.` in the payload.
pub fn store_filter(filter: &ladder_core::Filter) -> Filter {
    Filter::must(
        filter
            .all
            .iter()
            .map(|c| match c {
                ladder_core::Condition::Equals { attribute, value } => Condition::Match {
                    key: format!("attributes.{attribute}"),
                    value: match value {
                        ladder_core::AttrValue::Bool(b) => MatchValue::Bool(*b),
                        ladder_core::AttrValue::Integer(i) => MatchValue::Integer(*i),
                        ladder_core::AttrValue::Text(t) => MatchValue::Keyword(t.clone()),
                    },
                },
                ladder_core::Condition::Range {
                    attribute,
                    min,
                    max,
                } => Condition::between(&format!("attributes.{attribute}"), *min, *max),
            })
            .collect(),
    )
}

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
    async fn search(
        &self,
        query: &str,
        k: usize,
        filter: Option<&ladder_core::Filter>,
    ) -> Result<Vec<Hit>, RetrievalError> {
        let filter = filter.filter(|f| !f.is_empty()).map(store_filter);
        let hits = self.search_filtered(query, k, filter).await?;
        Ok(hits
            .iter()
            .map(|h| Hit {
                id: format!("{}#{}", h.field("document"), h.chunk()),
                score: h.score,
                document: h.field("document").to_string(),
                title: h.field("title").to_string(),
                heading: h.field("heading").to_string(),
                text: h.field("text").to_string(),
                attributes: h
                    .payload
                    .get("attributes")
                    .and_then(|a| a.as_object())
                    .map(|a| a.clone().into_iter().collect())
                    .unwrap_or_default(),
            })
            .collect())
    }
}
