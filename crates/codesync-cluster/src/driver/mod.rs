//! The bus driver: [`ClusterBus`] over any [`Backend`].
//!
//! Three background tasks share one [`Shared`] state:
//! - the supervisor ([`supervisor`]) holds the connection, checks it, and on loss
//!   reconnects with backoff, resubscribes, and has the hub catch up;
//! - the publisher ([`publisher`]) drains the outbound queue, and sends a `Refresh` for
//!   every session one of whose messages could not be sent;
//! - the inbound dispatcher ([`inbound`]) runs one short-lived task per session with
//!   messages, so sessions are merged in arrival order without waiting for each other.
//!
//! Subscriptions are counted per session ([`subscriptions`]).

pub(crate) mod inbound;
pub(crate) mod publisher;
pub(crate) mod subscriptions;
pub(crate) mod supervisor;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use codesync_core::{ClusterBus, ClusterInbox, DocKey, NodeId, NodeMessage};
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::backend::{Backend, ClosedFlag, Inbound, Link};
use crate::channel::channel_name;
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::stats::{ClusterStats, Counters};
use inbound::Dispatcher;
use publisher::Outbound;
use subscriptions::Table;

/// A cluster bus over Redis, NATS or the in-process memory network: what
/// [`connect`](crate::connect) returns, typed.
///
/// Give it to one hub ([`HubBuilder::cluster`](codesync_core::HubBuilder::cluster)). Its
/// background tasks end when that hub is dropped, or when the last handle to the bus is.
pub struct ClusterDriver {
    shared: Arc<Shared>,
}

/// The connection in use, numbered so a failure reported late cannot end a newer one.
#[derive(Clone)]
pub(crate) struct Current {
    pub(crate) generation: u64,
    pub(crate) link: Arc<dyn Link>,
}

/// Everything the driver's tasks share.
pub(crate) struct Shared {
    pub(crate) node: NodeId,
    pub(crate) config: ClusterConfig,
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) runtime: Handle,
    pub(crate) inbound: Arc<Dispatcher>,
    /// Handed to every new link: where it puts the messages it receives.
    pub(crate) sink: Inbound,
    link: Mutex<Option<Current>>,
    next_generation: Mutex<u64>,
    /// Woken when an operation found the connection broken.
    pub(crate) link_lost: Notify,
    pub(crate) subs: Table,
    pub(crate) outbound: Outbound,
    pub(crate) counters: Arc<Counters>,
    /// Set when the driver stops: its handle was dropped, or its hub.
    pub(crate) shutdown: ClosedFlag,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded value is updated in single steps that cannot panic halfway.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The connection in use, if the bus is up.
    pub(crate) fn current(&self) -> Option<Current> {
        lock(&self.link).clone()
    }

    fn install(&self, link: Arc<dyn Link>) -> u64 {
        let generation = {
            let mut next = lock(&self.next_generation);
            *next += 1;
            *next
        };
        *lock(&self.link) = Some(Current { generation, link });
        generation
    }

    fn uninstall(&self, generation: u64) {
        let mut link = lock(&self.link);
        if link.as_ref().map(|c| c.generation) == Some(generation) {
            *link = None;
        }
    }

    /// Reports that connection `generation` failed: it is no longer used, and the
    /// supervisor makes a new one.
    pub(crate) fn link_failed(&self, generation: u64, why: &str) {
        let mut link = lock(&self.link);
        if link.as_ref().map(|c| c.generation) == Some(generation) {
            *link = None;
            drop(link);
            tracing::warn!(server = %self.backend.describe(), reason = why, "cluster bus connection failed");
            self.link_lost.notify_one();
        }
    }

    pub(crate) fn channel(&self, key: &DocKey) -> String {
        channel_name(&self.config.prefix, key)
    }

    /// Whether the driver should keep working: not shut down, and its hub still exists.
    pub(crate) fn is_running(&self) -> bool {
        !self.shutdown.is_closed() && self.inbound.is_open()
    }
}

