//! A Qdrant server through qdrant-client (gRPC), for corpora that outgrow one machine.
//! Selected with `--store qdrant://host:port`; the API key comes from `QDRANT_API_KEY`.
//!
//! The mapping from our types to the client's ([`grpc_filter`], [`grpc_point`]) is plain
//! and unit-tested; the calls themselves are tested against a real server when
//! `QDRANT_URL` is set.

use async_trait::async_trait;
use qdrant_client::qdrant::{
    self, vectors_config, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, PointStruct, PointsIdsList,
    ScrollPointsBuilder, SearchParamsBuilder, SearchPointsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};
use serde_json::{Map, Value};

use super::{Condition, FieldType, Filter, MatchValue, Point, Scored, StoreError, VectorStore};

pub struct ServerStore {
    url: String,
    client: Qdrant,
}

/// Our filter as the client's gRPC filter.
pub fn grpc_filter(f: &Filter) -> qdrant::Filter {
    let cond = |c: &Condition| match c {
        Condition::Match { key, value } => match value {
            MatchValue::Keyword(s) => qdrant::Condition::matches(key.clone(), s.clone()),
            MatchValue::Integer(i) => qdrant::Condition::matches(key.clone(), *i),
            MatchValue::Bool(b) => qdrant::Condition::matches(key.clone(), *b),
        },
        Condition::Range {
            key,
            gt,
            gte,
            lt,
            lte,
        } => qdrant::Condition::range(
            key.clone(),
            qdrant::Range {
                gt: *gt,
                gte: *gte,
                lt: *lt,
                lte: *lte,
            },
        ),
    };
    qdrant::Filter {
        must: f.must.iter().map(cond).collect(),
        should: f.should.iter().map(cond).collect(),
        must_not: f.must_not.iter().map(cond).collect(),
        min_should: None,
    }
}

/// Our point as the client's gRPC point.
pub fn grpc_point(p: Point) -> PointStruct {
    PointStruct::new(p.id, p.vector, Payload::from(p.payload))
}

fn point_id(id: Option<qdrant::PointId>) -> u64 {
    match id.and_then(|i| i.point_id_options) {
        Some(qdrant::point_id::PointIdOptions::Num(n)) => n,
        _ => 0,
    }
}

fn json_payload(p: std::collections::HashMap<String, qdrant::Value>) -> Map<String, Value> {
    p.into_iter().map(|(k, v)| (k, v.into_json())).collect()
}

impl ServerStore {
    pub fn connect(url: &str, api_key: Option<String>) -> Result<ServerStore, StoreError> {
        let mut builder = Qdrant::from_url(url).skip_compatibility_check();
        if let Some(key) = api_key {
            builder = builder.api_key(key);
        }
        let client = builder.build().map_err(|e| StoreError::Unreachable {
            url: url.into(),
            reason: e.to_string(),
        })?;
        Ok(ServerStore {
            url: url.into(),
            client,
        })
    }

    fn err(&self, e: qdrant_client::QdrantError) -> StoreError {
        let text = e.to_string();
        if text.contains("transport error")
            || text.contains("Connection refused")
            || text.contains("Unavailable")
        {
            StoreError::Unreachable {
                url: self.url.clone(),
                reason: text,
            }
        } else {
            StoreError::Backend(format!("{}: {text}", self.url))
        }
    }
}

