//! The cache behind [`RemoteMerge`](crate::RemoteMerge)'s `merge`: what it needs to say
//! which ops a merge added.
//!
//! The engine answers a merge with a full snapshot; the [`Merge`](codesync_core::Merge)
//! seam wants an [`Applied`] (the new ops, the version, durability). The cache is an
//! in-process [`Hub`] of recently merged documents over storage that keeps nothing: each
//! answer is turned into the updates the cached copy lacks and applied to it, so the hub
//! itself reports what was new. An evicted document simply starts again from empty (its
//! next merge then reports the whole document as new).

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{
    Applied, Compacted, Compaction, DocKey, Hub, Limits, LimitsConfig, OpenPolicy, SessionConfig,
    SessionId, Storage, StoredDoc, TenantId,
};

use crate::error::{Error, Result};
use crate::loro_io;

/// Recently merged documents, as the engine last described them.
#[derive(Debug)]
pub(crate) struct DocCache {
    hub: Hub,
}

impl DocCache {
    pub(crate) fn new(capacity: usize) -> Self {
        // The engine enforces the real caps; the cache must hold whatever it accepted.
        let limits = LimitsConfig::default().with_default(
            Limits::default()
                .with_max_document_bytes(usize::MAX)
                .with_max_presence_bytes(0),
        );
        let hub = Hub::builder(Discard)
            .capacity(capacity)
            .policy(OpenPolicy::new(limits))
            // Nothing is kept, so compacting would only cost time.
            .session_config(SessionConfig::default().with_compaction(usize::MAX, usize::MAX))
            .build();
        Self { hub }
    }

    /// Brings the cached copy of `key` up to `snapshot` and reports what that added.
    pub(crate) async fn catch_up(
        &self,
        key: &DocKey,
        snapshot: &[u8],
        origin: codesync_core::Origin,
    ) -> Result<Applied> {
        let known = self.hub.session(key).await?.version().await?;
        let (missing, _) = loro_io::updates_in_snapshot(snapshot, &known).map_err(|detail| {
            Error::InvalidAnswer {
                what: "snapshot",
                key: key.clone(),
                detail,
            }
        })?;
        Ok(self.hub.apply(key, &missing, origin).await?)
    }
}

/// Storage that keeps nothing: loads find nothing, appends succeed at once.
#[derive(Debug, Default)]
struct Discard;

#[async_trait]
impl Storage for Discard {
    async fn load(&self, _key: &DocKey) -> codesync_core::Result<Option<StoredDoc>> {
        Ok(None)
    }

    async fn append(&self, _key: &DocKey, _update: Bytes) -> codesync_core::Result<u64> {
        // Sequence numbers only matter for compaction, which never runs here.
        Ok(1)
    }

    async fn compact(
        &self,
        _key: &DocKey,
        _compaction: Compaction,
    ) -> codesync_core::Result<Compacted> {
        // Never called (compaction is off above); were it, there is nothing to replace, and
        // no other node shares this storage to have compacted first.
        Ok(Compacted::Done)
    }

    async fn delete(&self, _key: &DocKey) -> codesync_core::Result<()> {
        Ok(())
    }

    async fn list(&self, _tenant: &TenantId) -> codesync_core::Result<Vec<SessionId>> {
        Ok(Vec::new())
    }
}
