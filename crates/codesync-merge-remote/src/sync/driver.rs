//! The sync task: one loop owning every session's bookkeeping, so hooks only send events
//! and jobs only report outcomes; nothing here is shared behind a lock.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use codesync_core::loro::VersionVector;
use codesync_core::{DocKey, Hub};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::jobs::{self, Job, Outcome};
use super::{Event, Shared};

/// One session's state, kept while it has work or is live in the hub.
#[derive(Debug, Default)]
struct KeyState {
    /// Client updates merged locally and not sent yet, in merge order.
    pending: Vec<Bytes>,
    /// Reconcile before anything else (the engine missed something, or the session was
    /// just loaded). Supersedes `pending`: a reconcile sends everything the engine lacks.
    reconcile: bool,
    /// A job for this session is running.
    busy: bool,
    /// The session is in `ready` or `replays` already.
    queued: bool,
    /// What the engine was last known to hold.
    engine_version: Option<VersionVector>,
}

impl KeyState {
    fn has_work(&self) -> bool {
        self.reconcile || !self.pending.is_empty()
    }
}

pub(super) struct Driver {
    shared: Arc<Shared>,
    hub: Hub,
    events: mpsc::UnboundedReceiver<Event>,
    keys: HashMap<DocKey, KeyState>,
    /// Sessions with updates to forward.
    ready: VecDeque<DocKey>,
    /// Sessions to reconcile, started at most `replay_concurrency` at a time.
    replays: VecDeque<DocKey>,
    running_replays: usize,
    jobs: JoinSet<(DocKey, bool, Outcome)>,
    engine_up: bool,
    backoff: Duration,
    next_probe: Instant,
    /// A readiness probe is running.
    probing: bool,
    probe_sender: mpsc::UnboundedSender<bool>,
    probe_results: mpsc::UnboundedReceiver<bool>,
}

impl Driver {
    pub(super) fn new(
        shared: Arc<Shared>,
        hub: Hub,
        events: mpsc::UnboundedReceiver<Event>,
    ) -> Self {
        let backoff = shared.config.initial_backoff;
        let (probe_sender, probe_results) = mpsc::unbounded_channel();
        Self {
            shared,
            hub,
            events,
            keys: HashMap::new(),
            ready: VecDeque::new(),
            replays: VecDeque::new(),
            running_replays: 0,
            jobs: JoinSet::new(),
            engine_up: true,
            backoff,
            next_probe: Instant::now(),
            probing: false,
            probe_sender,
            probe_results,
        }
    }

