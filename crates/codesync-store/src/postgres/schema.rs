//! The backend's tables: the schema name (interpolated into SQL, so validated) and the
//! migrations that create them.

use tokio_postgres::Client;

use crate::error::StoreError;

/// Migrations, oldest first, as `(version, sql)`; `{schema}` stands for the quoted schema.
/// Text columns use the "C" collation so that the primary key's order is byte order, which
/// is the order of [`SessionId`](codesync_core::SessionId) that `list` promises.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE {schema}.documents (
        tenant       text COLLATE "C" NOT NULL,
        session      text COLLATE "C" NOT NULL,
        last_seq     bigint NOT NULL,
        snapshot     bytea NULL,
        snapshot_crc bigint NULL,
        PRIMARY KEY (tenant, session)
    );
    CREATE TABLE {schema}.updates (
        tenant  text COLLATE "C" NOT NULL,
        session text COLLATE "C" NOT NULL,
        seq     bigint NOT NULL,
        bytes   bytea NOT NULL,
        crc     bigint NOT NULL,
        PRIMARY KEY (tenant, session, seq),
        FOREIGN KEY (tenant, session) REFERENCES {schema}.documents ON DELETE CASCADE
    );
    "#,
    ),
    (
        2,
        // The compaction generation: a compaction built from an older one changes nothing,
        // so nodes sharing the database can compact one document at once. Existing
        // documents start at 0. (A constant default: no table rewrite on PostgreSQL 11+.)
        "ALTER TABLE {schema}.documents ADD COLUMN generation bigint NOT NULL DEFAULT 0;",
    ),
];

/// A schema name safe to interpolate into SQL.
#[derive(Debug, Clone)]
pub(super) struct SchemaName(String);

impl SchemaName {
    /// Accepts lowercase identifiers only: quoting them is then a no-op, so the tables are
    /// reachable with or without quotes from `psql`.
    pub(super) fn parse(name: &str) -> Result<Self, StoreError> {
        let first_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        // PostgreSQL silently truncates identifiers past 63 bytes, which would let two
        // configured names share one schema.
        if !first_ok || !rest_ok || name.len() > 63 {
            return Err(StoreError::Config(
                "the schema name must be 1 to 63 lowercase ASCII letters, digits or '_', \
                 not starting with a digit",
            ));
        }
        if name.starts_with("pg_") {
            return Err(StoreError::Config(
                "schema names starting with 'pg_' are reserved by PostgreSQL",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as written in the catalog.
    pub(super) fn name(&self) -> &str {
        &self.0
    }

    /// `"schema".table`, for SQL text.
    pub(super) fn table(&self, table: &str) -> String {
        format!("\"{}\".{table}", self.0)
    }

    /// The advisory lock serialising migrations of this schema: a fixed tag ("code") in the
    /// high half, so it is unlikely to collide with an application's own locks.
    fn lock_key(&self) -> i64 {
        (0x636f_6465_i64 << 32) | i64::from(crc32fast::hash(self.0.as_bytes()))
    }
}

/// Brings the schema to the latest version.
///
/// Many processes may start at once (nodes of a cluster, parallel test binaries): the
/// transaction-scoped advisory lock makes them take turns, so no `CREATE` races another.
/// Existence is checked before creating, so a role without `CREATE` privilege can still use
/// a schema an administrator prepared.
pub(super) async fn migrate(client: &mut Client, schema: &SchemaName) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema.lock_key()])
        .await?;
    let has_schema: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema.name()],
        )
        .await?
        .try_get(0)?;
    if !has_schema {
        tx.batch_execute(&format!("CREATE SCHEMA \"{}\"", schema.name()))
            .await?;
    }
    let versions = schema.table("schema_version");
    let has_versions: bool = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&versions])
        .await?
        .try_get(0)?;
    if !has_versions {
        tx.batch_execute(&format!(
            "CREATE TABLE {versions} (
                version    integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )"
        ))
        .await?;
    }
    let current: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {versions}"),
            &[],
        )
        .await?
        .try_get(0)?;
    let latest = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if current > latest {
        return Err(StoreError::Config(
            "the database schema is newer than this build of codesync-store",
        ));
    }
    let quoted = format!("\"{}\"", schema.name());
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tracing::info!(schema = schema.name(), version, "migrating postgres schema");
        tx.batch_execute(&sql.replace("{schema}", &quoted)).await?;
        tx.execute(
            &format!("INSERT INTO {versions} (version) VALUES ($1)"),
            &[version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_identifiers() {
        for name in ["codesync", "_x", "a1_b2", &"a".repeat(63)] {
            assert!(SchemaName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_anything_that_would_need_escaping() {
        for name in [
            "",
            "1abc",
            "Codesync",
            "a-b",
            "a b",
            "a\"; DROP TABLE x; --",
            "pg_mine",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(SchemaName::parse(name), Err(StoreError::Config(_))),
                "{name}"
            );
        }
    }
}
