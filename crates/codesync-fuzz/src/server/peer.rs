//! One WebSocket peer of a codesync server, speaking the Loro protocol as an editor does:
//! join a room, send updates, wait for their Acks.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use codesync_transport_ws::protocol::{AckStatus, BatchId, Body, Magic, Message};
use codesync_transport_ws::Client;
use loro::VersionVector;

use super::ServerProcess;

/// How long the server may take to answer one message. Generous: a defended server may
/// restart worker processes on hostile input, and test builds are unoptimised.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// Why an update got no Ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The connection closed (or failed) before the Ack came.
    Closed(String),
    /// No Ack within the deadline.
    NoAnswer,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(why) => write!(f, "the connection closed: {why}"),
            SendError::NoAnswer => write!(f, "no answer within {} s", ANSWER_WITHIN.as_secs()),
        }
    }
}

/// A client connection.
#[derive(Debug)]
pub struct Peer {
    client: Client,
    /// Updates other peers' edits brought, by room, not yet taken by
    /// [`next_broadcast`](Peer::next_broadcast).
    broadcasts: VecDeque<(String, Vec<Vec<u8>>)>,
}

impl Peer {
    /// Connects to `server` (the path names `room`, as a browser's page would).
    pub async fn connect(server: &ServerProcess, room: &str) -> Result<Self, SendError> {
        let url = format!("ws://{}/{room}", server.addr());
        let client = Client::connect(&url)
            .await
            .map_err(|e| SendError::Closed(e.to_string()))?;
        Ok(Self {
            client,
            broadcasts: VecDeque::new(),
        })
    }

    /// Joins `room` as a peer with no document yet; returns what the server sent to
    /// catch it up (empty when the session is empty). `Err` on a join error too.
    pub async fn join(&mut self, room: &str) -> Result<Vec<Vec<u8>>, SendError> {
        self.client
            .join(Magic::Loro, room, b"", b"")
            .await
            .map_err(|e| SendError::Closed(e.to_string()))?;
        loop {
            match self.next(room).await? {
                Body::JoinResponseOk { version, .. } => {
                    let known = VersionVector::decode(&version).unwrap_or_default();
                    if known.is_empty() {
                        return Ok(Vec::new());
                    }
                    // The session has content: its backfill follows.
                    loop {
                        if let Body::DocUpdate { updates, .. } = self.next(room).await? {
                            return Ok(updates.iter().map(|u| u.to_vec()).collect());
                        }
                    }
                }
                Body::JoinError { message, .. } => {
                    return Err(SendError::Closed(format!("join refused: {message}")))
                }
                _ => {}
            }
        }
    }

    /// Leaves `room` (a socket holds a bounded number of rooms).
    pub async fn leave(&mut self, room: &str) -> Result<(), SendError> {
        let leave = Message {
            magic: Magic::Loro,
            room: room.to_owned(),
            body: Body::Leave,
        };
        self.client
            .send(&leave)
            .await
            .map_err(|e| SendError::Closed(e.to_string()))
    }

    /// Sends one update to `room` and waits for its Ack.
    pub async fn send(&mut self, room: &str, update: &[u8]) -> Result<AckStatus, SendError> {
        let statuses = self.send_all(room, &[update], 1).await?;
        Ok(statuses.into_iter().next().unwrap_or(AckStatus::Unknown))
    }

    /// Sends every update to `room` in order, at most `window` unacknowledged at once (as
    /// a fast typist's editor does); the Ack status of each, in order.
    pub async fn send_all(
        &mut self,
        room: &str,
        updates: &[&[u8]],
        window: usize,
    ) -> Result<Vec<AckStatus>, SendError> {
        let mut waiting: VecDeque<BatchId> = VecDeque::new();
        let mut statuses = Vec::with_capacity(updates.len());
        let mut next = updates.iter();
        loop {
            while waiting.len() < window.max(1) {
                let Some(update) = next.next() else { break };
                let id = self
                    .client
                    .send_update(Magic::Loro, room, update)
                    .await
                    .map_err(|e| SendError::Closed(e.to_string()))?;
                waiting.push_back(id);
            }
            let Some(&expected) = waiting.front() else {
                return Ok(statuses);
            };
            match self.next(room).await? {
                Body::Ack { ref_id, status } if ref_id == expected => {
                    waiting.pop_front();
                    statuses.push(status);
                }
                Body::DocUpdate { updates, .. } => {
                    let updates = updates.iter().map(|u| u.to_vec()).collect();
                    self.broadcasts.push_back((room.to_owned(), updates));
                }
                _ => {}
            }
        }
    }

    /// The next update another peer's edit brought to `room`.
    pub async fn next_broadcast(&mut self, room: &str) -> Result<Vec<Vec<u8>>, SendError> {
        if let Some(i) = self.broadcasts.iter().position(|(r, _)| r == room) {
            if let Some((_, updates)) = self.broadcasts.remove(i) {
                return Ok(updates);
            }
        }
        loop {
            if let Body::DocUpdate { updates, .. } = self.next(room).await? {
                return Ok(updates.iter().map(|u| u.to_vec()).collect());
            }
        }
    }

    /// The next message about `room` (presence and other rooms' messages are set aside or
    /// skipped); a `RoomError` ends the room for this peer and is reported as closed.
    async fn next(&mut self, room: &str) -> Result<Body, SendError> {
        loop {
            let message = tokio::time::timeout(ANSWER_WITHIN, self.client.recv())
                .await
                .map_err(|_| SendError::NoAnswer)?
                .map_err(|e| SendError::Closed(e.to_string()))?;
            if message.magic != Magic::Loro {
                continue;
            }
            match message.body {
                Body::RoomError { message: why, .. } if message.room == room => {
                    return Err(SendError::Closed(format!("room error: {why}")))
                }
                Body::DocUpdate { updates, .. } if message.room != room => {
                    let updates = updates.iter().map(|u| u.to_vec()).collect();
                    self.broadcasts.push_back((message.room, updates));
                }
                body if message.room == room => return Ok(body),
                _ => {}
            }
        }
    }
}
