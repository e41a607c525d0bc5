//! ladder-retrieval: looking things up in a knowledge base.
//!
//! - [`embed`]: the fastembed [`ladder_core::Embedder`] (all-MiniLM-L6-v2, ONNX Runtime
//!   loaded at run time); [`onnx`] builds its graph from the shipped safetensors.

pub mod embed;
pub mod onnx;

pub use embed::{EmbedConfig, FastEmbedder};
