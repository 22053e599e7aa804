//! # codesync-cluster
//!
//! Several `codesync-server` processes ("nodes") serving the same sessions: each keeps its
//! own [`Hub`](codesync_core::Hub) of live documents, all share one store (PostgreSQL),
//! and they tell each other about new ops and presence over a pub/sub bus, Redis or NATS.
//! This crate implements that bus, [`ClusterBus`].
//!
//! ## Why a crate of its own
//!
//! The bus does network I/O, which `codesync-core` never does: core is sans-IO, and only
//! defines the seam (the [`ClusterBus`] trait, the
//! [`NodeMessage`](codesync_core::NodeMessage)s and the
//! [`ClusterInbox`](codesync_core::ClusterInbox)), as it does for
//! [`Storage`](codesync_core::Storage). Implementations live outside, with their client
//! libraries behind cargo features (`redis`, `nats`, both on by default), so a server that
//! does not cluster does not build them.
//!
//! ## Delivery guarantees
//!
//! The store is the source of truth; the bus only makes nodes fast. Nothing depends on
//! the bus delivering everything:
//!
//! - **publish after durable**: the hub publishes an update only after its durable append,
//!   so whatever a node receives can also be read from the store;
//! - **subscribe before load**: a session subscribes (and [`subscribe`] returns only once
//!   the server confirmed it) before it reads the store, so an update stored after the
//!   read is published after the subscription and reaches it;
//! - **Refresh**: [`publish`](codesync_core::ClusterBus::publish) never waits. A message
//!   that cannot be sent (queue full, bus down, server error) marks its session, and once
//!   the bus works again a [`NodeMessage::Refresh`](codesync_core::NodeMessage::Refresh)
//!   tells the other nodes to read the store;
//! - **catch-up**: after a lost connection the driver reconnects (with backoff, forever),
//!   resubscribes every session, and calls
//!   [`ClusterInbox::reconnected`](codesync_core::ClusterInbox::reconnected): every live
//!   session reads the store. A session whose subscription could only be made late gets a
//!   `Refresh` of its own, and an update whose dependencies a node lacks makes it read
//!   the store too (core does that).
//!
//! Per session, messages reach the hub in the order they arrived; a slow session does not
//! hold up the others (each has its own bounded queue; one that overflows reads the store
//! instead). A node never receives its own messages.
//!
//! ## Backends
//!
//! All three run the same driver ([`ClusterDriver`]): a backend only opens connections,
//! subscribes, publishes and pings, each confirmed by the server; the driver does the
//! rest.
//!
//! - **Redis** (`redis://`): SUBSCRIBE/UNSUBSCRIBE on a pub/sub connection, each awaited
//!   until the server confirms it; PUBLISH, pipelined, on a second connection. TLS
//!   (`rediss://`) is not built in and is refused with a clear error.
//! - **NATS** (`nats://`): a subscription per session subject. `async_nats`' `flush` only
//!   writes to the socket, so subscriptions and publishes are confirmed by a round trip (a
//!   request nobody answers, which the server rejects only after processing everything
//!   sent before it). Disconnects come from the client's connection events.
//! - **Memory** (`memory://name`, [`MemoryNetwork`]): in-process, for tests and
//!   single-process demos, with hooks to cut a node off and restore it.
//!
//! Use one bus per hub: the bus delivers to the hub it was attached to first.
//!
//! ## Wire format
//!
//! One channel (Redis) or subject (NATS) per session, [`channel_name`]:
//! `{prefix}.{hex(tenant)}.{hex(session)}`. Each message is a versioned binary envelope:
//! version, kind, sender node id, payload. Undecodable messages are counted
//! ([`DropReason::Undecodable`]) and dropped.
//!
//! ## Metrics
//!
//! Through the `metrics` facade: [`PUBLISHED_TOTAL`], [`RECEIVED_TOTAL`],
//! [`DROPPED_TOTAL`] (labelled `reason`, see [`DropReason`]) and [`RECONNECTS_TOTAL`].
//! A node's own messages that Redis hands back are not counted at all.
//!
//! ## Example
//!
//! Two nodes in one process, over the in-process `memory://` bus (no network):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use codesync_cluster::{connect, ClusterConfig};
//! use codesync_core::loro::{ExportMode, LoroDoc};
//! use codesync_core::{DocKey, Hub, MemoryStorage, Storage};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
//! let a = Hub::builder_shared(storage.clone())
//!     .cluster(connect("memory://demo", ClusterConfig::default()).await?)
//!     .build();
//! let b = Hub::builder_shared(storage.clone())
//!     .cluster(connect("memory://demo", ClusterConfig::default()).await?)
//!     .build();
//!
//! let key = DocKey::parse("acme", "main.rs")?;
//! let on_a = a.join(&key, b"").await?;
//! let on_b = b.join(&key, b"").await?;
//!
//! // A client of node A types; node B's copy of the session follows.
//! let editor = LoroDoc::new();
//! editor.get_text("content").insert(0, "fn main() {}")?;
//! on_a.apply(&editor.export(ExportMode::all_updates())?).await?;
//!
//! let mut text = String::new();
//! for _ in 0..100 {
//!     text = on_b.session().read(|d| d.get_text("content").to_string()).await?;
//!     if text == "fn main() {}" { break }
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//! }
//! assert_eq!(text, "fn main() {}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! [`subscribe`]: codesync_core::ClusterBus::subscribe

