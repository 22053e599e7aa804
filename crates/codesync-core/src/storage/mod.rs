//! The **Storage** seam: where documents persist.
//!
//! Modelled on `object_store`: a small object-safe trait that backends implement
//! ([`Storage`]), conveniences in an extension trait ([`StorageExt`]), forwarding impls for
//! `Arc<T>` and `Box<T>`, and (in `codesync-store`) one conformance suite every backend runs.
//!
//! A document is stored as an optional snapshot plus a tail of updates, each with a
//! sequence number. Loading replays the snapshot then the tail, in sequence order.

mod memory;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;
use crate::key::{DocKey, SessionId, TenantId};

pub use memory::MemoryStorage;

/// One stored update and the sequence number storage gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpdate {
    /// Strictly increasing per document; never reused, even after compaction.
    pub seq: u64,
    /// The Loro update bytes, exactly as appended.
    pub bytes: Bytes,
}

/// Everything storage holds for one document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDoc {
    /// The latest compaction snapshot, if the document was ever compacted.
    pub snapshot: Option<Bytes>,
    /// The updates appended since that snapshot, in sequence order.
    pub updates: Vec<StoredUpdate>,
}

impl StoredDoc {
    /// The bytes held: snapshot plus updates.
    pub fn total_bytes(&self) -> usize {
        self.snapshot.as_ref().map_or(0, Bytes::len)
            + self.updates.iter().map(|u| u.bytes.len()).sum::<usize>()
    }
}

/// Where documents persist. Implement this for a new backend.
///
/// ## Contract every backend honours
///
/// - **Durability**: [`append`](Storage::append) and [`compact`](Storage::compact) return
///   only once their effect survives a crash (or, for an explicitly relaxed mode, within a
///   bounded window the backend documents).
/// - **No silent emptiness**: [`load`](Storage::load) returns `Ok(None)` only for a
///   document that was never stored (or was deleted). A backend that cannot read or decode
///   what it holds returns an error, never an empty document, so a blank session can never
///   overwrite stored data.
/// - **Atomic compaction**: `compact(key, snapshot, through)` stores `snapshot` and drops
///   the updates with `seq <= through` in one step; updates with a higher `seq` stay.
/// - **Tenant isolation**: `list` returns one tenant's sessions only, and nothing one
///   tenant's key addresses is reachable through another's.
#[async_trait]
pub trait Storage: Send + Sync + Debug + 'static {
    /// Reads a document: its snapshot and the updates after it.
    async fn load(&self, key: &DocKey) -> Result<Option<StoredDoc>>;

    /// Durably appends one update and returns its sequence number.
    async fn append(&self, key: &DocKey, update: Bytes) -> Result<u64>;

    /// Replaces the snapshot and drops every update with `seq <= through`, atomically.
    async fn compact(&self, key: &DocKey, snapshot: Bytes, through: u64) -> Result<()>;

    /// Removes a document. Removing a document that does not exist is not an error.
    async fn delete(&self, key: &DocKey) -> Result<()>;

    /// The sessions stored for `tenant`, sorted.
    async fn list(&self, tenant: &TenantId) -> Result<Vec<SessionId>>;
}

/// Conveniences built on [`Storage`], available on every backend.
#[async_trait]
pub trait StorageExt: Storage {
    /// Whether anything is stored for `key`.
    async fn exists(&self, key: &DocKey) -> Result<bool> {
        Ok(self.load(key).await?.is_some())
    }
}

impl<S: Storage + ?Sized> StorageExt for S {}

macro_rules! forward_storage {
    ($ptr:ident) => {
        #[async_trait]
        impl<S: Storage + ?Sized> Storage for $ptr<S> {
            async fn load(&self, key: &DocKey) -> Result<Option<StoredDoc>> {
                (**self).load(key).await
            }
            async fn append(&self, key: &DocKey, update: Bytes) -> Result<u64> {
                (**self).append(key, update).await
            }
            async fn compact(&self, key: &DocKey, snapshot: Bytes, through: u64) -> Result<()> {
                (**self).compact(key, snapshot, through).await
            }
            async fn delete(&self, key: &DocKey) -> Result<()> {
                (**self).delete(key).await
            }
            async fn list(&self, tenant: &TenantId) -> Result<Vec<SessionId>> {
                (**self).list(tenant).await
            }
        }
    };
}

forward_storage!(Arc);
forward_storage!(Box);
