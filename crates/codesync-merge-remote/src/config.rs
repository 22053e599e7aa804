//! How to reach the engine: its URL, the shared secret, timeouts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// The shortest secret accepted (the engine refuses to start with a shorter one).
pub const MIN_SECRET_BYTES: usize = 16;

/// The secret sent in `X-Internal-Auth`. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

impl Secret {
    /// Checks that `secret` can serve: at least [`MIN_SECRET_BYTES`] long and printable
    /// ASCII without spaces (so it survives as an HTTP header value), the engine's rules.
    pub fn new(secret: impl Into<String>) -> Result<Self> {
        let secret = secret.into();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(Error::InvalidSecret {
                reason: "it must be at least 16 bytes long",
            });
        }
        if !secret.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(Error::InvalidSecret {
                reason: "it must be printable ASCII without spaces",
            });
        }
        Ok(Self(Arc::from(secret)))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// Where the engine is and how long to wait for it.
///
/// ```
/// use std::time::Duration;
/// use codesync_merge_remote::{RemoteConfig, Secret};
/// let config = RemoteConfig::new("http://127.0.0.1:8090", Secret::new("0123456789abcdef")?)?
///     .with_request_timeout(Duration::from_secs(5));
/// assert_eq!(config.base_url(), "http://127.0.0.1:8090");
/// # Ok::<(), codesync_merge_remote::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    base_url: String,
    pub(crate) secret: Secret,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) cache_capacity: usize,
}

impl RemoteConfig {
    /// The engine at `base_url` (`http://HOST[:PORT][/prefix]`; `https://` needs the `tls`
    /// feature), authenticated with `secret`.
    pub fn new(base_url: &str, secret: Secret) -> Result<Self> {
        let invalid = |reason| Error::InvalidUrl {
            url: base_url.to_owned(),
            reason,
        };
        let rest = if let Some(rest) = base_url.strip_prefix("http://") {
            rest
        } else if let Some(rest) = base_url.strip_prefix("https://") {
            if !cfg!(feature = "tls") {
                return Err(invalid(
                    "https needs codesync-merge-remote's `tls` feature (codesync-gateway: \
                     build with `--features tls`)",
                ));
            }
            rest
        } else {
            return Err(invalid("it must start with http:// or https://"));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("it names no host"));
        }
        if rest.contains(['?', '#']) {
            return Err(invalid("it must not carry a query or fragment"));
        }
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            cache_capacity: 1000,
        })
    }

    /// The engine's URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How long one request may take from start to the end of the answer (default 10 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long establishing a connection may take (default 2 s): a dead engine is noticed
    /// this fast.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many documents [`RemoteMerge`](crate::RemoteMerge) caches to report what each
    /// merge added (default 1000).
    pub fn with_cache_capacity(mut self, documents: usize) -> Self {
        self.cache_capacity = documents.max(1);
        self
    }
}

/// How [`EngineSync`](crate::EngineSync) retries and probes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncConfig {
    /// The first wait before probing a down engine again; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait between probes of a down engine.
    pub max_backoff: Duration,
    /// How many sessions are replayed to the engine at once after it comes back.
    pub replay_concurrency: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            replay_concurrency: 8,
        }
    }
}

impl SyncConfig {
    /// Sets the probe backoff: the first wait and the longest.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial.max(Duration::from_millis(1));
        self.max_backoff = max.max(self.initial_backoff);
        self
    }

    /// Sets how many sessions are replayed at once.
    pub fn with_replay_concurrency(mut self, sessions: usize) -> Self {
        self.replay_concurrency = sessions.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_follow_the_engine_rules_and_never_show() -> Result<()> {
        assert!(Secret::new("short").is_err());
        assert!(Secret::new("has a space in it somewhere").is_err());
        let secret = Secret::new("0123456789abcdef")?;
        assert!(!format!("{secret:?}").contains("0123"));
        Ok(())
    }

    #[test]
    fn urls_are_checked_and_trimmed() -> Result<()> {
        let secret = Secret::new("0123456789abcdef")?;
        let config = RemoteConfig::new("http://engine:8090/", secret.clone())?;
        assert_eq!(config.base_url(), "http://engine:8090");
        for bad in [
            "engine:8090",
            "ftp://x",
            "http://",
            "http:///x",
            "http://x/?a=1",
        ] {
            assert!(RemoteConfig::new(bad, secret.clone()).is_err(), "{bad}");
        }
        Ok(())
    }
}
