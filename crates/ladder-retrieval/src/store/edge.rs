//! The embedded store: Qdrant Edge, one shard per collection under a data folder.
//!
//! Invariants:
//! - Shards are opened once and shared; every call runs on a blocking thread.
//! - A folder that exists but cannot be loaded is reported as damaged; it is never deleted
//!   except by [`VectorStore::drop_collection`].
//! - Qdrant Edge locks a collection's folder while one process has it open. A second
//!   process then reads a private copy (under `<root>/.readers/`), taken when it first
//!   needs the collection: searches, counts and an ingest that finds nothing to change
//!   work; any write (an ingest with changes, `--recreate`, optimising) is refused with
//!   [`StoreError::ReadOnly`], so only a writer waits. A copy taken while the other
//!   process was writing shows as chunks out of date, which an ingest then refuses to
//!   fix. A copy's folder is locked (`.lock`) from before it is made until it is removed;
//!   copies are deleted when their store is dropped, or by the next store opened on the
//!   root once nothing holds their lock (their process has gone). A damaged folder is
//!   still deleted by `drop_collection`; one another process holds never is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use qdrant_edge::{
    CountRequest, CreateIndex, Distance, EdgeConfigBuilder, EdgeShard, EdgeVectorParamsBuilder,
    FieldCondition, FieldIndexOperations, JsonPath, Match, PayloadFieldSchema, PayloadSchemaType,
    PointId, PointInsertOperations, PointOperations, PointStruct, QueryEnum, Range, ScrollRequest,
    SearchParams, SearchRequest, UpdateOperation, ValueVariants, Vectors, WithPayloadInterface,
};
use serde_json::{Map, Value};

use super::{Condition, FieldType, Filter, MatchValue, Point, Scored, StoreError, VectorStore};

pub struct EdgeStore {
    root: PathBuf,
    shards: Mutex<HashMap<String, Open>>,
}

/// An open collection: the folder itself, or a read-only copy of it.
#[derive(Clone)]
struct Open {
    // Dropped before the copy's folder is removed (fields drop in order).
    shard: Arc<EdgeShard>,
    /// The copy read when another process holds the collection.
    copy: Option<Copy>,
}

/// A reader's private copy of a collection another process holds.
#[derive(Clone)]
struct Copy {
    /// The copy's own folder under `.readers/` (the collection's copy is inside it).
    folder: PathBuf,
    /// The lock on `folder`'s `.lock` file, held from before the copy is made until it is
    /// removed, so no other reader's sweep takes it for a stale one.
    _guard: Arc<std::fs::File>,
}

