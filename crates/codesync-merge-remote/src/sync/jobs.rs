//! The two things the sync does to one session: forward new updates, and reconcile
//! (pull what the engine has that the hub lacks, push what the engine lacks).

use bytes::Bytes;
use codesync_core::loro::VersionVector;
use codesync_core::{DocKey, Hub, Merge, Origin};

use crate::error::Error;
use crate::remote::RemoteMerge;

/// Work for one session; at most one runs per session at a time.
#[derive(Debug)]
pub(super) enum Job {
    /// Send these updates (in merge order). `engine_version` is what the engine was last
    /// known to hold, used to coalesce several updates into one request.
    Forward {
        updates: Vec<Bytes>,
        engine_version: Option<VersionVector>,
    },
    /// Pull, then push exactly what the engine lacks.
    Reconcile,
}

impl Job {
    pub(super) fn is_reconcile(&self) -> bool {
        matches!(self, Job::Reconcile)
    }
}

/// How a job ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// The engine holds everything the job was about; its version, when known.
    Synced(Option<VersionVector>),
    /// The engine could not be used: mark the session for replay.
    Unavailable(Error),
    /// The engine lacks changes the update builds on: reconcile the session.
    Resync,
    /// Refused for good, or a local failure: logged, and not retried until more work comes.
    Failed(Error),
}

fn classify(error: Error) -> Outcome {
    if error.is_unavailable() {
        Outcome::Unavailable(error)
    } else if error.is_missing_dependencies() {
        Outcome::Resync
    } else {
        Outcome::Failed(error)
    }
}

pub(super) async fn run(remote: RemoteMerge, hub: Hub, key: DocKey, job: Job) -> Outcome {
    let outcome = match job {
        Job::Forward {
            updates,
            engine_version,
        } => forward(&remote, &hub, &key, updates, engine_version).await,
        Job::Reconcile => reconcile(&remote, &hub, &key).await,
    };
    outcome.unwrap_or_else(|outcome| outcome)
}

async fn forward(
    remote: &RemoteMerge,
    hub: &Hub,
    key: &DocKey,
    updates: Vec<Bytes>,
    mut engine_version: Option<VersionVector>,
) -> Result<Outcome, Outcome> {
    if let (true, Some(known)) = (updates.len() > 1, &engine_version) {
        // Several updates queued while the previous request ran: send what the engine
        // lacks in one request instead (the hub has every one of them merged).
        let update = hub
            .missing_for(key, known)
            .await
            .map_err(|e| Outcome::Failed(e.into()))?;
        let merged = remote.post_merge(key, update).await.map_err(classify)?;
        metrics::counter!("codesync_engine_sync_forwarded_total").increment(updates.len() as u64);
        return Ok(Outcome::Synced(merged.version));
    }
    for update in updates {
        let merged = remote.post_merge(key, update).await.map_err(classify)?;
        metrics::counter!("codesync_engine_sync_forwarded_total").increment(1);
        engine_version = merged.version;
    }
    Ok(Outcome::Synced(engine_version))
}

async fn reconcile(remote: &RemoteMerge, hub: &Hub, key: &DocKey) -> Result<Outcome, Outcome> {
    let local_failure = |e: codesync_core::Error| Outcome::Failed(e.into());
    let engine = remote.fetch_version(key).await.map_err(classify)?;
    let local = hub.version(key).await.map_err(local_failure)?;

    // Pull: what the engine has (from other gateways, or from before this store existed).
    if !local.includes_vv(&engine) {
        let (updates, _) = remote
            .fetch_updates_since(key, &local)
            .await
            .map_err(classify)?;
        if !updates.is_empty() {
            // `Replay`: stored here and broadcast to local clients, but not forwarded back.
            match hub.apply(key, &updates, Origin::Replay).await {
                Ok(_) => metrics::counter!("codesync_engine_sync_pulled_total").increment(1),
                Err(e) => tracing::warn!(%key, error = %e, "could not merge what the engine has"),
            }
        }
    }

    // Push: exactly what the engine lacks.
    let local = hub.version(key).await.map_err(local_failure)?;
    if engine.includes_vv(&local) {
        return Ok(Outcome::Synced(Some(engine)));
    }
    let missing = hub.missing_for(key, &engine).await.map_err(local_failure)?;
    let merged = remote.post_merge(key, missing).await.map_err(classify)?;
    metrics::counter!("codesync_engine_sync_replayed_total").increment(1);
    tracing::info!(%key, "replayed to the engine what it missed");
    Ok(Outcome::Synced(merged.version))
}
