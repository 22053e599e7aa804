//! How refusals and failures become HTTP responses.
//!
//! Every error answer is `text/plain` with a sentence saying what went wrong, plus a
//! machine-readable `X-Codesync-Error` header (the same word as the `reason` label of the
//! `codesync_engine_rejections_total` counter), so a gateway can branch without parsing
//! prose: for example `missing-dependencies` means "resync, then resend".

use axum::extract::rejection::BytesRejection;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use codesync_core::{DocKey, Error};

use crate::metrics;

/// The header naming the kind of error.
pub(crate) const ERROR_HEADER: HeaderName = HeaderName::from_static("x-codesync-error");

/// A refused or failed request.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    /// The secret was missing or wrong.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong X-Internal-Auth secret",
        )
    }

    /// Storage is not open yet (or any more).
    pub(crate) fn not_ready() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "storage is not open yet; retry shortly",
        )
    }

    /// The update was merged in memory but could not be made durable.
    pub(crate) fn not_durable(key: &DocKey) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-durable",
            format!(
                "the update was merged into {key} but is not durable yet (storage failed); \
                 resend it later (resending a merged update is harmless)"
            ),
        )
    }

    /// A header was malformed.
    pub(crate) fn bad_header(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-header", message)
    }

    /// The body of `/updates-since` is not an encoded version vector.
    pub(crate) fn bad_version(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-version",
            format!("the body is not an encoded Loro version vector: {detail}"),
        )
    }

    /// Loro could not export what was asked.
    pub(crate) fn export_failed(key: &DocKey, detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export-failed",
            format!("could not export {key}: {detail}"),
        )
    }

    /// The body could not be read (too large, or the connection failed).
    pub(crate) fn body(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body-too-large"
        } else {
            "invalid-body"
        };
        Self::new(status, reason, rejection.body_text())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let (status, reason) = match &error {
            Error::InvalidId { .. } => (StatusCode::BAD_REQUEST, "invalid-id"),
            Error::InvalidUpdate { .. } => (StatusCode::BAD_REQUEST, "invalid-update"),
            Error::MissingDependencies { .. } => (StatusCode::BAD_REQUEST, "missing-dependencies"),
            Error::ImportPanicked { .. } => (StatusCode::BAD_REQUEST, "import-panicked"),
            Error::DocumentTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "document-too-large"),
            Error::PermissionDenied { .. } => (StatusCode::FORBIDDEN, "permission-denied"),
            Error::CorruptDocument { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "corrupt-document")
            }
            Error::Storage { .. } => (StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable"),
            Error::Evicted { .. } | Error::TooManyConnectedSessions { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "busy")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match &error {
            Error::InvalidUpdate { .. } => format!("corrupt update bytes: {error}"),
            Error::MissingDependencies { .. } => format!("missing dependencies: {error}"),
            _ => error.to_string(),
        };
        Self::new(status, reason, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::rejected(self.reason);
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, reason = self.reason, "{}", self.message);
        } else {
            tracing::debug!(status = %self.status, reason = self.reason, "{}", self.message);
        }
        let headers = [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (ERROR_HEADER, self.reason),
        ];
        (self.status, headers, format!("{}\n", self.message)).into_response()
    }
}
