//! The SQL of each write, run by the writer task inside a batch's transaction.

use codesync_core::DocKey;
use tokio_postgres::{Client, Statement, Transaction};

use super::schema::SchemaName;
use crate::error::StoreError;
use crate::record;

/// The writer connection's prepared statements (prepared once per connection, so a batch
/// costs no parse or plan round trips).
pub(super) struct WriteSql {
    next_seq: Statement,
    insert_update: Statement,
    store_snapshot: Statement,
    drop_through: Statement,
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
            // Compacting a document never appended to creates it, as every backend does.
            store_snapshot: client
                .prepare(&format!(
                    "INSERT INTO {documents} (tenant, session, last_seq, snapshot, snapshot_crc)
                     VALUES ($1, $2, 0, $3, $4)
                     ON CONFLICT (tenant, session) DO UPDATE
                     SET snapshot = EXCLUDED.snapshot, snapshot_crc = EXCLUDED.snapshot_crc"
                ))
                .await?,
            drop_through: client
                .prepare(&format!(
                    "DELETE FROM {updates} WHERE tenant = $1 AND session = $2 AND seq <= $3"
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

/// Stores the snapshot and drops the updates it covers; atomic because the whole batch is
/// one transaction.
pub(super) async fn compact(
    tx: &Transaction<'_>,
    sql: &WriteSql,
    key: &DocKey,
    snapshot: &[u8],
    through: u64,
) -> Result<(), StoreError> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    let crc = record::to_db(record::checksum(snapshot));
    tx.execute(&sql.store_snapshot, &[&tenant, &session, &snapshot, &crc])
        .await?;
    // Stored numbers are at most i64::MAX, so a larger `through` (u64::MAX means
    // "everything") covers the same updates once clamped.
    let through = i64::try_from(through).unwrap_or(i64::MAX);
    tx.execute(&sql.drop_through, &[&tenant, &session, &through])
        .await?;
    Ok(())
}

/// Removes the document and its updates.
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
