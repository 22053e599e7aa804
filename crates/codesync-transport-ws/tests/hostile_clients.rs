//! Clients that break the rules: every batch still gets exactly one answer, nothing is
//! buffered for rooms a client cannot write, and what one client can hold is bounded.

mod common;

use std::time::Duration;

use bytes::Bytes;
use codesync_core::{Hub, MemoryStorage};
use codesync_transport_ws::protocol::{AckStatus, BatchId, Body, Magic, Message, RoomErrorCode};
use codesync_transport_ws::ConnectionConfig;
use common::{connect, Passwords, TestClient};

fn hub() -> Hub {
    Hub::builder(MemoryStorage::new()).build()
}

async fn joined(hub: &Hub, config: ConnectionConfig, room: &str) -> TestClient {
    let mut client = connect(hub, config, 4096);
    client.join(room);
    assert!(matches!(
        client.next().await.body,
        Body::JoinResponseOk { .. }
    ));
    client
}

fn header(room: &str, id: u64, count: u64, total_size: u64) -> Message {
    Message {
        magic: Magic::Loro,
        room: room.to_owned(),
        body: Body::FragmentHeader {
            batch_id: BatchId::from_u64(id),
            count,
            total_size,
        },
    }
}

async fn acks_within(client: &mut TestClient, wait: Duration) -> Vec<AckStatus> {
    let mut acks = vec![];
    while let Some(message) = client.next_within(wait).await {
        if let Body::Ack { status, .. } = message.body {
            acks.push(status);
        }
    }
    acks
}

