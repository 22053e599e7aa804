//! # codesync-core
//!
//! The sans-IO heart of codesync: tenants, sessions, the LRU hub of Loro documents, and the
//! three seams everything else plugs into. It does no network or file I/O of its own:
//! bytes come in, bytes go out, through the seams.
//!
//! | seam | trait | implementations here |
//! |---|---|---|
//! | **Session**: who may join, read, write; limits; lifecycle hooks | [`SessionPolicy`] | [`OpenPolicy`] |
//! | **Merge**: where updates are merged | [`Merge`] | [`Hub`] (in-process) |
//! | **Storage**: load, append, compact, delete, list | [`Storage`] | [`MemoryStorage`] |
//!
//! Two optional seams complete them. [`ClusterBus`] shares sessions between nodes through
//! a pub/sub bus and one shared store (`codesync-cluster` implements it over Redis and
//! NATS; see the [`ClusterBus`] contract for the delivery guarantees). [`UpdateGuard`]
//! tries untrusted updates (and stored documents before they load) somewhere a crash
//! cannot reach the server; `codesync-guard` implements it with worker processes. Without one, Loro panics are still caught per session, but an
//! input that aborts the process is not stopped. A session whose stored data keeps failing
//! to load is quarantined ([`Error::Quarantined`], [`Hub::quarantined_sessions`]) after
//! [`HubBuilder::max_load_attempts`] tries, its data kept untouched.
//!
//! ## Embedding the hub
//!
//! ```
//! use codesync_core::{DocKey, Hub, MemoryStorage, SessionEvent};
//! use loro::{ExportMode, LoroDoc};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let hub = Hub::builder(MemoryStorage::new()).capacity(10_000).build();
//! let key = DocKey::parse("acme", "main.rs").unwrap();
//!
//! // Two clients join (the policy checks their credentials); the session stays live while
//! // either is connected.
//! let alice = hub.join(&key, b"alice-token").await.unwrap();
//! let bob = hub.join(&key, b"bob-token").await.unwrap();
//! let mut alice_events = alice.session().subscribe();
//!
//! // Bob types; his update is merged, stored, and reported.
//! let editor = LoroDoc::new();
//! editor.get_text("content").insert(0, "fn main() {}").unwrap();
//! let update = editor.export(ExportMode::all_updates()).unwrap();
//! let applied = bob.apply(&update).await.unwrap();
//! assert!(applied.durable); // safe to acknowledge to Bob
//!
//! // Alice receives exactly the new ops, tagged with their origin (so never echoed to Bob).
//! let SessionEvent::Update(change) = alice_events.recv().await.unwrap() else { panic!() };
//! assert!(change.origin.is_client(bob.id()));
//!
//! // A late joiner at an empty version receives everything it lacks.
//! let missing = alice.session().missing_for(&Default::default()).await.unwrap();
//! let carol = LoroDoc::new();
//! carol.import(&missing).unwrap();
//! assert_eq!(carol.get_text("content").to_string(), "fn main() {}");
//! # });
//! ```
//!
//! ## Untrusted bytes
//!
//! Every update is refused with a typed [`Error`] and no change to the document when it is
//! malformed, over the size cap ([`Limits`]), or missing dependencies. Loro can panic on
//! crafted bytes, and after a panic its document cannot even be dropped safely; so every
//! call into a document runs under `catch_unwind`, a document that panicked is leaked, not
//! dropped, and the session reloads from storage. Builds must keep `panic = "unwind"`.
//!
//! ## Metrics
//!
//! Counters and histograms go through the `metrics` facade (`codesync_updates_merged_total`,
//! `codesync_updates_rejected_total{reason}`, `codesync_merge_seconds`,
//! `codesync_persist_seconds`, …); install any recorder to collect them.
//!
//! ## Durability
//!
//! [`Session::apply`] stores the new ops before it returns; [`Applied::durable`] says
//! whether to acknowledge. After enough appends a session compacts its history into a
//! snapshot, which is first proven to load back into the same document.

#![forbid(unsafe_code)]

mod blob;
mod cluster;
mod content;
mod doc_guard;
mod error;
mod guard;
mod hub;
mod key;
mod limits;
mod merge;
mod origin;
mod policy;
mod session;
mod storage;
mod telemetry;

pub use cluster::{ClusterBus, ClusterInbox, NodeMessage};
pub use error::{BoxError, Error, Result};
pub use guard::{GuardRequest, UpdateGuard, Verdict};
pub use hub::{Connection, Hub, HubBuilder, DEFAULT_CAPACITY, DEFAULT_MAX_LOAD_ATTEMPTS};
pub use key::{DocKey, SessionId, TenantId, DEFAULT_TENANT, MAX_ID_BYTES, RESERVED_PREFIX};
pub use limits::{Limits, LimitsConfig, DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_PRESENCE_BYTES};
pub use merge::Merge;
pub use origin::{ClientId, NodeId, Origin};
pub use policy::{Access, OpenPolicy, SessionPolicy};
pub use session::{Applied, Change, Session, SessionConfig, SessionEvent};
pub use storage::{
    Compacted, Compaction, MemoryStorage, Storage, StorageExt, StoredDoc, StoredUpdate,
};

/// The Loro version this crate is built against, re-exported so embedders use the same one.
pub use loro;
