//! The embedded store: Qdrant Edge, one shard per collection under a data folder.
//!
//! Invariants:
//! - Shards are opened once and shared; every call runs on a blocking thread.
//! - A folder that exists but cannot be loaded is reported as damaged; it is never deleted
//!   except by [`VectorStore::drop_collection`].

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
    shards: Mutex<HashMap<String, Arc<EdgeShard>>>,
}

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
        EdgeStore {
            root: root.to_path_buf(),
            shards: Mutex::new(HashMap::new()),
        }
    }

    fn dir(&self, collection: &str) -> PathBuf {
        self.root.join(collection)
    }

    /// The open shard of a collection, loading it from disk on first use.
    fn shard(&self, collection: &str) -> Result<Option<Arc<EdgeShard>>, StoreError> {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = shards.get(collection) {
            return Ok(Some(Arc::clone(s)));
        }
        let dir = self.dir(collection);
        if !dir.exists() {
            return Ok(None);
        }
        let shard = EdgeShard::load(&dir, None).map_err(|e| {
            let reason = e.to_string();
            if reason.contains("WouldBlock") {
                StoreError::Busy {
                    path: dir.display().to_string(),
                }
            } else {
                StoreError::Damaged {
                    path: dir.display().to_string(),
                    reason,
                }
            }
        })?;
        let shard = Arc::new(shard);
        shards.insert(collection.to_string(), Arc::clone(&shard));
        Ok(Some(shard))
    }

    fn existing(&self, collection: &str) -> Result<Arc<EdgeShard>, StoreError> {
        self.shard(collection)?
            .ok_or_else(|| StoreError::NoCollection {
                name: collection.to_string(),
            })
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
                    .insert(collection.to_string(), Arc::clone(&shard));
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
        self.shards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(collection);
        let dir = self.dir(collection);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| backend(format!("cannot delete {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), StoreError> {
        let shard = self.existing(collection)?;
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
        let shard = self.existing(collection)?;
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
        let shard = self.existing(collection)?;
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
        let shard = self.existing(collection)?;
        blocking(move || {
            shard.optimize().map_err(backend)?;
            shard.flush();
            Ok(())
        })
        .await
    }
}
