//! The writer task: one connection, group commit.
//!
//! Callers queue jobs; the task takes the first one waiting, then everything else already
//! waiting (up to `max_batch`), and runs the writes in one transaction, each under its own
//! savepoint so one failing write does not take the others down. One commit (one WAL
//! flush) then acknowledges them all, so durable throughput is not capped by the flush
//! rate.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{Client, Transaction};

use super::config::Settings;
use super::connection;
use super::jobs::{abandon, fail_all, Job, Pending, Ran, Write};
use super::writes::{self, WriteSql};
use crate::error::StoreError;
use crate::stats::WriteCounters;

/// Connection attempts per batch once the connection is lost. Bounded, so a dead server
/// fails the waiting writes instead of holding them forever; the next batch tries again.
const RECONNECT_ATTEMPTS: u32 = 4;
/// The pause after the first failed attempt, doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The writer's connection and its prepared statements.
pub(super) struct WriterConn {
    client: Client,
    sql: WriteSql,
}

impl WriterConn {
    /// Takes over a connection, preparing the write statements on it.
    pub(super) async fn prepare(client: Client, settings: &Settings) -> Result<Self, StoreError> {
        let sql = WriteSql::prepare(&client, &settings.schema).await?;
        Ok(Self { client, sql })
    }
}

/// Spawns the writer task on the current runtime; jobs go into the returned sender. The
/// task ends once every sender is dropped and the queue is drained.
pub(super) fn spawn(
    settings: Arc<Settings>,
    conn: WriterConn,
    counters: Arc<WriteCounters>,
) -> mpsc::Sender<Job> {
    // Room for one full batch to queue while another commits.
    let (sender, jobs) = mpsc::channel(settings.max_batch);
    let writer = Writer {
        settings,
        conn: Some(conn),
        counters,
        jobs,
    };
    tokio::spawn(writer.run());
    sender
}

struct Writer {
    settings: Arc<Settings>,
    /// `None` after the connection was lost and could not be reopened yet.
    conn: Option<WriterConn>,
    counters: Arc<WriteCounters>,
    jobs: mpsc::Receiver<Job>,
}

impl Writer {
    async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.settings.max_batch);
        // Waits for a first job, then takes whatever else is already queued: the writes
        // that arrived while the previous batch was committing ride together.
        while self
            .jobs
            .recv_many(&mut batch, self.settings.max_batch)
            .await
            > 0
        {
            self.handle(batch.drain(..)).await;
        }
    }

    async fn handle(&mut self, batch: impl Iterator<Item = Job>) {
        let mut writes = Vec::new();
        let mut probes = Vec::new();
        for job in batch {
            match job {
                Job::Write(write) => writes.push(write),
                Job::ShowSynchronousCommit(reply) => probes.push(reply),
            }
        }
        let conn = match self.connection().await {
            Ok(conn) => conn,
            Err(error) => {
                tracing::error!(%error, "postgres writer cannot reconnect; failing the batch");
                let pending = writes
                    .into_iter()
                    .map(Write::into_pending)
                    .chain(probes.into_iter().map(Pending::Text))
                    .collect();
                fail_all(pending, error);
                return;
            }
        };
        for probe in probes {
            let _ = probe.send(show_synchronous_commit(&conn.client).await);
        }
        if writes.is_empty() {
            return;
        }
        // Writers on other nodes take the same row locks; taking them in one global order
        // (by key) rules out deadlocks between batches. The sort is stable, so writes to
        // one document keep their order.
        writes.sort_by(|a, b| a.key().cmp(b.key()));
        let count = writes.len();
        match commit_batch(&mut *conn, writes).await {
            Ok(ran) => {
                self.counters
                    .committed(ran.iter().filter(|r| r.succeeded()).count());
                for r in ran {
                    r.deliver();
                }
            }
            Err((pending, error)) => {
                let lost = match &error {
                    StoreError::Postgres(e) => connection::lost(e, &conn.client),
                    _ => conn.client.is_closed(),
                };
                // The outcome of a commit lost with its connection is unknown: the writes
                // are reported failed (never acknowledged), though they may have landed.
                tracing::warn!(%error, writes = count, lost, "postgres write batch failed");
                fail_all(pending, error);
                if lost {
                    // Reopened for the next batch, even if the client has not yet noticed
                    // that it is closed.
                    self.conn = None;
                }
            }
        }
    }

    /// The live connection, reopened if it was lost.
    async fn connection(&mut self) -> Result<&mut WriterConn, StoreError> {
        let conn = match self.conn.take() {
            Some(conn) if !conn.client.is_closed() => conn,
            _ => reconnect(&self.settings).await?,
        };
        Ok(self.conn.insert(conn))
    }
}

