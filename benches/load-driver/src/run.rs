//! `codesync-load run`: precompute, connect everyone, start together, wait for every
//! delivery (or the timeout), then check convergence and report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout_at;

use crate::cli::{Mode, RunArgs};
use crate::client::{run_client, ClientOutcome, RunShared, SessionShared, Signal, Wiring};
use crate::merge_limit;
use crate::placement::Placement;
use crate::plan::{first_difference, Plan};
use crate::report::{self, Deliveries, Errors, Mismatch, Percentiles, Report, Timing, TraceInfo};
use crate::rss::{self, Sampler};
use crate::stats::Stats;
use crate::trace::{Kind, Trace};

/// After a client fails, how long the others may still finish what is in flight.
const GRACE: Duration = Duration::from_secs(2);

/// A prefix no earlier run used: time and pid, in hex.
fn random_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "load-{:x}{:x}",
        nanos & 0xffff_ffff_ffff,
        std::process::id()
    )
}

/// Runs the load, prints the table, writes the JSON; the caller turns `ok` into the exit
/// status.
pub(crate) async fn run(args: RunArgs) -> Result<Report> {
    if args.sessions == 0 || args.clients == 0 {
        bail!("--sessions and --clients must be at least 1");
    }
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a positive number");
    }
    let Some(placement) = Placement::new(args.url.clone()) else {
        bail!("--url is required");
    };
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let began = Instant::now();
    let t = &args.trace;
    let trace = Trace::load(&t.traces_dir, &t.trace, t.limit)?;
    if trace.kind == Kind::Concurrent && args.mode == Mode::Handoff {
        eprintln!("note: concurrent traces replay by agent; --mode handoff has no effect");
    }
    let crdt = args.protocol.crdt();
    let plan = Plan::build(&trace, crdt, args.mode, args.clients)
        .with_context(|| format!("precomputing {} updates", trace.name))?;
    if plan.txns.is_empty() {
        bail!("the trace produced no update");
    }
    let precompute_secs = began.elapsed().as_secs_f64();
    let merge = merge_limit::measure(&plan, 3)?;
    eprintln!(
        "{} updates precomputed in {precompute_secs:.2} s; merge limit {:.0} updates/s",
        plan.txns.len(),
        merge.updates_per_sec
    );

    let prefix = args.session_prefix.clone().unwrap_or_else(random_prefix);
    for line in placement.describe(args.clients) {
        eprintln!("{line}");
    }
    let sampler = match args.server_pid {
        Some(pid) => {
            Some(Sampler::spawn(pid).with_context(|| format!("no /proc entry for pid {pid}"))?)
        }
        None => None,
    };
    let txn_count = plan.txns.len();
    let run = Arc::new(RunShared {
        plan,
        protocol: args.protocol,
        placement,
        token: args.token.clone(),
        pace: args.pace,
        rate: args.rate,
        sessions: args.sessions,
        base: Instant::now(),
    });
    let sessions: Vec<Arc<SessionShared>> = (0..args.sessions)
        .map(|index| {
            Arc::new(SessionShared {
                name: format!("{prefix}-{index}"),
                index,
                sent_at: (0..txn_count).map(|_| AtomicU64::new(0)).collect(),
            })
        })
        .collect();
    let (start_tx, start_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (signal_tx, mut signals) = mpsc::unbounded_channel();
    let connect_began = Instant::now();
    let mut tasks = Vec::new();
    for session in &sessions {
        for me in 0..args.clients {
            let wiring = Wiring {
                start: start_rx.clone(),
                stop: stop_rx.clone(),
                signals: signal_tx.clone(),
            };
            tasks.push(tokio::spawn(run_client(
                run.clone(),
                session.clone(),
                me,
                wiring,
            )));
        }
    }
    drop(signal_tx);
    let total = args.sessions * args.clients;

    // Wait until every client has joined.
    let (mut ready, mut refused, mut timed_out) = (0, 0, false);
    let mut done_at: Vec<Instant> = Vec::new();
    while ready + refused < total {
        match timeout_at(deadline.into(), signals.recv()).await {
            Ok(Some(Signal::Ready(Ok(())))) => ready += 1,
            Ok(Some(Signal::Ready(Err(e)))) => {
                refused += 1;
                eprintln!("a client could not join: {e}");
            }
            Ok(Some(Signal::Done(at))) => done_at.push(at),
            Ok(Some(Signal::Failed)) => {}
            Ok(None) => break,
            Err(_) => {
                timed_out = true;
                break;
            }
        }
    }
    let connect_secs = connect_began.elapsed().as_secs_f64();
    let start = Instant::now();
    let cpu_at = |pid: Option<u32>| rss::cpu_secs(&pid.map_or("self".into(), |p| p.to_string()));
    let (server_cpu0, driver_cpu0) = (args.server_pid.and_then(|p| cpu_at(Some(p))), cpu_at(None));
    if let Some(s) = &sampler {
        s.mark_loaded();
    }
    let mut end = start;
    if refused == 0 && !timed_out {
        eprintln!("{total} clients joined in {connect_secs:.2} s; starting");
        let _ = start_tx.send(Some(start));
        let mut grace: Option<Instant> = None;
        while done_at.len() < total {
            let limit = grace.map_or(deadline, |g| g.min(deadline));
            match timeout_at(limit.into(), signals.recv()).await {
                Ok(Some(Signal::Done(at))) => done_at.push(at),
                Ok(Some(Signal::Failed)) => {
                    grace.get_or_insert_with(|| Instant::now() + GRACE);
                }
                Ok(Some(Signal::Ready(_))) => {}
                Ok(None) => break,
                Err(_) => {
                    timed_out = grace.is_none();
                    break;
                }
            }
        }
        end = if done_at.len() == total {
            done_at.iter().copied().max().unwrap_or(start)
        } else {
            Instant::now()
        };
    }
    let (server_cpu1, driver_cpu1) = (args.server_pid.and_then(|p| cpu_at(Some(p))), cpu_at(None));
    let rss = sampler.map(Sampler::finish);
    let _ = stop_tx.send(true);
    let mut outcomes: Vec<ClientOutcome> = Vec::with_capacity(total);
    for task in tasks {
        outcomes.push(task.await.context("a client task panicked")?);
    }

    // Totals.
    let mut stats = Stats::new();
    for o in &outcomes {
        stats.merge(&o.stats);
    }
    let plan = &run.plan;
    let mut unsent = 0u64;
    let mut last_send = 0u64;
    for s in &sessions {
        for at in &s.sent_at {
            match at.load(Ordering::Acquire) {
                0 => unsent += 1,
                v => last_send = last_send.max(v - 1),
            }
        }
    }
    let elapsed = end.saturating_duration_since(start).as_secs_f64().max(1e-9);
    let send_secs = (run.base + Duration::from_nanos(last_send))
        .saturating_duration_since(start)
        .as_secs_f64();
    let mismatches: Vec<Mismatch> = outcomes
        .iter()
        .filter(|o| o.text != plan.expected_text)
        .map(|o| Mismatch {
            session: sessions[o.session].name.clone(),
            client: o.client,
            chars: o.text.chars().count(),
            first_difference: first_difference(&plan.expected_text, &o.text),
        })
        .collect();
    let foreign_per_session: u64 = (0..args.clients)
        .map(|c| plan.txns.iter().filter(|t| t.sender != c).count() as u64)
        .sum();
    let converged = mismatches.is_empty() && refused == 0;
    let server = args.server_pid.map(|pid| {
        let cpu = server_cpu0.zip(server_cpu1).map(|(a, b)| b - a);
        report::Server {
            pid,
            rss: rss.unwrap_or_default(),
            cpu_secs: cpu,
            cpu_us_per_update: cpu.map(|c| c * 1e6 / stats.sent.max(1) as f64),
        }
    });
    let ok = converged && stats.lost == 0 && unsent == 0 && stats.disconnects == 0 && !timed_out;
    let report = Report {
        tool: "codesync-load",
        version: env!("CARGO_PKG_VERSION"),
        label: args.label.clone(),
        protocol: args.protocol,
        url: run.placement.url_of(0).to_owned(),
        urls: run.placement.urls().to_vec(),
        client_nodes: run.placement.client_nodes(args.clients),
        trace: TraceInfo {
            name: trace.name.clone(),
            kind: trace.kind,
            txns: trace.txns.len(),
            limit: t.limit,
            updates: plan.txns.len(),
            skipped: plan.skipped,
            update_bytes: plan.update_bytes(),
            expected_chars: plan.expected_text.chars().count(),
        },
        sessions: args.sessions,
        clients: args.clients,
        mode: args.mode,
        pace: args.pace,
        rate: args.rate,
        session_prefix: prefix,
        timing: Timing {
            precompute_secs,
            connect_secs,
            elapsed_secs: elapsed,
            send_secs,
        },
        txns_sent: stats.sent,
        updates_per_sec: stats.sent as f64 / elapsed,
        deliveries_per_sec: stats.deliveries as f64 / elapsed,
        latency_us: Percentiles::of(&stats.latency),
        same_node_latency_us: Percentiles::of(&stats.same_node_latency),
        cross_node_latency_us: Percentiles::of(&stats.cross_node_latency),
        ack_latency_us: Percentiles::of(&stats.ack_latency),
        deliveries: Deliveries {
            expected: foreign_per_session * args.sessions as u64,
            received: stats.deliveries,
            lost: stats.lost,
            unsent_txns: unsent,
            duplicates: stats.duplicates,
            echoes: stats.echoes,
            redundant_updates: stats.redundant_updates,
            updates_in: stats.updates_in,
        },
        errors: Errors {
            refused_acks: stats.refused_acks,
            refused_by_reason: stats.refused_by_reason.clone(),
            unacked: stats.unacked,
            disconnects: stats.disconnects,
            protocol_errors: stats.protocol_errors,
            timed_out,
            messages: stats.errors.clone(),
        },
        updates_per_sec_vs_merge_limit: (stats.sent as f64 / elapsed) / merge.updates_per_sec,
        merge_limit: merge,
        server,
        driver_cpu_secs: driver_cpu0.zip(driver_cpu1).map(|(a, b)| b - a),
        converged,
        mismatches,
        ok,
    };
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}