impl Copy {
    /// Delete the copy (its lock goes after it).
    fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// The file each copy's folder is locked by.
const LOCK: &str = ".lock";

/// The folder under which readers keep their copies.
const READERS: &str = ".readers";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn path_of(key: &str) -> Result<JsonPath, StoreError> {
    key.parse::<JsonPath>()
        .map_err(|_| StoreError::Backend(format!("{key:?} is not a payload field name")))
}

fn condition(c: &Condition) -> Result<qdrant_edge::Condition, StoreError> {
    Ok(match c {
        Condition::Match { key, value } => {
            let v = match value {
                MatchValue::Keyword(s) => ValueVariants::String(s.clone()),
                MatchValue::Integer(i) => ValueVariants::Integer(*i),
                MatchValue::Bool(b) => ValueVariants::Bool(*b),
            };
            qdrant_edge::Condition::Field(FieldCondition::new_match(
                path_of(key)?,
                Match::new_value(v),
            ))
        }
        Condition::Range {
            key,
            gt,
            gte,
            lt,
            lte,
        } => {
            let f = |x: &Option<f64>| x.map(ordered_float::OrderedFloat);
            let range = Range {
                gt: f(gt),
                gte: f(gte),
                lt: f(lt),
                lte: f(lte),
            };
            qdrant_edge::Condition::Field(FieldCondition::new_range(path_of(key)?, range))
        }
    })
}

pub(crate) fn edge_filter(f: &Filter) -> Result<qdrant_edge::Filter, StoreError> {
    let list = |cs: &[Condition]| -> Result<Option<Vec<qdrant_edge::Condition>>, StoreError> {
        if cs.is_empty() {
            Ok(None)
        } else {
            cs.iter()
                .map(condition)
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
    };
    Ok(qdrant_edge::Filter {
        should: list(&f.should)?,
        min_should: None,
        must: list(&f.must)?,
        must_not: list(&f.must_not)?,
    })
}

fn point_id(id: &PointId) -> u64 {
    match id {
        PointId::NumId(n) => *n,
        // ladder only writes numeric ids.
        PointId::Uuid(u) => u.as_u64_pair().0,
    }
}

fn payload_map(p: Option<qdrant_edge::Payload>) -> Map<String, Value> {
    p.map(|p| p.0.into_iter().collect()).unwrap_or_default()
}

impl EdgeStore {
    pub fn new(root: &Path) -> Self {
        // Copies left by readers that have gone (a store kept for the whole process is
        // never dropped, so its copies outlive it): removed by the next store to open here.
        sweep_readers(&root.join(READERS));
        EdgeStore {
            root: root.to_path_buf(),
            shards: Mutex::new(HashMap::new()),
        }
    }

    fn dir(&self, collection: &str) -> PathBuf {
        self.root.join(collection)
    }

    /// The open shard of a collection, loading it from disk on first use (a read-only
    /// copy when another process holds it).
    fn shard(&self, collection: &str) -> Result<Option<Arc<EdgeShard>>, StoreError> {
        Ok(self.open(collection)?.map(|o| o.shard))
    }

    /// The open collection (its shard, and the folder of the copy when it is one).
    fn open(&self, collection: &str) -> Result<Option<Open>, StoreError> {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let dir = self.dir(collection);
        if let Some(o) = shards.get(collection) {
            return Ok(Some(o.clone()));
        }
        if !dir.exists() {
            return Ok(None);
        }
        let open = match EdgeShard::load(&dir, None) {
            Ok(shard) => Open {
                shard: Arc::new(shard),
                copy: None,
            },
            Err(e) if e.to_string().contains("WouldBlock") => {
                let copy = self.read_copy(collection, &dir)?;
                match EdgeShard::load(&copy.folder.join(collection), None) {
                    Ok(shard) => Open {
                        shard: Arc::new(shard),
                        copy: Some(copy),
                    },
                    Err(e) => {
                        copy.remove();
                        return Err(StoreError::Busy {
                            path: format!(
                                "{} (a copy to read could not be opened: {e})",
                                dir.display()
                            ),
                        });
                    }
                }
            }
            Err(e) => {
                return Err(StoreError::Damaged {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })
            }
        };
        shards.insert(collection.to_string(), open.clone());
        Ok(Some(open))
    }

    /// Copy a collection another process holds to a private folder, locked before the copy
    /// is made, after removing the copies of readers that have gone.
    fn read_copy(&self, collection: &str, dir: &Path) -> Result<Copy, StoreError> {
        let readers = self.root.join(READERS);
        sweep_readers(&readers);
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let own = readers.join(format!("{}-{n}", std::process::id()));
        let failed = |e: std::io::Error| StoreError::Busy {
            path: format!(
                "{} (a copy to read could not be made in {}: {e})",
                dir.display(),
                readers.display()
            ),
        };
        // A folder of this name left by a process that had this id is not ours to reuse.
        if own.exists() {
            std::fs::remove_dir_all(&own).map_err(failed)?;
        }
        std::fs::create_dir_all(&own).map_err(failed)?;
        let guard = std::fs::File::create(own.join(LOCK)).map_err(failed)?;
        guard.lock().map_err(failed)?;
        copy_dir(dir, &own.join(collection)).map_err(failed)?;
        Ok(Copy {
            folder: own,
            _guard: Arc::new(guard),
        })
    }

    fn existing(&self, collection: &str) -> Result<Arc<EdgeShard>, StoreError> {
        self.shard(collection)?
            .ok_or_else(|| StoreError::NoCollection {
                name: collection.to_string(),
            })
    }

    /// The shard of a collection to change: refused when this process reads a copy.
    fn writable(&self, collection: &str) -> Result<Arc<EdgeShard>, StoreError> {
        match self.open(collection)? {
            None => Err(StoreError::NoCollection {
                name: collection.to_string(),
            }),
            Some(Open { copy: Some(_), .. }) => Err(StoreError::ReadOnly {
                path: self.dir(collection).display().to_string(),
            }),
            Some(Open { shard, copy: None }) => Ok(shard),
        }
    }
}

impl Drop for EdgeStore {
    fn drop(&mut self) {
        let shards = std::mem::take(self.shards.get_mut().unwrap_or_else(|e| e.into_inner()));
        for (_, open) in shards {
            let Open { shard, copy } = open;
            drop(shard);
            if let Some(copy) = copy {
                copy.remove();
            }
        }
    }
}

/// Copy a folder and everything in it.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Remove the copies under `readers` whose process has gone: a live reader holds the lock
/// of each copy's write-ahead log, as Qdrant Edge does for any folder it has open.
fn sweep_readers(readers: &Path) {
    let Ok(entries) = std::fs::read_dir(readers) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // A live reader holds its folder's lock from before its copy is made (this
        // process's own live copies too: a lock is per open file), and Qdrant Edge the
        // lock of the copy's write-ahead log once it is open.
        let held = wal_held(&path.join(LOCK))
            || std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .any(|c| wal_held(&c.path().join("wal")));
        if !held {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether another open file holds the lock of a file or folder (a copy's `.lock`, a
/// write-ahead log's folder).
fn wal_held(wal: &Path) -> bool {
    match std::fs::File::open(wal) {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("a store thread failed: {e}")))?
}

fn dimension_of(shard: &EdgeShard) -> Option<usize> {
    shard.config().vectors.get("").map(|v| v.size)
}

#[async_trait]
impl VectorStore for EdgeStore {
    fn describe(&self) -> String {
        format!("edge:{}", self.root.display())
    }

    async fn dimension(&self, collection: &str) -> Result<Option<usize>, StoreError> {
        Ok(self.shard(collection)?.and_then(|s| dimension_of(&s)))
    }

    async fn create(
        &self,
        collection: &str,
        dim: usize,
        indexes: &[(&str, FieldType)],
    ) -> Result<(), StoreError> {
        let shard = match self.shard(collection)? {
            Some(existing_shard) => {
                let existing = dimension_of(&existing_shard).unwrap_or(0);
                if existing != dim {
                    return Err(StoreError::Dimension {
                        name: collection.into(),
                        existing,
                        wanted: dim,
                    });
                }
                // An existing collection keeps its indexes; they were made with it.
                return Ok(());
            }
            None => {
                let dir = self.dir(collection);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| backend(format!("cannot create {}: {e}", dir.display())))?;
                let config = EdgeConfigBuilder::new()
                    .vector(
                        "",
                        EdgeVectorParamsBuilder::new(dim, Distance::Cosine).build(),
                    )
                    .build();
                let shard = Arc::new(EdgeShard::new(&dir, config).map_err(backend)?);
                self.shards
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        collection.to_string(),
                        Open {
                            shard: Arc::clone(&shard),
                            copy: None,
                        },
                    );
                shard
            }
        };
        for (field, kind) in indexes {
            let schema = match kind {
                FieldType::Keyword => PayloadSchemaType::Keyword,
                FieldType::Integer => PayloadSchemaType::Integer,
                FieldType::Float => PayloadSchemaType::Float,
                FieldType::Bool => PayloadSchemaType::Bool,
            };
            let op = UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                CreateIndex {
                    field_name: path_of(field)?,
                    field_schema: Some(PayloadFieldSchema::FieldType(schema)),
                },
            ));
            shard.update(op).map_err(backend)?;
        }
        Ok(())
    }

