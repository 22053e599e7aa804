//! The driver's own behaviour, over the memory network, delivering to a recorder instead
//! of a hub.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use codesync_core::{ClusterBus, DocKey, NodeId, NodeMessage};
use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::driver::inbound::{Dispatcher, Target};
use crate::driver::publisher::Outbound;
use crate::stats::Counters;
use crate::{ClusterConfig, ClusterDriver, MemoryNetwork};

type Delivered = (DocKey, NodeId, NodeMessage);

/// Records what a hub would have been handed. Deliveries for `blocked` wait for a permit.
struct Recorder {
    delivered: Mutex<Vec<Delivered>>,
    reconnects: AtomicUsize,
    closed: AtomicBool,
    blocked: Mutex<Option<DocKey>>,
    started_blocked: AtomicBool,
    release: Semaphore,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            delivered: Mutex::default(),
            reconnects: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            blocked: Mutex::default(),
            started_blocked: AtomicBool::new(false),
            release: Semaphore::new(0),
        }
    }
}

impl Recorder {
    fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().expect("lock").clone()
    }

    fn has(&self, wanted: &Delivered) -> bool {
        self.delivered().contains(wanted)
    }
}

impl Target for Recorder {
    fn deliver<'a>(
        &'a self,
        key: &'a DocKey,
        from: NodeId,
        message: NodeMessage,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let block = {
                let mut blocked = self.blocked.lock().expect("lock");
                if blocked.as_ref() == Some(key) {
                    blocked.take()
                } else {
                    None
                }
            };
            if block.is_some() {
                self.started_blocked.store(true, Ordering::SeqCst);
                self.release.acquire().await.expect("open").forget();
            }
            self.delivered
                .lock()
                .expect("lock")
                .push((key.clone(), from, message));
        })
    }

    fn reconnected(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.reconnects.fetch_add(1, Ordering::SeqCst);
        })
    }

    fn is_open(&self) -> bool {
        !self.closed.load(Ordering::SeqCst)
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn config(node: u64) -> ClusterConfig {
    ClusterConfig::default()
        .with_node_id(NodeId(node))
        .with_reconnect_delay(Duration::from_millis(10), Duration::from_millis(50))
}

async fn node(network: &MemoryNetwork, id: u64) -> (Arc<ClusterDriver>, Arc<Recorder>) {
    let driver = network.connect(config(id)).await.expect("connects");
    let recorder = Arc::new(Recorder::default());
    driver.attach_target(recorder.clone());
    (driver, recorder)
}

fn key(session: &str) -> DocKey {
    DocKey::parse("acme", session).expect("valid key")
}

#[tokio::test]
async fn messages_reach_other_nodes_but_never_their_sender() {
    let network = MemoryNetwork::new();
    let (a, seen_by_a) = node(&network, 1).await;
    let (b, seen_by_b) = node(&network, 2).await;
    let doc = key("doc");
    a.subscribe(&doc).await;
    b.subscribe(&doc).await;
    let update = NodeMessage::Update(Bytes::from_static(b"ops"));
    a.publish(&doc, update.clone());
    a.publish(&doc, NodeMessage::PresenceGone(vec!["k".into()]));
    wait_until("B has both messages", || seen_by_b.delivered().len() == 2).await;
    assert_eq!(
        seen_by_b.delivered(),
        vec![
            (doc.clone(), NodeId(1), update),
            (
                doc.clone(),
                NodeId(1),
                NodeMessage::PresenceGone(vec!["k".into()])
            ),
        ]
    );
    // The memory network hands A its own messages back (as Redis does) at the same
    // moment; they are dropped there, before any queue.
    assert!(seen_by_a.delivered().is_empty());
    assert_eq!(a.stats().received, 0);
    assert_eq!(a.stats().published, 2);
    assert_eq!(b.stats().received, 2);
}

#[tokio::test]
async fn garbage_is_counted_and_dropped_and_later_messages_still_arrive() {
    let network = MemoryNetwork::new();
    let (a, _) = node(&network, 1).await;
    let (b, seen_by_b) = node(&network, 2).await;
    let doc = key("doc");
    b.subscribe(&doc).await;
    let channel = b.channel(&doc);
    for garbage in [
        &b""[..],
        b"\x01",
        b"\x07\x01\0\0\0\0\0\0\0\x01",
        b"\x01\x63........",
    ] {
        network.inject(&channel, Bytes::copy_from_slice(garbage));
    }
    assert_eq!(b.stats().dropped, 4);
    assert_eq!(b.stats().received, 0);
    a.publish(&doc, NodeMessage::Refresh);
    wait_until("B has the valid message", || {
        seen_by_b.has(&(doc.clone(), NodeId(1), NodeMessage::Refresh))
    })
    .await;
    assert_eq!(seen_by_b.delivered().len(), 1);
}

#[tokio::test]
async fn subscriptions_are_counted() {
    let network = MemoryNetwork::new();
    let (a, _) = node(&network, 1).await;
    let doc = key("doc");
    let channel = a.channel(&doc);
    a.subscribe(&doc).await;
    a.subscribe(&doc).await;
    assert_eq!(network.subscribers(&channel), 1);
    assert_eq!(a.subscriptions(&doc), 2);
    a.unsubscribe(&doc);
    assert_eq!(a.subscriptions(&doc), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(network.subscribers(&channel), 1, "unsubscribed too early");
    a.unsubscribe(&doc);
    wait_until("the server subscription is gone", || {
        network.subscribers(&channel) == 0
    })
    .await;
    // An unbalanced unsubscribe is ignored, and subscribing again works.
    a.unsubscribe(&doc);
    a.subscribe(&doc).await;
    assert_eq!(network.subscribers(&channel), 1);
}

#[tokio::test]
async fn a_message_that_could_not_be_sent_is_followed_by_a_refresh_after_reconnecting() {
    let network = MemoryNetwork::new();
    let (a, seen_by_a) = node(&network, 1).await;
    let (b, seen_by_b) = node(&network, 2).await;
    let doc = key("doc");
    a.subscribe(&doc).await;
    b.subscribe(&doc).await;

    network.cut_off(NodeId(1));
    wait_until("A notices", || !a.is_connected()).await;
    a.publish(&doc, NodeMessage::Update(Bytes::from_static(b"lost")));
    wait_until("the update is dropped", || a.stats().dropped == 1).await;

    network.restore(NodeId(1));
    wait_until("B is told to read the store", || {
        seen_by_b.has(&(doc.clone(), NodeId(1), NodeMessage::Refresh))
    })
    .await;
    // A resubscribed and caught up before the Refresh went out.
    assert_eq!(seen_by_a.reconnects.load(Ordering::SeqCst), 1);
    assert_eq!(network.subscribers(&a.channel(&doc)), 2);
    assert_eq!(a.stats().reconnects, 1);
    assert!(!seen_by_b
        .delivered()
        .iter()
        .any(|(_, _, m)| matches!(m, NodeMessage::Update(_))));
}

#[tokio::test]
async fn subscribing_while_down_returns_at_once_and_subscribes_on_reconnect() {
    let network = MemoryNetwork::new();
    let (a, seen_by_a) = node(&network, 1).await;
    let doc = key("doc");
    network.cut_off(NodeId(1));
    wait_until("A notices", || !a.is_connected()).await;

    let started = Instant::now();
    a.subscribe(&doc).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "subscribe waited"
    );
    assert_eq!(network.subscribers(&a.channel(&doc)), 0);

    network.restore(NodeId(1));
    wait_until("A resubscribed", || {
        network.subscribers(&a.channel(&doc)) == 1
    })
    .await;
    // The session may have read the store before it was subscribed: it gets a Refresh
    // of its own, besides the hub-wide catch-up.
    wait_until("A's session reads the store", || {
        seen_by_a.has(&(doc.clone(), NodeId(1), NodeMessage::Refresh))
    })
    .await;
    assert_eq!(seen_by_a.reconnects.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_slow_session_holds_up_no_other_and_overflow_becomes_one_refresh() {
    let counters = Arc::new(Counters::default());
    let dispatcher = Arc::new(Dispatcher::new(
        NodeId(9),
        "codesync".into(),
        4,
        tokio::runtime::Handle::current(),
        counters.clone(),
    ));
    let recorder = Arc::new(Recorder::default());
    let (slow, fast) = (key("slow"), key("fast"));
    *recorder.blocked.lock().expect("lock") = Some(slow.clone());
    dispatcher.attach(recorder.clone());

    let update = |n: u8| NodeMessage::Update(Bytes::from(vec![n]));
    dispatcher.enqueue(slow.clone(), NodeId(1), update(0));
    wait_until("the slow session is busy", || {
        recorder.started_blocked.load(Ordering::SeqCst)
    })
    .await;
    for n in 1..=10 {
        dispatcher.enqueue(slow.clone(), NodeId(1), update(n));
    }
    assert_eq!(counters.snapshot(true).dropped, 6, "4 queued, 6 over");
    dispatcher.enqueue(fast.clone(), NodeId(2), NodeMessage::Refresh);
    wait_until("the other session got its message", || {
        recorder.has(&(fast.clone(), NodeId(2), NodeMessage::Refresh))
    })
    .await;
    assert_eq!(dispatcher.active_keys(), 2);

    recorder.release.add_permits(1);
    wait_until("the slow session caught up", || {
        recorder.delivered().len() == 7
    })
    .await;
    let slow_messages: Vec<NodeMessage> = recorder
        .delivered()
        .into_iter()
        .filter(|(k, _, _)| *k == slow)
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(
        slow_messages,
        vec![
            update(0),
            NodeMessage::Refresh,
            update(1),
            update(2),
            update(3),
            update(4)
        ]
    );
}

#[test]
fn a_full_outbound_queue_marks_the_session_dirty() {
    let counters = Counters::default();
    let outbound = Outbound::new(1);
    let doc = key("doc");
    outbound.publish(&doc, NodeMessage::Refresh, &counters);
    assert!(outbound.dirty_keys().is_empty());
    outbound.publish(&doc, NodeMessage::Refresh, &counters);
    assert_eq!(outbound.dirty_keys(), vec![doc]);
    assert_eq!(counters.snapshot(true).dropped, 1);
}

#[tokio::test]
async fn the_tasks_end_when_the_hub_is_gone() {
    let network = MemoryNetwork::new();
    let (a, seen_by_a) = node(&network, 1).await;
    assert_eq!(network.connections(NodeId(1)), 1);
    seen_by_a.closed.store(true, Ordering::SeqCst);
    wait_until("A's connection is closed", || {
        network.connections(NodeId(1)) == 0
    })
    .await;
    assert!(!a.is_connected());
}

#[tokio::test]
async fn the_tasks_end_when_the_bus_is_dropped() {
    let network = MemoryNetwork::new();
    let (a, _) = node(&network, 1).await;
    let doc = key("doc");
    a.subscribe(&doc).await;
    drop(a);
    wait_until("the connection is closed", || {
        network.connections(NodeId(1)) == 0
    })
    .await;
    assert_eq!(
        network.subscribers(&crate::channel_name("codesync", &doc)),
        0
    );
}

#[test]
fn starting_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let started = futures::executor::block_on(MemoryNetwork::new().connect(config(1)));
    assert!(matches!(started, Err(crate::ClusterError::NoRuntime)));
}
