//! `codesync-server` stopped with SIGTERM in the middle of a session restarts with every
//! acknowledged edit.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use codesync_transport_ws::protocol::{AckStatus, Body, Magic};
use codesync_transport_ws::Client;
use loro::{ExportMode, LoroDoc, VersionVector};

/// Starts the server on a free port; returns the process and its `ws://` base URL.
fn start(data: &Path) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_codesync-server"));
    command
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stderr(Stdio::null());
    let (child, addr) =
        support::start_server(command).unwrap_or_else(|line| panic!("no address in {line:?}"));
    (child, format!("ws://{addr}"))
}

async fn next_body(client: &mut Client) -> Body {
    tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .expect("in time")
        .expect("message")
        .body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_then_restart_keeps_every_acknowledged_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, url) = start(dir.path());

    let mut client = Client::connect(&format!("{url}/notes"))
        .await
        .expect("connect");
    client
        .join(Magic::Loro, "notes", b"", b"")
        .await
        .expect("join");
    assert!(matches!(
        next_body(&mut client).await,
        Body::JoinResponseOk { .. }
    ));
    let doc = LoroDoc::new();
    doc.set_peer_id(7).expect("peer");
    let mut sent = VersionVector::default();
    for i in 0..20 {
        doc.get_text("content")
            .insert(0, &format!("edit{i};"))
            .expect("insert");
        let update = doc.export(ExportMode::updates(&sent)).expect("export");
        sent = doc.oplog_vv();
        client
            .send_update(Magic::Loro, "notes", &update)
            .await
            .expect("send");
        loop {
            if let Body::Ack { status, .. } = next_body(&mut client).await {
                assert_eq!(status, AckStatus::Ok);
                break;
            }
        }
    }

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = server.wait().expect("wait");
    assert!(exit.success(), "clean exit after SIGTERM: {exit}");

    let (mut restarted, url) = start(dir.path());
    let mut reader = Client::connect(&format!("{url}/notes"))
        .await
        .expect("connect");
    reader
        .join(Magic::Loro, "notes", b"", b"")
        .await
        .expect("join");
    assert!(matches!(
        next_body(&mut reader).await,
        Body::JoinResponseOk { .. }
    ));
    let Body::DocUpdate { updates, .. } = next_body(&mut reader).await else {
        panic!("expected the backfill");
    };
    let copy = LoroDoc::new();
    for u in updates {
        copy.import(&u).expect("import");
    }
    assert_eq!(
        copy.get_text("content").to_string(),
        doc.get_text("content").to_string()
    );
    let _ = restarted.kill();
    let _ = restarted.wait();
}
