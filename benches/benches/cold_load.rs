//! Run with: `CODESYNC_TRACES_DIR=../shared/data/editing-traces CODESYNC_TEST_POSTGRES_URL='host=127.0.0.1 port=5432 user=postgres dbname=test' cargo bench -p codesync-benches --bench cold_load`
//!
//! A session's cold load (`hub.session(&key)` on a hub that has never seen it, the session
//! already in storage) from each backend, against a bare `LoroDoc` importing the same
//! stored bytes. Two shapes: compacted (snapshot only) and a snapshot plus a tail of
//! `TAIL` per-keystroke updates. Storage is warm (the OS and the database have read the
//! rows before): this is the cost of a load, not of a cold disk.

use std::sync::Arc;
use std::time::Duration;

use codesync_benches::stored::{self, StoredShape};
use codesync_core::{DocKey, Hub, MemoryStorage, Storage};
use codesync_store::{PostgresConfig, PostgresStorage, SqliteStorage};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};

/// Keystrokes of the code trace that build the document.
const KEYSTROKES: usize = 20_000;
/// Updates left after the snapshot in the second shape.
const TAIL: usize = 200;
/// Where the PostgreSQL backend is, if it is to be measured.
const POSTGRES_ENV: &str = "CODESYNC_TEST_POSTGRES_URL";
/// The PostgreSQL schema the bench writes to, apart from the application's.
const POSTGRES_SCHEMA: &str = "codesync_bench";

/// Every backend to measure, by name. The tempdir must outlive the SQLite store.
fn backends(
    runtime: &tokio::runtime::Runtime,
    dir: &tempfile::TempDir,
) -> Vec<(&'static str, Arc<dyn Storage>)> {
    let sqlite = SqliteStorage::open(dir.path().join("bench.sqlite3")).expect("open SQLite");
    let mut backends: Vec<(&'static str, Arc<dyn Storage>)> = vec![
        ("memory", Arc::new(MemoryStorage::new())),
        ("sqlite", Arc::new(sqlite)),
    ];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) => {
            let config = PostgresConfig::new(url).schema(POSTGRES_SCHEMA);
            let postgres = runtime
                .block_on(PostgresStorage::connect(config))
                .expect("connect to PostgreSQL");
            backends.push(("postgres", Arc::new(postgres)));
        }
        Err(_) => eprintln!(
            "SKIPPED cold_load/postgres: set {POSTGRES_ENV} \
             (e.g. 'host=127.0.0.1 port=5432 user=postgres dbname=test') to measure it"
        ),
    }
    backends
}

fn cold_load(c: &mut Criterion) {
    // Multi-threaded, as a server runs: SQLite reads go to the blocking pool, and the
    // PostgreSQL backend's connection tasks need a runtime that keeps running.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let keystrokes = codesync_benches::keystrokes("rustcode", KEYSTROKES);
    let shapes = [
        StoredShape::compacted(&keystrokes.updates).expect("a snapshot"),
        StoredShape::with_tail(&keystrokes.updates, TAIL).expect("a snapshot"),
    ];
    let described: Vec<String> = shapes
        .iter()
        .map(|s| {
            format!(
                "{} = {} B snapshot + {} updates ({} B in all)",
                s.name,
                s.snapshot.len(),
                s.tail.len(),
                s.total_bytes()
            )
        })
        .collect();
    codesync_benches::announce(
        "cold_load",
        &format!("{}; {}", keystrokes.source, described.join("; ")),
        keystrokes.from_trace,
    );
    let dir = tempfile::tempdir().expect("a tempdir");
    let backends = backends(&runtime, &dir);

    let mut group = c.benchmark_group("cold_load");
    // Flat sampling: a load with a tail takes milliseconds, too long for criterion's
    // linear ramp of iterations within a few seconds.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for shape in &shapes {
        let key = DocKey::parse("bench", &format!("cold-{}", shape.name)).expect("a key");
        for (name, storage) in &backends {
            runtime
                .block_on(shape.store(storage.as_ref(), &key))
                .expect("store the session");
            group.bench_function(BenchmarkId::new(*name, shape.name), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let hub = Hub::builder_shared(storage.clone()).build();
                            runtime
                                .block_on(stored::cold_load(hub, &key))
                                .expect("load")
                        })
                        .sum::<Duration>()
                });
            });
        }
        group.bench_function(BenchmarkId::new("loro_import_and_read", shape.name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| stored::loro_import_and_read(shape).expect("import"))
                    .sum::<Duration>()
            });
        });
        group.bench_function(BenchmarkId::new("loro_import_batch", shape.name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| stored::loro_import_batch(shape).expect("import"))
                    .sum::<Duration>()
            });
        });
        group.bench_function(BenchmarkId::new("baseline_loro_import", shape.name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| stored::loro_import(shape).expect("import"))
                    .sum::<Duration>()
            });
        });
        for (_, storage) in &backends {
            runtime
                .block_on(storage.delete(&key))
                .expect("clean up the session");
        }
    }
    group.finish();
}

criterion_group!(benches, cold_load);
criterion_main!(benches);
