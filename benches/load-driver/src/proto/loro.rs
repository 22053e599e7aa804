//! Loro protocol v1 (codesync, loro-websocket), with the codec of `codesync-transport-ws`:
//! join the session's `%LOR` room, send each transaction as one DocUpdate (fragmented when
//! over the frame limit), turn DocUpdates into updates and Acks into ack events.
//!
//! The crate's `Client` is not used for the socket itself: it connects without
//! TCP_NODELAY and offers no way to set it, and every protocol here must share one socket
//! setup (see `ws.rs`). The frames are the same, built by the same codec.
//!
//! For the relay baseline (`join == false`) there is no handshake and no Ack: the relay
//! only forwards frames, and a JoinRequest would be forwarded to the other clients too.

use std::time::Instant;

use anyhow::{bail, Result};
use bytes::Bytes;
use codesync_transport_ws::protocol::{
    self, AckStatus, BatchId, Body, Limits, Magic, Message, Reassembled, Reassembler,
};

use super::ws::{self, Frame, Ws};
use super::Event;

/// A Loro protocol connection to one room.
#[derive(Debug)]
pub(crate) struct LoroConn {
    ws: Ws,
    room: String,
    limits: Limits,
    reassembler: Reassembler,
    next_batch: u64,
    acks: bool,
}

impl LoroConn {
    /// Connects; with `join`, joins `room` with `auth` and the replica's `version`, and
    /// returns the updates the server sent before the join completed.
    pub(crate) async fn connect(
        url: &str,
        room: &str,
        auth: &[u8],
        version: &[u8],
        join: bool,
    ) -> Result<(Self, Vec<Event>)> {
        let limits = Limits::default();
        let mut conn = Self {
            ws: ws::connect(url).await?,
            room: room.to_owned(),
            reassembler: Reassembler::new(limits.clone()),
            limits,
            next_batch: 1,
            acks: join,
        };
        let mut early = Vec::new();
        if join {
            let request = Message {
                magic: Magic::Loro,
                room: room.to_owned(),
                body: Body::JoinRequest {
                    auth: Bytes::copy_from_slice(auth),
                    version: Bytes::copy_from_slice(version),
                },
            };
            ws::send_binary(&mut conn.ws, protocol::encode(&request)).await?;
            loop {
                let Frame::Binary(bytes) = ws::next_frame(&mut conn.ws).await? else {
                    continue;
                };
                let message = protocol::decode(&bytes, &conn.limits)?;
                if message.magic != Magic::Loro || message.room != room {
                    continue;
                }
                match message.body {
                    Body::JoinResponseOk { .. } => break,
                    Body::JoinError { code, message, .. } => {
                        bail!("join refused: {code:?} {message}")
                    }
                    _ => early.extend(conn.handle(message)),
                }
            }
        }
        Ok((conn, early))
    }

    /// Sends one update as one batch; returns the ticket its Ack will carry (none for the
    /// relay, which does not ack).
    pub(crate) async fn send_update(&mut self, update: &Bytes) -> Result<Option<u64>> {
        let ticket = self.next_batch;
        self.next_batch += 1;
        let batch_id = BatchId::from_u64(ticket);
        let message = Message {
            magic: Magic::Loro,
            room: self.room.clone(),
            body: Body::DocUpdate {
                updates: vec![update.clone()],
                batch_id,
            },
        };
        if protocol::encoded_len(&message) <= self.limits.max_frame_bytes {
            ws::send_binary(&mut self.ws, protocol::encode(&message)).await?;
        } else {
            let parts = protocol::fragment(
                Magic::Loro,
                &self.room,
                batch_id,
                update,
                self.limits.max_frame_bytes,
            );
            for part in parts {
                ws::send_binary(&mut self.ws, protocol::encode(&part)).await?;
            }
        }
        Ok(self.acks.then_some(ticket))
    }

    /// The next events (cancel-safe: decoding happens after the only await).
    pub(crate) async fn recv(&mut self) -> Result<Vec<Event>> {
        let bytes = match ws::next_frame(&mut self.ws).await? {
            Frame::Binary(bytes) => bytes,
            Frame::Text(_) => return Ok(Vec::new()), // "pong"
        };
        let message = match protocol::decode(&bytes, &self.limits) {
            Ok(m) => m,
            Err(e) => {
                return Ok(vec![Event::ProtocolError(format!(
                    "undecodable frame: {e}"
                ))])
            }
        };
        if message.magic != Magic::Loro || message.room != self.room {
            return Ok(Vec::new());
        }
        Ok(self.handle(message).into_iter().collect())
    }

    fn handle(&mut self, message: Message) -> Option<Event> {
        match message.body {
            Body::DocUpdate { updates, .. } => Some(Event::Updates(updates)),
            Body::Ack { ref_id, status } => Some(Event::Ack {
                ticket: u64::from_be_bytes(ref_id.0),
                refused: (status != AckStatus::Ok).then(|| format!("{status:?}")),
            }),
            Body::FragmentHeader { .. } | Body::Fragment { .. } => {
                match self.reassembler.accept(message, Instant::now()) {
                    Ok(Some(Reassembled { payload, .. })) => Some(Event::Updates(vec![payload])),
                    Ok(None) => None,
                    Err(refusal) => Some(Event::ProtocolError(format!(
                        "fragments that do not reassemble: {}",
                        refusal.error()
                    ))),
                }
            }
            Body::RoomError { code, message } => {
                Some(Event::Fatal(format!("room error {code:?}: {message}")))
            }
            Body::JoinError { code, message, .. } => {
                Some(Event::Fatal(format!("join error {code:?}: {message}")))
            }
            Body::JoinRequest { .. } if !self.acks => None, // another relay client's
            Body::JoinRequest { .. } | Body::Leave => Some(Event::ProtocolError(
                "unexpected message from the server".into(),
            )),
            Body::JoinResponseOk { .. } => None,
        }
    }

    /// The protocol's keepalive.
    pub(crate) async fn keepalive(&mut self) -> Result<()> {
        ws::send_text(&mut self.ws, "ping").await
    }

    /// Closes the socket.
    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
