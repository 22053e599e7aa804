//! [`RemoteMerge`]: the engine's HTTP API as a [`Merge`].

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::loro::VersionVector;
use codesync_core::{Applied, DocKey, Merge, Origin, DEFAULT_TENANT};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::cache::DocCache;
use crate::config::RemoteConfig;
use crate::error::{Error, Result};
use crate::loro_io;

/// The backend name in [`codesync_core::Error::Storage`] errors from this crate.
pub(crate) const BACKEND: &str = "remote-engine";

const AUTH_HEADER: &str = "x-internal-auth";
const TENANT_HEADER: &str = "x-codesync-tenant";
const VERSION_HEADER: &str = "x-codesync-version";
const ERROR_HEADER: &str = "x-codesync-error";

/// The longest error message kept from an engine answer.
const MAX_MESSAGE_BYTES: usize = 512;

/// What `POST /merge/{id}` answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Merged {
    /// The document's full snapshot after the merge.
    pub snapshot: Bytes,
    /// The version the snapshot corresponds to (the `X-Codesync-Version` header), when the
    /// engine sent it.
    pub version: Option<VersionVector>,
}

/// The seed's CRDT engine over HTTP, as a [`Merge`]: the remote implementation of the
/// Merge seam.
///
/// | [`Merge`] method | engine route |
/// |---|---|
/// | `merge` | `POST /merge/{id}` (body: the update; the engine answers once it is durable) |
/// | `version` | `GET /version/{id}` |
/// | `missing_for` | `POST /updates-since/{id}` (body: the peer's encoded version) |
/// | `snapshot` | `POST /updates-since/{id}` from the empty version, re-encoded as a snapshot |
///
/// Every document request carries the secret in `X-Internal-Auth` and, outside the
/// default tenant, the tenant in `X-Codesync-Tenant`. Requests time out (see
/// [`RemoteConfig`]). To report which ops a merge added ([`Applied::update`]), it keeps a
/// bounded in-memory cache of the documents it merged into, brought up to the engine's
/// snapshot after each merge; `Applied::durable` is true because the engine answers only
/// once the update is durable.
///
/// Cheap to clone; clones share the connection pool and the cache.
#[derive(Debug, Clone)]
pub struct RemoteMerge {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: RemoteConfig,
    http: reqwest::Client,
    cache: DocCache,
}

