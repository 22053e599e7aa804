//! # codesync-transport-ws
//!
//! The Loro sync protocol, version 1, over WebSocket, on top of `codesync-core`.
//!
//! | feature | what it gives |
//! |---|---|
//! | `tungstenite` (default) | a standalone server ([`Server`]) and a Rust client ([`Client`]) |
//! | `axum` | [`router`] / [`WsEndpoint`] to mount the endpoint in an existing axum app |
//!
//! Wire-compatible with the official JavaScript client (`loro-websocket` with
//! `loro-adaptors`): `%LOR` rooms sync a Loro document, `%EPH` rooms its presence.
//! Every client batch is acknowledged, `ok` only once merged and durable; a join is
//! answered with the server's real version, then exactly what the client lacks; messages
//! over 256 KiB are fragmented both ways. [`serve_connection`] is the loop itself, generic
//! over `Sink + Stream` of [`Frame`]s.
//!
//! Before the upgrade: a per-IP rate limit (1000 requests/minute, then a 10-minute block),
//! an origin allow-list, and the path must name a session (`/<SESSION_ID>`). After it: a
//! per-connection message budget, join and handshake deadlines, frame and message limits,
//! a cap on rooms per connection, and a bounded outbound queue (a client that stops
//! reading is disconnected, never silently skipped). Access control is the hub's
//! `SessionPolicy`; [`security::TokenPolicy`] is a ready-made signed-token scheme.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use codesync_core::{Hub, MemoryStorage};
//! use codesync_transport_ws::protocol::{Body, Magic};
//! use codesync_transport_ws::{Client, EndpointConfig, Server};
//!
//! let hub = Hub::builder(MemoryStorage::new()).build();
//! let server = Server::bind("127.0.0.1:0", hub, EndpointConfig::default()).await.unwrap();
//! let url = format!("ws://{}/main.rs", server.local_addr());
//! server.spawn();
//!
//! let mut client = Client::connect(&url).await.unwrap();
//! client.join(Magic::Loro, "main.rs", b"", b"").await.unwrap();
//! assert!(matches!(client.recv().await.unwrap().body, Body::JoinResponseOk { .. }));
//! # });
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "axum")]
mod axum_endpoint;
#[cfg(feature = "tungstenite")]
mod client;
mod config;
mod connection;
mod endpoint;
mod error;
pub mod protocol;
pub mod security;
#[cfg(feature = "tungstenite")]
mod server;

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "axum")]
pub use axum_endpoint::{router, WsEndpoint};
#[cfg(feature = "tungstenite")]
pub use client::{Client, Received};
pub use config::ConnectionConfig;
pub use connection::{serve_connection, Frame};
pub use endpoint::EndpointConfig;
pub use error::{Error, Result};
#[cfg(feature = "tungstenite")]
pub use server::Server;
