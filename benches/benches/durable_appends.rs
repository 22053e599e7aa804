//! Run with: `CODESYNC_TRACES_DIR=../shared/data/editing-traces cargo bench -p codesync-benches --bench durable_appends`
//!
//! Durable appends to the SQLite store (a file in a tempdir, `synchronous = FULL`) from
//! `WRITERS` concurrent sessions, with group commit (the default) against the same store
//! committing and flushing once per update (`SqliteConfig::max_batch(1)`), in the same run.
//! One criterion iteration is one durable append: the time per iteration is the inverse of
//! durable updates per second. Payloads are per-keystroke Loro updates of a real trace when
//! available.

use std::sync::Arc;
use std::time::{Duration, Instant};

use codesync_core::{DocKey, Storage};
use codesync_store::{SqliteConfig, SqliteStorage};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

/// Sessions appending at once, each waiting for its previous append to be durable (as a
/// session does) before the next.
const WRITERS: usize = 32;
/// Distinct payloads, cycled.
const PAYLOADS: usize = 4000;

/// `appends` durable appends spread over `WRITERS` concurrent sessions; the time they took.
async fn appends(
    storage: &Arc<SqliteStorage>,
    updates: &Arc<Vec<Vec<u8>>>,
    appends: u64,
) -> Duration {
    let started = Instant::now();
    let per_writer = appends as usize / WRITERS;
    let extra = appends as usize % WRITERS;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let storage = storage.clone();
            let updates = updates.clone();
            let count = per_writer + usize::from(w < extra);
            tokio::spawn(async move {
                let key = DocKey::parse("bench", &format!("doc{w}")).expect("a key");
                for i in 0..count {
                    let update = &updates[(w * 7919 + i) % updates.len()];
                    storage
                        .append(&key, bytes::Bytes::copy_from_slice(update))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    started.elapsed()
}

fn durable_appends(c: &mut Criterion) {
    let keystrokes = codesync_benches::keystrokes("automerge-paper", PAYLOADS);
    codesync_benches::announce(
        "appends",
        &format!(
            "{WRITERS} concurrent sessions appending to SQLite (WAL, synchronous=FULL) in a \
             tempdir; payload: {}",
            keystrokes.source
        ),
        keystrokes.from_trace,
    );
    let updates = Arc::new(keystrokes.updates);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("appends");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    let case = format!("{WRITERS}_sessions");
    for (name, max_batch) in [("group_commit", 1024), ("baseline_one_flush_per_update", 1)] {
        let dir = tempfile::tempdir().expect("a tempdir");
        let config = SqliteConfig::new(dir.path().join("bench.sqlite3")).max_batch(max_batch);
        let storage = Arc::new(SqliteStorage::with_config(config).expect("open SQLite"));
        group.bench_function(BenchmarkId::new(name, &case), |b| {
            b.iter_custom(|iters| runtime.block_on(appends(&storage, &updates, iters)));
        });
        let stats = storage.stats();
        eprintln!(
            "workload: appends/{name}: {} writes in {} commits ({:.1} writes per flush)",
            stats.writes,
            stats.commits,
            stats.writes as f64 / stats.commits.max(1) as f64
        );
    }
    group.finish();
}

criterion_group!(benches, durable_appends);
criterion_main!(benches);
