//! The server's HTTP surface: the session page, health, readiness and metrics under `/_/`.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use codesync_transport_ws::protocol::{AckStatus, Body, Magic};
use codesync_transport_ws::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn next(client: &mut Client) -> codesync_transport_ws::protocol::Message {
    tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("in time")
        .expect("message")
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_health_readiness_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_codesync-server"));
    command
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stderr(Stdio::null());
    let (mut server, addr) =
        support::start_server(command).unwrap_or_else(|line| panic!("no address in {line:?}"));

    assert_eq!(get(&addr, "/_/healthz").await.0, 200);
    assert_eq!(get(&addr, "/_/readyz").await.0, 200);
    let (status, page) = get(&addr, "/main.rs").await;
    assert_eq!(status, 200);
    assert!(page.contains("main.rs"));
    assert_eq!(
        get(&addr, "/_private").await.0,
        404,
        "reserved ids are not sessions"
    );

    let mut client = Client::connect(&format!("ws://{addr}/main.rs"))
        .await
        .expect("ws");
    client
        .join(Magic::Loro, "main.rs", b"", b"")
        .await
        .expect("join");
    assert!(matches!(
        next(&mut client).await.body,
        Body::JoinResponseOk { .. }
    ));
    let doc = loro::LoroDoc::new();
    doc.get_text("content")
        .insert(0, "fn main() {}")
        .expect("insert");
    let update = doc.export(loro::ExportMode::all_updates()).expect("export");
    client
        .send_update(Magic::Loro, "main.rs", &update)
        .await
        .expect("send");
    assert!(matches!(
        next(&mut client).await.body,
        Body::Ack {
            status: AckStatus::Ok,
            ..
        }
    ));

    let (status, metrics) = get(&addr, "/_/metrics").await;
    assert_eq!(status, 200);
    for expected in [
        "codesync_updates_merged_total 1",
        "codesync_acks_total{status=\"ok\"} 1",
        "codesync_connections 1",
        "codesync_sessions_connected 1",
        "codesync_merge_seconds",
        "codesync_persist_seconds",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}
