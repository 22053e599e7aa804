//! Regressions: snapshots from peers, pending changes, cancelled calls, presence abuse,
//! several writers sharing a store, and hub bookkeeping under cancellation.

mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{
    ClientId, Compacted, Compaction, DocKey, Error, Hub, MemoryStorage, NodeId, Origin, Result,
    SessionConfig, SessionEvent, SessionId, Storage, StoredDoc, TenantId,
};
use common::{evictions_settled, key, text_and_version, text_update, InstrumentedStorage};
use loro::awareness::EphemeralStore;
use loro::{ExportMode, LoroDoc};

const CLIENT: Origin = Origin::Client(ClientId(1));

/// Appends succeed, fail, or never finish, as the test says.
#[derive(Debug, Default)]
struct ModalStorage {
    inner: MemoryStorage,
    /// 0 = ok, 1 = fail, 2 = hang.
    mode: AtomicU8,
}

#[async_trait]
impl Storage for ModalStorage {
    async fn load(&self, k: &DocKey) -> Result<Option<StoredDoc>> {
        self.inner.load(k).await
    }
    async fn append(&self, k: &DocKey, u: Bytes) -> Result<u64> {
        match self.mode.load(Ordering::SeqCst) {
            1 => Err(Error::storage("modal", "down")),
            2 => std::future::pending().await,
            _ => self.inner.append(k, u).await,
        }
    }
    async fn compact(&self, k: &DocKey, c: Compaction) -> Result<Compacted> {
        self.inner.compact(k, c).await
    }
    async fn delete(&self, k: &DocKey) -> Result<()> {
        self.inner.delete(k).await
    }
    async fn list(&self, t: &TenantId) -> Result<Vec<SessionId>> {
        self.inner.list(t).await
    }
}

#[tokio::test]
async fn snapshots_from_peers_are_refused_even_when_small() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let k = key("acme", "doc");
    let author = LoroDoc::new();
    author.set_peer_id(7).expect("peer");
    // A megabyte of content compresses to a few kilobytes in a snapshot.
    author
        .get_text("content")
        .insert(0, &"a".repeat(1_000_000))
        .expect("insert");
    let snapshot = author.export(ExportMode::Snapshot).expect("snapshot");
    assert!(snapshot.len() < 20_000);
    let err = hub.apply(&k, &snapshot, CLIENT).await.expect_err("refused");
    assert!(matches!(err, Error::InvalidUpdate { .. }), "{err:?}");
    let shallow = author
        .export(ExportMode::shallow_snapshot(&author.oplog_frontiers()))
        .expect("shallow");
    let err = hub.apply(&k, &shallow, CLIENT).await.expect_err("refused");
    assert!(matches!(err, Error::InvalidUpdate { .. }), "{err:?}");
    assert_eq!(text_and_version(&hub, &k).await.0, "");
}

#[tokio::test]
async fn a_refused_update_with_missing_dependencies_never_surfaces_later() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let k = key("acme", "doc");
    let author = LoroDoc::new();
    author.set_peer_id(2).expect("peer");
    author.get_text("content").insert(0, "A").expect("insert");
    author.commit();
    let head = author.export(ExportMode::all_updates()).expect("export");
    let v1 = author.oplog_vv();
    author
        .get_text("content")
        .insert(0, "REFUSED")
        .expect("insert");
    let tail = author.export(ExportMode::updates(&v1)).expect("export");
    let err = hub.apply(&k, &tail, CLIENT).await.expect_err("gap");
    assert!(err.needs_resync());
    hub.apply(&k, &head, CLIENT).await.expect("head");
    assert_eq!(text_and_version(&hub, &k).await.0, "A");
}

#[tokio::test]
async fn an_apply_cancelled_while_storing_is_still_broadcast() {
    let storage = Arc::new(ModalStorage::default());
    let hub = Hub::builder_shared(storage.clone()).build();
    let k = key("acme", "doc");
    let alice = hub.join(&k, b"").await.expect("join");
    let bob = hub.join(&k, b"").await.expect("join");
    let mut bob_events = bob.session().subscribe();
    storage.mode.store(2, Ordering::SeqCst);
    let cancelled = tokio::time::timeout(
        Duration::from_millis(20),
        alice.apply(&text_update(5, "hello")),
    )
    .await;
    assert!(cancelled.is_err(), "the apply was cancelled mid-store");
    let event = tokio::time::timeout(Duration::from_millis(200), bob_events.recv())
        .await
        .expect("bob received alice's edit")
        .expect("event");
    assert!(matches!(event, SessionEvent::Update(c) if c.origin.is_client(alice.id())));
    // Once storage works again, the next flush stores it.
    storage.mode.store(0, Ordering::SeqCst);
    alice.session().flush().await.expect("flush");
    let fresh = Hub::builder_shared(storage.clone()).build();
    assert_eq!(text_and_version(&fresh, &k).await.0, "hello");
}