    async fn drop_collection(&self, collection: &str) -> Result<(), StoreError> {
        // Never delete a folder another process holds (its write-ahead log is locked);
        // a damaged one is deleted (that is what `--recreate` is for).
        let dir = self.dir(collection);
        let ours = self
            .shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(collection)
            .map(|o| o.copy.is_none());
        let held = match ours {
            Some(mine) => !mine,
            None => wal_held(&dir.join("wal")),
        };
        if held {
            return Err(StoreError::ReadOnly {
                path: dir.display().to_string(),
            });
        }
        self.shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(collection);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| backend(format!("cannot delete {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), StoreError> {
        let shard = self.writable(collection)?;
        blocking(move || {
            let points = points
                .into_iter()
                .map(|p| {
                    PointStruct::new(p.id, Vectors::from(p.vector), Value::Object(p.payload)).into()
                })
                .collect();
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(backend)?;
            shard.flush();
            Ok(())
        })
        .await
    }

    async fn delete_ids(&self, collection: &str, ids: Vec<u64>) -> Result<(), StoreError> {
        let shard = self.writable(collection)?;
        blocking(move || {
            let ids = ids.into_iter().map(PointId::NumId).collect();
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePoints { ids },
                ))
                .map_err(backend)?;
            shard.flush();
            Ok(())
        })
        .await
    }