#![forbid(unsafe_code)]

mod backend;
mod channel;
mod config;
mod driver;
mod envelope;
mod error;
mod memory_bus;
#[cfg(feature = "nats")]
mod nats_bus;
#[cfg(feature = "redis")]
mod redis_bus;
mod stats;

use std::sync::Arc;

use codesync_core::ClusterBus;

pub use channel::channel_name;
pub use config::{ClusterConfig, DEFAULT_PREFIX};
pub use driver::ClusterDriver;
pub use error::ClusterError;
pub use memory_bus::MemoryNetwork;
pub use stats::{
    ClusterStats, DropReason, DROPPED_TOTAL, PUBLISHED_TOTAL, RECEIVED_TOTAL, RECONNECTS_TOTAL,
};

/// Starts a cluster bus for the server at `url`, for
/// [`HubBuilder::cluster`](codesync_core::HubBuilder::cluster):
///
/// | URL | bus |
/// |---|---|
/// | `redis://[user:password@]host[:port][/db]` | Redis pub/sub (feature `redis`) |
/// | `nats://[user:password@]host[:port]` | NATS (feature `nats`) |
/// | `memory://name` | the in-process [`MemoryNetwork::named`]`(name)` |
///
/// Fails on an unknown scheme, a backend compiled out, an invalid URL or configuration,
/// or when the first connection cannot be made. Once started, the bus reconnects by itself
/// for as long as it runs. See the [crate docs](crate) for an example.
pub async fn connect(
    url: &str,
    config: ClusterConfig,
) -> Result<Arc<dyn ClusterBus>, ClusterError> {
    let driver: Arc<dyn ClusterBus> = connect_driver(url, config).await?;
    Ok(driver)
}

/// [`connect`], returning the bus typed (for its [`stats`](ClusterDriver::stats) and
/// [`node_id`](ClusterDriver::node_id)).
pub async fn connect_driver(
    url: &str,
    config: ClusterConfig,
) -> Result<Arc<ClusterDriver>, ClusterError> {
    let unknown = || ClusterError::UnknownScheme {
        url: error::redact(url),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(unknown)?;
    match scheme.to_ascii_lowercase().as_str() {
        "redis" | "rediss" => connect_redis(url, config).await,
        "nats" => connect_nats(url, config).await,
        "memory" => MemoryNetwork::named(rest).connect(config).await,
        _ => Err(unknown()),
    }
}

#[cfg(feature = "redis")]
async fn connect_redis(
    url: &str,
    config: ClusterConfig,
) -> Result<Arc<ClusterDriver>, ClusterError> {
    ClusterDriver::redis(url, config).await
}

#[cfg(not(feature = "redis"))]
async fn connect_redis(_: &str, _: ClusterConfig) -> Result<Arc<ClusterDriver>, ClusterError> {
    Err(ClusterError::FeatureDisabled {
        scheme: "redis",
        feature: "redis",
    })
}

#[cfg(feature = "nats")]
async fn connect_nats(
    url: &str,
    config: ClusterConfig,
) -> Result<Arc<ClusterDriver>, ClusterError> {
    ClusterDriver::nats(url, config).await
}

#[cfg(not(feature = "nats"))]
async fn connect_nats(_: &str, _: ClusterConfig) -> Result<Arc<ClusterDriver>, ClusterError> {
    Err(ClusterError::FeatureDisabled {
        scheme: "nats",
        feature: "nats",
    })
}

#[cfg(test)]
mod tests;
