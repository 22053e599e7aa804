//! [`EngineSync`]: the fallback combinator that keeps a gateway's in-process hub and the
//! engine in step.

mod driver;
mod jobs;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{Access, Change, DocKey, Hub, Limits, Origin, SessionPolicy, TenantId};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::SyncConfig;
use crate::error::{Error, Result};
use crate::remote::RemoteMerge;

/// What the session hooks hand to the sync task. Hooks run under the session's lock, so
/// they only send on this channel and never wait.
#[derive(Debug)]
enum Event {
    /// A client's update was merged locally: forward it.
    Changed { key: DocKey, update: Bytes },
    /// A session was loaded: pull what the engine has, push what it lacks.
    Loaded { key: DocKey },
    /// Reconcile a session (asked for explicitly, e.g. for every stored session at start).
    Reconcile { key: DocKey },
    /// A session left memory: forget its bookkeeping once idle.
    Evicted { key: DocKey },
    /// Answered once every earlier event has been taken into account.
    Barrier(oneshot::Sender<()>),
}

/// Keeps a gateway's in-process [`Hub`] and the engine ([`RemoteMerge`]) in step: the
/// fallback half of the Merge seam.
///
/// The hub merges every client update in-process and makes it durable in the gateway's
/// own storage before the client is acknowledged, so the engine being down never blocks
/// or loses an edit. Around it:
///
/// - **Forward**: every update a client merged (hook [`SessionPolicy::on_changed`], origin
///   [`Origin::Client`]) goes to the engine (`POST /merge`) at once, concurrently with the
///   local broadcast and fsync. Updates of one session are sent in order, one request at a
///   time; those that queue up meanwhile are coalesced into one (what the engine lacks,
///   exported from the hub).
/// - **Fallback**: when the engine cannot be reached (or answers 5xx/401/403/429), the
///   session is marked for replay and nothing more is sent; the updates are safe in the
///   hub and its storage.
/// - **Replay**: a background task probes `/readyz` with exponential backoff; once the
///   engine answers, each marked session is reconciled: the engine's version
///   (`GET /version`), then exactly what it lacks (`Merge::missing_for` on the hub) in one
///   `POST /merge`, with at most [`SyncConfig::replay_concurrency`] sessions at a time.
/// - **Pull**: when a session is loaded (hook [`SessionPolicy::on_loaded`]), the same
///   reconciliation first fetches what the engine has that the hub lacks
///   (`POST /updates-since` from the hub's version) and applies it with
///   [`Origin::Replay`], which the hook does not forward again. (`Origin::Node` would not
///   be stored locally, and later local updates building on those ops could then not be
///   reloaded from the gateway's store.)
///
/// Replay marks live in memory. A gateway that restarts should call
/// [`reconcile_stored`](Self::reconcile_stored) so that sessions it accepted updates for
/// while the engine was down are replayed even if no client reopens them.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use codesync_core::{Hub, MemoryStorage, OpenPolicy};
/// use codesync_merge_remote::{EngineSync, RemoteConfig, RemoteMerge, Secret, SyncConfig};
///
/// let remote = RemoteMerge::new(RemoteConfig::new(
///     "http://127.0.0.1:8090",
///     Secret::new("0123456789abcdef")?,
/// )?)?;
/// let sync = EngineSync::new(remote, SyncConfig::default());
/// let hub = Hub::builder(MemoryStorage::new())
///     .policy(sync.policy(OpenPolicy::default()))
///     .build();
/// let _task = sync.start(hub)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EngineSync {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    remote: RemoteMerge,
    config: SyncConfig,
    events: mpsc::UnboundedSender<Event>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
    engine_up: AtomicBool,
    /// True while nothing is queued or in flight (or the engine is down and every session
    /// with work is marked for replay).
    settled: watch::Sender<bool>,
}

impl EngineSync {
    /// A sync with `remote` as the engine. Nothing runs until [`start`](Self::start);
    /// events raised before that wait in its queue.
    pub fn new(remote: RemoteMerge, config: SyncConfig) -> Self {
        let (events, receiver) = mpsc::unbounded_channel();
        let (settled, _) = watch::channel(true);
        Self {
            shared: Arc::new(Shared {
                remote,
                config,
                events,
                receiver: Mutex::new(Some(receiver)),
                engine_up: AtomicBool::new(true),
                settled,
            }),
        }
    }

