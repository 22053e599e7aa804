//! Where messages from other nodes enter the hub.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::{Hub, HubInner};
use crate::cluster::NodeMessage;
use crate::error::Error;
use crate::key::DocKey;
use crate::origin::{NodeId, Origin};
use crate::session::Session;

/// Hands other nodes' messages to the hub's live sessions; given to a
/// [`ClusterBus`](crate::ClusterBus) by [`HubBuilder::cluster`](crate::HubBuilder::cluster).
///
/// It holds the hub weakly: once the hub is dropped, every call does nothing.
#[derive(Clone)]
pub struct ClusterInbox {
    hub: Weak<HubInner>,
}

impl fmt::Debug for ClusterInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterInbox")
            .field("hub_alive", &(self.hub.strong_count() > 0))
            .finish()
    }
}

impl ClusterInbox {
    pub(super) fn new(hub: &Hub) -> Self {
        Self {
            hub: Arc::downgrade(&hub.inner),
        }
    }

    fn hub(&self) -> Option<Hub> {
        self.hub.upgrade().map(|inner| Hub { inner })
    }

    /// Whether the hub still exists (a bus stops its work once it does not).
    pub fn is_open(&self) -> bool {
        self.hub.strong_count() > 0
    }

    /// Hands `message`, sent by node `from`, to the session `key` if it is live on this
    /// node; a session that is not live ignores it (it reads the store when it loads).
    pub async fn deliver(&self, key: &DocKey, from: NodeId, message: NodeMessage) {
        let Some(hub) = self.hub() else { return };
        let Some(session) = hub.live_or_note_missed(key) else {
            return;
        };
        match message {
            NodeMessage::Update(bytes) => match session.apply(&bytes, Origin::Node(from)).await {
                Ok(_) | Err(Error::Evicted { .. }) => {}
                Err(e) => {
                    if !e.needs_resync() {
                        tracing::warn!(%key, node = from.0, error = %e, "an update from another node was refused; reading the store");
                    }
                    catch_up(&session).await;
                }
            },
            NodeMessage::Refresh => catch_up(&session).await,
            NodeMessage::Presence(bytes) => session.apply_node_presence(&bytes, from),
            NodeMessage::PresenceGone(keys) => session.remove_node_presence(from, &keys),
            NodeMessage::PresenceRequest => session.publish_local_presence(),
        }
    }

    /// Called by the bus after it was down and is subscribed again: every live session
    /// reads the store, so nothing published while the bus was away is missed.
    pub async fn reconnected(&self) {
        let Some(hub) = self.hub() else { return };
        // A session still loading may have read the store before the bus came back: it
        // reads it again when its load finishes. Marked before the live ones are listed,
        // so a load finishing in between is caught one way or the other.
        for slot in hub.slots().loading() {
            slot.missed.store(true, Ordering::SeqCst);
        }
        let sessions = hub.slots().all_sessions();
        tracing::info!(
            sessions = sessions.len(),
            "the cluster bus is back: catching up every live session from the store"
        );
        for session in sessions {
            catch_up(&session).await;
            session.publish_local_presence();
        }
    }
}

async fn catch_up(session: &Session) {
    match session.catch_up().await {
        Ok(()) | Err(Error::Evicted { .. }) => {}
        Err(e) => {
            tracing::error!(key = %session.key(), error = %e, "could not catch up from the store")
        }
    }
}

impl Hub {
    /// The session for `key` if it is live (or being flushed out); `None` if it is not
    /// here. While it loads, notes that a message was missed: the load then reads the
    /// store once more when it finishes.
    fn live_or_note_missed(&self, key: &DocKey) -> Option<Arc<Session>> {
        let slots = self.slots();
        if let Some(session) = slots.evicting_session(key) {
            return Some(session);
        }
        let slot = slots.peek(key)?;
        drop(slots);
        if let Some(session) = slot.session() {
            return Some(session.clone());
        }
        slot.missed.store(true, Ordering::SeqCst);
        // Loading may have finished in between; then deliver directly (a second catch-up
        // by the loader is harmless).
        slot.session().cloned()
    }
}
