//! The fault test: engine and gateway as real processes, clients editing through the
//! gateway, the engine killed with SIGKILL mid-session and restarted (and, in the second
//! test, the gateway killed and restarted during the engine's outage). Nothing may be lost:
//! the engine ends up with every client's edits, and the clients agree.
//!
//! The engine comes back on the same data directory and the same port (picked free up
//! front), so the gateway keeps its `--engine-url`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{engine_text, free_port, get, start_engine, start_gateway, Peer};

const SESSION: &str = "fault-session";

/// Each peer appends a unique token per round, waiting for its Ack each time.
async fn edit(peers: &mut [Peer], phase: &str, rounds: usize, expected: &mut Vec<String>) {
    for round in 0..rounds {
        for (n, peer) in peers.iter_mut().enumerate() {
            let token = format!("[{phase}-p{n}-{round}]");
            peer.type_and_push(&token).await;
            expected.push(token);
        }
        // Stay well inside the per-connection message budget (20/s).
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

/// Polls (up to 60 s) until the engine's document and every peer hold every token, and
/// the peers' texts and the engine's are equal.
async fn wait_until_nothing_lost(engine: SocketAddr, peers: &mut [Peer], expected: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for peer in peers.iter_mut() {
            peer.catch_up().await;
        }
        let texts: Vec<String> = peers.iter().map(Peer::text).collect();
        let at_engine = engine_text(engine, SESSION).await;
        let missing = |text: &str| {
            expected
                .iter()
                .filter(|t| !text.contains(t.as_str()))
                .count()
        };
        let peers_agree = texts.windows(2).all(|w| w[0] == w[1]);
        let peers_missing = missing(&texts[0]);
        let engine_missing = at_engine.as_deref().map(missing);
        if peers_agree
            && peers_missing == 0
            && engine_missing == Some(0)
            && at_engine.as_deref() == Some(texts[0].as_str())
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "edits lost after 60 s: peers agree: {peers_agree}, missing at peers: \
             {peers_missing}, missing at the engine: {engine_missing:?} of {}",
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_killed_mid_session_loses_nothing() {
    let dirs = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let engine_url = format!("http://127.0.0.1:{port}");
    let engine = start_engine(port, dirs.0.path()).await;
    let engine_addr = engine.addr;
    let gateway = start_gateway(&engine_url, dirs.1.path(), &[]).await;

    let mut peers = Vec::new();
    for n in 1..=3 {
        peers.push(Peer::join(gateway.addr, SESSION, n, None).await);
    }
    let mut expected = Vec::new();
    edit(&mut peers, "before", 8, &mut expected).await;

    engine.kill9();
    edit(&mut peers, "outage", 8, &mut expected).await;
    let (status, body) = get(gateway.addr, "/_/readyz").await;
    assert_eq!(status, 200, "the gateway keeps serving: {body}");

    let _engine = start_engine(port, dirs.0.path()).await;
    edit(&mut peers, "after", 4, &mut expected).await;
    wait_until_nothing_lost(engine_addr, &mut peers, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_killed_during_the_engine_outage_loses_nothing() {
    let dirs = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let engine_url = format!("http://127.0.0.1:{port}");
    let engine = start_engine(port, dirs.0.path()).await;
    let engine_addr = engine.addr;
    let gateway = start_gateway(&engine_url, dirs.1.path(), &[]).await;

    let mut peers = Vec::new();
    for n in 1..=3 {
        peers.push(Peer::join(gateway.addr, SESSION, n, None).await);
    }
    let mut expected = Vec::new();
    edit(&mut peers, "before", 6, &mut expected).await;

    engine.kill9();
    edit(&mut peers, "outage", 6, &mut expected).await;
    // One edit is sent but the gateway dies before anyone waits for its Ack: the client
    // keeps it and re-sends it on rejoin if the gateway did not store it.
    peers[0].type_text("[unacked]");
    expected.push("[unacked]".to_owned());
    peers[0].send_unacked().await;
    gateway.kill9();

    // Clients reconnect to the restarted gateway (same store, new port) with their docs.
    let gateway = start_gateway(&engine_url, dirs.1.path(), &[]).await;
    let docs: Vec<_> = peers.into_iter().map(Peer::into_doc).collect();
    let mut peers = Vec::new();
    for (n, doc) in (1..).zip(docs) {
        peers.push(Peer::join(gateway.addr, SESSION, n, Some(doc)).await);
    }
    edit(&mut peers, "gateway-restarted", 4, &mut expected).await;

    let _engine = start_engine(port, dirs.0.path()).await;
    edit(&mut peers, "after", 4, &mut expected).await;
    wait_until_nothing_lost(engine_addr, &mut peers, &expected).await;
}
