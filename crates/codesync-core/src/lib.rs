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
//! ## Embedding the hub
//!
//! ```
//! use codesync_core::{ClientId, DocKey, Hub, MemoryStorage, Origin};
//! use loro::{ExportMode, LoroDoc};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let hub = Hub::builder(MemoryStorage::new()).capacity(10_000).build();
//! let key = DocKey::parse("acme", "main.rs").unwrap();
//!
//! // A browser connects: its session stays live while the connection lives.
//! let alice = hub.connect(&key).await.unwrap();
//! let mut events = alice.subscribe();
//!
//! // Another client types; its update is merged, stored, and reported.
//! let bob = LoroDoc::new();
//! bob.get_text("content").insert(0, "fn main() {}").unwrap();
//! let update = bob.export(ExportMode::all_updates()).unwrap();
//! let applied = hub.apply(&key, &update, Origin::Client(ClientId(2))).await.unwrap();
//! assert!(applied.durable); // safe to acknowledge
//!
//! // Alice's side receives exactly the new ops, tagged with their origin.
//! let codesync_core::SessionEvent::Update(change) = events.recv().await.unwrap() else {
//!     unreachable!()
//! };
//! assert_eq!(change.origin, Origin::Client(ClientId(2)));
//!
//! // A late joiner at an empty version receives everything it lacks.
//! let missing = alice.missing_for(&Default::default()).await.unwrap();
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
//! ## Durability
//!
//! [`Session::apply`] stores the new ops before it returns; [`Applied::durable`] says
//! whether to acknowledge. After enough appends a session compacts its history into a
//! snapshot, which is first proven to load back into the same document.

#![forbid(unsafe_code)]

mod content;
mod doc_guard;
mod error;
mod hub;
mod key;
mod limits;
mod merge;
mod origin;
mod policy;
mod session;
mod storage;

pub use error::{BoxError, Error, Result};
pub use hub::{Connection, Hub, HubBuilder, DEFAULT_CAPACITY};
pub use key::{DocKey, SessionId, TenantId, DEFAULT_TENANT, MAX_ID_BYTES, RESERVED_PREFIX};
pub use limits::{Limits, LimitsConfig, DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_PRESENCE_BYTES};
pub use merge::Merge;
pub use origin::{ClientId, NodeId, Origin};
pub use policy::{Access, OpenPolicy, SessionPolicy};
pub use session::{Applied, Session, SessionConfig, SessionEvent};
pub use storage::{MemoryStorage, Storage, StorageExt, StoredDoc, StoredUpdate};

/// The Loro version this crate is built against, re-exported so embedders use the same one.
pub use loro;
