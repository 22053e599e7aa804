//! The small interface a pub/sub system implements to carry the driver's messages.
//!
//! A [`Backend`] makes connections; a [`Link`] is one established connection, good until
//! it is lost. The driver owns everything else: refcounts, queues, reconnecting with
//! backoff, catching up. A backend never reconnects by itself: when its connection is
//! gone, [`Link::closed`] resolves and the driver asks for a new link.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::watch;

use crate::error::ClusterError;

/// Where a link hands every message it receives: `(channel, payload)`. Called in the
/// order messages arrived on each channel; it never blocks.
pub(crate) type Inbound = Arc<dyn Fn(&str, Bytes) + Send + Sync>;

/// Makes connections to one pub/sub server.
#[async_trait]
pub(crate) trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Opens a connection whose received messages go to `inbound`.
    async fn connect(&self, inbound: Inbound) -> Result<Arc<dyn Link>, ClusterError>;

    /// The server, for logs (without credentials).
    fn describe(&self) -> String;
}

/// One established connection. Every operation returns only once the server confirmed
/// it; an error means the connection is no longer trusted.
#[async_trait]
pub(crate) trait Link: Send + Sync + 'static {
    /// Subscribes to `channel`; returns once the server will deliver everything published
    /// to it from now on.
    async fn subscribe(&self, channel: &str) -> Result<(), ClusterError>;

    /// Stops receiving `channel`.
    async fn unsubscribe(&self, channel: &str) -> Result<(), ClusterError>;

    /// Publishes every `(channel, payload)`, in order; returns once the server has them.
    async fn publish(&self, batch: &[(String, Bytes)]) -> Result<(), ClusterError>;

    /// A round trip to the server, to find a connection that died silently.
    async fn ping(&self) -> Result<(), ClusterError>;

    /// Resolves once the connection is lost.
    async fn closed(&self);

    /// The largest payload the server accepts.
    fn max_payload(&self) -> usize;
}

/// A flag that a connection was lost, set once and awaited by any number of tasks.
#[derive(Debug, Clone)]
pub(crate) struct ClosedFlag {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for ClosedFlag {
    fn default() -> Self {
        Self {
            sender: Arc::new(watch::channel(false).0),
        }
    }
}

impl ClosedFlag {
    /// Marks the connection lost (again is harmless).
    pub(crate) fn close(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the connection was lost.
    pub(crate) fn is_closed(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the connection is lost.
    pub(crate) async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail for a closed channel.
        let _ = receiver.wait_for(|closed| *closed).await;
    }
}

/// Aborts a background task when dropped (a link's reader must not outlive the link).
#[cfg(any(feature = "redis", feature = "nats"))]
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

#[cfg(any(feature = "redis", feature = "nats"))]
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
