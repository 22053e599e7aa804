//! Counters: kept by the bus (for [`ClusterStats`]) and reported through the `metrics`
//! facade.

use std::sync::atomic::{AtomicU64, Ordering};

/// Messages this node sent: published to the server, which confirmed them.
pub const PUBLISHED_TOTAL: &str = "codesync_cluster_published_total";
/// Messages from other nodes that were decoded and queued for the hub.
pub const RECEIVED_TOTAL: &str = "codesync_cluster_received_total";
/// Messages dropped, labelled `reason` (see [`DropReason`]).
pub const DROPPED_TOTAL: &str = "codesync_cluster_dropped_total";
/// Times the bus connection was made again after it was lost.
pub const RECONNECTS_TOTAL: &str = "codesync_cluster_reconnects_total";

/// Why a message was dropped (the `reason` label of [`DROPPED_TOTAL`]).
///
/// Outgoing drops are followed by a `Refresh` of their session; incoming ones by a
/// catch-up from the store (overflow) or nothing (garbage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Outgoing: the outbound queue was full.
    QueueFull,
    /// Outgoing: the bus was down.
    BusDown,
    /// Outgoing: the server refused or did not confirm it.
    SendError,
    /// Outgoing: larger than the server accepts.
    TooLarge,
    /// Outgoing: a message kind this envelope version cannot carry.
    Unencodable,
    /// Incoming: not a valid envelope.
    Undecodable,
    /// Incoming: on a channel that names no session of this prefix.
    ForeignChannel,
    /// Incoming: its session's queue was full (the session reads the store instead).
    InboundOverflow,
    /// Incoming: no hub is attached yet.
    NotAttached,
}

impl DropReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::BusDown => "bus_down",
            Self::SendError => "send_error",
            Self::TooLarge => "too_large",
            Self::Unencodable => "unencodable",
            Self::Undecodable => "undecodable",
            Self::ForeignChannel => "foreign_channel",
            Self::InboundOverflow => "inbound_overflow",
            Self::NotAttached => "not_attached",
        }
    }
}

/// A snapshot of a bus's counters, for health checks and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClusterStats {
    /// Whether the bus is connected now.
    pub connected: bool,
    /// Messages published and confirmed by the server.
    pub published: u64,
    /// Messages received from other nodes.
    pub received: u64,
    /// Messages dropped, for any [`DropReason`].
    pub dropped: u64,
    /// Reconnections after the connection was lost.
    pub reconnects: u64,
}

/// The live counters behind [`ClusterStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
}

impl Counters {
    pub(crate) fn published(&self, count: usize) {
        let count = count as u64;
        self.published.fetch_add(count, Ordering::Relaxed);
        metrics::counter!(PUBLISHED_TOTAL).increment(count);
    }

    pub(crate) fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(RECEIVED_TOTAL).increment(1);
    }

    pub(crate) fn dropped(&self, reason: DropReason) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(DROPPED_TOTAL, "reason" => reason.as_str()).increment(1);
    }

    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(RECONNECTS_TOTAL).increment(1);
    }

    pub(crate) fn snapshot(&self, connected: bool) -> ClusterStats {
        ClusterStats {
            connected,
            published: self.published.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
        }
    }
}
