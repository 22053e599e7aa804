//! The connection loop over in-memory channels: no sockets, paused time where it matters.

use std::time::Duration;

use codesync_core::{DocKey, Hub, MemoryStorage, Origin};
use codesync_transport_ws::protocol::{AckStatus, BatchId, Body, Magic, Message};
use codesync_transport_ws::{ConnectionConfig, Frame};
use common::{connect, typed};
use futures::StreamExt;
use loro::{ExportMode, LoroDoc};

mod common;

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
