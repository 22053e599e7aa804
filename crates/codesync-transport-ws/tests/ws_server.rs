//! The standalone server over 127.0.0.1:0, driven by the Rust client: sync, presence,
//! fragmentation both ways, access, bad input, origin, tokens, rate and size limits.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use codesync_core::{Access, DocKey, Hub, LimitsConfig, MemoryStorage};
use codesync_transport_ws::protocol::{AckStatus, Body, JoinErrorCode, Magic, Message, Permission};
use codesync_transport_ws::security::{OriginPolicy, RateLimitConfig, TokenKey, TokenPolicy};
use codesync_transport_ws::{Client, ConnectionConfig, EndpointConfig, Received, Server};
use common::Passwords;
use loro::awareness::EphemeralStore;
use loro::{ExportMode, LoroDoc, VersionVector};

async fn start(hub: Hub, config: EndpointConfig) -> String {
    let server = Server::bind("127.0.0.1:0", hub, config)
        .await
        .expect("bind");
    let addr = server.local_addr();
    server.spawn();
    format!("ws://{addr}")
}

async fn start_default() -> (String, Hub) {
    let hub = Hub::builder(MemoryStorage::new()).build();
    (start(hub.clone(), EndpointConfig::default()).await, hub)
}

async fn recv(client: &mut Client) -> Message {
    tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("a message within 5 s")
        .expect("a message")
}

/// Joins a %LOR room and returns the server's version vector and any backfill updates
/// (everything received until a keepalive round trip proves nothing more is coming).
async fn join_doc(
    client: &mut Client,
    room: &str,
    auth: &[u8],
    version: &VersionVector,
) -> (Permission, VersionVector, Vec<Bytes>) {
    client
        .join(Magic::Loro, room, auth, &version.encode())
        .await
        .expect("join");
    let (permission, server_version) = match recv(client).await.body {
        Body::JoinResponseOk {
            permission,
            version,
            ..
        } => (
            permission,
            VersionVector::decode(&version).expect("server version decodes"),
        ),
        other => panic!("expected JoinResponseOk, got {other:?}"),
    };
    let backfill = drain_updates(client).await;
    (permission, server_version, backfill)
}

/// Every DocUpdate received before the reply to a keepalive ping.
async fn drain_updates(client: &mut Client) -> Vec<Bytes> {
    client.send_text("ping").await.expect("ping");
    let mut updates = vec![];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.recv_any())
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

async fn expect_ack(client: &mut Client) -> AckStatus {
    loop {
        if let Body::Ack { status, .. } = recv(client).await.body {
            return status;
        }
    }
}

fn typed(peer: u64, text: &str) -> LoroDoc {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.commit();
    doc
}

#[tokio::test]
async fn two_clients_converge_and_nobody_gets_an_echo() {
    let (url, _hub) = start_default().await;
    let mut alice = Client::connect(&format!("{url}/notes"))
        .await
        .expect("connect");
    let mut bob = Client::connect(&format!("{url}/notes"))
        .await
        .expect("connect");
    join_doc(&mut alice, "notes", b"", &VersionVector::default()).await;
    join_doc(&mut bob, "notes", b"", &VersionVector::default()).await;

    let alice_doc = typed(1, "hello from alice");
    let update = alice_doc.export(ExportMode::all_updates()).expect("export");
    alice
        .send_update(Magic::Loro, "notes", &update)
        .await
        .expect("send");
    assert_eq!(expect_ack(&mut alice).await, AckStatus::Ok);
    let bob_doc = LoroDoc::new();
    for u in drain_updates(&mut bob).await {
        bob_doc.import(&u).expect("import");
    }
    assert_eq!(bob_doc.get_text("content").to_string(), "hello from alice");
    assert!(
        drain_updates(&mut alice).await.is_empty(),
        "alice never receives her own update"
    );
}

