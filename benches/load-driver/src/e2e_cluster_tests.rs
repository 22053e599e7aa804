//! End to end, in process, against a two-node "cluster": two relay listeners on separate
//! ports sharing one room table, so a frame sent to either node reaches every connection
//! of the same path on both. Checks that clients connect where the placement says and that
//! deliveries are split into same-node and cross-node as the senders' and receivers'
//! nodes say.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::cli::{Mode, Protocol};
use crate::e2e_tests::{args, check, traces};
use crate::relay::{serve, Rooms};

/// Sessions and clients per session of `args`.
const SESSIONS: u64 = 2;
const CLIENTS: usize = 3;

/// Starts one node of the shared relay; returns its URL and its count of connections.
async fn node(rooms: Rooms, ids: Arc<AtomicU64>) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let id = ids.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, rooms.clone(), id));
        }
    });
    (url, accepted)
}

/// Senders of the five transactions of the `typing` trace, by the mode's own rule
/// (README: single-writer is client 0, handoff is client i mod C).
fn typing_senders(mode: Mode) -> Vec<usize> {
    (0..5)
        .map(|i| match mode {
            Mode::SingleWriter => 0,
            Mode::Handoff => i % CLIENTS,
        })
        .collect()
}

/// (same-node, cross-node) deliveries over every session, counted from first principles:
/// every other client receives each transaction; with two nodes, clients of equal parity
/// share one.
fn expected_split(senders: &[usize]) -> (u64, u64) {
    let (mut same, mut cross) = (0, 0);
    for &s in senders {
        for r in (0..CLIENTS).filter(|&r| r != s) {
            if s % 2 == r % 2 {
                same += SESSIONS;
            } else {
                cross += SESSIONS;
            }
        }
    }
    (same, cross)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_urls_place_clients_alternately_and_split_latencies() {
    let dir = traces();
    let rooms: Rooms = Arc::default();
    let ids = Arc::new(AtomicU64::new(0));
    let (url_a, on_a) = node(rooms.clone(), ids.clone()).await;
    let (url_b, on_b) = node(rooms, ids).await;
    for mode in [Mode::SingleWriter, Mode::Handoff] {
        let (a0, b0) = (on_a.load(Ordering::SeqCst), on_b.load(Ordering::SeqCst));
        let mut a = args(url_a.clone(), Protocol::Relay, dir.path(), "typing", mode);
        a.url.push(url_b.clone());
        let report = crate::run::run(a).await.expect("runs");
        check(&report, 5);

        // Clients 0 and 2 of each session on node A, client 1 on node B.
        assert_eq!(report.client_nodes, vec![0, 1, 0]);
        assert_eq!(report.urls, vec![url_a.clone(), url_b.clone()]);
        assert_eq!(report.url, url_a, "`url` is the first node");
        assert_eq!(on_a.load(Ordering::SeqCst) - a0, 2 * SESSIONS, "{mode:?}");
        assert_eq!(on_b.load(Ordering::SeqCst) - b0, SESSIONS, "{mode:?}");

        let (same, cross) = expected_split(&typing_senders(mode));
        let got_same = report.same_node_latency_us.as_ref().expect("same-node");
        let got_cross = report.cross_node_latency_us.as_ref().expect("cross-node");
        assert_eq!((got_same.count, got_cross.count), (same, cross), "{mode:?}");
        let all = report.latency_us.as_ref().expect("latencies");
        assert_eq!(got_same.count + got_cross.count, all.count);
        assert!(got_same.max <= all.max && got_cross.max <= all.max);
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("result.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["client_nodes"], serde_json::json!([0, 1, 0]));
    let (same, cross) = expected_split(&typing_senders(Mode::Handoff));
    assert_eq!(json["same_node_latency_us"]["count"], same);
    assert_eq!(json["cross_node_latency_us"]["count"], cross);
    assert!(json["cross_node_latency_us"]["p99"].as_u64().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_url_twice_is_two_nodes_on_one_server() {
    let dir = traces();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    tokio::spawn(crate::relay::accept_loop(listener));
    let mut a = args(
        url.clone(),
        Protocol::Relay,
        dir.path(),
        "typing",
        Mode::SingleWriter,
    );
    a.url.push(url);
    let report = crate::run::run(a).await.expect("runs");
    check(&report, 5);
    let (same, cross) = expected_split(&typing_senders(Mode::SingleWriter));
    // Client 0 writes: client 2 shares its node, client 1 does not.
    assert_eq!(
        report.same_node_latency_us.as_ref().map(|p| p.count),
        Some(same)
    );
    assert_eq!(
        report.cross_node_latency_us.as_ref().map(|p| p.count),
        Some(cross)
    );
}
