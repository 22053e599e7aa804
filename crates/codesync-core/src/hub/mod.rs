//! The hub: every live session of every tenant, in a bounded LRU backed by Storage.

mod inbox;
mod quarantine;
mod slots;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use loro::VersionVector;

use crate::cluster::{ClusterBus, NodeMessage, PublishingStorage, Subscription};
use crate::error::{Error, Result};
use crate::guard::UpdateGuard;
use crate::key::{DocKey, TenantId};
use crate::merge::Merge;
use crate::origin::{ClientId, Origin};
use crate::policy::{Access, OpenPolicy, SessionPolicy};
use crate::session::{Applied, Session, SessionConfig};
use crate::storage::Storage;

pub use inbox::ClusterInbox;
use quarantine::Quarantine;
use slots::{Slot, Slots};

/// How many loads in a row may fail on a session's stored data before it is quarantined.
pub const DEFAULT_MAX_LOAD_ATTEMPTS: u32 = 3;

/// The default number of live sessions: the seed's 10,000.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// How many times a call retries after racing with an eviction.
const EVICTION_RETRIES: usize = 8;

/// Builds a [`Hub`].
#[derive(Debug)]
pub struct HubBuilder {
    storage: Arc<dyn Storage>,
    policy: Arc<dyn SessionPolicy>,
    capacity: usize,
    max_connected: Option<usize>,
    session: SessionConfig,
    guard: Option<Arc<dyn UpdateGuard>>,
    max_load_attempts: u32,
    cluster: Option<Arc<dyn ClusterBus>>,
}

impl HubBuilder {
    /// Shares sessions with other nodes through `bus` (see [`ClusterBus`]). Every node must
    /// use the same shared storage: updates are published only after their durable append,
    /// and a node catches up by reading that storage.
    pub fn cluster(mut self, bus: Arc<dyn ClusterBus>) -> Self {
        self.cluster = Some(bus);
        self
    }

