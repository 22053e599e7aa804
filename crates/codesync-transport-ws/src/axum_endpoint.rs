//! The WebSocket endpoint as an axum `Router` (feature `axum`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use codesync_core::Hub;
use futures::{SinkExt, StreamExt};

use crate::connection::{serve_connection, Frame};
use crate::endpoint::{EndpointConfig, Gate};
use crate::error::Error;

/// The state behind [`router`]: the hub and the endpoint's checks.
#[derive(Debug, Clone)]
pub struct WsEndpoint {
    hub: Hub,
    gate: Arc<Gate>,
}

impl WsEndpoint {
    /// An endpoint serving `hub` with `config`.
    pub fn new(hub: Hub, config: EndpointConfig) -> Self {
        Self {
            hub,
            gate: Arc::new(Gate::new(config)),
        }
    }

    /// Upgrades `request` to a WebSocket speaking the Loro protocol, after the per-IP,
    /// origin and path checks. A request that is not a WebSocket upgrade gets `None`, so
    /// the caller can serve something else at the same URL (the editor page).
    ///
    /// The client IP comes from `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`) or the trusted proxy header.
    pub async fn upgrade(&self, request: Request) -> Option<Response> {
        let (mut parts, _body) = request.into_parts();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let forwarded = self.gate.forwarded_header().and_then(header);
        let peer = match (peer, forwarded) {
            (Some(peer), _) => peer,
            // Behind a trusted proxy the header names the client; the socket is the proxy.
            (None, Some(_)) => SocketAddr::from(([0, 0, 0, 0], 0)),
            (None, None) => {
                // Every client would share one rate-limit bucket: refuse loudly instead.
                tracing::error!(
                    "serve the router with into_make_service_with_connect_info::<SocketAddr>()"
                );
                let message = "server misconfigured: client addresses are unavailable";
                return Some((StatusCode::INTERNAL_SERVER_ERROR, message).into_response());
            }
        };
        let ip = self.gate.client_ip(&peer, forwarded);
        // Every request counts against its IP's budget, upgrade or not.
        if let Err(refusal) = self.gate.admit_ip(ip) {
            return Some(refusal_response(refusal));
        }
        let origin = header("origin").map(str::to_owned);
        let path = parts.uri.path().to_owned();
        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .ok()?;
        let slot = self
            .gate
            .admit_upgrade(origin.as_deref(), &path)
            .and_then(|()| self.gate.open_connection(ip));
        let slot = match slot {
            Ok(slot) => slot,
            Err(refusal) => return Some(refusal_response(refusal)),
        };
        let max = self.gate.connection.protocol.max_frame_bytes + 1024;
        let hub = self.hub.clone();
        let config = self.gate.connection.clone();
        Some(
            upgrade
                .max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| async move {
                    // Held for the connection's life: its place under the caps.
                    let _slot = slot;
                    serve_socket(socket, hub, config).await;
                }),
        )
    }
}

fn refusal_response(refusal: crate::endpoint::Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN);
    (status, refusal.reason).into_response()
}

async fn serve_socket(socket: WebSocket, hub: Hub, config: Arc<crate::ConnectionConfig>) {
    let frames = socket
        .filter_map(|message| async move {
            match message {
                Ok(WsMessage::Binary(bytes)) => Some(Ok(Frame::Binary(bytes))),
                Ok(WsMessage::Text(text)) => Some(Ok(Frame::Text(text.to_string()))),
                Ok(WsMessage::Close(_)) => Some(Ok(Frame::Close)),
                // WebSocket-level pings are answered by axum itself.
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
    serve_connection(frames, hub, config).await;
}

/// A `Router` serving the Loro protocol at `/{session}`; plain (non-upgrade) requests get
/// 426 Upgrade Required. Merge it into an existing app, or use [`WsEndpoint::upgrade`] to
/// serve something else to plain requests at the same URL.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::net::SocketAddr;
/// use codesync_core::{Hub, MemoryStorage};
/// use codesync_transport_ws::{router, EndpointConfig};
/// let hub = Hub::builder(MemoryStorage::new()).build();
/// let app = router(hub, EndpointConfig::default());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
/// # }
/// ```
pub fn router(hub: Hub, config: EndpointConfig) -> Router {
    Router::new()
        .route("/{session}", get(upgrade_or_426))
        .with_state(WsEndpoint::new(hub, config))
}

async fn upgrade_or_426(State(endpoint): State<WsEndpoint>, request: Request) -> Response {
    match endpoint.upgrade(request).await {
        Some(response) => response,
        None => (
            StatusCode::UPGRADE_REQUIRED,
            "connect with a WebSocket client",
        )
            .into_response(),
    }
}