#[tokio::test]
async fn a_join_gets_the_real_version_then_only_what_is_missing() {
    let (url, hub) = start_default().await;
    let key = DocKey::parse("default", "doc").expect("key");
    let author = typed(1, "first ");
    hub.apply(
        &key,
        &author.export(ExportMode::all_updates()).expect("export"),
        codesync_core::Origin::Replay,
    )
    .await
    .expect("seed");
    let v1 = author.oplog_vv();
    author
        .get_text("content")
        .insert(6, "second")
        .expect("insert");
    let second = author.export(ExportMode::updates(&v1)).expect("export");
    hub.apply(&key, &second, codesync_core::Origin::Replay)
        .await
        .expect("seed");

    // A client that already has the first part receives exactly the second.
    let client_doc = LoroDoc::new();
    client_doc
        .import(
            &author
                .export(ExportMode::updates(&VersionVector::default()))
                .expect("e"),
        )
        .expect("i");
    let partial = typed(1, "first ");
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    let (permission, server_version, backfill) =
        join_doc(&mut client, "doc", b"", &partial.oplog_vv()).await;
    assert_eq!(permission, Permission::Write);
    assert_eq!(server_version, author.oplog_vv());
    assert_eq!(backfill.len(), 1);
    partial.import(&backfill[0]).expect("import");
    assert_eq!(partial.get_text("content").to_string(), "first second");
    assert!(backfill[0].len() < author.export(ExportMode::all_updates()).expect("e").len());

    // A client already up to date receives no backfill at all.
    let mut current = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    let (_, _, backfill) = join_doc(&mut current, "doc", b"", &author.oplog_vv()).await;
    assert!(backfill.is_empty());
    let _ = client_doc;
}

#[tokio::test]
async fn presence_reaches_others_and_late_joiners() {
    let (url, _hub) = start_default().await;
    let mut alice = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    let mut bob = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    for c in [&mut alice, &mut bob] {
        c.join(Magic::Ephemeral, "doc", b"", b"")
            .await
            .expect("join");
        assert!(matches!(recv(c).await.body, Body::JoinResponseOk { .. }));
    }
    let store = EphemeralStore::new(30_000);
    store.set("alice", "cursor at 4");
    alice
        .send_update(Magic::Ephemeral, "doc", &store.encode_all())
        .await
        .expect("send");
    assert_eq!(expect_ack(&mut alice).await, AckStatus::Ok);
    let seen = EphemeralStore::new(30_000);
    for u in drain_updates(&mut bob).await {
        seen.apply(&u).expect("apply");
    }
    assert_eq!(seen.get("alice"), Some("cursor at 4".into()));

    let mut carol = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    carol
        .join(Magic::Ephemeral, "doc", b"", b"")
        .await
        .expect("join");
    assert!(matches!(
        recv(&mut carol).await.body,
        Body::JoinResponseOk { .. }
    ));
    let late = EphemeralStore::new(30_000);
    for u in drain_updates(&mut carol).await {
        late.apply(&u).expect("apply");
    }
    assert_eq!(late.get("alice"), Some("cursor at 4".into()));
}

/// A document with a long history but small content: random text typed and deleted.
fn long_history_doc(peer: u64, rounds: usize) -> LoroDoc {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer");
    let text = doc.get_text("content");
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..rounds {
        let chunk: String = (0..1000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'!' + (seed % 90) as u8)
            })
            .collect();
        text.insert(0, &chunk).expect("insert");
        doc.commit();
        text.delete(0, 1000).expect("delete");
        doc.commit();
    }
    text.insert(0, "final words").expect("insert");
    doc.commit();
    doc
}

#[tokio::test]
async fn large_histories_travel_in_fragments_both_ways() {
    let (url, _hub) = start_default().await;
    let doc = long_history_doc(3, 300);
    let update = doc.export(ExportMode::all_updates()).expect("export");
    assert!(
        update.len() > 256 * 1024,
        "history is {} bytes",
        update.len()
    );

    let mut uploader = Client::connect(&format!("{url}/big"))
        .await
        .expect("connect");
    join_doc(&mut uploader, "big", b"", &VersionVector::default()).await;
    uploader
        .send_update(Magic::Loro, "big", &update)
        .await
        .expect("send fragments");
    assert_eq!(expect_ack(&mut uploader).await, AckStatus::Ok);

    let mut late = Client::connect(&format!("{url}/big"))
        .await
        .expect("connect");
    let (_, _, backfill) = join_doc(&mut late, "big", b"", &VersionVector::default()).await;
    let copy = LoroDoc::new();
    for u in backfill {
        copy.import(&u).expect("import");
    }
    assert_eq!(copy.get_text("content").to_string(), "final words");
    assert_eq!(copy.oplog_vv(), doc.oplog_vv());
}

