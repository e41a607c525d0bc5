//! ladder-model: language-model backends behind [`ladder_core::LanguageModel`].
//!
//! - [`local`]: the embedded default, llama.cpp in-process on a GGUF file (feature `llama`,
//!   on by default; without it [`open`] refuses `local` and catalog models, saying so).
//! - [`catalog`]: the ladder of embedded models (`--model qwen2.5-coder-1.5b`, ...).
//! - [`openai`]: any OpenAI-compatible chat-completions server.
//! - [`cassette`]: record any backend's calls to a file, and replay them without a model.
//!
//! A backend is chosen with a [`ModelSpec`] string (`local`, `openai:MODEL@URL`, ...), so
//! the CLI, the harness and the TUI all open models the same way ([`open`]).

#[cfg(feature = "llama")]
pub mod bench;
pub mod cassette;
pub mod catalog;
#[cfg(feature = "llama")]
pub mod local;
#[cfg(feature = "llama")]
mod native;
pub mod openai;
pub mod pool;
mod timing;

use std::path::PathBuf;
use std::sync::Arc;

use ladder_core::{LanguageModel, ModelError};

pub use cassette::{Recorder, Replayer};
#[cfg(feature = "llama")]
pub use local::{LocalConfig, LocalModel};
pub use openai::{OpenAiConfig, OpenAiModel, ServerKind};

pub use ladder_core::paths::models_dir;

/// The default local model's file (the catalog's default, see [`catalog`]).
pub fn default_model_path() -> PathBuf {
    catalog::default_model().path()
}

/// The file of a catalog model by name or alias; `None` for a name the catalog lacks.
pub fn model_path(name: &str) -> Option<PathBuf> {
    catalog::find(name).map(|m| m.path())
}

/// Which backend to use, parsed from the `--model` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// `local` (the catalog's default model) or `local:PATH`.
    Local(Option<PathBuf>),
    /// A catalog model by its canonical name (`qwen2.5-coder-1.5b`; aliases are resolved).
    Named(String),
    /// `openai:MODEL@URL`, `llama-server:MODEL@URL`, `llama-cpp-python:MODEL@URL` or
    /// `ollama:MODEL@URL`: an OpenAI-compatible server, and how it takes JSON Schemas.
    OpenAi {
        kind: ServerKind,
        model: String,
        url: String,
    },
    /// `replay:CASSETTE`.
    Replay(PathBuf),
}

impl ModelSpec {
    /// The catalog model this spec runs, when it runs one (`local` is the default model;
    /// `local:PATH` one when the file is a catalog model's).
    pub fn catalog_entry(&self) -> Option<&'static catalog::CatalogModel> {
        match self {
            ModelSpec::Local(None) => Some(catalog::default_model()),
            ModelSpec::Local(Some(path)) => path
                .file_name()
                .and_then(|n| catalog::by_file(&n.to_string_lossy())),
            ModelSpec::Named(name) => catalog::find(name),
            _ => None,
        }
    }
}

pub const SPEC_HELP: &str =
    "smollm2-135m | qwen2.5-coder-0.5b | qwen2.5-coder-1.5b (or 135m, 0.5b, 1.5b) | local | \
     local:PATH.gguf | openai:MODEL@URL[,URL2,...] | llama-server:MODEL@URL | \
     llama-cpp-python:MODEL@URL | ollama:MODEL@URL | replay:CASSETTE.jsonl";

