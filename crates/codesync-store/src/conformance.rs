//! The conformance suite every [`Storage`] backend runs (feature `conformance`).
//!
//! Each function exercises one part of the contract written on
//! [`Storage`](codesync_core::Storage) and panics on a violation. The suite never assumes
//! an empty store: every function works in tenants of its own, so it can run against a
//! shared database at the same time as other runs. [`conformance_tests!`] expands to one
//! `#[tokio::test]` per function.
//!
//! [`conformance_tests!`]: crate::conformance_tests

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use codesync_core::{DocKey, Error, Hub, SessionId, Storage, StoredDoc, TenantId};
use loro::{ExportMode, LoroDoc, VersionVector};

/// A tenant id no other run uses: `label` plus the process id, the time and a counter.
pub fn unique_tenant(label: &str) -> TenantId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    TenantId::new(format!("{label}-{}-{nanos}-{n}", std::process::id()))
        .expect("generated tenant ids are valid")
}

fn key(tenant: &TenantId, session: &str) -> DocKey {
    DocKey::new(
        tenant.clone(),
        SessionId::new(session).expect("valid session id"),
    )
}

/// An author producing incremental Loro updates, one per call.
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

    fn type_text(&mut self, text: &str) -> Bytes {
        let t = self.doc.get_text("content");
        t.insert(t.len_unicode(), text).expect("insert");
        let update = self
            .doc
            .export(ExportMode::updates(&self.sent))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        Bytes::from(update)
    }

    fn text(&self) -> String {
        self.doc.get_text("content").to_string()
    }
}

/// Rebuilds the document a stored record describes.
fn rebuild(stored: &StoredDoc) -> LoroDoc {
    let doc = LoroDoc::new();
    if let Some(snapshot) = &stored.snapshot {
        doc.import(snapshot).expect("snapshot imports");
    }
    for update in &stored.updates {
        doc.import(&update.bytes).expect("update imports");
    }
    doc
}

async fn load_existing(storage: &dyn Storage, key: &DocKey) -> StoredDoc {
    storage
        .load(key)
        .await
        .expect("load succeeds")
        .unwrap_or_else(|| panic!("{key} should exist"))
}

/// Appended updates load back byte for byte, in order, with increasing sequence numbers;
/// a document never stored loads as `None`.
pub async fn round_trip(storage: &dyn Storage) {
    let tenant = unique_tenant("roundtrip");
    let k = key(&tenant, "doc");
    assert!(storage.load(&k).await.expect("load").is_none());
    let mut author = Author::new(1);
    let mut appended = vec![];
    let mut last_seq = 0;
    for word in ["fn ", "main", "() ", "{}", "\n"] {
        let update = author.type_text(word);
        let seq = storage.append(&k, update.clone()).await.expect("append");
        assert!(
            seq > last_seq,
            "sequence numbers increase: {seq} after {last_seq}"
        );
        last_seq = seq;
        appended.push(update);
    }
    let stored = load_existing(storage, &k).await;
    assert!(stored.snapshot.is_none());
    let bytes: Vec<_> = stored.updates.iter().map(|u| u.bytes.clone()).collect();
    assert_eq!(bytes, appended);
    assert_eq!(stored.updates.last().map(|u| u.seq), Some(last_seq));
    assert_eq!(
        rebuild(&stored).get_text("content").to_string(),
        author.text()
    );
}

/// A snapshot plus the updates after it gives the same document as the full history, and
/// updates appended after the compaction point survive it.
pub async fn compaction_equivalence(storage: &dyn Storage) {
    let tenant = unique_tenant("compaction");
    let k = key(&tenant, "doc");
    let mut author = Author::new(2);
    let mut through = 0;
    for i in 0..20 {
        through = storage
            .append(&k, author.type_text(&format!("line {i}\n")))
            .await
            .expect("append");
    }
    let snapshot = author.doc.export(ExportMode::Snapshot).expect("snapshot");
    // Appended after the snapshot was taken: must not be dropped by the compaction.
    let mut later_seqs = vec![];
    for i in 20..23 {
        later_seqs.push(
            storage
                .append(&k, author.type_text(&format!("line {i}\n")))
                .await
                .expect("append"),
        );
    }
    storage
        .compact(&k, Bytes::from(snapshot), through)
        .await
        .expect("compact");
    let stored = load_existing(storage, &k).await;
    assert!(stored.snapshot.is_some());
    let seqs: Vec<u64> = stored.updates.iter().map(|u| u.seq).collect();
    assert_eq!(seqs, later_seqs, "exactly the uncovered updates remain");
    let rebuilt = rebuild(&stored);
    assert_eq!(rebuilt.get_text("content").to_string(), author.text());
    assert_eq!(rebuilt.oplog_vv(), author.doc.oplog_vv());

    // Sequence numbers are never reused after a compaction.
    let next = storage
        .append(&k, author.type_text("after"))
        .await
        .expect("append");
    assert!(next > *later_seqs.last().expect("three appends"));
}

