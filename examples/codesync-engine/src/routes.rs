//! The HTTP routes.
//!
//! | route | secret | answer |
//! |---|---|---|
//! | `POST /merge/{session_id}` | yes | body: a Loro update; 200 with the full snapshot |
//! | `GET /version/{session_id}` | yes | the encoded version vector |
//! | `POST /updates-since/{session_id}` | yes | body: an encoded version vector (empty = nothing); the updates its holder lacks |
//! | `GET /healthz` | no | 200 while the process runs |
//! | `GET /readyz` | no | 200 once storage is open and answering; 503 before, when it fails, and while shutting down |
//! | `GET /metrics` | no | Prometheus text format |
//!
//! Every document answer is `application/octet-stream` with an `X-Codesync-Version` header:
//! the hex of the encoded version vector the body corresponds to. The tenant comes from the
//! `X-Codesync-Tenant` header (`default` when absent). Session ids starting with `_` are
//! reserved for server routes; these routes use other prefixes anyway, so no session id
//! can shadow them.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use bytes::Bytes;
use codesync_core::loro::{ExportMode, VersionVector};
use codesync_core::{DocKey, Error, Hub, Origin, SessionId, TenantId};

use crate::auth;
use crate::errors::ApiError;
use crate::metrics;
use crate::state::AppState;

/// The header naming the tenant.
pub(crate) const TENANT_HEADER: &str = "x-codesync-tenant";

/// The header carrying the hex of the encoded version vector of the answer.
pub(crate) const VERSION_HEADER: HeaderName = HeaderName::from_static("x-codesync-version");

/// How long `/readyz` waits for storage to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a read retries after racing with an eviction.
const EVICTION_RETRIES: usize = 8;

/// The whole service.
pub(crate) fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    let documents = Router::new()
        .route("/merge/{session_id}", post(merge))
        .route("/version/{session_id}", get(version))
        .route("/updates-since/{session_id}", post(updates_since))
        // `route_layer`: only matched routes ask for the secret (an unknown path is 404).
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_secret,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes));
    Router::new()
        .merge(documents)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(state)
}

/// Merges an update into the session and answers with the full snapshot. The update is
/// stored (`Origin::Replay`: the engine is the store of record) before the answer.
async fn merge(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let hub = state.hub()?;
    let key = doc_key(&headers, &session_id)?;
    let update = body.map_err(ApiError::body)?;
    let started = Instant::now();
    let applied = hub.apply(&key, &update, Origin::Replay).await?;
    metrics::live_sessions(hub.live_sessions());
    if !applied.durable {
        return Err(ApiError::not_durable(&key));
    }
    metrics::merged(update.len(), applied.update.is_some(), started.elapsed());
    tracing::debug!(%key, bytes = update.len(), new = applied.update.is_some(), "merged");
    let (snapshot, version) = export(hub, &key, ExportMode::Snapshot).await?;
    Ok(octets(snapshot, &version))
}

/// The session's version vector, encoded.
async fn version(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hub = state.hub()?;
    let key = doc_key(&headers, &session_id)?;
    let version = read(hub, &key, |doc| doc.oplog_vv()).await?;
    Ok(octets(Bytes::from(version.encode()), &version))
}

/// What the holder of the version vector in the body lacks, as one Loro update. An empty
/// body stands for the empty version: the answer is then the whole history.
async fn updates_since(
    State(state): State<Arc<AppState>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let hub = state.hub()?;
    let key = doc_key(&headers, &session_id)?;
    let body = body.map_err(ApiError::body)?;
    let since = if body.is_empty() {
        VersionVector::default()
    } else {
        VersionVector::decode(&body).map_err(ApiError::bad_version)?
    };
    let (updates, version) = export(hub, &key, ExportMode::updates(&since)).await?;
    Ok(octets(updates, &version))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    let unavailable = |why: String| (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"));
    if state.is_draining() {
        return unavailable("shutting down".to_owned());
    }
    let Some(hub) = state.try_hub() else {
        return unavailable("storage is not open yet".to_owned());
    };
    match tokio::time::timeout(PROBE_TIMEOUT, hub.storage().list(&state.probe_tenant)).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n".to_owned()),
        Ok(Err(e)) => unavailable(format!("storage is not answering: {e}")),
        Err(_) => unavailable(format!("storage did not answer within {PROBE_TIMEOUT:?}")),
    }
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if let Some(hub) = state.try_hub() {
        metrics::live_sessions(hub.live_sessions());
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
}

/// The document a request addresses: its session id from the path, its tenant from the
/// `X-Codesync-Tenant` header.
fn doc_key(headers: &HeaderMap, session_id: &str) -> Result<DocKey, ApiError> {
    let mut values = headers.get_all(TENANT_HEADER).iter();
    let tenant = match (values.next(), values.next()) {
        (None, _) => TenantId::default_tenant(),
        (Some(value), None) => {
            let text = value
                .to_str()
                .map_err(|_| ApiError::bad_header("X-Codesync-Tenant is not ASCII"))?;
            TenantId::new(text)?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_header(
                "X-Codesync-Tenant must appear at most once",
            ))
        }
    };
    Ok(DocKey::new(tenant, SessionId::new(session_id)?))
}

/// Exports the document and reads its version in one step, so the version header always
/// describes exactly the bytes sent.
async fn export(
    hub: &Hub,
    key: &DocKey,
    mode: ExportMode<'_>,
) -> Result<(Bytes, VersionVector), ApiError> {
    let (exported, version) = read(hub, key, move |doc| (doc.export(mode), doc.oplog_vv())).await?;
    let bytes = exported.map_err(|e| ApiError::export_failed(key, e))?;
    Ok((Bytes::from(bytes), version))
}

/// Runs `f` on the session's document (loading it if needed), retrying if the session is
/// evicted between the lookup and the read.
async fn read<R: Send>(
    hub: &Hub,
    key: &DocKey,
    f: impl FnOnce(&codesync_core::loro::LoroDoc) -> R + Send + Clone,
) -> Result<R, ApiError> {
    for _ in 0..EVICTION_RETRIES {
        let session = hub.session(key).await?;
        match session.read(f.clone()).await {
            Err(Error::Evicted { .. }) => continue,
            other => return Ok(other?),
        }
    }
    Err(Error::Evicted { key: key.clone() }.into())
}

/// A binary answer with its version header.
fn octets(body: Bytes, version: &VersionVector) -> Response {
    let headers = [
        (CONTENT_TYPE, "application/octet-stream".to_owned()),
        (VERSION_HEADER, hex(&version.encode())),
    ];
    (headers, body).into_response()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0a, 0xff]), "000aff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn tenant_defaults_and_is_validated() -> anyhow::Result<()> {
        let mut headers = HeaderMap::new();
        assert_eq!(doc_key(&headers, "main.rs")?.to_string(), "default/main.rs");
        headers.insert(TENANT_HEADER, "acme".parse()?);
        assert_eq!(doc_key(&headers, "main.rs")?.to_string(), "acme/main.rs");
        assert!(doc_key(&headers, "_reserved").is_err());
        headers.insert(TENANT_HEADER, "bad tenant".parse()?);
        assert!(doc_key(&headers, "main.rs").is_err());
        Ok(())
    }
}
