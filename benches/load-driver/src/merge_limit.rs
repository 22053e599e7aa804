//! The merge-limit baseline: how fast one document imports the very updates the load
//! sends, one by one, with no network and no server (`LoroDoc::import` for Loro, decode +
//! `apply_update` for Yjs). A server cannot merge faster than this on one core.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::cli::MergeLimitArgs;
use crate::crdt::{self, Crdt};
use crate::plan::Plan;
use crate::trace::Trace;

/// One CRDT's merge limit.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MergeLimit {
    /// Which CRDT.
    pub(crate) crdt: Crdt,
    /// Updates imported per pass.
    pub(crate) updates: usize,
    /// Median seconds per pass.
    pub(crate) secs: f64,
    /// Updates per second.
    pub(crate) updates_per_sec: f64,
    /// Microseconds per update.
    pub(crate) us_per_update: f64,
    /// Passes measured.
    pub(crate) passes: usize,
}

/// Imports every update of `plan` into a fresh document `passes` times; the median pass.
/// Fails if the result is not the plan's text.
pub(crate) fn measure(plan: &Plan, passes: usize) -> Result<MergeLimit> {
    let updates: Vec<&[u8]> = plan.txns.iter().map(|t| t.update.as_ref()).collect();
    let mut times: Vec<Duration> = Vec::with_capacity(passes.max(1));
    for _ in 0..passes.max(1) {
        let (elapsed, text) = match plan.crdt {
            Crdt::Loro => crdt::loro::raw_import(&updates)?,
            Crdt::Yjs => crdt::yjs::raw_apply(&updates)?,
        };
        if text != plan.expected_text {
            bail!(
                "merge-limit replay of {:?} does not give the expected text",
                plan.crdt
            );
        }
        times.push(elapsed);
    }
    times.sort();
    let secs = times[times.len() / 2].as_secs_f64().max(1e-9);
    Ok(MergeLimit {
        crdt: plan.crdt,
        updates: updates.len(),
        secs,
        updates_per_sec: updates.len() as f64 / secs,
        us_per_update: secs * 1e6 / updates.len().max(1) as f64,
        passes: times.len(),
    })
}

#[derive(Debug, Serialize)]
struct MergeLimitReport {
    trace: String,
    txns: usize,
    limit: Option<usize>,
    results: Vec<MergeLimit>,
}

/// `codesync-load merge-limit`.
pub(crate) fn command(args: MergeLimitArgs) -> Result<ExitCode> {
    let t = &args.trace;
    let trace = Trace::load(&t.traces_dir, &t.trace, t.limit)?;
    let mut results = Vec::new();
    for crdt in [Crdt::Loro, Crdt::Yjs] {
        let start = Instant::now();
        let plan = Plan::build(&trace, crdt, args.mode, args.clients)?;
        eprintln!(
            "{crdt:?}: {} updates precomputed in {:.1?}",
            plan.txns.len(),
            start.elapsed()
        );
        results.push(measure(&plan, args.repeat)?);
    }
    println!(
        "merge limit: {} ({} txns), median of {} passes",
        trace.name,
        trace.txns.len(),
        args.repeat
    );
    for r in &results {
        println!(
            "  {:<5} {:>12.0} updates/s  {:>8.2} µs/update  ({} updates, {:.3} s)",
            format!("{:?}", r.crdt).to_lowercase(),
            r.updates_per_sec,
            r.us_per_update,
            r.updates,
            r.secs
        );
    }
    if let Some(path) = &args.json {
        let report = MergeLimitReport {
            trace: trace.name.clone(),
            txns: trace.txns.len(),
            limit: t.limit,
            results,
        };
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
