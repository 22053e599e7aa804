//! Appending, loading, deleting and listing; isolation between tenants; large documents.

use std::sync::Arc;

use bytes::Bytes;
use codesync_core::{Compacted, Compaction, Storage, TenantId};

use super::{fold_all, key, load_existing, rebuild, unique_tenant, Author};

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
    let compacted = storage
        .compact(
            &gone,
            Compaction {
                snapshot: Bytes::from_static(b"not read"),
                folded: vec![],
                generation: 0,
            },
        )
        .await
        .expect("compact");
    assert_eq!(compacted, Compacted::Done);
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
    assert_eq!(stored.generation, 0, "a re-created document starts afresh");
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
    let compaction = fold_all(&load_existing(storage, &ka).await);
    let compacted = storage.compact(&ka, compaction).await.expect("compact");
    assert_eq!(compacted, Compacted::Done);
    let stored_b = load_existing(storage, &kb).await;
    assert!(stored_b.snapshot.is_none());
    assert_eq!(stored_b.generation, 0, "another tenant's compaction");
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
