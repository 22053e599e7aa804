//! The conformance suite and SQLite-specific checks against the embedded backend.

use std::sync::Arc;

use codesync_core::{Compacted, Compaction, DocKey, Storage};
use codesync_store::{conformance, SqliteConfig, SqliteStorage};

/// A store in a fresh temporary directory (kept alive by leaking the guard for the test).
fn fresh() -> (SqliteStorage, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage =
        SqliteStorage::open(dir.path().join("data").join("codesync.sqlite3")).expect("open");
    (storage, dir)
}

/// A store that removes its temporary directory when the last handle drops.
#[derive(Debug)]
struct TempStore {
    storage: SqliteStorage,
    _dir: tempfile::TempDir,
}

#[async_trait::async_trait]
impl Storage for TempStore {
    async fn load(&self, key: &DocKey) -> codesync_core::Result<Option<codesync_core::StoredDoc>> {
        self.storage.load(key).await
    }
    async fn append(&self, key: &DocKey, update: bytes::Bytes) -> codesync_core::Result<u64> {
        self.storage.append(key, update).await
    }
    async fn compact(
        &self,
        key: &DocKey,
        compaction: Compaction,
    ) -> codesync_core::Result<Compacted> {
        self.storage.compact(key, compaction).await
    }
    async fn delete(&self, key: &DocKey) -> codesync_core::Result<()> {
        self.storage.delete(key).await
    }
    async fn list(
        &self,
        tenant: &codesync_core::TenantId,
    ) -> codesync_core::Result<Vec<codesync_core::SessionId>> {
        self.storage.list(tenant).await
    }
}

async fn make() -> Option<Arc<dyn Storage>> {
    let (storage, dir) = fresh();
    Some(Arc::new(TempStore { storage, _dir: dir }))
}

codesync_store::conformance_tests!(make());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_record_is_reported() {
    let (storage, _dir) = fresh();
    let path = storage.path().to_owned();
    conformance::corrupted_record_is_reported(Arc::new(storage), |key: DocKey| async move {
        let conn = rusqlite::Connection::open(&path).expect("open");
        let changed = conn
            .execute(
                "UPDATE updates SET bytes = substr(bytes, 1, 5) || x'ff' || substr(bytes, 7)
                 WHERE tenant = ?1 AND session = ?2 AND seq = 2",
                [key.tenant().as_str(), key.session().as_str()],
            )
            .expect("corrupt");
        assert_eq!(changed, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_group_committed() {
    let (storage, _dir) = fresh();
    let storage = Arc::new(storage);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move {
                let key = DocKey::parse("acme", &format!("doc{}", i % 8)).expect("key");
                storage
                    .append(&key, vec![i as u8; 16].into())
                    .await
                    .expect("append")
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let stats = storage.stats();
    assert_eq!(stats.writes, 64);
    assert!(
        stats.commits < 64,
        "64 concurrent appends took {} commits",
        stats.commits
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_batch_one_means_one_commit_per_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Arc::new(
        SqliteStorage::with_config(SqliteConfig::new(dir.path().join("db")).max_batch(1))
            .expect("open"),
    );
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move {
                let key = DocKey::parse("acme", "doc").expect("key");
                storage
                    .append(&key, vec![i as u8].into())
                    .await
                    .expect("append")
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(storage.stats().commits, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite3");
    let key = DocKey::parse("acme", "doc").expect("key");
    {
        let storage = SqliteStorage::open(&path).expect("open");
        storage
            .append(&key, vec![1, 2, 3].into())
            .await
            .expect("append");
    }
    let storage = SqliteStorage::open(&path).expect("reopen");
    let stored = storage.load(&key).await.expect("load").expect("present");
    assert_eq!(&stored.updates[0].bytes[..], &[1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite3");
    drop(SqliteStorage::open(&path).expect("open"));
    rusqlite::Connection::open(&path)
        .expect("open")
        .pragma_update(None, "user_version", 99)
        .expect("pragma");
    let err = SqliteStorage::open(&path).expect_err("refused");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_compaction_never_creates_a_document() {
    let (storage, _dir) = fresh();
    conformance::superseded_compaction_never_creates_a_document(&storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_compactions_across_handles_on_one_file() {
    // Separate handles have separate writer threads and connections, so their compactions
    // race through SQLite's file lock, as separate processes sharing the file would.
    let (first, dir) = fresh();
    let second = SqliteStorage::open(first.path()).expect("second handle");
    let third = SqliteStorage::open(first.path()).expect("third handle");
    conformance::concurrent_compactions_across(vec![
        Arc::new(first),
        Arc::new(second),
        Arc::new(third),
    ])
    .await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_across_handles_on_one_file() {
    let (first, dir) = fresh();
    let second = SqliteStorage::open(first.path()).expect("second handle");
    conformance::concurrent_creations_across(vec![Arc::new(first), Arc::new(second)]).await;
    drop(dir);
}

/// The schema of version 1 (before compaction generations), as that version wrote it.
const VERSION_1_SCHEMA: &str = "
CREATE TABLE documents (
    tenant TEXT NOT NULL, session TEXT NOT NULL, last_seq INTEGER NOT NULL,
    snapshot BLOB, snapshot_crc INTEGER, PRIMARY KEY (tenant, session)
);
CREATE TABLE updates (
    tenant TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL,
    bytes BLOB NOT NULL, crc INTEGER NOT NULL, PRIMARY KEY (tenant, session, seq)
);
PRAGMA user_version = 1;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_file_is_upgraded_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.sqlite3");
    let key = DocKey::parse("acme", "old").expect("key");
    let update: &[u8] = b"stored by version 1";
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch(VERSION_1_SCHEMA)
            .expect("version 1 schema");
        conn.execute(
            "INSERT INTO documents (tenant, session, last_seq) VALUES ('acme', 'old', 7)",
            [],
        )
        .expect("document");
        conn.execute(
            "INSERT INTO updates (tenant, session, seq, bytes, crc) VALUES ('acme', 'old', 7, ?1, ?2)",
            rusqlite::params![update, i64::from(crc32fast::hash(update))],
        )
        .expect("update");
    }
    let storage = SqliteStorage::open(&path).expect("upgraded");
    let stored = storage.load(&key).await.expect("load").expect("kept");
    assert_eq!(
        stored.generation, 0,
        "existing documents start at generation 0"
    );
    assert_eq!(stored.updates.len(), 1);
    assert_eq!(
        (stored.updates[0].seq, &stored.updates[0].bytes[..]),
        (7, update)
    );
    let compaction = Compaction {
        snapshot: bytes::Bytes::from_static(b"snapshot"),
        folded: vec![7],
        generation: 0,
    };
    assert_eq!(
        storage.compact(&key, compaction).await.expect("compact"),
        Compacted::Done
    );
    drop(storage);
    let storage = SqliteStorage::open(&path).expect("reopened at the new version");
    let stored = storage.load(&key).await.expect("load").expect("kept");
    assert_eq!((stored.generation, stored.updates.len()), (1, 0));
    let version: i32 = rusqlite::Connection::open(&path)
        .expect("open")
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, 2);
}
