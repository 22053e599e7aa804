//! Hostile CRDT bytes against the real `codesync-server` process, sent from outside as a
//! peer sends them (join a session, then `DocUpdate`): the known loro 1.17.1 crashers and
//! a bounded fuzz run of mutated real exports must never end the server, never stop
//! another session from working, and never leave a document that cannot be loaded after a
//! restart. And no defence may refuse valid editing. The inputs come from `codesync-fuzz`;
//! these tests know nothing of how the server defends itself.
//!
//! `CODESYNC_FUZZ_CASES` raises the fuzz run's size, `CODESYNC_FUZZ_RUN_SEED` changes its
//! cases; `CODESYNC_TRACES_DIR` (with `CODESYNC_FUZZ_TRACE_LIMIT`) replays a real trace.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use codesync_fuzz::cases::{self, Case};
use codesync_fuzz::crashers::CRASHERS;
use codesync_fuzz::ingest::Stage;
use codesync_fuzz::oracle::{self, Oracle, Verdict};
use codesync_fuzz::server::{Bystander, Peer, SendError, ServerProcess};
use codesync_fuzz::traces::{SequentialTrace, TRACES_ENV};
use codesync_fuzz::{seeds, SeedKind};
use codesync_transport_ws::protocol::AckStatus;
use loro::{ExportMode, LoroDoc};

/// Inputs the bounded fuzz run sends by default: about a minute in a debug build.
const DEFAULT_CASES: u64 = 300;
/// Generated cases screened per input sent: the run sends every one that loro does not
/// simply refuse (accepted, panicking, aborting), then fills up with refused ones.
const SCREENED_PER_CASE: u64 = 40;
/// The Loro peer that writes each session's valid text before it is attacked (the seeds
/// and crashers use peers 1 and 2).
const PRELUDE_PEER: u64 = 7000;

/// Not a test: this binary, run again by the oracle, becomes its worker here. Documents
/// the server sends back are read in that worker, so hostile bytes the server passed on
/// cannot end this test process.
#[test]
fn oracle_worker() {
    oracle::serve_if_requested();
}

fn start(dir: &Path) -> ServerProcess {
    ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_codesync-server")), dir, &[])
        .unwrap_or_else(|e| panic!("starting codesync-server: {e}"))
}

async fn alive(server: &mut ServerProcess, after: &str) {
    if let Err(e) = server.check_alive(after).await {
        panic!("{e}");
    }
}

fn oracle() -> Oracle {
    Oracle::test_binary("oracle_worker").expect("the oracle's worker is this test binary")
}

/// One valid update by `peer` writing `text`.
fn text_update(peer: u64, text: &str) -> Vec<u8> {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer id");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.export(ExportMode::all_updates()).expect("export")
}

/// The `content` text after importing `updates`, computed in the oracle's worker.
fn text_of(oracle: &mut Oracle, updates: &[&[u8]]) -> Result<String, String> {
    let Some((last, bases)) = updates.split_last() else {
        return Ok(String::new());
    };
    let verdict = tokio::task::block_in_place(|| oracle.classify(bases, last))
        .map_err(|e| format!("oracle: {e}"))?;
    match verdict {
        Verdict::Ok { text } => Ok(text),
        other => Err(format!("it does not load: {other:?}")),
    }
}

/// The `content` text of `room` as a new peer receives it.
async fn session_text(
    server: &ServerProcess,
    oracle: &mut Oracle,
    room: &str,
) -> Result<String, String> {
    let mut reader = Peer::connect(server, room)
        .await
        .map_err(|e| e.to_string())?;
    let backfill = reader.join(room).await.map_err(|e| format!("join: {e}"))?;
    let parts: Vec<&[u8]> = backfill.iter().map(Vec::as_slice).collect();
    text_of(oracle, &parts)
}

