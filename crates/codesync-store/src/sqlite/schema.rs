//! Opening a SQLite connection with the settings durability depends on, and the schema.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::Result;

/// Migrations, oldest first, as `(version, sql)`. `PRAGMA user_version` records the last one
/// applied, so an existing file is upgraded in place by running only the newer ones.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        // IF NOT EXISTS: files written before versioning hold these tables already.
        "
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
        ",
    ),
    (
        2,
        // The compaction generation: a compaction built from an older one changes nothing.
        // Existing documents were never compacted under this rule, so they start at 0.
        "ALTER TABLE documents ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;",
    ),
];

/// The schema version this code writes: that of the last migration.
const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Opens `path` with write-ahead logging and `synchronous = FULL`: in WAL mode that is what
/// makes every commit fsync the log before it returns (NORMAL would not).
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Creates the tables, or upgrades an existing file to this code's version, in one
/// transaction (an interrupted upgrade leaves the file as it was). A file of a newer version
/// is refused.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE takes the write lock before reading the version, so two processes opening
    // one file at once cannot both apply the same migration.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(crate::StoreError::Config(
            "the database was written by a newer codesync; refusing to open it",
        ));
    }
    for (number, sql) in MIGRATIONS.iter().filter(|(number, _)| *number > version) {
        tracing::info!(version = number, "migrating sqlite schema");
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
