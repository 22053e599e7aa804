//! What a session does for the other nodes of a cluster: catching up from the shared
//! store, and presence that crosses nodes.

use bytes::Bytes;

use super::Session;
use crate::cluster::NodeMessage;
use crate::error::Result;
use crate::origin::{NodeId, Origin};

impl Session {
    /// Reads the store and merges whatever it holds that this session lacks (updates other
    /// nodes stored), telling connected clients about them as [`Origin::Storage`].
    ///
    /// A clustered hub calls this when a session may have missed a message; it is also safe
    /// to call at any time.
    pub async fn catch_up(&self) -> Result<()> {
        let mut guard = self.lock().await?;
        self.merge_stored(&mut guard).await.map(|_| ())
    }

    /// Sends `message` about this session to the other nodes, if the hub is clustered.
    pub(super) fn publish(&self, message: NodeMessage) {
        if let Some(subscription) = &self.cluster {
            subscription.bus().publish(&self.key, message);
        }
    }

    /// Merges presence of another node's clients and forwards it to local subscribers.
    /// Keys held by this node's own clients are left alone.
    pub fn apply_node_presence(&self, bytes: &[u8], node: NodeId) {
        match self.presence.apply_node(bytes, node) {
            Ok(Some(forward)) => self.send_presence(Origin::Node(node), Bytes::from(forward)),
            Ok(None) => {}
            Err(refusal) => {
                tracing::warn!(key = %self.key, node = node.0, ?refusal, "presence from another node refused")
            }
        }
    }

    /// Removes presence keys of another node's clients that left.
    pub fn remove_node_presence(&self, node: NodeId, keys: &[String]) {
        if let Some(bytes) = self.presence.remove_node_keys(node, keys) {
            self.send_presence(Origin::Node(node), Bytes::from(bytes));
        }
    }

    /// Publishes this node's clients' presence to the other nodes (asked for by a node
    /// that just opened the session, or after the bus came back).
    pub(crate) fn publish_local_presence(&self) {
        if let Some(bytes) = self.presence.encode_local() {
            self.publish(NodeMessage::Presence(Bytes::from(bytes)));
        }
    }
}
