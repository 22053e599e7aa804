//! The embedded default: every document in one SQLite file on local disk.

mod read;
mod schema;
mod writer;
mod writes;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{Compacted, Compaction, DocKey, SessionId, Storage, StoredDoc, TenantId};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{Result, StoreError};
use crate::stats::{WriteCounters, WriteStats};
use writer::Job;

const BACKEND: &str = "sqlite";

/// Settings of a [`SqliteStorage`].
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    path: PathBuf,
    max_batch: usize,
}

impl SqliteConfig {
    /// Stores documents in the SQLite file at `path` (created, with its directory, if
    /// missing). The write-ahead log lives beside it as `<file>-wal`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_batch: 1024,
        }
    }

    /// The most writes one commit may carry (default 1024). `1` turns group commit off: one
    /// flush per write, the baseline the benchmark compares against.
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }
}

/// Documents in one SQLite file, written through a single group-committing writer thread.
///
/// Inspect the file with the ordinary `sqlite3` tool: tables `documents` (one row per
/// document: tenant, session, last sequence number, snapshot, compaction generation) and
/// `updates` (tenant, session, seq, bytes, crc). A file written by an older version is
/// upgraded in place when opened.
///
/// [`compact`](Storage::compact) is a compare-and-swap on the generation, so it is safe even
/// when several processes share the file; it drops exactly the updates it folds.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    jobs: mpsc::Sender<Job>,
    reader: Arc<Mutex<Connection>>,
    counters: Arc<WriteCounters>,
    path: Arc<Path>,
}

impl SqliteStorage {
    /// Opens (or creates) the store at `path` with default settings.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        Self::with_config(SqliteConfig::new(path))
    }

    /// Opens (or creates) the store described by `config`.
    pub fn with_config(config: SqliteConfig) -> Result<Self> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut write_conn = schema::open(&config.path)?;
        schema::migrate(&mut write_conn)?;
        let reader = schema::open(&config.path)?;
        let counters = Arc::new(WriteCounters::default());
        let (jobs, receiver) = mpsc::channel();
        let writer_counters = counters.clone();
        let max_batch = config.max_batch;
        std::thread::Builder::new()
            .name("codesync-sqlite-writer".to_owned())
            .spawn(move || writer::run(write_conn, receiver, max_batch, writer_counters))?;
        Ok(Self {
            jobs,
            reader: Arc::new(Mutex::new(reader)),
            counters,
            path: Arc::from(config.path),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many commits (flushes) and writes the writer has done.
    pub fn stats(&self) -> WriteStats {
        self.counters.snapshot()
    }

    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> codesync_core::Result<T> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(job(reply))
            .map_err(|_| StoreError::WriterStopped.into_core(BACKEND))?;
        answer
            .await
            .map_err(|_| StoreError::WriterStopped.into_core(BACKEND))?
            .map_err(|e| e.into_core(BACKEND))
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> codesync_core::Result<T> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock only means a read panicked; the connection is still sound.
            let mut conn = reader
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|e| codesync_core::Error::storage(BACKEND, e))?
        .map_err(|e| e.into_core(BACKEND))
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn load(&self, key: &DocKey) -> codesync_core::Result<Option<StoredDoc>> {
        let key = key.clone();
        self.read(move |conn| read::load(conn, &key)).await
    }

    async fn append(&self, key: &DocKey, update: Bytes) -> codesync_core::Result<u64> {
        self.submit(|reply| Job::Append {
            key: key.clone(),
            bytes: update,
            reply,
        })
        .await
    }

    async fn compact(
        &self,
        key: &DocKey,
        compaction: Compaction,
    ) -> codesync_core::Result<Compacted> {
        self.submit(|reply| Job::Compact {
            key: key.clone(),
            compaction,
            reply,
        })
        .await
    }

    async fn delete(&self, key: &DocKey) -> codesync_core::Result<()> {
        self.submit(|reply| Job::Delete {
            key: key.clone(),
            reply,
        })
        .await
    }

    async fn list(&self, tenant: &TenantId) -> codesync_core::Result<Vec<SessionId>> {
        let tenant = tenant.clone();
        self.read(move |conn| read::list(conn, &tenant)).await
    }
}
