//! The SQL of each write, run by the writer task inside a batch's transaction.

use codesync_core::{Compacted, Compaction, DocKey};
use tokio_postgres::{Client, Statement, Transaction};

use super::schema::SchemaName;
use crate::error::StoreError;
use crate::record;

/// The writer connection's prepared statements (prepared once per connection, so a batch
/// costs no parse or plan round trips).
pub(super) struct WriteSql {
    next_seq: Statement,
    insert_update: Statement,
    compact_first: Statement,
    compact_next: Statement,
    drop_folded: Statement,
    delete_updates: Statement,
    delete_document: Statement,
}

impl WriteSql {
    pub(super) async fn prepare(client: &Client, schema: &SchemaName) -> Result<Self, StoreError> {
        let documents = schema.table("documents");
        let updates = schema.table("updates");
        Ok(Self {
            // The upsert takes the document row's lock, so concurrent appends to one
            // document (from other nodes) get distinct, increasing numbers.
            next_seq: client
                .prepare(&format!(
                    "INSERT INTO {documents} AS d (tenant, session, last_seq) VALUES ($1, $2, 1)
                     ON CONFLICT (tenant, session) DO UPDATE SET last_seq = d.last_seq + 1
                     RETURNING last_seq"
                ))
                .await?,
            insert_update: client
                .prepare(&format!(
                    "INSERT INTO {updates} (tenant, session, seq, bytes, crc)
                     VALUES ($1, $2, $3, $4, $5)"
                ))
                .await?,
            // The compare-and-swap from generation 0, which is also that of a missing
            // document: that is created. ON CONFLICT makes insert-or-update one atomic step:
            // a row another node inserts meanwhile is waited for and then updated only if
            // still at generation 0 (the WHERE sees its latest committed version), never
            // duplicated and never overwritten at a newer generation.
            compact_first: client
                .prepare(&format!(
                    "INSERT INTO {documents} AS d
                         (tenant, session, last_seq, snapshot, snapshot_crc, generation)
                     VALUES ($1, $2, 0, $3, $4, 1)
                     ON CONFLICT (tenant, session) DO UPDATE
                     SET snapshot = EXCLUDED.snapshot, snapshot_crc = EXCLUDED.snapshot_crc,
                         generation = d.generation + 1
                     WHERE d.generation = 0"
                ))
                .await?,
            // The compare-and-swap from a later generation. Under READ COMMITTED an UPDATE
            // blocked behind another node's compaction re-checks the WHERE against the row
            // that node committed, so of two compactions from one generation exactly one
            // matches. A missing (deleted) document matches nothing and is not created.
            compact_next: client
                .prepare(&format!(
                    "UPDATE {documents}
                     SET snapshot = $3, snapshot_crc = $4, generation = generation + 1
                     WHERE tenant = $1 AND session = $2 AND generation = $5"
                ))
                .await?,
            // Exactly the folded numbers: an update committed under a lower number than
            // the highest folded one, but not read, must survive.
            drop_folded: client
                .prepare(&format!(
                    "DELETE FROM {updates}
                     WHERE tenant = $1 AND session = $2 AND seq = ANY($3)"
                ))
                .await?,
            delete_updates: client
                .prepare(&format!(
                    "DELETE FROM {updates} WHERE tenant = $1 AND session = $2"
                ))
                .await?,
            delete_document: client
                .prepare(&format!(
                    "DELETE FROM {documents} WHERE tenant = $1 AND session = $2"
                ))
                .await?,
        })
    }
}

/// Numbers and stores one update; returns its sequence number.
pub(super) async fn append(
    tx: &Transaction<'_>,
    sql: &WriteSql,
    key: &DocKey,
    update: &[u8],
) -> Result<u64, StoreError> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    let seq: i64 = tx
        .query_one(&sql.next_seq, &[&tenant, &session])
        .await?
        .try_get(0)?;
    let crc = record::to_db(record::checksum(update));
    tx.execute(
        &sql.insert_update,
        &[&tenant, &session, &seq, &update, &crc],
    )
    .await?;
    u64::try_from(seq).map_err(|_| StoreError::Corrupt {
        key: key.clone(),
        detail: format!("document row: last_seq {seq} is negative"),
    })
}

/// Stores the snapshot and drops exactly the folded updates if the document is still at
/// the compaction's generation; otherwise changes nothing. Atomic because the whole batch
/// is one transaction, and the document row stays locked by the swap until it commits.
pub(super) async fn compact(
    tx: &Transaction<'_>,
    sql: &WriteSql,
    key: &DocKey,
    compaction: &Compaction,
) -> Result<Compacted, StoreError> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    // Stored generations fit in bigint; a larger one cannot be the current one.
    let Ok(generation) = i64::try_from(compaction.generation) else {
        return Ok(Compacted::Superseded);
    };
    let snapshot: &[u8] = &compaction.snapshot;
    let crc = record::to_db(record::checksum(snapshot));
    let swapped = if generation == 0 {
        tx.execute(&sql.compact_first, &[&tenant, &session, &snapshot, &crc])
            .await?
    } else {
        tx.execute(
            &sql.compact_next,
            &[&tenant, &session, &snapshot, &crc, &generation],
        )
        .await?
    };
    if swapped == 0 {
        return Ok(Compacted::Superseded);
    }
    // Stored numbers fit in bigint; a larger one names no stored update.
    let folded: Vec<i64> = compaction
        .folded
        .iter()
        .filter_map(|&seq| i64::try_from(seq).ok())
        .collect();
    tx.execute(&sql.drop_folded, &[&tenant, &session, &folded])
        .await?;
    Ok(Compacted::Done)
}

/// Removes the document and its updates; a document created again starts at generation 0.
pub(super) async fn delete(
    tx: &Transaction<'_>,
    sql: &WriteSql,
    key: &DocKey,
) -> Result<(), StoreError> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    tx.execute(&sql.delete_updates, &[&tenant, &session])
        .await?;
    tx.execute(&sql.delete_document, &[&tenant, &session])
        .await?;
    Ok(())
}