impl std::str::FromStr for ModelSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("unknown model {s:?}: expected {SPEC_HELP}");
        let (scheme, rest) = match s.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        if rest.is_none() {
            if let Some(m) = catalog::find(s) {
                return Ok(ModelSpec::Named(m.name.clone()));
            }
        }
        match (scheme, rest) {
            ("local", None) => Ok(ModelSpec::Local(None)),
            ("local", Some(p)) if !p.is_empty() => Ok(ModelSpec::Local(Some(p.into()))),
            ("replay", Some(p)) if !p.is_empty() => Ok(ModelSpec::Replay(p.into())),
            ("openai" | "llama-server" | "llama-cpp-python" | "ollama", Some(rest)) => {
                let (model, url) = rest.split_once('@').ok_or_else(|| {
                    format!("{s:?}: expected {scheme}:MODEL@URL, e.g. {scheme}:qwen2.5@http://127.0.0.1:8080/v1")
                })?;
                let each_http = url
                    .split(',')
                    .all(|u| u.trim().starts_with("http://") || u.trim().starts_with("https://"));
                if model.is_empty() || !each_http {
                    return Err(format!(
                        "{s:?}: expected {scheme}:MODEL@URL with a model name and an http:// or https:// URL"
                    ));
                }
                let kind = match scheme {
                    "llama-server" => ServerKind::LlamaCpp,
                    "llama-cpp-python" => ServerKind::LlamaCppPython,
                    "ollama" => ServerKind::Ollama,
                    _ => ServerKind::Generic,
                };
                Ok(ModelSpec::OpenAi {
                    kind,
                    model: model.to_string(),
                    url: url.to_string(),
                })
            }
            _ => Err(bad()),
        }
    }
}

/// Options that apply to whichever backend is opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Threads for the local model (0 = default of 1).
    pub threads: u32,
    /// Append every call to this cassette.
    pub record: Option<PathBuf>,
    /// Turn off the local model's prefix reuse between a run's calls.
    pub no_prefix_cache: bool,
    /// Keep prefix reuse within each run but do not share system prefixes across runs.
    pub no_shared_prefix: bool,
    /// Run a batch of calls one after another instead of as parallel sequences (local).
    pub no_parallel: bool,
    /// Decode each batch of calls in a fresh context instead of the run's session (local).
    pub no_batch_reuse: bool,
    /// A draft model for speculative decoding (local; a catalog name or a GGUF path).
    pub draft: Option<String>,
    /// Tokens the draft proposes per step (0 = the default, 4).
    pub draft_tokens: usize,
    /// Serve the local model's calls from one decode loop shared by this many runs in
    /// flight (0: per-run contexts; see `LocalConfig::shared_runs`).
    pub shared_runs: usize,
}

/// A draft model's file: a catalog name (`qwen2.5-coder-0.5b`) or a path to a GGUF file.
pub fn draft_path(spec: &str) -> Result<PathBuf, ModelError> {
    if spec.ends_with(".gguf") || spec.contains('/') {
        return Ok(PathBuf::from(spec));
    }
    model_path(spec).ok_or_else(|| ModelError::Load {
        path: spec.to_string(),
        reason: format!(
            "no model named {spec} for --draft-model: give a catalog name (`ladder models` lists them) or a GGUF file's path"
        ),
    })
}

#[cfg(feature = "llama")]
fn local_config(path: PathBuf, options: &OpenOptions) -> Result<LocalConfig, ModelError> {
    let mut config = LocalConfig::new(path);
    if options.threads > 0 {
        config.threads = options.threads;
    }
    config.prefix_cache = !options.no_prefix_cache;
    config.shared_prefixes = !options.no_shared_prefix;
    config.parallel = !options.no_parallel;
    config.batch_reuse = !options.no_batch_reuse;
    if options.draft_tokens > 0 {
        config.draft_tokens = options.draft_tokens;
    }
    config.draft = options.draft.as_deref().map(draft_path).transpose()?;
    config.shared_runs = options.shared_runs;
    Ok(config)
}

/// Load a GGUF file with the embedded llama.cpp backend.
#[cfg(feature = "llama")]
fn open_local(path: PathBuf, options: &OpenOptions) -> Result<Arc<dyn LanguageModel>, ModelError> {
    Ok(Arc::new(LocalModel::load(&local_config(path, options)?)?))
}

/// This build has no embedded backend: say so, and how to get one.
#[cfg(not(feature = "llama"))]
fn open_local(path: PathBuf, _options: &OpenOptions) -> Result<Arc<dyn LanguageModel>, ModelError> {
    Err(ModelError::Load {
        path: path.display().to_string(),
        reason: "this build has no llama.cpp backend (ladder-model was built without its \
                 `llama` feature): rebuild with `--features llama`, or use an openai: or \
                 replay: model"
            .into(),
    })
}

