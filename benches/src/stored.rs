//! Sessions as storage holds them (a snapshot and a tail of updates), for the cold-load
//! benchmark, and the baseline: a raw `LoroDoc` importing the same stored bytes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codesync_core::{DocKey, Hub, Storage};
use loro::{ExportMode, LoroDoc};

use crate::error::{BenchError, Result};

/// What storage holds for one session.
#[derive(Debug, Clone)]
pub struct StoredShape {
    /// The case's name in the report.
    pub name: &'static str,
    /// The compaction snapshot.
    pub snapshot: Vec<u8>,
    /// The updates appended after it, oldest first.
    pub tail: Vec<Vec<u8>>,
}

impl StoredShape {
    /// A compacted session: every update of `updates` folded into one snapshot.
    pub fn compacted(updates: &[Vec<u8>]) -> Result<Self> {
        Ok(Self {
            name: "compacted",
            snapshot: snapshot_of(updates)?,
            tail: Vec::new(),
        })
    }

    /// The same document, but the last `tail` updates still stored one by one after the
    /// snapshot of the rest, as between two compactions.
    pub fn with_tail(updates: &[Vec<u8>], tail: usize) -> Result<Self> {
        let split = updates.len().saturating_sub(tail);
        Ok(Self {
            name: "snapshot_plus_tail",
            snapshot: snapshot_of(&updates[..split])?,
            tail: updates[split..].to_vec(),
        })
    }

    /// Stores this shape under `key`, replacing whatever was there.
    pub async fn store(&self, storage: &dyn Storage, key: &DocKey) -> Result<()> {
        storage.delete(key).await?;
        let _ = storage.compact(key, first_snapshot(&self.snapshot)).await?;
        for update in &self.tail {
            storage.append(key, Bytes::copy_from_slice(update)).await?;
        }
        let stored = storage
            .load(key)
            .await?
            .ok_or_else(|| BenchError::Unexpected(format!("{key} was not stored")))?;
        if stored.updates.len() != self.tail.len() {
            return Err(BenchError::Unexpected(format!(
                "{key}: stored {} tail updates, expected {}",
                stored.updates.len(),
                self.tail.len()
            )));
        }
        Ok(())
    }

    /// The bytes held: snapshot plus tail.
    pub fn total_bytes(&self) -> usize {
        self.snapshot.len() + self.tail.iter().map(Vec::len).sum::<usize>()
    }
}

/// The snapshot of a document built from `updates`.
pub fn snapshot_of(updates: &[Vec<u8>]) -> Result<Vec<u8>> {
    let doc = LoroDoc::new();
    for update in updates {
        doc.import(update)?;
    }
    Ok(doc.export(ExportMode::Snapshot)?)
}

/// Times `hub.session(key)` on a hub that has never seen `key`: the session's cold load.
/// The hub and session are dropped after the clock stops.
pub async fn cold_load(hub: Hub, key: &DocKey) -> Result<Duration> {
    let started = Instant::now();
    let session = hub.session(key).await?;
    let elapsed = started.elapsed();
    drop(session);
    drop(hub);
    Ok(elapsed)
}

/// The baseline: a fresh `LoroDoc` importing the snapshot, then the tail, nothing else.
/// Loro decodes a snapshot's containers lazily, on first read, so this leaves them encoded.
pub fn loro_import(shape: &StoredShape) -> Result<Duration> {
    timed_import(shape, false)
}

/// A reference between the two: the baseline plus one read of the whole value, which
/// decodes every container as the session's load does (it measures the content size).
pub fn loro_import_and_read(shape: &StoredShape) -> Result<Duration> {
    timed_import(shape, true)
}

/// Another reference: the same bytes through one `LoroDoc::import_batch` call, which
/// Loro can merge at once instead of one import (and one state update) per update.
pub fn loro_import_batch(shape: &StoredShape) -> Result<Duration> {
    let mut blobs = Vec::with_capacity(shape.tail.len() + 1);
    blobs.push(shape.snapshot.clone());
    blobs.extend(shape.tail.iter().cloned());
    let doc = LoroDoc::new();
    let started = Instant::now();
    black_box(doc.import_batch(&blobs)?);
    let elapsed = started.elapsed();
    drop(doc);
    Ok(elapsed)
}

fn timed_import(shape: &StoredShape, read: bool) -> Result<Duration> {
    let doc = LoroDoc::new();
    let started = Instant::now();
    black_box(doc.import(&shape.snapshot)?);
    for update in &shape.tail {
        black_box(doc.import(update)?);
    }
    if read {
        black_box(doc.get_deep_value());
    }
    let elapsed = started.elapsed();
    drop(doc);
    Ok(elapsed)
}

/// A compaction that gives a document with no snapshot yet its first one.
pub fn first_snapshot(snapshot: &[u8]) -> codesync_core::Compaction {
    codesync_core::Compaction {
        snapshot: Bytes::copy_from_slice(snapshot),
        folded: Vec::new(),
        generation: 0,
    }
}
