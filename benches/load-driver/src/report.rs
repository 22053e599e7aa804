//! The result of a run: the JSON document and the table printed on stdout.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::{Mode, Pace, Protocol};
use crate::merge_limit::MergeLimit;
use crate::rss::RssSummary;
use crate::trace::Kind;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Percentiles {
    /// Samples.
    pub(crate) count: u64,
    /// Median.
    pub(crate) p50: u64,
    /// 90th percentile.
    pub(crate) p90: u64,
    /// 99th percentile.
    pub(crate) p99: u64,
    /// 99.9th percentile.
    pub(crate) p999: u64,
    /// Largest.
    pub(crate) max: u64,
    /// Mean.
    pub(crate) mean: f64,
}

impl Percentiles {
    /// From a histogram (`None` when it is empty).
    pub(crate) fn of(h: &Histogram<u64>) -> Option<Self> {
        (!h.is_empty()).then(|| Self {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        })
    }
}

/// The trace and how much of it ran.
#[derive(Debug, Serialize)]
pub(crate) struct TraceInfo {
    /// Name.
    pub(crate) name: String,
    /// Sequential or concurrent.
    pub(crate) kind: Kind,
    /// Transactions replayed (after `--limit`).
    pub(crate) txns: usize,
    /// `--limit`, if given.
    pub(crate) limit: Option<usize>,
    /// Updates per session (transactions with ops).
    pub(crate) updates: usize,
    /// Transactions without ops (not sent).
    pub(crate) skipped: usize,
    /// Update bytes per session.
    pub(crate) update_bytes: usize,
    /// Characters of the expected final text.
    pub(crate) expected_chars: usize,
}

/// Durations of the run's phases, in seconds.
#[derive(Debug, Serialize)]
pub(crate) struct Timing {
    /// Loading the trace and precomputing updates.
    pub(crate) precompute_secs: f64,
    /// Opening and joining every client.
    pub(crate) connect_secs: f64,
    /// From the start signal to the last delivery (or the end of the run).
    pub(crate) elapsed_secs: f64,
    /// From the start signal to the last send.
    pub(crate) send_secs: f64,
}

/// Delivery accounting (see `receipts.rs` for the definitions).
#[derive(Debug, Serialize)]
pub(crate) struct Deliveries {
    /// Updates × (clients − 1) × sessions.
    pub(crate) expected: u64,
    /// Received.
    pub(crate) received: u64,
    /// Sent but never received by a client that expected them.
    pub(crate) lost: u64,
    /// Transactions never sent (a writer failed or the run timed out), per session summed.
    pub(crate) unsent_txns: u64,
    /// A transaction's ops received again by a client that had them.
    pub(crate) duplicates: u64,
    /// A client's own transactions sent back to it.
    pub(crate) echoes: u64,
    /// Incoming updates that changed nothing.
    pub(crate) redundant_updates: u64,
    /// Incoming updates.
    pub(crate) updates_in: u64,
}

/// Errors seen.
#[derive(Debug, Serialize)]
pub(crate) struct Errors {
    /// Acks that refused an update.
    pub(crate) refused_acks: u64,
    /// Refusals by reason.
    pub(crate) refused_by_reason: BTreeMap<String, u64>,
    /// Sends never acknowledged (protocols that ack).
    pub(crate) unacked: u64,
    /// Connections lost or never opened.
    pub(crate) disconnects: u64,
    /// Protocol errors (bad frames, unimportable updates, unexpected messages).
    pub(crate) protocol_errors: u64,
    /// The run hit `--timeout-secs`.
    pub(crate) timed_out: bool,
    /// The first few messages.
    pub(crate) messages: Vec<String>,
}

/// The server's resources over the run (`--server-pid`).
#[derive(Debug, Serialize)]
pub(crate) struct Server {
    /// Its pid.
    pub(crate) pid: u32,
    /// RSS samples.
    pub(crate) rss: RssSummary,
    /// CPU seconds it used from the start signal to the last delivery.
    pub(crate) cpu_secs: Option<f64>,
    /// CPU microseconds per update sent.
    pub(crate) cpu_us_per_update: Option<f64>,
}

