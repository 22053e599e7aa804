//! Opening a SQLite connection with the settings durability depends on, and the schema.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::Result;

/// The schema version this code writes; `PRAGMA user_version` records it in the file.
const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    tenant       TEXT    NOT NULL,
    session      TEXT    NOT NULL,
    last_seq     INTEGER NOT NULL,
    snapshot     BLOB,
    snapshot_crc INTEGER,
    PRIMARY KEY (tenant, session)
);
CREATE TABLE IF NOT EXISTS updates (
    tenant  TEXT    NOT NULL,
    session TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    bytes   BLOB    NOT NULL,
    crc     INTEGER NOT NULL,
    PRIMARY KEY (tenant, session, seq)
);
";

/// Opens `path` with write-ahead logging and `synchronous = FULL`: in WAL mode that is what
/// makes every commit fsync the log before it returns (NORMAL would not).
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Creates the tables, or checks that an existing file is of a version this code reads.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(crate::StoreError::Config(
            "the database was written by a newer codesync; refusing to open it",
        ));
    }
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
