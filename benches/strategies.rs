//! Criterion benchmarks of what ladder adds around the model (`cargo bench --bench
//! strategies`): each strategy's orchestration on a replayed run (the committed cassette of
//! `fixtures/runs/replay-small`, so no model time: what is left is embedding, retrieval,
//! the simulated user, scoring and the trace), against `direct` on the same task; and a
//! knowledge-base search against embedding its query alone. Model throughput through the
//! trait against bare llama.cpp is `ladder bench-model`.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use ladder_core::{Embedder, LanguageModel};
use ladder_harness::{RunSpec, TaskSource};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn orchestration(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let embedder: Arc<dyn Embedder> =
        Arc::new(ladder_retrieval::FastEmbedder::load_default().expect("`just setup` installs it"));
    let cassette = root().join("fixtures/runs/replay-small/cassette.jsonl");
    let model: Arc<dyn LanguageModel> =
        Arc::new(ladder_model::Replayer::open(&cassette).expect("the committed cassette"));
    let mut group = c.benchmark_group("orchestration on a replayed run (no model time)");
    group.sample_size(10);
    for (strategy, suite, task) in [
        ("direct", "facts", "facts-001"),
        ("scaffold", "facts", "facts-001"),
        ("direct", "helpdesk", "help-031"),
        ("scaffold", "helpdesk", "help-031"),
    ] {
        group.bench_function(format!("{strategy} {task}"), |b| {
            b.iter(|| {
                let mut spec = RunSpec::new(
                    TaskSource::Suite(suite.into()),
                    strategy,
                    Arc::clone(&model),
                );
                spec.id = Some(task.into());
                spec.out = dir.path().join("runs");
                spec.data_dir = dir.path().join("data");
                spec.embedder = Some(Arc::clone(&embedder));
                // The bench's seed: the cassette holds these calls.
                spec.overrides.seed = Some(0);
                rt.block_on(ladder_harness::run(spec))
                    .expect("the replayed run")
            })
        });
    }
    group.finish();
}

fn retrieval(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let embedder: Arc<dyn Embedder> =
        Arc::new(ladder_retrieval::FastEmbedder::load_default().expect("`just setup` installs it"));
    let suite = ladder_harness::load_suite("helpdesk").expect("the suite");
    let kb = rt
        .block_on(ladder_harness::kb::attach(
            &suite,
            Arc::clone(&embedder),
            &dir.path().join("data"),
        ))
        .expect("the knowledge base");
    let query = "How long do I have to send something back?".to_string();
    let mut group = c.benchmark_group("retrieval (helpdesk knowledge base)");
    group.bench_function("embed the query alone", |b| {
        b.iter(|| {
            embedder
                .embed(std::slice::from_ref(&query))
                .expect("a vector")
        })
    });
    group.bench_function("search: embed + top-4 in Qdrant Edge", |b| {
        b.iter(|| rt.block_on(kb.search(&query, 4, None)).expect("hits"))
    });
    group.finish();
}

criterion_group!(benches, orchestration, retrieval);
criterion_main!(benches);
