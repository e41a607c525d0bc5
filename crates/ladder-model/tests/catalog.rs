//! The ladder of embedded models: every catalog name resolves to its installed file, and
//! each model answers one short real call (one test per model, a few seconds each; these
//! need the `llama` feature).

#[cfg(feature = "llama")]
use ladder_core::{ChatRequest, Message};
use ladder_model::catalog::{self, Installed};
use ladder_model::ModelSpec;
#[cfg(feature = "llama")]
use ladder_model::OpenOptions;

#[test]
fn every_name_resolves_to_its_installed_file() {
    for m in catalog::models() {
        let spec: ModelSpec = m.name.parse().unwrap();
        assert_eq!(spec, ModelSpec::Named(m.name.clone()));
        for alias in &m.aliases {
            assert_eq!(alias.parse::<ModelSpec>().unwrap(), spec, "{alias}");
        }
        let path = ladder_model::model_path(&m.name).unwrap();
        assert_eq!(path, ladder_model::models_dir().join(&m.file));
        assert_eq!(
            m.installed(),
            Installed::Verified,
            "{} must be installed and checked by `just setup` at {}",
            m.name,
            path.display()
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            m.bytes,
            "{}",
            m.name
        );
    }
    assert_eq!(
        ladder_model::default_model_path(),
        ladder_model::model_path("qwen2.5-coder-1.5b").unwrap()
    );
}

#[cfg(feature = "llama")]
async fn capital(name: &str) {
    let model = ladder_model::open(
        &ModelSpec::Named(name.into()),
        &OpenOptions {
            threads: 2,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{name} opens: {e}"));
    let settings = model.settings();
    let entry = catalog::find(name).unwrap();
    assert_eq!(settings["catalog_name"], name);
    assert_eq!(settings["sha256"], entry.sha256.as_str());
    assert_eq!(settings["quantisation"], entry.quantisation.as_str());
    assert!(settings["parameters"].as_u64().unwrap() > 100_000_000);
    let mut request = ChatRequest::new(vec![Message::user(
        "What is the capital of France? Answer in one word.",
    )]);
    request.sampling.max_tokens = 12;
    let response = model.chat(&request, None).await.unwrap();
    assert!(
        response.text.contains("Paris"),
        "{name} answered {:?}",
        response.text
    );
}

#[cfg(feature = "llama")]
#[tokio::test]
async fn smollm2_135m_answers() {
    capital("smollm2-135m").await;
}

#[cfg(feature = "llama")]
#[tokio::test]
async fn qwen_0_5b_answers() {
    capital("qwen2.5-coder-0.5b").await;
}

#[cfg(feature = "llama")]
#[tokio::test]
async fn qwen_1_5b_answers() {
    capital("qwen2.5-coder-1.5b").await;
}
