//! A [`Storage`] that keeps nothing, for the memory benchmark: what a session holds in
//! memory should be measured without the bytes an in-memory store would also hold.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{DocKey, SessionId, Storage, StoredDoc, TenantId};

/// Accepts every write and forgets it; every document loads as never stored.
///
/// Only for sessions that start empty and are never reloaded: a real store must give back
/// what it was given.
#[derive(Debug, Default)]
pub struct DiscardStorage {
    next_seq: AtomicU64,
}

#[async_trait]
impl Storage for DiscardStorage {
    async fn load(&self, _key: &DocKey) -> codesync_core::Result<Option<StoredDoc>> {
        Ok(None)
    }

    async fn append(&self, _key: &DocKey, _update: Bytes) -> codesync_core::Result<u64> {
        Ok(self.next_seq.fetch_add(1, Ordering::Relaxed) + 1)
    }

    async fn compact(
        &self,
        _key: &DocKey,
        _compaction: codesync_core::Compaction,
    ) -> codesync_core::Result<codesync_core::Compacted> {
        Ok(codesync_core::Compacted::Done)
    }

    async fn delete(&self, _key: &DocKey) -> codesync_core::Result<()> {
        Ok(())
    }

    async fn list(&self, _tenant: &TenantId) -> codesync_core::Result<Vec<SessionId>> {
        Ok(Vec::new())
    }
}
