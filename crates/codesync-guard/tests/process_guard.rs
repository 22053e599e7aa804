//! The guard's worker processes against the inputs that crash a process importing them.

use std::time::Duration;

use bytes::Bytes;
use codesync_core::loro::{ExportMode, LoroDoc, VersionVector};
use codesync_core::{DocKey, GuardRequest, UpdateGuard, Verdict};
use codesync_guard::{GuardConfig, ProcessGuard};

const ALLOC_ABORT_A: &[u8] = include_bytes!("../data/alloc-abort-a.bin");
const ALLOC_ABORT_B: &[u8] = include_bytes!("../data/alloc-abort-b.bin");
const PANIC_THEN_ABORT: &[u8] = include_bytes!("../data/import-panic-then-abort.bin");
const UNLOADABLE: &[u8] = include_bytes!("../data/accepted-then-abort-on-reload.bin");

fn guard() -> ProcessGuard {
    ProcessGuard::spawn(
        GuardConfig::default()
            .with_worker_program(env!("CARGO_BIN_EXE_codesync-guard-worker"), [""; 0]),
    )
    .expect("guard starts")
}

fn key(session: &str) -> DocKey {
    DocKey::parse("guard-tests", session).expect("key")
}

fn empty_snapshot() -> Vec<u8> {
    LoroDoc::new().export(ExportMode::Snapshot).expect("export")
}

/// Checks `update` against an empty document, sending the base when asked.
async fn check_on_empty(guard: &ProcessGuard, key: &DocKey, update: &[u8]) -> Verdict {
    let version = VersionVector::default();
    let mut request = GuardRequest {
        key,
        base_version: &version,
        base: None,
        update,
    };
    let verdict = guard.check_update(request).await;
    if verdict != Verdict::NeedBase {
        return verdict;
    }
    let base = empty_snapshot();
    request.base = Some(&base);
    guard.check_update(request).await
}

fn typed(peer: u64, text: &str) -> Vec<u8> {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.export(ExportMode::all_updates()).expect("export")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crasher_class_is_refused_and_the_guard_keeps_working() {
    let guard = guard();
    for (name, input) in [
        ("alloc-abort-a", ALLOC_ABORT_A),
        ("alloc-abort-b", ALLOC_ABORT_B),
        ("import-panic-then-abort", PANIC_THEN_ABORT),
        ("accepted-then-abort-on-reload", UNLOADABLE),
    ] {
        let verdict = check_on_empty(&guard, &key(name), input).await;
        assert!(
            matches!(verdict, Verdict::Unsafe(_)),
            "{name}: expected Unsafe, got {verdict:?}"
        );
        // The next check, on another document, is answered by a working worker.
        let verdict = check_on_empty(&guard, &key("bystander"), &typed(7, "still fine")).await;
        assert_eq!(verdict, Verdict::Safe, "after {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_queued_behind_a_crasher_are_answered_not_refused() {
    let guard = guard();
    let crasher_key = key("crasher");
    let crash = check_on_empty(&guard, &crasher_key, ALLOC_ABORT_A);
    let keys: Vec<DocKey> = (0..8).map(|i| key(&format!("queued-{i}"))).collect();
    let updates: Vec<Vec<u8>> = (0..8).map(|i| typed(100 + i, "hello")).collect();
    let bystanders = futures_join(&guard, &keys, &updates);
    let (crash, bystanders) = tokio::join!(crash, bystanders);
    assert!(matches!(crash, Verdict::Unsafe(_)), "{crash:?}");
    for (i, verdict) in bystanders.iter().enumerate() {
        assert_eq!(*verdict, Verdict::Safe, "bystander {i}");
    }
}

async fn futures_join(guard: &ProcessGuard, keys: &[DocKey], updates: &[Vec<u8>]) -> Vec<Verdict> {
    let mut tasks = Vec::new();
    for (key, update) in keys.iter().zip(updates) {
        let guard = guard.clone();
        let key = key.clone();
        let update = update.clone();
        tasks.push(tokio::spawn(async move {
            check_on_empty(&guard, &key, &update).await
        }));
    }
    let mut verdicts = Vec::new();
    for task in tasks {
        verdicts.push(task.await.expect("task"));
    }
    verdicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_refusals_are_told_apart() {
    let guard = guard();
    let verdict = check_on_empty(&guard, &key("garbage"), b"loro but not really").await;
    assert!(matches!(verdict, Verdict::Invalid(_)), "{verdict:?}");

    // An update whose dependencies the document lacks.
    let doc = LoroDoc::new();
    doc.set_peer_id(3).expect("peer");
    doc.get_text("content").insert(0, "abc").expect("insert");
    let before = doc.oplog_vv();
    doc.get_text("content").insert(3, "d").expect("insert");
    let gap = doc.export(ExportMode::updates(&before)).expect("export");
    let verdict = check_on_empty(&guard, &key("gap"), &gap).await;
    assert_eq!(verdict, Verdict::MissingDependencies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_documents_are_checked_before_loading() {
    let guard = guard();
    let good = [Bytes::from(typed(1, "stored text"))];
    assert_eq!(guard.check_stored(&key("good"), &good).await, Verdict::Safe);
    let poisoned = [Bytes::from(typed(1, "x")), Bytes::from_static(UNLOADABLE)];
    let verdict = guard.check_stored(&key("poisoned"), &poisoned).await;
    assert!(
        matches!(verdict, Verdict::Unsafe(_) | Verdict::Invalid(_)),
        "{verdict:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_never_answers_is_refused_after_the_timeout() {
    // A stand-in for a worker stuck in a check: it announces itself like a worker (the
    // frame `len = 2, id = 0, Ready`), then never reads nor answers.
    let guard = ProcessGuard::spawn(
        GuardConfig::default()
            .with_timeout(Duration::from_millis(300))
            .with_worker_program(
                "/bin/sh",
                ["-c", r"printf '\002\000\000\000\000\005'; exec sleep 30"],
            ),
    )
    .expect("guard starts");
    let verdict = check_on_empty(&guard, &key("stuck"), &typed(1, "a")).await;
    assert!(
        matches!(&verdict, Verdict::Unsafe(reason) if reason.contains("longer than")),
        "{verdict:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_cannot_work_fails_closed() {
    // `true` exits at once, before reading anything: no input is to blame.
    let guard =
        ProcessGuard::spawn(GuardConfig::default().with_worker_program("/bin/true", [""; 0]))
            .expect("guard starts");
    let verdict = check_on_empty(&guard, &key("nobody"), &typed(1, "a")).await;
    assert!(matches!(verdict, Verdict::Unavailable(_)), "{verdict:?}");
    assert!(ProcessGuard::spawn(
        GuardConfig::default().with_worker_program("/nonexistent/worker", [""; 0])
    )
    .is_err());
}
