//! Durability under SIGKILL, and proof that acknowledgements wait for fsync.
//!
//! The child (the ignored test `child_appends_until_killed`, started by the others as a
//! separate process) appends sequence-numbered updates through a hub backed by SQLite and
//! prints `ACK <n>` after each acknowledged one. The parent kills it at random moments and
//! checks, after every restart, that every acknowledged update is in the store.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codesync_core::{ClientId, DocKey, Hub, Origin};
use codesync_store::SqliteStorage;
use loro::{ExportMode, LoroDoc, VersionVector};

const DIR_ENV: &str = "CODESYNC_DURABILITY_CHILD_DIR";
const FIRST_ENV: &str = "CODESYNC_DURABILITY_CHILD_FIRST";
const LIMIT_ENV: &str = "CODESYNC_DURABILITY_CHILD_LIMIT";
/// Concurrent writers in the child, each on its own session, so commits batch.
const WRITERS: u64 = 4;

fn key(writer: u64) -> DocKey {
    DocKey::parse("crash", &format!("doc{writer}")).expect("key")
}

fn db_path(dir: &Path) -> std::path::PathBuf {
    dir.join("codesync.sqlite3")
}

#[test]
#[ignore = "run as a child process by the durability tests"]
fn child_appends_until_killed() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let first: u64 = std::env::var(FIRST_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let limit: u64 = std::env::var(LIMIT_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let storage = SqliteStorage::open(db_path(Path::new(&dir))).expect("open");
        let hub = Hub::builder(storage.clone()).build();
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let hub = hub.clone();
                tokio::spawn(async move {
                    // A peer id of its own per run and writer: ops never collide.
                    let doc = LoroDoc::new();
                    doc.set_peer_id(first * WRITERS + w).expect("peer");
                    let mut sent = VersionVector::default();
                    let map = doc.get_map("acked");
                    for i in 0..limit {
                        let n = first + i * WRITERS + w;
                        map.insert(&n.to_string(), n as i64).expect("insert");
                        let update = doc.export(ExportMode::updates(&sent)).expect("export");
                        sent = doc.oplog_vv();
                        let applied = hub
                            .apply(&key(w), &update, Origin::Client(ClientId(w)))
                            .await
                            .expect("apply");
                        if applied.durable {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ACK {w} {n}").expect("stdout");
                            out.flush().expect("flush");
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("writer");
        }
        let stats = storage.stats();
        println!("STATS {} {}", stats.commits, stats.writes);
    });
}

fn spawn_child(program: &str, args: &[&str], dir: &Path, first: u64, limit: Option<u64>) -> Child {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env(DIR_ENV, dir)
        .env(FIRST_ENV, first.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(limit) = limit {
        cmd.env(LIMIT_ENV, limit.to_string());
    }
    cmd.spawn().expect("spawn child")
}

fn child_args() -> Vec<&'static str> {
    vec![
        "child_appends_until_killed",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// Collects the child's output lines on a thread, so killing it never blocks the reader.
fn collect_lines(child: &mut Child) -> (Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lines").push(line);
        }
    });
    (lines, reader)
}

/// The child's first line shares its start with the test harness's "test … " prefix.
fn after_marker<'a>(line: &'a str, marker: &str) -> &'a str {
    line.find(marker).map_or("", |at| &line[at..])
}

/// Every acknowledged `(writer, n)` must be in the stored document.
fn assert_all_present(dir: &Path, acked: &[(u64, u64)]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let hub = Hub::builder(SqliteStorage::open(db_path(dir)).expect("reopen")).build();
        for w in 0..WRITERS {
            let session = hub
                .session(&key(w))
                .await
                .expect("the store loads after a kill");
            let present: std::collections::HashSet<String> = session
                .read(|d| d.get_map("acked").keys().map(|k| k.to_string()).collect())
                .await
                .expect("read");
            for (_, n) in acked.iter().filter(|(writer, _)| *writer == w) {
                assert!(
                    present.contains(&n.to_string()),
                    "acknowledged update {n} of writer {w} was lost"
                );
            }
        }
    });
}

