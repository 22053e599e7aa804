//! End to end, in process: a tiny trace written to a temporary directory, replayed through
//! the relay and through a codesync server (`codesync-transport-ws`'s standalone server on
//! an in-memory hub), with every figure checked for consistency.

use std::io::Write;
use std::path::Path;

use tokio::net::TcpListener;

use crate::cli::{Mode, Pace, Protocol, RunArgs, TraceArgs};
use crate::report::Report;

fn write_gz(path: &Path, json: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(json.as_bytes()).expect("write");
    gz.finish().expect("finish");
}

/// `sequential/typing` and `concurrent/pair` under a fresh directory.
pub(crate) fn traces() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_gz(
        &dir.path().join("sequential/typing.json.gz"),
        r#"{"startContent":"","endContent":"fn main() {\n    x\n}","txns":[
            {"patches":[[0,0,"fn main() {}"]]},
            {"patches":[[11,1,"\n}"]]},
            {"patches":[[11,0,"\n    "]]},
            {"patches":[[16,0,"y"]]},
            {"patches":[[16,1,"x"]]}]}"#,
    );
    write_gz(
        &dir.path().join("concurrent/pair.json.gz"),
        r#"{"kind":"concurrent","endContent":"ZabcY","numAgents":2,"txns":[
            {"agent":0,"parents":[],"patches":[[0,0,"abc"]]},
            {"agent":0,"parents":[0],"patches":[[0,0,"X"]]},
            {"agent":1,"parents":[0],"patches":[[3,0,"Y"]]},
            {"agent":1,"parents":[1,2],"patches":[[1,0,"Z"]]},
            {"agent":0,"parents":[3],"patches":[[0,1,""]]}]}"#,
    );
    dir
}

/// A run of `trace` from `dir`: 2 sessions × 3 clients, open pace, every other flag at its
/// default.
pub(crate) fn args(
    url: String,
    protocol: Protocol,
    dir: &Path,
    trace: &str,
    mode: Mode,
) -> RunArgs {
    RunArgs {
        url: vec![url],
        protocol,
        trace: TraceArgs {
            trace: trace.into(),
            traces_dir: dir.to_owned(),
            limit: None,
        },
        sessions: 2,
        clients: 3,
        mode,
        pace: Pace::Open,
        rate: 10.0,
        server_pid: Some(std::process::id()),
        json: Some(dir.join("result.json")),
        label: Some("e2e".into()),
        session_prefix: None,
        timeout_secs: 30,
        token: String::new(),
    }
}

/// Every figure of a clean run of `updates` updates per session, 2 sessions.
pub(crate) fn check(report: &Report, updates: u64) {
    assert!(report.ok, "{:?}", report.errors.messages);
    assert!(report.converged);
    assert_eq!(report.txns_sent, updates * 2);
    let d = &report.deliveries;
    assert_eq!(d.expected, d.received);
    assert_eq!((d.lost, d.unsent_txns, d.duplicates), (0, 0, 0));
    let latency = report.latency_us.as_ref().expect("latencies");
    assert_eq!(latency.count, d.received);
    assert!(report.server.as_ref().is_some_and(|s| s.rss.peak_kib > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_through_the_relay_in_every_mode() {
    let dir = traces();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    tokio::spawn(crate::relay::accept_loop(listener));
    for (trace, mode, updates) in [
        ("typing", Mode::SingleWriter, 5),
        ("typing", Mode::Handoff, 5),
        ("pair", Mode::SingleWriter, 5),
    ] {
        let a = args(url.clone(), Protocol::Relay, dir.path(), trace, mode);
        let report = crate::run::run(a).await.expect("runs");
        check(&report, updates);
        assert!(report.ack_latency_us.is_none(), "the relay does not ack");
        // Each session: every update to the 2 clients that did not send it.
        assert_eq!(report.deliveries.expected, updates * 2 * 2);
        // One URL: every delivery is same-node.
        let same = report.same_node_latency_us.as_ref().expect("same-node");
        assert_eq!(same.count, report.deliveries.received);
        assert!(report.cross_node_latency_us.is_none());
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("result.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["protocol"], "relay");
    assert_eq!(json["url"], url.as_str(), "`url` stays a string");
    assert_eq!(json["urls"], serde_json::json!([url]));
    assert_eq!(json["client_nodes"], serde_json::json!([0, 0, 0]));
    assert!(json["cross_node_latency_us"].is_null());
    assert_eq!(json["trace"]["kind"], "concurrent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_through_a_codesync_server_with_acks() {
    use codesync_core::{Hub, MemoryStorage};
    use codesync_transport_ws::{EndpointConfig, Server};

    let dir = traces();
    let hub = Hub::builder(MemoryStorage::new()).build();
    let server = Server::bind("127.0.0.1:0", hub, EndpointConfig::default())
        .await
        .expect("bind");
    let url = format!("ws://{}", server.local_addr());
    server.spawn();
    for (trace, mode) in [("typing", Mode::Handoff), ("pair", Mode::SingleWriter)] {
        let a = args(url.clone(), Protocol::Loro, dir.path(), trace, mode);
        let report = crate::run::run(a).await.expect("runs");
        check(&report, 5);
        let acks = report.ack_latency_us.as_ref().expect("codesync acks");
        assert_eq!(acks.count, 10);
        assert_eq!(report.errors.refused_acks, 0);
        assert_eq!(
            report.deliveries.echoes, 0,
            "no update is sent back to its sender"
        );
    }
}
