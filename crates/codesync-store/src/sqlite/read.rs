//! Reads: a document (snapshot plus updates, checksums verified) and a tenant's list.

use bytes::Bytes;
use codesync_core::{DocKey, SessionId, StoredDoc, StoredUpdate, TenantId};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Result, StoreError};
use crate::record;

fn corrupt(key: &DocKey, detail: String) -> StoreError {
    StoreError::Corrupt {
        key: key.clone(),
        detail,
    }
}

/// A column of the wrong type is damage, not a database failure.
fn column_error<'k>(key: &'k DocKey, what: &str) -> impl Fn(rusqlite::Error) -> StoreError + 'k {
    let what = what.to_owned();
    move |e| match e {
        rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::FromSqlConversionFailure(..) => {
            corrupt(key, format!("{what} is unreadable: {e}"))
        }
        other => other.into(),
    }
}

/// Reads one document in one read transaction, so it sees a single committed state.
pub(crate) fn load(conn: &mut Connection, key: &DocKey) -> Result<Option<StoredDoc>> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    let tx = conn.transaction()?;
    let row = tx
        .prepare_cached(
            "SELECT snapshot, snapshot_crc, generation FROM documents
             WHERE tenant = ?1 AND session = ?2",
        )?
        .query_row(params![tenant, session], |row| {
            Ok((
                row.get::<_, Option<Vec<u8>>>(0)?,
                row.get::<_, Option<i64>>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })
        .optional()
        .map_err(column_error(key, "the document row"))?;
    let Some((snapshot, snapshot_crc, generation)) = row else {
        return Ok(None);
    };
    let generation = u64::try_from(generation)
        .map_err(|_| corrupt(key, format!("generation {generation} is negative")))?;
    let snapshot = match (snapshot, snapshot_crc) {
        (None, _) => None,
        (Some(bytes), Some(crc)) => {
            let crc = record::from_db(key, "snapshot", crc)?;
            record::verify(key, "snapshot", &bytes, crc)?;
            Some(Bytes::from(bytes))
        }
        (Some(_), None) => return Err(corrupt(key, "snapshot has no checksum".to_owned())),
    };
    let mut updates = Vec::new();
    let mut stmt = tx.prepare_cached(
        "SELECT seq, bytes, crc FROM updates WHERE tenant = ?1 AND session = ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![tenant, session])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row
            .get(0)
            .map_err(column_error(key, "an update's number"))?;
        let what = format!("update #{seq}");
        let bytes: Vec<u8> = row.get(1).map_err(column_error(key, &what))?;
        let crc = record::from_db(key, &what, row.get(2).map_err(column_error(key, &what))?)?;
        record::verify(key, &what, &bytes, crc)?;
        let seq = u64::try_from(seq)
            .map_err(|_| corrupt(key, format!("{what}: negative sequence number")))?;
        updates.push(StoredUpdate {
            seq,
            bytes: Bytes::from(bytes),
        });
    }
    drop(rows);
    drop(stmt);
    tx.commit()?;
    Ok(Some(StoredDoc {
        snapshot,
        updates,
        generation,
    }))
}

/// A tenant's sessions, sorted.
pub(crate) fn list(conn: &Connection, tenant: &TenantId) -> Result<Vec<SessionId>> {
    let mut stmt =
        conn.prepare_cached("SELECT session FROM documents WHERE tenant = ?1 ORDER BY session")?;
    let names = stmt.query_map(params![tenant.as_str()], |row| row.get::<_, String>(0))?;
    let mut sessions = Vec::new();
    for name in names {
        let name = name?;
        let id = SessionId::new(&name).map_err(|_| StoreError::CorruptListing {
            tenant: tenant.clone(),
            detail: format!("stored session name {name:?} is not a valid id"),
        })?;
        sessions.push(id);
    }
    Ok(sessions)
}
