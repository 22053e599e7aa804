//! The Hocuspocus protocol (`@hocuspocus/server` v2 to v4): every frame starts with the
//! document name (lib0 varString), then a varUint message type, then its payload. Sync
//! payloads are y-protocols sync messages. The server queues every message of a document
//! until the client has sent an Auth message (type 2, `Token`, then the token string), even
//! with no auth hook configured, then answers `Authenticated`; it acknowledges each
//! applied sync step 2 or update with `SyncStatus` (type 8, 1 = applied), in order, which
//! is what the ack latency measures. It closes a socket that has sent nothing for its
//! `timeout` (60 s by default), so idle readers send an awareness query now and then.

use std::collections::VecDeque;

use anyhow::{bail, Result};
use bytes::Bytes;
use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::StateVector;

use super::ws::{self, Frame, Ws};
use super::Event;
use crate::crdt::yjs::YjsReplica;

const SYNC: u32 = 0;
const AWARENESS: u32 = 1;
const AUTH: u32 = 2;
const QUERY_AWARENESS: u32 = 3;
const SYNC_REPLY: u32 = 4;
const CLOSE: u32 = 7;
const SYNC_STATUS: u32 = 8;

const STEP1: u32 = 0;
const STEP2: u32 = 1;
const UPDATE: u32 = 2;

const AUTH_TOKEN: u32 = 0;
const AUTH_DENIED: u32 = 1;
const AUTH_OK: u32 = 2;

/// The ticket of an acknowledgement the client loop does not wait for (our sync step 2).
const HANDSHAKE_TICKET: u64 = u64::MAX;

/// A decoded server message.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    /// Sync step 1 (state vector), from a Sync or SyncReply message.
    Step1(Vec<u8>),
    /// Sync step 2 or update: an update to apply.
    Update(Vec<u8>),
    /// Authentication succeeded (with the scope, "read-write" or "readonly").
    Authenticated(String),
    /// Authentication refused, with the reason.
    Denied(String),
    /// `SyncStatus`: whether the server applied our update.
    SyncStatus(bool),
    /// The server closes the document connection, with its reason.
    Close(String),
    /// Awareness states (presence); the driver has none and ignores others'.
    Awareness,
    /// Awareness and anything else the driver does not use.
    Other(u32),
}

/// Frames one message: document name, type, payload.
fn frame(doc: &str, kind: u32, payload: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    out.write_string(doc);
    out.write_var(kind);
    payload(&mut out);
    out
}

/// `Auth` with a token (what the provider sends first).
pub(crate) fn auth(doc: &str, token: &str) -> Vec<u8> {
    frame(doc, AUTH, |o| {
        o.write_var(AUTH_TOKEN);
        o.write_string(token);
    })
}

/// A sync message (`step` is STEP1, STEP2 or UPDATE) carrying `data`.
pub(crate) fn sync(doc: &str, step: u32, data: &[u8]) -> Vec<u8> {
    frame(doc, SYNC, |o| {
        o.write_var(step);
        o.write_buf(data);
    })
}

/// Asks for the document's awareness states (the idle keepalive).
pub(crate) fn query_awareness(doc: &str) -> Vec<u8> {
    frame(doc, QUERY_AWARENESS, |_| {})
}

/// Decodes a server frame into its document name and message.
pub(crate) fn decode(bytes: &[u8]) -> Result<(String, Incoming)> {
    let mut c = Cursor::new(bytes);
    let doc = c.read_string()?.to_owned();
    let kind: u32 = c.read_var()?;
    let message = match kind {
        SYNC | SYNC_REPLY => {
            let step: u32 = c.read_var()?;
            let data = c.read_buf()?.to_vec();
            match step {
                STEP1 => Incoming::Step1(data),
                STEP2 | UPDATE => Incoming::Update(data),
                other => bail!("unknown sync step {other}"),
            }
        }
        AUTH => match c.read_var::<u32>()? {
            AUTH_OK => Incoming::Authenticated(c.read_string()?.to_owned()),
            AUTH_DENIED => Incoming::Denied(c.read_string()?.to_owned()),
            _ => Incoming::Other(AUTH),
        },
        SYNC_STATUS => Incoming::SyncStatus(c.read_var::<u32>()? == 1),
        CLOSE => Incoming::Close(c.read_string().unwrap_or_default().to_owned()),
        AWARENESS => Incoming::Awareness,
        other => Incoming::Other(other),
    };
    Ok((doc, message))
}