/// A client whose text is not the expected one.
#[derive(Debug, Serialize)]
pub(crate) struct Mismatch {
    /// Session id.
    pub(crate) session: String,
    /// Client index.
    pub(crate) client: usize,
    /// Its characters.
    pub(crate) chars: usize,
    /// Where it first differs.
    pub(crate) first_difference: usize,
}

/// The whole result.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// `codesync-load`.
    pub(crate) tool: &'static str,
    /// This driver's version.
    pub(crate) version: &'static str,
    /// `--label`.
    pub(crate) label: Option<String>,
    /// Wire protocol.
    pub(crate) protocol: Protocol,
    /// Server URL (the first `--url`).
    pub(crate) url: String,
    /// Every `--url`, in order: node n is `urls[n]`.
    pub(crate) urls: Vec<String>,
    /// The node (index in `urls`) each client of a session connected to, by client index.
    pub(crate) client_nodes: Vec<usize>,
    /// The trace.
    pub(crate) trace: TraceInfo,
    /// Sessions.
    pub(crate) sessions: usize,
    /// Clients per session.
    pub(crate) clients: usize,
    /// Writer mode (sequential traces).
    pub(crate) mode: Mode,
    /// Pacing.
    pub(crate) pace: Pace,
    /// Keystrokes per second per writer (`keystroke` pace).
    pub(crate) rate: f64,
    /// Session ids are `{prefix}-{n}`.
    pub(crate) session_prefix: String,
    /// Phase durations.
    pub(crate) timing: Timing,
    /// Transactions sent, all sessions.
    pub(crate) txns_sent: u64,
    /// Transactions sent per second of `elapsed_secs`.
    pub(crate) updates_per_sec: f64,
    /// Deliveries per second of `elapsed_secs`.
    pub(crate) deliveries_per_sec: f64,
    /// Send → receipt, µs, over every delivery.
    pub(crate) latency_us: Option<Percentiles>,
    /// The deliveries of `latency_us` between clients on the same node (all of them with
    /// one URL).
    pub(crate) same_node_latency_us: Option<Percentiles>,
    /// The deliveries of `latency_us` between clients on different nodes (null when none).
    pub(crate) cross_node_latency_us: Option<Percentiles>,
    /// Send → server ack, µs (protocols that ack).
    pub(crate) ack_latency_us: Option<Percentiles>,
    /// Delivery accounting.
    pub(crate) deliveries: Deliveries,
    /// Errors.
    pub(crate) errors: Errors,
    /// The merge limit of the same updates, measured by this run before connecting.
    pub(crate) merge_limit: MergeLimit,
    /// `updates_per_sec / merge_limit.updates_per_sec`.
    pub(crate) updates_per_sec_vs_merge_limit: f64,
    /// Server memory and CPU, with `--server-pid`.
    pub(crate) server: Option<Server>,
    /// CPU seconds the driver used during the load; near `elapsed_secs` × its cores means
    /// the driver, not the server, was the bottleneck.
    pub(crate) driver_cpu_secs: Option<f64>,
    /// Every client ended with the expected text.
    pub(crate) converged: bool,
    /// Clients that did not.
    pub(crate) mismatches: Vec<Mismatch>,
    /// Converged, nothing lost or unsent, no disconnects, no timeout.
    pub(crate) ok: bool,
}

/// One latency line of the table: `name`, then the percentiles.
fn latency_line(name: &str, p: &Percentiles) -> String {
    format!(
        "  {name:<11} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  ({} samples)",
        us(p.p50),
        us(p.p90),
        us(p.p99),
        us(p.p999),
        us(p.max),
        p.count
    )
}

fn us(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{v} µs")
    }
}

impl Report {
    /// The same-node and cross-node latency lines.
    fn print_locality(&self) {
        match &self.same_node_latency_us {
            Some(p) => println!("{}", latency_line("same-node", p)),
            None => println!("  same-node   none"),
        }
        match &self.cross_node_latency_us {
            Some(p) => println!("{}", latency_line("cross-node", p)),
            None if self.urls.len() < 2 => {
                println!("  cross-node  none (one --url: every client on one node)");
            }
            None => println!("  cross-node  none (no delivery crossed nodes)"),
        }
    }

