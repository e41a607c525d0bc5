//! One conformance suite for every vector store that is available: Qdrant Edge always, a
//! Qdrant server when `QDRANT_URL` is set (e.g. `QDRANT_URL=http://127.0.0.1:6334`).

use std::io::Write;

use ladder_retrieval::store::edge::EdgeStore;
use ladder_retrieval::store::server::ServerStore;
use ladder_retrieval::store::{
    Condition, FieldType, Filter, MatchValue, Point, StoreError, VectorStore,
};
use serde_json::{json, Map, Value};

fn point(id: u64, vector: [f32; 4], document: &str, year: i64) -> Point {
    // Attributes as ingestion stores a document's front matter: nested under
    // `attributes`, with a list and a table.
    let scope = if id.is_multiple_of(2) {
        "abroad"
    } else {
        "domestic"
    };
    let activities = if id <= 3 {
        json!(["diving", "surfing"])
    } else {
        json!(["walking"])
    };
    let Value::Object(payload) = json!({
        "document": document, "chunk": id as i64, "year": year,
        "attributes": {"scope": scope, "activities": activities, "hours_from": {"Ostby": id as i64}},
    }) else {
        unreachable!()
    };
    Point {
        id,
        vector: vector.to_vec(),
        payload,
    }
}

fn ids(hits: &[ladder_retrieval::store::Scored]) -> Vec<u64> {
    hits.iter().map(|h| h.id).collect()
}

async fn conformance(store: &dyn VectorStore, c: &str) {
    store.drop_collection(c).await.unwrap();
    assert_eq!(store.dimension(c).await.unwrap(), None);
    let indexes = [
        ("document", FieldType::Keyword),
        ("year", FieldType::Integer),
        ("attributes.scope", FieldType::Keyword),
        ("attributes.activities", FieldType::Keyword),
        ("attributes.hours_from.Ostby", FieldType::Integer),
    ];
    store.create(c, 4, &indexes).await.unwrap();
    assert_eq!(store.dimension(c).await.unwrap(), Some(4));
    store
        .create(c, 4, &indexes)
        .await
        .expect("creating again with the same dimension keeps the collection");
    match store.create(c, 8, &indexes).await {
        Err(StoreError::Dimension {
            existing: 4,
            wanted: 8,
            ..
        }) => {}
        other => panic!("a different dimension must be refused: {other:?}"),
    }

    let points = vec![
        point(1, [1.0, 0.0, 0.0, 0.0], "a", 2020),
        point(2, [0.9, 0.1, 0.0, 0.0], "a", 2021),
        point(3, [0.6, 0.8, 0.0, 0.0], "a", 2022),
        point(4, [0.3, 0.0, 0.95, 0.0], "b", 2023),
        point(5, [0.1, 0.0, 0.9, 0.1], "b", 2024),
        point(6, [0.0, 0.0, 0.0, 1.0], "b", 2025),
    ];
    store.upsert(c, points).await.unwrap();
    assert_eq!(store.count(c, None).await.unwrap(), 6);
    assert_eq!(
        store
            .count(
                c,
                Some(Filter::must(vec![Condition::keyword("document", "a")]))
            )
            .await
            .unwrap(),
        3
    );

    for exact in [true, false] {
        let hits = store
            .search(c, vec![1.0, 0.0, 0.0, 0.0], 3, None, exact)
            .await
            .unwrap();
        assert_eq!(ids(&hits), vec![1, 2, 3], "exact={exact}");
        assert!(
            (hits[0].score - 1.0).abs() < 1e-4,
            "cosine of a vector with itself: {}",
            hits[0].score
        );
        assert!(hits[0].score > hits[1].score && hits[1].score > hits[2].score);
        assert_eq!(hits[0].payload["document"], "a");
    }

    let q = vec![1.0, 0.0, 0.0, 0.0];
    let only_b = Filter::must(vec![Condition::keyword("document", "b")]);
    assert_eq!(
        ids(&store
            .search(c, q.clone(), 2, Some(only_b), true)
            .await
            .unwrap()),
        vec![4, 5]
    );
    let not_a = Filter {
        must_not: vec![Condition::keyword("document", "a")],
        ..Default::default()
    };
    assert_eq!(
        store
            .search(c, q.clone(), 10, Some(not_a), true)
            .await
            .unwrap()
            .len(),
        3
    );
    let years = Filter::must(vec![Condition::between("year", Some(2021.0), Some(2023.0))]);
    let mut got = ids(&store
        .search(c, q.clone(), 10, Some(years), true)
        .await
        .unwrap());
    got.sort();
    assert_eq!(got, vec![2, 3, 4]);
    let either = Filter {
        should: vec![
            Condition::integer("year", 2020),
            Condition::integer("year", 2025),
        ],
        ..Default::default()
    };
    let mut got = ids(&store
        .search(c, q.clone(), 10, Some(either), true)
        .await
        .unwrap());
    got.sort();
    assert_eq!(got, vec![1, 6]);
    let strict = Filter::must(vec![Condition::Range {
        key: "year".into(),
        gt: Some(2024.0),
        gte: None,
        lt: None,
        lte: None,
    }]);
    assert_eq!(
        ids(&store
            .search(c, q.clone(), 10, Some(strict), true)
            .await
            .unwrap()),
        vec![6]
    );
    let none = Filter::must(vec![Condition::Match {
        key: "document".into(),
        value: MatchValue::Keyword("zzz".into()),
    }]);
    assert!(store
        .search(c, q.clone(), 10, Some(none), true)
        .await
        .unwrap()
        .is_empty());

    // Nested attributes: exact match, list membership, a range on a table's entry.
    let abroad_divers = Filter::must(vec![
        Condition::keyword("attributes.scope", "abroad"),
        Condition::keyword("attributes.activities", "diving"),
    ]);
    assert_eq!(
        ids(&store
            .search(c, q.clone(), 10, Some(abroad_divers), true)
            .await
            .unwrap()),
        vec![2]
    );
    let near = Filter::must(vec![Condition::between(
        "attributes.hours_from.Ostby",
        None,
        Some(2.0),
    )]);
    assert_eq!(
        ids(&store
            .search(c, q.clone(), 10, Some(near), true)
            .await
            .unwrap()),
        vec![1, 2]
    );

    // Upsert replaces a point's vector and payload.
    store
        .upsert(c, vec![point(3, [1.0, 0.0, 0.0, 0.0], "c", 2030)])
        .await
        .unwrap();
    assert_eq!(store.count(c, None).await.unwrap(), 6);
    let top = store
        .search(
            c,
            q.clone(),
            1,
            Some(Filter::must(vec![Condition::keyword("document", "c")])),
            true,
        )
        .await
        .unwrap();
    assert_eq!(ids(&top), vec![3]);

    let mut all: Vec<(u64, Map<String, Value>)> = store.payloads(c).await.unwrap();
    all.sort_by_key(|(id, _)| *id);
    assert_eq!(
        all.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(all[2].1["year"], 2030);

    store.delete_ids(c, vec![1, 2]).await.unwrap();
    assert_eq!(store.count(c, None).await.unwrap(), 4);
    store
        .delete_where(c, Filter::must(vec![Condition::keyword("document", "b")]))
        .await
        .unwrap();
    assert_eq!(store.count(c, None).await.unwrap(), 1);
    store.optimize(c).await.unwrap();
    assert_eq!(store.count(c, None).await.unwrap(), 1);

    store.drop_collection(c).await.unwrap();
    assert_eq!(store.dimension(c).await.unwrap(), None);
    match store.count(c, None).await {
        Err(e) => assert!(e.to_string().contains(c), "{e}"),
        Ok(n) => panic!("a dropped collection counted {n}"),
    }
}

#[tokio::test]
async fn edge_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&EdgeStore::new(dir.path()), "conformance").await;
}