#[tokio::test]
async fn fragments_for_rooms_not_joined_are_refused_at_the_header() {
    let hub = hub();
    let mut client = joined(&hub, ConnectionConfig::default(), "a").await;
    client.send(&header("not-joined", 1, 32, 8 * 1024 * 1024));
    let answer = client
        .next_within(Duration::from_secs(1))
        .await
        .map(|m| m.body);
    assert!(
        matches!(
            answer,
            Some(Body::Ack {
                status: AckStatus::PermissionDenied,
                ..
            })
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_join_over_the_budget_is_answered() {
    let hub = hub();
    let mut client = joined(
        &hub,
        ConnectionConfig::default().with_message_rate(0.001, 1.0),
        "a",
    )
    .await;
    client.join("b");
    let answer = client
        .next_within(Duration::from_secs(2))
        .await
        .map(|m| m.body);
    assert!(
        matches!(&answer, Some(Body::JoinError { app_code: Some(code), .. }) if code == "rate_limited"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_batch_refused_by_the_budget_gets_exactly_one_ack() {
    let hub = hub();
    let mut client = joined(
        &hub,
        ConnectionConfig::default().with_message_rate(0.001, 1.0),
        "a",
    )
    .await;
    client.send(&header("a", 9, 2, 2));
    client.send(&Message {
        magic: Magic::Loro,
        room: "a".into(),
        body: Body::Fragment {
            batch_id: BatchId::from_u64(9),
            index: 0,
            data: Bytes::from_static(b"x"),
        },
    });
    let acks = acks_within(&mut client, Duration::from_millis(1500)).await;
    assert_eq!(acks, [AckStatus::RateLimited]);
}

#[tokio::test]
async fn an_oversized_update_gets_payload_too_large() {
    let hub = hub();
    let mut client = joined(&hub, ConnectionConfig::default(), "a").await;
    client.send(&Message {
        magic: Magic::Loro,
        room: "a".into(),
        body: Body::DocUpdate {
            updates: vec![Bytes::from(vec![0u8; 256 * 1024 + 100])],
            batch_id: BatchId::from_u64(3),
        },
    });
    let answer = client
        .next_within(Duration::from_secs(1))
        .await
        .map(|m| m.body);
    assert!(
        matches!(
            answer,
            Some(Body::Ack {
                status: AckStatus::PayloadTooLarge,
                ..
            })
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_read_only_client_cannot_publish_presence() {
    let hub = Hub::builder(MemoryStorage::new()).policy(Passwords).build();
    let mut writer = connect(&hub, ConnectionConfig::default(), 4096);
    writer.join_with(Magic::Ephemeral, "a", b"writer");
    assert!(matches!(
        writer.next().await.body,
        Body::JoinResponseOk { .. }
    ));
    let mut reader = connect(&hub, ConnectionConfig::default(), 4096);
    reader.join_with(Magic::Ephemeral, "a", b"reader");
    assert!(matches!(
        reader.next().await.body,
        Body::JoinResponseOk { .. }
    ));
    let store = loro::awareness::EphemeralStore::new(30_000);
    store.set("reader", "cursor");
    reader.send(&Message {
        magic: Magic::Ephemeral,
        room: "a".into(),
        body: Body::DocUpdate {
            updates: vec![Bytes::from(store.encode_all())],
            batch_id: BatchId::from_u64(1),
        },
    });
    assert!(matches!(
        reader.next().await.body,
        Body::Ack {
            status: AckStatus::PermissionDenied,
            ..
        }
    ));
    assert!(
        writer
            .next_within(Duration::from_millis(300))
            .await
            .is_none(),
        "nothing forwarded"
    );
}

#[tokio::test]
async fn a_client_that_failed_to_apply_a_server_batch_is_asked_to_rejoin() {
    let hub = hub();
    let mut client = joined(&hub, ConnectionConfig::default(), "a").await;
    client.send(&Message {
        magic: Magic::Loro,
        room: "a".into(),
        body: Body::Ack {
            ref_id: BatchId::from_u64(1),
            status: AckStatus::FragmentTimeout,
        },
    });
    let answer = client
        .next_within(Duration::from_secs(1))
        .await
        .map(|m| m.body);
    assert!(
        matches!(
            answer,
            Some(Body::RoomError {
                code: RoomErrorCode::RejoinSuggested,
                ..
            })
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn connected_sessions_are_bounded_across_connections() {
    let hub = Hub::builder(MemoryStorage::new())
        .capacity(4)
        .max_connected_sessions(8)
        .build();
    let mut refused = 0;
    let mut clients = vec![];
    for c in 0..3 {
        let mut client = connect(
            &hub,
            ConnectionConfig::default().with_message_rate(1000.0, 1000.0),
            4096,
        );
        for r in 0..5 {
            client.join(&format!("room-{c}-{r}"));
        }
        for _ in 0..5 {
            match client.next().await.body {
                Body::JoinResponseOk { .. } => {}
                Body::JoinError {
                    app_code: Some(code),
                    ..
                } if code == "server_full" => refused += 1,
                other => panic!("{other:?}"),
            }
        }
        clients.push(client);
    }
    assert_eq!(hub.connected_sessions(), 8);
    assert_eq!(refused, 7);
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let hub = hub();
    let config = ConnectionConfig::default().with_idle_timeout(Duration::from_secs(60));
    let client = joined(&hub, config, "a").await;
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(!client.served.is_finished());
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::yield_now().await;
    assert!(client.served.is_finished(), "closed, releasing its pins");
    assert_eq!(hub.connected_sessions(), 0);
}

#[tokio::test]
async fn a_connection_that_keeps_sending_bad_updates_is_closed() {
    let hub = hub();
    let config = ConnectionConfig::default().with_max_refused_updates(3);
    let mut client = joined(&hub, config, "a").await;
    // A valid update does not count; refused ones do.
    client.update("a", common::typed(1, "fine"), 1);
    for id in 2..=3 {
        client.update("a", b"not a loro update at all".to_vec(), id);
    }
    let acks = acks_within(&mut client, Duration::from_millis(200)).await;
    assert_eq!(
        acks,
        vec![
            AckStatus::Ok,
            AckStatus::InvalidUpdate,
            AckStatus::InvalidUpdate
        ]
    );
    assert!(!client.served.is_finished(), "two refusals are tolerated");
    client.update("a", b"still not an update".to_vec(), 4);
    let last = acks_within(&mut client, Duration::from_millis(200)).await;
    assert_eq!(
        last,
        vec![AckStatus::InvalidUpdate],
        "answered, then closed"
    );
    tokio::time::timeout(Duration::from_secs(2), &mut client.served)
        .await
        .expect("the connection is closed")
        .expect("cleanly");
    assert_eq!(hub.connected_sessions(), 0);
}
