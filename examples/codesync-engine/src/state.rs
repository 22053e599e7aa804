//! What every handler shares: the secret, the hub once storage is open, and whether the
//! engine is shutting down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use codesync_core::{Hub, TenantId};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::Secret;
use crate::errors::ApiError;

/// A tenant no gateway uses, listed by `/readyz` to prove storage answers (listing an
/// unused tenant reads an index and returns nothing, however many documents exist).
const PROBE_TENANT: &str = "codesync-engine-readyz-probe";

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) secret: Secret,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) probe_tenant: TenantId,
    /// Set once storage is open: the engine listens (and answers `/healthz`) before that.
    hub: OnceLock<Hub>,
    draining: AtomicBool,
}

impl AppState {
    pub(crate) fn new(secret: Secret, metrics: PrometheusHandle) -> anyhow::Result<Self> {
        Ok(Self {
            secret,
            metrics,
            probe_tenant: TenantId::new(PROBE_TENANT)?,
            hub: OnceLock::new(),
            draining: AtomicBool::new(false),
        })
    }

    /// The hub, or 503 while storage is not open yet.
    pub(crate) fn hub(&self) -> Result<&Hub, ApiError> {
        self.hub.get().ok_or_else(ApiError::not_ready)
    }

    /// The hub if storage is open.
    pub(crate) fn try_hub(&self) -> Option<&Hub> {
        self.hub.get()
    }

    /// Makes the engine ready: called once, when storage has opened.
    pub(crate) fn set_hub(&self, hub: Hub) {
        if self.hub.set(hub).is_err() {
            tracing::error!("storage opened twice; keeping the first");
        }
    }

    /// From now on `/readyz` answers 503, so load balancers stop sending requests.
    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}
