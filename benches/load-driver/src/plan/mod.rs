//! The precomputed workload: every transaction's update bytes, who sends it, what its
//! sender must have received first, and how receivers recognise it. Built once, before
//! connecting, and shared by every session (sessions are separate documents).

mod causal;

use std::collections::HashMap;

use anyhow::{bail, Result};
use bytes::Bytes;

use crate::cli::Mode;
use crate::crdt::loro::LoroAuthor;
use crate::crdt::yjs::YjsAuthor;
use crate::crdt::{Crdt, Marker};
use crate::trace::{Kind, Trace};

/// One transaction that produced ops (transactions without ops are neither sent nor
/// expected; their dependents wait for their parents instead).
#[derive(Debug)]
pub(crate) struct PlanTxn {
    /// The client (index within its session) that sends it.
    pub(crate) sender: usize,
    /// Transactions (plan indices) the sender must have before sending it.
    pub(crate) deps: Vec<usize>,
    /// The update.
    pub(crate) update: Bytes,
    /// How a receiver tells it has it.
    pub(crate) marker: Marker,
    /// Counter or clock of the author after it, minus one (non-decreasing within a lane).
    pub(crate) key: u32,
}

/// The whole workload of one session.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The CRDT of the updates.
    pub(crate) crdt: Crdt,
    /// Clients per session.
    pub(crate) clients: usize,
    /// Transactions with ops, in trace order.
    pub(crate) txns: Vec<PlanTxn>,
    /// Lanes: per author peer, its transactions (plan indices) in the order typed.
    pub(crate) lanes: Vec<Vec<usize>>,
    /// Lane index of each author peer.
    pub(crate) lane_of: HashMap<u64, usize>,
    /// Per client, the transactions it sends, in order.
    pub(crate) queues: Vec<Vec<usize>>,
    /// The text every client must end with.
    pub(crate) expected_text: String,
    /// Trace transactions that produced no op (skipped).
    pub(crate) skipped: usize,
}

/// Who types transaction `i`: `(agent, sending client)`. Sequential traces: client 0 types
/// everything (single-writer) or transaction `i` goes to client `i % C` (handoff, each
/// client its own agent, waiting for the transaction before). Concurrent traces: the
/// trace's agent, sent by client `agent % C`.
pub(crate) fn writer_of(
    kind: Kind,
    mode: Mode,
    clients: usize,
    index: usize,
    agent: usize,
) -> (usize, usize) {
    match (kind, mode) {
        (Kind::Concurrent, _) => (agent, agent % clients),
        (Kind::Sequential, Mode::SingleWriter) => (0, 0),
        (Kind::Sequential, Mode::Handoff) => (index % clients, index % clients),
    }
}

impl Plan {
    /// Authors every transaction of `trace` for `clients` clients per session.
    pub(crate) fn build(trace: &Trace, crdt: Crdt, mode: Mode, clients: usize) -> Result<Self> {
        if clients == 0 {
            bail!("--clients must be at least 1");
        }
        let writers: Vec<(usize, usize)> = trace
            .txns
            .iter()
            .enumerate()
            .map(|(i, t)| writer_of(trace.kind, mode, clients, i, t.agent))
            .collect();
        let steps: Vec<causal::Step<'_>> = trace
            .txns
            .iter()
            .zip(&writers)
            .map(|(t, &(agent, _))| causal::Step {
                agent,
                parents: &t.parents,
                patches: &t.patches,
            })
            .collect();
        let out = match crdt {
            Crdt::Loro => causal::author_all(&steps, LoroAuthor::new)?,
            Crdt::Yjs => {
                let convert = trace.has_astral_chars();
                if convert {
                    eprintln!(
                        "note: the trace inserts characters outside the BMP; Yjs positions are \
                         converted from code points to UTF-16 through the text (slow)"
                    );
                }
                causal::author_all(&steps, |peer| YjsAuthor::new(peer, convert))?
            }
        };
        if let Some(expected) = &trace.end_content {
            if *expected != out.text {
                bail!(
                    "replaying {} with {crdt:?} gives {} chars, the trace says {} (first difference at char {})",
                    trace.name,
                    out.text.chars().count(),
                    expected.chars().count(),
                    first_difference(expected, &out.text)
                );
            }
        }
        Ok(Self::assemble(trace, crdt, clients, &writers, out))
    }

    fn assemble(
        trace: &Trace,
        crdt: Crdt,
        clients: usize,
        writers: &[(usize, usize)],
        out: causal::Output,
    ) -> Self {
        // Per trace txn, the plan txns a dependent must wait for: itself if it has ops,
        // otherwise (recursively) its parents'.
        let mut effective: Vec<Vec<usize>> = Vec::with_capacity(trace.txns.len());
        let mut txns = Vec::new();
        let mut lanes: Vec<Vec<usize>> = Vec::new();
        let mut lane_of: HashMap<u64, usize> = HashMap::new();
        let mut queues = vec![Vec::new(); clients];
        let mut skipped = 0;
        for (i, (authored, txn)) in out.steps.into_iter().zip(&trace.txns).enumerate() {
            let mut deps: Vec<usize> = txn
                .parents
                .iter()
                .flat_map(|&p| effective[p].iter().copied())
                .collect();
            deps.sort_unstable();
            deps.dedup();
            match authored {
                None => {
                    skipped += 1;
                    effective.push(deps);
                }
                Some((peer, a)) => {
                    let index = txns.len();
                    let lane = *lane_of.entry(peer).or_insert_with(|| {
                        lanes.push(Vec::new());
                        lanes.len() - 1
                    });
                    lanes[lane].push(index);
                    let sender = writers[i].1;
                    queues[sender].push(index);
                    txns.push(PlanTxn {
                        sender,
                        deps,
                        update: Bytes::from(a.update),
                        marker: a.marker,
                        key: a.key,
                    });
                    effective.push(vec![index]);
                }
            }
        }
        Self {
            crdt,
            clients,
            txns,
            lanes,
            lane_of,
            queues,
            expected_text: out.text,
            skipped,
        }
    }

    /// Total update bytes of one session.
    pub(crate) fn update_bytes(&self) -> usize {
        self.txns.iter().map(|t| t.update.len()).sum()
    }
}

/// The char index where two texts first differ.
pub(crate) fn first_difference(a: &str, b: &str) -> usize {
    a.chars()
        .zip(b.chars())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.chars().count().min(b.chars().count()))
}

#[cfg(test)]
mod tests;
