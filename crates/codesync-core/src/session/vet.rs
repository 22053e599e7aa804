//! Trying a peer's update with the session's [`UpdateGuard`] before the live document sees
//! it.

use std::time::Instant;

use loro::ExportMode;

use super::state::DocState;
use crate::blob::{self, BlobKind};
use crate::doc_guard::Panicked;
use crate::error::{Error, Result};
use crate::guard::{GuardRequest, UpdateGuard, Verdict};
use crate::key::DocKey;

/// Asks the guard about `update`, sending it a snapshot of the live document if it has no
/// copy at the current version. `Err(Panicked)` means reading the live document panicked
/// (the caller must reload it); the inner error is the refusal to report.
pub(super) async fn vet_update(
    guard: &dyn UpdateGuard,
    key: &DocKey,
    state: &mut DocState,
    update: &[u8],
) -> Result<Result<()>, Panicked> {
    if blob::kind(update) != BlobKind::Updates {
        // Refused by the import's own header check; nothing to try out of process.
        return Ok(Ok(()));
    }
    let started = Instant::now();
    let base_version = state.read(|d| d.oplog_vv())?;
    let request = GuardRequest {
        key,
        base_version: &base_version,
        base: None,
        update,
    };
    let mut verdict = guard.check_update(request).await;
    if verdict == Verdict::NeedBase {
        let snapshot = match state.read(|d| d.export(ExportMode::Snapshot))? {
            Ok(snapshot) => snapshot,
            Err(e) => {
                return Ok(Err(Error::GuardUnavailable {
                    key: key.clone(),
                    detail: format!("could not snapshot the live document for the guard: {e}"),
                }))
            }
        };
        let request = GuardRequest {
            base: Some(&snapshot),
            ..request
        };
        verdict = guard.check_update(request).await;
    }
    metrics::histogram!("codesync_guard_seconds").record(started.elapsed().as_secs_f64());
    Ok(refusal(key, verdict))
}

fn refusal(key: &DocKey, verdict: Verdict) -> Result<()> {
    let key = key.clone();
    match verdict {
        Verdict::Safe => Ok(()),
        Verdict::MissingDependencies => Err(Error::MissingDependencies { key }),
        Verdict::Invalid(reason) => Err(Error::InvalidUpdate { key, reason }),
        Verdict::Unsafe(reason) => {
            tracing::warn!(%key, %reason, "refused an unsafe update");
            Err(Error::UnsafeUpdate { key, reason })
        }
        Verdict::Unavailable(detail) => Err(Error::GuardUnavailable { key, detail }),
        Verdict::NeedBase => Err(Error::GuardUnavailable {
            key,
            detail: "the guard asked for a base twice".to_owned(),
        }),
    }
}
