//! Real processes (the engine and the gateway), an HTTP look at the engine's documents,
//! and a Loro protocol client that keeps its own document (`Peer`).
//!
//! The engine binary belongs to another package, so Cargo gives this test no
//! `CARGO_BIN_EXE_codesync-engine`. [`engine_binary`] runs `cargo build -p codesync-engine`
//! (with the profile and target directory of the gateway binary under test: a no-op when
//! it is up to date, and never a stale engine) and then uses the binary next to the
//! gateway's. If that build fails (say, another change is half done) but a binary is there,
//! it is used with a warning.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codesync_transport_ws::protocol::{AckStatus, Body, Magic, Message};
use codesync_transport_ws::{Client, Received};
use loro::{ExportMode, LoroDoc, VersionVector};

/// The secret engine and gateway share in every test.
pub const SECRET: &str = "test-secret-0123456789abcdef";

/// The engine binary, built if needed (see the module docs).
pub fn engine_binary() -> &'static Path {
    static ENGINE: OnceLock<PathBuf> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let gateway = Path::new(env!("CARGO_BIN_EXE_codesync-gateway"));
        let engine =
            gateway.with_file_name(format!("codesync-engine{}", std::env::consts::EXE_SUFFIX));
        let profile_dir = gateway
            .parent()
            .expect("the gateway binary has a directory");
        let target_dir = profile_dir.parent().expect("a target directory");
        let mut build = Command::new(env!("CARGO"));
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "codesync-engine",
                "--manifest-path",
            ])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(other) => {
                build.args(["--profile", other]);
            }
        }
        let built = build.status().map(|s| s.success()).unwrap_or(false);
        if !built {
            assert!(
                engine.exists(),
                "`cargo build -p codesync-engine` failed and there is no engine binary at {}",
                engine.display()
            );
            eprintln!(
                "warning: `cargo build -p codesync-engine` failed; using {}",
                engine.display()
            );
        }
        assert!(engine.exists(), "no engine binary at {}", engine.display());
        engine
    })
}

/// A port that was free a moment ago (bound, then released), so a restarted engine can
/// come back at the same address the gateway was given.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A child process, killed (SIGKILL) when dropped.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    _stdout: BufReader<ChildStdout>,
}

