//! Outgoing messages: `publish` only queues; one task sends.
//!
//! A message that cannot be sent (queue full, bus down, the server refused or did not
//! confirm it, too large) marks its session *dirty*. Whenever the bus is up and caught
//! up, the task sends a `Refresh` for each dirty session, telling the other nodes to read
//! the store, where every published update already is.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use codesync_core::{DocKey, NodeMessage};
use tokio::sync::{mpsc, Notify};

use super::Shared;
use crate::envelope::encode;
use crate::stats::{Counters, DropReason};

/// At most this many messages go to the server in one batch (one round trip).
const MAX_BATCH: usize = 256;

type Outgoing = (DocKey, NodeMessage);

/// The outbound queue and the dirty sessions.
#[derive(Debug)]
pub(crate) struct Outbound {
    sender: mpsc::Sender<Outgoing>,
    receiver: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    dirty: Mutex<HashSet<DocKey>>,
    /// Wakes the task: there are dirty sessions, or the bus became ready.
    wake: Notify,
    /// Whether the bus is up and the hub has caught up: `Refresh`es may go out.
    ready: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Outbound {
    pub(crate) fn new(capacity: usize) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            dirty: Mutex::new(HashSet::new()),
            wake: Notify::new(),
            ready: AtomicBool::new(false),
        }
    }

    /// Queues `message` without waiting; if the queue is full, marks `key` dirty.
    pub(crate) fn publish(&self, key: &DocKey, message: NodeMessage, counters: &Counters) {
        match self.sender.try_send((key.clone(), message)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                counters.dropped(DropReason::QueueFull);
                self.mark_dirty(key.clone());
            }
            // The driver has stopped: nothing will be sent any more.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                counters.dropped(DropReason::BusDown);
            }
        }
    }

    fn mark_dirty(&self, key: DocKey) {
        lock(&self.dirty).insert(key);
        self.wake.notify_one();
    }

    /// Allows (or stops) sending `Refresh`es; allowing wakes the task.
    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
        if ready {
            self.wake.notify_one();
        }
    }

    #[cfg(test)]
    pub(crate) fn dirty_keys(&self) -> Vec<DocKey> {
        lock(&self.dirty).iter().cloned().collect()
    }
}

/// The sending task; ends when the driver shuts down.
pub(crate) async fn run(shared: Arc<Shared>) {
    let Some(mut receiver) = lock(&shared.outbound.receiver).take() else {
        return;
    };
    loop {
        let first = tokio::select! {
            biased;
            () = shared.shutdown.wait() => return,
            next = receiver.recv() => match next {
                Some(message) => Some(message),
                None => return,
            },
            () = shared.outbound.wake.notified() => None,
        };
        let mut batch: Vec<Outgoing> = first.into_iter().collect();
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            send(&shared, batch).await;
        }
        send_refreshes(&shared).await;
    }
}

/// Sends a `Refresh` for every dirty session, if the bus is ready.
async fn send_refreshes(shared: &Shared) {
    let outbound = &shared.outbound;
    if !outbound.ready.load(Ordering::SeqCst) || shared.current().is_none() {
        return;
    }
    let keys: Vec<DocKey> = lock(&outbound.dirty).drain().collect();
    if keys.is_empty() {
        return;
    }
    tracing::info!(
        sessions = keys.len(),
        "telling the other nodes to read the store for messages this node could not send"
    );
    for chunk in keys.chunks(MAX_BATCH) {
        let batch = chunk
            .iter()
            .map(|key| (key.clone(), NodeMessage::Refresh))
            .collect();
        send(shared, batch).await;
    }
}

/// Publishes one batch; whatever cannot go out marks its session dirty.
async fn send(shared: &Shared, batch: Vec<Outgoing>) {
    let counters = &shared.counters;
    let outbound = &shared.outbound;
    let Some(current) = shared.current() else {
        for (key, _) in batch {
            counters.dropped(DropReason::BusDown);
            outbound.mark_dirty(key);
        }
        return;
    };
    let max_payload = current.link.max_payload();
    let mut keys = Vec::with_capacity(batch.len());
    let mut wire: Vec<(String, Bytes)> = Vec::with_capacity(batch.len());
    for (key, message) in batch {
        match encode(shared.node, &message) {
            None => {
                counters.dropped(DropReason::Unencodable);
                tracing::warn!(%key, ?message, "a message kind this bus cannot carry was dropped");
                outbound.mark_dirty(key);
            }
            Some(bytes) if bytes.len() > max_payload => {
                counters.dropped(DropReason::TooLarge);
                tracing::warn!(%key, bytes = bytes.len(), max_payload, "message too large for the bus; the other nodes will read the store instead");
                outbound.mark_dirty(key);
            }
            Some(bytes) => {
                wire.push((shared.channel(&key), bytes));
                keys.push(key);
            }
        }
    }
    if wire.is_empty() {
        return;
    }
    let sent =
        tokio::time::timeout(shared.config.subscribe_timeout, current.link.publish(&wire)).await;
    let failure = match sent {
        Ok(Ok(())) => {
            counters.published(wire.len());
            return;
        }
        Ok(Err(e)) => format!("publish failed: {e}"),
        Err(_) => "publish not confirmed in time".to_owned(),
    };
    for key in keys {
        counters.dropped(DropReason::SendError);
        outbound.mark_dirty(key);
    }
    shared.link_failed(current.generation, &failure);
}
