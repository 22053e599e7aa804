//! Settings of the WebSocket endpoint.

use std::time::Duration;

use codesync_core::TenantId;

use crate::protocol;

/// How the endpoint behaves toward each connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// Protocol limits: frame size, room id length, fragment counts and timeout.
    pub protocol: protocol::Limits,
    /// A connection that has not joined a room this long after connecting is closed.
    pub join_deadline: Duration,
    /// Messages queued for one client before it is considered not to be reading and is
    /// disconnected (it reconnects and resyncs; it is never silently skipped).
    pub outbound_queue: usize,
    /// Sustained messages per second one connection may send.
    pub messages_per_second: f64,
    /// Messages one connection may send in a burst above that rate.
    pub message_burst: f64,
    /// Rooms one connection may be in at once (each pins a live session).
    pub max_rooms: usize,
    /// A connection that sends nothing for this long is closed (the official client pings
    /// every 20 s, so a live one never goes quiet this long).
    pub idle_timeout: Duration,
    /// Bytes queued for one client before it is considered not to be reading.
    pub outbound_bytes: usize,
    /// Close every connection after this long, whatever its traffic, as a proxy's request
    /// timeout does (Cloud Run: 3600 s). `None`: never. Clients reconnect and resync.
    pub max_connection_age: Option<Duration>,
    /// The tenant every room of this endpoint belongs to.
    pub tenant: TenantId,
    /// Updates one connection may have refused as invalid or unsafe before it is closed:
    /// a client that keeps sending bytes that do not decode, or that the untrusted-input
    /// guard refuses, is probing the server rather than editing.
    pub max_refused_updates: u32,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            protocol: protocol::Limits::default(),
            join_deadline: Duration::from_secs(10),
            outbound_queue: 1024,
            messages_per_second: 20.0,
            message_burst: 60.0,
            max_rooms: 32,
            idle_timeout: Duration::from_secs(90),
            outbound_bytes: 16 * 1024 * 1024,
            max_connection_age: None,
            tenant: TenantId::default_tenant(),
            max_refused_updates: 5,
        }
    }
}

impl ConnectionConfig {
    /// Closes a connection once this many of its updates were refused as invalid or
    /// unsafe (at least 1).
    pub fn with_max_refused_updates(mut self, updates: u32) -> Self {
        self.max_refused_updates = updates.max(1);
        self
    }

    /// Serves rooms of `tenant` instead of the default tenant.
    pub fn with_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = tenant;
        self
    }

    /// Sets the join deadline.
    pub fn with_join_deadline(mut self, deadline: Duration) -> Self {
        self.join_deadline = deadline;
        self
    }

    /// Sets the outbound queue length.
    pub fn with_outbound_queue(mut self, messages: usize) -> Self {
        self.outbound_queue = messages.max(1);
        self
    }

    /// Sets the per-connection message rate and burst.
    pub fn with_message_rate(mut self, per_second: f64, burst: f64) -> Self {
        self.messages_per_second = per_second;
        self.message_burst = burst;
        self
    }

    /// Sets how many rooms one connection may be in at once.
    pub fn with_max_rooms(mut self, rooms: usize) -> Self {
        self.max_rooms = rooms;
        self
    }

    /// Sets the idle timeout.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets how many bytes may wait in one client's outbound queue.
    pub fn with_outbound_bytes(mut self, bytes: usize) -> Self {
        self.outbound_bytes = bytes.max(1);
        self
    }

    /// Closes connections after `age` (see [`max_connection_age`](Self::max_connection_age)).
    pub fn with_max_connection_age(mut self, age: Duration) -> Self {
        self.max_connection_age = Some(age);
        self
    }

    /// Sets the protocol limits.
    pub fn with_protocol_limits(mut self, limits: protocol::Limits) -> Self {
        self.protocol = limits;
        self
    }
}