/// Joins `room` and sends valid `updates`; each must be acknowledged ok.
async fn send_valid(peer: &mut Peer, room: &str, updates: &[&[u8]], what: &str) {
    let statuses = peer
        .send_all(room, updates, 16)
        .await
        .unwrap_or_else(|e| panic!("{what} in {room}: {e}"));
    if let Some(i) = statuses.iter().position(|s| *s != AckStatus::Ok) {
        panic!(
            "false refusal: {what} #{i} of {} in {room} was acknowledged {:?}",
            updates.len(),
            statuses[i]
        );
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_crashers_are_refused_and_the_server_lives_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let bystander = Bystander::start(&server, "bystander", Duration::from_millis(20))
        .await
        .expect("the bystander joins");
    let mut attacked = Vec::new();
    for (i, crasher) in CRASHERS.iter().enumerate() {
        let room = format!("victim-{i}");
        let before = format!("valid text of {room}, before the attack\n");
        let prelude = text_update(PRELUDE_PEER + i as u64, &before);
        let mut victim = Peer::connect(&server, &room).await.expect("connect");
        victim.join(&room).await.expect("join");
        send_valid(&mut victim, &room, &[&prelude], "the valid text").await;
        let answer = victim.send(&room, crasher.bytes).await;
        let input = format!("input {} ({})", crasher.name, crasher.effect);
        alive(&mut server, &input).await;
        match answer {
            Ok(AckStatus::Ok) => panic!("the server acknowledged {input} as ok"),
            Ok(_) | Err(SendError::Closed(_)) => {}
            Err(SendError::NoAnswer) => panic!("no Ack for {input}"),
        }
        attacked.push((room, before, prelude));
    }
    let edits = bystander
        .finish()
        .await
        .unwrap_or_else(|e| panic!("the bystander session stopped working: {e}"));

    server.restart().expect("restart on the same data");
    let mut oracle = oracle();
    for (room, before, _) in &attacked {
        let text = session_text(&server, &mut oracle, room).await;
        assert_eq!(
            text.as_deref(),
            Ok(before.as_str()),
            "{room} after a restart"
        );
    }
    let text = session_text(&server, &mut oracle, "bystander").await;
    assert_eq!(text, Ok("k".repeat(edits)), "the bystander after a restart");

    server.stop().expect("stop");
    for crasher in CRASHERS {
        let copies = server.stored_copies_of(crasher.bytes).expect("scan");
        assert!(copies.is_empty(), "{} was stored: {copies:?}", crasher.name);
    }
    // The scan can see stored updates (else the check above proves nothing).
    let (_, _, prelude) = &attacked[0];
    let copies = server.stored_copies_of(prelude).expect("scan");
    assert!(
        !copies.is_empty(),
        "an acknowledged update is not in the data directory: fix the scan for this store"
    );
}

/// The cases the run sends: all of the first screened ones that loro does not refuse
/// outright (up to three quarters of `count`), then refused ones up to `count`.
fn choose_cases(oracle: &mut Oracle, run_seed: u64, count: u64) -> Vec<(u64, Case, Verdict)> {
    let seeds = seeds();
    let (mut notable, mut refused) = (Vec::new(), Vec::new());
    for index in 0..count * SCREENED_PER_CASE {
        let case = cases::generate(&seeds, run_seed, index);
        let verdict = oracle.classify(&case.bases(), &case.input).expect("oracle");
        let plain = matches!(
            verdict,
            Verdict::Refused {
                stage: Stage::Import,
                ..
            }
        );
        if !plain && cases::is_updates_blob(&case.input) && (notable.len() as u64) < count * 3 / 4 {
            notable.push((index, case, verdict));
        } else if (refused.len() as u64) < count {
            refused.push((index, case, verdict));
        }
    }
    notable.extend(refused);
    notable.truncate(count as usize);
    notable.sort_by_key(|(index, ..)| *index);
    notable
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_fuzz_run_never_kills_the_server_nor_persists_an_unloadable_document() {
    let count = env_number("CODESYNC_FUZZ_CASES", DEFAULT_CASES);
    let run_seed = env_number("CODESYNC_FUZZ_RUN_SEED", 1);
    let mut oracle = oracle();
    let started = std::time::Instant::now();
    let chosen = tokio::task::block_in_place(|| choose_cases(&mut oracle, run_seed, count));
    let mut classes = std::collections::BTreeMap::<&str, usize>::new();
    for (_, _, verdict) in &chosen {
        *classes.entry(verdict.class()).or_default() += 1;
    }
    eprintln!(
        "screened {} cases in {:.1} s; sending {} (oracle classes {classes:?})",
        count * SCREENED_PER_CASE,
        started.elapsed().as_secs_f64(),
        chosen.len()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let bystander = Bystander::start(&server, "bystander", Duration::from_millis(50))
        .await
        .expect("the bystander joins");
    let inputs =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hostile-crdt-run-{run_seed}"));
    let _ = std::fs::remove_dir_all(&inputs);
    let mut touched = Vec::new();
    for (index, case, verdict) in &chosen {
        let room = format!("fuzz-{index}");
        let prelude = text_update(PRELUDE_PEER, &format!("{room} before the attack\n"));
        let mut valid: Vec<&[u8]> = vec![&prelude];
        valid.extend(case.bases());
        // A connection per case: a server may close a connection that sent hostile bytes.
        let mut attacker = Peer::connect(&server, &room).await.expect("connect");
        attacker.join(&room).await.expect("join");
        send_valid(&mut attacker, &room, &valid, "a valid update").await;
        let saved = save_input(&inputs, *index, case);
        let answer = attacker.send(&room, &case.input).await;
        let input = format!(
            "input #{index} (a mutation of {}, saved at {}; in the oracle: {} at {:?})",
            case.seed,
            saved.display(),
            verdict.class(),
            verdict.stage()
        );
        alive(&mut server, &input).await;
        let accepted = match answer {
            Ok(status) => status == AckStatus::Ok,
            Err(SendError::Closed(_)) => false,
            Err(SendError::NoAnswer) => panic!("no Ack for {input}"),
        };
        let mut expected_parts = valid.clone();
        if accepted {
            expected_parts.push(&case.input);
        }
        let expected = text_of(&mut oracle, &expected_parts);
        touched.push((room, input, accepted, expected));
    }
    let edits = bystander
        .finish()
        .await
        .unwrap_or_else(|e| panic!("the bystander session stopped working: {e}"));
    assert!(edits > 0);

    let accepted = touched.iter().filter(|t| t.2).count();
    eprintln!(
        "server acknowledged {accepted} of {} ok, refused the rest; {edits} bystander edits; {:.1} s",
        touched.len(),
        started.elapsed().as_secs_f64()
    );
    server.restart().expect("restart on the same data");
    for (room, input, accepted, expected) in &touched {
        let text = session_text(&server, &mut oracle, room).await;
        let text = text.unwrap_or_else(|e| {
            panic!("{room} does not load after a restart ({input}, accepted: {accepted}): {e}")
        });
        if let Ok(expected) = expected {
            assert_eq!(&text, expected, "{room} after a restart ({input})");
        }
    }
}

/// Writes a case's input (and base) where a failure message can point, before it is
/// sent: if the server dies, or the document does not load later, the input is on disk.
fn save_input(dir: &Path, index: u64, case: &Case) -> PathBuf {
    let path = dir.join(format!("case-{index}.bin"));
    let _ = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, &case.input))
        .and_then(|()| std::fs::write(dir.join(format!("case-{index}.base.bin")), &case.base));
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_updates_of_every_container_type_and_typing_are_all_acked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let mut peer = Peer::connect(&server, "valid").await.expect("connect");
    let started = std::time::Instant::now();
    for seed in seeds().iter().filter(|s| s.kind == SeedKind::Updates) {
        let room = format!("valid-{}", seed.name.replace('/', "-"));
        let mut updates: Vec<&[u8]> = Vec::new();
        if !seed.base.is_empty() {
            updates.push(&seed.base);
        }
        updates.push(&seed.bytes);
        peer.join(&room).await.expect("join");
        send_valid(&mut peer, &room, &updates, &seed.name).await;
        peer.leave(&room).await.expect("leave");
    }
    eprintln!(
        "seeds acknowledged after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (typing, text) = codesync_fuzz::valid::typing_history(31, 2_000);
    let typing: Vec<&[u8]> = typing.iter().map(Vec::as_slice).collect();
    peer.join("typing").await.expect("join");
    send_valid(&mut peer, "typing", &typing, "keystroke").await;
    eprintln!(
        "{} keystrokes acknowledged after {:.1} s",
        typing.len(),
        started.elapsed().as_secs_f64()
    );
    let mut oracle = oracle();
    let read = session_text(&server, &mut oracle, "typing").await;
    assert_eq!(read, Ok(text));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transaction_of_a_real_trace_is_acked() {
    let Some(path) = SequentialTrace::path_of("rustcode") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: every_transaction_of_a_real_trace_is_acked needs {TRACES_ENV} (the editing-traces directory)"
        );
        return;
    };
    let trace = SequentialTrace::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let limit = env_number("CODESYNC_FUZZ_TRACE_LIMIT", u64::MAX) as usize;
    let (updates, text) = trace.updates(31, limit).expect("replaying the trace");
    if limit >= trace.txns.len() {
        assert_eq!(text, trace.end_content, "the replay reproduces the trace");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let mut peer = Peer::connect(&server, "rustcode").await.expect("connect");
    peer.join("rustcode").await.expect("join");
    let updates: Vec<&[u8]> = updates.iter().map(Vec::as_slice).collect();
    let started = std::time::Instant::now();
    // In chunks, with progress: the whole trace takes minutes in a debug build.
    for (i, chunk) in updates.chunks(2_000).enumerate() {
        let what = format!("transaction {}+", i * 2_000);
        send_valid(&mut peer, "rustcode", chunk, &what).await;
        eprintln!(
            "rustcode: {} of {} transactions acknowledged in {:.0} s",
            (i * 2_000 + chunk.len()),
            updates.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let mut oracle = oracle();
    let read = session_text(&server, &mut oracle, "rustcode").await;
    assert_eq!(read, Ok(text));
}
