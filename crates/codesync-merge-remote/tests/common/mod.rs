//! A stand-in for the engine in-process: the same routes, headers and statuses as
//! `codesync-engine`, over a `Hub` on memory storage, with a switch that makes it answer
//! 503 everywhere (as a restarting engine would) and a counter of merges.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use codesync_core::loro::{ExportMode, VersionVector};
use codesync_core::{DocKey, Hub, MemoryStorage, Origin};
use codesync_merge_remote::{RemoteConfig, RemoteMerge, Secret};

pub const SECRET: &str = "test-secret-0123456789abcdef";

#[derive(Clone)]
pub struct FakeEngine {
    pub hub: Hub,
    pub down: Arc<AtomicBool>,
    pub merges: Arc<AtomicUsize>,
    pub addr: SocketAddr,
}

impl FakeEngine {
    pub async fn start() -> FakeEngine {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let engine = FakeEngine {
            hub: Hub::builder(MemoryStorage::new()).build(),
            down: Arc::new(AtomicBool::new(false)),
            merges: Arc::new(AtomicUsize::new(0)),
            addr: listener.local_addr().expect("addr"),
        };
        let app = Router::new()
            .route("/merge/{id}", post(merge))
            .route("/version/{id}", get(version))
            .route("/updates-since/{id}", post(updates_since))
            .route("/readyz", get(readyz))
            .with_state(engine.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        engine
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn remote(&self) -> RemoteMerge {
        self.remote_with_secret(SECRET)
    }

    pub fn remote_with_secret(&self, secret: &str) -> RemoteMerge {
        let config =
            RemoteConfig::new(&self.url(), Secret::new(secret).expect("secret")).expect("config");
        RemoteMerge::new(config).expect("client")
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub async fn text(&self, session: &str) -> String {
        let key = DocKey::parse("default", session).expect("key");
        self.hub
            .session(&key)
            .await
            .expect("session")
            .read(|d| d.get_text("content").to_string())
            .await
            .expect("read")
    }
}

fn refuse(status: StatusCode, reason: &'static str) -> Response {
    (status, [("x-codesync-error", reason)], reason).into_response()
}

/// The refusal, if the request may not proceed.
fn check(engine: &FakeEngine, headers: &HeaderMap) -> Option<Response> {
    if engine.down.load(Ordering::SeqCst) {
        return Some(refuse(StatusCode::SERVICE_UNAVAILABLE, "not-ready"));
    }
    if headers.get("x-internal-auth").map(|v| v.as_bytes()) != Some(SECRET.as_bytes()) {
        return Some(refuse(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    None
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn octets(body: Vec<u8>, version: &VersionVector) -> Response {
    ([("x-codesync-version", hex(&version.encode()))], body).into_response()
}

async fn merge(
    State(engine): State<FakeEngine>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = check(&engine, &headers) {
        return refused;
    }
    let key = DocKey::parse("default", &id).expect("key");
    match engine.hub.apply(&key, &body, Origin::Replay).await {
        Ok(_) => {}
        Err(e) if e.needs_resync() => {
            return refuse(StatusCode::BAD_REQUEST, "missing-dependencies")
        }
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "invalid-update"),
    }
    engine.merges.fetch_add(1, Ordering::SeqCst);
    let session = engine.hub.session(&key).await.expect("session");
    let (snapshot, version) = session
        .read(|d| (d.export(ExportMode::Snapshot), d.oplog_vv()))
        .await
        .expect("read");
    octets(snapshot.expect("snapshot"), &version)
}

async fn version(
    State(engine): State<FakeEngine>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = check(&engine, &headers) {
        return refused;
    }
    let key = DocKey::parse("default", &id).expect("key");
    let version = engine
        .hub
        .session(&key)
        .await
        .expect("session")
        .version()
        .await
        .expect("version");
    octets(version.encode(), &version)
}

async fn updates_since(
    State(engine): State<FakeEngine>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = check(&engine, &headers) {
        return refused;
    }
    let key = DocKey::parse("default", &id).expect("key");
    let since = if body.is_empty() {
        VersionVector::default()
    } else {
        VersionVector::decode(&body).expect("version")
    };
    let session = engine.hub.session(&key).await.expect("session");
    let (updates, version) = session
        .read(move |d| (d.export(ExportMode::updates(&since)), d.oplog_vv()))
        .await
        .expect("read");
    octets(updates.expect("export"), &version)
}

async fn readyz(State(engine): State<FakeEngine>) -> StatusCode {
    if engine.down.load(Ordering::SeqCst) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}
