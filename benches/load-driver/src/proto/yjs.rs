//! The y-websocket protocol (`@y/websocket-server`): y-protocols messages, one per binary
//! frame. On connect the client sends sync step 1 (its state vector) and answers the
//! server's step 1 with step 2 (what the server lacks); it is in sync once the server's
//! step 2 arrives. Each transaction goes out as a sync "update" message. The server sends
//! no acknowledgement.

use anyhow::Result;
use bytes::Bytes;
use yrs::encoding::read::Cursor;
use yrs::sync::{Message, MessageReader, SyncMessage};
use yrs::updates::decoder::DecoderV1;
use yrs::updates::encoder::Encode;
use yrs::StateVector;

use super::ws::{self, Frame, Ws};
use super::Event;
use crate::crdt::yjs::YjsReplica;

/// A y-websocket connection (the document is the URL path).
#[derive(Debug)]
pub(crate) struct YjsConn {
    ws: Ws,
}

impl YjsConn {
    /// Connects and syncs with the server; returns the updates received while syncing.
    pub(crate) async fn connect(url: &str, replica: &YjsReplica) -> Result<(Self, Vec<Event>)> {
        let mut conn = Self {
            ws: ws::connect(url).await?,
        };
        let step1 = Message::Sync(SyncMessage::SyncStep1(replica.state_vector()));
        ws::send_binary(&mut conn.ws, step1.encode_v1()).await?;
        let mut early = Vec::new();
        loop {
            let Frame::Binary(bytes) = ws::next_frame(&mut conn.ws).await? else {
                continue;
            };
            let mut synced = false;
            for message in decode_frame(&bytes) {
                match message {
                    Ok(Message::Sync(SyncMessage::SyncStep2(update))) => {
                        synced = true;
                        early.push(Event::Updates(vec![Bytes::from(update)]));
                    }
                    Ok(Message::Sync(SyncMessage::SyncStep1(sv))) => {
                        conn.answer(replica, &sv).await?;
                    }
                    Ok(other) => early.extend(event_of(other)),
                    Err(e) => early.push(e),
                }
            }
            if synced {
                return Ok((conn, early));
            }
        }
    }

    /// Sends one transaction as a sync update message. No ticket: nothing acks it.
    pub(crate) async fn send_update(&mut self, update: &Bytes) -> Result<Option<u64>> {
        let message = Message::Sync(SyncMessage::Update(update.to_vec()));
        ws::send_binary(&mut self.ws, message.encode_v1()).await?;
        Ok(None)
    }

    /// Answers a sync step 1 with step 2.
    pub(crate) async fn answer(
        &mut self,
        replica: &YjsReplica,
        remote: &StateVector,
    ) -> Result<()> {
        let step2 = Message::Sync(SyncMessage::SyncStep2(replica.diff(remote)));
        ws::send_binary(&mut self.ws, step2.encode_v1()).await
    }

    /// The next events (cancel-safe: decoding happens after the only await).
    pub(crate) async fn recv(&mut self) -> Result<Vec<Event>> {
        let bytes = match ws::next_frame(&mut self.ws).await? {
            Frame::Binary(bytes) => bytes,
            Frame::Text(t) => return Ok(vec![Event::ProtocolError(format!("text frame {t:?}"))]),
        };
        Ok(decode_frame(&bytes)
            .into_iter()
            .flat_map(|m| match m {
                Ok(message) => event_of(message),
                Err(e) => Some(e),
            })
            .collect())
    }

    /// Closes the socket.
    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Every y-protocols message in a frame (y-websocket sends one per frame; more are legal).
fn decode_frame(bytes: &[u8]) -> Vec<Result<Message, Event>> {
    let mut decoder = DecoderV1::new(Cursor::new(bytes));
    MessageReader::new(&mut decoder)
        .map(|m| {
            m.map_err(|e| Event::ProtocolError(format!("undecodable y-protocols message: {e}")))
        })
        .collect()
}

/// What a message means to the client loop (awareness and the like mean nothing here).
fn event_of(message: Message) -> Option<Event> {
    match message {
        Message::Sync(SyncMessage::Update(u)) | Message::Sync(SyncMessage::SyncStep2(u)) => {
            Some(Event::Updates(vec![Bytes::from(u)]))
        }
        Message::Sync(SyncMessage::SyncStep1(sv)) => Some(Event::SyncRequest(sv)),
        Message::Auth(Some(reason)) => Some(Event::Fatal(format!("permission denied: {reason}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_y_protocols_encoding() {
        let update = Message::Sync(SyncMessage::Update(vec![1, 2, 3])).encode_v1();
        // lib0: varuint 0 (sync), varuint 2 (update), varuint length 3, the bytes.
        assert_eq!(update, vec![0, 2, 3, 1, 2, 3]);
        let mut two = update.clone();
        two.extend(Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1());
        let events: Vec<_> = decode_frame(&two).into_iter().map(|m| m.ok()).collect();
        assert_eq!(events.len(), 2);
        assert!(matches!(
            event_of(events[0].clone().expect("decodes")),
            Some(Event::Updates(u)) if u[0].as_ref() == [1, 2, 3]
        ));
        assert!(matches!(
            event_of(events[1].clone().expect("decodes")),
            Some(Event::SyncRequest(_))
        ));
    }
}
