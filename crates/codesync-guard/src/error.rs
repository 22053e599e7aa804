//! The one error type of `codesync-guard`.

/// Everything that can go wrong when starting a guard.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// A guard needs a tokio runtime to run its workers' tasks.
    #[error("codesync-guard must be started inside a tokio runtime")]
    NoRuntime,
    /// The first worker process could not be started.
    #[error("cannot start a guard worker: {0}")]
    Spawn(#[source] std::io::Error),
}