#[tokio::test]
async fn panic_recovery_keeps_ops_that_were_merged_but_not_yet_stored() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).build();
    let k = key("acme", "doc");
    hub.apply(&k, &text_update(10, "a"), CLIENT)
        .await
        .expect("seed");
    storage.fail_appends.store(true, Ordering::SeqCst);
    let pending = hub
        .apply(&k, &text_update(20, "PENDING"), CLIENT)
        .await
        .expect("merged");
    assert!(!pending.durable && pending.update.is_some());
    let crasher = std::fs::read(format!(
        "{}/tests/data/import-panic-then-abort.bin",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("crasher");
    let err = hub.apply(&k, &crasher, CLIENT).await.expect_err("refused");
    assert!(matches!(err, Error::ImportPanicked { .. }), "{err:?}");
    storage.fail_appends.store(false, Ordering::SeqCst);
    hub.session(&k)
        .await
        .expect("session")
        .flush()
        .await
        .expect("flush");
    let fresh = Hub::builder_shared(storage.clone()).build();
    assert!(text_and_version(&fresh, &k).await.0.contains("PENDING"));
}

#[tokio::test]
async fn compaction_never_drops_an_update_another_writer_stored() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let node1 = Hub::builder_shared(storage.clone()).build();
    let node2 = Hub::builder_shared(storage.clone()).build();
    let k = key("acme", "doc");
    node1
        .session(&k)
        .await
        .expect("loaded before node 2 writes");
    let from2 = text_update(2, "from node 2 ");
    assert!(
        node2
            .apply(&k, &from2, CLIENT)
            .await
            .expect("apply")
            .durable
    );
    node1
        .apply(&k, &text_update(1, "from node 1 "), CLIENT)
        .await
        .expect("apply");
    node1
        .session(&k)
        .await
        .expect("session")
        .compact()
        .await
        .expect("compact");
    node1
        .apply(&k, &from2, Origin::Node(NodeId(2)))
        .await
        .expect("late relay");
    let fresh = Hub::builder_shared(storage).build();
    let text = text_and_version(&fresh, &k).await.0;
    assert!(
        text.contains("node 2") && text.contains("node 1"),
        "{text:?}"
    );
}

