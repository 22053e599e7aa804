//! Isolates the merging of untrusted Loro updates, so no bytes a peer sends can crash a
//! codesync server or poison a stored document.
//!
//! With loro 1.17.1, crafted updates (a few hundred bytes with a recomputed checksum) can
//! abort the process importing them (a 34 GB allocation request; a second panic while a
//! panicking document is dropped), which `catch_unwind` cannot stop, or be accepted and
//! leave a document whose snapshot panics when loaded later. [`ProcessGuard`] implements
//! codesync-core's [`UpdateGuard`](codesync_core::UpdateGuard) seam by trying each update
//! first in a worker process, on the worker's copy of the document, through the whole path
//! a server takes: import, read, snapshot, reload the snapshot, read again. A crash there
//! costs one worker (restarted at once); the update is refused with a clear error; the
//! live document never sees it and storage never stores it.
//!
//! See `docs/untrusted-input.md` in the repository for why this design, what it costs per
//! update, and the alternatives weighed.
//!
//! | item | what |
//! |---|---|
//! | [`ProcessGuard`] | the guard; give it to `HubBuilder::guard` |
//! | [`GuardConfig`] | workers, per-check timeout, copies kept, worker memory limit, worker command |
//! | [`run_worker_if_requested`] | call first in `main`: turns the process into a worker when started as one |
//! | `codesync-guard-worker` | a stand-alone worker binary, for [`GuardConfig::with_worker_program`] |
//!
//! Metrics: `codesync_guard_worker_restarts_total` and `codesync_guard_worker_crashes_total`
//! (restarts caused by an input), besides codesync-core's `codesync_guard_seconds`.

#![forbid(unsafe_code)]

mod check;
mod config;
mod error;
mod process_guard;
mod wire;
mod worker;
mod worker_handle;

pub use config::GuardConfig;
pub use error::GuardError;
pub use process_guard::ProcessGuard;
pub use worker::{run_worker_if_requested, WORKER_ENV};
