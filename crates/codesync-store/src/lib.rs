//! # codesync-store
//!
//! Durable storage backends for codesync, behind the [`Storage`] trait of `codesync-core`.
//!
//! | feature | backend | when to use it |
//! |---|---|---|
//! | `sqlite` (default) | [`SqliteStorage`]: one SQLite file on local disk | one node; no server to run |
//! | `postgres` | [`PostgresStorage`]: PostgreSQL via `tokio-postgres` | several nodes sharing documents |
//! | (always) | [`MemoryStorage`] (re-exported from core) | tests, examples, throwaway servers |
//! | `conformance` | [`conformance`]: the suite every backend passes | testing a backend, ours or yours |
//!
//! ## Why SQLite for the embedded default
//!
//! A collaboration server's storage must survive power loss mid-write and must never hand
//! back half a record. SQLite's write-ahead log gives atomic, crash-safe commits that are
//! among the most tested code in existence, in one file that ordinary tools (`sqlite3`)
//! can open and inspect. A home-made log format would have to earn that trust from
//! scratch; `redb` is crash-safe too, but its files cannot be read with standard tools.
//! SQLite is built from source (`rusqlite`'s `bundled` feature), so nothing needs
//! installing.
//!
//! ## Durability contract
//!
//! Every backend honours the contract on [`Storage`]: `append`, `compact` and `delete`
//! return only after their effect is durable. Concurrent writes from many sessions are
//! **group committed**: one writer gathers every write waiting at that moment into one
//! transaction and one flush (fsync), so durable throughput is not capped by the disk's
//! flush rate. There is no relaxed (acknowledge-before-flush) mode.
//!
//! Every stored blob carries a CRC-32; a damaged record loads as
//! [`Error::CorruptDocument`](codesync_core::Error::CorruptDocument) naming the
//! document, never as an empty or partial document.
//!
//! ## Compaction
//!
//! The session that owns a document decides when to compact (it holds the `LoroDoc` that
//! makes the snapshot): after `SessionConfig::with_compaction(updates, bytes)` appends or
//! bytes, it proves the snapshot reloads, then calls [`Storage::compact`] with a
//! [`Compaction`]: the snapshot, the sequence numbers of exactly the updates folded into it,
//! and the generation of the stored document it was built from. In one transaction the
//! backend checks that the generation is unchanged, stores the snapshot, bumps the
//! generation and drops exactly those updates; if another node compacted first it changes
//! nothing and answers [`Compacted::Superseded`]. Updates are never dropped "up to a
//! number": with several nodes appending, a lower number can commit after a higher one.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use codesync_core::{DocKey, Hub, Storage};
//! use codesync_store::SqliteStorage;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let storage = SqliteStorage::open(dir.path().join("codesync.sqlite3")).unwrap();
//! let key = DocKey::parse("acme", "main.rs").unwrap();
//! let seq = storage.append(&key, vec![1, 2, 3].into()).await.unwrap();
//! assert_eq!(storage.load(&key).await.unwrap().unwrap().updates[0].seq, seq);
//!
//! // Hand it to a hub: every acknowledged update is now on disk.
//! let hub = Hub::builder(storage).build();
//! # let _ = hub;
//! # });
//! ```

#![forbid(unsafe_code)]

mod error;
mod record;
mod stats;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use codesync_core::{Compacted, Compaction, MemoryStorage, Storage, StoredDoc, StoredUpdate};
pub use error::{Result, StoreError};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresStorage};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConfig, SqliteStorage};
pub use stats::WriteStats;