/// A Hocuspocus connection to one document.
#[derive(Debug)]
pub(crate) struct HocuspocusConn {
    ws: Ws,
    doc: String,
    /// Tickets of our sync messages, oldest first: SyncStatus answers them in order.
    unacked: VecDeque<u64>,
    next_ticket: u64,
}

impl HocuspocusConn {
    /// Connects, authenticates with `token` and syncs; returns the updates received.
    pub(crate) async fn connect(
        url: &str,
        doc: &str,
        token: &str,
        replica: &YjsReplica,
    ) -> Result<(Self, Vec<Event>)> {
        let mut conn = Self {
            ws: ws::connect(url).await?,
            doc: doc.to_owned(),
            unacked: VecDeque::new(),
            next_ticket: 1,
        };
        ws::send_binary(&mut conn.ws, auth(doc, token)).await?;
        let sv = replica.state_vector().encode_v1();
        ws::send_binary(&mut conn.ws, sync(doc, STEP1, &sv)).await?;
        let (mut authenticated, mut synced) = (false, false);
        let mut early = Vec::new();
        while !(authenticated && synced) {
            let Frame::Binary(bytes) = ws::next_frame(&mut conn.ws).await? else {
                continue;
            };
            match decode(&bytes)? {
                (name, _) if name != doc => {}
                (_, Incoming::Authenticated(_)) => authenticated = true,
                (_, Incoming::Denied(reason)) => bail!("authentication refused: {reason}"),
                (_, Incoming::Update(u)) => {
                    synced = true;
                    early.push(Event::Updates(vec![Bytes::from(u)]));
                }
                (_, Incoming::Step1(sv)) => {
                    conn.answer(replica, &StateVector::decode_v1(&sv)?).await?
                }
                (_, other) => early.extend(conn.event_of(other)),
            }
        }
        Ok((conn, early))
    }

    /// Sends one transaction as a sync update; SyncStatus will answer its ticket.
    pub(crate) async fn send_update(&mut self, update: &Bytes) -> Result<Option<u64>> {
        ws::send_binary(&mut self.ws, sync(&self.doc, UPDATE, update)).await?;
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.unacked.push_back(ticket);
        Ok(Some(ticket))
    }

    /// Answers a sync step 1 with step 2 (the server acknowledges it too).
    pub(crate) async fn answer(
        &mut self,
        replica: &YjsReplica,
        remote: &StateVector,
    ) -> Result<()> {
        let frame = sync(&self.doc, STEP2, &replica.diff(remote));
        ws::send_binary(&mut self.ws, frame).await?;
        self.unacked.push_back(HANDSHAKE_TICKET);
        Ok(())
    }

    /// The next events (cancel-safe: decoding happens after the only await).
    pub(crate) async fn recv(&mut self) -> Result<Vec<Event>> {
        let bytes = match ws::next_frame(&mut self.ws).await? {
            Frame::Binary(bytes) => bytes,
            Frame::Text(t) => return Ok(vec![Event::ProtocolError(format!("text frame {t:?}"))]),
        };
        Ok(match decode(&bytes) {
            Ok((name, _)) if name != self.doc => Vec::new(),
            Ok((_, message)) => self.event_of(message).into_iter().collect(),
            Err(e) => vec![Event::ProtocolError(format!("undecodable frame: {e}"))],
        })
    }

