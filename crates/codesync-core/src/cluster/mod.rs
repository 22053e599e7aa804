//! The **Cluster** seam: several nodes sharing sessions through a pub/sub bus and one
//! shared store.
//!
//! Every node that has a session live merges every update for it; CRDT merge makes
//! duplicates and reordering harmless. What crosses the bus is only what other nodes need
//! to stay live: the ops a node made durable, and presence. Never snapshots. The shared
//! [`Storage`](crate::Storage) is the source of truth; the bus only makes it fast:
//!
//! - a node publishes an update only after its durable append ([`Hub`](crate::Hub) wraps
//!   the storage so every append is published), so a node that subscribes and then reads
//!   the store cannot miss one;
//! - a session subscribes before it loads, and reads the store again if a message arrived
//!   while it was loading;
//! - an update whose dependencies a node lacks (it missed one), a [`NodeMessage::Refresh`],
//!   and a bus that comes back ([`ClusterInbox::reconnected`]) all make the node read the
//!   store and merge what it lacks ([`Session::catch_up`](crate::Session::catch_up)).
//!
//! The `codesync-cluster` crate implements [`ClusterBus`] over Redis and NATS.

mod publishing;

use std::fmt::Debug;

use async_trait::async_trait;
use bytes::Bytes;

use crate::key::DocKey;

pub use crate::hub::ClusterInbox;
pub(crate) use publishing::PublishingStorage;

/// What one node tells the others about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeMessage {
    /// New ops the sender has durably appended to the shared store: merge them.
    Update(Bytes),
    /// Presence of clients connected to the sender, as an `EphemeralStore` update.
    Presence(Bytes),
    /// These presence keys belonged to clients of the sender that have left.
    PresenceGone(Vec<String>),
    /// The sender just opened the session: send it your clients' presence.
    PresenceRequest,
    /// The sender stored updates it could not publish: read them from the store.
    Refresh,
}

/// A pub/sub bus connecting the nodes that share a store. Implement this for a new bus.
///
/// ## Contract
///
/// - Messages a node publishes are never delivered back to it.
/// - [`subscribe`](Self::subscribe) returns once every message published for the key
///   after it returns will be delivered (for example, once the server confirmed the
///   subscription). If the bus is down, it returns at once, subscribes when the bus is
///   back, and then calls [`ClusterInbox::reconnected`], which reads the store.
/// - [`publish`](Self::publish) never waits for the network. A message it cannot send
///   (the bus is down, its queue is full) must be followed, once it can, by a
///   [`NodeMessage::Refresh`] for that key, so no other node stays behind for long.
#[async_trait]
pub trait ClusterBus: Send + Sync + Debug + 'static {
    /// Called once, when the hub is built: where other nodes' messages are to go.
    fn attach(&self, inbox: ClusterInbox);

    /// Starts delivering `key`'s messages to the inbox. Calls are counted: the key stays
    /// subscribed until [`unsubscribe`](Self::unsubscribe) was called as often.
    async fn subscribe(&self, key: &DocKey);

    /// Undoes one [`subscribe`](Self::subscribe).
    fn unsubscribe(&self, key: &DocKey);

    /// Sends `message` to every other node that has `key` subscribed.
    fn publish(&self, key: &DocKey, message: NodeMessage);
}

/// Holds one subscription to a session's messages; unsubscribes when dropped.
#[derive(Debug)]
pub(crate) struct Subscription {
    bus: std::sync::Arc<dyn ClusterBus>,
    key: DocKey,
}

impl Subscription {
    pub(crate) async fn open(bus: std::sync::Arc<dyn ClusterBus>, key: DocKey) -> Self {
        bus.subscribe(&key).await;
        Self { bus, key }
    }

    pub(crate) fn bus(&self) -> &dyn ClusterBus {
        &*self.bus
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.bus.unsubscribe(&self.key);
    }
}
