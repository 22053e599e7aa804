//! The HTTP routes: the session URL (WebSocket) and the gateway's own routes under the
//! reserved `/_/` prefix, which no session id can take.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use codesync_core::{Hub, TenantId};
use codesync_merge_remote::EngineSync;
use codesync_transport_ws::WsEndpoint;
use metrics_exporter_prometheus::PrometheusHandle;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) hub: Hub,
    pub(crate) sync: EngineSync,
    pub(crate) endpoint: WsEndpoint,
    pub(crate) metrics: PrometheusHandle,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/_/healthz", get(|| async { "ok\n" }))
        .route("/_/readyz", get(ready))
        .route("/_/metrics", get(metrics))
        .route("/{session}", get(session))
        .with_state(state)
}

/// A WebSocket upgrade joins the session (after the rate limit, origin and path checks);
/// the page itself is served elsewhere, so a plain request is told to upgrade.
async fn session(State(state): State<AppState>, request: Request) -> Response {
    match state.endpoint.upgrade(request).await {
        Some(response) => response,
        None => (
            StatusCode::UPGRADE_REQUIRED,
            "this is the codesync gateway: connect a WebSocket (Loro protocol v1) here\n",
        )
            .into_response(),
    }
}

/// Ready once the gateway's own store answers. The engine's state is reported but does
/// not decide: while it is down the gateway keeps serving and replays later.
async fn ready(State(state): State<AppState>) -> Response {
    let engine = if state.sync.engine_up() {
        "up"
    } else {
        "down (merging in-process; replaying when it is back)"
    };
    match state.hub.storage().list(&TenantId::default_tenant()).await {
        Ok(_) => format!("ready; engine {engine}\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the gateway's store is not answering: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> String {
    metrics::gauge!("codesync_sessions_live").set(state.hub.live_sessions() as f64);
    metrics::gauge!("codesync_sessions_connected").set(state.hub.connected_sessions() as f64);
    state.metrics.render()
}