impl Process {
    /// Spawns `command` and reads the address from its `... http://ADDR[/...]` banner.
    fn spawn(mut command: Command) -> Process {
        let stderr = if std::env::var_os("CODESYNC_TEST_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = command
            .env("CODESYNC_INTERNAL_AUTH", SECRET)
            .env("RUST_LOG", "info,loro=warn,loro_internal=warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        stdout.read_line(&mut banner).expect("read the banner");
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.trim().split('/').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in the banner {banner:?}"));
        Process {
            child,
            addr,
            _stdout: stdout,
        }
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and reaps it.
    pub fn kill9(mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -KILL failed");
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the engine at `127.0.0.1:port` with its store under `data`; waits until ready.
pub async fn start_engine(port: u16, data: &Path) -> Process {
    let mut command = Command::new(engine_binary());
    command
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env_remove("CODESYNC_POSTGRES_URL");
    let engine = Process::spawn(command);
    wait_for(engine.addr, "/readyz").await;
    engine
}

/// Starts the gateway on a free port with its store under `data`, pointed at `engine_url`.
pub async fn start_gateway(engine_url: &str, data: &Path, extra: &[&str]) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_codesync-gateway"));
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--engine-url",
            engine_url,
            "--engine-max-backoff-ms",
            "500",
            "--data",
        ])
        .arg(data)
        .args(extra);
    let gateway = Process::spawn(command);
    wait_for(gateway.addr, "/_/readyz").await;
    gateway
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// Waits (up to 30 s) until `GET path` answers 200.
pub async fn wait_for(addr: SocketAddr, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = http();
    loop {
        if let Ok(r) = client.get(format!("http://{addr}{path}")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{addr}{path} not ready in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET path` on `addr`: status and body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = http()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// The engine's text of `session`: every update from the empty version, imported into a
/// fresh document. `None` while the engine cannot answer.
pub async fn engine_text(engine: SocketAddr, session: &str) -> Option<String> {
    let r = http()
        .post(format!("http://{engine}/updates-since/{session}"))
        .header("X-Internal-Auth", SECRET)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let body = r.bytes().await.ok()?;
    let doc = LoroDoc::new();
    if !body.is_empty() {
        doc.import(&body).ok()?;
    }
    Some(doc.get_text("content").to_string())
}

async fn recv(client: &mut Client) -> Message {
    tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .expect("a message within 10 s")
        .expect("a message")
}

/// Every DocUpdate received before the reply to a keepalive ping.
async fn drain_updates(client: &mut Client) -> Vec<Bytes> {
    client.send_text("ping").await.expect("ping");
    let mut updates = vec![];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), client.recv_any())
            .await
            .expect("frame")
            .expect("frame")
        {
            Received::Text(t) if t == "pong" => return updates,
            Received::Message(Message {
                body: Body::DocUpdate { updates: u, .. },
                ..
            }) => updates.extend(u),
            Received::Message(_) | Received::Text(_) => {}
        }
    }
}

/// A client with its own document, as an editor keeps one: it rejoins with it after a
/// disconnect and uploads whatever the server lacks.
pub struct Peer {
    pub client: Client,
    pub doc: LoroDoc,
    pub session: String,
    /// The version the server is known to have from this peer's point of view.
    sent: VersionVector,
}

impl Peer {
    /// Connects to `ws://{addr}/{session}`, joins with `doc` (a new one for `peer` when
    /// `None`), applies what the server sends and uploads what it lacks.
    pub async fn join(addr: SocketAddr, session: &str, peer: u64, doc: Option<LoroDoc>) -> Peer {
        let doc = doc.unwrap_or_else(|| {
            let d = LoroDoc::new();
            d.set_peer_id(peer).expect("peer");
            d
        });
        let mut client = Client::connect(&format!("ws://{addr}/{session}"))
            .await
            .expect("connect");
        client
            .join(Magic::Loro, session, b"", &doc.oplog_vv().encode())
            .await
            .expect("join");
        let server_version = match recv(&mut client).await.body {
            Body::JoinResponseOk { version, .. } => {
                VersionVector::decode(&version).expect("server version decodes")
            }
            other => panic!("expected JoinResponseOk, got {other:?}"),
        };
        for u in drain_updates(&mut client).await {
            doc.import(&u).expect("import backfill");
        }
        let mut peer = Peer {
            client,
            doc,
            session: session.to_owned(),
            sent: server_version,
        };
        peer.push().await;
        peer
    }

    /// Uploads what the server lacks and waits for the Ack, which must be ok.
    pub async fn push(&mut self) {
        self.send_unacked().await;
        loop {
            match recv(&mut self.client).await.body {
                Body::Ack { status, .. } => {
                    assert_eq!(status, AckStatus::Ok);
                    return;
                }
                Body::DocUpdate { updates, .. } => {
                    for u in updates {
                        self.doc.import(&u).expect("import");
                    }
                }
                _ => {}
            }
        }
    }

    /// Uploads what the server lacks without waiting for the Ack.
    pub async fn send_unacked(&mut self) {
        let update = self
            .doc
            .export(ExportMode::updates(&self.sent))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        self.client
            .send_update(Magic::Loro, &self.session, &update)
            .await
            .expect("send");
    }

    /// Appends `text` to the document locally (not sent yet).
    pub fn type_text(&mut self, text: &str) {
        let t = self.doc.get_text("content");
        t.insert(t.len_unicode(), text).expect("insert");
        self.doc.commit();
    }

    /// Appends `text` and uploads it, waiting for the Ack.
    pub async fn type_and_push(&mut self, text: &str) {
        self.type_text(text);
        self.push().await;
    }

    /// Applies everything the server has sent so far.
    pub async fn catch_up(&mut self) {
        for u in drain_updates(&mut self.client).await {
            self.doc.import(&u).expect("import");
        }
    }

    pub fn text(&self) -> String {
        self.doc.get_text("content").to_string()
    }

    /// Drops the connection, keeping the document (to rejoin with it).
    pub fn into_doc(self) -> LoroDoc {
        self.doc
    }
}
