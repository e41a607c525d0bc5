//! `ladder ingest`, `ladder search` and `ladder bench-retrieval`: the command-line side of
//! crate ladder-retrieval.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// Vector store: edge (embedded Qdrant Edge under --data), edge:FOLDER, or
    /// qdrant://HOST:PORT (a Qdrant server; API key from QDRANT_API_KEY).
    #[arg(long, default_value = "edge")]
    pub store: String,
    /// Data folder of the embedded store.
    #[arg(long, env = ladder_core::paths::DATA_DIR_ENV, default_value = ladder_core::paths::DATA_DIR)]
    pub data: PathBuf,
}

impl StoreArgs {
    pub fn open(&self) -> Result<Box<dyn ladder_retrieval::store::VectorStore>> {
        ladder_retrieval::store::open(&self.store, &ladder_retrieval::store_dir(&self.data))
            .context("cannot open the vector store")
    }
}

pub fn embedder() -> Result<Arc<dyn ladder_core::Embedder>> {
    let e = ladder_retrieval::FastEmbedder::load_default()
        .context("cannot load the embedding model")?;
    Ok(Arc::new(e))
}

/// `ladder ingest`: a folder into a collection, with a progress bar.
pub async fn ingest(
    folder: &Path,
    collection: &str,
    store: &StoreArgs,
    opts: ladder_retrieval::chunk::ChunkOptions,
    recreate: bool,
) -> Result<()> {
    let store = store.open()?;
    if recreate {
        store.drop_collection(collection).await?;
    }
    let embedder = embedder()?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} chunks ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message("embedding");
    let report = ladder_retrieval::ingest::ingest(
        folder,
        collection,
        embedder,
        store.as_ref(),
        opts,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )
    .await
    .with_context(|| format!("ingesting {} into {collection} failed", folder.display()))?;
    bar.finish_and_clear();
    println!(
        "{}: {} documents, {} chunks into {} ({}): {} added, {} updated, {} unchanged, {} removed",
        folder.display(),
        report.documents,
        report.chunks,
        collection,
        store.describe(),
        report.added,
        report.updated,
        report.unchanged,
        report.removed
    );
    for (path, why) in &report.skipped {
        println!("skipped {}: {why}", path.display());
    }
    Ok(())
}

/// `ladder search`: the best chunks for a query, with scores and where they come from.
pub async fn search(
    query: &str,
    collection: &str,
    store: &StoreArgs,
    k: usize,
    filter: &[String],
) -> Result<()> {
    let store: Arc<dyn ladder_retrieval::store::VectorStore> = Arc::from(store.open()?);
    if store.dimension(collection).await?.is_none() {
        bail!("collection {collection:?} does not exist in {}; create it with `ladder ingest FOLDER --collection {collection}`", store.describe());
    }
    let conditions = filter
        .iter()
        .map(|f| ladder_retrieval::store::Filter::parse_equals(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!(e))?;
    let filter =
        (!conditions.is_empty()).then(|| ladder_retrieval::store::Filter::must(conditions));
    let kb = ladder_retrieval::KnowledgeBase {
        embedder: embedder()?,
        store,
        collection: collection.to_string(),
    };
    let hits = kb.search_filtered(query, k, filter).await?;
    if hits.is_empty() {
        println!("no hits");
    }
    for (i, h) in hits.iter().enumerate() {
        let text: String = h
            .field("text")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let text: String = if text.chars().count() > 160 {
            text.chars().take(160).collect::<String>() + "..."
        } else {
            text
        };
        println!(
            "{}. {:.3}  {} > {} (chunk {})",
            i + 1,
            h.score,
            h.field("document"),
            h.field("heading"),
            h.chunk()
        );
        println!("   {text}");
    }
    Ok(())
}

pub async fn bench(sizes: &[usize], queries: usize, sentences: usize, data: &Path) -> Result<()> {
    use ladder_retrieval::bench;
    eprintln!("bench-retrieval: embedding throughput, {sentences} sentences per round, batch 32, 5 rounds per side");
    let config = ladder_retrieval::EmbedConfig::default();
    let ours =
        ladder_retrieval::FastEmbedder::load(&config).context("cannot load the embedding model")?;
    let mut direct = ladder_retrieval::embed::text_embedding(&config)
        .context("cannot load the embedding model")?;
    let kb = ladder_world::default_suites_dir().join("helpdesk/kb");
    let mut texts: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(&kb)
        .with_context(|| format!("cannot read {}", kb.display()))?
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        texts.extend(
            text.split(". ")
                .map(|s| s.trim().to_string())
                .filter(|s| s.split_whitespace().count() >= 6),
        );
    }
    texts.sort();
    if texts.is_empty() {
        bail!("no sentences found in {}", kb.display());
    }
    let sample: Vec<String> = texts.iter().cycle().take(sentences).cloned().collect();
    let words = sample
        .iter()
        .map(|s| s.split_whitespace().count())
        .sum::<usize>() as f64
        / sample.len() as f64;
    let (a, b) = bench::embedding_throughput(&ours, &mut direct, &sample, 5)
        .map_err(|e| anyhow::anyhow!(e))?;
    println!("embedding: {sentences} sentences of {words:.0} words on average, batch 32, 1 thread, medians of 5 rounds");
    println!("| path | sentences/s | ratio |\n|---|---|---|");
    println!("| Embedder trait (FastEmbedder) | {a:.1} | {:.3} |", a / b);
    println!("| fastembed TextEmbedding::embed | {b:.1} | 1.000 |");
    println!();
    println!("search: top-10, {queries} queries, 384-d clustered vectors, filter = a range on the integer payload field `chunk` that keeps 10% of the points");
    println!("| points | mode | filter | p50 ms | p99 ms | recall@10 |\n|---|---|---|---|---|---|");
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    for &n in sizes {
        let (rows, optimize_s) =
            bench::search_rows(data, n, queries, |m| eprintln!("  {m}")).await?;
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} |",
                r.points,
                r.mode,
                if r.filtered { "yes" } else { "no" },
                r.p50_ms,
                r.p99_ms,
                r.recall
            );
        }
        eprintln!("  {n} points: optimize took {optimize_s:.1} s");
        println!(
            "| {n} | optimize() | | {:.0} ms total | | |",
            optimize_s * 1000.0
        );
    }
    Ok(())
}
