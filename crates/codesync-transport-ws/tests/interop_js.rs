//! Interoperability with the official JavaScript client (`loro-websocket`, `loro-adaptors`
//! and `loro-crdt`): each test starts the standalone server on 127.0.0.1:0 and runs one
//! scenario script from `interop/` under Node against it.
//!
//! Needs `node` on the PATH (or in `$NODE`) and `npm ci --prefix
//! crates/codesync-transport-ws/interop`. Without them the tests print `SKIPPED:` and pass,
//! except when `CI=true`, where they fail.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codesync_core::{Hub, MemoryStorage};
use codesync_transport_ws::{EndpointConfig, Server};
use common::Passwords;

/// How long one scenario may run before it is killed (the scripts time out on their own
/// well before this).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

fn node_binary() -> std::ffi::OsString {
    std::env::var_os("NODE").unwrap_or_else(|| "node".into())
}

/// Whether Node and the installed npm packages are available. When they are not: a panic
/// on CI, a `SKIPPED:` line otherwise.
fn node_available(test: &str) -> bool {
    let node_ok = Command::new(node_binary())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let modules = interop_dir().join("node_modules");
    let modules_ok = modules.join("loro-websocket").is_dir();
    if node_ok && modules_ok {
        return true;
    }
    let missing = if !node_ok {
        "`node` is not installed (or $NODE is not runnable)".to_string()
    } else {
        format!(
            "{} is missing; run `npm ci --prefix {}`",
            modules.display(),
            interop_dir().display()
        )
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("interop test {test} cannot run on CI: {missing}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: interop test {test}: {missing}");
    false
}

async fn start(hub: Hub) -> String {
    start_with(hub, EndpointConfig::default()).await
}

async fn start_with(hub: Hub, config: EndpointConfig) -> String {
    let server = Server::bind("127.0.0.1:0", hub, config)
        .await
        .expect("bind");
    let addr = server.local_addr();
    server.spawn();
    format!("ws://{addr}")
}

/// Runs `node interop/<script>.mjs <url>`, kills it after [`SCRIPT_TIMEOUT`], and panics
/// with its output unless it exits 0.
async fn run_script(script: &str, url: String) {
    let script = script.to_string();
    let (ok, status, stdout, stderr, elapsed) = tokio::task::spawn_blocking({
        let script = script.clone();
        move || run_blocking(&script, &url)
    })
    .await
    .expect("runner thread");
    let shown = format!(
        "--- node interop/{script}.mjs: {status} after {:.1} s\n--- stdout:\n{stdout}--- stderr:\n{stderr}",
        elapsed.as_secs_f64()
    );
    if !ok {
        panic!("interop scenario {script} failed\n{shown}");
    }
    println!("{shown}");
}

fn run_blocking(script: &str, url: &str) -> (bool, String, String, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(node_binary())
        .arg(format!("{script}.mjs"))
        .arg(url)
        .current_dir(interop_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let (ok, status) = loop {
        match child.try_wait().expect("wait for node") {
            Some(status) => break (status.success(), status.to_string()),
            None if started.elapsed() > SCRIPT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break (
                    false,
                    format!("killed after the {SCRIPT_TIMEOUT:?} timeout"),
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    (ok, status, stdout, stderr, started.elapsed())
}

/// Starts a server with an open hub and runs `script` against it.
async fn scenario(script: &str) {
    if !node_available(script) {
        return;
    }
    let url = start(Hub::builder(MemoryStorage::new()).build()).await;
    run_script(script, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_two_clients_converge() {
    scenario("converge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_presence_reaches_peers_and_late_joiners() {
    scenario("presence").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_late_joiner_gets_a_fragmented_large_history() {
    scenario("large-history").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_fragmented_large_upload_arrives() {
    scenario("large-upload").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_offline_edits_merge_on_reconnect() {
    scenario("offline-merge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_late_joiner_converges_while_others_type() {
    scenario("late-joiner").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_read_only_writes_are_refused() {
    let script = "read-only";
    if !node_available(script) {
        return;
    }
    let hub = Hub::builder(MemoryStorage::new()).policy(Passwords).build();
    let url = start(hub).await;
    run_script(script, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_corrupt_update_is_refused_and_the_room_keeps_working() {
    scenario("corrupt-update").await;
}

/// The server closes every connection after a second, as a proxy timeout would; the
/// official client reconnects by itself and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_connections_closed_by_the_server_lose_nothing() {
    let script = "server-close";
    if !node_available(script) {
        return;
    }
    let connection = codesync_transport_ws::ConnectionConfig::default()
        .with_max_connection_age(Duration::from_millis(1200));
    let config = EndpointConfig::default().with_connection(connection);
    let url = start_with(Hub::builder(MemoryStorage::new()).build(), config).await;
    run_script(script, url).await;
}
