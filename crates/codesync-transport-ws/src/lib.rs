//! # codesync-transport-ws
//!
//! The Loro sync protocol, version 1, over WebSocket, on top of `codesync-core`.
//!
//! | feature | what it gives |
//! |---|---|
//! | `tungstenite` (default) | a standalone server and a Rust client on `tokio-tungstenite` |
//! | `axum` | a handler / `Router` to mount the endpoint in an existing axum app |

#![forbid(unsafe_code)]

mod error;
pub mod protocol;
pub mod security;

pub use error::{Error, Result};
