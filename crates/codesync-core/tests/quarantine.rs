//! The crash-loop guard without any untrusted-input guard: a stored document that fails to
//! load is quarantined after a bounded number of tries, kept as it is, and everyone else
//! is served.

use bytes::Bytes;
use codesync_core::loro::{ExportMode, LoroDoc};
use codesync_core::{ClientId, DocKey, Error, Hub, MemoryStorage, Origin, Storage};
use std::sync::Arc;

fn key(session: &str) -> DocKey {
    DocKey::parse("quarantine", session).expect("key")
}

fn typed(text: &str) -> Vec<u8> {
    let doc = LoroDoc::new();
    doc.get_text("content").insert(0, text).expect("insert");
    doc.export(ExportMode::all_updates()).expect("export")
}

#[tokio::test]
async fn a_record_that_keeps_failing_to_load_is_quarantined_and_kept() {
    let storage = Arc::new(MemoryStorage::new());
    let broken = key("broken");
    storage
        .append(
            &broken,
            Bytes::from_static(b"loro, but not really an update"),
        )
        .await
        .expect("append");
    let hub = Hub::builder_shared(storage.clone())
        .max_load_attempts(2)
        .build();
    for attempt in 1..=2 {
        let loaded = hub.session(&broken).await;
        assert!(
            matches!(loaded, Err(Error::CorruptDocument { .. })),
            "attempt {attempt}: {loaded:?}"
        );
    }
    for _ in 0..3 {
        let refused = hub.join(&broken, b"").await;
        assert!(
            matches!(refused, Err(Error::Quarantined { attempts: 2, .. })),
            "{refused:?}"
        );
    }
    assert_eq!(hub.quarantined_sessions(), vec![broken.clone()]);
    let stored = storage.load(&broken).await.expect("load").expect("kept");
    assert_eq!(stored.updates.len(), 1, "never deleted nor rewritten");

    let fine = key("fine");
    hub.apply(&fine, &typed("ok"), Origin::Client(ClientId(1)))
        .await
        .expect("other sessions are served");

    // Repaired by the operator, released, and loaded again.
    storage.delete(&broken).await.expect("delete");
    storage
        .append(&broken, Bytes::from(typed("repaired")))
        .await
        .expect("append");
    assert!(hub.release_quarantine(&broken));
    assert!(!hub.release_quarantine(&broken), "released once");
    let session = hub.session(&broken).await.expect("loads again");
    let text = session
        .read(|d| d.get_text("content").to_string())
        .await
        .expect("read");
    assert_eq!(text, "repaired");
}

#[tokio::test]
async fn a_load_that_succeeds_resets_the_count() {
    let storage = Arc::new(MemoryStorage::new());
    let flaky = key("flaky");
    storage
        .append(&flaky, Bytes::from_static(b"garbage"))
        .await
        .expect("append");
    let hub = Hub::builder_shared(storage.clone())
        .max_load_attempts(2)
        .build();
    assert!(hub.session(&flaky).await.is_err());
    storage.delete(&flaky).await.expect("delete");
    hub.session(&flaky).await.expect("an empty document loads");
    assert!(hub.quarantined_sessions().is_empty());
}
