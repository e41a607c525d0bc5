//! Ingestion: a folder of markdown and text files into a collection, incrementally.
//!
//! Invariants:
//! - Re-ingesting is incremental: a chunk whose id and content hash are already stored is
//!   skipped; a changed chunk is replaced; chunks of deleted documents (or past the end of
//!   a shortened one) are removed.
//! - Empty, binary and non-UTF-8 files are skipped and listed in the report, never fatal.
//! - Points are written batch by batch, so an interrupted ingestion keeps what it finished
//!   and the next run picks up the rest.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ladder_core::{EmbedError, Embedder};
use serde_json::{Map, Value};

use crate::chunk::{chunk_document, Chunk, ChunkOptions};
use crate::store::{payload_str, FieldType, Point, StoreError, VectorStore};

/// Texts embedded per batch (and points written per upsert).
const BATCH: usize = 64;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct IngestReport {
    pub documents: usize,
    pub chunks: usize,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Files that were not ingested, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read the folder {path}: {reason}")]
    Folder { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

/// The files to ingest under `folder`, sorted.
fn files(folder: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| IngestError::Folder {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    stack.push(p);
                }
            } else if p
                .extension()
                .is_some_and(|x| x == "md" || x == "markdown" || x == "txt")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The chunks of a folder's documents.
#[derive(Debug, Default)]
pub struct FolderChunks {
    pub chunks: Vec<Chunk>,
    /// Files that were not read, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    pub documents: usize,
}

/// Read and chunk every document; skipped files are listed with their reason.
pub fn read_folder(folder: &Path, opts: ChunkOptions) -> Result<FolderChunks, IngestError> {
    if !folder.is_dir() {
        return Err(IngestError::Folder {
            path: folder.display().to_string(),
            reason: "not a folder".into(),
        });
    }
    let mut chunks = Vec::new();
    let mut skipped = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut documents = 0;
    for path in files(folder)? {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                skipped.push((path, format!("unreadable: {e}")));
                continue;
            }
        };
        if bytes.iter().take(8192).any(|b| *b == 0) {
            skipped.push((path, "binary".into()));
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            skipped.push((path, "not UTF-8 text".into()));
            continue;
        };
        if text.trim().is_empty() {
            skipped.push((path, "empty".into()));
            continue;
        }
        let rel = path
            .strip_prefix(folder)
            .unwrap_or(&path)
            .with_extension("");
        let fallback = rel.to_string_lossy().replace('\\', "/");
        let doc_chunks = chunk_document(&text, &fallback, opts);
        let Some(first) = doc_chunks.first() else {
            skipped.push((path, "no text after its front matter".into()));
            continue;
        };
        if let Some(other) = seen.get(&first.document) {
            skipped.push((
                path.clone(),
                format!(
                    "document id {:?} is already used by {}",
                    first.document,
                    other.display()
                ),
            ));
            continue;
        }
        seen.insert(first.document.clone(), path);
        documents += 1;
        chunks.extend(doc_chunks);
    }
    Ok(FolderChunks {
        chunks,
        skipped,
        documents,
    })
}

fn payload(c: &Chunk) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("document".into(), c.document.clone().into());
    m.insert("title".into(), c.title.clone().into());
    m.insert("heading".into(), c.heading.clone().into());
    m.insert("chunk".into(), (c.index as i64).into());
    m.insert("text".into(), c.text.clone().into());
    m.insert("hash".into(), c.hash.clone().into());
    if !c.attributes.is_empty() {
        m.insert("attributes".into(), Value::Object(c.attributes.clone()));
    }
    m
}

