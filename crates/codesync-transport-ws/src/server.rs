//! A standalone WebSocket server on tokio-tungstenite (feature `tungstenite`).

use std::net::SocketAddr;
use std::sync::Arc;

use codesync_core::Hub;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::connection::{serve_connection, Frame};
use crate::endpoint::{EndpointConfig, Gate, Refusal};
use crate::error::{Error, Result};

/// Serves the Loro protocol at `ws://ADDR/<SESSION_ID>` on its own listener.
///
/// ```no_run
/// # async fn demo() -> codesync_transport_ws::Result<()> {
/// use codesync_core::{Hub, MemoryStorage};
/// use codesync_transport_ws::{EndpointConfig, Server};
/// let hub = Hub::builder(MemoryStorage::new()).build();
/// let server = Server::bind("127.0.0.1:0", hub, EndpointConfig::default()).await?;
/// println!("listening on ws://{}/<SESSION_ID>", server.local_addr());
/// server.run().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    hub: Hub,
    gate: Arc<Gate>,
}

impl Server {
    /// Binds `addr` (use port 0 for any free port).
    pub async fn bind(addr: &str, hub: Hub, config: EndpointConfig) -> Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            listener,
            hub,
            gate: Arc::new(Gate::new(config)),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Accepts connections until the task is dropped.
    pub async fn run(self) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let hub = self.hub.clone();
                    let gate = self.gate.clone();
                    tokio::spawn(handle(stream, peer, hub, gate));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Runs the server on a task of its own.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }
}

fn refuse(refusal: Refusal) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(refusal.reason.to_owned()));
    *response.status_mut() =
        tokio_tungstenite::tungstenite::http::StatusCode::from_u16(refusal.status)
            .unwrap_or(tokio_tungstenite::tungstenite::http::StatusCode::FORBIDDEN);
    response
}

// The upgrade callback's signature, with its large error type, is tungstenite's.
#[allow(clippy::result_large_err)]
async fn handle(stream: TcpStream, peer: SocketAddr, hub: Hub, gate: Arc<Gate>) {
    let limits = &gate.connection.protocol;
    let mut ws_config = WebSocketConfig::default();
    // Well below tungstenite's 64 MiB default: one protocol frame, plus headroom.
    ws_config.max_message_size = Some(limits.max_frame_bytes + 1024);
    ws_config.max_frame_size = Some(limits.max_frame_bytes + 1024);
    // Every request counts against its IP's budget. Without a trusted proxy the socket
    // address is the client, so count at accept, before any parsing; behind a proxy the
    // client is only known from the request's header.
    let behind_proxy = gate.forwarded_header().is_some();
    if !behind_proxy {
        if let Err(refusal) = gate.admit_ip(peer.ip()) {
            tracing::debug!(%peer, reason = refusal.reason, "refused before the handshake");
            return;
        }
    }
    let slot = std::sync::Mutex::new(None);
    let check =
        |request: &Request, response: Response| -> std::result::Result<Response, ErrorResponse> {
            let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
            let ip = gate.client_ip(&peer, gate.forwarded_header().and_then(header));
            if behind_proxy {
                gate.admit_ip(ip).map_err(refuse)?;
            }
            gate.admit_upgrade(header("origin"), request.uri().path())
                .map_err(refuse)?;
            let taken = gate.open_connection(ip).map_err(refuse)?;
            if let Ok(mut place) = slot.lock() {
                *place = Some(taken);
            }
            Ok(response)
        };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(ws_config));
    let socket = match tokio::time::timeout(gate.config.handshake_timeout, handshake).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "upgrade refused or failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "handshake deadline passed");
            return;
        }
    };
    let frames = socket
        .filter_map(|message| async move {
            match message {
                Ok(WsMessage::Binary(bytes)) => Some(Ok(Frame::Binary(bytes))),
                Ok(WsMessage::Text(text)) => Some(Ok(Frame::Text(text.to_string()))),
                Ok(WsMessage::Close(_)) => Some(Ok(Frame::Close)),
                // WebSocket-level pings are answered by tungstenite itself.
                Ok(_) => None,
                Err(e) => Some(Err(Error::WebSocket(e.to_string()))),
            }
        })
        .with(|frame: Frame| async move {
            Ok::<_, Error>(match frame {
                Frame::Binary(bytes) => WsMessage::Binary(bytes),
                Frame::Text(text) => WsMessage::Text(text.into()),
                Frame::Close => WsMessage::Close(None),
            })
        });
    // Held for the connection's life: its place under the connection caps.
    let _slot = slot.into_inner().ok().flatten();
    serve_connection(frames, hub, gate.connection.clone()).await;
}
