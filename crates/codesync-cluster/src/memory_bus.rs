//! An in-process bus: nodes of one process share sessions through a [`MemoryNetwork`].
//!
//! For tests and single-process demos. It runs the same driver as Redis and NATS, and its
//! hooks ([`cut_off`](MemoryNetwork::cut_off), [`restore`](MemoryNetwork::restore),
//! [`set_deaf`](MemoryNetwork::set_deaf), [`inject`](MemoryNetwork::inject)) make the
//! failures those can have: a lost connection (the driver reconnects, resubscribes and
//! catches up) and lost or garbled messages.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::NodeId;

use crate::backend::{Backend, ClosedFlag, Inbound, Link};
use crate::config::ClusterConfig;
use crate::driver::ClusterDriver;
use crate::error::ClusterError;

/// An in-process pub/sub network. Cheap to clone; clones are the same network.
///
/// ```
/// use codesync_cluster::{ClusterConfig, MemoryNetwork};
/// use codesync_core::NodeId;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let network = MemoryNetwork::new();
/// let bus = network.connect(ClusterConfig::default().with_node_id(NodeId(1))).await.unwrap();
/// assert!(bus.is_connected());
/// network.cut_off(NodeId(1)); // the driver now reconnects with backoff...
/// network.restore(NodeId(1)); // ...and succeeds once restored
/// # });
/// ```
#[derive(Clone, Default)]
pub struct MemoryNetwork {
    net: Arc<Mutex<Net>>,
}

#[derive(Default)]
struct Net {
    next_id: u64,
    links: HashMap<u64, Endpoint>,
    channels: HashMap<String, BTreeSet<u64>>,
    cut: HashSet<NodeId>,
    deaf: HashSet<NodeId>,
}

struct Endpoint {
    node: NodeId,
    inbound: Inbound,
    closed: ClosedFlag,
}

impl Net {
    fn remove_link(&mut self, id: u64) {
        if let Some(endpoint) = self.links.remove(&id) {
            endpoint.closed.close();
        }
        self.channels.retain(|_, links| {
            links.remove(&id);
            !links.is_empty()
        });
    }
}

fn registry() -> MutexGuard<'static, HashMap<String, Weak<Mutex<Net>>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Mutex<Net>>>>> = OnceLock::new();
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

impl MemoryNetwork {
    /// A new network, shared by whoever gets a clone.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide network called `name`, which `memory://name` URLs connect to; it
    /// lives as long as something uses it.
    pub fn named(name: &str) -> Self {
        let mut registry = registry();
        if let Some(net) = registry.get(name).and_then(Weak::upgrade) {
            return Self { net };
        }
        registry.retain(|_, net| net.strong_count() > 0);
        let network = Self::new();
        registry.insert(name.to_owned(), Arc::downgrade(&network.net));
        network
    }

    fn net(&self) -> MutexGuard<'_, Net> {
        self.net.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a bus for one node on this network.
    pub async fn connect(&self, config: ClusterConfig) -> Result<Arc<ClusterDriver>, ClusterError> {
        let (config, node) = config.resolve()?;
        let backend = MemoryBackend {
            network: self.clone(),
            node,
        };
        ClusterDriver::start(Box::new(backend), config, node).await
    }