#[async_trait]
impl VectorStore for ServerStore {
    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn dimension(&self, collection: &str) -> Result<Option<usize>, StoreError> {
        if !self
            .client
            .collection_exists(collection)
            .await
            .map_err(|e| self.err(e))?
        {
            return Ok(None);
        }
        let info = self
            .client
            .collection_info(collection)
            .await
            .map_err(|e| self.err(e))?;
        let size = info
            .result
            .and_then(|r| r.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
            .and_then(|c| match c {
                vectors_config::Config::Params(p) => Some(p.size as usize),
                vectors_config::Config::ParamsMap(_) => None,
            });
        Ok(size)
    }

    async fn create(
        &self,
        collection: &str,
        dim: usize,
        indexes: &[(&str, FieldType)],
    ) -> Result<(), StoreError> {
        match self.dimension(collection).await? {
            Some(existing) if existing != dim => {
                return Err(StoreError::Dimension {
                    name: collection.into(),
                    existing,
                    wanted: dim,
                })
            }
            // An existing collection keeps its indexes; they were made with it.
            Some(_) => return Ok(()),
            None => {
                self.client
                    .create_collection(CreateCollectionBuilder::new(collection).vectors_config(
                        VectorParamsBuilder::new(dim as u64, qdrant::Distance::Cosine),
                    ))
                    .await
                    .map_err(|e| self.err(e))?;
            }
        }
        for (field, kind) in indexes {
            let t = match kind {
                FieldType::Keyword => qdrant::FieldType::Keyword,
                FieldType::Integer => qdrant::FieldType::Integer,
                FieldType::Float => qdrant::FieldType::Float,
                FieldType::Bool => qdrant::FieldType::Bool,
            };
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(collection, *field, t).wait(true),
                )
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn drop_collection(&self, collection: &str) -> Result<(), StoreError> {
        if self
            .client
            .collection_exists(collection)
            .await
            .map_err(|e| self.err(e))?
        {
            self.client
                .delete_collection(collection)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<(), StoreError> {
        let points: Vec<PointStruct> = points.into_iter().map(grpc_point).collect();
        self.client
            .upsert_points(UpsertPointsBuilder::new(collection, points).wait(true))
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn delete_ids(&self, collection: &str, ids: Vec<u64>) -> Result<(), StoreError> {
        let ids = PointsIdsList {
            ids: ids.into_iter().map(Into::into).collect(),
        };
        self.client
            .delete_points(DeletePointsBuilder::new(collection).points(ids).wait(true))
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn delete_where(&self, collection: &str, filter: Filter) -> Result<(), StoreError> {
        self.client
            .delete_points(
                DeletePointsBuilder::new(collection)
                    .points(grpc_filter(&filter))
                    .wait(true),
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn count(&self, collection: &str, filter: Option<Filter>) -> Result<usize, StoreError> {
        let mut req = CountPointsBuilder::new(collection).exact(true);
        if let Some(f) = filter {
            req = req.filter(grpc_filter(&f));
        }
        let r = self.client.count(req).await.map_err(|e| self.err(e))?;
        Ok(r.result.map(|c| c.count as usize).unwrap_or(0))
    }

    async fn payloads(
        &self,
        collection: &str,
    ) -> Result<Vec<(u64, Map<String, Value>)>, StoreError> {
        let mut out = Vec::new();
        let mut offset: Option<qdrant::PointId> = None;
        loop {
            let mut req = ScrollPointsBuilder::new(collection)
                .limit(1000)
                .with_payload(true);
            if let Some(o) = offset.take() {
                req = req.offset(o);
            }
            let r = self.client.scroll(req).await.map_err(|e| self.err(e))?;
            out.extend(
                r.result
                    .into_iter()
                    .map(|p| (point_id(p.id), json_payload(p.payload))),
            );
            match r.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn search(
        &self,
        collection: &str,
        vector: Vec<f32>,
        k: usize,
        filter: Option<Filter>,
        exact: bool,
    ) -> Result<Vec<Scored>, StoreError> {
        let mut req = SearchPointsBuilder::new(collection, vector, k as u64)
            .with_payload(true)
            .params(SearchParamsBuilder::default().exact(exact));
        if let Some(f) = filter {
            req = req.filter(grpc_filter(&f));
        }
        let r = self
            .client
            .search_points(req)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r.result
            .into_iter()
            .map(|p| Scored {
                id: point_id(p.id),
                score: p.score,
                payload: json_payload(p.payload),
            })
            .collect())
    }

    async fn optimize(&self, _collection: &str) -> Result<(), StoreError> {
        // A server optimises in the background on its own.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant::condition::ConditionOneOf;
    use qdrant::r#match::MatchValue as M;

    fn field(c: &qdrant::Condition) -> &qdrant::FieldCondition {
        match &c.condition_one_of {
            Some(ConditionOneOf::Field(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn filters_map_to_grpc_conditions() {
        let f = Filter {
            must: vec![
                Condition::keyword("document", "returns-policy"),
                Condition::between("chunk", Some(1.0), Some(3.0)),
            ],
            should: vec![Condition::integer("year", 2026)],
            must_not: vec![Condition::Match {
                key: "draft".into(),
                value: MatchValue::Bool(true),
            }],
        };
        let g = grpc_filter(&f);
        assert_eq!(g.must.len(), 2);
        let m = field(&g.must[0]);
        assert_eq!(m.key, "document");
        assert_eq!(
            m.r#match.as_ref().unwrap().match_value,
            Some(M::Keyword("returns-policy".into()))
        );
        let r = field(&g.must[1]).range.unwrap();
        assert_eq!(
            (r.gte, r.lte, r.gt, r.lt),
            (Some(1.0), Some(3.0), None, None)
        );
        assert_eq!(
            field(&g.should[0]).r#match.as_ref().unwrap().match_value,
            Some(M::Integer(2026))
        );
        assert_eq!(
            field(&g.must_not[0]).r#match.as_ref().unwrap().match_value,
            Some(M::Boolean(true))
        );
    }

    #[test]
    fn points_keep_id_vector_and_payload() {
        let mut payload = Map::new();
        payload.insert("document".into(), Value::String("faq".into()));
        payload.insert("chunk".into(), Value::from(2));
        let p = grpc_point(Point {
            id: 42,
            vector: vec![0.5, 0.25],
            payload,
        });
        assert_eq!(point_id(p.id.clone()), 42);
        let back = json_payload(p.payload);
        assert_eq!(back["document"], "faq");
        assert_eq!(back["chunk"], 2);
    }
}