async fn reconnect(settings: &Settings) -> Result<WriterConn, StoreError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let result = match connection::open(settings).await {
            Ok(client) => WriterConn::prepare(client, settings).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(conn) => {
                tracing::info!(attempt, "postgres writer reconnected");
                return Ok(conn);
            }
            Err(error) if attempt < RECONNECT_ATTEMPTS => {
                tracing::warn!(%error, attempt, "postgres writer reconnect failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

async fn show_synchronous_commit(client: &Client) -> Result<String, StoreError> {
    Ok(client
        .query_one("SHOW synchronous_commit", &[])
        .await?
        .try_get(0)?)
}

/// Runs the writes in one transaction and commits it. On failure, returns the replies still
/// owed and the error that sank the transaction.
async fn commit_batch(
    conn: &mut WriterConn,
    writes: Vec<Write>,
) -> Result<Vec<Ran>, (Vec<Pending>, StoreError)> {
    let WriterConn { client, sql } = conn;
    let mut tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(error) => {
            let pending = writes.into_iter().map(Write::into_pending).collect();
            return Err((pending, error.into()));
        }
    };
    let mut ran = Vec::with_capacity(writes.len());
    let mut rest = writes.into_iter();
    while let Some(write) = rest.next() {
        match run_in_savepoint(&mut tx, sql, write).await {
            Ok(r) => ran.push(r),
            Err((pending, error)) => {
                // The transaction itself failed (typically the connection): dropping it
                // rolls back whatever ran.
                let rest = pending.into_iter().chain(rest.map(Write::into_pending));
                return Err((abandon(ran, rest), error));
            }
        }
    }
    match tx.commit().await {
        Ok(()) => Ok(ran),
        Err(error) => Err((abandon(ran, []), error.into())),
    }
}

/// Runs one write under a savepoint: released if the write succeeded, rolled back to if it
/// failed (the write is then [`Ran::Refused`]). An error here means the transaction
/// itself is unusable; it comes with the replies still owed.
async fn run_in_savepoint(
    tx: &mut Transaction<'_>,
    sql: &WriteSql,
    write: Write,
) -> Result<Ran, (Vec<Pending>, StoreError)> {
    let sp = match tx.savepoint("job").await {
        Ok(sp) => sp,
        Err(error) => return Err((vec![write.into_pending()], error.into())),
    };
    let ran = match write {
        Write::Append { key, update, reply } => {
            match writes::append(&sp, sql, &key, &update).await {
                Ok(seq) => Ran::Appended(reply, seq),
                Err(error) => Ran::Refused(Pending::Seq(reply), error),
            }
        }
        Write::Compact {
            key,
            compaction,
            reply,
        } => match writes::compact(&sp, sql, &key, &compaction).await {
            Ok(outcome) => Ran::Compacted(reply, outcome),
            Err(error) => Ran::Refused(Pending::Compaction(reply), error),
        },
        Write::Delete { key, reply } => match writes::delete(&sp, sql, &key).await {
            Ok(()) => Ran::Applied(reply),
            Err(error) => Ran::Refused(Pending::Unit(reply), error),
        },
    };
    let settled = if ran.succeeded() {
        sp.commit().await
    } else {
        sp.rollback().await
    };
    match settled {
        Ok(()) => Ok(ran),
        Err(error) => Err((abandon(vec![ran], []), error.into())),
    }
}
