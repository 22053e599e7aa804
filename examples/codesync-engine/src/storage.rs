//! Opening the configured store: the embedded SQLite file, or PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use codesync_core::Storage;
use codesync_store::{PostgresConfig, PostgresStorage, SqliteStorage, StoreError};

/// The file name of the embedded store inside `--data`.
pub(crate) const SQLITE_FILE: &str = "codesync.sqlite3";

/// Where documents live.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// One SQLite file on local disk.
    Sqlite(PathBuf),
    /// A PostgreSQL server (the connection string may hold a password: never log it).
    Postgres(String),
}

impl Backend {
    /// A description safe to log.
    pub(crate) fn describe(&self) -> String {
        match self {
            Backend::Sqlite(path) => format!("sqlite at {}", path.display()),
            Backend::Postgres(_) => "postgres".to_owned(),
        }
    }
}

/// Opens the store.
///
/// A local file that cannot be opened is a configuration error: fail at once. A database
/// server may simply not be up yet (containers start in any order), so connecting is
/// retried with backoff until it succeeds; meanwhile `/readyz` answers 503 and every error
/// is logged. Only a setting the backend refuses outright stops the retries.
pub(crate) async fn open(backend: &Backend) -> anyhow::Result<Arc<dyn Storage>> {
    match backend {
        Backend::Sqlite(path) => {
            let path = path.clone();
            let shown = path.display().to_string();
            let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(path))
                .await
                .context("the task opening the store failed")?
                .with_context(|| format!("opening the embedded store at {shown}"))?;
            Ok(Arc::new(storage))
        }
        Backend::Postgres(url) => {
            let mut delay = Duration::from_millis(500);
            loop {
                match PostgresStorage::connect(PostgresConfig::new(url.clone())).await {
                    Ok(storage) => return Ok(Arc::new(storage)),
                    Err(e @ StoreError::Config(_)) => {
                        return Err(e).context("invalid PostgreSQL settings")
                    }
                    Err(e) => {
                        // `{:#}` shows the causes too ("connection refused"), not only
                        // tokio-postgres' "error connecting to server".
                        let error = format!("{:#}", anyhow::Error::from(e));
                        tracing::error!(%error, retry_in = ?delay, "cannot open PostgreSQL; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(30));
                    }
                }
            }
        }
    }
}
