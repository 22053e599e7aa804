//! Storage that publishes every update it durably appends: the one place a node tells the
//! others about new ops, so an update is never published before it is durable.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{ClusterBus, NodeMessage};
use crate::error::Result;
use crate::key::{DocKey, SessionId, TenantId};
use crate::storage::{Compacted, Compaction, Storage, StoredDoc};

/// Forwards to `inner`; after each successful append, publishes the appended bytes.
#[derive(Debug)]
pub(crate) struct PublishingStorage {
    pub(crate) inner: Arc<dyn Storage>,
    pub(crate) bus: Arc<dyn ClusterBus>,
}

#[async_trait]
impl Storage for PublishingStorage {
    async fn load(&self, key: &DocKey) -> Result<Option<StoredDoc>> {
        self.inner.load(key).await
    }

    async fn append(&self, key: &DocKey, update: Bytes) -> Result<u64> {
        let seq = self.inner.append(key, update.clone()).await?;
        self.bus.publish(key, NodeMessage::Update(update));
        Ok(seq)
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