#[tokio::test]
async fn read_only_writes_are_refused_and_bad_credentials_cannot_join() {
    let hub = Hub::builder(MemoryStorage::new()).policy(Passwords).build();
    let url = start(hub.clone(), EndpointConfig::default()).await;
    let mut stranger = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    stranger
        .join(Magic::Loro, "doc", b"guess", b"")
        .await
        .expect("join");
    assert!(matches!(
        recv(&mut stranger).await.body,
        Body::JoinError {
            code: JoinErrorCode::AuthFailed,
            ..
        }
    ));

    let mut reader = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    let (permission, _, _) =
        join_doc(&mut reader, "doc", b"reader", &VersionVector::default()).await;
    assert_eq!(permission, Permission::Read);
    let mut writer = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    join_doc(&mut writer, "doc", b"writer", &VersionVector::default()).await;
    let update = typed(9, "vandalism")
        .export(ExportMode::all_updates())
        .expect("export");
    reader
        .send_update(Magic::Loro, "doc", &update)
        .await
        .expect("send");
    assert_eq!(expect_ack(&mut reader).await, AckStatus::PermissionDenied);
    assert!(
        drain_updates(&mut writer).await.is_empty(),
        "never broadcast"
    );
    let key = DocKey::parse("default", "doc").expect("key");
    let text = hub
        .session(&key)
        .await
        .expect("s")
        .read(|d| d.get_text("content").to_string())
        .await
        .expect("r");
    assert_eq!(text, "", "never applied or stored");
}

#[tokio::test]
async fn corrupt_updates_get_a_failed_ack_and_the_room_keeps_working() {
    let (url, _hub) = start_default().await;
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    join_doc(&mut client, "doc", b"", &VersionVector::default()).await;
    client
        .send_update(Magic::Loro, "doc", b"not a loro update at all")
        .await
        .expect("send");
    assert_eq!(expect_ack(&mut client).await, AckStatus::InvalidUpdate);
    client
        .send_raw(vec![0xff; 40])
        .await
        .expect("garbage frame");
    let update = typed(4, "still fine")
        .export(ExportMode::all_updates())
        .expect("export");
    client
        .send_update(Magic::Loro, "doc", &update)
        .await
        .expect("send");
    assert_eq!(expect_ack(&mut client).await, AckStatus::Ok);
}

#[tokio::test]
async fn unsupported_crdt_types_are_refused_for_that_room_only() {
    let (url, _hub) = start_default().await;
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    client
        .join(Magic::Yjs, "doc", b"", b"")
        .await
        .expect("join");
    assert!(matches!(
        recv(&mut client).await.body,
        Body::JoinError { .. }
    ));
    client
        .join(Magic::Unknown(*b"%ZZZ"), "doc", b"", b"")
        .await
        .expect("join");
    assert!(matches!(
        recv(&mut client).await.body,
        Body::JoinError { .. }
    ));
    let (permission, _, _) = join_doc(&mut client, "doc", b"", &VersionVector::default()).await;
    assert_eq!(
        permission,
        Permission::Write,
        "the socket stayed open and usable"
    );
}

#[tokio::test]
async fn updates_to_rooms_not_joined_are_refused() {
    let (url, _hub) = start_default().await;
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    join_doc(&mut client, "doc", b"", &VersionVector::default()).await;
    let update = typed(4, "x")
        .export(ExportMode::all_updates())
        .expect("export");
    client
        .send_update(Magic::Loro, "other", &update)
        .await
        .expect("send");
    assert_eq!(expect_ack(&mut client).await, AckStatus::PermissionDenied);
}

