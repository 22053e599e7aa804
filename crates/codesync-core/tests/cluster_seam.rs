//! The cluster seam's guarantees, with a bus the test drives by hand: updates are published
//! only after their durable append, a session subscribes before it reads the store, a
//! message missed while loading is caught up from the store, updates from another node are
//! merged without being stored again, and presence crosses nodes.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use codesync_core::{
    ClusterBus, ClusterInbox, DocKey, Hub, Limits, LimitsConfig, NodeId, NodeMessage, OpenPolicy,
    Storage,
};
use common::{key, shared, text_and_version, text_update, InstrumentedStorage};
use loro::awareness::EphemeralStore;
use std::sync::atomic::Ordering;

/// Records what the hub does with the bus; the test delivers messages itself.
#[derive(Debug, Default)]
struct RecordingBus {
    inbox: Mutex<Option<ClusterInbox>>,
    log: Mutex<Vec<String>>,
    published: Mutex<Vec<(DocKey, NodeMessage)>>,
    storage: Mutex<Option<Arc<InstrumentedStorage>>>,
}

impl RecordingBus {
    fn inbox(&self) -> ClusterInbox {
        self.inbox.lock().expect("lock").clone().expect("attached")
    }
    fn log(&self) -> Vec<String> {
        self.log.lock().expect("lock").clone()
    }
    fn updates(&self) -> Vec<bytes::Bytes> {
        self.published
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|(_, m)| match m {
                NodeMessage::Update(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }
    fn take_published(&self) -> Vec<(DocKey, NodeMessage)> {
        std::mem::take(&mut *self.published.lock().expect("lock"))
    }
}

#[async_trait]
impl ClusterBus for RecordingBus {
    fn attach(&self, inbox: ClusterInbox) {
        *self.inbox.lock().expect("lock") = Some(inbox);
    }
    async fn subscribe(&self, key: &DocKey) {
        let loads = self
            .storage
            .lock()
            .expect("lock")
            .as_ref()
            .map_or(0, |s| s.loads());
        self.log
            .lock()
            .expect("lock")
            .push(format!("subscribe {key} after {loads} loads"));
    }
    fn unsubscribe(&self, key: &DocKey) {
        self.log
            .lock()
            .expect("lock")
            .push(format!("unsubscribe {key}"));
    }
    fn publish(&self, key: &DocKey, message: NodeMessage) {
        self.published
            .lock()
            .expect("lock")
            .push((key.clone(), message));
    }
}

fn node(storage: Arc<InstrumentedStorage>) -> (Hub, Arc<RecordingBus>) {
    let bus = Arc::new(RecordingBus::default());
    *bus.storage.lock().expect("lock") = Some(storage.clone());
    let hub = Hub::builder_shared(storage)
        .capacity(1)
        .cluster(bus.clone())
        .build();
    (hub, bus)
}

#[tokio::test]
async fn a_session_subscribes_before_it_reads_the_store_and_unsubscribes_when_evicted() {
    let storage = shared(InstrumentedStorage::default());
    let (hub, bus) = node(storage.clone());
    let (a, b) = (key("acme", "a"), key("acme", "b"));
    hub.session(&a).await.expect("load a");
    assert_eq!(bus.log(), vec![format!("subscribe {a} after 0 loads")]);
    hub.session(&b).await.expect("load b, evicting a");
    common::evictions_settled(&hub).await;
    // Session handles die with their last reference, which the eviction dropped.
    let log = bus.log();
    assert!(log.contains(&format!("unsubscribe {a}")), "{log:?}");
    assert!(!log.contains(&format!("unsubscribe {b}")), "{log:?}");
}

#[tokio::test]
async fn an_update_is_published_only_after_its_durable_append() {
    let storage = shared(InstrumentedStorage::default());
    let (hub, bus) = node(storage.clone());
    let k = key("acme", "doc");
    storage.fail_appends.store(true, Ordering::SeqCst);
    let applied = hub
        .apply(
            &k,
            &text_update(1, "not yet durable"),
            codesync_core::Origin::Replay,
        )
        .await
        .expect("merged in memory");
    assert!(!applied.durable);
    assert!(bus.updates().is_empty(), "published before it was durable");
    storage.fail_appends.store(false, Ordering::SeqCst);
    hub.session(&k)
        .await
        .expect("session")
        .flush()
        .await
        .expect("flush");
    let published = bus.updates();
    assert_eq!(published.len(), 1);
    let copy = loro::LoroDoc::new();
    copy.import(&published[0]).expect("import");
    assert_eq!(copy.get_text("content").to_string(), "not yet durable");
}

#[tokio::test]
async fn another_nodes_update_is_merged_broadcast_and_not_stored_again() {
    let storage = shared(InstrumentedStorage::default());
    let (hub, bus) = node(storage.clone());
    let k = key("acme", "doc");
    let session = hub.session(&k).await.expect("live");
    let mut events = session.subscribe();
    // Node 2 stored this itself, then published it.
    let update = text_update(2, "from node 2");
    storage
        .append(&k, update.clone().into())
        .await
        .expect("node 2's append");
    let appends = storage.appends.load(Ordering::SeqCst);
    bus.inbox()
        .deliver(&k, NodeId(2), NodeMessage::Update(update.into()))
        .await;
    assert_eq!(text_and_version(&hub, &k).await.0, "from node 2");
    assert_eq!(
        storage.appends.load(Ordering::SeqCst),
        appends,
        "stored twice"
    );
    assert!(bus.updates().is_empty(), "echoed back onto the bus");
    let Ok(codesync_core::SessionEvent::Update(change)) = events.try_recv() else {
        panic!("local clients were not told");
    };
    assert_eq!(change.origin, codesync_core::Origin::Node(NodeId(2)));
}

#[tokio::test]
async fn an_update_with_missing_dependencies_is_caught_up_from_the_store() {
    let storage = shared(InstrumentedStorage::default());
    let (hub, bus) = node(storage.clone());
    let k = key("acme", "doc");
    hub.session(&k).await.expect("live");
    // Node 2 stored two updates; this node only hears of the second.
    let writer = loro::LoroDoc::new();
    writer.set_peer_id(2).expect("test setup");
    writer
        .get_text("content")
        .insert(0, "first ")
        .expect("test setup");
    let first = writer
        .export(loro::ExportMode::all_updates())
        .expect("test setup");
    let vv = writer.oplog_vv();
    writer
        .get_text("content")
        .insert(6, "second")
        .expect("test setup");
    let second = writer
        .export(loro::ExportMode::updates(&vv))
        .expect("test setup");
    storage.append(&k, first.into()).await.expect("test setup");
    storage
        .append(&k, second.clone().into())
        .await
        .expect("test setup");
    bus.inbox()
        .deliver(&k, NodeId(2), NodeMessage::Update(second.into()))
        .await;
    assert_eq!(text_and_version(&hub, &k).await.0, "first second");
}

#[tokio::test]
async fn an_update_stored_elsewhere_is_merged_even_over_this_nodes_cap() {
    let storage = shared(InstrumentedStorage::default());
    let bus = Arc::new(RecordingBus::default());
    let tiny = LimitsConfig::default().with_default(Limits::default().with_max_document_bytes(4));
    let hub = Hub::builder_shared(storage.clone())
        .policy(OpenPolicy::new(tiny))
        .cluster(bus.clone())
        .build();
    let k = key("acme", "doc");
    hub.session(&k).await.expect("live");
    let update = text_update(2, "longer than four bytes");
    storage
        .append(&k, update.clone().into())
        .await
        .expect("test setup");
    bus.inbox()
        .deliver(&k, NodeId(2), NodeMessage::Update(update.into()))
        .await;
    assert_eq!(text_and_version(&hub, &k).await.0, "longer than four bytes");
}

/// Storage whose loads take 200 ms after reading: an append can land after the read.
#[derive(Debug, Default)]
struct SlowAfterRead {
    inner: codesync_core::MemoryStorage,
}

#[async_trait]
impl Storage for SlowAfterRead {
    async fn load(&self, key: &DocKey) -> codesync_core::Result<Option<codesync_core::StoredDoc>> {
        let read = self.inner.load(key).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        read
    }
    async fn append(&self, key: &DocKey, update: bytes::Bytes) -> codesync_core::Result<u64> {
        self.inner.append(key, update).await
    }
    async fn compact(
        &self,
        key: &DocKey,
        compaction: codesync_core::Compaction,
    ) -> codesync_core::Result<codesync_core::Compacted> {
        self.inner.compact(key, compaction).await
    }
    async fn delete(&self, key: &DocKey) -> codesync_core::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        tenant: &codesync_core::TenantId,
    ) -> codesync_core::Result<Vec<codesync_core::SessionId>> {
        self.inner.list(tenant).await
    }
}

#[tokio::test]
async fn a_message_that_arrives_while_the_session_loads_is_caught_up() {
    let storage = Arc::new(SlowAfterRead::default());
    let bus = Arc::new(RecordingBus::default());
    let hub = Hub::builder_shared(storage.clone())
        .cluster(bus.clone())
        .build();
    let k = key("acme", "doc");
    let loading = {
        let hub = hub.clone();
        let k = k.clone();
        tokio::spawn(async move { hub.session(&k).await.map(|_| ()) })
    };
    // The load has read the (empty) store by now; the update is stored after that.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let update = text_update(2, "stored during the load");
    storage
        .append(&k, update.clone().into())
        .await
        .expect("test setup");
    bus.inbox()
        .deliver(&k, NodeId(2), NodeMessage::Update(update.into()))
        .await;
    loading.await.expect("test setup").expect("loaded");
    let session = hub.session(&k).await.expect("live");
    let text = session
        .read(|d| d.get_text("content").to_string())
        .await
        .expect("read");
    assert_eq!(text, "stored during the load");
}

#[tokio::test]
async fn presence_crosses_nodes_and_leaves_with_its_client() {
    let storage = shared(InstrumentedStorage::default());
    let (hub, bus) = node(storage);
    let k = key("acme", "doc");
    let alice = hub.join(&k, b"").await.expect("join");
    let cursor = EphemeralStore::new(30_000);
    cursor.set("alice", "line 1");
    alice
        .apply_presence(&cursor.encode_all())
        .expect("presence");
    let published = bus.take_published();
    let presence = published
        .iter()
        .find_map(|(_, m)| match m {
            NodeMessage::Presence(b) => Some(b.clone()),
            _ => None,
        })
        .expect("alice's presence published");

    // A second node receives it; its clients see alice.
    let storage2 = shared(InstrumentedStorage::default());
    let (hub2, bus2) = node(storage2);
    let session2 = hub2.session(&k).await.expect("live on node 2");
    assert!(
        bus2.take_published()
            .iter()
            .any(|(_, m)| *m == NodeMessage::PresenceRequest),
        "a node opening a session asks for the others' presence"
    );
    bus2.inbox()
        .deliver(&k, NodeId(1), NodeMessage::Presence(presence))
        .await;
    assert_eq!(session2.presence_keys(), vec!["alice".to_owned()]);

    // Node 1 answers a presence request with its own clients' entries only.
    bus.inbox()
        .deliver(&k, NodeId(2), NodeMessage::PresenceRequest)
        .await;
    assert!(bus
        .take_published()
        .iter()
        .any(|(_, m)| matches!(m, NodeMessage::Presence(_))));

    drop(alice);
    let gone = bus
        .take_published()
        .into_iter()
        .find_map(|(_, m)| match m {
            NodeMessage::PresenceGone(keys) => Some(keys),
            _ => None,
        })
        .expect("alice's departure published");
    bus2.inbox()
        .deliver(&k, NodeId(1), NodeMessage::PresenceGone(gone))
        .await;
    assert!(session2.presence_keys().is_empty());
}
