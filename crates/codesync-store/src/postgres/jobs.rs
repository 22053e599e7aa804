//! What callers send the writer task, and how each job's answer travels back.

use bytes::Bytes;
use codesync_core::{Compacted, Compaction, DocKey};
use tokio::sync::oneshot;

use crate::error::StoreError;

/// Where a job's result goes. A caller that gave up (dropped its future) simply never reads
/// it, so sending never fails in a way the writer must handle.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A request to the writer task.
pub(super) enum Job {
    /// A write, to be group committed.
    Write(Write),
    /// `SHOW synchronous_commit` on the writer's connection, outside any batch: proof of
    /// the durability setting the writes actually run under.
    ShowSynchronousCommit(Reply<String>),
}

/// One write; its reply is sent only after the transaction carrying it has committed.
pub(super) enum Write {
    Append {
        key: DocKey,
        update: Bytes,
        reply: Reply<u64>,
    },
    Compact {
        key: DocKey,
        compaction: Compaction,
        reply: Reply<Compacted>,
    },
    Delete {
        key: DocKey,
        reply: Reply<()>,
    },
}

impl Write {
    /// The document written.
    pub(super) fn key(&self) -> &DocKey {
        match self {
            Write::Append { key, .. } | Write::Compact { key, .. } | Write::Delete { key, .. } => {
                key
            }
        }
    }

    /// The reply, for a write that will not run.
    pub(super) fn into_pending(self) -> Pending {
        match self {
            Write::Append { reply, .. } => Pending::Seq(reply),
            Write::Compact { reply, .. } => Pending::Compaction(reply),
            Write::Delete { reply, .. } => Pending::Unit(reply),
        }
    }
}

/// A reply not yet sent.
pub(super) enum Pending {
    Seq(Reply<u64>),
    Compaction(Reply<Compacted>),
    Unit(Reply<()>),
    Text(Reply<String>),
}

impl Pending {
    pub(super) fn fail(self, error: StoreError) {
        // A dropped receiver means the caller stopped waiting; nothing to tell it.
        match self {
            Pending::Seq(reply) => {
                let _ = reply.send(Err(error));
            }
            Pending::Compaction(reply) => {
                let _ = reply.send(Err(error));
            }
            Pending::Unit(reply) => {
                let _ = reply.send(Err(error));
            }
            Pending::Text(reply) => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// A write that ran inside the batch's transaction, waiting for the commit.
pub(super) enum Ran {
    Appended(Reply<u64>, u64),
    /// A compaction that ran; [`Compacted::Superseded`] changed nothing, yet is a success.
    Compacted(Reply<Compacted>, Compacted),
    Applied(Reply<()>),
    /// The write failed on its own and was rolled back to its savepoint; the rest of the
    /// batch goes on.
    Refused(Pending, StoreError),
}

impl Ran {
    /// Whether the write takes effect when the batch commits.
    pub(super) fn succeeded(&self) -> bool {
        !matches!(self, Ran::Refused(..))
    }

    /// Sends the result, once the batch has committed.
    pub(super) fn deliver(self) {
        match self {
            Ran::Appended(reply, seq) => {
                let _ = reply.send(Ok(seq));
            }
            Ran::Compacted(reply, outcome) => {
                let _ = reply.send(Ok(outcome));
            }
            Ran::Applied(reply) => {
                let _ = reply.send(Ok(()));
            }
            Ran::Refused(pending, error) => pending.fail(error),
        }
    }
}

/// The replies to fail when a batch's transaction cannot commit. A write refused on its own
/// keeps its own error, which says more than the batch's.
pub(super) fn abandon(ran: Vec<Ran>, rest: impl IntoIterator<Item = Pending>) -> Vec<Pending> {
    let mut pending = Vec::new();
    for r in ran {
        match r {
            Ran::Appended(reply, _) => pending.push(Pending::Seq(reply)),
            // Not committed, so not done (nor known superseded): the caller gets the error.
            Ran::Compacted(reply, _) => pending.push(Pending::Compaction(reply)),
            Ran::Applied(reply) => pending.push(Pending::Unit(reply)),
            Ran::Refused(p, error) => p.fail(error),
        }
    }
    pending.extend(rest);
    pending
}

/// Fails every reply with one error. [`StoreError`] is not `Clone`, so when several jobs
/// share the failure each gets [`StoreError::CommitFailed`] carrying its text; a lone job
/// gets the error itself.
pub(super) fn fail_all(pending: Vec<Pending>, error: StoreError) {
    if pending.len() <= 1 {
        if let Some(p) = pending.into_iter().next() {
            p.fail(error);
        }
        return;
    }
    let text = format!("a batch of {} writes failed: {error}", pending.len());
    for p in pending {
        p.fail(StoreError::CommitFailed(text.clone()));
    }
}
