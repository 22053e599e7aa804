//! # codesync-transport-ws
//!
//! The Loro sync protocol, version 1, over WebSocket, on top of `codesync-core`.
//!
//! | feature | what it gives |
//! |---|---|
//! | `tungstenite` (default) | a standalone server and a Rust client on `tokio-tungstenite` |
//! | `axum` | a handler / `Router` to mount the endpoint in an existing axum app |

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
