//! Counters of a backend's writer, for tests and benchmarks of group commit.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a backend's writer has done since it opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// Transactions committed (each one flush to disk).
    pub commits: u64,
    /// Writes (appends, compactions, deletes) carried by those commits.
    pub writes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct WriteCounters {
    commits: AtomicU64,
    writes: AtomicU64,
}

impl WriteCounters {
    /// Records one committed batch of `writes` writes.
    pub(crate) fn committed(&self, writes: usize) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WriteStats {
        WriteStats {
            commits: self.commits.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }
}
