//! Where an update came from, so it is never echoed back to its source or stored twice.

use std::fmt;

/// Identifies one client connection within a process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client#{}", self.0)
    }
}

/// Identifies another server node sharing sessions with this one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId(pub u64);

/// The source of an update handed to a session.
///
/// | origin | stored by this session | broadcast to |
/// |---|---|---|
/// | `Client(c)` | yes | every local client but `c` |
/// | `Replay` | yes | every local client |
/// | `Node(n)` | no: node `n` already stored it in the shared store | every local client |
/// | `Storage` | no: read back from the shared store | every local client |
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Origin {
    /// Sent by a client connected to this process.
    Client(ClientId),
    /// Re-sent by a fallback that merged it while this merger was unavailable.
    Replay,
    /// Received from another node, which has already made it durable.
    Node(NodeId),
    /// Read back from the shared store, where other nodes put it (a catch-up).
    Storage,
}

impl Origin {
    /// Whether this session must make the update durable itself.
    pub fn needs_storing(self) -> bool {
        !matches!(self, Origin::Node(_) | Origin::Storage)
    }

    /// Whether the update must not be sent to `client` (it is the update's source).
    pub fn is_client(self, client: ClientId) -> bool {
        self == Origin::Client(client)
    }
}
