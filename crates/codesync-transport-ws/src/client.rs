//! A Rust client for the Loro protocol over WebSocket (feature `tungstenite`): what the
//! tests, benchmarks and load driver use to talk to a codesync server.

use std::time::Instant;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{Error, Result};
use crate::protocol::{self, BatchId, Body, Magic, Message, Reassembled, Reassembler};

/// What [`Client::recv_any`] received.
#[derive(Debug, Clone)]
pub enum Received {
    /// A protocol message (fragments already reassembled).
    Message(Message),
    /// A text frame, such as the keepalive `"pong"`.
    Text(String),
}

/// One WebSocket connection to a codesync (or any Loro protocol v1) server.
///
/// ```no_run
/// # async fn demo() -> codesync_transport_ws::Result<()> {
/// use codesync_transport_ws::Client;
/// use codesync_transport_ws::protocol::Magic;
/// let mut client = Client::connect("ws://127.0.0.1:8080/notes").await?;
/// client.join(Magic::Loro, "notes", b"", b"").await?;
/// let answer = client.recv().await?; // JoinResponseOk, then what the client lacks
/// # let _ = answer; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    reassembler: Reassembler,
    limits: protocol::Limits,
    next_batch: u64,
}

impl Client {
    /// Connects to `url` (`ws://HOST/<SESSION_ID>`).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_headers(url, &[]).await
    }

    /// Connects with extra request headers (for example `Origin`).
    pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Self> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url
            .into_client_request()
            .map_err(|e| Error::WebSocket(e.to_string()))?;
        for (name, value) in headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| Error::WebSocket(e.to_string()))?;
            let value = value
                .parse()
                .map_err(|_| Error::WebSocket("invalid header value".to_owned()))?;
            request.headers_mut().insert(name, value);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))?;
        let limits = protocol::Limits::default();
        Ok(Self {
            socket,
            reassembler: Reassembler::new(limits.clone()),
            limits,
            next_batch: 1,
        })
    }

    /// Sends one protocol message as it is (no fragmentation).
    pub async fn send(&mut self, message: &Message) -> Result<()> {
        self.send_raw(protocol::encode(message)).await
    }

    /// Sends raw bytes as one binary frame (for tests of malformed input).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.socket
            .send(WsMessage::Binary(bytes.into()))
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))
    }

    /// Sends a text frame (the keepalive is `"ping"`).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.socket
            .send(WsMessage::Text(text.into()))
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))
    }

    /// Asks to join a room.
    pub async fn join(
        &mut self,
        magic: Magic,
        room: &str,
        auth: &[u8],
        version: &[u8],
    ) -> Result<()> {
        self.send(&Message {
            magic,
            room: room.to_owned(),
            body: Body::JoinRequest {
                auth: Bytes::copy_from_slice(auth),
                version: Bytes::copy_from_slice(version),
            },
        })
        .await
    }

    /// Sends one update, fragmented if it does not fit a frame; returns the batch id the
    /// server's Ack will reference.
    pub async fn send_update(
        &mut self,
        magic: Magic,
        room: &str,
        update: &[u8],
    ) -> Result<BatchId> {
        let batch_id = BatchId(self.next_batch.to_be_bytes());
        self.next_batch += 1;
        let message = Message {
            magic,
            room: room.to_owned(),
            body: Body::DocUpdate {
                updates: vec![Bytes::copy_from_slice(update)],
                batch_id,
            },
        };
        let encoded = protocol::encode(&message);
        if encoded.len() <= self.limits.max_frame_bytes {
            self.send_raw(encoded).await?;
        } else {
            for part in
                protocol::fragment(magic, room, batch_id, update, self.limits.max_frame_bytes)
            {
                self.send(&part).await?;
            }
        }
        Ok(batch_id)
    }

    /// The next protocol message from the server, skipping text frames.
    pub async fn recv(&mut self) -> Result<Message> {
        loop {
            if let Received::Message(message) = self.recv_any().await? {
                return Ok(message);
            }
        }
    }

    /// The next frame from the server: a protocol message or a text frame. The server's
    /// keepalive pings are answered, and fragmented updates are reassembled into one
    /// `DocUpdate`.
    pub async fn recv_any(&mut self) -> Result<Received> {
        loop {
            let frame = self
                .socket
                .next()
                .await
                .ok_or_else(|| Error::WebSocket("connection closed".to_owned()))?
                .map_err(|e| Error::WebSocket(e.to_string()))?;
            match frame {
                WsMessage::Binary(bytes) => {
                    let message = protocol::decode(&bytes, &self.limits)?;
                    if !matches!(
                        message.body,
                        Body::FragmentHeader { .. } | Body::Fragment { .. }
                    ) {
                        return Ok(Received::Message(message));
                    }
                    if let Some(Reassembled {
                        magic,
                        room,
                        batch_id,
                        payload,
                    }) = self
                        .reassembler
                        .accept(message, Instant::now())
                        .map_err(|_| Error::Fragment {
                            reason: "the server sent a fragment batch that does not reassemble",
                        })?
                    {
                        return Ok(Received::Message(Message {
                            magic,
                            room,
                            body: Body::DocUpdate {
                                updates: vec![payload],
                                batch_id,
                            },
                        }));
                    }
                }
                WsMessage::Text(text) if text.as_str() == "ping" => self.send_text("pong").await?,
                WsMessage::Text(text) => return Ok(Received::Text(text.to_string())),
                WsMessage::Close(_) => {
                    return Err(Error::WebSocket("connection closed".to_owned()))
                }
                _ => {}
            }
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) -> Result<()> {
        self.socket
            .close(None)
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))
    }
}
