//! Checks made on every HTTP request before it may become a WebSocket, shared by the
//! standalone server and the axum handler.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::ConnectionConfig;
use crate::security::{ClientIp, IpRateLimiter, OriginPolicy, RateDecision, RateLimitConfig};

/// Settings of a WebSocket endpoint: the connection loop's, plus the checks made before the
/// upgrade.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// How each connection behaves once upgraded.
    pub connection: ConnectionConfig,
    /// Which browser origins may connect.
    pub origins: OriginPolicy,
    /// The per-IP request budget (default 1000 per minute, then a 10-minute block).
    pub rate_limit: RateLimitConfig,
    /// Where the client's IP comes from (the socket, or a trusted proxy's header).
    pub client_ip: ClientIp,
    /// The HTTP upgrade must complete within this time (standalone server; in axum, the
    /// server's own settings apply).
    pub handshake_timeout: Duration,
    /// Open connections across the endpoint (each may pin sessions in memory).
    pub max_connections: usize,
    /// Open connections from one IP address.
    pub max_connections_per_ip: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            connection: ConnectionConfig::default(),
            origins: OriginPolicy::any(),
            rate_limit: RateLimitConfig::default(),
            client_ip: ClientIp::socket_only(),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_ip: 64,
        }
    }
}

impl EndpointConfig {
    /// Sets the connection settings.
    pub fn with_connection(mut self, connection: ConnectionConfig) -> Self {
        self.connection = connection;
        self
    }

    /// Sets the origin allow-list.
    pub fn with_origins(mut self, origins: OriginPolicy) -> Self {
        self.origins = origins;
        self
    }

    /// Sets the per-IP rate limit.
    pub fn with_rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets where the client IP comes from.
    pub fn with_client_ip(mut self, client_ip: ClientIp) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// Sets the connection caps: across the endpoint, and per IP address.
    pub fn with_max_connections(mut self, total: usize, per_ip: usize) -> Self {
        self.max_connections = total;
        self.max_connections_per_ip = per_ip;
        self
    }

    /// Sets the handshake deadline.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
}

/// Why an upgrade request was refused, as an HTTP status and a short reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
}

/// The shared state of one endpoint.
#[derive(Debug)]
pub(crate) struct Gate {
    pub(crate) config: EndpointConfig,
    pub(crate) connection: Arc<ConnectionConfig>,
    limiter: IpRateLimiter,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One open connection counted against the caps; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.gate.open_connections();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    pub(crate) fn new(config: EndpointConfig) -> Self {
        Self {
            connection: Arc::new(config.connection.clone()),
            limiter: IpRateLimiter::new(config.rate_limit.clone()),
            open: Mutex::new(OpenConnections::default()),
            config,
        }
    }

    fn open_connections(&self) -> std::sync::MutexGuard<'_, OpenConnections> {
        // Plain counters; a poisoned lock is still consistent.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a place for a new connection from `ip`, or refuses (503) when the endpoint or
    /// that address is at its cap.
    pub(crate) fn open_connection(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let mut open = self.open_connections();
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        if open.total >= self.config.max_connections
            || from_ip >= self.config.max_connections_per_ip
        {
            return Err(Refusal {
                status: 503,
                reason: "too many open connections",
            });
        }
        open.total += 1;
        *open.per_ip.entry(ip).or_default() += 1;
        Ok(ConnectionSlot {
            gate: self.clone(),
            ip,
        })
    }

    /// The client's IP, from the socket or the trusted proxy's header.
    pub(crate) fn client_ip(&self, peer: &SocketAddr, forwarded: Option<&str>) -> IpAddr {
        self.config.client_ip.resolve(peer, forwarded)
    }

    /// The header the trusted proxy sets, if any.
    pub(crate) fn forwarded_header(&self) -> Option<&'static str> {
        self.config.client_ip.header_name()
    }

    /// Counts one request against the IP's budget.
    pub(crate) fn admit_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        // tokio's clock, so tests can pause and advance it through a 10-minute block.
        match self
            .limiter
            .check(ip, tokio::time::Instant::now().into_std())
        {
            RateDecision::Allowed => Ok(()),
            _ => Err(Refusal {
                status: 429,
                reason: "too many requests from this address",
            }),
        }
    }

    /// Checks the Origin header and that the path names a session (`/<SESSION_ID>`).
    pub(crate) fn admit_upgrade(&self, origin: Option<&str>, path: &str) -> Result<(), Refusal> {
        self.config
            .origins
            .check(origin)
            .map_err(|refusal| Refusal {
                status: 403,
                reason: refusal.reason(),
            })?;
        let session = path.strip_prefix('/').unwrap_or(path);
        codesync_core::SessionId::new(session).map_err(|_| Refusal {
            status: 404,
            reason: "the path must name a session: /<SESSION_ID>",
        })?;
        Ok(())
    }
}
