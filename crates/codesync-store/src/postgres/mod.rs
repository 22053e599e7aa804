//! PostgreSQL backend (feature `postgres`): documents shared by several nodes.
//!
//! ## Layout
//!
//! Tables live in one schema (default `codesync`), created and migrated by
//! [`PostgresStorage::connect`] itself: `documents(tenant, session, last_seq, snapshot,
//! snapshot_crc, generation)` and `updates(tenant, session, seq, bytes, crc)`, plus
//! `schema_version`. Every blob is stored with its CRC-32 and checked on load.
//!
//! ## Compaction across nodes
//!
//! [`Storage::compact`] is a compare-and-swap on `documents.generation`: one conditional
//! statement stores the snapshot only if the generation is still the one the snapshot was
//! built from, and the row lock it takes is held until commit, so of several nodes
//! compacting one document from the same generation exactly one succeeds. It then deletes
//! exactly the folded updates (`seq = ANY(…)`), never "everything up to a number": appends
//! from other nodes can commit out of sequence order.
//!
//! ## Durability and group commit
//!
//! Every connection runs with `synchronous_commit = on`, whatever the server's default, so
//! a write is acknowledged only once PostgreSQL has flushed its commit. Writes go to one
//! writer task with its own connection, which commits everything queued at that moment in
//! one transaction (see the `writer` module); reads use a second connection and never wait
//! behind a batch.
//!
//! A write that returns an error was not acknowledged; if the error is a connection lost
//! during the commit, PostgreSQL may still have committed it. The writer reopens a lost
//! connection (a few attempts with backoff) for the next batch; the reader reopens its own
//! on the next read. A write whose caller stops waiting for it still completes.
//!
//! ## Runtime
//!
//! The writer task and the connections' driver tasks are spawned on the tokio runtime
//! current when [`PostgresStorage::connect`] runs: use the storage within that runtime.
//! Once it shuts down, writes fail with [`StoreError::WriterStopped`].
//!
//! Connections are not encrypted (no TLS): run the server on a trusted network or a local
//! socket.

mod config;
mod connection;
mod decode;
mod jobs;
mod reader;
mod schema;
mod writer;
mod writes;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{Compacted, Compaction, DocKey, SessionId, Storage, StoredDoc, TenantId};
use tokio::sync::{mpsc, oneshot};

pub use config::PostgresConfig;

use config::Settings;
use jobs::{Job, Reply, Write};
use reader::Reader;
use writer::WriterConn;

use crate::error::StoreError;
use crate::stats::{WriteCounters, WriteStats};

/// The backend's name in [`codesync_core::Error::Storage`].
const BACKEND: &str = "postgres";

/// Documents in PostgreSQL, written with group commit.
///
/// Must be used within the tokio runtime that ran [`connect`](Self::connect).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use codesync_core::{DocKey, Storage};
/// use codesync_store::{PostgresConfig, PostgresStorage};
///
/// let config = PostgresConfig::new("host=127.0.0.1 user=postgres dbname=app");
/// let storage = PostgresStorage::connect(config).await?;
/// let key = DocKey::parse("acme", "main.rs")?;
/// let seq = storage.append(&key, vec![1, 2, 3].into()).await?;
/// assert_eq!(storage.load(&key).await?.unwrap().updates[0].seq, seq);
/// # Ok(())
/// # }
/// ```
pub struct PostgresStorage {
    settings: Arc<Settings>,
    jobs: mpsc::Sender<Job>,
    reader: Reader,
    counters: Arc<WriteCounters>,
}

impl PostgresStorage {
    /// Checks `config`, connects, creates or migrates the schema, and starts the writer
    /// task on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for invalid settings (before connecting); the connection's
    /// error if the server is unreachable within the connect timeout or refuses the login;
    /// the server's error if the schema cannot be created or migrated.
    pub async fn connect(config: PostgresConfig) -> Result<Self, StoreError> {
        let settings = Arc::new(config.check()?);
        let mut client = connection::open(&settings).await?;
        schema::migrate(&mut client, &settings.schema).await?;
        let writer_conn = WriterConn::prepare(client, &settings).await?;
        let reader = Reader::open(Arc::clone(&settings)).await?;
        let counters = Arc::new(WriteCounters::default());
        let jobs = writer::spawn(Arc::clone(&settings), writer_conn, Arc::clone(&counters));
        Ok(Self {
            settings,
            jobs,
            reader,
            counters,
        })
    }

    /// What the writer has committed since [`connect`](Self::connect).
    #[must_use]
    pub fn stats(&self) -> WriteStats {
        self.counters.snapshot()
    }

    /// The `synchronous_commit` setting of the writer's connection, as `SHOW` reports it:
    /// `"on"` unless something overrode the backend's own setting.
    ///
    /// # Errors
    ///
    /// The server's error, or [`StoreError::WriterStopped`] if the writer task has ended.
    pub async fn synchronous_commit(&self) -> Result<String, StoreError> {
        self.submit(Job::ShowSynchronousCommit).await
    }

    async fn write<T>(&self, make: impl FnOnce(Reply<T>) -> Write) -> Result<T, StoreError> {
        self.submit(|reply| Job::Write(make(reply))).await
    }

    /// Queues a job for the writer and waits for its answer.
    async fn submit<T>(&self, make: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(make(reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        // A dropped reply means the writer task ended (panic, runtime shut down).
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("schema", &self.settings.schema.name())
            .field("max_batch", &self.settings.max_batch)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn load(&self, key: &DocKey) -> codesync_core::Result<Option<StoredDoc>> {
        self.reader
            .load(key)
            .await
            .map_err(|e| e.into_core(BACKEND))
    }

    async fn append(&self, key: &DocKey, update: Bytes) -> codesync_core::Result<u64> {
        self.write(|reply| Write::Append {
            key: key.clone(),
            update,
            reply,
        })
        .await
        .map_err(|e| e.into_core(BACKEND))
    }

    async fn compact(
        &self,
        key: &DocKey,
        compaction: Compaction,
    ) -> codesync_core::Result<Compacted> {
        self.write(|reply| Write::Compact {
            key: key.clone(),
            compaction,
            reply,
        })
        .await
        .map_err(|e| e.into_core(BACKEND))
    }

    async fn delete(&self, key: &DocKey) -> codesync_core::Result<()> {
        self.write(|reply| Write::Delete {
            key: key.clone(),
            reply,
        })
        .await
        .map_err(|e| e.into_core(BACKEND))
    }

    async fn list(&self, tenant: &TenantId) -> codesync_core::Result<Vec<SessionId>> {
        self.reader
            .list(tenant)
            .await
            .map_err(|e| e.into_core(BACKEND))
    }
}
