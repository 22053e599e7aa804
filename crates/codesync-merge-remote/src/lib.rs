//! # codesync-merge-remote
//!
//! The two implementations of codesync's **Merge** seam that do network I/O, and so live
//! here rather than in `codesync-core`, which stays I/O-free (bytes in, bytes out):
//!
//! | piece | what it is |
//! |---|---|
//! | [`RemoteMerge`] | the *remote* Merge: the seed's CRDT engine over HTTP (`POST /merge/{id}`, `GET /version/{id}`, `POST /updates-since/{id}`, `/readyz`), with timeouts and the `X-Internal-Auth` secret |
//! | [`EngineSync`] | the *fallback* combinator: the engine is primary, the in-process [`Hub`](codesync_core::Hub) merges while it is down, and what it missed is replayed to it when it returns |
//!
//! The in-process Merge is `codesync_core::Hub` itself.
//!
//! ## How a gateway uses them
//!
//! The gateway serves WebSocket clients from a local `Hub` whose storage is its own (an
//! SQLite file), so a client's update is acknowledged once it is durable locally, whatever
//! the engine's state. [`EngineSync`] hooks into that hub's [`SessionPolicy`]
//! (`on_changed`, `on_loaded`) and:
//!
//! 1. forwards each client update to the engine concurrently with the local broadcast;
//! 2. when the engine is unreachable, marks the session for replay (the update is already
//!    durable in the gateway's store);
//! 3. probes `/readyz` with backoff, and once the engine is back sends each marked session
//!    exactly what the engine lacks (engine version → hub's `missing_for` → `POST /merge`);
//! 4. when a session is loaded, pulls what the engine has that the gateway lacks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use codesync_core::{Hub, MemoryStorage, OpenPolicy, TenantId};
//! use codesync_merge_remote::{EngineSync, RemoteConfig, RemoteMerge, Secret, SyncConfig};
//!
//! let secret = Secret::new(std::env::var("CODESYNC_INTERNAL_AUTH")?)?;
//! let remote = RemoteMerge::new(RemoteConfig::new("http://127.0.0.1:8090", secret)?)?;
//! let sync = EngineSync::new(remote, SyncConfig::default());
//! let hub = Hub::builder(MemoryStorage::new())
//!     .policy(sync.policy(OpenPolicy::default()))
//!     .build();
//! let _task = sync.start(hub.clone())?;
//! // After a restart: replay whatever the previous process could not deliver.
//! sync.reconcile_stored(&hub, &TenantId::default_tenant()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it gives |
//! |---|---|---|
//! | `tls` | no | `https://` engine URLs (rustls) |
//!
//! ## Metrics
//!
//! Through the `metrics` facade: `codesync_engine_sync_engine_up` (gauge),
//! `codesync_engine_sync_forwarded_total`, `codesync_engine_sync_replayed_total`,
//! `codesync_engine_sync_pulled_total`, `codesync_engine_sync_unavailable_total`,
//! `codesync_engine_sync_failed_total`, `codesync_engine_client_merged_total`, and the
//! histogram `codesync_engine_client_request_seconds`.
//!
//! [`SessionPolicy`]: codesync_core::SessionPolicy

#![forbid(unsafe_code)]

mod cache;
mod config;
mod error;
mod loro_io;
mod remote;
mod sync;

pub use config::{RemoteConfig, Secret, SyncConfig, MIN_SECRET_BYTES};
pub use error::{Error, Result};
pub use remote::{Merged, RemoteMerge};
pub use sync::{EngineSync, SyncPolicy};
