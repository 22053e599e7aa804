//! Which transactions a client has, and what each incoming update brought.
//!
//! Transactions are grouped in lanes, one per author peer, in the order they were typed.
//! Within a lane, having a transaction implies having the ones before it (a version vector
//! entry covers a prefix of a peer's ops), so each lane keeps a cursor: the first
//! transaction not yet had. After every import the cursors move forward while the replica
//! has the transaction under them.
//!
//! Definitions used in the report:
//! - a *delivery* is a (transaction, client) pair where the client is not the sender and
//!   now has the transaction; it happens at the first import after which the replica has
//!   the transaction's last op (a batch completing several transactions delivers each);
//! - a *duplicate* is a (transaction, client) pair where an incoming update carries the
//!   transaction's last op again although the client already had it; an *echo* is the
//!   same for the transaction's own sender (a server sending a client its own edit back).
//!   Yjs delete-only transactions have no op id and are not counted here;
//! - a *redundant update* is an incoming update whose import changed nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::crdt::{Coverage, Marker, Replica};
use crate::plan::Plan;

/// One client's view of the session's transactions.
#[derive(Debug)]
pub(crate) struct Receipts {
    me: usize,
    had: Vec<bool>,
    cursors: Vec<usize>,
    foreign_missing: usize,
}

/// What one import changed.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Transactions of other senders the client has now and did not before.
    pub(crate) delivered: Vec<usize>,
    /// Transactions of other senders carried again.
    pub(crate) duplicates: u64,
    /// The client's own transactions carried back to it.
    pub(crate) echoes: u64,
}

impl Receipts {
    /// A client (index `me` in its session) that has nothing yet.
    pub(crate) fn new(plan: &Plan, me: usize) -> Self {
        Self {
            me,
            had: vec![false; plan.txns.len()],
            cursors: vec![0; plan.lanes.len()],
            foreign_missing: plan.txns.iter().filter(|t| t.sender != me).count(),
        }
    }

    /// Whether the client has transaction `t`.
    pub(crate) fn has(&self, t: usize) -> bool {
        self.had[t]
    }

    /// Transactions of other senders still missing.
    pub(crate) fn foreign_missing(&self) -> usize {
        self.foreign_missing
    }

    /// Foreign transactions not had, split into (sent, never sent).
    pub(crate) fn missing(&self, plan: &Plan, sent_at: &[AtomicU64]) -> (u64, u64) {
        let mut lost = 0;
        let mut unsent = 0;
        for (t, txn) in plan.txns.iter().enumerate() {
            if txn.sender != self.me && !self.had[t] {
                if sent_at[t].load(Ordering::Acquire) == 0 {
                    unsent += 1;
                } else {
                    lost += 1;
                }
            }
        }
        (lost, unsent)
    }

    /// Updates the view after `replica` imported an update that carried `coverage`.
    /// `sent_at` holds when each transaction was sent (0: not yet).
    pub(crate) fn after_import(
        &mut self,
        plan: &Plan,
        replica: &Replica,
        coverage: &Coverage,
        sent_at: &[AtomicU64],
    ) -> Progress {
        let mut progress = Progress::default();
        // Duplicates first, against the cursors as they were before this import.
        for &(peer, start, end) in &coverage.ranges {
            let Some(&lane) = plan.lane_of.get(&peer) else {
                continue;
            };
            let txns = &plan.lanes[lane][..self.cursors[lane]];
            let lo = txns.partition_point(|&t| plan.txns[t].key < start);
            let hi = txns.partition_point(|&t| plan.txns[t].key < end);
            for &t in &txns[lo..hi] {
                if matches!(plan.txns[t].marker, Marker::Op { .. }) {
                    if plan.txns[t].sender == self.me {
                        progress.echoes += 1;
                    } else {
                        progress.duplicates += 1;
                    }
                }
            }
        }
        for (lane, cursor) in self.cursors.iter_mut().enumerate() {
            let txns = &plan.lanes[lane];
            while let Some(&t) = txns.get(*cursor) {
                let txn = &plan.txns[t];
                if !replica.has(&txn.marker) {
                    break;
                }
                // A Yjs deletion has no identity: a concurrent deletion of the same item by
                // someone else may show up first. Wait until this transaction was sent.
                if matches!(txn.marker, Marker::Deleted { .. })
                    && txn.sender != self.me
                    && sent_at[t].load(Ordering::Acquire) == 0
                {
                    break;
                }
                self.had[t] = true;
                if txn.sender != self.me {
                    self.foreign_missing -= 1;
                    progress.delivered.push(t);
                }
                *cursor += 1;
            }
        }
        progress
    }
}
