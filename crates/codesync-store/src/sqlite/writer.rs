//! The single writer thread: group commit for SQLite.
//!
//! Every write goes through one thread that owns the write connection. It takes the first
//! waiting job, drains every other job already queued (up to `max_batch`), runs them in one
//! transaction (a savepoint each, so one failing job does not sink the others), commits
//! once — one fsync of the write-ahead log — and only then answers every job.

use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use codesync_core::{Compacted, Compaction, DocKey};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::writes::{append, compact, delete};
use crate::error::{Result, StoreError};
use crate::stats::WriteCounters;

/// One write waiting for the writer.
pub(crate) enum Job {
    Append {
        key: DocKey,
        bytes: Bytes,
        reply: oneshot::Sender<Result<u64>>,
    },
    Compact {
        key: DocKey,
        compaction: Compaction,
        reply: oneshot::Sender<Result<Compacted>>,
    },
    Delete {
        key: DocKey,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// A job's outcome, held until the batch commits.
enum Done {
    Seq(oneshot::Sender<Result<u64>>, Result<u64>),
    Compaction(oneshot::Sender<Result<Compacted>>, Result<Compacted>),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
}

impl Done {
    /// Answers the caller; if the commit failed, with that failure instead.
    fn answer(self, commit_error: Option<&str>) {
        let failed = |e: &str| StoreError::CommitFailed(e.to_owned());
        // A caller that gave up waiting is not an error.
        match self {
            Done::Seq(reply, result) => {
                let _ = reply.send(commit_error.map_or(result, |e| Err(failed(e))));
            }
            // A compaction that ran but did not commit did not happen, Done or not.
            Done::Compaction(reply, result) => {
                let _ = reply.send(commit_error.map_or(result, |e| Err(failed(e))));
            }
            Done::Unit(reply, result) => {
                let _ = reply.send(commit_error.map_or(result, |e| Err(failed(e))));
            }
        }
    }
}

/// Runs until every sender is dropped.
pub(crate) fn run(
    mut conn: Connection,
    jobs: mpsc::Receiver<Job>,
    max_batch: usize,
    counters: Arc<WriteCounters>,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let count = batch.len();
        let (done, commit) = write_batch(&mut conn, batch);
        let commit_error = commit.err().map(|e| e.to_string());
        if commit_error.is_none() {
            counters.committed(count);
        } else {
            tracing::error!(error = ?commit_error, "sqlite commit failed; {count} writes refused");
        }
        for d in done {
            d.answer(commit_error.as_deref());
        }
    }
}

fn write_batch(conn: &mut Connection, batch: Vec<Job>) -> (Vec<Done>, Result<()>) {
    let mut done = Vec::with_capacity(batch.len());
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = e.to_string();
            for job in batch {
                done.push(refuse(job));
            }
            return (done, Err(StoreError::CommitFailed(e)));
        }
    };
    for job in batch {
        done.push(match job {
            Job::Append { key, bytes, reply } => {
                Done::Seq(reply, in_savepoint(&tx, |c| append(c, &key, &bytes)))
            }
            Job::Compact {
                key,
                compaction,
                reply,
            } => Done::Compaction(reply, in_savepoint(&tx, |c| compact(c, &key, &compaction))),
            Job::Delete { key, reply } => Done::Unit(reply, in_savepoint(&tx, |c| delete(c, &key))),
        });
    }
    let committed = tx.commit().map_err(StoreError::from);
    (done, committed)
}

/// A job that never ran; its answer is replaced by the failure.
fn refuse(job: Job) -> Done {
    match job {
        Job::Append { reply, .. } => Done::Seq(reply, Err(StoreError::WriterStopped)),
        Job::Compact { reply, .. } => Done::Compaction(reply, Err(StoreError::WriterStopped)),
        Job::Delete { reply, .. } => Done::Unit(reply, Err(StoreError::WriterStopped)),
    }
}

fn in_savepoint<T>(
    tx: &rusqlite::Transaction<'_>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T> {
    tx.execute_batch("SAVEPOINT job")?;
    match f(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE job")?;
            Ok(value)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
            Err(e.into())
        }
    }
}
