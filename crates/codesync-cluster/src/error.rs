//! The one error type of this crate.

use std::time::Duration;

/// Why a cluster bus could not be set up, or why one of its operations failed.
///
/// Only [`connect`](crate::connect) and the constructors return it to callers; once a bus
/// runs, failures are handled inside it (retried, turned into
/// [`Refresh`](codesync_core::NodeMessage::Refresh) messages) and logged.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The URL's scheme is none of `redis://`, `rediss://`, `nats://` or `memory://`.
    #[error("unknown cluster bus URL {url:?}: expected redis://, nats:// or memory://")]
    UnknownScheme {
        /// The URL, with any password hidden.
        url: String,
    },
    /// The URL needs a backend this build was compiled without.
    #[error("{scheme}:// needs the `{feature}` feature of codesync-cluster, which this build was compiled without")]
    FeatureDisabled {
        /// The URL's scheme.
        scheme: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The URL names something this crate does not support.
    #[error("unsupported cluster bus URL {url:?}: {reason}")]
    Unsupported {
        /// The URL, with any password hidden.
        url: String,
        /// What is not supported.
        reason: String,
    },
    /// The URL could not be parsed.
    #[error("invalid cluster bus URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, with any password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A [`ClusterConfig`](crate::ClusterConfig) value is out of range.
    #[error("invalid cluster configuration: {0}")]
    InvalidConfig(String),
    /// No random node id could be drawn from the operating system.
    #[error("could not draw a random node id: {0}")]
    NodeId(String),
    /// The first connection to the bus failed.
    #[error("could not connect to the cluster bus at {url}: {reason}")]
    Connect {
        /// The URL, with any password hidden.
        url: String,
        /// What the client library said.
        reason: String,
    },
    /// An operation on an established connection failed (the connection is then dropped
    /// and made again).
    #[error("the cluster bus connection failed: {0}")]
    Link(String),
    /// The server did not answer in time.
    #[error("the cluster bus did not answer within {0:?}")]
    Timeout(Duration),
    /// The bus was started outside a tokio runtime, which its background tasks need.
    #[error("a cluster bus must be started within a tokio runtime")]
    NoRuntime,
    /// The connection was closed (or, in memory, cut off).
    #[error("the cluster bus connection is closed")]
    Closed,
}

/// Hides the password (and user) of a URL such as `redis://user:secret@host:6379/0`, so it
/// can be logged or put into an error.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("redis://user:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("not a url"), "not a url");
        assert_eq!(redact("redis://host/a@b"), "redis://host/a@b");
    }
}
