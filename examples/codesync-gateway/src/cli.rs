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

/// codesync-gateway: the seed's WebSocket gateway. Browsers connect to
/// `ws://ADDR/<SESSION_ID>` (Loro protocol v1); every update is merged and stored here,
/// broadcast to the session's other clients at once, and sent to the CRDT engine. While
/// the engine is down the gateway keeps working on its own store, and replays to the
/// engine what it missed once it is back.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "\
Environment:
  CODESYNC_INTERNAL_AUTH   Shared secret sent to the engine in `X-Internal-Auth` (required;
                           at least 16 bytes of printable ASCII without spaces). Only read
                           from the environment, so it never shows in a process listing.
  RUST_LOG                 Log filter (default: info, with Loro's own logs at warn).

Routes (session ids starting with '_' are reserved, so none can shadow these):
  GET /<SESSION_ID>  WebSocket upgrade: the Loro protocol (426 without an upgrade)
  GET /_/healthz  /_/readyz  /_/metrics"
)]
pub(crate) struct Cli {
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long, env = "CODESYNC_LISTEN", default_value = "127.0.0.1:8081")]
    pub(crate) listen: SocketAddr,

    /// The CRDT engine's base URL (`http://HOST:PORT`; `https://` when built with the
    /// `tls` feature).
    #[arg(long, env = "CODESYNC_ENGINE_URL")]
    pub(crate) engine_url: String,

    /// Directory of the gateway's own store (one SQLite file inside): a client's update is
    /// acknowledged once durable here, and replayed from here to an engine that missed it.
    #[arg(long, env = "CODESYNC_DATA", default_value = "./gateway-data")]
    pub(crate) data: PathBuf,

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

    /// Content cap of one document, in bytes (keep it equal to the engine's).
    #[arg(long, env = "CODESYNC_MAX_DOCUMENT_BYTES", default_value_t = codesync_core::DEFAULT_MAX_DOCUMENT_BYTES)]
    pub(crate) max_document_bytes: usize,

    /// How long one request to the engine may take, in milliseconds.
    #[arg(long, env = "CODESYNC_ENGINE_TIMEOUT_MS", default_value_t = 10_000)]
    pub(crate) engine_timeout_ms: u64,

    /// The longest wait between readiness probes of a down engine, in milliseconds.
    #[arg(long, env = "CODESYNC_ENGINE_MAX_BACKOFF_MS", default_value_t = 5_000)]
    pub(crate) engine_max_backoff_ms: u64,
}