#[tokio::test]
async fn server_store_conforms_when_a_server_is_configured() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        // Written to the real stderr so that `cargo test` shows it.
        let _ = writeln!(std::io::stderr(), "SKIPPED server_store_conforms: no Qdrant server (set QDRANT_URL=http://HOST:6334 to run it)");
        return;
    };
    let key = std::env::var("QDRANT_API_KEY").ok();
    let store = ServerStore::connect(&url, key).unwrap();
    conformance(&store, "ladder_conformance").await;
}

#[tokio::test]
async fn edge_collections_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EdgeStore::new(dir.path());
        store
            .create("kept", 4, &[("document", FieldType::Keyword)])
            .await
            .unwrap();
        store
            .upsert(
                "kept",
                vec![
                    point(7, [0.0, 1.0, 0.0, 0.0], "x", 2000),
                    point(8, [1.0, 0.0, 0.0, 0.0], "y", 2001),
                ],
            )
            .await
            .unwrap();
        store.delete_ids("kept", vec![8]).await.unwrap();
    }
    let store = EdgeStore::new(dir.path());
    assert_eq!(store.dimension("kept").await.unwrap(), Some(4));
    assert_eq!(store.count("kept", None).await.unwrap(), 1);
    let hits = store
        .search("kept", vec![0.0, 1.0, 0.0, 0.0], 5, None, true)
        .await
        .unwrap();
    assert_eq!(ids(&hits), vec![7]);
}

#[tokio::test]
async fn a_damaged_index_folder_is_an_error_with_a_hint_and_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EdgeStore::new(dir.path());
        store.create("broken", 4, &[]).await.unwrap();
        store
            .upsert("broken", vec![point(1, [1.0, 0.0, 0.0, 0.0], "x", 1)])
            .await
            .unwrap();
    }
    let folder = dir.path().join("broken");
    std::fs::write(folder.join("edge_config.json"), b"{ not json").unwrap();
    let segments = folder.join("segments");
    if segments.is_dir() {
        std::fs::remove_dir_all(&segments).unwrap();
    }
    let store = EdgeStore::new(dir.path());
    let e = store.count("broken", None).await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Damaged { .. }), "{msg}");
    assert!(
        msg.contains("--recreate") && msg.contains("nothing was deleted"),
        "{msg}"
    );
    assert!(folder.exists(), "the damaged folder is left for the user");
}

#[test]
fn unknown_store_specs_say_what_is_expected() {
    let e = ladder_retrieval::store::open("redis://x", std::path::Path::new("/tmp"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("qdrant://HOST:PORT"), "{e}");
}
