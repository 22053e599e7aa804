//! One live document: its `LoroDoc`, its presence, and what of it is durable.

mod presence;
mod remote;
mod state;
mod vet;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use loro::{ExportMode, LoroDoc, VersionVector};
use tokio::sync::{broadcast, Mutex, MutexGuard};

use crate::cluster::{NodeMessage, Subscription};
use crate::doc_guard::Panicked;
use crate::error::{Error, Result};
use crate::guard::UpdateGuard;
use crate::key::DocKey;
use crate::origin::{ClientId, Origin};
use crate::policy::SessionPolicy;
use crate::storage::Storage;

use presence::{Presence, Refusal};
use state::DocState;

/// Tuning of every session a hub holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Compact (snapshot, then drop the covered updates) after this many appends.
    pub compact_after_updates: usize,
    /// Compact after this many appended bytes.
    pub compact_after_bytes: usize,
    /// Presence entries not refreshed within this time expire.
    pub presence_timeout: Duration,
    /// How many events a subscriber may fall behind before it is told it lagged (and must
    /// resync).
    pub event_capacity: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            compact_after_updates: 1000,
            compact_after_bytes: 1 << 20,
            presence_timeout: Duration::from_secs(30),
            event_capacity: 1024,
        }
    }
}

impl SessionConfig {
    /// Sets the compaction thresholds (appends, bytes).
    pub fn with_compaction(mut self, after_updates: usize, after_bytes: usize) -> Self {
        self.compact_after_updates = after_updates.max(1);
        self.compact_after_bytes = after_bytes.max(1);
        self
    }

    /// Sets how long presence entries live without a refresh.
    pub fn with_presence_timeout(mut self, timeout: Duration) -> Self {
        self.presence_timeout = timeout;
        self
    }
}

/// What merging an update did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Applied {
    /// Where the update came from; never send [`update`](Self::update) back there.
    pub origin: Origin,
    /// The ops that were new to the session, encoded as a Loro update: what to broadcast
    /// and what was stored. `None` when the update held nothing new (a duplicate).
    pub update: Option<Bytes>,
    /// The session's version after the merge.
    pub version: VersionVector,
    /// Whether everything merged so far is durable: acknowledge the sender only if true.
    pub durable: bool,
}

/// New ops merged into a session, as every connected client should receive them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Change {
    /// Where the ops came from; do not send them back there.
    pub origin: Origin,
    /// The new ops, encoded as a Loro update.
    pub update: Bytes,
    /// The session's version after the merge.
    pub version: VersionVector,
}

/// Something that happened in a session, for everyone connected to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SessionEvent {
    /// New ops were merged. Sent as soon as they are merged, before they are durable:
    /// broadcast need not wait for the disk, only the sender's acknowledgement does.
    Update(Arc<Change>),
    /// Presence changed; `bytes` is the encoded `EphemeralStore` update to forward.
    Presence {
        /// Where it came from; do not send it back there.
        origin: Origin,
        /// The encoded `EphemeralStore` update.
        bytes: Bytes,
    },
}

/// One live collaborative document.
///
/// Obtain it from a [`Hub`](crate::Hub). Every method is safe to call from many tasks at
/// once; updates to one session are merged one at a time.
#[derive(Debug)]
pub struct Session {
    key: DocKey,
    storage: Arc<dyn Storage>,
    policy: Arc<dyn SessionPolicy>,
    /// Tries peers' updates out of process before they reach the document.
    guard: Option<Arc<dyn UpdateGuard>>,
    config: SessionConfig,
    /// `None` when the document could not be reloaded after a panic.
    state: Mutex<Option<DocState>>,
    presence: Presence,
    /// Made on the first `subscribe`: a channel's slots are allocated up front (about
    /// 72 KiB at the default capacity), more than a small idle session's whole document.
    events: OnceLock<broadcast::Sender<SessionEvent>>,
    retired: AtomicBool,
    /// This session's messages from other nodes, when the hub is part of a cluster.
    cluster: Option<Subscription>,
}

