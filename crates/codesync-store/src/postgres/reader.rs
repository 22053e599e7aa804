//! Reads (`load`, `list`) on their own connection, apart from the writer so they never wait
//! behind a batch. A tokio-postgres client pipelines concurrent queries, so one connection
//! serves every reader.

use std::sync::Arc;

use codesync_core::{DocKey, SessionId, StoredDoc, TenantId};
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::config::Settings;
use super::connection;
use super::decode::{self, DOCUMENT_ROW, UPDATE_ROW};
use crate::error::StoreError;

/// The read connection, replaced when it is found closed.
pub(super) struct Reader {
    settings: Arc<Settings>,
    current: Mutex<Arc<ReadConn>>,
}

struct ReadConn {
    client: Client,
    load: Statement,
    list: Statement,
}

impl ReadConn {
    async fn open(settings: &Settings) -> Result<Self, StoreError> {
        let client = connection::open(settings).await?;
        let documents = settings.schema.table("documents");
        let updates = settings.schema.table("updates");
        // One statement sees one snapshot of the database, so the document row and its
        // updates are consistent with each other even while the writer compacts. UNION ALL
        // rather than a join, so the snapshot is sent once rather than once per update.
        let load = client
            .prepare(&format!(
                "SELECT {DOCUMENT_ROW} AS kind, NULL::bigint AS seq, snapshot AS bytes,
                        snapshot_crc AS crc, generation
                 FROM {documents} WHERE tenant = $1 AND session = $2
                 UNION ALL
                 SELECT {UPDATE_ROW}, seq, bytes, crc, NULL::bigint
                 FROM {updates} WHERE tenant = $1 AND session = $2
                 ORDER BY kind, seq"
            ))
            .await?;
        // The "C" collation of the column makes this byte order, the order of SessionId.
        let list = client
            .prepare(&format!(
                "SELECT session FROM {documents} WHERE tenant = $1 ORDER BY session"
            ))
            .await?;
        Ok(Self { client, load, list })
    }
}

impl Reader {
    pub(super) async fn open(settings: Arc<Settings>) -> Result<Self, StoreError> {
        let conn = ReadConn::open(&settings).await?;
        Ok(Self {
            settings,
            current: Mutex::new(Arc::new(conn)),
        })
    }

    pub(super) async fn load(&self, key: &DocKey) -> Result<Option<StoredDoc>, StoreError> {
        let params: [&(dyn ToSql + Sync); 2] = [&key.tenant().as_str(), &key.session().as_str()];
        let rows = self.query(|c| &c.load, &params).await?;
        decode::stored_doc(key, rows)
    }

    pub(super) async fn list(&self, tenant: &TenantId) -> Result<Vec<SessionId>, StoreError> {
        let rows = self.query(|c| &c.list, &[&tenant.as_str()]).await?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get(0)?;
                SessionId::new(&name).map_err(|error| corrupt_name(tenant, &name, &error))
            })
            .collect()
    }

    /// Runs a read; one lost connection is survived by reconnecting and trying once more
    /// (reads are idempotent).
    async fn query(
        &self,
        statement: fn(&ReadConn) -> &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let conn = self.conn(None).await?;
        match conn.client.query(statement(&conn), params).await {
            Ok(rows) => Ok(rows),
            Err(error) if connection::lost(&error, &conn.client) => {
                tracing::warn!(%error, "postgres read connection lost; reconnecting");
                let conn = self.conn(Some(&conn)).await?;
                Ok(conn.client.query(statement(&conn), params).await?)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The current connection, reopened if it is closed or is `failed` (a connection just
    /// seen failing, which may not have noticed it is closed yet).
    async fn conn(&self, failed: Option<&Arc<ReadConn>>) -> Result<Arc<ReadConn>, StoreError> {
        let mut current = self.current.lock().await;
        let stale = failed.is_some_and(|failed| Arc::ptr_eq(failed, &current));
        if stale || current.client.is_closed() {
            *current = Arc::new(ReadConn::open(&self.settings).await?);
        }
        Ok(Arc::clone(&current))
    }
}

/// A stored session name that is not a valid id.
fn corrupt_name(tenant: &TenantId, name: &str, error: &codesync_core::Error) -> StoreError {
    StoreError::CorruptListing {
        tenant: tenant.clone(),
        detail: format!("the document list holds an invalid session name {name:?}: {error}"),
    }
}
