//! Command-line flags, each with an environment-variable equivalent.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The default cap on one request body: 8 MiB (a document is capped far lower, but one
/// update may carry a long history of typing and deletions).
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// codesync-engine: the CRDT merge engine a WebSocket gateway calls over HTTP.
///
/// Every document is a Loro document addressed by (tenant, session id); the engine is the
/// store of record: an update is answered only once it is durable.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "\
Environment:
  CODESYNC_INTERNAL_AUTH   Shared secret the gateway sends in `X-Internal-Auth` (required;
                           at least 16 bytes of printable ASCII without spaces). Only read
                           from the environment, so it never shows in a process listing.
  RUST_LOG                 Log filter (default: info, with Loro's own logs at warn).

Routes (session ids starting with '_' are reserved; these prefixes never name a session):
  POST /merge/{session_id}          body: Loro update -> 200 full snapshot
  GET  /version/{session_id}        -> encoded version vector
  POST /updates-since/{session_id}  body: encoded version vector -> missing updates
  GET  /healthz  /readyz  /metrics  (no secret needed)
  Header `X-Codesync-Tenant` picks the tenant (default: \"default\")."
)]
pub(crate) struct Cli {
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long, env = "CODESYNC_LISTEN", default_value = "127.0.0.1:8090")]
    pub(crate) listen: SocketAddr,

    /// Directory of the embedded store (the SQLite file `codesync.sqlite3` inside);
    /// ignored with --postgres-url.
    #[arg(long, env = "CODESYNC_DATA", default_value = "./engine-data")]
    pub(crate) data: PathBuf,

    /// Store documents in PostgreSQL instead of the embedded SQLite file
    /// (`postgresql://user:pass@host/db` or `host=... user=... dbname=...`).
    #[arg(long, env = "CODESYNC_POSTGRES_URL", hide_env_values = true)]
    pub(crate) postgres_url: Option<String>,

    /// Live sessions kept in memory (the LRU's capacity).
    #[arg(long, env = "CODESYNC_CAPACITY", default_value_t = codesync_core::DEFAULT_CAPACITY)]
    pub(crate) capacity: usize,

    /// Content cap of one document, in bytes; an update that would exceed it is refused
    /// with 413 and the document stays unchanged.
    #[arg(
        long,
        env = "CODESYNC_MAX_DOCUMENT_BYTES",
        default_value_t = codesync_core::DEFAULT_MAX_DOCUMENT_BYTES
    )]
    pub(crate) max_document_bytes: usize,

    /// Largest request body accepted, in bytes (larger ones get 413 before being read).
    #[arg(long, env = "CODESYNC_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub(crate) max_body_bytes: usize,
}
