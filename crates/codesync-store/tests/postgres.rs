//! The PostgreSQL backend against a real server.
//!
//! Set `CODESYNC_TEST_POSTGRES_URL` to a connection string (for example
//! `host=127.0.0.1 port=5432 user=postgres dbname=test`). Without it the tests skip, saying
//! so on stderr, except under `CI=true`, where they fail: CI must not pass by skipping.
//! With it set, an unreachable server fails the tests.

mod pg_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codesync_core::{DocKey, SessionId, Storage};
use codesync_store::conformance::{self, unique_tenant};
use codesync_store::{PostgresConfig, PostgresStorage, StoreError};
use pg_support::{raw_client, server_url, URL_VAR};

/// Shared by every run: the suite works in unique tenants, so runs do not collide.
const SCHEMA: &str = "codesync_conformance";

/// Adds `key=value` to a connection string in either syntax.
fn with_param(url: &str, key: &str, value: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        let value = value.replace(' ', "%20").replace('=', "%3D");
        format!("{url}{sep}{key}={value}")
    } else {
        format!("{url} {key}='{value}'")
    }
}

async fn connect(url: String) -> PostgresStorage {
    PostgresStorage::connect(PostgresConfig::new(url).schema(SCHEMA))
        .await
        .unwrap_or_else(|e| panic!("{URL_VAR} is set, but connecting failed: {e}"))
}

async fn storage() -> Option<PostgresStorage> {
    Some(connect(server_url()?).await)
}

