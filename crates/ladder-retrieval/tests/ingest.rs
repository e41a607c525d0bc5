//! Ingestion and search on the real embedder and the embedded store.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ladder_core::{Embedder, Retriever};
use ladder_retrieval::chunk::ChunkOptions;
use ladder_retrieval::ingest::{documents, ingest};
use ladder_retrieval::store::edge::EdgeStore;
use ladder_retrieval::store::{Condition, FieldType, Filter, StoreError, VectorStore};
use ladder_retrieval::{FastEmbedder, KnowledgeBase};

fn embedder() -> Arc<dyn Embedder> {
    static E: OnceLock<Arc<FastEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(FastEmbedder::load_default().expect("`just setup` installs the embedding model"))
    })
    .clone()
}

fn helpdesk_kb() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/suites/helpdesk/kb")
}

fn copy_kb(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(helpdesk_kb()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// A second ladder on the same data folder (Qdrant Edge locks a folder per open file, so
/// a second store in this process is what a second process is) reads a copy: its searches
/// and an ingest with nothing to change work; a write is refused and the writer unharmed.
#[tokio::test]
async fn a_second_process_reads_a_collection_in_use_and_only_a_writer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    copy_kb(&kb);
    let data = tmp.path().join("data");
    let opts = ChunkOptions::default();
    let writer = EdgeStore::new(&data);
    let first = ingest(&kb, "help", embedder(), &writer, opts, |_, _| {})
        .await
        .unwrap();
    // A copy a reader that has gone left behind (no process holds it): swept away.
    let gone = data.join(".readers/4294967295-0/help/wal");
    std::fs::create_dir_all(&gone).unwrap();

    let reader: Arc<dyn VectorStore> = Arc::new(EdgeStore::new(&data));
    assert_eq!(reader.count("help", None).await.unwrap(), first.chunks);
    assert!(
        !gone.exists(),
        "the copy of a reader that has gone is removed"
    );
    let unchanged = ingest(&kb, "help", embedder(), reader.as_ref(), opts, |_, _| {})
        .await
        .unwrap();
    assert_eq!(unchanged.unchanged, first.chunks, "{unchanged:?}");
    let hits = KnowledgeBase {
        embedder: embedder(),
        store: Arc::clone(&reader),
        collection: "help".into(),
    }
    .search("How do I pair a Lumo Strip?", 3, None)
    .await
    .unwrap();
    assert_eq!(hits[0].document, "lumo-strip", "{hits:?}");

    // Writes are refused with a message that says why and what to do.
    let returns = kb.join("returns-policy.md");
    let text = std::fs::read_to_string(&returns)
        .unwrap()
        .replace("within 30 days", "within 45 days");
    std::fs::write(&returns, text).unwrap();
    let e = ingest(&kb, "help", embedder(), reader.as_ref(), opts, |_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("in use by another process") && e.contains("copy"),
        "{e}"
    );
    let e = reader.drop_collection("help").await.unwrap_err();
    assert!(matches!(e, StoreError::ReadOnly { .. }), "{e}");
    assert!(
        data.join("help").exists(),
        "a folder another holds is never deleted"
    );
    let copies = || std::fs::read_dir(data.join(".readers")).unwrap().count();
    assert_eq!(copies(), 1);
    // Another store opened on the same root sweeps only copies nobody holds: not this one.
    let third = EdgeStore::new(&data);
    assert_eq!(copies(), 1, "a live reader's copy is never swept");
    drop(third);

    // The writer is unharmed and still writes; the reader's copy goes with it.
    let changed = ingest(&kb, "help", embedder(), &writer, opts, |_, _| {})
        .await
        .unwrap();
    assert_eq!(changed.updated, 1, "{changed:?}");
    drop(reader);
    assert_eq!(copies(), 0, "a reader's copy is removed when it closes");
    // Once the writer has closed, the next process opens the folder itself and writes.
    drop(writer);
    let next = EdgeStore::new(&data);
    next.drop_collection("help").await.unwrap();
    assert!(!data.join("help").exists());
}

/// A damaged folder (nobody holds it) is deleted by a drop, so `--recreate` can rebuild it.
#[tokio::test]
async fn a_damaged_folder_can_be_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("help/wal")).unwrap();
    std::fs::write(data.join("help/garbage"), "not a shard").unwrap();
    let store = EdgeStore::new(&data);
    assert!(matches!(
        store.count("help", None).await.unwrap_err(),
        StoreError::Damaged { .. }
    ));
    store.drop_collection("help").await.unwrap();
    assert!(!data.join("help").exists());
}

