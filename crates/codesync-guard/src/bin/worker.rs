//! Run with: spawned by `codesync_guard::ProcessGuard` (set
//! `GuardConfig::worker_program` to this binary); not meant to be run by hand.
//!
//! A stand-alone guard worker, for programs that would rather not start their own
//! executable again as the worker.

fn main() {
    if std::env::var_os(codesync_guard::WORKER_ENV).is_none() {
        eprintln!(
            "codesync-guard-worker is started by codesync's ProcessGuard, which sets {}",
            codesync_guard::WORKER_ENV
        );
        std::process::exit(2);
    }
    codesync_guard::run_worker_if_requested();
}
