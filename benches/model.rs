//! Criterion benchmark of the local model through the `LanguageModel` trait against a bare
//! llama-cpp-2 loop on the same GGUF, prompt and greedy sampling (`cargo bench --profile dev
//! --bench model`): what the trait, the chat template and the off-thread runner cost.
//! Both sides generate exactly 32 tokens from a fresh context.

use criterion::{criterion_group, criterion_main, Criterion};
use ladder_core::{ChatRequest, LanguageModel, Message};
use ladder_model::{LocalConfig, LocalModel};

/// The tests' model: the smallest of the catalog (quick).
fn default_model_path() -> std::path::PathBuf {
    ladder_model::model_path("smollm2-135m").expect("the catalog names smollm2-135m")
}

fn generation(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let mut config = LocalConfig::new(default_model_path());
    config.prefix_cache = false;
    let model = LocalModel::load(&config).expect("`just setup` installs the local model");
    let messages = vec![
        Message::system("You are a travel assistant."),
        Message::user("Describe a quiet seaside town in Norland in a few sentences."),
    ];
    let mut request = ChatRequest::new(messages.clone());
    request.sampling.max_tokens = 32;
    // Both sides must generate the same number of tokens for the comparison to hold.
    let (_, bare_tokens, _) =
        ladder_model::bench::bare_run(&model, &messages, 32).expect("the bare loop");
    let through = rt.block_on(model.chat(&request, None)).expect("the trait");
    assert_eq!(
        bare_tokens, through.usage.completion_tokens,
        "same tokens both ways"
    );

    let mut group = c.benchmark_group("local model: 32 greedy tokens from a fresh context");
    group.sample_size(10);
    group.bench_function("bare llama-cpp-2 loop", |b| {
        b.iter(|| ladder_model::bench::bare_run(&model, &messages, 32).expect("the bare loop"))
    });
    group.bench_function("LanguageModel::chat", |b| {
        b.iter(|| rt.block_on(model.chat(&request, None)).expect("the trait"))
    });
    group.finish();
}

criterion_group!(benches, generation);
criterion_main!(benches);
