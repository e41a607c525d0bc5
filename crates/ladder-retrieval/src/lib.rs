//! ladder-retrieval: looking things up in a knowledge base.
//!
//! - [`embed`]: the fastembed [`ladder_core::Embedder`] (all-MiniLM-L6-v2, ONNX Runtime
//!   loaded at run time); [`onnx`] builds its graph from the shipped safetensors.
//! - [`store`]: the [`store::VectorStore`] trait with Qdrant Edge (embedded, default) and
//!   Qdrant server backends, and our own filter and point types.
//! - [`chunk`] and [`ingest`]: heading-aware chunks and incremental ingestion.
//! - [`kb`]: [`kb::KnowledgeBase`], the core's `Retriever` over all of it.

pub mod bench;
pub mod chunk;
pub mod embed;
pub mod ingest;
pub mod kb;
pub mod onnx;
pub mod store;

pub use embed::{EmbedConfig, FastEmbedder};
pub use kb::KnowledgeBase;

/// Where embedded collections live: `$LADDER_DATA_DIR/qdrant`, else `data/qdrant`.
pub fn default_data_dir() -> std::path::PathBuf {
    store_dir(&ladder_core::paths::data_dir())
}

/// The embedded store's folder inside a data folder (`--data DIR`): `DIR/qdrant`. The one
/// place that says so.
pub fn store_dir(data: &std::path::Path) -> std::path::PathBuf {
    data.join("qdrant")
}
