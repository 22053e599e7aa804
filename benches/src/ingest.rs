//! Server ingest of one update, and its baseline: raw `LoroDoc::import` of the same bytes.
//!
//! Ingest is what the server does for each `DocUpdate` frame a client sends: decode the
//! frame, the connection's access check, merge, broadcast enqueue (one subscriber, drained
//! after every frame, as a peer's forwarding task would), and persist enqueue (a storage
//! append). Each run starts from a fresh hub and an empty document and feeds the same
//! updates in order, since every update depends on the ones before it.
//!
//! Any hub can be measured: [`hub_ingest`] takes one already built, so a variant (say a
//! hub with an untrusted-input guard) is one more call with another builder.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codesync_core::{
    Connection, DocKey, Hub, MemoryStorage, SessionEvent, Storage, DEFAULT_TENANT,
};
use codesync_transport_ws::protocol::{self, BatchId, Body, Limits, Magic, Message};
use loro::LoroDoc;
use tokio::sync::broadcast;

use crate::error::{BenchError, Result};
use crate::traces::Keystrokes;

/// The room (session id) every ingest run writes to.
pub const ROOM: &str = "bench.rs";

/// A sequence of updates and the `DocUpdate` frames carrying them, one update per frame,
/// as a browser sends one keystroke at a time.
#[derive(Debug, Clone)]
pub struct IngestWorkload {
    /// Short name for the report (the trace's name).
    pub name: String,
    /// Where the updates came from.
    pub source: String,
    /// Whether they come from a real trace.
    pub from_trace: bool,
    /// The raw Loro updates, for the baseline.
    pub updates: Vec<Vec<u8>>,
    /// The same updates wrapped in `DocUpdate` frames, for the hub.
    pub frames: Vec<Vec<u8>>,
    /// The document the updates apply to, as a compacted snapshot already in storage;
    /// `None` for an empty document.
    pub base: Option<Vec<u8>>,
}

impl IngestWorkload {
    /// Wraps `keystrokes` in frames under `name`.
    pub fn new(name: &str, keystrokes: Keystrokes) -> Self {
        let frames = keystrokes
            .updates
            .iter()
            .enumerate()
            .map(|(i, update)| doc_update_frame(update, i as u64))
            .collect();
        Self {
            name: name.to_owned(),
            source: keystrokes.source,
            from_trace: keystrokes.from_trace,
            updates: keystrokes.updates,
            frames,
            base: None,
        }
    }

    /// A session in steady state: the first `skip` updates are folded into a snapshot
    /// the session loads from storage (untimed); the rest are fed one by one.
    pub fn after(name: &str, mut keystrokes: Keystrokes, skip: usize) -> Result<Self> {
        let skip = skip.min(keystrokes.updates.len());
        let base = crate::stored::snapshot_of(&keystrokes.updates[..skip])?;
        keystrokes.updates.drain(..skip);
        let mut workload = Self::new(name, keystrokes);
        workload.base = Some(base);
        Ok(workload)
    }

    /// How many updates one run feeds.
    pub fn len(&self) -> usize {
        self.updates.len()
    }

    /// Whether there is nothing to feed.
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }
}

/// A `DocUpdate` frame for [`ROOM`] carrying one update, as a client encodes it.
pub fn doc_update_frame(update: &[u8], batch: u64) -> Vec<u8> {
    protocol::encode(&Message {
        magic: Magic::Loro,
        room: ROOM.to_owned(),
        body: Body::DocUpdate {
            updates: vec![Bytes::copy_from_slice(update)],
            batch_id: BatchId::from_u64(batch),
        },
    })
}

/// The hub as it ships: default policy (open, 100 KiB document cap, default limits),
/// default capacity and session config (compaction after 1000 updates), over
/// `MemoryStorage` so the persist step costs an in-memory append, not a disk flush.
pub fn shipped_hub() -> Hub {
    Hub::builder(MemoryStorage::new()).build()
}

/// A client joined to [`ROOM`] on `hub`, and one other subscriber to its events.
#[derive(Debug)]
pub struct Joined {
    connection: Connection,
    events: broadcast::Receiver<SessionEvent>,
    limits: Limits,
}

impl Joined {
    /// Stores `base` (if any) as [`ROOM`]'s snapshot, joins [`ROOM`] (the first join loads
    /// the session) and subscribes.
    pub async fn join(hub: &Hub, base: Option<&[u8]>) -> Result<Self> {
        let key = DocKey::parse(DEFAULT_TENANT, ROOM)?;
        if let Some(snapshot) = base {
            let _ = hub
                .storage()
                .compact(&key, crate::stored::first_snapshot(snapshot))
                .await?;
        }
        let connection = hub.join(&key, b"bench-token").await?;
        let events = connection.session().subscribe();
        Ok(Self {
            connection,
            events,
            limits: Limits::default(),
        })
    }

    /// Ingests one frame: decode, access check, merge, broadcast, persist; then drains the
    /// subscriber.
    pub async fn ingest_frame(&mut self, frame: &[u8]) -> Result<()> {
        let message = protocol::decode(frame, &self.limits)?;
        let Body::DocUpdate { updates, .. } = message.body else {
            return Err(BenchError::Unexpected("not a DocUpdate frame".to_owned()));
        };
        for update in &updates {
            let applied = self.connection.apply(update).await?;
            if !applied.durable {
                return Err(BenchError::Unexpected(
                    "an update was not stored".to_owned(),
                ));
            }
        }
        while let Ok(event) = self.events.try_recv() {
            black_box(event);
        }
        Ok(())
    }
}

/// Feeds every frame of `workload` into `hub` (fresh: [`ROOM`] must not be stored yet,
/// except as the workload's base) and returns
/// the time taken by the frames alone, not the join.
///
/// Never inlined: profilers select the measured work by this function's name (see the
/// `ingest-profile` binary).
#[inline(never)]
pub fn hub_ingest(
    runtime: &tokio::runtime::Runtime,
    hub: Hub,
    workload: &IngestWorkload,
) -> Result<Duration> {
    runtime.block_on(async {
        let mut joined = Joined::join(&hub, workload.base.as_deref()).await?;
        let started = Instant::now();
        for frame in &workload.frames {
            joined.ingest_frame(frame).await?;
        }
        let elapsed = started.elapsed();
        // Dropping the session and the hub is not part of ingest.
        drop(joined);
        drop(hub);
        Ok(elapsed)
    })
}

/// The baseline: a fresh `LoroDoc` (loaded from the base snapshot, untimed) importing the
/// same updates, nothing else. Never inlined, like [`hub_ingest`].
#[inline(never)]
pub fn loro_import(workload: &IngestWorkload) -> Result<Duration> {
    let doc = LoroDoc::new();
    if let Some(base) = &workload.base {
        doc.import(base)?;
    }
    let started = Instant::now();
    for update in &workload.updates {
        black_box(doc.import(update)?);
    }
    let elapsed = started.elapsed();
    drop(doc);
    Ok(elapsed)
}

/// A runtime like the one a connection task runs on, reduced to one thread so that the
/// measurement is of the ingest work rather than of scheduling across cores.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