    /// Wraps `inner` (authorisation, limits, its own hooks) with the hooks this sync needs.
    /// Build the hub with it.
    pub fn policy<P: SessionPolicy>(&self, inner: P) -> SyncPolicy<P> {
        SyncPolicy {
            inner,
            sync: self.clone(),
        }
    }

    /// Starts the background task over `hub` (built with [`policy`](Self::policy)) on the
    /// current tokio runtime. Call it once (a second call is refused with
    /// [`Error::AlreadyStarted`]); the task runs until the returned handle is aborted or the
    /// runtime stops.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(&self, hub: Hub) -> Result<JoinHandle<()>> {
        let receiver = self
            .shared
            .receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let receiver = receiver.ok_or(Error::AlreadyStarted)?;
        let driver = driver::Driver::new(self.shared.clone(), hub, receiver);
        Ok(tokio::spawn(driver.run()))
    }

    /// Marks every session `hub`'s storage holds for `tenant` for reconciliation with the
    /// engine (pull, then push what the engine lacks). Call it at start-up: replay marks
    /// of a previous process are gone, and its store may hold updates the engine missed.
    /// Returns how many sessions were marked.
    pub async fn reconcile_stored(&self, hub: &Hub, tenant: &TenantId) -> Result<usize> {
        let sessions = hub.storage().list(tenant).await?;
        let count = sessions.len();
        for session in sessions {
            self.send(Event::Reconcile {
                key: DocKey::new(tenant.clone(), session),
            });
        }
        Ok(count)
    }

    /// Marks one session for reconciliation with the engine.
    pub fn reconcile(&self, key: &DocKey) {
        self.send(Event::Reconcile { key: key.clone() });
    }

    /// Whether the engine answered the last request or probe.
    pub fn engine_up(&self) -> bool {
        self.shared.engine_up.load(Ordering::Acquire)
    }

    /// The remote engine this sync forwards to.
    pub fn remote(&self) -> &RemoteMerge {
        &self.shared.remote
    }

    /// Waits until nothing is queued or in flight for the engine, or until `timeout`;
    /// returns whether it settled. While the engine is down the sync counts as settled
    /// (its work waits in the hub's storage for the replay). For shutdown and tests.
    pub async fn settled(&self, timeout: Duration) -> bool {
        let wait = async {
            // Every event sent before this call is accounted for once the barrier returns.
            let (done, barrier) = oneshot::channel();
            self.send(Event::Barrier(done));
            if barrier.await.is_err() {
                return false; // the task is gone
            }
            let mut settled = self.shared.settled.subscribe();
            let outcome = settled.wait_for(|settled| *settled).await.is_ok();
            outcome
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    fn send(&self, event: Event) {
        // Only fails once the task is gone (the runtime is shutting down): nothing to do.
        let _ = self.shared.events.send(event);
    }
}

/// A [`SessionPolicy`] that defers to `inner` for everything and also tells an
/// [`EngineSync`] about changes, loads and evictions. Made by [`EngineSync::policy`].
#[derive(Debug)]
pub struct SyncPolicy<P> {
    inner: P,
    sync: EngineSync,
}

#[async_trait]
impl<P: SessionPolicy> SessionPolicy for SyncPolicy<P> {
    async fn authorize(&self, key: &DocKey, credential: &[u8]) -> codesync_core::Result<Access> {
        self.inner.authorize(key, credential).await
    }

    fn limits(&self, tenant: &TenantId) -> Limits {
        self.inner.limits(tenant)
    }

    fn on_loaded(&self, key: &DocKey) {
        self.inner.on_loaded(key);
        self.sync.send(Event::Loaded { key: key.clone() });
    }

    fn on_changed(&self, key: &DocKey, change: &Change) {
        self.inner.on_changed(key, change);
        // Only what clients of this process sent: `Replay` ops came from the engine.
        if matches!(change.origin, Origin::Client(_)) {
            self.sync.send(Event::Changed {
                key: key.clone(),
                update: change.update.clone(),
            });
        }
    }

    fn on_idle(&self, key: &DocKey) {
        self.inner.on_idle(key);
    }

    fn on_evicted(&self, key: &DocKey) {
        self.inner.on_evicted(key);
        self.sync.send(Event::Evicted { key: key.clone() });
    }
}
