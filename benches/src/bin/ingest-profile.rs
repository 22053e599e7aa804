//! Run with: `valgrind --tool=callgrind target/release/ingest-profile [hub|loro] [TRACE] [UPDATES] [BASE]`
//!
//! One ingest run, for a profiler: feeds the first UPDATES (default 3000) per-keystroke
//! updates of TRACE (default `automerge-paper`; synthetic typing without
//! `CODESYNC_TRACES_DIR`) through the shipped hub (`hub`) or a bare `LoroDoc` (`loro`).
//! With BASE, the session starts from a stored snapshot of the first BASE keystrokes and
//! the UPDATES after them are fed (the bench's `*_after_20k` cases, with BASE 20000).
//! To count only the measured part, not reading the trace:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=hub.out \
//!     --toggle-collect=codesync_benches::ingest::hub_ingest target/release/ingest-profile hub
//! valgrind --tool=callgrind --callgrind-out-file=loro.out \
//!     --toggle-collect=codesync_benches::ingest::loro_import target/release/ingest-profile loro
//! callgrind_annotate --inclusive=yes hub.out        # top inclusive costs
//! callgrind_annotate --inclusive=yes --tree=caller hub.out   # who calls import / export
//! ```

#![forbid(unsafe_code)]

use std::process::ExitCode;

use codesync_benches::ingest::{self, IngestWorkload};

fn run() -> codesync_benches::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "hub".to_owned());
    let trace = args.next().unwrap_or_else(|| "automerge-paper".to_owned());
    let count = args.next().and_then(|n| n.parse().ok()).unwrap_or(3000);
    let base: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let keystrokes = codesync_benches::keystrokes(&trace, base + count);
    let workload = if base == 0 {
        IngestWorkload::new(&trace, keystrokes)
    } else {
        IngestWorkload::after(&trace, keystrokes, base)?
    };
    codesync_benches::announce("ingest-profile", &workload.source, workload.from_trace);
    let elapsed = match mode.as_str() {
        "loro" => ingest::loro_import(&workload)?,
        _ => ingest::hub_ingest(&ingest::runtime()?, ingest::shipped_hub(), &workload)?,
    };
    eprintln!(
        "{mode}: {} updates in {elapsed:?} ({:?} per update)",
        workload.len(),
        elapsed / workload.len().max(1) as u32
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest-profile: {e}");
            ExitCode::FAILURE
        }
    }
}
