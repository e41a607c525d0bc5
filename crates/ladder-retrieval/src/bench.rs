//! Retrieval benchmarks, each a comparison within one run (`ladder bench-retrieval`).
//!
//! - Embedding: sentences per second through the [`Embedder`] trait against calling
//!   fastembed's `TextEmbedding::embed` directly on the same session settings, batch 32.
//! - Search: latency p50/p99 over the embedded store at several sizes, without and with a
//!   payload filter, by exact scan and through the HNSW index built by `optimize()`, and
//!   recall@10 of the index against the exact results. The vectors are synthetic but
//!   clustered like text embeddings (unit vectors around 1,000 centres), so that building
//!   100,000 of them takes seconds rather than the hours real embedding would.

use std::time::Instant;

use ladder_core::rng::Rng;
use ladder_core::Embedder;
use serde_json::{Map, Value};

use crate::store::edge::EdgeStore;
use crate::store::{Condition, FieldType, Filter, Point, StoreError, VectorStore};

/// Roughly normal, from the sum of four uniforms.
fn gauss(rng: &mut Rng) -> f32 {
    (0..4)
        .map(|_| (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32)
        .sum::<f32>()
        - 2.0
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// The p-quantile of measured times: the workbench's one quantile (nearest rank).
pub use ladder_core::numbers::quantile as percentile;

/// Embedding throughput: (trait sentences/s, direct sentences/s).
pub fn embedding_throughput(
    ours: &dyn Embedder,
    direct: &mut fastembed::TextEmbedding,
    sentences: &[String],
    rounds: usize,
) -> Result<(f64, f64), String> {
    let (mut a, mut b) = (vec![], vec![]);
    for r in 0..rounds.max(1) {
        for side in 0..2 {
            let t = Instant::now();
            if (r + side) % 2 == 0 {
                ours.embed(sentences).map_err(|e| e.to_string())?;
                a.push(sentences.len() as f64 / t.elapsed().as_secs_f64());
            } else {
                direct
                    .embed(sentences, Some(32))
                    .map_err(|e| e.to_string())?;
                b.push(sentences.len() as f64 / t.elapsed().as_secs_f64());
            }
        }
    }
    let med = |mut v: Vec<f64>| {
        v.sort_by(|x, y| x.total_cmp(y));
        v[v.len() / 2]
    };
    Ok((med(a), med(b)))
}

/// One row of the search table.
#[derive(Debug, Clone)]
pub struct SearchRow {
    pub points: usize,
    pub mode: &'static str,
    pub filtered: bool,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Recall@10 against exact search (1.0 for exact rows).
    pub recall: f64,
}

/// Fill a collection with `n` clustered points; returns the queries.
pub async fn fill(
    store: &dyn VectorStore,
    collection: &str,
    n: usize,
    dim: usize,
    queries: usize,
) -> Result<Vec<Vec<f32>>, StoreError> {
    let mut rng = Rng::new(n as u64 ^ 0xB3A7);
    let centres: Vec<Vec<f32>> = (0..1000)
        .map(|_| unit((0..dim).map(|_| gauss(&mut rng)).collect()))
        .collect();
    store.drop_collection(collection).await?;
    store
        .create(
            collection,
            dim,
            &[
                ("document", FieldType::Keyword),
                ("chunk", FieldType::Integer),
            ],
        )
        .await?;
    let mut batch = Vec::new();
    for i in 0..n {
        let c = &centres[i % centres.len()];
        let v = unit(
            c.iter()
                .map(|x| x + 0.35 * gauss(&mut rng) / (dim as f32).sqrt() * 4.0)
                .collect(),
        );
        let mut payload = Map::new();
        payload.insert(
            "document".into(),
            Value::String(format!("doc-{}", i % 1000)),
        );
        payload.insert("chunk".into(), Value::from((i % 100) as i64));
        batch.push(Point {
            id: i as u64 + 1,
            vector: v,
            payload,
        });
        if batch.len() == 5000 {
            store.upsert(collection, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        store.upsert(collection, batch).await?;
    }
    Ok((0..queries)
        .map(|q| {
            let c = &centres[(q * 7919) % centres.len()];
            unit(
                c.iter()
                    .map(|x| x + 0.35 * gauss(&mut rng) / (dim as f32).sqrt() * 4.0)
                    .collect(),
            )
        })
        .collect())
}

async fn measure(
    store: &dyn VectorStore,
    collection: &str,
    queries: &[Vec<f32>],
    filter: &Option<Filter>,
    exact: bool,
) -> Result<(Vec<f64>, Vec<Vec<u64>>), StoreError> {
    let mut times = Vec::new();
    let mut results = Vec::new();
    for q in queries {
        let t = Instant::now();
        let hits = store
            .search(collection, q.clone(), 10, filter.clone(), exact)
            .await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        results.push(hits.iter().map(|h| h.id).collect());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times, results))
}

fn recall(exact: &[Vec<u64>], approx: &[Vec<u64>]) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (e, a) in exact.iter().zip(approx) {
        total += e.len();
        hit += e.iter().filter(|id| a.contains(id)).count();
    }
    if total == 0 {
        1.0
    } else {
        hit as f64 / total as f64
    }
}

/// Search latency and recall at `n` points. `progress` hears what is happening.
pub async fn search_rows(
    dir: &std::path::Path,
    n: usize,
    queries: usize,
    mut progress: impl FnMut(&str),
) -> Result<(Vec<SearchRow>, f64), StoreError> {
    let store = EdgeStore::new(dir);
    let collection = format!("bench-{n}");
    progress(&format!("{n} points: inserting"));
    let qs = fill(&store, &collection, n, 384, queries).await?;
    let filter = Some(Filter::must(vec![Condition::between(
        "chunk",
        Some(0.0),
        Some((n / 1000 / 10) as f64),
    )]));
    let mut rows = Vec::new();
    let mut exact_results = Vec::new();
    for filtered in [false, true] {
        progress(&format!(
            "{n} points: exact search{}",
            if filtered { " with filter" } else { "" }
        ));
        let f = if filtered { filter.clone() } else { None };
        let (t, r) = measure(&store, &collection, &qs, &f, true).await?;
        rows.push(SearchRow {
            points: n,
            mode: "exact",
            filtered,
            p50_ms: percentile(&t, 0.5),
            p99_ms: percentile(&t, 0.99),
            recall: 1.0,
        });
        exact_results.push(r);
    }
    progress(&format!("{n} points: optimize (building HNSW)"));
    let t = Instant::now();
    store.optimize(&collection).await?;
    let optimize_s = t.elapsed().as_secs_f64();
    for (i, filtered) in [false, true].into_iter().enumerate() {
        progress(&format!(
            "{n} points: indexed search{}",
            if filtered { " with filter" } else { "" }
        ));
        let f = if filtered { filter.clone() } else { None };
        let (t, r) = measure(&store, &collection, &qs, &f, false).await?;
        rows.push(SearchRow {
            points: n,
            mode: "indexed (after optimize)",
            filtered,
            p50_ms: percentile(&t, 0.5),
            p99_ms: percentile(&t, 0.99),
            recall: recall(&exact_results[i], &r),
        });
    }
    store.drop_collection(&collection).await?;
    Ok((rows, optimize_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_is_the_share_of_true_neighbours_found() {
        // (The percentiles are core's quantile, tested there.)
        assert_eq!(recall(&[vec![1, 2, 3, 4]], &[vec![1, 2, 9, 4]]), 0.75);
    }
}
