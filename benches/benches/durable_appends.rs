//! Run with: `CODESYNC_TRACES_DIR=../shared/data/editing-traces cargo bench -p codesync-benches --bench durable_appends`
//!
//! Durable appends per second to the SQLite store with group commit, against the same
//! store committing (and flushing) once per update, measured alternately in the same run.
//! Payloads are per-keystroke Loro updates of a real editing trace when available.

use std::sync::Arc;
use std::time::Instant;

use codesync_core::{DocKey, Storage};
use codesync_store::{SqliteConfig, SqliteStorage};

const WRITERS: usize = 32;
const APPENDS_PER_WRITER: usize = 100;
const ROUNDS: usize = 3;

/// One round: `WRITERS` sessions append concurrently; returns (appends/s, commits).
async fn round(max_batch: usize, updates: &Arc<Vec<Vec<u8>>>) -> (f64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SqliteConfig::new(dir.path().join("bench.sqlite3")).max_batch(max_batch);
    let storage = Arc::new(SqliteStorage::with_config(config).expect("open"));
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let storage = storage.clone();
            let updates = updates.clone();
            tokio::spawn(async move {
                let key = DocKey::parse("bench", &format!("doc{w}")).expect("key");
                for i in 0..APPENDS_PER_WRITER {
                    let update = &updates[(w * APPENDS_PER_WRITER + i) % updates.len()];
                    storage
                        .append(&key, bytes::Bytes::copy_from_slice(update))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = (WRITERS * APPENDS_PER_WRITER) as f64;
    (total / elapsed, storage.stats().commits)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let (updates, source) = codesync_benches::keystroke_updates("automerge-paper", 4000);
    let updates = Arc::new(updates);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut grouped, mut single) = (vec![], vec![]);
    let (mut grouped_commits, mut single_commits) = (0, 0);
    for _ in 0..ROUNDS {
        let (rate, commits) = rt.block_on(round(1024, &updates));
        grouped.push(rate);
        grouped_commits = commits;
        let (rate, commits) = rt.block_on(round(1, &updates));
        single.push(rate);
        single_commits = commits;
    }
    let (g, s) = (median(grouped), median(single));
    println!("durable appends, {WRITERS} concurrent sessions x {APPENDS_PER_WRITER} updates, payload: {source}");
    println!("  group commit:           {g:>10.0} appends/s ({grouped_commits} commits in the last round)");
    println!("  one flush per update:   {s:>10.0} appends/s ({single_commits} commits in the last round)");
    println!(
        "  ratio (group / single): {:>10.1}x  (median of {ROUNDS} alternating rounds)",
        g / s
    );
    if codesync_benches::traces_dir().is_some() {
        println!(
            "  traces: josephg/editing-traces, CC BY 4.0 (Joseph Gentle and the trace authors)"
        );
    }
}
