//! The oracle's worker: a process that runs the ingest sequence on each request and
//! reports, so that an input that aborts a process aborts this one and not the caller.

use std::io::{self, Write};

use super::wire;
use crate::ingest::{ingest, Outcome};

/// Set (to anything) in a process's environment to make [`serve_if_requested`] turn it
/// into an oracle worker.
pub const WORKER_ENV: &str = "CODESYNC_FUZZ_ORACLE_WORKER";

/// If this process was started as an oracle worker (see [`WORKER_ENV`]), serves requests
/// on stdin until it closes and then exits; otherwise returns at once. Call it first in
/// `main` (or in a test the oracle re-runs, see
/// [`Oracle::test_binary`](super::Oracle::test_binary)).
pub fn serve_if_requested() {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    let code = match serve() {
        Ok(()) => 0,
        Err(e) => {
            // The oracle reads only stdout; this is for a person debugging the pipe.
            let _ = writeln!(io::stderr(), "oracle worker: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn serve() -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    // Written with `write_all` on the raw handle, not `print!`: a test harness captures
    // `print!` output, and the oracle must see each line as soon as it is written.
    let mut stdout = io::stdout().lock();
    while let Some(mut parts) = wire::read_request(&mut stdin)? {
        let input = parts.pop().unwrap_or_default();
        let bases: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let mut observe = |stage| {
            // A stage line that cannot be written is reported by the outcome's write.
            let _ = stdout
                .write_all(wire::stage_line(stage).as_bytes())
                .and_then(|()| stdout.flush());
        };
        let outcome = ingest(&bases, &input, &mut observe);
        stdout.write_all(wire::outcome_line(&outcome).as_bytes())?;
        stdout.flush()?;
        if matches!(outcome, Outcome::Panicked { .. }) {
            // The documents were leaked; a fresh process keeps every verdict independent
            // of what earlier inputs left behind. The oracle waits for this exit.
            return Ok(());
        }
    }
    Ok(())
}