impl RemoteMerge {
    /// A client for the engine described by `config`.
    pub fn new(config: RemoteConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(Error::Client)?;
        let cache = DocCache::new(config.cache_capacity);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                cache,
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &RemoteConfig {
        &self.inner.config
    }

    /// `POST /merge/{id}`: merges `update` (a Loro updates blob; the engine refuses
    /// snapshots) and returns the engine's snapshot once the update is durable there.
    pub async fn post_merge(&self, key: &DocKey, update: Bytes) -> Result<Merged> {
        let path = format!("/merge/{}", key.session());
        let (headers, snapshot) = self.send(Method::POST, &path, key, update).await?;
        let version = version_header(&headers, key)?;
        metrics::counter!("codesync_engine_client_merged_total").increment(1);
        Ok(Merged { snapshot, version })
    }

    /// `GET /version/{id}`: the engine's version of the document (empty for a document it
    /// never saw).
    pub async fn fetch_version(&self, key: &DocKey) -> Result<VersionVector> {
        let path = format!("/version/{}", key.session());
        let (_, body) = self.send(Method::GET, &path, key, Bytes::new()).await?;
        VersionVector::decode(&body).map_err(|e| Error::InvalidAnswer {
            what: "version vector",
            key: key.clone(),
            detail: e.to_string(),
        })
    }

    /// `POST /updates-since/{id}`: what a holder of `since` lacks, as one Loro update, with
    /// the version it brings the holder to (when the engine sent it).
    pub async fn fetch_updates_since(
        &self,
        key: &DocKey,
        since: &VersionVector,
    ) -> Result<(Bytes, Option<VersionVector>)> {
        let path = format!("/updates-since/{}", key.session());
        let body = if since.is_empty() {
            Bytes::new()
        } else {
            Bytes::from(since.encode())
        };
        let (headers, updates) = self.send(Method::POST, &path, key, body).await?;
        Ok((updates, version_header(&headers, key)?))
    }

    /// The whole document as a snapshot: every update from the empty version, imported
    /// into a fresh document and exported again.
    pub async fn fetch_snapshot(&self, key: &DocKey) -> Result<Bytes> {
        let (updates, _) = self
            .fetch_updates_since(key, &VersionVector::default())
            .await?;
        loro_io::snapshot_of_updates(&updates).map_err(|detail| Error::InvalidAnswer {
            what: "update",
            key: key.clone(),
            detail,
        })
    }

    /// Whether the engine's `/readyz` answers 200 (no secret needed).
    pub async fn is_ready(&self) -> bool {
        let url = format!("{}/readyz", self.inner.config.base_url());
        match self.inner.http.get(url).send().await {
            Ok(response) => response.status() == StatusCode::OK,
            Err(_) => false,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        key: &DocKey,
        body: Bytes,
    ) -> Result<(HeaderMap, Bytes)> {
        let what = format!("{method} {path}");
        let url = format!("{}{path}", self.inner.config.base_url());
        let mut request = self
            .inner
            .http
            .request(method, url)
            .header(AUTH_HEADER, self.inner.config.secret.expose());
        if key.tenant().as_str() != DEFAULT_TENANT {
            request = request.header(TENANT_HEADER, key.tenant().as_str());
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        metrics::histogram!("codesync_engine_client_request_seconds")
            .record(started.elapsed().as_secs_f64());
        let (status, headers, body) = result.map_err(|source| Error::Unreachable {
            what: what.clone(),
            source,
        })?;
        if status != StatusCode::OK {
            let reason = headers
                .get(ERROR_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Err(Error::Refused {
                what,
                status: status.as_u16(),
                reason,
                message: cut(&String::from_utf8_lossy(&body)),
            });
        }
        Ok((headers, body))
    }
}

#[async_trait]
impl Merge for RemoteMerge {
    async fn merge(
        &self,
        key: &DocKey,
        update: Bytes,
        origin: Origin,
    ) -> codesync_core::Result<Applied> {
        let merged = self
            .post_merge(key, update)
            .await
            .map_err(|e| e.into_core(key))?;
        self.inner
            .cache
            .catch_up(key, &merged.snapshot, origin)
            .await
            .map_err(|e| e.into_core(key))
    }

    async fn version(&self, key: &DocKey) -> codesync_core::Result<VersionVector> {
        self.fetch_version(key).await.map_err(|e| e.into_core(key))
    }

    async fn missing_for(
        &self,
        key: &DocKey,
        peer_version: &VersionVector,
    ) -> codesync_core::Result<Bytes> {
        self.fetch_updates_since(key, peer_version)
            .await
            .map(|(updates, _)| updates)
            .map_err(|e| e.into_core(key))
    }

    async fn snapshot(&self, key: &DocKey) -> codesync_core::Result<Bytes> {
        self.fetch_snapshot(key).await.map_err(|e| e.into_core(key))
    }
}

/// The version named by the `X-Codesync-Version` header: `None` when absent, an error when
/// malformed.
fn version_header(headers: &HeaderMap, key: &DocKey) -> Result<Option<VersionVector>> {
    let Some(value) = headers.get(VERSION_HEADER) else {
        return Ok(None);
    };
    let invalid = |detail: String| Error::InvalidAnswer {
        what: "version vector",
        key: key.clone(),
        detail,
    };
    let text = value
        .to_str()
        .map_err(|_| invalid("the version header is not ASCII".to_owned()))?;
    let bytes = unhex(text).ok_or_else(|| invalid("the version header is not hex".to_owned()))?;
    VersionVector::decode(&bytes)
        .map(Some)
        .map_err(|e| invalid(e.to_string()))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

fn cut(text: &str) -> String {
    let text = text.trim();
    if text.len() <= MAX_MESSAGE_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decodes_strictly() {
        assert_eq!(unhex("000aff"), Some(vec![0, 10, 255]));
        assert_eq!(unhex(""), Some(vec![]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é1"), None);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(400);
        let shown = cut(&long);
        assert!(shown.len() <= MAX_MESSAGE_BYTES + 3);
        assert!(shown.ends_with('…'));
    }
}
