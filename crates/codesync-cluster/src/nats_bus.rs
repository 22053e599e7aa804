//! The NATS backend: one subscription per session subject, on one connection.
//!
//! `async_nats::Client::flush` only writes the client's buffer to the socket; it does not
//! wait for the server. So a subscription (or a batch of publishes) is confirmed with a
//! round trip instead: a request to a subject nobody serves, which the server answers
//! with "no responders" only after it has processed everything sent before it on this
//! connection. The client's own reconnecting is reduced to a minimum; the connection
//! events tell the driver the connection is gone, and the driver makes a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::{Client, ConnectOptions, Event};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::backend::{AbortOnDrop, Backend, ClosedFlag, Inbound, Link};
use crate::config::ClusterConfig;
use crate::driver::ClusterDriver;
use crate::error::{redact, ClusterError};

impl ClusterDriver {
    /// Starts a bus over the NATS server at `url` (`nats://[user:password@]host[:port]`).
    ///
    /// Fails if the first connection cannot be made; after that, the bus reconnects by
    /// itself for as long as it runs.
    pub async fn nats(url: &str, config: ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let (config, node) = config.resolve()?;
        let backend = NatsBackend {
            url: url.to_owned(),
            shown: redact(url),
            timeout: config.subscribe_timeout,
            connect_timeout: config.connect_timeout,
            ping_interval: config.ping_interval,
            ping_subject: format!("{}._ping.{:016x}", config.prefix, node.0),
        };
        Self::start(Box::new(backend), config, node).await
    }
}

/// Makes connections to one NATS server.
#[derive(Debug)]
struct NatsBackend {
    url: String,
    shown: String,
    timeout: Duration,
    connect_timeout: Duration,
    ping_interval: Duration,
    /// Where round-trip requests go; nobody subscribes to it.
    ping_subject: String,
}

#[async_trait]
impl Backend for NatsBackend {
    async fn connect(&self, inbound: Inbound) -> Result<Arc<dyn Link>, ClusterError> {
        let closed = ClosedFlag::default();
        let on_event = closed.clone();
        let options = ConnectOptions::new()
            // This node's messages are of no use to itself.
            .no_echo()
            // One quick try at most: a lost connection is the driver's to make again
            // (with its backoff, resubscriptions and catch-up).
            .max_reconnects(1)
            .reconnect_delay_callback(|_| Duration::ZERO)
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(self.timeout))
            .ping_interval(self.ping_interval)
            .event_callback(move |event| {
                let closed = on_event.clone();
                async move {
                    match event {
                        Event::Disconnected | Event::Closed => closed.close(),
                        // The client dropped messages it had no room for: catch up.
                        Event::SlowConsumer(_) => {
                            tracing::warn!("NATS dropped messages for a slow consumer; reconnecting to catch up");
                            closed.close();
                        }
                        other => tracing::debug!(event = %other, "NATS connection event"),
                    }
                }
            });
        let client = async_nats::connect_with_options(self.url.as_str(), options)
            .await
            .map_err(|e| ClusterError::Link(e.to_string()))?;
        Ok(Arc::new(NatsLink {
            client,
            inbound,
            closed,
            ping_subject: self.ping_subject.clone(),
            subscriptions: Mutex::new(HashMap::new()),
        }))
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// One NATS connection and its subscriptions, each drained by a task of its own.
struct NatsLink {
    client: Client,
    inbound: Inbound,
    closed: ClosedFlag,
    ping_subject: String,
    subscriptions: Mutex<HashMap<String, AbortOnDrop>>,
}

impl NatsLink {
    fn subscriptions(&self) -> MutexGuard<'_, HashMap<String, AbortOnDrop>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns once the server has processed everything this connection sent before.
    async fn round_trip(&self) -> Result<(), ClusterError> {
        match self
            .client
            .request(self.ping_subject.clone(), Bytes::new())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
            Err(e) => Err(ClusterError::Link(format!("round trip failed: {e}"))),
        }
    }
}

#[async_trait]
impl Link for NatsLink {
    async fn subscribe(&self, channel: &str) -> Result<(), ClusterError> {
        if !self.subscriptions().contains_key(channel) {
            let mut subscriber = self
                .client
                .subscribe(channel.to_owned())
                .await
                .map_err(|e| ClusterError::Link(format!("subscribe failed: {e}")))?;
            let inbound = self.inbound.clone();
            let reader = tokio::spawn(async move {
                while let Some(message) = subscriber.next().await {
                    inbound(message.subject.as_str(), message.payload);
                }
            });
            self.subscriptions()
                .insert(channel.to_owned(), AbortOnDrop(reader));
        }
        self.round_trip().await
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), ClusterError> {
        // Dropping the subscriber (with its task) unsubscribes.
        let removed = self.subscriptions().remove(channel);
        drop(removed);
        Ok(())
    }

    async fn publish(&self, batch: &[(String, Bytes)]) -> Result<(), ClusterError> {
        for (channel, payload) in batch {
            self.client
                .publish(channel.clone(), payload.clone())
                .await
                .map_err(|e| ClusterError::Link(format!("publish failed: {e}")))?;
        }
        self.round_trip().await
    }

    async fn ping(&self) -> Result<(), ClusterError> {
        self.round_trip().await
    }

    async fn closed(&self) {
        self.closed.wait().await;
    }

    fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }
}
