//! Shared pieces of codesync's benchmarks, each of which reports a ratio against a
//! baseline measured in the same run (machines here are noisy 2-core VMs; bare absolute
//! times would mislead).
//!
//! | module | what |
//! |---|---|
//! | [`traces`] | reading the editing traces, per-keystroke Loro updates |
//! | [`ingest`] | server ingest of one update vs raw `LoroDoc::import` |
//! | [`frames`] | the protocol messages the codec benchmark uses |
//! | [`stored`] | stored sessions (snapshot, tail) for the cold-load benchmark |
//! | [`memory`] | resident memory per live session, one process per measurement |
//! | [`report`] | criterion's estimates as a markdown table of ratios |
//!
//! The traces (`josephg/editing-traces`, CC BY 4.0: Joseph Gentle and the trace authors)
//! live outside the repository; point `CODESYNC_TRACES_DIR` at the directory holding
//! `sequential/` and `concurrent/`. Without it, benchmarks fall back to synthetic typing
//! and say so.

#![forbid(unsafe_code)]

mod error;
pub mod frames;
pub mod ingest;
pub mod memory;
pub mod report;
pub mod stored;
pub mod traces;

pub use error::{BenchError, Result};
pub use traces::{
    keystroke_updates, keystrokes, traces_dir, Keystrokes, Patch, SequentialTrace, TraceError,
    TRACES_ENV, TRACE_CREDIT,
};

/// Prints where a benchmark's payload came from on stderr, as `workload: …` (the line
/// `benches/micro.sh` collects under its table), with the traces' credit when they were used.
pub fn announce(bench: &str, source: &str, from_trace: bool) {
    eprintln!("workload: {bench}: {source}");
    if from_trace {
        eprintln!("traces: {TRACE_CREDIT}");
    }
}
