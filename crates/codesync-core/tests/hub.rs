//! The LRU hub: eviction never loses data, pinned sessions survive pressure, tenants cannot
//! push each other out, and a cold session is loaded once however many tasks ask.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use codesync_core::{ClientId, DocKey, Hub, Origin};
use common::{key, text_and_version, text_update, InstrumentedStorage};
use loro::{ExportMode, LoroDoc, VersionVector};
use proptest::prelude::*;

const CLIENT: Origin = Origin::Client(ClientId(1));

/// One author per session, producing incremental updates.
struct Author {
    doc: LoroDoc,
    sent: VersionVector,
}

impl Author {
    fn new(peer: u64) -> Self {
        let doc = LoroDoc::new();
        doc.set_peer_id(peer).expect("peer id");
        Self {
            doc,
            sent: VersionVector::default(),
        }
    }

    fn type_text(&mut self, text: &str) -> Vec<u8> {
        let t = self.doc.get_text("content");
        t.insert(t.len_unicode() / 2, text).expect("insert");
        let update = self
            .doc
            .export(ExportMode::updates(&self.sent))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        update
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sessions_reloaded_after_eviction_keep_content_and_version(
        capacity in 1usize..=3,
        session_count in 4usize..=10,
        edits in prop::collection::vec((0usize..10, "[a-zé🙂]{1,6}"), 1..60),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let storage = Arc::new(InstrumentedStorage::default());
            let hub = Hub::builder_shared(storage.clone()).capacity(capacity).build();
            let keys: Vec<DocKey> = (0..session_count)
                .map(|i| key(&format!("tenant{}", i % 3), &format!("doc{i}")))
                .collect();
            let mut authors: Vec<Author> = (0..session_count).map(|i| Author::new(i as u64 + 1)).collect();
            let mut expected = vec![None; session_count];
            for (which, text) in edits {
                let i = which % session_count;
                let update = authors[i].type_text(&text);
                hub.apply(&keys[i], &update, CLIENT).await.expect("apply");
                expected[i] = Some(text_and_version(&hub, &keys[i]).await);
                prop_assert!(hub.live_sessions() <= capacity);
            }
            for (i, want) in expected.into_iter().enumerate() {
                if let Some(want) = want {
                    prop_assert_eq!(text_and_version(&hub, &keys[i]).await, want);
                    prop_assert_eq!(
                        authors[i].doc.get_text("content").to_string(),
                        text_and_version(&hub, &keys[i]).await.0
                    );
                }
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_connected_session_survives_lru_pressure_from_another_tenant() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).capacity(3).build();
    let mine = key("alice-corp", "design-doc");
    let connection = hub.join(&mine, b"token").await.expect("join");
    connection
        .apply(&text_update(1, "typing..."))
        .await
        .expect("edit");

    for i in 0..50 {
        let theirs = key("noisy-corp", &format!("doc{i}"));
        hub.apply(&theirs, &text_update(2, "spam"), CLIENT)
            .await
            .expect("apply");
        assert!(hub.live_sessions() <= 3);
    }

    let now = hub.session(&mine).await.expect("session");
    assert!(
        Arc::ptr_eq(&now, connection.session()),
        "never evicted or reloaded"
    );
    connection
        .apply(&text_update(3, "still "))
        .await
        .expect("edit after pressure");
    assert_eq!(hub.connected_sessions(), 1);

    // Once the client leaves, the session becomes an ordinary idle one.
    drop((now, connection));
    assert_eq!(hub.connected_sessions(), 0);
    hub.session(&key("noisy-corp", "again"))
        .await
        .expect("session");
    assert!(hub.live_sessions() <= 3);
    let (text, _) = text_and_version(&hub, &mine).await;
    assert!(
        text.contains("typing...") && text.contains("still "),
        "{text}"
    );
}

#[tokio::test]
async fn one_tenant_cannot_push_out_the_idle_sessions_of_others() {
    let hub = Hub::builder(InstrumentedStorage::default())
        .capacity(10)
        .build();
    let quiet: Vec<DocKey> = (0..3).map(|i| key("quiet", &format!("doc{i}"))).collect();
    let mut held = vec![];
    for k in &quiet {
        held.push(hub.session(k).await.expect("session"));
    }
    for i in 0..100 {
        hub.session(&key("flood", &format!("doc{i}")))
            .await
            .expect("session");
    }
    for (k, before) in quiet.iter().zip(&held) {
        let now = hub.session(k).await.expect("session");
        assert!(
            Arc::ptr_eq(&now, before),
            "{k} was evicted by another tenant"
        );
    }
    assert_eq!(hub.live_sessions_of(quiet[0].tenant()), 3);
    assert!(hub.live_sessions_of(&codesync_core::TenantId::new("flood").expect("id")) <= 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_session_is_loaded_once_when_many_tasks_ask_at_once() {
    let storage = Arc::new(InstrumentedStorage::default());
    storage.load_delay_ms.store(50, Ordering::SeqCst);
    let hub = Hub::builder_shared(storage.clone()).build();
    let k = key("acme", "cold");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let hub = hub.clone();
            let k = k.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    hub.session(&k).await.expect("session")
                } else {
                    hub.join(&k, b"").await.expect("join").session().clone()
                }
            })
        })
        .collect();
    let mut sessions = vec![];
    for t in tasks {
        sessions.push(t.await.expect("join"));
    }
    assert_eq!(storage.loads(), 1, "loaded exactly once");
    assert!(sessions.iter().all(|s| Arc::ptr_eq(s, &sessions[0])));
    assert_eq!(hub.live_sessions(), 1);
    assert_eq!(hub.connected_sessions(), 0, "every connection was dropped");
}

#[tokio::test]
async fn eviction_flushes_what_storage_refused_earlier() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).capacity(1).build();
    let k = key("acme", "fragile");
    storage.fail_appends.store(true, Ordering::SeqCst);
    let applied = hub
        .apply(&k, &text_update(1, "not yet durable"), CLIENT)
        .await
        .expect("merged");
    assert!(
        !applied.durable,
        "storage failed, so the update must not be acknowledged"
    );

    // Still failing: evicting it cannot flush, so it stays in memory and is handed back.
    hub.session(&key("acme", "other")).await.expect("session");
    assert_eq!(text_and_version(&hub, &k).await.0, "not yet durable");

    // Storage recovers: the next eviction flushes it, and a reload finds it.
    storage.fail_appends.store(false, Ordering::SeqCst);
    hub.session(&key("acme", "other"))
        .await
        .expect("evicts the fragile session");
    common::evictions_settled(&hub).await;
    let loads = storage.loads();
    assert_eq!(text_and_version(&hub, &k).await.0, "not yet durable");
    assert_eq!(
        storage.loads(),
        loads + 1,
        "it really came back from storage"
    );
}

#[tokio::test]
async fn flush_all_stores_everything_before_shutdown() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).build();
    storage.fail_appends.store(true, Ordering::SeqCst);
    let keys: Vec<DocKey> = (0..3).map(|i| key("acme", &format!("d{i}"))).collect();
    for (i, k) in keys.iter().enumerate() {
        hub.apply(k, &text_update(i as u64 + 1, "pending"), CLIENT)
            .await
            .expect("merged");
    }
    assert!(hub.flush_all().await.is_err(), "storage still down");
    storage.fail_appends.store(false, Ordering::SeqCst);
    hub.flush_all().await.expect("flushed");
    let fresh = Hub::builder_shared(storage.clone()).build();
    for k in &keys {
        assert_eq!(text_and_version(&fresh, k).await.0, "pending");
    }
}
