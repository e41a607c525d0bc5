//! The embedding interface: text to vectors. Implemented by crate ladder-retrieval
//! (fastembed); used by retrieval and by the simulated user to match questions.

/// Why embedding failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    #[error("{what} is missing at {path}: run `just setup` to install it")]
    NotInstalled { what: String, path: String },
    #[error("cannot load the embedding model: {0}")]
    Load(String),
    #[error("embedding failed: {0}")]
    Failed(String),
}

/// Turns texts into L2-normalised vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// Model name, for messages and collection metadata.
    fn name(&self) -> String;
    fn dimension(&self) -> usize;
    /// One vector per text, in order. Blocking: call it off the async runtime's threads.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Cosine similarity of two vectors (their dot product when both are normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
