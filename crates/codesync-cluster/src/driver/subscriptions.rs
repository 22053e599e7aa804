//! Counted subscriptions, and bringing the server in line with the counts.
//!
//! Each session has a count (the hub's `subscribe` calls not yet undone) and a gate, an
//! async lock held while the server is told about the session, which records on which
//! connection it is subscribed. Every change goes through [`reconcile`]: under the gate,
//! compare what is wanted (count above zero) with what the current connection has, and
//! fix the difference. So concurrent subscribes wait for one confirmation, an unsubscribe
//! racing a subscribe cannot undo it, and after a reconnect the same step resubscribes.
//!
//! A subscribe that returns without the server's confirmation (bus down, timeout) marks
//! its session *deferred*. Whoever later confirms the subscription hands that session a
//! `Refresh` of its own: the hub may have read the store before the subscription was in
//! place, while it was still loading, where `ClusterInbox::reconnected` cannot reach it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use codesync_core::{DocKey, NodeMessage};
use futures::StreamExt;
use tokio::time::{timeout_at, Instant};

use super::Shared;

/// How many sessions are resubscribed at once after a reconnect.
const RESUBSCRIBE_CONCURRENCY: usize = 32;

/// One session's subscription state.
#[derive(Debug, Default)]
pub(crate) struct KeyState {
    /// The connection generation it is subscribed on, if any.
    gate: tokio::sync::Mutex<Option<u64>>,
    deferred: AtomicBool,
}

#[derive(Debug)]
struct Entry {
    count: usize,
    state: Arc<KeyState>,
}

/// Every session's count and state.
#[derive(Debug, Default)]
pub(crate) struct Table {
    entries: Mutex<HashMap<DocKey, Entry>>,
}

impl Table {
    fn entries(&self) -> MutexGuard<'_, HashMap<DocKey, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire(&self, key: &DocKey) -> Arc<KeyState> {
        let mut entries = self.entries();
        let entry = entries.entry(key.clone()).or_insert_with(|| Entry {
            count: 0,
            state: Arc::default(),
        });
        entry.count += 1;
        entry.state.clone()
    }

    /// Undoes one `acquire`; returns the state if the count fell to zero.
    fn release(&self, key: &DocKey) -> Option<Arc<KeyState>> {
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(key) else {
            tracing::warn!(%key, "unsubscribe without a subscribe; ignored");
            return None;
        };
        if entry.count == 0 {
            tracing::warn!(%key, "unsubscribe without a subscribe; ignored");
            return None;
        }
        entry.count -= 1;
        (entry.count == 0).then(|| entry.state.clone())
    }

    /// How many subscribes of `key` are not yet undone.
    pub(crate) fn count(&self, key: &DocKey) -> usize {
        self.entries().get(key).map_or(0, |e| e.count)
    }

    /// Every session with a state (wanted or still to be unsubscribed).
    fn snapshot(&self) -> Vec<(DocKey, Arc<KeyState>)> {
        self.entries()
            .iter()
            .map(|(key, entry)| (key.clone(), entry.state.clone()))
            .collect()
    }

    /// Every session subscribed at least once.
    pub(crate) fn wanted(&self) -> Vec<DocKey> {
        self.entries()
            .iter()
            .filter(|(_, entry)| entry.count > 0)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Forgets `key` if nobody wants it and `state` is still its state.
    fn forget_if_idle(&self, key: &DocKey, state: &Arc<KeyState>) {
        let mut entries = self.entries();
        if entries
            .get(key)
            .is_some_and(|e| e.count == 0 && Arc::ptr_eq(&e.state, state))
        {
            entries.remove(key);
        }
    }
}

/// The hub's `subscribe`: counts it, and unless the session is already subscribed on the
/// current connection, subscribes it and waits for the server (bounded by the subscribe
/// timeout; about twice that if it first waits for a subscription in progress).
pub(crate) async fn subscribe(shared: &Arc<Shared>, key: &DocKey) {
    let state = shared.subs.acquire(key);
    let deadline = Instant::now() + shared.config.subscribe_timeout;
    let locked = timeout_at(deadline, state.gate.lock()).await;
    match locked {
        Ok(mut gate) => {
            reconcile(shared, key, &state, &mut gate).await;
        }
        Err(_) => {
            tracing::warn!(%key, "subscription still in progress after the timeout; going on, the session will catch up once it is in place");
            state.deferred.store(true, Ordering::SeqCst);
            let (shared, key, state) = (shared.clone(), key.clone(), state.clone());
            shared.runtime.clone().spawn(async move {
                let mut gate = state.gate.lock().await;
                reconcile(&shared, &key, &state, &mut gate).await;
            });
        }
    }
}

/// The hub's `unsubscribe`: counts it down, and at zero unsubscribes in the background.
pub(crate) fn unsubscribe(shared: &Arc<Shared>, key: &DocKey) {
    let Some(state) = shared.subs.release(key) else {
        return;
    };
    if shared.shutdown.is_closed() {
        return;
    }
    let (shared, key) = (shared.clone(), key.clone());
    shared.runtime.clone().spawn(async move {
        let mut gate = state.gate.lock().await;
        reconcile(&shared, &key, &state, &mut gate).await;
    });
}

/// After a reconnect: brings every session in line with the new connection.
pub(crate) async fn resubscribe_all(shared: &Arc<Shared>) {
    let states = shared.subs.snapshot();
    futures::stream::iter(states)
        .for_each_concurrent(RESUBSCRIBE_CONCURRENCY, |(key, state)| async move {
            let mut gate = state.gate.lock().await;
            reconcile(shared, &key, &state, &mut gate).await;
        })
        .await;
}

/// Under `key`'s gate: makes the current connection's subscription match the count.
/// Returns whether `key` is now subscribed on it.
async fn reconcile(
    shared: &Arc<Shared>,
    key: &DocKey,
    state: &Arc<KeyState>,
    on: &mut Option<u64>,
) -> bool {
    let wanted = shared.subs.count(key) > 0;
    let deadline = Instant::now() + shared.config.subscribe_timeout;
    let subscribed = match shared.current() {
        None => {
            *on = None;
            false
        }
        Some(current) if *on == Some(current.generation) => {
            if !wanted {
                let channel = shared.channel(key);
                match timeout_at(deadline, current.link.unsubscribe(&channel)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => shared.link_failed(current.generation, &e.to_string()),
                    Err(_) => shared.link_failed(current.generation, "unsubscribe timed out"),
                }
                *on = None;
            }
            wanted
        }
        Some(current) => {
            *on = None;
            if wanted {
                let channel = shared.channel(key);
                match timeout_at(deadline, current.link.subscribe(&channel)).await {
                    Ok(Ok(())) => *on = Some(current.generation),
                    Ok(Err(e)) => shared.link_failed(current.generation, &e.to_string()),
                    Err(_) => shared.link_failed(current.generation, "subscribe timed out"),
                }
            }
            on.is_some()
        }
    };
    if !wanted {
        shared.subs.forget_if_idle(key, state);
    } else if !subscribed {
        state.deferred.store(true, Ordering::SeqCst);
    } else if state.deferred.swap(false, Ordering::SeqCst) {
        tracing::debug!(%key, "subscribed late; the session reads the store");
        shared
            .inbound
            .enqueue(key.clone(), shared.node, NodeMessage::Refresh);
    }
    subscribed
}
