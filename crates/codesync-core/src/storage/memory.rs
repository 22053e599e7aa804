//! An in-memory [`Storage`], for tests, examples and ephemeral deployments.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Compacted, Compaction, Storage, StoredDoc, StoredUpdate};
use crate::error::{Error, Result};
use crate::key::{DocKey, SessionId, TenantId};

#[derive(Debug, Default)]
struct Record {
    snapshot: Option<Bytes>,
    updates: Vec<StoredUpdate>,
    last_seq: u64,
    generation: u64,
}

/// Keeps documents in process memory: durable only as long as the process lives.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use codesync_core::{DocKey, MemoryStorage, Storage};
/// let storage = MemoryStorage::new();
/// let key = DocKey::parse("acme", "notes").unwrap();
/// let seq = storage.append(&key, vec![1, 2, 3].into()).await.unwrap();
/// let stored = storage.load(&key).await.unwrap().unwrap();
/// assert_eq!(stored.updates[0].seq, seq);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct MemoryStorage {
    tenants: Mutex<HashMap<TenantId, BTreeMap<SessionId, Record>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_tenants<R>(
        &self,
        f: impl FnOnce(&mut HashMap<TenantId, BTreeMap<SessionId, Record>>) -> R,
    ) -> Result<R> {
        // A poisoned lock means a panic mid-update: refuse rather than serve a torn record.
        let mut guard = self
            .tenants
            .lock()
            .map_err(|_| Error::storage("memory", "the store's lock is poisoned"))?;
        Ok(f(&mut guard))
    }

    /// Runs `f` on `key`'s record, creating an empty one if there is none.
    fn with_record<R>(&self, key: &DocKey, f: impl FnOnce(&mut Record) -> R) -> Result<R> {
        self.with_tenants(|t| {
            let record = t
                .entry(key.tenant().clone())
                .or_default()
                .entry(key.session().clone())
                .or_default();
            f(record)
        })
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn load(&self, key: &DocKey) -> Result<Option<StoredDoc>> {
        self.with_tenants(|t| {
            t.get(key.tenant())
                .and_then(|docs| docs.get(key.session()))
                .map(|r| StoredDoc {
                    snapshot: r.snapshot.clone(),
                    updates: r.updates.clone(),
                    generation: r.generation,
                })
        })
    }

    async fn append(&self, key: &DocKey, update: Bytes) -> Result<u64> {
        self.with_record(key, |record| {
            record.last_seq += 1;
            record.updates.push(StoredUpdate {
                seq: record.last_seq,
                bytes: update,
            });
            record.last_seq
        })
    }

    async fn compact(&self, key: &DocKey, compaction: Compaction) -> Result<Compacted> {
        self.with_tenants(|t| {
            let stored = t
                .get(key.tenant())
                .and_then(|docs| docs.get(key.session()))
                .map_or(0, |r| r.generation);
            // Checked before the record is made: a superseded compaction creates nothing
            // (it must not bring back a document another node deleted).
            if stored != compaction.generation {
                return Compacted::Superseded;
            }
            let record = t
                .entry(key.tenant().clone())
                .or_default()
                .entry(key.session().clone())
                .or_default();
            record.snapshot = Some(compaction.snapshot);
            record.generation += 1;
            let folded: HashSet<u64> = compaction.folded.into_iter().collect();
            record.updates.retain(|u| !folded.contains(&u.seq));
            Compacted::Done
        })
    }

    async fn delete(&self, key: &DocKey) -> Result<()> {
        self.with_tenants(|t| {
            if let Some(docs) = t.get_mut(key.tenant()) {
                docs.remove(key.session());
            }
        })
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<SessionId>> {
        self.with_tenants(|t| {
            t.get(tenant)
                .map(|docs| docs.keys().cloned().collect())
                .unwrap_or_default()
        })
    }
}
