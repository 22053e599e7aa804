//! Command-line flags, each with an environment-variable equivalent.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Where the client's IP address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProxyMode {
    /// The TCP peer is the client (no proxy in front).
    None,
    /// Behind Cloud Run's front end: the client is the last `X-Forwarded-For` entry.
    CloudRun,
}

/// codesync-server: real-time collaborative editing in one process. Browsers open
/// `http://ADDR/<SESSION_ID>` for the editor; the same URL is the session's WebSocket.
#[derive(Debug, Parser)]
#[command(version)]
pub(crate) struct Cli {
    /// Address to listen on.
    #[arg(long, env = "CODESYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    /// Directory of the embedded store (one SQLite file inside). Unused with `--store`.
    #[arg(long, env = "CODESYNC_DATA", default_value = "./data")]
    pub(crate) data: PathBuf,

    /// A shared PostgreSQL store (`postgres://user@host:port/db`) in place of the embedded
    /// one at `--data`. Every node of a cluster must name the same one.
    #[arg(long, env = "CODESYNC_STORE")]
    pub(crate) store: Option<String>,

    /// The PostgreSQL schema holding codesync's tables (with `--store`).
    #[arg(long, env = "CODESYNC_STORE_SCHEMA", default_value = "codesync")]
    pub(crate) store_schema: String,

    /// Share sessions with other nodes through this bus: `redis://host:port` or
    /// `nats://host:port`. Needs `--store`: nodes catch up from the shared store.
    #[arg(long, env = "CODESYNC_CLUSTER", requires = "store")]
    pub(crate) cluster: Option<String>,

    /// Compact a session's stored history into a snapshot after this many appends.
    #[arg(long, env = "CODESYNC_COMPACT_AFTER_UPDATES", default_value_t = 1000)]
    pub(crate) compact_after_updates: usize,

    /// A browser origin allowed to connect (exact scheme://host[:port]); repeat for more.
    /// Without any, every origin is allowed (development).
    #[arg(
        long = "allowed-origin",
        env = "CODESYNC_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub(crate) allowed_origins: Vec<String>,

    /// Requests one IP may make per minute before it is blocked.
    #[arg(long, env = "CODESYNC_RATE_LIMIT_PER_MINUTE", default_value_t = 1000)]
    pub(crate) rate_limit_per_minute: u32,

    /// How long an IP over its budget stays blocked, in seconds.
    #[arg(long, env = "CODESYNC_RATE_LIMIT_BLOCK_SECS", default_value_t = 600)]
    pub(crate) rate_limit_block_secs: u64,

    /// Where the client IP comes from.
    #[arg(long, env = "CODESYNC_TRUSTED_PROXY", value_enum, default_value_t = ProxyMode::None)]
    pub(crate) trusted_proxy: ProxyMode,

    /// Live sessions kept in memory (the LRU's capacity).
    #[arg(long, env = "CODESYNC_CAPACITY", default_value_t = codesync_core::DEFAULT_CAPACITY)]
    pub(crate) capacity: usize,

    /// The built editor page (`npm run build` in examples/web). When it holds no
    /// index.html, sessions get a plain placeholder page instead.
    #[arg(long, env = "CODESYNC_WEB_DIR", default_value = "examples/web/dist")]
    pub(crate) web_dir: PathBuf,

    /// Content cap of one document, in bytes.
    #[arg(long, env = "CODESYNC_MAX_DOCUMENT_BYTES", default_value_t = codesync_core::DEFAULT_MAX_DOCUMENT_BYTES)]
    pub(crate) max_document_bytes: usize,

    /// Messages one connection may send per second on average (a keystroke is one).
    #[arg(long, env = "CODESYNC_MESSAGES_PER_SECOND", default_value_t = 20.0)]
    pub(crate) messages_per_second: f64,

    /// Messages one connection may send in a burst above that average.
    #[arg(long, env = "CODESYNC_MESSAGE_BURST", default_value_t = 60.0)]
    pub(crate) message_burst: f64,

    /// Connections one IP address may hold at once.
    #[arg(long, env = "CODESYNC_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub(crate) max_connections_per_ip: usize,

    /// Updates one connection may have refused as invalid or unsafe before it is closed.
    #[arg(long, env = "CODESYNC_MAX_REFUSED_UPDATES", default_value_t = 5)]
    pub(crate) max_refused_updates: u32,

    /// Try every client update in isolated worker processes before merging it, so no
    /// bytes a peer sends can crash this server (see docs/untrusted-input.md). Turn off
    /// only when every client is trusted.
    #[arg(long, env = "CODESYNC_GUARD", value_enum, default_value_t = Switch::On)]
    pub(crate) untrusted_input_guard: Switch,

    /// Worker processes of the untrusted-input guard.
    #[arg(long, env = "CODESYNC_GUARD_WORKERS", default_value_t = 1)]
    pub(crate) guard_workers: usize,
}

/// A feature switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}