/// Many tasks appending to many sessions of several tenants at once lose nothing and keep
/// each session's order.
pub async fn concurrent_appends(storage: Arc<dyn Storage>) {
    const TENANTS: usize = 3;
    const SESSIONS: usize = 4;
    const UPDATES: usize = 25;
    let tenants: Vec<TenantId> = (0..TENANTS).map(|_| unique_tenant("concurrent")).collect();
    let mut tasks = vec![];
    for (t, tenant) in tenants.iter().enumerate() {
        for s in 0..SESSIONS {
            let storage = storage.clone();
            let k = key(tenant, &format!("doc{s}"));
            tasks.push(tokio::spawn(async move {
                let mut author = Author::new((t * SESSIONS + s + 1) as u64);
                for i in 0..UPDATES {
                    storage
                        .append(&k, author.type_text(&format!("{i},")))
                        .await
                        .expect("append");
                }
                (k, author.text())
            }));
        }
    }
    for task in tasks {
        let (k, expected) = task.await.expect("task");
        let stored = load_existing(&*storage, &k).await;
        assert_eq!(stored.updates.len(), UPDATES, "{k}");
        assert!(stored.updates.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(rebuild(&stored).get_text("content").to_string(), expected);
    }
}

/// A deleted document loads as `None` and leaves the list; deleting twice is fine; a new
/// document under the same key starts afresh.
pub async fn delete(storage: &dyn Storage) {
    let tenant = unique_tenant("delete");
    let gone = key(&tenant, "gone");
    let kept = key(&tenant, "kept");
    let mut author = Author::new(3);
    storage
        .append(&gone, author.type_text("x"))
        .await
        .expect("append");
    storage
        .compact(&gone, Bytes::from_static(b"not read"), 0)
        .await
        .expect("compact");
    storage
        .append(&kept, Author::new(4).type_text("y"))
        .await
        .expect("append");
    storage.delete(&gone).await.expect("delete");
    storage.delete(&gone).await.expect("delete twice");
    assert!(storage.load(&gone).await.expect("load").is_none());
    assert!(storage.load(&kept).await.expect("load").is_some());
    let listed = storage.list(&tenant).await.expect("list");
    assert_eq!(listed, vec![kept.session().clone()]);
    storage
        .append(&gone, Author::new(5).type_text("new"))
        .await
        .expect("append");
    let stored = load_existing(storage, &gone).await;
    assert!(
        stored.snapshot.is_none(),
        "the old snapshot went with the delete"
    );
    assert_eq!(stored.updates.len(), 1);
}

/// `list` returns one tenant's sessions, sorted, and nothing of other tenants.
pub async fn list_per_tenant(storage: &dyn Storage) {
    let a = unique_tenant("list-a");
    let b = unique_tenant("list-b");
    for name in ["zeta", "alpha", "mid.rs"] {
        storage
            .append(&key(&a, name), Author::new(6).type_text(name))
            .await
            .expect("append");
    }
    storage
        .append(&key(&b, "other"), Author::new(7).type_text("b"))
        .await
        .expect("append");
    let listed: Vec<String> = storage
        .list(&a)
        .await
        .expect("list")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(listed, ["alpha", "mid.rs", "zeta"]);
    assert_eq!(storage.list(&b).await.expect("list").len(), 1);
    assert!(storage
        .list(&unique_tenant("list-none"))
        .await
        .expect("list")
        .is_empty());
}

/// The same session id under two tenants is two documents; compacting or deleting one
/// leaves the other alone.
pub async fn tenant_isolation(storage: &dyn Storage) {
    let a = unique_tenant("iso-a");
    let b = unique_tenant("iso-b");
    let ka = key(&a, "shared-name");
    let kb = key(&b, "shared-name");
    let mut author_a = Author::new(8);
    let mut author_b = Author::new(9);
    storage
        .append(&ka, author_a.type_text("tenant a"))
        .await
        .expect("append");
    storage
        .append(&kb, author_b.type_text("tenant b"))
        .await
        .expect("append");
    storage
        .compact(
            &ka,
            Bytes::from(author_a.doc.export(ExportMode::Snapshot).expect("snapshot")),
            u64::MAX,
        )
        .await
        .expect("compact");
    let stored_b = load_existing(storage, &kb).await;
    assert!(stored_b.snapshot.is_none());
    assert_eq!(
        rebuild(&stored_b).get_text("content").to_string(),
        "tenant b"
    );
    storage.delete(&kb).await.expect("delete");
    let stored_a = load_existing(storage, &ka).await;
    assert_eq!(
        rebuild(&stored_a).get_text("content").to_string(),
        "tenant a"
    );
}

/// A document with over 1 MB of history stores and loads intact.
pub async fn large_history(storage: &dyn Storage) {
    let tenant = unique_tenant("large");
    let k = key(&tenant, "big");
    let mut author = Author::new(10);
    let chunk = "0123456789abcdef".repeat(512); // 8 KiB per update
    let mut total = 0;
    while total <= 1_100_000 {
        let update = author.type_text(&chunk);
        total += update.len();
        storage.append(&k, update).await.expect("append");
    }
    let stored = load_existing(storage, &k).await;
    assert!(stored.total_bytes() > 1_000_000);
    assert_eq!(
        rebuild(&stored).get_text("content").to_string(),
        author.text()
    );
}

/// A record damaged behind the backend's back is reported as corrupt, naming the
/// document, by the store and by a hub loading it; never as an empty document.
///
/// `corrupt` damages the stored bytes of the document it is given (backend-specific).
pub async fn corrupted_record_is_reported<F, Fut>(storage: Arc<dyn Storage>, corrupt: F)
where
    F: FnOnce(DocKey) -> Fut,
    Fut: Future<Output = ()>,
{
    let tenant = unique_tenant("corrupt");
    let k = key(&tenant, "damaged");
    let mut author = Author::new(11);
    for word in ["one ", "two ", "three"] {
        storage
            .append(&k, author.type_text(word))
            .await
            .expect("append");
    }
    corrupt(k.clone()).await;
    let err = storage.load(&k).await.expect_err("corruption is detected");
    assert!(
        matches!(&err, Error::CorruptDocument { key, .. } if *key == k),
        "expected CorruptDocument naming {k}, got {err:?}"
    );
    assert!(err.to_string().contains(&k.to_string()), "{err}");
    let hub = Hub::builder_shared(storage.clone()).build();
    let err = hub.session(&k).await.expect_err("the hub refuses it too");
    assert!(matches!(err, Error::CorruptDocument { .. }), "{err:?}");
}

/// Bytes that pass the store's integrity check but are not a Loro update (a buggy writer)
/// make the hub refuse the document rather than open it empty.
pub async fn undecodable_record_is_refused_by_the_hub(storage: Arc<dyn Storage>) {
    let tenant = unique_tenant("undecodable");
    let k = key(&tenant, "garbage");
    storage
        .append(&k, Author::new(12).type_text("real"))
        .await
        .expect("append");
    storage
        .append(&k, Bytes::from_static(b"definitely not loro"))
        .await
        .expect("append");
    let hub = Hub::builder_shared(storage.clone()).build();
    let err = hub.session(&k).await.expect_err("refused");
    assert!(
        matches!(&err, Error::CorruptDocument { key, .. } if *key == k),
        "{err:?}"
    );
}

/// Expands to one `#[tokio::test]` per backend-independent conformance function.
///
/// `$make` is an expression evaluating to a future of `Option<Arc<dyn Storage>>`; `None`
/// skips the tests (for backends whose server is not configured).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_round_trip() {
            if let Some(s) = $make.await {
                $crate::conformance::round_trip(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_compaction_equivalence() {
            if let Some(s) = $make.await {
                $crate::conformance::compaction_equivalence(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_concurrent_appends() {
            if let Some(s) = $make.await {
                $crate::conformance::concurrent_appends(s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_delete() {
            if let Some(s) = $make.await {
                $crate::conformance::delete(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_list_per_tenant() {
            if let Some(s) = $make.await {
                $crate::conformance::list_per_tenant(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_tenant_isolation() {
            if let Some(s) = $make.await {
                $crate::conformance::tenant_isolation(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_large_history() {
            if let Some(s) = $make.await {
                $crate::conformance::large_history(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_undecodable_record_is_refused_by_the_hub() {
            if let Some(s) = $make.await {
                $crate::conformance::undecodable_record_is_refused_by_the_hub(s).await;
            }
        }
    };
}
