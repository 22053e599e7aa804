//! The Redis backend: pub/sub on one connection (SUBSCRIBE/UNSUBSCRIBE, each awaited
//! until the server confirms it), PUBLISH on another.
//!
//! Redis delivers a node's own publishes back to it; the driver drops them by sender.
//! Redis keeps nothing for a subscriber that is away, which is why the driver catches up
//! from the store after a reconnect.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use redis::AsyncConnectionConfig;

use crate::backend::{AbortOnDrop, Backend, ClosedFlag, Inbound, Link};
use crate::config::ClusterConfig;
use crate::driver::ClusterDriver;
use crate::error::{redact, ClusterError};

/// Redis refuses larger values (`proto-max-bulk-len` defaults to 512 MB).
const MAX_PAYLOAD: usize = 512 * 1024 * 1024;

impl ClusterDriver {
    /// Starts a bus over the Redis server at `url` (`redis://[user:password@]host[:port][/db]`).
    ///
    /// Fails if the URL is invalid or the first connection cannot be made; after that, the
    /// bus reconnects by itself for as long as it runs. `rediss://` (TLS) is refused: this
    /// build has no TLS support for Redis.
    pub async fn redis(url: &str, config: ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let (config, node) = config.resolve()?;
        let backend = RedisBackend::new(url, &config)?;
        Self::start(Box::new(backend), config, node).await
    }
}

/// Makes connections to one Redis server.
#[derive(Debug)]
struct RedisBackend {
    client: redis::Client,
    shown: String,
    timeout: Duration,
}

impl RedisBackend {
    fn new(url: &str, config: &ClusterConfig) -> Result<Self, ClusterError> {
        let shown = redact(url);
        if url
            .get(..9)
            .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
        {
            return Err(ClusterError::Unsupported {
                url: shown,
                reason: "TLS to Redis (rediss://) is not built in; use redis:// on a trusted network, or a TLS tunnel".to_owned(),
            });
        }
        let client = redis::Client::open(url).map_err(|e| ClusterError::InvalidUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            client,
            shown,
            timeout: config.subscribe_timeout,
        })
    }
}

fn link_error(e: redis::RedisError) -> ClusterError {
    ClusterError::Link(e.to_string())
}

#[async_trait]
impl Backend for RedisBackend {
    async fn connect(&self, inbound: Inbound) -> Result<Arc<dyn Link>, ClusterError> {
        let pubsub = self.client.get_async_pubsub().await.map_err(link_error)?;
        let (sink, mut stream) = pubsub.split();
        let publisher = self
            .client
            .get_multiplexed_async_connection_with_config(
                &AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout)),
            )
            .await
            .map_err(link_error)?;
        let closed = ClosedFlag::default();
        let reader = {
            let closed = closed.clone();
            tokio::spawn(async move {
                while let Some(message) = stream.next().await {
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    inbound(message.get_channel_name(), payload);
                }
                // The stream ends when the connection does.
                closed.close();
            })
        };
        Ok(Arc::new(RedisLink {
            sink,
            publisher,
            closed,
            _reader: AbortOnDrop(reader),
        }))
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// One pub/sub connection and one connection for PUBLISH.
struct RedisLink {
    sink: PubSubSink,
    publisher: MultiplexedConnection,
    closed: ClosedFlag,
    _reader: AbortOnDrop,
}

#[async_trait]
impl Link for RedisLink {
    async fn subscribe(&self, channel: &str) -> Result<(), ClusterError> {
        // Resolves once the server's confirmation arrived.
        self.sink
            .clone()
            .subscribe(channel)
            .await
            .map_err(link_error)
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), ClusterError> {
        self.sink
            .clone()
            .unsubscribe(channel)
            .await
            .map_err(link_error)
    }

    async fn publish(&self, batch: &[(String, Bytes)]) -> Result<(), ClusterError> {
        let mut pipe = redis::pipe();
        for (channel, payload) in batch {
            pipe.cmd("PUBLISH")
                .arg(channel)
                .arg(payload.as_ref())
                .ignore();
        }
        pipe.query_async::<()>(&mut self.publisher.clone())
            .await
            .map_err(link_error)
    }

    async fn ping(&self) -> Result<(), ClusterError> {
        self.sink
            .clone()
            .ping::<redis::Value>()
            .await
            .map_err(link_error)?;
        redis::cmd("PING")
            .query_async::<redis::Value>(&mut self.publisher.clone())
            .await
            .map(drop)
            .map_err(link_error)
    }

    async fn closed(&self) {
        self.closed.wait().await;
    }

    fn max_payload(&self) -> usize {
        MAX_PAYLOAD
    }
}
