//! A suite's knowledge base as a [`Retriever`]: its `kb/` folder ingested into the embedded
//! store (incrementally, as `ladder ingest` does: unchanged chunks are not embedded again),
//! one collection per suite and embedding model.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ladder_core::{Embedder, Retriever};
use ladder_retrieval::chunk::ChunkOptions;
use ladder_retrieval::store::edge::EdgeStore;
use ladder_retrieval::KnowledgeBase;

use crate::HarnessError;

/// The process's one embedded store for `data_dir`. Qdrant Edge locks a collection's
/// folder while it is open, so every run of a process shares one store per folder.
pub fn edge_store(data_dir: &Path) -> Arc<EdgeStore> {
    static STORES: Mutex<Vec<(PathBuf, Arc<EdgeStore>)>> = Mutex::new(Vec::new());
    let mut stores = STORES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, s)) = stores.iter().find(|(p, _)| p == data_dir) {
        return Arc::clone(s);
    }
    let store = Arc::new(EdgeStore::new(data_dir));
    stores.push((data_dir.to_path_buf(), Arc::clone(&store)));
    store
}

/// The collection that holds `suite`'s knowledge base embedded with `embedder`.
pub fn collection_name(suite: &str, embedder: &dyn Embedder) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("suite-{}-{}", clean(suite), clean(&embedder.name()))
}

/// Ingest the suite's knowledge base (if anything changed) into the embedded store under
/// `data_dir` and return it as a retriever.
pub async fn attach(
    suite: &ladder_world::Suite,
    embedder: Arc<dyn Embedder>,
    data_dir: &Path,
) -> Result<Arc<dyn Retriever>, HarnessError> {
    let err = |reason: String| HarnessError::KnowledgeBase {
        suite: suite.manifest.name.clone(),
        reason,
    };
    let store = edge_store(data_dir);
    let collection = collection_name(&suite.manifest.name, embedder.as_ref());
    let folder = suite.dir.join(&suite.manifest.knowledge_base);
    // Runs of one process (a bench) check and update a collection one at a time.
    static INGEST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = INGEST.lock().await;
    ladder_retrieval::ingest::ingest(
        &folder,
        &collection,
        Arc::clone(&embedder),
        store.as_ref(),
        ChunkOptions::default(),
        |_, _| {},
    )
    .await
    .map_err(|e| err(format!("ingesting {} failed: {e}", folder.display())))?;
    Ok(Arc::new(KnowledgeBase {
        embedder,
        store,
        collection,
    }))
}
