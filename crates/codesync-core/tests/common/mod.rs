//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{
    Compacted, Compaction, DocKey, Error, MemoryStorage, Result, SessionId, Storage, StoredDoc,
    TenantId,
};
use loro::{ExportMode, LoroDoc};

/// Memory storage that counts loads, can slow them down, and can be made to fail.
#[derive(Debug, Default)]
pub struct InstrumentedStorage {
    pub inner: MemoryStorage,
    pub loads: AtomicUsize,
    pub appends: AtomicUsize,
    pub load_delay_ms: AtomicUsize,
    pub fail_appends: AtomicBool,
}

impl InstrumentedStorage {
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Storage for InstrumentedStorage {
    async fn load(&self, key: &DocKey) -> Result<Option<StoredDoc>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let delay = self.load_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay as u64)).await;
        }
        self.inner.load(key).await
    }
    async fn append(&self, key: &DocKey, update: Bytes) -> Result<u64> {
        if self.fail_appends.load(Ordering::SeqCst) {
            return Err(Error::storage("instrumented", "injected append failure"));
        }
        self.appends.fetch_add(1, Ordering::SeqCst);
        self.inner.append(key, update).await
    }
    async fn compact(&self, key: &DocKey, compaction: Compaction) -> Result<Compacted> {
        self.inner.compact(key, compaction).await
    }
    async fn delete(&self, key: &DocKey) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, tenant: &TenantId) -> Result<Vec<SessionId>> {
        self.inner.list(tenant).await
    }
}

pub fn key(tenant: &str, session: &str) -> DocKey {
    DocKey::parse(tenant, session).expect("valid key")
}

/// An update that writes `text` into the root text `content` of a fresh peer.
pub fn text_update(peer: u64, text: &str) -> Vec<u8> {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer id");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.export(ExportMode::all_updates()).expect("export")
}

pub fn shared(storage: InstrumentedStorage) -> Arc<InstrumentedStorage> {
    Arc::new(storage)
}

/// The session's text and version, as a comparable pair.
pub async fn text_and_version(
    hub: &codesync_core::Hub,
    key: &DocKey,
) -> (String, loro::VersionVector) {
    let session = hub.session(key).await.expect("session");
    session
        .read(|d| (d.get_text("content").to_string(), d.oplog_vv()))
        .await
        .expect("read")
}

/// Waits (bounded) until every evicted session has been flushed out of memory.
pub async fn evictions_settled(hub: &codesync_core::Hub) {
    for _ in 0..500 {
        if hub.evicting_sessions() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("evicted sessions were not flushed within a second");
}