impl ClusterDriver {
    /// Starts a driver whose first connection is `backend`'s; fails if that connection
    /// cannot be made within the connect timeout.
    pub(crate) async fn start(
        backend: Box<dyn Backend>,
        config: ClusterConfig,
        node: NodeId,
    ) -> Result<Arc<Self>, ClusterError> {
        let counters = Arc::new(Counters::default());
        let runtime = Handle::try_current().map_err(|_| ClusterError::NoRuntime)?;
        let inbound = Arc::new(Dispatcher::new(
            node,
            config.prefix.clone(),
            config.inbound_capacity,
            runtime.clone(),
            counters.clone(),
        ));
        let sink: Inbound = {
            let inbound = inbound.clone();
            Arc::new(move |channel: &str, payload| inbound.on_message(channel, payload))
        };
        let first =
            match tokio::time::timeout(config.connect_timeout, backend.connect(sink.clone())).await
            {
                Ok(Ok(link)) => link,
                Ok(Err(e)) => {
                    return Err(ClusterError::Connect {
                        url: backend.describe(),
                        reason: e.to_string(),
                    })
                }
                Err(_) => {
                    return Err(ClusterError::Connect {
                        url: backend.describe(),
                        reason: format!("no connection within {:?}", config.connect_timeout),
                    })
                }
            };
        tracing::info!(server = %backend.describe(), node = node.0, "cluster bus connected");
        let shared = Arc::new(Shared {
            node,
            outbound: Outbound::new(config.queue_capacity),
            config,
            backend,
            runtime: runtime.clone(),
            inbound,
            sink,
            link: Mutex::new(None),
            next_generation: Mutex::new(0),
            link_lost: Notify::new(),
            subs: Table::default(),
            counters,
            shutdown: ClosedFlag::default(),
        });
        shared.install(first.clone());
        runtime.spawn(supervisor::run(shared.clone(), first));
        runtime.spawn(publisher::run(shared.clone()));
        Ok(Arc::new(Self { shared }))
    }

    /// This node's id, the sender of every message it publishes.
    pub fn node_id(&self) -> NodeId {
        self.shared.node
    }

    /// Whether the bus is connected now.
    pub fn is_connected(&self) -> bool {
        self.shared.current().is_some()
    }

    /// Counters since the bus started.
    pub fn stats(&self) -> ClusterStats {
        self.shared.counters.snapshot(self.is_connected())
    }

    /// The channel (Redis) or subject (NATS) carrying `key`'s messages.
    pub fn channel(&self, key: &DocKey) -> String {
        self.shared.channel(key)
    }

    /// How many times `key` is subscribed (calls to `subscribe` not yet undone).
    pub fn subscriptions(&self, key: &DocKey) -> usize {
        self.shared.subs.count(key)
    }

    /// Stops the background tasks and drops the connection; the bus does nothing after.
    /// Dropping the last handle, or the hub, does the same.
    pub fn close(&self) {
        self.shared.shutdown.close();
    }

    /// Lets a test deliver to something other than a hub.
    #[cfg(test)]
    pub(crate) fn attach_target(&self, target: Arc<dyn inbound::Target>) {
        self.shared.inbound.attach(target);
    }
}

impl Drop for ClusterDriver {
    fn drop(&mut self) {
        self.shared.shutdown.close();
    }
}

impl fmt::Debug for ClusterDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterDriver")
            .field("server", &self.shared.backend.describe())
            .field("node", &self.shared.node)
            .field("prefix", &self.shared.config.prefix)
            .field("connected", &self.is_connected())
            .finish()
    }
}

#[async_trait]
impl ClusterBus for ClusterDriver {
    fn attach(&self, inbox: ClusterInbox) {
        self.shared.inbound.attach(Arc::new(inbox));
    }

    async fn subscribe(&self, key: &DocKey) {
        subscriptions::subscribe(&self.shared, key).await;
    }

    fn unsubscribe(&self, key: &DocKey) {
        subscriptions::unsubscribe(&self.shared, key);
    }

    fn publish(&self, key: &DocKey, message: NodeMessage) {
        self.shared
            .outbound
            .publish(key, message, &self.shared.counters);
    }
}
