//! The one error type of `codesync-store`.

use codesync_core::DocKey;

/// Everything that can go wrong in a storage backend.
///
/// At the [`Storage`](codesync_core::Storage) boundary it becomes
/// [`codesync_core::Error::Storage`] (with this error as the source) or, for damaged data,
/// [`codesync_core::Error::CorruptDocument`] naming the document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[cfg(feature = "sqlite")]
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// PostgreSQL reported an error.
    #[cfg(feature = "postgres")]
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),

    /// A stored record failed its integrity check or could not be read.
    #[error("stored record of {key} is corrupt: {detail}")]
    Corrupt {
        /// The document the record belongs to.
        key: DocKey,
        /// Which record, and what is wrong with it.
        detail: String,
    },

    /// A tenant's list of sessions holds a name that is not a valid session id.
    #[error("stored session list of tenant {tenant} is corrupt: {detail}")]
    CorruptListing {
        /// The tenant whose list was read.
        tenant: codesync_core::TenantId,
        /// What is wrong.
        detail: String,
    },

    /// The transaction carrying this write failed to commit, so the write did not happen.
    #[error("commit failed: {0}")]
    CommitFailed(String),

    /// The backend's writer stopped (it panicked or was shut down); nothing more can be
    /// stored through this handle.
    #[error("the storage writer has stopped")]
    WriterStopped,

    /// The configuration cannot work.
    #[error("invalid storage configuration: {0}")]
    Config(&'static str),

    /// A file-system operation failed (creating the data directory).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Converts into the core error, for a backend named `backend`.
    pub fn into_core(self, backend: &'static str) -> codesync_core::Error {
        match self {
            StoreError::Corrupt { key, detail } => {
                codesync_core::Error::CorruptDocument { key, detail }
            }
            other => codesync_core::Error::storage(backend, other),
        }
    }
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