impl Session {
    pub(crate) async fn load(
        key: DocKey,
        storage: Arc<dyn Storage>,
        policy: Arc<dyn SessionPolicy>,
        guard: Option<Arc<dyn UpdateGuard>>,
        config: SessionConfig,
        cluster: Option<Subscription>,
    ) -> Result<Self> {
        let state = DocState::load(&key, &*storage, guard.as_deref()).await?;
        Ok(Self {
            presence: Presence::new(config.presence_timeout),
            key,
            storage,
            policy,
            guard,
            config,
            state: Mutex::new(Some(state)),
            events: OnceLock::new(),
            retired: AtomicBool::new(false),
            cluster,
        })
    }

    /// The document's address.
    pub fn key(&self) -> &DocKey {
        &self.key
    }

    async fn lock(&self) -> Result<MutexGuard<'_, Option<DocState>>> {
        let guard = self.state.lock().await;
        if self.retired.load(Ordering::Acquire) {
            return Err(Error::Evicted {
                key: self.key.clone(),
            });
        }
        Ok(guard)
    }

    /// After Loro panicked on the live document (already leaked by the guard), reload the
    /// session from storage in place, so connected clients keep their handle.
    ///
    /// Ops merged but not yet stored are merged again into the reloaded document. If the
    /// reload fails, the session retires: the hub loads it afresh on the next request.
    async fn recover(&self, state: &mut Option<DocState>) -> Error {
        tracing::error!(key = %self.key, "the CRDT library panicked; reloading the session from storage");
        let pending = state
            .as_mut()
            .map(DocState::take_undurable)
            .unwrap_or_default();
        // The old state's document was leaked by its guard; dropping the rest is safe.
        *state = match DocState::load(&self.key, &*self.storage, self.guard.as_deref()).await {
            Ok(mut fresh) => {
                fresh.restore_undurable(&self.key, pending);
                Some(fresh)
            }
            Err(e) => {
                tracing::error!(key = %self.key, error = %e, "reload after a panic failed; retiring the session");
                self.retired.store(true, Ordering::Release);
                None
            }
        };
        Error::ImportPanicked {
            key: self.key.clone(),
        }
    }

    fn unavailable(&self) -> Error {
        Error::CorruptDocument {
            key: self.key.clone(),
            detail: "the session could not be reloaded after a panic".to_owned(),
        }
    }

    /// Merges a peer's update, makes it durable, and reports what changed.
    ///
    /// Refused, with the document left exactly as it was: bytes that are not a Loro update
    /// ([`Error::InvalidUpdate`]), an update that would push the content over the tenant's
    /// cap ([`Error::DocumentTooLarge`]), one whose dependencies the session lacks
    /// ([`Error::MissingDependencies`]), and one that makes Loro panic
    /// ([`Error::ImportPanicked`]). A duplicate is accepted and reports no new ops.
    ///
    /// If storage fails, the ops stay merged in memory, `durable` is false, and the next
    /// apply, flush or eviction retries storing them.
    pub async fn apply(&self, update: &[u8], origin: Origin) -> Result<Applied> {
        let started = std::time::Instant::now();
        let result = self.apply_inner(update, origin).await;
        crate::telemetry::record_apply(&result, update.len(), started.elapsed());
        result
    }

    async fn apply_inner(&self, update: &[u8], origin: Origin) -> Result<Applied> {
        let limits = self.policy.limits(self.key.tenant());
        let mut guard = self.lock().await?;
        let Some(state) = guard.as_mut() else {
            return Err(self.unavailable());
        };
        if let (Origin::Client(_), Some(checker), false) =
            (origin, self.guard.as_deref(), limits.trusted)
        {
            match vet::vet_update(checker, &self.key, state, update).await {
                Err(Panicked) => return Err(self.recover(&mut guard).await),
                Ok(verdict) => verdict?,
            }
        }
        // Stored elsewhere means accepted under the cap there: refusing it here would only
        // make this node diverge (sizes differ briefly while nodes converge).
        let max_content = if origin.needs_storing() {
            limits.max_document_bytes
        } else {
            usize::MAX
        };
        let imported = match state.import(&self.key, update, max_content) {
            Err(Panicked) => return Err(self.recover(&mut guard).await),
            Ok(result) => result?,
        };
        let version = match state.read(|d| d.oplog_vv()) {
            Ok(vv) => vv,
            Err(Panicked) => return Err(self.recover(&mut guard).await),
        };
        // Tell everyone before the first await: if this call is cancelled while storing,
        // the ops are still broadcast (and stored by the next flush).
        if let Some(update) = &imported.new_ops {
            self.announce(origin, update, &version);
        }
        if origin.needs_storing() {
            if let Err(e) = state.flush(&self.key, &*self.storage).await {
                tracing::warn!(key = %self.key, error = %e, "update merged but not yet durable");
            }
        } else if state.mark_durable_elsewhere(&imported.before).is_err() {
            return Err(self.recover(&mut guard).await);
        }
        let durable = match state.is_durable() {
            Ok(durable) => durable,
            Err(Panicked) => return Err(self.recover(&mut guard).await),
        };
        if durable
            && imported.new_ops.is_some()
            && state.compaction_due(
                self.config.compact_after_updates,
                self.config.compact_after_bytes,
            )
        {
            if let Err(e) = self.compact_locked(&mut guard).await {
                tracing::error!(key = %self.key, error = %e, "compaction refused; history kept as updates");
            }
        }
        Ok(Applied {
            origin,
            update: imported.new_ops,
            version,
            durable,
        })
    }

    /// Tells the policy and every subscriber about new ops.
    fn announce(&self, origin: Origin, update: &Bytes, version: &VersionVector) {
        let change = Change {
            origin,
            update: update.clone(),
            version: version.clone(),
        };
        self.policy.on_changed(&self.key, &change);
        // No receivers is not an error: nobody is connected.
        if let Some(events) = self.events.get() {
            let _ = events.send(SessionEvent::Update(Arc::new(change)));
        }
    }

    /// Reads the store and merges it into the locked state; returns what was read.
    async fn merge_stored(
        &self,
        guard: &mut MutexGuard<'_, Option<DocState>>,
    ) -> Result<crate::storage::StoredDoc> {
        let stored = self.storage.load(&self.key).await?.unwrap_or_default();
        let Some(state) = guard.as_mut() else {
            return Err(self.unavailable());
        };
        let merged = state
            .merge_stored(&self.key, &stored)
            .and_then(|imported| Ok((imported, state.read(|d| d.oplog_vv())?)));
        match merged {
            Err(Panicked) => Err(self.recover(guard).await),
            Ok((Err(e), _)) => Err(e),
            Ok((Ok(imported), version)) => {
                if let Some(update) = &imported.new_ops {
                    self.announce(Origin::Storage, update, &version);
                }
                Ok(stored)
            }
        }
    }

    /// Stores what is pending, merges what other nodes stored, then replaces the stored
    /// history with a verified snapshot of exactly what was read.
    async fn compact_locked(&self, guard: &mut MutexGuard<'_, Option<DocState>>) -> Result<()> {
        match guard.as_mut() {
            Some(state) => {
                state.flush(&self.key, &*self.storage).await?;
                state.restart_compaction_count();
            }
            None => return Err(self.unavailable()),
        }
        let stored = self.merge_stored(guard).await?;
        let Some(state) = guard.as_mut() else {
            return Err(self.unavailable());
        };
        match state.compact(&self.key, &stored, &*self.storage).await? {
            crate::storage::Compacted::Done => Ok(()),
            crate::storage::Compacted::Superseded => {
                tracing::debug!(key = %self.key, "another node compacted first; keeping its snapshot");
                Ok(())
            }
        }
    }

    /// Runs `f` on the document, for reads.
    ///
    /// `f` must not edit the document: an edit made here skips the size cap and reaches no
    /// connected client, yet is stored by the next flush. Send edits as updates through
    /// [`apply`](Self::apply) instead.
    pub async fn read<R: Send>(&self, f: impl FnOnce(&LoroDoc) -> R + Send) -> Result<R> {
        let mut guard = self.lock().await?;
        let Some(state) = guard.as_mut() else {
            return Err(self.unavailable());
        };
        match state.read(f) {
            Ok(value) => Ok(value),
            Err(Panicked) => Err(self.recover(&mut guard).await),
        }
    }

    /// The session's version vector (`oplog_vv`), as the protocol's join answer needs.
    pub async fn version(&self) -> Result<VersionVector> {
        self.read(|d| d.oplog_vv()).await
    }

    /// Everything a peer at `peer_version` lacks, as one Loro update.
    pub async fn missing_for(&self, peer_version: &VersionVector) -> Result<Bytes> {
        let key = self.key.clone();
        let bytes = self
            .read(|d| d.export(ExportMode::updates(peer_version)))
            .await?;
        bytes.map(Bytes::from).map_err(|e| Error::InvalidUpdate {
            key,
            reason: format!("export failed: {e}"),
        })
    }

    /// A full snapshot of the document.
    pub async fn snapshot(&self) -> Result<Bytes> {
        let key = self.key.clone();
        let bytes = self.read(|d| d.export(ExportMode::Snapshot)).await?;
        bytes.map(Bytes::from).map_err(|e| Error::CorruptDocument {
            key,
            detail: format!("snapshot export failed: {e}"),
        })
    }

    /// Stores whatever is merged but not yet durable.
    pub async fn flush(&self) -> Result<()> {
        let mut guard = self.lock().await?;
        match guard.as_mut() {
            Some(state) => state.flush(&self.key, &*self.storage).await,
            None => Err(self.unavailable()),
        }
    }

    /// Replaces the stored history by a verified snapshot now, whatever the thresholds.
    pub async fn compact(&self) -> Result<()> {
        let mut guard = self.lock().await?;
        self.compact_locked(&mut guard).await
    }

    /// Receives every later update and presence change of this session.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events
            .get_or_init(|| broadcast::channel(self.config.event_capacity.max(1)).0)
            .subscribe()
    }

    /// Merges a presence update (cursor, selection, name) from `client` and forwards it,
    /// re-stamped with the server's clock, to subscribers.
    ///
    /// A key belongs to the client that first set it: setting another client's key is
    /// refused ([`Error::PresenceKeyTaken`]), as is holding more keys than the tenant
    /// allows. Deletions sent by clients are ignored; a client's keys go when it leaves
    /// ([`remove_presence_of`](Self::remove_presence_of)) or expire.
    pub fn apply_presence(&self, bytes: &[u8], client: ClientId) -> Result<()> {
        let limits = self.policy.limits(self.key.tenant());
        if bytes.len() > limits.max_presence_bytes {
            return Err(Error::PresenceTooLarge {
                key: self.key.clone(),
                size: bytes.len(),
                limit: limits.max_presence_bytes,
            });
        }
        let key = || self.key.clone();
        let forward = self
            .presence
            .apply(bytes, client, limits.max_presence_keys_per_client)
            .map_err(|refusal| match refusal {
                Refusal::Undecodable(reason) => Error::InvalidPresence { key: key(), reason },
                Refusal::KeyTaken(presence_key) => Error::PresenceKeyTaken {
                    key: key(),
                    presence_key,
                },
                Refusal::TooManyKeys(limit) => Error::TooManyPresenceKeys { key: key(), limit },
            })?;
        if let Some(bytes) = forward {
            let bytes = Bytes::from(bytes);
            self.publish(NodeMessage::Presence(bytes.clone()));
            self.send_presence(Origin::Client(client), bytes);
        }
        Ok(())
    }

    /// Removes every presence key `client` set and tells the others (called when a
    /// [`Connection`](crate::Connection) drops).
    pub fn remove_presence_of(&self, client: ClientId) {
        if let Some((keys, bytes)) = self.presence.remove_client(client) {
            self.publish(NodeMessage::PresenceGone(keys));
            self.send_presence(Origin::Client(client), Bytes::from(bytes));
        }
    }

    fn send_presence(&self, origin: Origin, bytes: Bytes) {
        let Some(events) = self.events.get() else {
            return;
        };
        let _ = events.send(SessionEvent::Presence { origin, bytes });
    }

    /// Every live presence entry, encoded for a client that just joined.
    pub fn presence(&self) -> Bytes {
        Bytes::from(self.presence.encode_all())
    }

    /// The presence keys that currently hold a value (after dropping expired ones).
    pub fn presence_keys(&self) -> Vec<String> {
        self.presence.keys()
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Flushes, then retires the session if `still_evicting()` says the hub has not handed
    /// it out again meanwhile. Returns whether it was retired.
    pub(crate) async fn flush_and_retire(
        &self,
        still_evicting: impl FnOnce() -> bool,
    ) -> Result<bool> {
        let mut guard = self.state.lock().await;
        if let Some(state) = guard.as_mut() {
            state.flush(&self.key, &*self.storage).await?;
        }
        if still_evicting() {
            self.retired.store(true, Ordering::Release);
            if let Some(checker) = &self.guard {
                checker.forget(&self.key);
            }
            return Ok(true);
        }
        Ok(false)
    }
}