    /// Tries every update from a client (of a tenant not marked
    /// [trusted](crate::Limits::trusted)), and every stored document before it loads, with
    /// `guard` first. Without a guard, panics are still caught in process, but an input
    /// that aborts the process is not stopped: servers facing untrusted peers should set
    /// one (the `codesync-guard` crate isolates it in worker processes).
    pub fn guard(mut self, guard: Arc<dyn UpdateGuard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// How many loads in a row may fail on a session's stored data before the session is
    /// quarantined (default [`DEFAULT_MAX_LOAD_ATTEMPTS`], at least 1).
    pub fn max_load_attempts(mut self, attempts: u32) -> Self {
        self.max_load_attempts = attempts.max(1);
        self
    }

    /// How many sessions may have connected clients at once (default: the capacity).
    /// Connected sessions cannot be evicted, so this bounds the memory clients can hold;
    /// a join beyond it is refused with [`Error::TooManyConnectedSessions`].
    pub fn max_connected_sessions(mut self, sessions: usize) -> Self {
        self.max_connected = Some(sessions.max(1));
        self
    }

    /// Uses `policy` for access control, limits and lifecycle hooks (default: [`OpenPolicy`]).
    pub fn policy(mut self, policy: impl SessionPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Uses an already shared policy.
    pub fn shared_policy(mut self, policy: Arc<dyn SessionPolicy>) -> Self {
        self.policy = policy;
        self
    }

    /// How many sessions stay live in memory (default [`DEFAULT_CAPACITY`], at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Tuning of every session (compaction, presence expiry).
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.session = config;
        self
    }

    /// Builds the hub (and, with a cluster bus, attaches the hub to it).
    pub fn build(self) -> Hub {
        let storage = match &self.cluster {
            Some(bus) => Arc::new(PublishingStorage {
                inner: self.storage,
                bus: bus.clone(),
            }),
            None => self.storage,
        };
        let hub = Hub {
            inner: Arc::new(HubInner {
                storage,
                cluster: self.cluster,
                policy: self.policy,
                capacity: self.capacity,
                max_connected: self.max_connected.unwrap_or(self.capacity),
                session: self.session,
                guard: self.guard,
                max_load_attempts: self.max_load_attempts,
                quarantine: Mutex::new(Quarantine::default()),
                slots: Mutex::new(Slots::default()),
                next_client: AtomicU64::new(1),
            }),
        };
        if let Some(bus) = &hub.inner.cluster {
            bus.attach(ClusterInbox::new(&hub));
        }
        hub
    }
}

#[derive(Debug)]
struct HubInner {
    storage: Arc<dyn Storage>,
    cluster: Option<Arc<dyn ClusterBus>>,
    policy: Arc<dyn SessionPolicy>,
    capacity: usize,
    max_connected: usize,
    session: SessionConfig,
    guard: Option<Arc<dyn UpdateGuard>>,
    max_load_attempts: u32,
    quarantine: Mutex<Quarantine>,
    slots: Mutex<Slots>,
    next_client: AtomicU64,
}

/// Every live session of every tenant, loaded from [`Storage`] on demand and kept in a
/// bounded LRU.
///
/// - A miss loads the session once, however many tasks ask for it at the same time.
/// - Eviction flushes anything not yet durable first, and a session evicted while its
///   flush runs is handed back rather than reloaded, so eviction never loses data.
/// - Sessions with connected clients ([`Hub::join`]) are pinned and never evicted.
/// - When the hub is full, the tenant with the most live sessions gives one up (its least
///   recently used idle one), so one tenant cannot push everyone else's sessions out. A
///   tenant holding no more than its fair share (capacity divided by the tenants with
///   live sessions) never gives one up for another tenant's sake.
/// - So the capacity is exact except for sessions pinned by connected clients and loads in
///   flight: those can hold the hub over capacity rather than push out a tenant within its
///   share; the excess is trimmed at the next miss once they settle.
///
/// `Hub` is cheap to clone; clones share the same sessions. It is also the in-process
/// [`Merge`].
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl Hub {
    /// Starts building a hub over `storage`.
    pub fn builder(storage: impl Storage) -> HubBuilder {
        Self::builder_shared(Arc::new(storage))
    }

    /// Starts building a hub over already shared storage.
    pub fn builder_shared(storage: Arc<dyn Storage>) -> HubBuilder {
        HubBuilder {
            storage,
            policy: Arc::new(OpenPolicy::default()),
            capacity: DEFAULT_CAPACITY,
            max_connected: None,
            session: SessionConfig::default(),
            guard: None,
            max_load_attempts: DEFAULT_MAX_LOAD_ATTEMPTS,
            cluster: None,
        }
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The bookkeeping is plain data updated in small steps that cannot panic halfway;
        // a poisoned lock is still consistent, so recover it rather than cascade panics.
        self.inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The policy sessions are governed by.
    pub fn policy(&self) -> &Arc<dyn SessionPolicy> {
        &self.inner.policy
    }

    /// The live session for `key`, loading it from storage on a miss.
    pub async fn session(&self, key: &DocKey) -> Result<Arc<Session>> {
        for _ in 0..EVICTION_RETRIES {
            let (slot, _) = self.acquire(key, false)?;
            let session = self.load(key, &slot).await?;
            // Retired between lookup and now (a racing eviction): look again.
            if !session.is_retired() {
                return Ok(session);
            }
        }
        Err(Error::Evicted { key: key.clone() })
    }

    /// Admits a client to a session: asks the policy whether `credential` may join `key`,
    /// then pins the session in memory until the returned [`Connection`] drops.
    ///
    /// Refused with [`Error::PermissionDenied`] (or whatever the policy returns).
    pub async fn join(&self, key: &DocKey, credential: &[u8]) -> Result<Connection> {
        let access = self.inner.policy.authorize(key, credential).await?;
        let (slot, pin) = self.acquire(key, true)?;
        // `pin` releases the pin when dropped: if loading fails or this call is cancelled.
        let session = self.load(key, &slot).await?;
        let id = ClientId(self.inner.next_client.fetch_add(1, Ordering::Relaxed));
        Ok(Connection {
            id,
            access,
            session,
            _pin: pin,
        })
    }

    /// Finds or makes the slot for `key` (pinned if asked, with the guard that unpins it)
    /// and starts flushing whatever had to be evicted to make room. Synchronous, so a
    /// cancelled caller cannot leave a pin or an eviction half done.
    fn acquire(&self, key: &DocKey, pin: bool) -> Result<(Arc<Slot>, Option<Pin>)> {
        let limit = self.inner.max_connected;
        let acquired = self
            .slots()
            .acquire(key, pin, self.inner.capacity, limit)
            .ok_or_else(|| Error::TooManyConnectedSessions {
                key: key.clone(),
                limit,
            })?;
        let guard = pin.then(|| Pin {
            hub: self.clone(),
            key: key.clone(),
            slot: acquired.slot.clone(),
        });
        for (victim_key, victim) in acquired.victims {
            self.start_eviction(victim_key, victim);
        }
        Ok((acquired.slot, guard))
    }

    /// Flushes and retires an evicted session on a task of its own, retrying with backoff
    /// while storage fails; until then the session stays in memory and is handed back if
    /// asked for. Outside a tokio runtime nothing can run it: the session then waits in
    /// memory for [`flush_all`](Self::flush_all).
    fn start_eviction(&self, key: DocKey, session: Arc<Session>) {
        let hub = self.clone();
        let shown = key.clone();
        let work = async move {
            let mut delay = std::time::Duration::from_millis(50);
            loop {
                let retired = session
                    .flush_and_retire(|| hub.slots().finish_eviction(&key, &session))
                    .await;
                match retired {
                    Ok(true) => return hub.inner.policy.on_evicted(&key),
                    Ok(false) => return,
                    Err(e) => {
                        tracing::error!(%key, error = %e, "could not flush an evicted session; keeping it in memory and retrying");
                        if !hub.slots().is_evicting(&key, &session) {
                            return;
                        }
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(std::time::Duration::from_secs(30));
                    }
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(work);
            }
            Err(_) => {
                tracing::warn!(key = %shown, "no tokio runtime: evicted session kept until flush_all");
            }
        }
    }

    fn quarantine(&self) -> MutexGuard<'_, Quarantine> {
        // Plain counters: a poisoned lock is still consistent.
        self.inner
            .quarantine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn load(&self, key: &DocKey, slot: &Arc<Slot>) -> Result<Arc<Session>> {
        let inner = &self.inner;
        let outcome = slot
            .cell
            .get_or_init(|| async {
                if let Some(refusal) = self.quarantine().refusal(key, inner.max_load_attempts) {
                    return Err(refusal);
                }
                // Subscribe before reading the store: an update stored after the read is
                // then published after the subscription, and cannot be missed.
                let subscription = match &inner.cluster {
                    Some(bus) => Some(Subscription::open(bus.clone(), key.clone()).await),
                    None => None,
                };
                let loaded = Session::load(
                    key.clone(),
                    inner.storage.clone(),
                    inner.policy.clone(),
                    inner.guard.clone(),
                    inner.session.clone(),
                    subscription,
                )
                .await;
                self.quarantine()
                    .record(key, loaded.as_ref().map(|_| ()), inner.max_load_attempts);
                if loaded.is_ok() {
                    inner.policy.on_loaded(key);
                }
                loaded.map(Arc::new)
            })
            .await;
        match outcome {
            Ok(session) => {
                if let Some(bus) = &inner.cluster {
                    Self::after_clustered_load(&**bus, key, slot, session).await;
                }
                Ok(session.clone())
            }
            Err(e) => {
                self.slots().remove(key, slot);
                Err(e.clone())
            }
        }
    }

    /// Once a clustered session is in its slot: asks the other nodes for their presence
    /// (once, so answers find it there), and reads the store again if another node's
    /// message arrived while it loaded.
    async fn after_clustered_load(
        bus: &dyn ClusterBus,
        key: &DocKey,
        slot: &Slot,
        session: &Session,
    ) {
        if !slot.asked_presence.swap(true, Ordering::SeqCst) {
            bus.publish(key, NodeMessage::PresenceRequest);
        }
        if slot.missed.swap(false, Ordering::SeqCst) {
            if let Err(e) = session.catch_up().await {
                tracing::warn!(%key, error = %e, "catching up after a load failed");
            }
        }
    }

    /// Merges `update` into the session `key` (loading it if needed); see
    /// [`Session::apply`].
    pub async fn apply(&self, key: &DocKey, update: &[u8], origin: Origin) -> Result<Applied> {
        self.with_session(key, |s| async move { s.apply(update, origin).await })
            .await
    }

    async fn with_session<T, F, Fut>(&self, key: &DocKey, f: F) -> Result<T>
    where
        F: Fn(Arc<Session>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut last = None;
        for _ in 0..EVICTION_RETRIES {
            let session = self.session(key).await?;
            match f(session).await {
                Err(Error::Evicted { .. }) => last = Some(Error::Evicted { key: key.clone() }),
                other => return other,
            }
        }
        Err(last.unwrap_or(Error::Evicted { key: key.clone() }))
    }

    /// Flushes every session in memory, including ones being evicted: call it on shutdown.
    /// Returns the first error after trying them all.
    pub async fn flush_all(&self) -> Result<()> {
        let sessions = self.slots().all_sessions();
        let mut first_error = None;
        for session in sessions {
            match session.flush().await {
                Ok(()) | Err(Error::Evicted { .. }) => {}
                Err(e) => {
                    tracing::error!(key = %session.key(), error = %e, "flush failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Every session quarantined after repeated failed loads (see
    /// [`HubBuilder::max_load_attempts`]).
    pub fn quarantined_sessions(&self) -> Vec<DocKey> {
        self.quarantine().quarantined(self.inner.max_load_attempts)
    }

    /// Lets the hub try loading `key` again, after an operator repaired or replaced its
    /// stored data. Returns whether it was quarantined.
    pub fn release_quarantine(&self, key: &DocKey) -> bool {
        self.quarantine().release(key, self.inner.max_load_attempts)
    }

    /// How many sessions are live in memory.
    pub fn live_sessions(&self) -> usize {
        self.slots().live()
    }

    /// How many of `tenant`'s sessions are live in memory.
    pub fn live_sessions_of(&self, tenant: &TenantId) -> usize {
        self.slots().live_for(tenant)
    }

    /// How many evicted sessions are still in memory, waiting for their flush.
    pub fn evicting_sessions(&self) -> usize {
        self.slots().evicting_count()
    }

    /// How many sessions have connected clients.
    pub fn connected_sessions(&self) -> usize {
        self.slots().pinned_count()
    }

    /// The storage behind the hub.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }
}

#[async_trait]
impl Merge for Hub {
    async fn merge(&self, key: &DocKey, update: Bytes, origin: Origin) -> Result<Applied> {
        self.apply(key, &update, origin).await
    }

    async fn version(&self, key: &DocKey) -> Result<VersionVector> {
        self.with_session(key, |s| async move { s.version().await })
            .await
    }

    async fn missing_for(&self, key: &DocKey, peer_version: &VersionVector) -> Result<Bytes> {
        self.with_session(key, |s| async move { s.missing_for(peer_version).await })
            .await
    }

    async fn snapshot(&self, key: &DocKey) -> Result<Bytes> {
        self.with_session(key, |s| async move { s.snapshot().await })
            .await
    }
}

/// A client admitted to a session by [`Hub::join`]. While it lives, the session stays in
/// memory. Its updates are tagged `Origin::Client(self.id())`, so events carrying that
/// origin are this client's own and must not be sent back to it.
#[derive(Debug)]
pub struct Connection {
    id: ClientId,
    access: Access,
    session: Arc<Session>,
    _pin: Option<Pin>,
}

impl Connection {
    /// This client's id within the process.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// What the policy allowed this client to do.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The session this client is connected to (reads, version, subscriptions).
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Merges an update from this client. A read-only client is refused with
    /// [`Error::PermissionDenied`] and the document is left unchanged.
    pub async fn apply(&self, update: &[u8]) -> Result<Applied> {
        if !self.access.can_write() {
            return Err(Error::permission_denied(
                self.session.key(),
                "this client may only read",
            ));
        }
        self.session.apply(update, Origin::Client(self.id)).await
    }

    /// Merges a presence update (cursor, selection, name) from this client.
    pub fn apply_presence(&self, bytes: &[u8]) -> Result<()> {
        self.session.apply_presence(bytes, self.id)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Presence of a client that left must not linger until it expires.
        self.session.remove_presence_of(self.id);
    }
}

/// Releases one pin when dropped.
#[derive(Debug)]
struct Pin {
    hub: Hub,
    key: DocKey,
    slot: Arc<Slot>,
}

impl Drop for Pin {
    fn drop(&mut self) {
        let became_idle = self.hub.slots().unpin(&self.key, &self.slot);
        if became_idle {
            self.hub.inner.policy.on_idle(&self.key);
        }
    }
}
