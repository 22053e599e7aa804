//! The axum Router: the same protocol, mounted in an axum app.

use std::net::SocketAddr;
use std::time::Duration;

use codesync_core::{Hub, MemoryStorage};
use codesync_transport_ws::protocol::{AckStatus, Body, Magic};
use codesync_transport_ws::security::OriginPolicy;
use codesync_transport_ws::{router, Client, EndpointConfig};
use loro::{ExportMode, LoroDoc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(config: EndpointConfig) -> SocketAddr {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let app = router(hub, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    addr
}

#[tokio::test]
async fn the_router_speaks_the_protocol() {
    let addr = start(EndpointConfig::default()).await;
    let mut client = Client::connect(&format!("ws://{addr}/notes"))
        .await
        .expect("connect");
    client
        .join(Magic::Loro, "notes", b"", b"")
        .await
        .expect("join");
    let answer = tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("in time")
        .expect("msg");
    assert!(matches!(answer.body, Body::JoinResponseOk { .. }));
    let doc = LoroDoc::new();
    doc.get_text("content")
        .insert(0, "via axum")
        .expect("insert");
    let update = doc.export(ExportMode::all_updates()).expect("export");
    client
        .send_update(Magic::Loro, "notes", &update)
        .await
        .expect("send");
    let ack = tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("in time")
        .expect("msg");
    assert!(matches!(
        ack.body,
        Body::Ack {
            status: AckStatus::Ok,
            ..
        }
    ));
}

#[tokio::test]
async fn plain_requests_get_426_and_bad_origins_403() {
    let origins = OriginPolicy::new()
        .allow("https://app.example.com")
        .expect("origin");
    let addr = start(EndpointConfig::default().with_origins(origins)).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 426"), "{response}");
    let refused = Client::connect_with_headers(
        &format!("ws://{addr}/notes"),
        &[("origin", "https://evil.example.com")],
    )
    .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn plain_requests_count_against_the_ip_budget() {
    use codesync_transport_ws::security::RateLimitConfig;
    let limit = RateLimitConfig::default().with_budget(2, Duration::from_secs(60));
    let addr = start(EndpointConfig::default().with_rate_limit(limit)).await;
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
    }
    assert!(
        Client::connect(&format!("ws://{addr}/notes"))
            .await
            .is_err(),
        "blocked by then"
    );
}

/// The per-IP limit blocks, stays blocked for the whole block period, then releases:
/// in-process, on tokio's paused clock.
#[tokio::test(start_paused = true)]
async fn the_ip_limit_blocks_then_releases_on_a_paused_clock() {
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use codesync_transport_ws::security::RateLimitConfig;
    use tower::ServiceExt;

    let limit = RateLimitConfig::default()
        .with_budget(3, Duration::from_secs(60))
        .with_block_for(Duration::from_secs(600));
    let app = router(
        Hub::builder(MemoryStorage::new()).build(),
        EndpointConfig::default().with_rate_limit(limit),
    );
    let peer: SocketAddr = "203.0.113.7:4000".parse().expect("addr");
    let status = |app: axum::Router| async move {
        let mut request = Request::get("/notes")
            .body(axum::body::Body::empty())
            .expect("request");
        request.extensions_mut().insert(ConnectInfo(peer));
        app.oneshot(request)
            .await
            .expect("response")
            .status()
            .as_u16()
    };
    for _ in 0..3 {
        assert_eq!(status(app.clone()).await, 426, "within the budget");
    }
    assert_eq!(status(app.clone()).await, 429, "over the budget");
    tokio::time::advance(Duration::from_secs(599)).await;
    assert_eq!(status(app.clone()).await, 429, "still blocked at 9m59s");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(status(app.clone()).await, 426, "released after 10 minutes");
}