/// A small xorshift generator: the kill moments need variety, not cryptographic quality.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_acknowledged_update_survives_sigkill() {
    let program = std::env::current_exe().expect("test binary");
    let program = program.to_str().expect("utf-8 path");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed = Instant::now().elapsed().as_nanos() as u64 | 1;
    seed ^= std::process::id() as u64;
    let started = Instant::now();
    let mut acked: Vec<(u64, u64)> = Vec::new();
    let mut kills = 0;
    let mut first = 1;
    while kills < 30 || (kills < 50 && started.elapsed() < Duration::from_secs(20)) {
        let mut child = spawn_child(program, &child_args(), dir.path(), first, None);
        let (lines, reader) = collect_lines(&mut child);
        let wait_ms = 30 + next_random(&mut seed) % 400;
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        reader.join().expect("reader");
        kills += 1;
        for line in lines.lock().expect("lines").iter() {
            let mut parts = after_marker(line, "ACK ").split_whitespace();
            if parts.next() == Some("ACK") {
                let w: u64 = parts.next().and_then(|p| p.parse().ok()).expect("writer");
                let n: u64 = parts.next().and_then(|p| p.parse().ok()).expect("number");
                acked.push((w, n));
            }
        }
        // Numbers of the next run start past anything this one could have used.
        first += 1_000_000;
        assert_all_present(dir.path(), &acked);
    }
    assert!(kills >= 30);
    assert!(
        acked.len() > 100,
        "the child acknowledged only {} updates in {kills} runs",
        acked.len()
    );
    writeln!(
        std::io::stderr(),
        "durability: {kills} SIGKILLs, {} acknowledged updates, all present",
        acked.len()
    )
    .expect("stderr");
}

/// Parses `strace -c` output: the total calls of fsync and fdatasync.
fn flush_calls(summary: &str) -> u64 {
    summary
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let name = cols.last()?;
            if *name == "fsync" || *name == "fdatasync" {
                cols.get(3)?.parse::<u64>().ok()
            } else {
                None
            }
        })
        .sum()
}

#[test]
fn every_acknowledged_commit_batch_was_flushed_to_disk() {
    let strace = Path::new("/usr/bin/strace");
    if !strace.exists() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "CI=true but strace is missing: scripts/test.sh installs it"
        );
        writeln!(
            std::io::stderr(),
            "SKIPPED: fsync count test needs strace (apt-get install strace)"
        )
        .expect("stderr");
        return;
    }
    let program = std::env::current_exe().expect("test binary");
    let dir = tempfile::tempdir().expect("tempdir");
    let summary_path = dir.path().join("strace.txt");
    let mut args: Vec<String> = vec![
        "-f".into(),
        "-c".into(),
        "-e".into(),
        "trace=fsync,fdatasync".into(),
        "-o".into(),
        summary_path.to_str().expect("utf-8").into(),
        program.to_str().expect("utf-8").into(),
    ];
    args.extend(child_args().iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let per_writer = 150;
    let mut child = spawn_child("/usr/bin/strace", &args, dir.path(), 1, Some(per_writer));
    let (lines, reader) = collect_lines(&mut child);
    let status = child.wait().expect("wait");
    reader.join().expect("reader");
    assert!(status.success(), "child failed: {status}");
    let lines = lines.lock().expect("lines");
    let acks = lines.iter().filter(|l| l.contains("ACK ")).count() as u64;
    let stats = lines
        .iter()
        .find_map(|l| after_marker(l, "STATS ").strip_prefix("STATS "))
        .expect("the child reports its commit count");
    let commits: u64 = stats
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .expect("commits");
    assert_eq!(acks, per_writer * WRITERS, "every update acknowledged");
    let summary = std::fs::read_to_string(&summary_path).expect("strace summary");
    let flushes = flush_calls(&summary);
    assert!(commits > 0);
    assert!(
        flushes >= commits,
        "{flushes} fsync/fdatasync calls for {commits} acknowledged commit batches:\n{summary}"
    );
    writeln!(
        std::io::stderr(),
        "fsync proof: {acks} acknowledged updates in {commits} commit batches, {flushes} fsync/fdatasync calls"
    )
    .expect("stderr");
}
