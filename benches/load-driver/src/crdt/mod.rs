//! The two CRDTs the driver speaks: Loro (our server, loro-websocket, the relay) and Yjs
//! (y-websocket, Hocuspocus). Each has an author side (turns a trace transaction into one
//! update) and a replica side (what every simulated client holds).

pub(crate) mod loro;
pub(crate) mod yjs;

use anyhow::Result;

use crate::trace::Patch;

/// The text container every client edits; `examples/web/src/main.js` uses the same name,
/// so a browser opened on a session the driver wrote shows the text.
pub(crate) const TEXT: &str = "content";

/// Which CRDT a protocol carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Crdt {
    /// Loro 1.17 (`loro` crate).
    Loro,
    /// Yjs (`yrs` crate, wire-compatible with the JavaScript Yjs).
    Yjs,
}

/// How a receiver tells it has a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// The transaction's last op is `(peer, counter)`: a replica has it once its version
    /// vector (Loro) or state vector (Yjs) passes `counter` for `peer`.
    Op {
        /// Peer (Loro) or client id (Yjs) that authored the op.
        peer: u64,
        /// The op's counter (Loro) or clock (Yjs).
        counter: u32,
    },
    /// A Yjs transaction that only deletes: Yjs deletions carry no op id and do not move
    /// the state vector, so the receiver looks for this deleted item id in the delete sets
    /// of the updates it received.
    Deleted {
        /// Client id of the deleted item.
        peer: u64,
        /// Clock of the deleted item.
        counter: u32,
    },
}

/// One transaction turned into bytes.
#[derive(Debug, Clone)]
pub(crate) struct Authored {
    /// The update to send.
    pub(crate) update: Vec<u8>,
    /// How a receiver recognises it.
    pub(crate) marker: Marker,
    /// The author's counter (Loro) or clock (Yjs) after the transaction, minus one: orders
    /// one author's transactions, including Yjs delete-only ones.
    pub(crate) key: u32,
}

/// An author's document: one per agent (or writer), at exactly the version the agent had.
pub(crate) trait Author: Sized {
    /// Imports another author's update (the builder only imports causally ready ones).
    fn import(&mut self, update: &[u8]) -> Result<()>;
    /// Applies one transaction's patches and exports them as one update, or `None` when
    /// the transaction produced no op.
    fn apply(&mut self, patches: &[Patch]) -> Result<Option<Authored>>;
    /// The author's text.
    fn text(&self) -> String;
}

/// What an incoming update held, for counting duplicates: per author peer, the counter
/// ranges `[start, end)` of the ops it carried, and (Yjs) the item ids it deleted.
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    /// `(peer, start, end)` of the ops in the update.
    pub(crate) ranges: Vec<(u64, u32, u32)>,
    /// Whether importing it changed the replica (new ops applied or left pending).
    pub(crate) changed: bool,
}

/// A simulated client's document.
#[derive(Debug)]
pub(crate) enum Replica {
    /// A LoroDoc.
    Loro(loro::LoroReplica),
    /// A Yjs document.
    Yjs(yjs::YjsReplica),
}

impl Replica {
    /// An empty replica of `crdt`.
    pub(crate) fn new(crdt: Crdt) -> Self {
        match crdt {
            Crdt::Loro => Replica::Loro(loro::LoroReplica::new()),
            Crdt::Yjs => Replica::Yjs(yjs::YjsReplica::new()),
        }
    }

    /// Imports an update (local or received); an error means the bytes were refused.
    pub(crate) fn import(&mut self, update: &[u8]) -> Result<Coverage> {
        match self {
            Replica::Loro(r) => r.import(update),
            Replica::Yjs(r) => r.import(update),
        }
    }

    /// Whether the replica has the transaction `marker` identifies (as of the last import).
    pub(crate) fn has(&self, marker: &Marker) -> bool {
        match self {
            Replica::Loro(r) => r.has(marker),
            Replica::Yjs(r) => r.has(marker),
        }
    }

    /// The replica's text.
    pub(crate) fn text(&self) -> String {
        match self {
            Replica::Loro(r) => r.text(),
            Replica::Yjs(r) => r.text(),
        }
    }
}