/// A presence message whose timestamp is replaced by `ts` (postcard, zigzag varint last).
fn presence_with_timestamp(key: &str, ts: i64) -> Vec<u8> {
    let store = EphemeralStore::new(60_000);
    store.set(key, "cursor");
    let mut bytes = store.encode_all();
    bytes.pop();
    while bytes.last().is_some_and(|b| b & 0x80 != 0) {
        bytes.pop();
    }
    let mut zigzag = ((ts << 1) ^ (ts >> 63)) as u64;
    loop {
        let byte = (zigzag & 0x7f) as u8;
        zigzag >>= 7;
        if zigzag == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes
}

#[tokio::test]
async fn presence_timestamps_from_clients_are_not_trusted() {
    let hub = Hub::builder(MemoryStorage::new())
        .session_config(SessionConfig::default().with_presence_timeout(Duration::from_millis(30)))
        .build();
    let k = key("acme", "doc");
    let alice = hub.join(&k, b"").await.expect("join");
    alice
        .apply_presence(&presence_with_timestamp("alice", i64::MAX / 2))
        .expect("far-future timestamp is re-stamped");
    assert_eq!(alice.session().presence_keys(), ["alice"]);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(
        alice.session().presence_keys().is_empty(),
        "expired on the server's clock"
    );
    // An overflowing timestamp is refused or re-stamped, and presence keeps working.
    let _ = alice.apply_presence(&presence_with_timestamp("x", i64::MIN));
    let _ = alice.session().presence();
    let store = EphemeralStore::new(30_000);
    store.set("alice", "cursor at 1");
    alice
        .apply_presence(&store.encode_all())
        .expect("normal presence");
    assert!(alice
        .session()
        .presence_keys()
        .contains(&"alice".to_owned()));
}

#[tokio::test]
async fn presence_keys_belong_to_their_client_and_leave_with_it() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let k = key("acme", "doc");
    let alice = hub.join(&k, b"").await.expect("join");
    let mallory = hub.join(&k, b"").await.expect("join");
    let mine = EphemeralStore::new(30_000);
    mine.set("alice", "line 3");
    alice.apply_presence(&mine.encode_all()).expect("set");
    let forged = EphemeralStore::new(30_000);
    forged.set("alice", "hijacked");
    let err = mallory
        .apply_presence(&forged.encode_all())
        .expect_err("refused");
    assert!(matches!(err, Error::PresenceKeyTaken { .. }), "{err:?}");
    let many = EphemeralStore::new(30_000);
    for i in 0..20 {
        many.set(&format!("k{i}"), i64::from(i));
    }
    let err = mallory
        .apply_presence(&many.encode_all())
        .expect_err("too many");
    assert!(matches!(err, Error::TooManyPresenceKeys { .. }), "{err:?}");

    // An observer that learned alice's cursor from the server, as joiners do.
    let observer = EphemeralStore::new(30_000);
    observer
        .apply(&mallory.session().presence())
        .expect("decode");
    assert!(observer.get("alice").is_some());
    let mut events = mallory.session().subscribe();
    drop(alice);
    assert!(
        mallory.session().presence_keys().is_empty(),
        "alice's cursor left with her"
    );
    let Ok(SessionEvent::Presence { bytes, .. }) = events.recv().await else {
        panic!("a removal was broadcast");
    };
    observer.apply(&bytes).expect("decode");
    assert!(
        observer.get("alice").is_none(),
        "the broadcast deletes alice's key"
    );
}

#[tokio::test]
async fn a_cancelled_join_leaves_no_pin_behind() {
    let storage = Arc::new(ModalStorage::default());
    let hub = Hub::builder_shared(storage.clone()).capacity(1).build();
    storage.mode.store(1, Ordering::SeqCst);
    hub.apply(&key("t", "a"), &text_update(1, "unsaved"), CLIENT)
        .await
        .expect("merged");
    storage.mode.store(2, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_millis(20), hub.join(&key("t", "b"), b"")).await;
    storage.mode.store(0, Ordering::SeqCst);
    assert_eq!(hub.connected_sessions(), 0);
    evictions_settled(&hub).await;
    let fresh = Hub::builder_shared(storage.clone()).build();
    assert_eq!(text_and_version(&fresh, &key("t", "a")).await.0, "unsaved");
}

#[tokio::test]
async fn cancelled_loads_do_not_hold_capacity() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).capacity(2).build();
    storage.load_delay_ms.store(1000, Ordering::SeqCst);
    for i in 0..5 {
        let k = key("a", &format!("d{i}"));
        let _ = tokio::time::timeout(Duration::from_millis(5), hub.session(&k)).await;
    }
    storage.load_delay_ms.store(0, Ordering::SeqCst);
    for i in 0..5 {
        hub.session(&key("b", &format!("d{i}")))
            .await
            .expect("session");
    }
    assert!(hub.live_sessions() <= 2, "live = {}", hub.live_sessions());
}

#[tokio::test]
async fn loads_in_flight_for_one_tenant_do_not_push_out_another() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).capacity(4).build();
    for i in 0..2 {
        hub.session(&key("b", &format!("d{i}")))
            .await
            .expect("session");
    }
    storage.load_delay_ms.store(50, Ordering::SeqCst);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let hub = hub.clone();
            tokio::spawn(async move { hub.session(&key("a", &format!("d{i}"))).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("load");
    }
    assert_eq!(hub.live_sessions_of(&TenantId::new("b").expect("id")), 2);
}

#[tokio::test]
async fn hub_session_never_hands_out_a_session_it_just_evicted() {
    let hub = Hub::builder(MemoryStorage::new()).capacity(1).build();
    let _pinned = hub.join(&key("a", "pinned"), b"").await.expect("join");
    hub.session(&key("a", "idle")).await.expect("session");
    let again = hub.session(&key("a", "idle")).await.expect("session");
    again.version().await.expect("usable, not retired");
}
