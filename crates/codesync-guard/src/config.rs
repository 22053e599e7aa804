//! How a [`ProcessGuard`](crate::ProcessGuard) runs its workers.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of a [`ProcessGuard`](crate::ProcessGuard).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GuardConfig {
    /// Worker processes; sessions are spread over them by key (default 1).
    pub workers: usize,
    /// How long one check may take before its worker is killed and the bytes refused
    /// (default 10 s): a crafted update may loop for a long time instead of crashing.
    pub timeout: Duration,
    /// Document copies each worker keeps (default 1024); a session whose copy was dropped
    /// sends its current snapshot with its next update.
    pub max_copies: usize,
    /// Each worker's address-space limit in bytes (default 4 GiB; `None`: no limit).
    pub worker_memory_bytes: Option<u64>,
    /// The worker program (default: this process's own executable, which must call
    /// [`run_worker_if_requested`](crate::run_worker_if_requested) first thing in `main`).
    pub worker_program: Option<PathBuf>,
    /// Arguments for the worker program.
    pub worker_args: Vec<OsString>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            timeout: Duration::from_secs(10),
            max_copies: 1024,
            worker_memory_bytes: Some(4 << 30),
            worker_program: None,
            worker_args: Vec::new(),
        }
    }
}

impl GuardConfig {
    /// This config with `workers` worker processes (at least 1).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// This config with another per-check timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// This config keeping at most `copies` documents per worker.
    pub fn with_max_copies(mut self, copies: usize) -> Self {
        self.max_copies = copies.max(1);
        self
    }

    /// This config with another worker memory limit (`None`: no limit).
    pub fn with_worker_memory_bytes(mut self, bytes: Option<u64>) -> Self {
        self.worker_memory_bytes = bytes;
        self
    }

    /// This config starting `program` with `args` as the worker (for example the
    /// `codesync-guard-worker` binary of this crate).
    pub fn with_worker_program(
        mut self,
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Self {
        self.worker_program = Some(program.into());
        self.worker_args = args.into_iter().map(Into::into).collect();
        self
    }
}