#[tokio::test]
async fn ingests_incrementally_and_finds_the_right_document() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    copy_kb(&kb);
    let store = Arc::new(EdgeStore::new(&tmp.path().join("data")));
    let opts = ChunkOptions::default();
    let mut calls = 0;
    let first = ingest(&kb, "help", embedder(), store.as_ref(), opts, |_, _| {
        calls += 1
    })
    .await
    .unwrap();
    assert_eq!(first.documents, 29);
    assert!(first.chunks >= first.documents);
    assert_eq!(
        (first.added, first.updated, first.unchanged, first.removed),
        (first.chunks, 0, 0, 0)
    );
    assert!(calls >= 2, "progress is reported");
    assert_eq!(store.count("help", None).await.unwrap(), first.chunks);

    let again = ingest(&kb, "help", embedder(), store.as_ref(), opts, |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (again.added, again.updated, again.unchanged, again.removed),
        (0, 0, first.chunks, 0)
    );

    // Change one document, delete another, add junk that must be skipped.
    let returns = kb.join("returns-policy.md");
    let text = std::fs::read_to_string(&returns)
        .unwrap()
        .replace("within 30 days", "within 45 days");
    std::fs::write(&returns, text).unwrap();
    std::fs::remove_file(kb.join("gift-wrapping.md")).unwrap();
    std::fs::write(kb.join("empty.md"), "\n\n").unwrap();
    std::fs::write(kb.join("image.md"), [0x89u8, b'P', b'N', b'G', 0, 0, 1]).unwrap();
    std::fs::write(kb.join("latin1.txt"), b"caf\xe9 cr\xe8me").unwrap();
    let third = ingest(&kb, "help", embedder(), store.as_ref(), opts, |_, _| {})
        .await
        .unwrap();
    assert_eq!(third.updated, 1, "{third:?}");
    assert_eq!(third.removed, 1, "{third:?}");
    assert_eq!(third.added, 0, "{third:?}");
    let mut skipped: Vec<(String, String)> = third
        .skipped
        .iter()
        .map(|(p, why)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                why.clone(),
            )
        })
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        vec![
            ("empty.md".into(), "empty".into()),
            ("image.md".into(), "binary".into()),
            ("latin1.txt".into(), "not UTF-8 text".into())
        ]
    );
    let docs = documents(store.as_ref(), "help").await.unwrap();
    assert!(!docs.contains_key("gift-wrapping") && docs.contains_key("returns-policy"));

    let kb = KnowledgeBase {
        embedder: embedder(),
        store,
        collection: "help".into(),
    };
    let hits = kb
        .search(
            "How many days do I have to send an item back for a refund?",
            3,
            None,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].document, "returns-policy", "{hits:?}");
    assert!(
        hits[0].text.contains("45 days"),
        "the changed text is what is stored: {:?}",
        hits[0].text
    );
    let hits = kb
        .search("How do I pair a Lumo Strip?", 3, None)
        .await
        .unwrap();
    assert_eq!(hits[0].document, "lumo-strip", "{hits:?}");
    assert_eq!(hits[0].title, "Lumo Strip", "{hits:?}");

    let filtered = kb
        .search_filtered(
            "delivery costs",
            5,
            Some(Filter::must(vec![Condition::keyword(
                "document",
                "express-delivery",
            )])),
        )
        .await
        .unwrap();
    assert!(
        !filtered.is_empty()
            && filtered
                .iter()
                .all(|h| h.payload["document"] == "express-delivery")
    );
}

#[tokio::test]
async fn an_existing_collection_of_another_dimension_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = EdgeStore::new(tmp.path());
    store
        .create("small", 8, &[("document", FieldType::Keyword)])
        .await
        .unwrap();
    let e = ingest(
        &helpdesk_kb(),
        "small",
        embedder(),
        &store,
        ChunkOptions::default(),
        |_, _| {},
    )
    .await
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            ladder_retrieval::ingest::IngestError::Store(StoreError::Dimension {
                existing: 8,
                wanted: 384,
                ..
            })
        ),
        "{msg}"
    );
    assert!(
        msg.contains("8-dimensional") && msg.contains("384"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_missing_folder_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let store = EdgeStore::new(tmp.path());
    let e = ingest(
        Path::new("/nonexistent/kb"),
        "x",
        embedder(),
        &store,
        ChunkOptions::default(),
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/kb"), "{e}");
}

/// Front-matter attributes reach the store, so the core's filters work on them.
#[tokio::test]
async fn core_filters_select_documents_by_their_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(EdgeStore::new(tmp.path()));
    let seaside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/suites/seaside/kb");
    ingest(
        &seaside,
        "seaside",
        embedder(),
        store.as_ref(),
        ChunkOptions::default(),
        |_, _| {},
    )
    .await
    .unwrap();
    let suite: std::collections::HashMap<String, toml::Table> = std::fs::read_dir(&seaside)
        .unwrap()
        .map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            let front = text
                .split("+++")
                .nth(1)
                .unwrap()
                .parse::<toml::Table>()
                .unwrap();
            (
                front["id"].as_str().unwrap().to_string(),
                front["attributes"].as_table().unwrap().clone(),
            )
        })
        .collect();
    let kb = KnowledgeBase {
        embedder: embedder(),
        store,
        collection: "seaside".into(),
    };
    let filter =
        ladder_core::Filter::equals("scope", ladder_core::AttrValue::Text("abroad".into()))
            .and_equals("activities", ladder_core::AttrValue::Text("diving".into()))
            .and_range("max_days", Some(5.0), None);
    let hits = kb.search("a quiet beach", 10, Some(&filter)).await.unwrap();
    let expected: Vec<&String> = suite
        .iter()
        .filter(|(_, a)| {
            a["scope"].as_str() == Some("abroad")
                && a["activities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x.as_str() == Some("diving"))
                && a["max_days"].as_integer().unwrap() >= 5
        })
        .map(|(id, _)| id)
        .collect();
    assert!(!expected.is_empty());
    assert!(!hits.is_empty());
    for h in &hits {
        assert!(
            expected.contains(&&h.document),
            "{} passed the filter",
            h.document
        );
        assert!(!h.title.is_empty());
    }
    let unfiltered = kb.search("a quiet beach", 10, None).await.unwrap();
    assert!(unfiltered.iter().any(|h| !expected.contains(&&h.document)));
}
