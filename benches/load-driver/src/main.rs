//! Run with: `cargo run --release -p codesync-load -- run --url ws://127.0.0.1:8080 --trace rustcode --sessions 4 --clients 3`
//!
//! The codesync load driver: replays real editing traces (josephg/editing-traces, CC BY
//! 4.0: Joseph Gentle and the trace authors) through many sessions and clients against a
//! collaboration server, and reports send→receipt latency, throughput, delivery errors and
//! server memory. `relay` is the no-CRDT fan-out baseline, `merge-limit` the raw-import
//! baseline. README.md beside this crate says how each figure is measured.

#![forbid(unsafe_code)]

mod cli;
mod client;
mod crdt;
mod merge_limit;
mod placement;
mod plan;
mod proto;
mod receipts;
mod relay;
mod report;
mod rss;
mod run;
mod stats;
mod trace;

#[cfg(test)]
mod e2e_cluster_tests;
#[cfg(test)]
mod e2e_tests;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // Pure CPU work: no runtime needed.
        Command::MergeLimit(args) => merge_limit::command(args),
        Command::Run(args) => runtime()
            .and_then(|rt| rt.block_on(run::run(args)))
            .map(|report| {
                if report.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }),
        Command::Relay(args) => runtime().and_then(|rt| rt.block_on(relay::relay(args))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("codesync-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A multi-threaded runtime with one worker per core this process may use (so
/// `taskset -c 1` gives it exactly one).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