codesync_store::conformance_tests!(async {
    storage().await.map(|s| Arc::new(s) as Arc<dyn Storage>)
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_corrupted_record_is_reported() {
    let Some(url) = server_url() else { return };
    let storage: Arc<dyn Storage> = Arc::new(connect(url.clone()).await);
    conformance::corrupted_record_is_reported(storage, |key: DocKey| async move {
        let client = raw_client(&url).await;
        let flipped = client
            .execute(
                &format!(
                    "UPDATE {SCHEMA}.updates
                     SET bytes = set_byte(bytes, 5, 255 - get_byte(bytes, 5))
                     WHERE tenant = $1 AND session = $2
                       AND seq = (SELECT min(seq) FROM {SCHEMA}.updates
                                  WHERE tenant = $1 AND session = $2)"
                ),
                &[&key.tenant().as_str(), &key.session().as_str()],
            )
            .await
            .expect("flip one byte");
        assert_eq!(flipped, 1, "exactly one update damaged");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_superseded_compaction_never_creates_a_document() {
    let Some(storage) = storage().await else {
        return;
    };
    conformance::superseded_compaction_never_creates_a_document(&storage).await;
}

/// Separate handles: separate writer connections, so the compactions race through
/// PostgreSQL's row locks as separate nodes' would, not one batch's transaction.
async fn nodes(url: &str, count: usize) -> Vec<Arc<dyn Storage>> {
    let mut nodes: Vec<Arc<dyn Storage>> = vec![];
    for _ in 0..count {
        nodes.push(Arc::new(connect(url.to_owned()).await));
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_concurrent_compactions_across_nodes() {
    let Some(url) = server_url() else { return };
    conformance::concurrent_compactions_across(nodes(&url, 3).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_concurrent_creations_across_nodes() {
    let Some(url) = server_url() else { return };
    conformance::concurrent_creations_across(nodes(&url, 4).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_commits_synchronously() {
    let Some(url) = server_url() else { return };
    // The session starts with synchronous_commit off, so "on" proves the backend set it.
    let url = with_param(&url, "options", "-c synchronous_commit=off");
    let storage = connect(url).await;
    assert_eq!(storage.synchronous_commit().await.expect("show"), "on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_group_committed() {
    const WRITERS: usize = 64;
    let Some(storage) = storage().await else {
        return;
    };
    let storage = Arc::new(storage);
    let tenant = unique_tenant("group-commit");
    // Everyone starts at once, so appends queue while earlier batches commit.
    let start = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = vec![];
    for i in 0..WRITERS {
        let (storage, start) = (Arc::clone(&storage), Arc::clone(&start));
        let key = DocKey::new(
            tenant.clone(),
            SessionId::new(format!("doc{i}")).expect("id"),
        );
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let update = Bytes::from(format!("update {i}"));
            let seq = storage.append(&key, update.clone()).await.expect("append");
            (key, seq, update)
        }));
    }
    for task in tasks {
        let (key, seq, update) = task.await.expect("task");
        let stored = storage.load(&key).await.expect("load").expect("stored");
        assert_eq!(stored.updates.len(), 1, "{key}");
        assert_eq!(
            (stored.updates[0].seq, &stored.updates[0].bytes),
            (seq, &update)
        );
    }
    let stats = storage.stats();
    assert!(stats.writes >= WRITERS as u64, "{stats:?}");
    assert!(
        stats.commits < WRITERS as u64,
        "no batching happened: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_does_not_sink_its_batch() {
    const WRITERS: usize = 32;
    let Some(url) = server_url() else { return };
    let storage = Arc::new(connect(url.clone()).await);
    let tenant = unique_tenant("savepoint");
    let key = |name: &str| DocKey::new(tenant.clone(), SessionId::new(name).expect("id"));
    // A document whose next sequence number overflows bigint: its append must fail alone.
    let full = key("full");
    storage
        .append(&full, Bytes::from_static(b"x"))
        .await
        .expect("append");
    raw_client(&url)
        .await
        .execute(
            &format!(
                "UPDATE {SCHEMA}.documents SET last_seq = 9223372036854775807
                 WHERE tenant = $1 AND session = $2"
            ),
            &[&full.tenant().as_str(), &full.session().as_str()],
        )
        .await
        .expect("exhaust the sequence");

    let start = Arc::new(tokio::sync::Barrier::new(WRITERS + 1));
    let mut tasks = vec![];
    for i in 0..WRITERS {
        let (storage, start, k) = (
            Arc::clone(&storage),
            Arc::clone(&start),
            key(&format!("ok{i}")),
        );
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            storage.append(&k, Bytes::from_static(b"y")).await
        }));
    }
    start.wait().await;
    let failed = storage.append(&full, Bytes::from_static(b"z")).await;
    assert!(failed.is_err(), "bigint overflow must fail: {failed:?}");
    for task in tasks {
        task.await
            .expect("task")
            .expect("the other writes of the batch commit");
    }
    let stored = storage.load(&full).await.expect("load").expect("stored");
    assert_eq!(
        stored.updates.len(),
        1,
        "the failed append left nothing behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_are_reopened() {
    let Some(url) = server_url() else { return };
    let app = format!("codesync-reconnect-{}", std::process::id());
    let storage = connect(with_param(&url, "application_name", &app)).await;
    let key = DocKey::new(
        unique_tenant("reconnect"),
        SessionId::new("doc").expect("id"),
    );
    storage
        .append(&key, Bytes::from_static(b"before"))
        .await
        .expect("append");

    let killed: i64 = raw_client(&url)
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("terminate")
        .get(0);
    assert_eq!(killed, 2, "the writer's and the reader's connections");

    // A write caught by the loss may fail (it was never acknowledged); the next must not.
    let mut attempts = 0;
    let seq = loop {
        attempts += 1;
        match storage.append(&key, Bytes::from_static(b"after")).await {
            Ok(seq) => break seq,
            Err(e) if attempts < 2 => drop(e),
            Err(e) => panic!("the writer did not reconnect: {e}"),
        }
    };
    let stored = storage
        .load(&key)
        .await
        .expect("reader reconnects")
        .expect("stored");
    assert_eq!(stored.updates.last().map(|u| u.seq), Some(seq));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_fails_within_the_timeout() {
    let timeout = Duration::from_secs(2);
    let config = PostgresConfig::new("host=127.0.0.1 port=1 user=postgres dbname=test")
        .connect_timeout(timeout);
    let started = Instant::now();
    let result = PostgresStorage::connect(config).await;
    assert!(result.is_err(), "connected to port 1?");
    assert!(
        started.elapsed() < timeout + Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_are_refused_before_connecting() {
    // Port 1: were anything contacted, the error would be a connection error instead.
    let url = "host=127.0.0.1 port=1 user=postgres dbname=test";
    for config in [
        PostgresConfig::new(url).schema("x\"; DROP TABLE documents; --"),
        PostgresConfig::new(url).schema("Upper"),
        PostgresConfig::new(url).max_batch(0),
        PostgresConfig::new(url).connect_timeout(Duration::ZERO),
    ] {
        let err = PostgresStorage::connect(config.clone())
            .await
            .expect_err("refused");
        assert!(matches!(err, StoreError::Config(_)), "{config:?}: {err}");
    }
}

#[test]
fn debug_output_hides_the_password() {
    let config = PostgresConfig::new("host=db user=app password=hunter2 dbname=app");
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