#[tokio::test]
async fn origins_outside_the_allow_list_cannot_upgrade() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let origins = OriginPolicy::new()
        .allow("https://app.example.com")
        .expect("origin");
    let url = start(hub, EndpointConfig::default().with_origins(origins)).await;
    for bad in [
        "https://app.example.com.evil.net",
        "null",
        "https://evil.com",
        "http://app.example.com",
    ] {
        let refused = Client::connect_with_headers(&format!("{url}/doc"), &[("origin", bad)]).await;
        assert!(refused.is_err(), "{bad} was let in");
    }
    let ok = Client::connect_with_headers(
        &format!("{url}/doc"),
        &[("origin", "https://app.example.com")],
    )
    .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn paths_that_are_not_sessions_are_refused() {
    let (url, _hub) = start_default().await;
    for path in ["/_metrics", "/a/b", "/"] {
        assert!(
            Client::connect(&format!("{url}{path}")).await.is_err(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_ip_over_its_budget_is_blocked() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let limit = RateLimitConfig::default().with_budget(5, Duration::from_secs(60));
    let url = start(hub, EndpointConfig::default().with_rate_limit(limit)).await;
    for i in 0..5 {
        Client::connect(&format!("{url}/doc"))
            .await
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
    }
    assert!(
        Client::connect(&format!("{url}/doc")).await.is_err(),
        "the sixth request is refused"
    );
}

#[tokio::test]
async fn frames_over_the_size_limit_close_the_connection() {
    let (url, _hub) = start_default().await;
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    let _ = client.send_raw(vec![0u8; 2 * 1024 * 1024]).await;
    let next = tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("closed in time");
    assert!(next.is_err(), "the server closed the connection");
}

#[tokio::test]
async fn signed_tokens_scope_access_to_tenant_and_session() {
    let key = TokenKey::new([7u8; 32]).expect("key");
    let policy = TokenPolicy::new(key.clone(), LimitsConfig::default());
    let hub = Hub::builder(MemoryStorage::new()).policy(policy).build();
    let url = start(hub, EndpointConfig::default()).await;
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let doc = DocKey::parse("default", "doc").expect("key");
    let claims = codesync_transport_ws::security::Claims::for_session(&doc, Access::Read, expires);
    let token = key.issue(&claims);
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    let (permission, _, _) = join_doc(
        &mut client,
        "doc",
        token.as_bytes(),
        &VersionVector::default(),
    )
    .await;
    assert_eq!(permission, Permission::Read);
    client
        .join(Magic::Loro, "other", token.as_bytes(), b"")
        .await
        .expect("join");
    assert!(matches!(
        recv(&mut client).await.body,
        Body::JoinError {
            code: JoinErrorCode::AuthFailed,
            ..
        }
    ));
}

#[tokio::test]
async fn keepalive_ping_gets_pong() {
    let (url, _hub) = start_default().await;
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    client.send_text("ping").await.expect("ping");
    let reply = tokio::time::timeout(Duration::from_secs(5), client.recv_any())
        .await
        .expect("reply")
        .expect("frame");
    assert!(matches!(reply, Received::Text(t) if t == "pong"));
}

#[tokio::test]
async fn connections_that_never_join_are_closed() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let connection = ConnectionConfig::default().with_join_deadline(Duration::from_millis(200));
    let url = start(hub, EndpointConfig::default().with_connection(connection)).await;
    let mut client = Client::connect(&format!("{url}/doc"))
        .await
        .expect("connect");
    let next = tokio::time::timeout(Duration::from_secs(5), client.recv())
        .await
        .expect("closed in time");
    assert!(next.is_err());
}

/// A Loro document behind a Rust client: sends its local changes, applies what arrives.
struct Peer {
    client: Client,
    doc: LoroDoc,
    sent: VersionVector,
}

impl Peer {
    async fn join(url: &str, peer: u64, doc: Option<LoroDoc>) -> Peer {
        let doc = doc.unwrap_or_else(|| {
            let d = LoroDoc::new();
            d.set_peer_id(peer).expect("peer");
            d
        });
        let mut client = Client::connect(&format!("{url}/live"))
            .await
            .expect("connect");
        let (_, server_version, backfill) =
            join_doc(&mut client, "live", b"", &doc.oplog_vv()).await;
        for u in backfill {
            doc.import(&u).expect("import backfill");
        }
        let mut peer = Peer {
            client,
            doc,
            sent: server_version,
        };
        peer.push().await;
        peer
    }

    /// Uploads what the server lacks and waits for the Ack.
    async fn push(&mut self) {
        let update = self
            .doc
            .export(ExportMode::updates(&self.sent))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        self.client
            .send_update(Magic::Loro, "live", &update)
            .await
            .expect("send");
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

    async fn type_and_push(&mut self, text: &str) {
        let t = self.doc.get_text("content");
        t.insert(t.len_unicode(), text).expect("insert");
        self.doc.commit();
        self.push().await;
    }

    async fn catch_up(&mut self) {
        for u in drain_updates(&mut self.client).await {
            self.doc.import(&u).expect("import");
        }
    }

    fn text(&self) -> String {
        self.doc.get_text("content").to_string()
    }
}

#[tokio::test]
async fn an_offline_client_reconnects_and_both_sides_merge() {
    let (url, _hub) = start_default().await;
    let mut alice = Peer::join(&url, 1, None).await;
    let mut bob = Peer::join(&url, 2, None).await;
    alice.type_and_push("shared start. ").await;
    bob.catch_up().await;

    // Bob goes offline and keeps editing; Alice edits meanwhile.
    let Peer {
        client,
        doc: bob_doc,
        ..
    } = bob;
    client.close().await.expect("close");
    bob_doc
        .get_text("content")
        .insert(0, "[bob offline] ")
        .expect("insert");
    bob_doc.commit();
    alice.type_and_push("alice while bob is away. ").await;

    // Bob reconnects with his document: the join exchanges what each side lacks.
    let mut bob = Peer::join(&url, 2, Some(bob_doc)).await;
    alice.catch_up().await;
    bob.catch_up().await;
    assert_eq!(alice.text(), bob.text());
    assert!(alice.text().contains("[bob offline]") && alice.text().contains("alice while bob"));
}

#[tokio::test]
async fn a_late_joiner_converges_while_two_others_keep_typing() {
    let (url, _hub) = start_default().await;
    let mut alice = Peer::join(&url, 1, None).await;
    let mut bob = Peer::join(&url, 2, None).await;
    for i in 0..20 {
        alice.type_and_push(&format!("a{i} ")).await;
        bob.type_and_push(&format!("b{i} ")).await;
    }
    let mut carol = Peer::join(&url, 3, None).await;
    for i in 20..40 {
        alice.type_and_push(&format!("a{i} ")).await;
        bob.type_and_push(&format!("b{i} ")).await;
    }
    for p in [&mut alice, &mut bob, &mut carol] {
        p.catch_up().await;
    }
    assert_eq!(alice.text(), bob.text());
    assert_eq!(carol.text(), alice.text());
    assert_eq!(carol.text().matches(' ').count(), 80);
}

#[tokio::test]
async fn every_request_counts_against_the_ip_budget_and_connections_are_capped() {
    use tokio::io::AsyncWriteExt;
    let hub = Hub::builder(MemoryStorage::new()).build();
    let limit = RateLimitConfig::default().with_budget(3, Duration::from_secs(60));
    let url = start(
        hub.clone(),
        EndpointConfig::default().with_rate_limit(limit),
    )
    .await;
    let addr = url.trim_start_matches("ws://").to_owned();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let _ = stream
            .write_all(b"GET /doc HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        Client::connect(&format!("{url}/doc")).await.is_err(),
        "plain requests were counted"
    );

    let capped = start(hub, EndpointConfig::default().with_max_connections(100, 2)).await;
    let _a = Client::connect(&format!("{capped}/doc"))
        .await
        .expect("first");
    let _b = Client::connect(&format!("{capped}/doc"))
        .await
        .expect("second");
    assert!(
        Client::connect(&format!("{capped}/doc")).await.is_err(),
        "third from one IP refused"
    );
    drop(_a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        Client::connect(&format!("{capped}/doc")).await.is_ok(),
        "a place freed up"
    );
}