    async fn delete_where(&self, collection: &str, filter: Filter) -> Result<(), StoreError> {
        let shard = self.writable(collection)?;
        let filter = edge_filter(&filter)?;
        blocking(move || {
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                ))
                .map_err(backend)?;
            shard.flush();
            Ok(())
        })
        .await
    }

    async fn count(&self, collection: &str, filter: Option<Filter>) -> Result<usize, StoreError> {
        let shard = self.existing(collection)?;
        let filter = filter.as_ref().map(edge_filter).transpose()?;
        blocking(move || {
            shard
                .count(CountRequest {
                    filter,
                    exact: true,
                })
                .map_err(backend)
        })
        .await
    }

    async fn payloads(
        &self,
        collection: &str,
    ) -> Result<Vec<(u64, Map<String, Value>)>, StoreError> {
        let shard = self.existing(collection)?;
        blocking(move || {
            let mut out = Vec::new();
            let mut offset = None;
            loop {
                let (records, next) = shard
                    .scroll(ScrollRequest {
                        offset,
                        limit: Some(1000),
                        filter: None,
                        with_payload: Some(WithPayloadInterface::Bool(true)),
                        with_vector: Default::default(),
                        order_by: None,
                    })
                    .map_err(backend)?;
                out.extend(
                    records
                        .into_iter()
                        .map(|r| (point_id(&r.id), payload_map(r.payload))),
                );
                match next {
                    Some(n) => offset = Some(n),
                    None => return Ok(out),
                }
            }
        })
        .await
    }

    async fn search(
        &self,
        collection: &str,
        vector: Vec<f32>,
        k: usize,
        filter: Option<Filter>,
        exact: bool,
    ) -> Result<Vec<Scored>, StoreError> {
        let shard = self.existing(collection)?;
        let filter = filter.as_ref().map(edge_filter).transpose()?;
        blocking(move || {
            let request = SearchRequest {
                query: QueryEnum::Nearest(qdrant_edge::NamedQuery::default_dense(vector)),
                filter,
                params: Some(SearchParams {
                    exact,
                    ..Default::default()
                }),
                limit: k,
                offset: 0,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: None,
                score_threshold: None,
            };
            let hits = shard.search(request).map_err(backend)?;
            Ok(hits
                .into_iter()
                .map(|h| Scored {
                    id: point_id(&h.id),
                    score: h.score,
                    payload: payload_map(h.payload),
                })
                .collect())
        })
        .await
    }

    async fn optimize(&self, collection: &str) -> Result<(), StoreError> {
        let shard = self.writable(collection)?;
        blocking(move || {
            shard.optimize().map_err(backend)?;
            shard.flush();
            Ok(())
        })
        .await
    }
}
