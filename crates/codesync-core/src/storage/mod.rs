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
    /// How many compactions have replaced the snapshot: a [`Compaction`] names the
    /// generation it was built from, and is superseded if another came first.
    pub generation: u64,
}

impl StoredDoc {
    /// The bytes held: snapshot plus updates.
    pub fn total_bytes(&self) -> usize {
        self.snapshot.as_ref().map_or(0, Bytes::len)
            + self.updates.iter().map(|u| u.bytes.len()).sum::<usize>()
    }
}

/// A snapshot to store in place of exactly the updates it folds in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    /// The new snapshot: the stored snapshot read at [`generation`](Self::generation) with
    /// every update in [`folded`](Self::folded) merged into it.
    pub snapshot: Bytes,
    /// The sequence numbers of exactly the updates merged into the snapshot. Only these are
    /// dropped: when several nodes append to one document, sequence numbers can commit out
    /// of order, so "everything up to the highest one read" could drop an update committed
    /// later under a lower number.
    pub folded: Vec<u64>,
    /// The [`StoredDoc::generation`] the snapshot was built from.
    pub generation: u64,
}

/// What [`Storage::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Compacted {
    /// The snapshot was stored and the folded updates dropped.
    Done,
    /// Another compaction replaced the snapshot since this one's was read; nothing was
    /// changed (the other snapshot may hold updates this one lacks).
    Superseded,
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
/// - **Atomic, exact compaction**: [`compact`](Storage::compact) stores the snapshot and
///   drops exactly the updates it lists, in one step, and only if the stored generation is
///   still the one the snapshot was built from (else it changes nothing). So compaction is
///   safe when several nodes sharing one store compact the same document at once.
/// - **Tenant isolation**: `list` returns one tenant's sessions only, and nothing one
///   tenant's key addresses is reachable through another's.
#[async_trait]
pub trait Storage: Send + Sync + Debug + 'static {
    /// Reads a document: its snapshot and the updates after it.
    async fn load(&self, key: &DocKey) -> Result<Option<StoredDoc>>;

    /// Durably appends one update and returns its sequence number.
    async fn append(&self, key: &DocKey, update: Bytes) -> Result<u64>;

    /// If `key`'s generation is still `compaction.generation`: stores the snapshot, bumps
    /// the generation, and drops exactly the updates in `compaction.folded`, atomically.
    /// Otherwise changes nothing and returns [`Compacted::Superseded`]. Compacting a
    /// document that was never stored creates it (generation 0 is that of no document).
    async fn compact(&self, key: &DocKey, compaction: Compaction) -> Result<Compacted>;

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
            async fn compact(&self, key: &DocKey, compaction: Compaction) -> Result<Compacted> {
                (**self).compact(key, compaction).await
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
