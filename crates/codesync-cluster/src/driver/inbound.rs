//! Incoming messages: decoded, filtered, and handed to the hub one session at a time.
//!
//! Each session with messages gets a task and a bounded queue of its own, so its messages
//! are merged in arrival order while a slow session (a large merge, a store read) holds
//! up no other. A task ends after a while without messages. When a session's queue is
//! full, further messages are dropped and the session reads the store once instead (a
//! `Refresh`), which covers every update dropped: updates are durable before they are
//! published.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use codesync_core::{ClusterInbox, DocKey, NodeId, NodeMessage};
use futures::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::channel::parse_channel;
use crate::envelope::decode;
use crate::stats::{Counters, DropReason};

/// How long a session's task waits for another message before it ends.
const IDLE: Duration = Duration::from_secs(30);

/// Where messages go: the hub's [`ClusterInbox`] (or a test's stand-in).
pub(crate) trait Target: Send + Sync + 'static {
    fn deliver<'a>(
        &'a self,
        key: &'a DocKey,
        from: NodeId,
        message: NodeMessage,
    ) -> BoxFuture<'a, ()>;
    fn reconnected(&self) -> BoxFuture<'_, ()>;
    fn is_open(&self) -> bool;
}

impl Target for ClusterInbox {
    fn deliver<'a>(
        &'a self,
        key: &'a DocKey,
        from: NodeId,
        message: NodeMessage,
    ) -> BoxFuture<'a, ()> {
        Box::pin(ClusterInbox::deliver(self, key, from, message))
    }

    fn reconnected(&self) -> BoxFuture<'_, ()> {
        Box::pin(ClusterInbox::reconnected(self))
    }

    fn is_open(&self) -> bool {
        ClusterInbox::is_open(self)
    }
}

type Queued = (NodeId, NodeMessage);

struct KeyQueue {
    sender: mpsc::Sender<Queued>,
    overflowed: Arc<AtomicBool>,
}

/// Sorts incoming messages into per-session queues.
pub(crate) struct Dispatcher {
    node: NodeId,
    prefix: String,
    capacity: usize,
    runtime: Handle,
    counters: Arc<Counters>,
    target: OnceLock<Arc<dyn Target>>,
    queues: Mutex<HashMap<DocKey, KeyQueue>>,
}

impl Dispatcher {
    pub(crate) fn new(
        node: NodeId,
        prefix: String,
        capacity: usize,
        runtime: Handle,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            node,
            prefix,
            capacity: capacity.max(1),
            runtime,
            counters,
            target: OnceLock::new(),
            queues: Mutex::new(HashMap::new()),
        }
    }

    fn queues(&self) -> MutexGuard<'_, HashMap<DocKey, KeyQueue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets where messages go; only the first call counts.
    pub(crate) fn attach(&self, target: Arc<dyn Target>) {
        if self.target.set(target).is_err() {
            tracing::error!("a cluster bus was attached to a second hub; it keeps serving the first (use one bus per hub)");
        }
    }

    pub(crate) fn target(&self) -> Option<&Arc<dyn Target>> {
        self.target.get()
    }

    /// Whether the hub still exists (true before one is attached).
    pub(crate) fn is_open(&self) -> bool {
        self.target.get().is_none_or(|t| t.is_open())
    }

    /// A message as received on `channel`.
    pub(crate) fn on_message(self: &Arc<Self>, channel: &str, payload: Bytes) {
        let Some(key) = parse_channel(&self.prefix, channel) else {
            self.counters.dropped(DropReason::ForeignChannel);
            tracing::debug!(
                channel,
                "message on a channel that names no session; dropped"
            );
            return;
        };
        let envelope = match decode(&payload) {
            Ok(envelope) => envelope,
            Err(e) => {
                self.counters.dropped(DropReason::Undecodable);
                tracing::warn!(%key, error = %e, bytes = payload.len(), "undecodable cluster message dropped");
                return;
            }
        };
        // Redis hands a node its own publishes back.
        if envelope.from == self.node {
            return;
        }
        self.counters.received();
        self.enqueue(key, envelope.from, envelope.message);
    }

    /// Queues `message` for `key`'s task, starting the task if it has none.
    pub(crate) fn enqueue(self: &Arc<Self>, key: DocKey, from: NodeId, message: NodeMessage) {
        let Some(target) = self.target.get().cloned() else {
            self.counters.dropped(DropReason::NotAttached);
            return;
        };
        let mut queues = self.queues();
        let mut item = (from, message);
        if let Some(queue) = queues.get(&key) {
            match queue.sender.try_send(item) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    queue.overflowed.store(true, Ordering::SeqCst);
                    self.counters.dropped(DropReason::InboundOverflow);
                    return;
                }
                // Its task has ended (its hub is gone): start another, which finds out.
                Err(mpsc::error::TrySendError::Closed(back)) => item = back,
            }
        }
        let (sender, receiver) = mpsc::channel(self.capacity);
        let overflowed = Arc::new(AtomicBool::new(false));
        // A new channel has room for one.
        let _ = sender.try_send(item);
        queues.insert(
            key.clone(),
            KeyQueue {
                sender,
                overflowed: overflowed.clone(),
            },
        );
        drop(queues);
        self.runtime
            .spawn(run_key(self.clone(), target, key, receiver, overflowed));
    }

    /// Drops every queue; their tasks end once they have handed on what they hold.
    pub(crate) fn close(&self) {
        self.queues().clear();
    }

    #[cfg(test)]
    pub(crate) fn active_keys(&self) -> usize {
        self.queues().len()
    }
}

/// One session's task: delivers its messages in order, then a `Refresh` if any were
/// dropped meanwhile; ends when idle or when the hub is gone.
async fn run_key(
    dispatcher: Arc<Dispatcher>,
    target: Arc<dyn Target>,
    key: DocKey,
    mut receiver: mpsc::Receiver<Queued>,
    overflowed: Arc<AtomicBool>,
) {
    loop {
        match tokio::time::timeout(IDLE, receiver.recv()).await {
            Ok(Some((from, message))) => {
                target.deliver(&key, from, message).await;
                if overflowed.swap(false, Ordering::SeqCst) {
                    tracing::info!(%key, "cluster messages were dropped for this session; reading the store");
                    target
                        .deliver(&key, dispatcher.node, NodeMessage::Refresh)
                        .await;
                }
                if !target.is_open() {
                    dispatcher.close();
                    return;
                }
            }
            Ok(None) => return,
            Err(_idle) => {
                // Under the lock no message can be queued: either none is, and the task
                // ends with its queue removed, or one is, and it goes on.
                let mut queues = dispatcher.queues();
                if receiver.is_empty() {
                    if queues
                        .get(&key)
                        .is_some_and(|q| Arc::ptr_eq(&q.overflowed, &overflowed))
                    {
                        queues.remove(&key);
                    }
                    return;
                }
            }
        }
    }
}
