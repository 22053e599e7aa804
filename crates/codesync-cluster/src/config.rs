//! How a bus is tuned: who this node is, how its channels are named, its queues, timeouts
//! and reconnect backoff.

use std::time::Duration;

use codesync_core::NodeId;

use crate::channel::validate_prefix;
use crate::error::ClusterError;

/// The default channel prefix: channels are named `codesync.<tenant>.<session>`.
pub const DEFAULT_PREFIX: &str = "codesync";

/// Settings of a cluster bus; [`Default`] suits most deployments.
///
/// ```
/// use std::time::Duration;
/// use codesync_cluster::ClusterConfig;
/// let config = ClusterConfig::default()
///     .with_prefix("staging")
///     .with_subscribe_timeout(Duration::from_secs(5));
/// assert_eq!(config.prefix, "staging");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// This node's id, which other nodes see as the sender of its messages. `None` (the
    /// default) draws a random one from the operating system when the bus starts. Every
    /// node of a cluster must have a different id.
    pub node_id: Option<NodeId>,
    /// The first part of every channel (Redis) or subject (NATS) name, so several clusters
    /// can share one server. ASCII letters, digits, `-` and `_`, in tokens separated by
    /// single dots.
    pub prefix: String,
    /// How many outgoing messages may wait to be sent. When the queue is full, a message
    /// is dropped and its session gets a `Refresh` once the queue has drained.
    pub queue_capacity: usize,
    /// How many incoming messages of one session may wait to be merged. Beyond it they
    /// are dropped and the session reads the store once instead.
    pub inbound_capacity: usize,
    /// How long a subscription, a batch of publishes or a ping may wait for the server to
    /// confirm it. A server that takes longer is taken to be gone: the connection is made
    /// again.
    pub subscribe_timeout: Duration,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How often an idle connection is checked with a round trip to the server.
    pub ping_interval: Duration,
    /// The first delay between reconnect attempts; it doubles after each failure.
    pub reconnect_initial_delay: Duration,
    /// The longest delay between reconnect attempts. Attempts go on forever.
    pub reconnect_max_delay: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            queue_capacity: 4096,
            inbound_capacity: 256,
            subscribe_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(5),
            reconnect_initial_delay: Duration::from_millis(100),
            reconnect_max_delay: Duration::from_secs(10),
        }
    }
}

impl ClusterConfig {
    /// Sets this node's id (default: random).
    pub fn with_node_id(mut self, node: NodeId) -> Self {
        self.node_id = Some(node);
        self
    }

    /// Sets the channel prefix (default [`DEFAULT_PREFIX`]).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets how many outgoing messages may wait.
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Sets how many incoming messages of one session may wait.
    pub fn with_inbound_capacity(mut self, capacity: usize) -> Self {
        self.inbound_capacity = capacity;
        self
    }

    /// Sets how long the server has to confirm a subscription, publish or ping.
    pub fn with_subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.subscribe_timeout = timeout;
        self
    }

    /// Sets how long one connection attempt may take.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how often an idle connection is checked.
    pub fn with_ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets the reconnect backoff: the first delay and the longest one.
    pub fn with_reconnect_delay(mut self, initial: Duration, max: Duration) -> Self {
        self.reconnect_initial_delay = initial;
        self.reconnect_max_delay = max;
        self
    }

    /// Checks every value, and settles the node id (drawing a random one if unset).
    pub(crate) fn resolve(mut self) -> Result<(Self, NodeId), ClusterError> {
        validate_prefix(&self.prefix).map_err(ClusterError::InvalidConfig)?;
        let positive = [
            ("queue_capacity", self.queue_capacity == 0),
            ("inbound_capacity", self.inbound_capacity == 0),
            ("subscribe_timeout", self.subscribe_timeout.is_zero()),
            ("connect_timeout", self.connect_timeout.is_zero()),
            ("ping_interval", self.ping_interval.is_zero()),
            (
                "reconnect_initial_delay",
                self.reconnect_initial_delay.is_zero(),
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, zero)| *zero) {
            return Err(ClusterError::InvalidConfig(format!(
                "{name} must be positive"
            )));
        }
        if self.reconnect_max_delay < self.reconnect_initial_delay {
            return Err(ClusterError::InvalidConfig(
                "reconnect_max_delay must not be shorter than reconnect_initial_delay".to_owned(),
            ));
        }
        let node = match self.node_id {
            Some(node) => node,
            None => NodeId(getrandom::u64().map_err(|e| ClusterError::NodeId(e.to_string()))?),
        };
        self.node_id = Some(node);
        Ok((self, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_to_a_random_node() {
        let (_, a) = ClusterConfig::default().resolve().expect("valid");
        let (_, b) = ClusterConfig::default().resolve().expect("valid");
        assert_ne!(a, b, "two random node ids collided");
        let (config, c) = ClusterConfig::default()
            .with_node_id(NodeId(7))
            .resolve()
            .expect("valid");
        assert_eq!(c, NodeId(7));
        assert_eq!(config.node_id, Some(NodeId(7)));
    }

    #[test]
    fn bad_values_are_refused() {
        let refused = |config: ClusterConfig| match config.resolve() {
            Err(ClusterError::InvalidConfig(reason)) => reason,
            other => panic!("accepted: {other:?}"),
        };
        assert!(refused(ClusterConfig::default().with_prefix("a b")).contains("prefix"));
        assert!(refused(ClusterConfig::default().with_prefix("a.>")).contains("prefix"));
        assert!(refused(ClusterConfig::default().with_queue_capacity(0)).contains("queue"));
        assert!(refused(
            ClusterConfig::default()
                .with_reconnect_delay(Duration::from_secs(2), Duration::from_secs(1))
        )
        .contains("reconnect"));
    }
}
