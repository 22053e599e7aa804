//! The wire protocols, behind one connection type, so the client loop (and so what is
//! measured) is the same for all of them.

mod hocuspocus;
mod loro;
pub(crate) mod ws;
mod yjs;

use anyhow::Result;
use bytes::Bytes;
use yrs::StateVector;

use crate::cli::Protocol;
use crate::crdt::Replica;

#[cfg(test)]
pub(crate) use ws::Frame;

/// Something the server said that the client loop acts on.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// Updates to import into the replica.
    Updates(Vec<Bytes>),
    /// The outcome of one of our sends (by the ticket `send_update` returned).
    Ack {
        /// The send's ticket.
        ticket: u64,
        /// `None` when accepted, otherwise the refusal.
        refused: Option<String>,
    },
    /// Yjs sync step 1 from the server: answer with what it lacks.
    SyncRequest(StateVector),
    /// A message that breaks the protocol; counted, the connection goes on.
    ProtocolError(String),
    /// A message after which this client cannot go on (room error, permission denied).
    Fatal(String),
}

/// A connected, joined client of one session.
#[derive(Debug)]
pub(crate) enum Conn {
    /// Loro protocol v1 (codesync, loro-websocket) or its frames through the relay.
    Loro(loro::LoroConn),
    /// y-websocket.
    Yjs(yjs::YjsConn),
    /// Hocuspocus.
    Hocuspocus(hocuspocus::HocuspocusConn),
}

impl Conn {
    /// Connects to `{url}/{session}` and joins the session's document; returns the
    /// connection and whatever updates arrived while joining.
    pub(crate) async fn open(
        protocol: Protocol,
        url: &str,
        session: &str,
        token: &str,
        replica: &Replica,
    ) -> Result<(Self, Vec<Event>)> {
        let url = format!("{}/{session}", url.trim_end_matches('/'));
        match (protocol, replica) {
            (Protocol::Loro | Protocol::Relay, Replica::Loro(r)) => {
                let join = protocol == Protocol::Loro;
                let (c, early) =
                    loro::LoroConn::connect(&url, session, token.as_bytes(), &r.version(), join)
                        .await?;
                Ok((Conn::Loro(c), early))
            }
            (Protocol::Yjs, Replica::Yjs(r)) => {
                let (c, early) = yjs::YjsConn::connect(&url, r).await?;
                Ok((Conn::Yjs(c), early))
            }
            (Protocol::Hocuspocus, Replica::Yjs(r)) => {
                let (c, early) =
                    hocuspocus::HocuspocusConn::connect(&url, session, token, r).await?;
                Ok((Conn::Hocuspocus(c), early))
            }
            _ => anyhow::bail!("{protocol:?} does not carry this CRDT"),
        }
    }

    /// Sends one transaction's update; returns a ticket when the server will ack it.
    pub(crate) async fn send_update(&mut self, update: &Bytes) -> Result<Option<u64>> {
        match self {
            Conn::Loro(c) => c.send_update(update).await,
            Conn::Yjs(c) => c.send_update(update).await,
            Conn::Hocuspocus(c) => c.send_update(update).await,
        }
    }

    /// The next events; an error means the connection is gone. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Result<Vec<Event>> {
        match self {
            Conn::Loro(c) => c.recv().await,
            Conn::Yjs(c) => c.recv().await,
            Conn::Hocuspocus(c) => c.recv().await,
        }
    }

    /// Answers a Yjs sync step 1.
    pub(crate) async fn answer(&mut self, replica: &Replica, remote: &StateVector) -> Result<()> {
        match (self, replica) {
            (Conn::Yjs(c), Replica::Yjs(r)) => c.answer(r, remote).await,
            (Conn::Hocuspocus(c), Replica::Yjs(r)) => c.answer(r, remote).await,
            _ => Ok(()),
        }
    }

    /// Whatever keeps an idle connection open.
    pub(crate) async fn keepalive(&mut self) -> Result<()> {
        match self {
            Conn::Loro(c) => c.keepalive().await,
            Conn::Yjs(_) => Ok(()), // the server pings; tungstenite answers
            Conn::Hocuspocus(c) => c.keepalive().await,
        }
    }

    /// Closes the socket.
    pub(crate) async fn close(self) {
        match self {
            Conn::Loro(c) => c.close().await,
            Conn::Yjs(c) => c.close().await,
            Conn::Hocuspocus(c) => c.close().await,
        }
    }
}
