//! The in-memory harness shared by the connection-loop tests.
#![allow(dead_code, unreachable_pub)]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use codesync_core::Hub;
use codesync_transport_ws::protocol::{self, BatchId, Body, Magic, Message};
use codesync_transport_ws::{serve_connection, ConnectionConfig, Frame};
use futures::channel::mpsc;
use futures::{Sink, Stream, StreamExt};
use loro::{ExportMode, LoroDoc};

/// The server's side of an in-memory socket.
pub struct Duplex {
    incoming: mpsc::UnboundedReceiver<Result<Frame, String>>,
    outgoing: mpsc::Sender<Frame>,
}

impl Stream for Duplex {
    type Item = Result<Frame, String>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.incoming).poll_next(cx)
    }
}

impl Sink<Frame> for Duplex {
    type Error = String;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.outgoing)
            .poll_ready(cx)
            .map_err(|e| e.to_string())
    }
    fn start_send(mut self: Pin<&mut Self>, item: Frame) -> Result<(), String> {
        Pin::new(&mut self.outgoing)
            .start_send(item)
            .map_err(|e| e.to_string())
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.outgoing)
            .poll_flush(cx)
            .map_err(|e| e.to_string())
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.outgoing)
            .poll_close(cx)
            .map_err(|e| e.to_string())
    }
}

/// The client's side: what it sends, and what the server wrote (a channel of `capacity`,
/// which a client that "stops reading" simply never drains).
pub struct TestClient {
    pub send: mpsc::UnboundedSender<Result<Frame, String>>,
    pub recv: mpsc::Receiver<Frame>,
    pub served: tokio::task::JoinHandle<()>,
}

pub fn connect(hub: &Hub, config: ConnectionConfig, capacity: usize) -> TestClient {
    let (send, incoming) = mpsc::unbounded();
    let (outgoing, recv) = mpsc::channel(capacity);
    let socket = Duplex { incoming, outgoing };
    let served = tokio::spawn(serve_connection(socket, hub.clone(), Arc::new(config)));
    TestClient { send, recv, served }
}

impl TestClient {
    pub fn send(&self, message: &Message) {
        self.send
            .unbounded_send(Ok(Frame::Binary(Bytes::from(protocol::encode(message)))))
            .expect("server is reading");
    }

    pub fn join(&self, room: &str) {
        self.send(&Message {
            magic: Magic::Loro,
            room: room.to_owned(),
            body: Body::JoinRequest {
                auth: Bytes::new(),
                version: Bytes::new(),
            },
        });
    }

    pub fn update(&self, room: &str, update: Vec<u8>, id: u64) {
        self.send(&Message {
            magic: Magic::Loro,
            room: room.to_owned(),
            body: Body::DocUpdate {
                updates: vec![Bytes::from(update)],
                batch_id: BatchId::from_u64(id),
            },
        });
    }

    pub async fn next(&mut self) -> Message {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), self.recv.next())
                .await
                .expect("a frame in time")
                .expect("the server is writing");
            if let Frame::Binary(bytes) = frame {
                return protocol::decode(&bytes, &protocol::Limits::default()).expect("decodes");
            }
        }
    }
}

pub fn typed(peer: u64, text: &str) -> Vec<u8> {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.export(ExportMode::all_updates()).expect("export")
}

impl TestClient {
    /// Joins a room of any kind with credentials.
    pub fn join_with(&self, magic: Magic, room: &str, auth: &[u8]) {
        self.send(&Message {
            magic,
            room: room.to_owned(),
            body: Body::JoinRequest {
                auth: Bytes::copy_from_slice(auth),
                version: Bytes::new(),
            },
        });
    }

    /// The next message, or `None` if nothing arrives within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Message> {
        loop {
            match tokio::time::timeout(wait, self.recv.next()).await {
                Ok(Some(Frame::Binary(bytes))) => {
                    return protocol::decode(&bytes, &protocol::Limits::default()).ok();
                }
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }
}

/// Reads with "reader", writes with "writer", refuses anything else.
#[derive(Debug)]
pub struct Passwords;

#[async_trait::async_trait]
impl codesync_core::SessionPolicy for Passwords {
    async fn authorize(
        &self,
        key: &codesync_core::DocKey,
        credential: &[u8],
    ) -> codesync_core::Result<codesync_core::Access> {
        match credential {
            b"writer" => Ok(codesync_core::Access::ReadWrite),
            b"reader" => Ok(codesync_core::Access::Read),
            _ => Err(codesync_core::Error::permission_denied(
                key,
                "wrong password",
            )),
        }
    }

    fn limits(&self, tenant: &codesync_core::TenantId) -> codesync_core::Limits {
        codesync_core::LimitsConfig::default()
            .for_tenant(tenant)
            .clone()
    }
}
