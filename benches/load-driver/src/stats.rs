//! Counters and histograms, one set per client, merged at the end.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::placement::Locality;

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
    /// The deliveries of `latency` whose sender and receiver are on the same node.
    pub(crate) same_node_latency: Histogram<u64>,
    /// The deliveries of `latency` whose sender and receiver are on different nodes.
    pub(crate) cross_node_latency: Histogram<u64>,
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
            same_node_latency: histogram(),
            cross_node_latency: histogram(),
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

    /// Records one delivery's send → receipt latency in the overall histogram and in the
    /// one of its locality.
    pub(crate) fn record_delivery(&mut self, locality: Locality, micros: u64) {
        Self::record(&mut self.latency, micros);
        let by_locality = match locality {
            Locality::SameNode => &mut self.same_node_latency,
            Locality::CrossNode => &mut self.cross_node_latency,
        };
        Self::record(by_locality, micros);
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
        let _ = self.same_node_latency.add(&other.same_node_latency);
        let _ = self.cross_node_latency.add(&other.cross_node_latency);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_goes_to_the_overall_histogram_and_its_localitys() {
        let mut s = Stats::new();
        s.record_delivery(Locality::SameNode, 100);
        s.record_delivery(Locality::CrossNode, 5_000);
        s.record_delivery(Locality::CrossNode, 7_000);
        assert_eq!(s.latency.len(), 3);
        assert_eq!(s.same_node_latency.len(), 1);
        assert_eq!(s.cross_node_latency.len(), 2);
        assert_eq!(s.same_node_latency.max(), 100);
        assert!(s.cross_node_latency.min() >= 4_990);
        assert!(s.latency.equivalent(s.latency.max(), 7_000));
    }

    #[test]
    fn merging_keeps_the_split() {
        let mut a = Stats::new();
        a.record_delivery(Locality::SameNode, 10);
        let mut b = Stats::new();
        b.record_delivery(Locality::CrossNode, 20);
        b.record_delivery(Locality::SameNode, 30);
        a.merge(&b);
        assert_eq!(a.latency.len(), 3);
        assert_eq!(a.same_node_latency.len(), 2);
        assert_eq!(a.cross_node_latency.len(), 1);
        assert_eq!(
            a.same_node_latency.len() + a.cross_node_latency.len(),
            a.latency.len()
        );
    }
}