    pub(super) async fn run(mut self) {
        metrics::gauge!("codesync_engine_sync_engine_up").set(1.0);
        loop {
            let probing = !self.engine_up;
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => self.on_event(event),
                    // Every sender is gone: the hub and the sync were dropped.
                    None => return,
                },
                Some(joined) = self.jobs.join_next(), if !self.jobs.is_empty() => match joined {
                    Ok((key, replay, outcome)) => self.on_outcome(key, replay, outcome),
                    Err(e) => tracing::error!(error = %e, "an engine sync job failed"),
                },
                Some(up) = self.probe_results.recv() => {
                    self.probing = false;
                    // A probe that outlived an outage that ended otherwise changes nothing.
                    if !self.engine_up {
                        self.on_probe(up);
                    }
                }
                () = tokio::time::sleep_until(self.next_probe), if probing && !self.probing => {
                    self.probing = true;
                    let (remote, results) = (self.shared.remote.clone(), self.probe_sender.clone());
                    tokio::spawn(async move {
                        let _ = results.send(remote.is_ready().await);
                    });
                }
            }
            self.schedule();
            self.publish();
        }
    }

    fn state(&mut self, key: &DocKey) -> &mut KeyState {
        self.keys.entry(key.clone()).or_default()
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Changed { key, update } => {
                let up = self.engine_up;
                let state = self.state(&key);
                if up {
                    state.pending.push(update);
                } else {
                    // The hub holds it durably; the replay sends it with everything else.
                    state.reconcile = true;
                }
                self.enqueue(&key);
            }
            Event::Loaded { key } | Event::Reconcile { key } => {
                self.state(&key).reconcile = true;
                self.enqueue(&key);
            }
            Event::Barrier(done) => {
                // Earlier events were handled (and published) by earlier turns of the loop.
                let _ = done.send(());
            }
            Event::Evicted { key } => {
                if self
                    .keys
                    .get(&key)
                    .is_some_and(|s| !s.busy && !s.has_work())
                {
                    self.keys.remove(&key);
                }
            }
        }
    }

    /// Puts a session with work in the right queue, unless it is running or queued.
    fn enqueue(&mut self, key: &DocKey) {
        let Some(state) = self.keys.get_mut(key) else {
            return;
        };
        if state.busy || state.queued || !state.has_work() {
            return;
        }
        state.queued = true;
        if state.reconcile {
            self.replays.push_back(key.clone());
        } else {
            self.ready.push_back(key.clone());
        }
    }

    fn on_outcome(&mut self, key: DocKey, replay: bool, outcome: Outcome) {
        if replay {
            self.running_replays -= 1;
        }
        let state = self.state(&key);
        state.busy = false;
        match outcome {
            Outcome::Synced(version) => {
                state.engine_version = version;
                if !self.engine_up {
                    // A request got through: no need to wait for the next probe.
                    self.on_probe(true);
                }
            }
            Outcome::Unavailable(error) => {
                state.reconcile = true;
                state.pending.clear();
                state.engine_version = None;
                metrics::counter!("codesync_engine_sync_unavailable_total").increment(1);
                if self.engine_up {
                    tracing::warn!(%key, %error, "engine unavailable: merging in-process; what it misses is replayed when it is back");
                    self.set_engine_up(false);
                    self.backoff = self.shared.config.initial_backoff;
                    self.next_probe = Instant::now() + self.backoff;
                }
            }
            Outcome::Resync => {
                tracing::debug!(%key, "engine lacks what an update builds on: reconciling");
                state.reconcile = true;
                state.pending.clear();
            }
            Outcome::Failed(error) => {
                metrics::counter!("codesync_engine_sync_failed_total").increment(1);
                tracing::error!(%key, %error, "the engine refused an update for good; it stays in the gateway's store only");
            }
        }
        if self.engine_up {
            self.enqueue(&key);
        }
    }

    fn on_probe(&mut self, up: bool) {
        if up {
            tracing::info!("engine is back: replaying what it missed");
            self.set_engine_up(true);
            self.backoff = self.shared.config.initial_backoff;
            let waiting: Vec<DocKey> = self
                .keys
                .iter()
                .filter(|(_, s)| s.has_work() && !s.busy && !s.queued)
                .map(|(k, _)| k.clone())
                .collect();
            for key in waiting {
                self.enqueue(&key);
            }
        } else {
            self.backoff = (self.backoff * 2).min(self.shared.config.max_backoff);
            self.next_probe = Instant::now() + self.backoff;
        }
    }

    fn set_engine_up(&mut self, up: bool) {
        self.engine_up = up;
        self.shared.engine_up.store(up, Ordering::Release);
        metrics::gauge!("codesync_engine_sync_engine_up").set(if up { 1.0 } else { 0.0 });
    }

    /// Starts what may start: every forward, and reconciles up to the concurrency cap.
    /// Nothing starts while the engine is down; the queues wait for the probe.
    fn schedule(&mut self) {
        if !self.engine_up {
            return;
        }
        while let Some(key) = self.ready.pop_front() {
            self.start(key, false);
        }
        while self.running_replays < self.shared.config.replay_concurrency {
            let Some(key) = self.replays.pop_front() else {
                break;
            };
            self.start(key, true);
        }
    }

    fn start(&mut self, key: DocKey, from_replays: bool) {
        let Some(state) = self.keys.get_mut(&key) else {
            return;
        };
        state.queued = false;
        if state.busy || !state.has_work() {
            return;
        }
        let job = if state.reconcile {
            state.reconcile = false;
            state.pending.clear();
            Job::Reconcile
        } else {
            Job::Forward {
                updates: std::mem::take(&mut state.pending),
                engine_version: state.engine_version.clone(),
            }
        };
        if job.is_reconcile() && !from_replays {
            // Became a reconcile while waiting among forwards: wait for a replay slot.
            state.reconcile = true;
            state.queued = true;
            self.replays.push_back(key);
            return;
        }
        state.busy = true;
        let replay = job.is_reconcile();
        if replay {
            self.running_replays += 1;
        }
        let (remote, hub) = (self.shared.remote.clone(), self.hub.clone());
        self.jobs.spawn(async move {
            let outcome = jobs::run(remote, hub, key.clone(), job).await;
            (key, replay, outcome)
        });
    }

    /// Tells [`EngineSync::settled`](super::EngineSync::settled) whether work remains.
    fn publish(&self) {
        let settled = !self.engine_up
            || (self.jobs.is_empty() && self.ready.is_empty() && self.replays.is_empty());
        self.shared.settled.send_if_modified(|current| {
            let changed = *current != settled;
            *current = settled;
            changed
        });
    }
}
