//! The SQL of each write, run by the writer thread inside a batch's transaction (each under
//! its own savepoint, so a write that fails leaves nothing behind).

use codesync_core::{Compacted, Compaction, DocKey};
use rusqlite::{params, Connection};

use crate::record;

/// Numbers and stores one update; returns its sequence number.
pub(super) fn append(conn: &Connection, key: &DocKey, bytes: &[u8]) -> rusqlite::Result<u64> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO documents (tenant, session, last_seq) VALUES (?1, ?2, 1)
             ON CONFLICT (tenant, session) DO UPDATE SET last_seq = last_seq + 1
             RETURNING last_seq",
        )?
        .query_row(params![tenant, session], |row| row.get(0))?;
    conn.prepare_cached(
        "INSERT INTO updates (tenant, session, seq, bytes, crc) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        tenant,
        session,
        seq,
        bytes,
        record::to_db(record::checksum(bytes))
    ])?;
    // last_seq starts at 1 and only grows, so it is never negative.
    Ok(seq.unsigned_abs())
}

/// Stores the snapshot and drops exactly the folded updates, if the document is still at
/// the compaction's generation; otherwise changes nothing.
pub(super) fn compact(
    conn: &Connection,
    key: &DocKey,
    compaction: &Compaction,
) -> rusqlite::Result<Compacted> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    // Stored generations fit in i64; a larger one cannot be the current one.
    let Ok(generation) = i64::try_from(compaction.generation) else {
        return Ok(Compacted::Superseded);
    };
    let snapshot: &[u8] = &compaction.snapshot;
    let crc = record::to_db(record::checksum(snapshot));
    // The compare-and-swap: one conditional statement, whose change count says whether the
    // generation still matched.
    let stored = if generation == 0 {
        // Generation 0 is also that of a missing document, which this creates. The upsert's
        // WHERE makes an existing row at another generation a no-op.
        conn.prepare_cached(
            "INSERT INTO documents (tenant, session, last_seq, snapshot, snapshot_crc, generation)
             VALUES (?1, ?2, 0, ?3, ?4, 1)
             ON CONFLICT (tenant, session) DO UPDATE
             SET snapshot = excluded.snapshot, snapshot_crc = excluded.snapshot_crc,
                 generation = generation + 1
             WHERE generation = 0",
        )?
        .execute(params![tenant, session, snapshot, crc])?
    } else {
        // A missing document is at generation 0, so it matches nothing here: not created.
        conn.prepare_cached(
            "UPDATE documents
             SET snapshot = ?3, snapshot_crc = ?4, generation = generation + 1
             WHERE tenant = ?1 AND session = ?2 AND generation = ?5",
        )?
        .execute(params![tenant, session, snapshot, crc, generation])?
    };
    if stored == 0 {
        return Ok(Compacted::Superseded);
    }
    // Exactly the folded numbers, never "everything up to the highest": an update under a
    // lower number the snapshot lacks must survive. SQLite has no array parameter; one
    // prepared delete per number costs no parsing and stays inside this transaction.
    let mut drop_update =
        conn.prepare_cached("DELETE FROM updates WHERE tenant = ?1 AND session = ?2 AND seq = ?3")?;
    for &seq in &compaction.folded {
        // Stored numbers fit in i64; a larger one names no stored update.
        if let Ok(seq) = i64::try_from(seq) {
            drop_update.execute(params![tenant, session, seq])?;
        }
    }
    Ok(Compacted::Done)
}

/// Removes the document and its updates; a document created again starts at generation 0.
pub(super) fn delete(conn: &Connection, key: &DocKey) -> rusqlite::Result<()> {
    let (tenant, session) = (key.tenant().as_str(), key.session().as_str());
    conn.prepare_cached("DELETE FROM updates WHERE tenant = ?1 AND session = ?2")?
        .execute(params![tenant, session])?;
    conn.prepare_cached("DELETE FROM documents WHERE tenant = ?1 AND session = ?2")?
        .execute(params![tenant, session])?;
    Ok(())
}