    fn event_of(&mut self, message: Incoming) -> Option<Event> {
        match message {
            Incoming::Update(u) => Some(Event::Updates(vec![Bytes::from(u)])),
            Incoming::Step1(sv) => match StateVector::decode_v1(&sv) {
                Ok(sv) => Some(Event::SyncRequest(sv)),
                Err(e) => Some(Event::ProtocolError(format!("bad state vector: {e}"))),
            },
            Incoming::SyncStatus(applied) => match self.unacked.pop_front() {
                None => Some(Event::ProtocolError("SyncStatus for nothing sent".into())),
                Some(HANDSHAKE_TICKET) if applied => None,
                Some(ticket) => Some(Event::Ack {
                    ticket,
                    refused: (!applied).then(|| "SyncStatus(false)".to_owned()),
                }),
            },
            Incoming::Denied(reason) => Some(Event::Fatal(format!("permission denied: {reason}"))),
            Incoming::Close(reason) => Some(Event::Fatal(format!(
                "the server closed the document: {reason}"
            ))),
            Incoming::Authenticated(_) | Incoming::Awareness | Incoming::Other(_) => None,
        }
    }

    /// Keeps an idle reader from hitting the server's inactivity timeout.
    pub(crate) async fn keepalive(&mut self) -> Result<()> {
        ws::send_binary(&mut self.ws, query_awareness(&self.doc)).await
    }

    /// Closes the socket.
    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_frame_matches_the_provider_layout() {
        // varString "doc", varUint 2 (Auth), varUint 0 (Token), varString "" (no token).
        assert_eq!(auth("doc", ""), vec![3, b'd', b'o', b'c', 2, 0, 0]);
    }

    #[test]
    fn sync_frames_round_trip() {
        let f = sync("s-1", UPDATE, &[9, 8, 7]);
        assert_eq!(f, vec![3, b's', b'-', b'1', 0, 2, 3, 9, 8, 7]);
        assert_eq!(
            decode(&f).expect("decodes"),
            ("s-1".into(), Incoming::Update(vec![9, 8, 7]))
        );
        let step1 = sync("s-1", STEP1, &[0]);
        assert_eq!(decode(&step1).expect("decodes").1, Incoming::Step1(vec![0]));
    }

    #[test]
    fn server_messages_decode() {
        let mut ok = frame("d", AUTH, |o| {
            o.write_var(AUTH_OK);
            o.write_string("read-write");
        });
        assert_eq!(
            decode(&ok).expect("decodes").1,
            Incoming::Authenticated("read-write".into())
        );
        ok = frame("d", SYNC_STATUS, |o| o.write_var(1u32));
        assert_eq!(decode(&ok).expect("decodes").1, Incoming::SyncStatus(true));
        let reply = frame("d", SYNC_REPLY, |o| {
            o.write_var(STEP1);
            o.write_buf([0u8]);
        });
        assert_eq!(decode(&reply).expect("decodes").1, Incoming::Step1(vec![0]));
        let awareness = frame("d", AWARENESS, |o| o.write_buf([1u8, 2]));
        assert_eq!(decode(&awareness).expect("decodes").1, Incoming::Awareness);
        let close = frame("d", CLOSE, |o| o.write_string("Connection Timeout"));
        assert_eq!(
            decode(&close).expect("decodes").1,
            Incoming::Close("Connection Timeout".into())
        );
        // Truncated: a name longer than the frame.
        assert!(decode(&[9, b'a']).is_err());
    }

    #[test]
    fn long_names_use_multi_byte_varints() {
        let name = "n".repeat(200);
        let f = query_awareness(&name);
        assert_eq!(&f[..2], &[0xC8, 0x01]); // 200 = 0b1_1001000: low 7 bits + continuation
        assert_eq!(
            decode(&f).expect("decodes"),
            (name, Incoming::Other(QUERY_AWARENESS))
        );
    }
}
