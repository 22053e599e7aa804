//! The hub on SQLite survives eviction, compaction, reload and a restart of the whole
//! process state without losing anything it acknowledged.

use std::collections::HashMap;

use codesync_core::{ClientId, DocKey, Hub, Origin, SessionConfig};
use codesync_store::SqliteStorage;
use loro::{ExportMode, LoroDoc, VersionVector};

struct Author {
    doc: LoroDoc,
    sent: VersionVector,
}

fn hub_on(path: &std::path::Path) -> Hub {
    Hub::builder(SqliteStorage::open(path).expect("open"))
        .capacity(2)
        .session_config(SessionConfig::default().with_compaction(7, 64 * 1024))
        .build()
}

async fn state(hub: &Hub, key: &DocKey) -> (String, VersionVector) {
    hub.session(key)
        .await
        .expect("session")
        .read(|d| (d.get_text("content").to_string(), d.oplog_vv()))
        .await
        .expect("read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_compaction_reload_and_restart_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("codesync.sqlite3");
    let keys: Vec<DocKey> = (0..10)
        .map(|i| DocKey::parse(&format!("tenant{}", i % 3), &format!("doc{i}")).expect("key"))
        .collect();
    let mut authors: Vec<Author> = (0..keys.len())
        .map(|i| {
            let doc = LoroDoc::new();
            doc.set_peer_id(i as u64 + 1).expect("peer");
            Author {
                doc,
                sent: VersionVector::default(),
            }
        })
        .collect();
    let mut expected = HashMap::new();
    {
        let hub = hub_on(&path);
        let held = hub.join(&keys[0], b"").await.expect("a connected client");
        for round in 0..12 {
            for (i, key) in keys.iter().enumerate() {
                let author = &mut authors[i];
                let text = author.doc.get_text("content");
                text.insert(text.len_unicode(), &format!("r{round}é🙂;"))
                    .expect("insert");
                if round % 4 == 3 {
                    text.delete(0, 2).expect("delete");
                }
                let update = author
                    .doc
                    .export(ExportMode::updates(&author.sent))
                    .expect("export");
                author.sent = author.doc.oplog_vv();
                let applied = hub
                    .apply(key, &update, Origin::Client(ClientId(i as u64)))
                    .await
                    .expect("apply");
                assert!(applied.durable);
            }
            // Capacity 2, softened only by the pinned session (see `Hub`).
            assert!(hub.live_sessions() <= 2 + hub.connected_sessions());
        }
        for key in &keys {
            expected.insert(key.clone(), state(&hub, key).await);
        }
        hub.flush_all().await.expect("flush on shutdown");
        drop(held);
    }
    // A restart: a new store over the same file, a new hub.
    let hub = hub_on(&path);
    for (i, key) in keys.iter().enumerate() {
        let got = state(&hub, key).await;
        assert_eq!(&got, &expected[key], "{key}");
        assert_eq!(got.0, authors[i].doc.get_text("content").to_string());
    }
    let storage = SqliteStorage::open(&path).expect("open");
    let stored = codesync_core::Storage::load(&storage, &keys[5])
        .await
        .expect("load")
        .expect("present");
    assert!(stored.snapshot.is_some(), "compaction ran");
}
