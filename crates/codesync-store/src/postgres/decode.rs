//! Turning the rows of a load back into a [`StoredDoc`], checking every record.

use bytes::Bytes;
use codesync_core::{DocKey, StoredDoc, StoredUpdate};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::record;

/// The `kind` column of the load query: the document row comes first, then its updates.
pub(super) const DOCUMENT_ROW: i32 = 0;
/// The `kind` of an update row.
pub(super) const UPDATE_ROW: i32 = 1;

/// Decodes rows of `(kind, seq, bytes, crc, generation)` (`generation` set on the document
/// row only): no rows means the document does not exist.
pub(super) fn stored_doc(key: &DocKey, rows: Vec<Row>) -> Result<Option<StoredDoc>, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        key: key.clone(),
        detail,
    };
    let mut rows = rows.into_iter();
    let Some(document) = rows.next() else {
        return Ok(None);
    };
    if document.try_get::<_, i32>(0)? != DOCUMENT_ROW {
        return Err(corrupt(
            "updates are stored without their document row".into(),
        ));
    }
    let snapshot = match (
        document.try_get::<_, Option<Vec<u8>>>(2)?,
        document.try_get::<_, Option<i64>>(3)?,
    ) {
        (None, None) => None,
        (Some(bytes), Some(stored)) => {
            let stored = record::from_db(key, "snapshot", stored)?;
            record::verify(key, "snapshot", &bytes, stored)?;
            Some(Bytes::from(bytes))
        }
        (Some(_), None) => return Err(corrupt("snapshot: its checksum is missing".into())),
        (None, Some(_)) => {
            return Err(corrupt(
                "snapshot: checksum stored without a snapshot".into(),
            ))
        }
    };
    let generation: i64 = document
        .try_get::<_, Option<i64>>(4)?
        .ok_or_else(|| corrupt("document row: no generation".into()))?;
    let generation = u64::try_from(generation)
        .map_err(|_| corrupt(format!("document row: generation {generation} is negative")))?;
    let mut updates = Vec::with_capacity(rows.len());
    for row in rows {
        let seq: i64 = row
            .try_get::<_, Option<i64>>(1)?
            .ok_or_else(|| corrupt("an update row has no sequence number".into()))?;
        let what = format!("update {seq}");
        if row.try_get::<_, i32>(0)? != UPDATE_ROW {
            return Err(corrupt(format!("{what}: unexpected row kind")));
        }
        let seq = u64::try_from(seq)
            .map_err(|_| corrupt(format!("{what}: the sequence number is negative")))?;
        let bytes: Vec<u8> = row
            .try_get::<_, Option<Vec<u8>>>(2)?
            .ok_or_else(|| corrupt(format!("{what}: no bytes")))?;
        let stored: i64 = row
            .try_get::<_, Option<i64>>(3)?
            .ok_or_else(|| corrupt(format!("{what}: no checksum")))?;
        record::verify(key, &what, &bytes, record::from_db(key, &what, stored)?)?;
        updates.push(StoredUpdate {
            seq,
            bytes: Bytes::from(bytes),
        });
    }
    Ok(Some(StoredDoc {
        snapshot,
        updates,
        generation,
    }))
}
