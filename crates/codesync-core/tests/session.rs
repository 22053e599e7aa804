//! Session behaviour: access, presence, compaction, origins, concurrent use.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use codesync_core::{
    Access, ClientId, DocKey, Error, Hub, Limits, NodeId, Origin, SessionConfig, SessionEvent,
    SessionPolicy, Storage, TenantId,
};
use common::{key, text_and_version, text_update, InstrumentedStorage};
use loro::awareness::EphemeralStore;

/// Lets `writer` write, `reader` read, and nobody else in.
#[derive(Debug)]
struct TokenPolicy;

#[async_trait]
impl SessionPolicy for TokenPolicy {
    async fn authorize(&self, key: &DocKey, credential: &[u8]) -> codesync_core::Result<Access> {
        match credential {
            b"writer" => Ok(Access::ReadWrite),
            b"reader" => Ok(Access::Read),
            _ => Err(Error::permission_denied(key, "unknown token")),
        }
    }
    fn limits(&self, _tenant: &TenantId) -> Limits {
        Limits::default().with_max_presence_bytes(256)
    }
}

#[tokio::test]
async fn the_policy_decides_who_joins_and_who_writes() {
    let hub = Hub::builder(InstrumentedStorage::default())
        .policy(TokenPolicy)
        .build();
    let k = key("acme", "doc");
    let stranger = hub.join(&k, b"guess").await;
    assert!(
        matches!(stranger, Err(Error::PermissionDenied { .. })),
        "{stranger:?}"
    );

    let writer = hub.join(&k, b"writer").await.expect("writer joins");
    let reader = hub.join(&k, b"reader").await.expect("reader joins");
    assert_eq!(reader.access(), Access::Read);
    writer
        .apply(&text_update(1, "hello"))
        .await
        .expect("writer writes");
    let before = text_and_version(&hub, &k).await;
    let refused = reader.apply(&text_update(2, "vandalism")).await;
    assert!(
        matches!(refused, Err(Error::PermissionDenied { .. })),
        "{refused:?}"
    );
    assert_eq!(text_and_version(&hub, &k).await, before);
}

#[tokio::test]
async fn presence_reaches_others_and_late_joiners_and_bad_presence_is_refused() {
    let hub = Hub::builder(InstrumentedStorage::default())
        .policy(TokenPolicy)
        .build();
    let k = key("acme", "doc");
    let alice = hub.join(&k, b"writer").await.expect("join");
    let bob = hub.join(&k, b"reader").await.expect("join");
    let mut bob_events = bob.session().subscribe();

    let store = EphemeralStore::new(30_000);
    store.set("alice", "cursor at 3");
    alice.apply_presence(&store.encode_all()).expect("presence");
    match bob_events.recv().await.expect("event") {
        SessionEvent::Presence { origin, .. } => assert!(origin.is_client(alice.id())),
        other => panic!("unexpected {other:?}"),
    }

    let late = EphemeralStore::new(30_000);
    late.apply(&alice.session().presence()).expect("decode");
    assert_eq!(late.get("alice"), Some("cursor at 3".into()));
    assert_eq!(alice.session().presence_keys(), vec!["alice".to_owned()]);

    let garbage = alice.apply_presence(&[0xff; 40]);
    assert!(
        matches!(garbage, Err(Error::InvalidPresence { .. })),
        "{garbage:?}"
    );
    let big = EphemeralStore::new(30_000);
    big.set("alice", "x".repeat(1000));
    let too_big = alice.apply_presence(&big.encode_all());
    assert!(
        matches!(too_big, Err(Error::PresenceTooLarge { limit: 256, .. })),
        "{too_big:?}"
    );
    assert_eq!(alice.session().presence_keys(), vec!["alice".to_owned()]);
}

#[tokio::test]
async fn compaction_replaces_history_with_an_equivalent_snapshot() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone())
        .session_config(SessionConfig::default().with_compaction(5, usize::MAX))
        .build();
    let k = key("acme", "doc");
    let author = loro::LoroDoc::new();
    author.set_peer_id(42).expect("peer");
    let mut sent = loro::VersionVector::default();
    for i in 0..12 {
        author
            .get_text("content")
            .insert(0, &format!("{i};"))
            .expect("insert");
        let update = author
            .export(loro::ExportMode::updates(&sent))
            .expect("export");
        sent = author.oplog_vv();
        hub.apply(&k, &update, Origin::Client(ClientId(1)))
            .await
            .expect("apply");
    }
    let stored = storage.load(&k).await.expect("load").expect("stored");
    assert!(stored.snapshot.is_some(), "compacted");
    assert!(
        stored.updates.len() < 5,
        "covered updates dropped: {}",
        stored.updates.len()
    );
    let fresh = Hub::builder_shared(storage.clone()).build();
    let (text, version) = text_and_version(&fresh, &k).await;
    assert_eq!(text, author.get_text("content").to_string());
    assert_eq!(version, author.oplog_vv());
}

#[tokio::test]
async fn updates_from_other_nodes_are_broadcast_but_not_stored_again() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).build();
    let k = key("acme", "doc");
    let session = hub.session(&k).await.expect("session");
    let mut events = session.subscribe();
    let applied = session
        .apply(&text_update(5, "from node 7"), Origin::Node(NodeId(7)))
        .await
        .expect("apply");
    assert!(applied.durable, "durable on the node that stored it");
    assert_eq!(
        storage.appends.load(Ordering::SeqCst),
        0,
        "not stored twice"
    );
    assert!(matches!(events.recv().await, Ok(SessionEvent::Update(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_editing_one_session_at_once_lose_nothing() {
    let hub = Hub::builder(InstrumentedStorage::default()).build();
    let k = key("acme", "busy");
    let tasks: Vec<_> = (0..8u64)
        .map(|peer| {
            let hub = hub.clone();
            let k = k.clone();
            tokio::spawn(async move {
                let doc = loro::LoroDoc::new();
                doc.set_peer_id(peer + 1).expect("peer");
                let mut sent = loro::VersionVector::default();
                for _ in 0..20 {
                    doc.get_text("content").insert(0, "ab").expect("insert");
                    let update = doc
                        .export(loro::ExportMode::updates(&sent))
                        .expect("export");
                    sent = doc.oplog_vv();
                    let applied = hub
                        .apply(&k, &update, Origin::Client(ClientId(peer)))
                        .await
                        .expect("apply");
                    assert!(applied.durable);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(text_and_version(&hub, &k).await.0.len(), 8 * 20 * 2);
    let fresh = Hub::builder_shared(hub.storage().clone()).build();
    assert_eq!(text_and_version(&fresh, &k).await.0.len(), 8 * 20 * 2);
}
