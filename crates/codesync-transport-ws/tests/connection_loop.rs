//! The connection loop over in-memory channels: no sockets, paused time where it matters.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use codesync_core::{DocKey, Hub, MemoryStorage, Origin};
use codesync_transport_ws::protocol::{self, AckStatus, BatchId, Body, Magic, Message};
use codesync_transport_ws::{serve_connection, ConnectionConfig, Frame};
use futures::channel::mpsc;
use futures::{Sink, Stream, StreamExt};
use loro::{ExportMode, LoroDoc};

/// The server's side of an in-memory socket.
struct Duplex {
    incoming: mpsc::UnboundedReceiver<Result<Frame, String>>,
    outgoing: mpsc::Sender<Frame>,
}

impl Stream for Duplex {
    type Item = Result<Frame, String>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.incoming).poll_next(cx)
    }
}

impl Sink<Frame> for Duplex {
    type Error = String;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.outgoing)
            .poll_ready(cx)
            .map_err(|e| e.to_string())
    }
    fn start_send(mut self: Pin<&mut Self>, item: Frame) -> Result<(), String> {
        Pin::new(&mut self.outgoing)
            .start_send(item)
            .map_err(|e| e.to_string())
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.outgoing)
            .poll_flush(cx)
            .map_err(|e| e.to_string())
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        Pin::new(&mut self.outgoing)
            .poll_close(cx)
            .map_err(|e| e.to_string())
    }
}

/// The client's side: what it sends, and what the server wrote (a channel of `capacity`,
/// which a client that "stops reading" simply never drains).
struct TestClient {
    send: mpsc::UnboundedSender<Result<Frame, String>>,
    recv: mpsc::Receiver<Frame>,
    served: tokio::task::JoinHandle<()>,
}

fn connect(hub: &Hub, config: ConnectionConfig, capacity: usize) -> TestClient {
    let (send, incoming) = mpsc::unbounded();
    let (outgoing, recv) = mpsc::channel(capacity);
    let socket = Duplex { incoming, outgoing };
    let served = tokio::spawn(serve_connection(socket, hub.clone(), Arc::new(config)));
    TestClient { send, recv, served }
}

impl TestClient {
    fn send(&self, message: &Message) {
        self.send
            .unbounded_send(Ok(Frame::Binary(Bytes::from(protocol::encode(message)))))
            .expect("server is reading");
    }

    fn join(&self, room: &str) {
        self.send(&Message {
            magic: Magic::Loro,
            room: room.to_owned(),
            body: Body::JoinRequest {
                auth: Bytes::new(),
                version: Bytes::new(),
            },
        });
    }

    fn update(&self, room: &str, update: Vec<u8>, id: u64) {
        self.send(&Message {
            magic: Magic::Loro,
            room: room.to_owned(),
            body: Body::DocUpdate {
                updates: vec![Bytes::from(update)],
                batch_id: BatchId::from_u64(id),
            },
        });
    }

    async fn next(&mut self) -> Message {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), self.recv.next())
                .await
                .expect("a frame in time")
                .expect("the server is writing");
            if let Frame::Binary(bytes) = frame {
                return protocol::decode(&bytes, &protocol::Limits::default()).expect("decodes");
            }
        }
    }
}

fn typed(peer: u64, text: &str) -> Vec<u8> {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.export(ExportMode::all_updates()).expect("export")
}

#[tokio::test]
async fn text_ping_gets_pong_and_updates_get_acks() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let mut client = connect(&hub, ConnectionConfig::default(), 64);
    client
        .send
        .unbounded_send(Ok(Frame::Text("ping".into())))
        .expect("send");
    assert_eq!(client.recv.next().await, Some(Frame::Text("pong".into())));
    client.join("doc");
    assert!(matches!(
        client.next().await.body,
        Body::JoinResponseOk { .. }
    ));
    client.update("doc", typed(1, "hi"), 7);
    assert_eq!(
        client.next().await.body,
        Body::Ack {
            ref_id: BatchId::from_u64(7),
            status: AckStatus::Ok
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_never_joins_is_closed_at_the_deadline() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let config = ConnectionConfig::default().with_join_deadline(Duration::from_secs(10));
    let client = connect(&hub, config, 64);
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(
        !client.served.is_finished(),
        "still open before the deadline"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::yield_now().await;
    assert!(client.served.is_finished(), "closed after the deadline");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_not_skipped() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let config = ConnectionConfig::default().with_outbound_queue(4);
    // Its socket buffer holds 1 frame and it never reads.
    let sleepy = connect(&hub, config, 1);
    sleepy.join("doc");
    let key = DocKey::parse("default", "doc").expect("key");
    let author = LoroDoc::new();
    author.set_peer_id(5).expect("peer");
    let mut sent = loro::VersionVector::default();
    for i in 0..200 {
        author
            .get_text("content")
            .insert(0, &i.to_string())
            .expect("insert");
        let update = author.export(ExportMode::updates(&sent)).expect("export");
        sent = author.oplog_vv();
        hub.apply(&key, &update, Origin::Replay)
            .await
            .expect("apply");
        if sleepy.served.is_finished() {
            break;
        }
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(Duration::from_secs(5), sleepy.served)
        .await
        .expect("the connection ended")
        .expect("cleanly");
}

#[tokio::test]
async fn a_client_over_its_message_budget_gets_rate_limited_acks() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let config = ConnectionConfig::default().with_message_rate(1.0, 3.0);
    let mut client = connect(&hub, config, 64);
    client.join("doc");
    assert!(matches!(
        client.next().await.body,
        Body::JoinResponseOk { .. }
    ));
    for id in 0..5 {
        client.update("doc", typed(10 + id, "x"), id);
    }
    let mut statuses = vec![];
    for _ in 0..5 {
        if let Body::Ack { status, .. } = client.next().await.body {
            statuses.push(status);
        }
    }
    assert_eq!(&statuses[..2], &[AckStatus::Ok, AckStatus::Ok]);
    assert!(
        statuses[2..].iter().all(|s| *s == AckStatus::RateLimited),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn leaving_a_room_stops_its_broadcasts_and_releases_the_session() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let mut client = connect(&hub, ConnectionConfig::default(), 64);
    client.join("doc");
    assert!(matches!(
        client.next().await.body,
        Body::JoinResponseOk { .. }
    ));
    assert_eq!(hub.connected_sessions(), 1);
    client.send(&Message {
        magic: Magic::Loro,
        room: "doc".into(),
        body: Body::Leave,
    });
    client
        .send
        .unbounded_send(Ok(Frame::Text("ping".into())))
        .expect("send");
    assert_eq!(client.recv.next().await, Some(Frame::Text("pong".into())));
    assert_eq!(hub.connected_sessions(), 0);
}

#[tokio::test]
async fn one_connection_cannot_pin_unbounded_sessions() {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let config = ConnectionConfig::default()
        .with_max_rooms(3)
        .with_message_rate(1000.0, 1000.0);
    let mut client = connect(&hub, config, 64);
    for i in 0..4 {
        client.join(&format!("doc{i}"));
    }
    let mut answers = vec![];
    for _ in 0..4 {
        answers.push(client.next().await.body);
    }
    assert_eq!(
        answers
            .iter()
            .filter(|b| matches!(b, Body::JoinResponseOk { .. }))
            .count(),
        3
    );
    assert!(matches!(
        &answers[3],
        Body::JoinError { app_code: Some(code), .. } if code == "too_many_rooms"
    ));
    assert_eq!(hub.connected_sessions(), 3);
}
