//! The HTTP routes: the session URL (WebSocket or page) and the server's own routes under
//! the reserved `/_/` prefix, which no session id can take.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use codesync_core::{Hub, SessionId};
use codesync_transport_ws::WsEndpoint;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::services::ServeDir;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) hub: Hub,
    pub(crate) endpoint: WsEndpoint,
    pub(crate) metrics: PrometheusHandle,
    /// The editor page's index.html, when the page is built.
    pub(crate) editor: Option<Arc<str>>,
}

/// The routes. The editor's assets are served from `web_dir` under `/_/assets/`.
pub(crate) fn router(state: AppState, web_dir: &FsPath) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/welcome") }))
        .route("/_/healthz", get(|| async { "ok" }))
        .route("/_/readyz", get(ready))
        .route("/_/metrics", get(metrics))
        .nest_service("/_/assets", ServeDir::new(web_dir.join("assets")))
        .route("/{session}", get(session))
        .with_state(state)
}

/// A WebSocket upgrade joins the session; a plain request gets its page.
async fn session(
    State(state): State<AppState>,
    Path(session): Path<String>,
    request: Request,
) -> Response {
    if let Some(response) = state.endpoint.upgrade(request).await {
        return response;
    }
    match (SessionId::new(&session), &state.editor) {
        (Ok(_), Some(editor)) => Html(editor.to_string()).into_response(),
        (Ok(id), None) => Html(crate::page::session_page(id.as_str())).into_response(),
        (Err(e), _) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

/// Ready once storage answers.
async fn ready(State(state): State<AppState>) -> Response {
    match state
        .hub
        .storage()
        .list(&codesync_core::TenantId::default_tenant())
        .await
    {
        Ok(_) => "ready".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> String {
    metrics::gauge!("codesync_sessions_live").set(state.hub.live_sessions() as f64);
    metrics::gauge!("codesync_sessions_connected").set(state.hub.connected_sessions() as f64);
    state.metrics.render()
}
