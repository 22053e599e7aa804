//! Counters and histograms, through the `metrics` facade: the embedding application
//! chooses the exporter (the example servers expose Prometheus at `/_/metrics`).
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `codesync_updates_merged_total` | counter | updates that added ops |
//! | `codesync_update_bytes_total` | counter | bytes of updates accepted |
//! | `codesync_updates_rejected_total{reason}` | counter | refused updates, by error kind |
//! | `codesync_merge_seconds` | histogram | time to merge (and store) one update |
//! | `codesync_persist_seconds` | histogram | time for storage to make one append durable |
//! | `codesync_guard_seconds` | histogram | time the untrusted-input guard took to check one update |
//! | `codesync_load_failures_total` | counter | session loads that failed on what storage holds |
//! | `codesync_sessions_quarantined_total` | counter | sessions quarantined after repeated failed loads |
//! | `codesync_sessions_quarantined` | gauge | sessions quarantined now |

use std::time::Duration;

use crate::error::{Error, Result};
use crate::session::Applied;

pub(crate) fn record_apply(result: &Result<Applied>, bytes: usize, took: Duration) {
    metrics::histogram!("codesync_merge_seconds").record(took.as_secs_f64());
    match result {
        Ok(applied) => {
            metrics::counter!("codesync_update_bytes_total").increment(bytes as u64);
            if applied.update.is_some() {
                metrics::counter!("codesync_updates_merged_total").increment(1);
            }
        }
        Err(e) => {
            metrics::counter!("codesync_updates_rejected_total", "reason" => reason(e))
                .increment(1);
        }
    }
}

pub(crate) fn record_persist(took: Duration) {
    metrics::histogram!("codesync_persist_seconds").record(took.as_secs_f64());
}

/// A short, stable label per error kind (bounded cardinality).
pub(crate) fn reason(error: &Error) -> &'static str {
    match error {
        Error::InvalidId { .. } => "invalid_id",
        Error::InvalidUpdate { .. } => "invalid_update",
        Error::MissingDependencies { .. } => "missing_dependencies",
        Error::DocumentTooLarge { .. } => "document_too_large",
        Error::PresenceTooLarge { .. } => "presence_too_large",
        Error::InvalidPresence { .. } => "invalid_presence",
        Error::PresenceKeyTaken { .. } => "presence_key_taken",
        Error::TooManyPresenceKeys { .. } => "too_many_presence_keys",
        Error::ImportPanicked { .. } => "import_panicked",
        Error::UnsafeUpdate { .. } => "unsafe_update",
        Error::GuardUnavailable { .. } => "guard_unavailable",
        Error::Quarantined { .. } => "quarantined",
        Error::PermissionDenied { .. } => "permission_denied",
        Error::CorruptDocument { .. } => "corrupt_document",
        Error::TooManyConnectedSessions { .. } => "too_many_connected_sessions",
        Error::Evicted { .. } => "evicted",
        Error::Storage { .. } => "storage",
    }
}