/// Payload indexes for the chunks' attributes: `attributes.<name>` (and one level of
/// nesting, `attributes.<name>.<key>`, for tables such as travel hours by city), typed by
/// their values: strings (and lists of strings) as keywords, integers, floats (a field
/// with both integers and floats is a float field), booleans.
pub fn attribute_indexes(chunks: &[Chunk]) -> Vec<(String, FieldType)> {
    fn kind(v: &Value) -> Option<FieldType> {
        match v {
            Value::String(_) => Some(FieldType::Keyword),
            Value::Bool(_) => Some(FieldType::Bool),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(FieldType::Integer),
            Value::Number(_) => Some(FieldType::Float),
            Value::Array(items) => items.first().and_then(kind),
            _ => None,
        }
    }
    let mut found: BTreeMap<String, FieldType> = BTreeMap::new();
    let mut add = |key: String, t: FieldType| {
        let merged = match (found.get(&key), t) {
            (Some(FieldType::Integer), FieldType::Float)
            | (Some(FieldType::Float), FieldType::Integer) => FieldType::Float,
            (Some(old), _) => *old,
            (None, t) => t,
        };
        found.insert(key, merged);
    };
    for c in chunks {
        for (name, v) in &c.attributes {
            match v {
                Value::Object(inner) => {
                    for (k, v) in inner {
                        if let Some(t) = kind(v) {
                            add(format!("attributes.{name}.{k}"), t);
                        }
                    }
                }
                v => {
                    if let Some(t) = kind(v) {
                        add(format!("attributes.{name}"), t);
                    }
                }
            }
        }
    }
    found.into_iter().collect()
}

/// Ingest `folder` into `collection`. `progress(done, total)` is told after each batch.
pub async fn ingest(
    folder: &Path,
    collection: &str,
    embedder: Arc<dyn Embedder>,
    store: &dyn VectorStore,
    opts: ChunkOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<IngestReport, IngestError> {
    let FolderChunks {
        chunks,
        skipped,
        documents,
    } = read_folder(folder, opts)?;
    let mut indexes: Vec<(String, FieldType)> = vec![
        ("document".into(), FieldType::Keyword),
        ("chunk".into(), FieldType::Integer),
    ];
    indexes.extend(attribute_indexes(&chunks));
    let indexes: Vec<(&str, FieldType)> = indexes.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    store
        .create(collection, embedder.dimension(), &indexes)
        .await?;
    let existing: HashMap<u64, String> = store
        .payloads(collection)
        .await?
        .into_iter()
        .map(|(id, p)| (id, payload_str(&p, "hash").to_string()))
        .collect();

    let mut report = IngestReport {
        documents,
        chunks: chunks.len(),
        skipped,
        ..Default::default()
    };
    let mut todo: Vec<&Chunk> = Vec::new();
    for c in &chunks {
        match existing.get(&c.point_id()) {
            Some(h) if *h == c.hash => report.unchanged += 1,
            Some(_) => {
                report.updated += 1;
                todo.push(c);
            }
            None => {
                report.added += 1;
                todo.push(c);
            }
        }
    }
    let keep: HashSet<u64> = chunks.iter().map(Chunk::point_id).collect();
    let stale: Vec<u64> = existing
        .keys()
        .filter(|id| !keep.contains(id))
        .copied()
        .collect();
    report.removed = stale.len();
    if !stale.is_empty() {
        store.delete_ids(collection, stale).await?;
    }

    let total = todo.len();
    progress(0, total);
    for (i, batch) in todo.chunks(BATCH).enumerate() {
        let texts: Vec<String> = batch.iter().map(|c| c.embed_text()).collect();
        let e = Arc::clone(&embedder);
        let vectors = tokio::task::spawn_blocking(move || e.embed(&texts))
            .await
            .map_err(|e| EmbedError::Failed(format!("the embedding thread failed: {e}")))??;
        let points = batch
            .iter()
            .zip(vectors)
            .map(|(c, vector)| Point {
                id: c.point_id(),
                vector,
                payload: payload(c),
            })
            .collect();
        store.upsert(collection, points).await?;
        progress((i * BATCH + batch.len()).min(total), total);
    }
    if total >= 1000 {
        store.optimize(collection).await?;
    }
    Ok(report)
}

/// Per-document chunk counts of a collection (for reports and tests).
pub async fn documents(
    store: &dyn VectorStore,
    collection: &str,
) -> Result<BTreeMap<String, usize>, StoreError> {
    let mut out = BTreeMap::new();
    for (_, p) in store.payloads(collection).await? {
        *out.entry(payload_str(&p, "document").to_string())
            .or_insert(0) += 1;
    }
    Ok(out)
}
