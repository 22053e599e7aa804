//! Counters and histograms, one set per client, merged at the end.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

/// Latencies up to an hour, 3 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;

/// A new latency histogram (microseconds).
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// What one client (or, merged, the whole run) counted.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// Send → receipt, microseconds, one sample per delivery.
    pub(crate) latency: Histogram<u64>,
    /// Send → server acknowledgement, microseconds, one sample per accepted send.
    pub(crate) ack_latency: Histogram<u64>,
    /// Transactions sent.
    pub(crate) sent: u64,
    /// Deliveries (see `receipts.rs`).
    pub(crate) deliveries: u64,
    /// Duplicate deliveries.
    pub(crate) duplicates: u64,
    /// Own transactions carried back.
    pub(crate) echoes: u64,
    /// Incoming updates that changed nothing.
    pub(crate) redundant_updates: u64,
    /// Incoming updates.
    pub(crate) updates_in: u64,
    /// Acks that refused an update.
    pub(crate) refused_acks: u64,
    /// Refusals by reason.
    pub(crate) refused_by_reason: BTreeMap<String, u64>,
    /// Sends never acknowledged (protocols that ack).
    pub(crate) unacked: u64,
    /// Connections lost (or failed to open).
    pub(crate) disconnects: u64,
    /// Messages that broke the protocol, and updates that did not import.
    pub(crate) protocol_errors: u64,
    /// Sent transactions never received by a client that expected them.
    pub(crate) lost: u64,
    /// The first few error messages.
    pub(crate) errors: Vec<String>,
}

impl Stats {
    /// Empty.
    pub(crate) fn new() -> Self {
        Self {
            latency: histogram(),
            ack_latency: histogram(),
            sent: 0,
            deliveries: 0,
            duplicates: 0,
            echoes: 0,
            redundant_updates: 0,
            updates_in: 0,
            refused_acks: 0,
            refused_by_reason: BTreeMap::new(),
            unacked: 0,
            disconnects: 0,
            protocol_errors: 0,
            lost: 0,
            errors: Vec::new(),
        }
    }

    /// Records a latency in microseconds (at least 1: the histogram's floor).
    pub(crate) fn record(hist: &mut Histogram<u64>, micros: u64) {
        hist.saturating_record(micros.max(1));
    }

    /// Keeps an error message, up to a few per client.
    pub(crate) fn note(&mut self, message: String) {
        if self.errors.len() < 5 {
            self.errors.push(message);
        }
    }

    /// Adds another client's counts.
    pub(crate) fn merge(&mut self, other: &Stats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.ack_latency.add(&other.ack_latency);
        self.sent += other.sent;
        self.deliveries += other.deliveries;
        self.duplicates += other.duplicates;
        self.echoes += other.echoes;
        self.redundant_updates += other.redundant_updates;
        self.updates_in += other.updates_in;
        self.refused_acks += other.refused_acks;
        for (reason, n) in &other.refused_by_reason {
            *self.refused_by_reason.entry(reason.clone()).or_default() += n;
        }
        self.unacked += other.unacked;
        self.disconnects += other.disconnects;
        self.protocol_errors += other.protocol_errors;
        self.lost += other.lost;
        for e in &other.errors {
            if self.errors.len() < 10 {
                self.errors.push(e.clone());
            }
        }
    }
}
