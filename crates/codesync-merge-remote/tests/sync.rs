//! `EngineSync` against a stand-in engine: forwarding, fallback and replay, pull on load,
//! and reconciling a store left by a previous process.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use codesync_core::loro::{ExportMode, LoroDoc};
use codesync_core::{DocKey, Hub, MemoryStorage, OpenPolicy, Origin, Storage, TenantId};
use codesync_merge_remote::{EngineSync, SyncConfig};
use common::FakeEngine;

fn config() -> SyncConfig {
    SyncConfig::default().with_backoff(Duration::from_millis(10), Duration::from_millis(50))
}

fn gateway(engine: &FakeEngine, storage: MemoryStorage) -> (Hub, EngineSync) {
    let sync = EngineSync::new(engine.remote(), config());
    let hub = Hub::builder(storage)
        .policy(sync.policy(OpenPolicy::default()))
        .build();
    sync.start(hub.clone()).expect("start");
    (hub, sync)
}

async fn local_text(hub: &Hub, key: &DocKey) -> String {
    hub.session(key)
        .await
        .expect("session")
        .read(|d| d.get_text("content").to_string())
        .await
        .expect("read")
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client typing `parts` one update at a time through `hub`.
async fn type_through(hub: &Hub, key: &DocKey, peer: u64, parts: &[&str]) {
    let connection = hub.join(key, b"").await.expect("join");
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer");
    let text = doc.get_text("content");
    for part in parts {
        let before = doc.oplog_vv();
        text.insert(text.len_unicode(), part).expect("insert");
        doc.commit();
        let update = doc.export(ExportMode::updates(&before)).expect("export");
        let applied = connection.apply(&update).await.expect("apply");
        assert!(applied.durable, "acknowledged once durable locally");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_updates_are_forwarded() {
    let engine = FakeEngine::start().await;
    let (hub, sync) = gateway(&engine, MemoryStorage::new());
    let key = DocKey::parse("default", "doc").expect("key");
    type_through(&hub, &key, 1, &["a", "b", "c", "d"]).await;
    assert!(sync.settled(Duration::from_secs(10)).await);
    assert_eq!(engine.text("doc").await, "abcd");
    assert!(sync.engine_up());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_falls_back_and_replays_exactly_what_was_missed() {
    let engine = FakeEngine::start().await;
    let (hub, sync) = gateway(&engine, MemoryStorage::new());
    let key = DocKey::parse("default", "doc").expect("key");
    type_through(&hub, &key, 1, &["before "]).await;
    assert!(sync.settled(Duration::from_secs(10)).await);

    engine.set_down(true);
    type_through(&hub, &key, 2, &["during ", "the ", "outage "]).await;
    eventually("noticing the outage", async || !sync.engine_up()).await;
    assert_eq!(engine.text("doc").await, "before ");
    let merges_before = engine.merges.load(Ordering::SeqCst);

    engine.set_down(false);
    let expected = local_text(&hub, &key).await;
    eventually("the replay", async || engine.text("doc").await == expected).await;
    assert!(sync.engine_up());
    assert!(
        engine.merges.load(Ordering::SeqCst) - merges_before <= 2,
        "the replay sends what was missed in one request, not update by update"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_session_pulls_what_the_engine_has() {
    let engine = FakeEngine::start().await;
    let key = DocKey::parse("default", "doc").expect("key");
    let elsewhere = LoroDoc::new();
    elsewhere.set_peer_id(9).expect("peer");
    elsewhere
        .get_text("content")
        .insert(0, "from another gateway")
        .expect("insert");
    let update = elsewhere.export(ExportMode::all_updates()).expect("export");
    engine
        .hub
        .apply(&key, &update, Origin::Replay)
        .await
        .expect("seed the engine");

    let (hub, _sync) = gateway(&engine, MemoryStorage::new());
    hub.session(&key).await.expect("load");
    eventually("the pull", async || {
        local_text(&hub, &key).await == "from another gateway"
    })
    .await;
    // Pulled ops are stored locally, so the session reloads with them.
    let stored = hub
        .storage()
        .load(&key)
        .await
        .expect("load")
        .expect("stored");
    assert!(!stored.updates.is_empty() || stored.snapshot.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_gateway_replays_what_its_store_holds() {
    let engine = FakeEngine::start().await;
    let key = DocKey::parse("default", "doc").expect("key");
    // A previous process stored this while the engine was away, then died.
    let storage = MemoryStorage::new();
    let doc = LoroDoc::new();
    doc.get_text("content")
        .insert(0, "stored while the engine was down")
        .expect("insert");
    storage
        .append(
            &key,
            doc.export(ExportMode::all_updates())
                .expect("export")
                .into(),
        )
        .await
        .expect("append");

    let (hub, sync) = gateway(&engine, storage);
    let marked = sync
        .reconcile_stored(&hub, &TenantId::default_tenant())
        .await
        .expect("list");
    assert_eq!(marked, 1);
    eventually("the replay", async || {
        engine.text("doc").await == "stored while the engine was down"
    })
    .await;
}