/// Open the backend a spec names.
pub fn open(spec: &ModelSpec, options: &OpenOptions) -> Result<Arc<dyn LanguageModel>, ModelError> {
    let model: Arc<dyn LanguageModel> = match spec {
        ModelSpec::Local(path) => {
            let path = path.clone().unwrap_or_else(default_model_path);
            open_local(path, options)?
        }
        ModelSpec::Named(name) => {
            let entry = catalog::find(name).ok_or_else(|| ModelError::Load {
                path: name.clone(),
                reason: format!("no such model; the catalog has {}", catalog::names()),
            })?;
            open_local(entry.path(), options)?
        }
        ModelSpec::OpenAi { kind, model, url } if url.contains(',') => {
            let urls: Vec<String> = url.split(',').map(|u| u.trim().to_string()).collect();
            let endpoints = urls
                .iter()
                .map(|u| OpenAiModel::new(OpenAiConfig::new(u, model, *kind)))
                .collect::<Result<Vec<_>, _>>()?;
            Arc::new(pool::EndpointPool::new(endpoints, urls))
        }
        ModelSpec::OpenAi { kind, model, url } => {
            Arc::new(OpenAiModel::new(OpenAiConfig::new(url, model, *kind))?)
        }
        ModelSpec::Replay(path) => Arc::new(Replayer::open(path)?),
    };
    match &options.record {
        Some(path) => Ok(Arc::new(Recorder::create(model, path)?)),
        None => Ok(model),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            "local".parse::<ModelSpec>().unwrap(),
            ModelSpec::Local(None)
        );
        assert_eq!(
            "local:/m/x.gguf".parse::<ModelSpec>().unwrap(),
            ModelSpec::Local(Some("/m/x.gguf".into()))
        );
        assert_eq!(
            "openai:gpt-4o@https://api.openai.com/v1"
                .parse::<ModelSpec>()
                .unwrap(),
            ModelSpec::OpenAi {
                kind: ServerKind::Generic,
                model: "gpt-4o".into(),
                url: "https://api.openai.com/v1".into()
            }
        );
        assert!(matches!(
            "llama-server:m@http://127.0.0.1:8080/v1"
                .parse::<ModelSpec>()
                .unwrap(),
            ModelSpec::OpenAi {
                kind: ServerKind::LlamaCpp,
                ..
            }
        ));
        assert!(matches!(
            "llama-cpp-python:m@http://127.0.0.1:8000/v1"
                .parse::<ModelSpec>()
                .unwrap(),
            ModelSpec::OpenAi {
                kind: ServerKind::LlamaCppPython,
                ..
            }
        ));
        assert!(matches!(
            "ollama:qwen@http://127.0.0.1:11434/v1"
                .parse::<ModelSpec>()
                .unwrap(),
            ModelSpec::OpenAi {
                kind: ServerKind::Ollama,
                ..
            }
        ));
        assert_eq!(
            "replay:c.jsonl".parse::<ModelSpec>().unwrap(),
            ModelSpec::Replay("c.jsonl".into())
        );
        for (given, name) in [
            ("smollm2-135m", "smollm2-135m"),
            ("135m", "smollm2-135m"),
            ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b"),
            ("1.5B", "qwen2.5-coder-1.5b"),
        ] {
            assert_eq!(
                given.parse::<ModelSpec>().unwrap(),
                ModelSpec::Named(name.into()),
                "{given}"
            );
        }
    }

    #[cfg(not(feature = "llama"))]
    #[test]
    fn without_llama_local_models_say_how_to_rebuild() {
        for spec in [
            ModelSpec::Local(None),
            ModelSpec::Named("smollm2-135m".into()),
        ] {
            let e = open(&spec, &OpenOptions::default())
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.contains("no llama.cpp backend") && e.contains("--features llama"),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_specs_say_what_is_expected() {
        for bad in [
            "gpt",
            "openai:gpt",
            "openai:@http://x",
            "openai:m@ftp://x",
            "local:",
            "replay:",
        ] {
            let e = bad.parse::<ModelSpec>().unwrap_err();
            assert!(e.contains("expected"), "{bad}: {e}");
        }
    }
}
