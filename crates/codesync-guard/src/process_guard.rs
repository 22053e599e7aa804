//! [`ProcessGuard`]: the [`UpdateGuard`] that tries every update in worker processes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use codesync_core::{DocKey, GuardRequest, UpdateGuard, Verdict};
use tokio::sync::{mpsc, oneshot};

use crate::config::GuardConfig;
use crate::error::GuardError;
use crate::wire::{Outcome, Request};
use crate::worker_handle::{self, Job};

/// How many requests may wait for one worker before callers wait to queue theirs.
const QUEUE_PER_WORKER: usize = 1024;

/// An [`UpdateGuard`] that tries every update, and every stored document before it loads,
/// in worker processes: a crafted update that aborts the process (a huge allocation, a
/// double panic), panics, hangs, or leaves a document whose snapshot no longer loads costs
/// only a worker, which is restarted, and the update is refused.
///
/// Each worker keeps a copy of the documents it checks (sessions are spread over workers
/// by key), so an update costs one import and one snapshot round trip of its document in
/// the worker; a worker without a copy asks for the live document's snapshot once.
///
/// Start it inside a tokio runtime. The default worker command starts this program's own
/// executable again, which must call [`run_worker_if_requested`](crate::run_worker_if_requested)
/// first thing in `main`.
///
/// ```no_run
/// use std::sync::Arc;
/// use codesync_core::{Hub, MemoryStorage};
/// use codesync_guard::{GuardConfig, ProcessGuard};
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     codesync_guard::run_worker_if_requested();
///     let runtime = tokio::runtime::Runtime::new()?;
///     runtime.block_on(async {
///         let guard = ProcessGuard::spawn(GuardConfig::default())?;
///         let hub = Hub::builder(MemoryStorage::new()).guard(Arc::new(guard)).build();
///         // ... serve `hub` ...
///         # drop(hub);
///         Ok(())
///     })
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ProcessGuard {
    workers: Arc<[mpsc::Sender<Job>]>,
}

impl ProcessGuard {
    /// Starts the workers' tasks (each starts its process, and restarts it when it dies).
    pub fn spawn(config: GuardConfig) -> Result<Self, GuardError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| GuardError::NoRuntime)?;
        if let Some(program) = &config.worker_program {
            // Fail now, not on the first update, if the worker cannot exist at all.
            std::fs::metadata(program).map_err(GuardError::Spawn)?;
        }
        let config = Arc::new(config);
        let workers = (0..config.workers.max(1))
            .map(|index| {
                let (tx, rx) = mpsc::channel(QUEUE_PER_WORKER);
                runtime.spawn(worker_handle::run(index, config.clone(), rx));
                tx
            })
            .collect();
        Ok(Self { workers })
    }

    fn worker_for(&self, key: &str) -> &mpsc::Sender<Job> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let index = (hasher.finish() % self.workers.len() as u64) as usize;
        &self.workers[index]
    }

    async fn ask(&self, key: &str, request: Request) -> Verdict {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            request,
            reply: Some(reply),
        };
        if self.worker_for(key).send(job).await.is_err() {
            return Verdict::Unavailable("the guard has stopped".to_owned());
        }
        match answer.await {
            Ok(Ok(outcome)) => verdict(outcome),
            Ok(Err(why)) => Verdict::Unavailable(why),
            Err(_) => Verdict::Unavailable("the guard's worker task ended".to_owned()),
        }
    }
}

fn verdict(outcome: Outcome) -> Verdict {
    match outcome {
        Outcome::Safe => Verdict::Safe,
        Outcome::NeedBase => Verdict::NeedBase,
        Outcome::MissingDependencies => Verdict::MissingDependencies,
        Outcome::Invalid(reason) => Verdict::Invalid(reason),
        Outcome::Unsafe(reason) => Verdict::Unsafe(reason),
        Outcome::Ready => Verdict::Unavailable("the guard worker answered out of turn".to_owned()),
    }
}

#[async_trait]
impl UpdateGuard for ProcessGuard {
    async fn check_update(&self, request: GuardRequest<'_>) -> Verdict {
        let key = request.key.to_string();
        let wire = Request::Update {
            id: 0,
            key: key.clone(),
            base_version: request.base_version.encode(),
            base: request.base.map(<[u8]>::to_vec),
            update: request.update.to_vec(),
        };
        self.ask(&key, wire).await
    }

    async fn check_stored(&self, key: &DocKey, blobs: &[Bytes]) -> Verdict {
        let key = key.to_string();
        let wire = Request::Stored {
            id: 0,
            key: key.clone(),
            blobs: blobs.iter().map(|b| b.to_vec()).collect(),
        };
        self.ask(&key, wire).await
    }

    fn forget(&self, key: &DocKey) {
        let key = key.to_string();
        let job = Job {
            request: Request::Forget { key: key.clone() },
            reply: None,
        };
        // Best effort: a full queue only means the copy lives until the LRU drops it.
        let _ = self.worker_for(&key).try_send(job);
    }
}
