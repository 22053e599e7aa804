//! The gateway as a real process: the origin allow-list refuses before the upgrade, two
//! clients of one session see each other's edits (and the engine receives them), its own
//! routes answer under `/_/`, and `--help` documents every flag.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use codesync_transport_ws::Client;
use common::{engine_text, free_port, get, start_engine, start_gateway, Peer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_outside_the_list_is_refused_before_the_upgrade() {
    let data = tempfile::tempdir().expect("dir");
    // No engine at all: the checks happen before anything reaches it.
    let engine_url = format!("http://127.0.0.1:{}", free_port());
    let gateway = start_gateway(
        &engine_url,
        data.path(),
        &["--allowed-origin", "https://editor.example"],
    )
    .await;
    let url = format!("ws://{}/notes", gateway.addr);

    for evil in [
        "https://evil.example",
        "https://editor.example.evil.example",
        "null",
    ] {
        let refused = Client::connect_with_headers(&url, &[("Origin", evil)]).await;
        let error = refused.expect_err(evil).to_string();
        assert!(error.contains("403"), "{evil}: {error}");
    }
    Client::connect_with_headers(&url, &[("Origin", "https://editor.example")])
        .await
        .expect("an allowed origin connects");

    assert_eq!(get(gateway.addr, "/_/healthz").await.0, 200);
    let (status, body) = get(gateway.addr, "/_/readyz").await;
    assert_eq!(status, 200, "ready without an engine: {body}");
    assert_eq!(
        get(gateway.addr, "/notes").await.0,
        426,
        "plain GET: upgrade"
    );
    let (status, metrics) = get(gateway.addr, "/_/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("codesync_sessions_live"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_on_one_session_see_each_others_edits() {
    let dirs = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let engine = start_engine(port, dirs.0.path()).await;
    let gateway = start_gateway(&format!("http://127.0.0.1:{port}"), dirs.1.path(), &[]).await;

    let mut alice = Peer::join(gateway.addr, "pair", 1, None).await;
    let mut bob = Peer::join(gateway.addr, "pair", 2, None).await;
    alice.type_and_push("alice was here. ").await;
    bob.catch_up().await;
    assert_eq!(bob.text(), "alice was here. ");
    bob.type_and_push("bob too.").await;
    alice.catch_up().await;
    assert_eq!(alice.text(), "alice was here. bob too.");

    // The engine receives both (forwarded alongside the broadcast).
    let deadline = Instant::now() + Duration::from_secs(20);
    while engine_text(engine.addr, "pair").await.as_deref() != Some(alice.text().as_str()) {
        assert!(Instant::now() < deadline, "the engine never got both edits");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_codesync-gateway"))
        .arg("--help")
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--engine-url",
        "CODESYNC_ENGINE_URL",
        "--listen",
        "--data",
        "--allowed-origin",
        "--rate-limit-per-minute",
        "--rate-limit-block-secs",
        "CODESYNC_INTERNAL_AUTH",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}