    /// Cuts `node` off: its connections close, and it cannot connect until
    /// [`restore`](Self::restore)d. Messages published meanwhile do not reach it.
    pub fn cut_off(&self, node: NodeId) {
        let mut net = self.net();
        net.cut.insert(node);
        let ids: Vec<u64> = net
            .links
            .iter()
            .filter(|(_, endpoint)| endpoint.node == node)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            net.remove_link(id);
        }
    }

    /// Lets `node` connect again.
    pub fn restore(&self, node: NodeId) {
        self.net().cut.remove(&node);
    }

    /// While `deaf`, messages to `node` are silently lost (its connection stays up, so
    /// nothing tells it): the case a missing dependency or a later catch-up must mend.
    pub fn set_deaf(&self, node: NodeId, deaf: bool) {
        let mut net = self.net();
        if deaf {
            net.deaf.insert(node);
        } else {
            net.deaf.remove(&node);
        }
    }

    /// Delivers raw `payload` on `channel` to every subscriber, as a foreign client could.
    pub fn inject(&self, channel: &str, payload: Bytes) {
        for inbound in self.receivers(channel) {
            inbound(channel, payload.clone());
        }
    }

    /// How many connections are subscribed to `channel`.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.net().channels.get(channel).map_or(0, BTreeSet::len)
    }

    /// How many open connections `node` has.
    pub fn connections(&self, node: NodeId) -> usize {
        self.net()
            .links
            .values()
            .filter(|endpoint| endpoint.node == node)
            .count()
    }

    /// Where a message on `channel` goes: every subscribed connection of a node that is
    /// not deaf.
    fn receivers(&self, channel: &str) -> Vec<Inbound> {
        let net = self.net();
        let Some(ids) = net.channels.get(channel) else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|id| net.links.get(id))
            .filter(|endpoint| !net.deaf.contains(&endpoint.node))
            .map(|endpoint| endpoint.inbound.clone())
            .collect()
    }
}

impl fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let net = self.net();
        f.debug_struct("MemoryNetwork")
            .field("connections", &net.links.len())
            .field("channels", &net.channels.len())
            .field("cut_off", &net.cut)
            .finish()
    }
}

/// Connects one node to a [`MemoryNetwork`].
#[derive(Debug)]
struct MemoryBackend {
    network: MemoryNetwork,
    node: NodeId,
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn connect(&self, inbound: Inbound) -> Result<Arc<dyn Link>, ClusterError> {
        let mut net = self.network.net();
        if net.cut.contains(&self.node) {
            return Err(ClusterError::Link(format!(
                "node {} is cut off from the memory network",
                self.node.0
            )));
        }
        net.next_id += 1;
        let id = net.next_id;
        let closed = ClosedFlag::default();
        net.links.insert(
            id,
            Endpoint {
                node: self.node,
                inbound,
                closed: closed.clone(),
            },
        );
        Ok(Arc::new(MemoryLink {
            network: self.network.clone(),
            id,
            closed,
        }))
    }

    fn describe(&self) -> String {
        "memory://".to_owned()
    }
}

/// One node's connection to the network.
struct MemoryLink {
    network: MemoryNetwork,
    id: u64,
    closed: ClosedFlag,
}

impl MemoryLink {
    fn open_net(&self) -> Result<MutexGuard<'_, Net>, ClusterError> {
        let net = self.network.net();
        if net.links.contains_key(&self.id) {
            Ok(net)
        } else {
            Err(ClusterError::Closed)
        }
    }
}

#[async_trait]
impl Link for MemoryLink {
    async fn subscribe(&self, channel: &str) -> Result<(), ClusterError> {
        let mut net = self.open_net()?;
        net.channels
            .entry(channel.to_owned())
            .or_default()
            .insert(self.id);
        Ok(())
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), ClusterError> {
        let mut net = self.open_net()?;
        if let Some(links) = net.channels.get_mut(channel) {
            links.remove(&self.id);
            if links.is_empty() {
                net.channels.remove(channel);
            }
        }
        Ok(())
    }

    async fn publish(&self, batch: &[(String, Bytes)]) -> Result<(), ClusterError> {
        for (channel, payload) in batch {
            drop(self.open_net()?);
            for inbound in self.network.receivers(channel) {
                inbound(channel, payload.clone());
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), ClusterError> {
        self.open_net().map(drop)
    }

    async fn closed(&self) {
        self.closed.wait().await;
    }

    fn max_payload(&self) -> usize {
        usize::MAX
    }
}

impl Drop for MemoryLink {
    fn drop(&mut self) {
        self.network.net().remove_link(self.id);
    }
}
