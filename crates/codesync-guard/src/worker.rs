//! The worker process: reads requests on stdin, checks them one at a time, answers on
//! stdout in request order.
//!
//! One at a time and in order is what lets the server name the culprit when a worker dies:
//! the oldest unanswered request is the one being checked.

use std::io::{self, BufReader, BufWriter};

use crate::check::Mirrors;
use crate::wire::{self, Outcome, Request, Response};

/// Set (to anything) in a worker's environment by the server that spawns it.
pub const WORKER_ENV: &str = "CODESYNC_GUARD_WORKER";
/// The worker's address-space limit in bytes, set by the server that spawns it.
pub(crate) const MEMORY_ENV: &str = "CODESYNC_GUARD_WORKER_MEMORY";
/// How many document copies the worker keeps, set by the server that spawns it.
pub(crate) const MIRRORS_ENV: &str = "CODESYNC_GUARD_WORKER_MIRRORS";

/// Becomes a guard worker if this process was started as one, and never returns then.
///
/// Call it first thing in `main` of any program that uses a
/// [`ProcessGuard`](crate::ProcessGuard) with the default worker command (which starts the
/// program's own executable again). In any other process it returns at once.
///
/// ```no_run
/// # fn serve() {}
/// // First thing in `main`, before any runtime or thread starts:
/// codesync_guard::run_worker_if_requested();
/// serve();
/// ```
pub fn run_worker_if_requested() {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    let code = match serve() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("codesync-guard worker: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// The worker's loop, until the server closes stdin.
fn serve() -> io::Result<()> {
    if let Some(limit) = env_number(MEMORY_ENV) {
        // A crafted update can make the decoder ask for tens of gigabytes: with a cap the
        // request fails at once (and the worker aborts) instead of swapping the machine.
        rlimit::setrlimit(rlimit::Resource::AS, limit, limit)?;
    }
    let capacity = env_number(MIRRORS_ENV).map_or(1024, |n| n as usize);
    quiet_panics();
    let mut mirrors = Mirrors::new(capacity);
    let mut input = BufReader::new(io::stdin().lock());
    let mut output = BufWriter::new(io::stdout().lock());
    let ready = Response {
        id: 0,
        outcome: Outcome::Ready,
    };
    wire::write_frame(&mut output, &ready)?;
    while let Some(body) = wire::read_frame(&mut input)? {
        let request: Request = wire::decode(&body)?;
        let response = match request {
            Request::Forget { key } => {
                mirrors.forget(&key);
                continue;
            }
            Request::Update {
                id,
                key,
                base_version,
                base,
                update,
            } => Response {
                id,
                outcome: mirrors.check_update(&key, &base_version, base.as_deref(), &update),
            },
            Request::Stored { id, key, blobs } => {
                let blobs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
                Response {
                    id,
                    outcome: mirrors.check_stored(&key, &blobs),
                }
            }
        };
        wire::write_frame(&mut output, &response)?;
    }
    Ok(())
}

/// Panics here are expected (they are what the worker is for): one short line each on
/// stderr instead of a backtrace prompt.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("codesync-guard worker: the CRDT library panicked{at} on a refused input");
    }));
}