    /// The human table.
    pub(crate) fn print(&self) {
        let r = self;
        println!(
            "codesync-load {} — {}",
            r.version,
            r.label.as_deref().unwrap_or("")
        );
        if r.urls.len() > 1 {
            let nodes: Vec<String> = r
                .urls
                .iter()
                .enumerate()
                .map(|(n, u)| format!("node {n} {u}"))
                .collect();
            println!("  server      {} ({:?})", nodes.join(", "), r.protocol);
            println!(
                "  placement   client i on node i mod {}: clients → nodes {:?}",
                r.urls.len(),
                r.client_nodes
            );
        } else {
            println!("  server      {} ({:?})", r.url, r.protocol);
        }
        println!(
            "  workload    {} ({:?}, {} txns → {} updates, {} B), {} sessions × {} clients, {:?}, {:?}{}",
            r.trace.name,
            r.trace.kind,
            r.trace.txns,
            r.trace.updates,
            r.trace.update_bytes,
            r.sessions,
            r.clients,
            r.mode,
            r.pace,
            if r.pace == Pace::Keystroke { format!(" at {}/s per writer", r.rate) } else { String::new() }
        );
        println!(
            "  time        precompute {:.2} s, connect {:.2} s, load {:.3} s (last send at {:.3} s)",
            r.timing.precompute_secs, r.timing.connect_secs, r.timing.elapsed_secs, r.timing.send_secs
        );
        println!(
            "  throughput  {:.0} updates/s sent, {:.0} deliveries/s ({:.4}× the merge limit of {:.0} updates/s)",
            r.updates_per_sec, r.deliveries_per_sec, r.updates_per_sec_vs_merge_limit, r.merge_limit.updates_per_sec
        );
        if let Some(p) = &r.latency_us {
            println!("{}", latency_line("latency", p));
        }
        self.print_locality();
        if let Some(p) = &r.ack_latency_us {
            println!("{}", latency_line("ack", p));
        }
        let d = &r.deliveries;
        println!(
            "  deliveries  {}/{} received, {} lost, {} unsent txns, {} duplicates, {} echoes, {} redundant of {} updates in",
            d.received, d.expected, d.lost, d.unsent_txns, d.duplicates, d.echoes, d.redundant_updates, d.updates_in
        );
        let e = &r.errors;
        println!(
            "  errors      {} refused acks {:?}, {} unacked, {} disconnects, {} protocol errors{}",
            e.refused_acks,
            e.refused_by_reason,
            e.unacked,
            e.disconnects,
            e.protocol_errors,
            if e.timed_out { ", TIMED OUT" } else { "" }
        );
        for m in &e.messages {
            println!("              {m}");
        }
        if let Some(s) = &r.server {
            println!(
                "  server      pid {}: RSS start {:.1} MiB, loaded {:.1} MiB, peak {:.1} MiB, end {:.1} MiB; CPU {}",
                s.pid,
                s.rss.start_kib as f64 / 1024.0,
                s.rss.loaded_kib as f64 / 1024.0,
                s.rss.peak_kib as f64 / 1024.0,
                s.rss.end_kib as f64 / 1024.0,
                match (s.cpu_secs, s.cpu_us_per_update) {
                    (Some(c), Some(u)) => format!("{c:.2} s ({u:.1} µs/update)"),
                    _ => "n/a".into(),
                }
            );
        }
        if let Some(c) = r.driver_cpu_secs {
            println!("  driver      CPU {c:.2} s during the load");
        }
        if r.converged {
            println!(
                "  convergence every client has the expected text ({} chars)",
                r.trace.expected_chars
            );
        } else {
            for m in &r.mismatches {
                println!(
                    "  DIVERGED    session {} client {}: {} chars, first difference at char {} (expected {} chars)",
                    m.session, m.client, m.chars, m.first_difference, r.trace.expected_chars
                );
            }
        }
        println!("  result      {}", if r.ok { "OK" } else { "FAILED" });
    }
}
