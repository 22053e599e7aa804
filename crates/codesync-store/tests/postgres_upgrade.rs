//! Upgrading a PostgreSQL schema written by an older version, in place, against a real
//! server (see `tests/postgres.rs` for `CODESYNC_TEST_POSTGRES_URL`).

mod pg_support;

use bytes::Bytes;
use codesync_core::{Compacted, Compaction, DocKey, Storage};
use codesync_store::{PostgresConfig, PostgresStorage};
use pg_support::{raw_client, server_url};

/// The tables of schema version 1 (before compaction generations), as that version made
/// them; `{schema}` stands for the schema.
const VERSION_1_TABLES: &str = r#"
    CREATE TABLE {schema}.schema_version (
        version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO {schema}.schema_version (version) VALUES (1);
    CREATE TABLE {schema}.documents (
        tenant text COLLATE "C" NOT NULL, session text COLLATE "C" NOT NULL,
        last_seq bigint NOT NULL, snapshot bytea NULL, snapshot_crc bigint NULL,
        PRIMARY KEY (tenant, session)
    );
    CREATE TABLE {schema}.updates (
        tenant text COLLATE "C" NOT NULL, session text COLLATE "C" NOT NULL,
        seq bigint NOT NULL, bytes bytea NOT NULL, crc bigint NOT NULL,
        PRIMARY KEY (tenant, session, seq),
        FOREIGN KEY (tenant, session) REFERENCES {schema}.documents ON DELETE CASCADE
    );
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_schema_is_upgraded_in_place() {
    let Some(url) = server_url() else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let schema = format!("codesync_upgrade_{}_{nanos}", std::process::id());
    let raw = raw_client(&url).await;
    raw.batch_execute(&format!(
        "CREATE SCHEMA {schema}; {}",
        VERSION_1_TABLES.replace("{schema}", &schema)
    ))
    .await
    .expect("version 1 schema");
    let update: &[u8] = b"stored by version 1";
    raw.batch_execute(&format!(
        "INSERT INTO {schema}.documents (tenant, session, last_seq) VALUES ('acme', 'old', 7)"
    ))
    .await
    .expect("document");
    raw.execute(
        &format!(
            "INSERT INTO {schema}.updates (tenant, session, seq, bytes, crc)
             VALUES ('acme', 'old', 7, $1, $2)"
        ),
        &[&update, &i64::from(crc32fast::hash(update))],
    )
    .await
    .expect("update");

    let storage = PostgresStorage::connect(PostgresConfig::new(url.clone()).schema(&schema))
        .await
        .expect("connect and upgrade");
    let key = DocKey::parse("acme", "old").expect("key");
    let stored = storage.load(&key).await.expect("load").expect("kept");
    assert_eq!(
        stored.generation, 0,
        "existing documents start at generation 0"
    );
    assert_eq!((stored.updates.len(), stored.updates[0].seq), (1, 7));
    assert_eq!(&stored.updates[0].bytes[..], update);
    let compaction = Compaction {
        snapshot: Bytes::from_static(b"snapshot"),
        folded: vec![7],
        generation: 0,
    };
    assert_eq!(
        storage.compact(&key, compaction).await.expect("compact"),
        Compacted::Done
    );
    let stored = storage.load(&key).await.expect("load").expect("kept");
    assert_eq!((stored.generation, stored.updates.len()), (1, 0));
    let versions: Vec<i32> = raw
        .query(
            &format!("SELECT version FROM {schema}.schema_version ORDER BY version"),
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1, 2]);
    drop(storage);
    raw.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("clean up");
}
