//! The one error type of the benchmark helpers: setup that fails stops the benchmark with
//! a message naming what failed, rather than measuring something else.

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The hub or a session refused something the benchmark expected to succeed.
    #[error("codesync-core: {0}")]
    Core(#[from] codesync_core::Error),
    /// A storage backend could not be opened.
    #[error("storage: {0}")]
    Store(#[from] codesync_store::StoreError),
    /// The wire codec refused a frame the benchmark made.
    #[error("protocol: {0}")]
    Protocol(#[from] codesync_transport_ws::Error),
    /// Loro refused bytes it produced itself.
    #[error("loro: {0}")]
    Loro(#[from] loro::LoroError),
    /// Loro could not export a document it holds.
    #[error("loro export: {0}")]
    LoroExport(#[from] loro::LoroEncodeError),
    /// Reading or writing a file, or starting a process, failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Something the benchmark relies on did not hold.
    #[error("{0}")]
    Unexpected(String),
}

/// The result of a benchmark helper.
pub type Result<T> = std::result::Result<T, BenchError>;
