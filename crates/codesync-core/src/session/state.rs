//! The mutable heart of a session: its document, what of it is durable, and its size
//! estimate. Everything here runs under the session's lock.

use bytes::Bytes;
use loro::{ExportMode, LoroDoc, VersionVector};

use crate::blob::{self, BlobKind};
use crate::content::{content_size, growth_bound, ContentEstimate};
use crate::doc_guard::{GuardedDoc, Panicked};
use crate::error::{Error, Result};
use crate::guard::{UpdateGuard, Verdict};
use crate::key::DocKey;
use crate::storage::{Compacted, Compaction, Storage, StoredDoc};

/// What an import did to the document.
pub(crate) struct Imported {
    /// The ops that were new, encoded from the version before the import; `None` when the
    /// update held nothing new.
    pub(crate) new_ops: Option<Bytes>,
    /// The document's version before the import.
    pub(crate) before: VersionVector,
}

#[derive(Debug)]
pub(crate) struct DocState {
    doc: GuardedDoc,
    /// Every op up to this version is in storage.
    durable_vv: VersionVector,
    content: ContentEstimate,
    updates_since_compaction: usize,
    bytes_since_compaction: usize,
    /// The new ops of every update merged but not yet stored: re-applied if the document
    /// must be reloaded before they are, so nothing a client already saw is lost.
    undurable: Vec<Bytes>,
    /// Whether `undurable` is exactly one update encoded from `durable_vv`: then a flush
    /// stores those bytes as they are instead of encoding the same ops a second time.
    undurable_is_exact: bool,
}

fn corrupt(key: &DocKey, detail: String) -> Error {
    Error::CorruptDocument {
        key: key.clone(),
        detail,
    }
}

/// Imports stored bytes into a fresh document; any failure names what was being read.
fn import_stored(doc: &mut GuardedDoc, key: &DocKey, what: &str, bytes: &[u8]) -> Result<()> {
    match doc.run(|d| d.import(bytes)) {
        Err(Panicked) => Err(corrupt(key, format!("{what} made the CRDT library panic"))),
        Ok(Err(e)) => Err(corrupt(key, format!("{what} does not decode: {e}"))),
        Ok(Ok(status)) if status.pending.is_some() => Err(corrupt(
            key,
            format!("{what} depends on changes that are not stored"),
        )),
        Ok(Ok(_)) => Ok(()),
    }
}

/// What storage holds, in import order: the snapshot (`None`), then each update with its
/// sequence number.
fn stored_blobs(stored: &StoredDoc) -> impl Iterator<Item = (Option<u64>, &Bytes)> {
    let snapshot = stored.snapshot.iter().map(|s| (None, s));
    snapshot.chain(stored.updates.iter().map(|u| (Some(u.seq), &u.bytes)))
}

/// Names a stored blob in error messages.
fn describe(seq: Option<u64>) -> String {
    match seq {
        None => "the stored snapshot".to_owned(),
        Some(seq) => format!("stored update #{seq}"),
    }
}

/// Has the guard try a stored document before this process imports it.
async fn vet_stored(guard: &dyn UpdateGuard, key: &DocKey, stored: &StoredDoc) -> Result<()> {
    let blobs: Vec<Bytes> = stored_blobs(stored).map(|(_, b)| b.clone()).collect();
    match guard.check_stored(key, &blobs).await {
        Verdict::Safe => Ok(()),
        Verdict::Unavailable(detail) => Err(Error::GuardUnavailable {
            key: key.clone(),
            detail,
        }),
        Verdict::MissingDependencies => Err(corrupt(
            key,
            "it depends on changes that are not stored".to_owned(),
        )),
        Verdict::Invalid(detail) | Verdict::Unsafe(detail) => Err(corrupt(key, detail)),
        Verdict::NeedBase => Err(corrupt(
            key,
            "the guard asked for a base while checking stored data".to_owned(),
        )),
    }
}

impl DocState {
    /// Loads a document from storage. Anything short of a complete, readable document is
    /// an error: a blank document is returned only when storage has none.
    ///
    /// With a guard, what storage holds is tried there first: a stored document that would
    /// crash this process is refused before it is imported here.
    pub(crate) async fn load(
        key: &DocKey,
        storage: &dyn Storage,
        guard: Option<&dyn UpdateGuard>,
    ) -> Result<Self> {
        let stored = storage.load(key).await?;
        if let (Some(guard), Some(stored)) = (guard, &stored) {
            vet_stored(guard, key, stored).await?;
        }
        let mut doc = GuardedDoc::new(LoroDoc::new());
        // The stored tail counts toward the next compaction, so a session that is evicted
        // often still compacts instead of growing an ever longer tail to replay.
        let (mut tail_updates, mut tail_bytes) = (0, 0);
        if let Some(stored) = stored {
            tail_updates = stored.updates.len();
            tail_bytes = stored.updates.iter().map(|u| u.bytes.len()).sum();
            for (seq, bytes) in stored_blobs(&stored) {
                import_stored(&mut doc, key, &describe(seq), bytes)?;
            }
        }
        // Reading the whole value forces lazily decoded containers to decode now, inside
        // the guard, rather than on some later read.
        let size = doc.run(content_size).map_err(|Panicked| {
            corrupt(key, "reading it made the CRDT library panic".to_owned())
        })?;
        let durable_vv = doc
            .run(|d| d.oplog_vv())
            .map_err(|Panicked| corrupt(key, "reading its version panicked".to_owned()))?;
        Ok(Self {
            doc,
            durable_vv,
            content: ContentEstimate::exact(size),
            updates_since_compaction: tail_updates,
            bytes_since_compaction: tail_bytes,
            undurable: Vec::new(),
            undurable_is_exact: false,
        })
    }

    /// Runs a read on the document.
    pub(crate) fn read<R>(&mut self, f: impl FnOnce(&LoroDoc) -> R) -> Result<R, Panicked> {
        self.doc.run(f)
    }

    /// Checks the size cap, then imports. On `Err(Panicked)` the live document is gone and
    /// the caller must reload; every other error leaves the document exactly as it was.
    pub(crate) fn import(
        &mut self,
        key: &DocKey,
        update: &[u8],
        max_content: usize,
    ) -> Result<Result<Imported, Error>, Panicked> {
        let invalid = |e: loro::LoroError| Error::InvalidUpdate {
            key: key.clone(),
            reason: e.to_string(),
        };
        if blob::kind(update) != BlobKind::Updates {
            return Ok(Err(Error::InvalidUpdate {
                key: key.clone(),
                reason: "not a Loro updates blob (snapshots are not accepted from peers)"
                    .to_owned(),
            }));
        }
        let growth = growth_bound(update.len());
        if self.content.upper_bound().saturating_add(growth) > max_content {
            // Near the cap: first replace the running bound by an exact measure (a walk of
            // the live document, cheaper than a fork).
            self.content = ContentEstimate::exact(self.doc.run(content_size)?);
        }
        let mut measured_after = None;
        if self.content.last_exact().saturating_add(growth) > max_content {
            // Still possibly over: import into a fork to see the real size. A panic while
            // importing into the fork leaks the fork only; `fork()` itself reads the live
            // document, so a panic there means the live document must be reloaded.
            let mut trial = GuardedDoc::new(self.doc.run(|d| d.fork())?);
            let outcome = trial.run(|d| d.import(update).map(|s| (s, content_size(d))));
            match outcome {
                Err(Panicked) => {
                    return Ok(Err(Error::ImportPanicked { key: key.clone() }));
                }
                Ok(Err(e)) => return Ok(Err(invalid(e))),
                Ok(Ok((status, _))) if status.pending.is_some() => {
                    return Ok(Err(Error::MissingDependencies { key: key.clone() }));
                }
                Ok(Ok((_, size))) if size > max_content => {
                    return Ok(Err(Error::DocumentTooLarge {
                        key: key.clone(),
                        size,
                        limit: max_content,
                    }));
                }
                Ok(Ok((_, size))) => measured_after = Some(size),
            }
        }

        let (before_vv, before_frontiers) =
            self.doc.run(|d| (d.oplog_vv(), d.oplog_frontiers()))?;
        let status = match self.doc.run(|d| d.import(update))? {
            Ok(status) => status,
            Err(e) => return Ok(Err(invalid(e))),
        };
        if status.pending.is_some() {
            // Loro keeps the unresolvable part aside, where it could later breach the cap.
            // Restore the exact previous document; a fork leaves pending changes behind.
            match self.doc.run(|d| d.fork_at(&before_frontiers))? {
                Ok(doc) => self.doc = GuardedDoc::new(doc),
                Err(e) => {
                    // Never keep pending changes: have the caller reload from storage.
                    tracing::error!(%key, error = %e, "could not drop pending changes");
                    return Err(Panicked);
                }
            }
            return Ok(Err(Error::MissingDependencies { key: key.clone() }));
        }
        let after_vv = self.doc.run(|d| d.oplog_vv())?;
        if after_vv == before_vv {
            return Ok(Ok(Imported {
                new_ops: None,
                before: before_vv,
            }));
        }
        match measured_after {
            Some(size) => self.content = ContentEstimate::exact(size),
            None => self.content.grow(update.len()),
        }
        let new_ops = self
            .doc
            .run(|d| d.export(ExportMode::updates(&before_vv)))?
            .map_err(|e| Error::InvalidUpdate {
                key: key.clone(),
                reason: format!("re-encoding the merged ops failed: {e}"),
            });
        Ok(new_ops.map(|bytes| {
            let bytes = Bytes::from(bytes);
            self.undurable_is_exact = self.undurable.is_empty() && before_vv == self.durable_vv;
            self.undurable.push(bytes.clone());
            Imported {
                new_ops: Some(bytes),
                before: before_vv,
            }
        }))
    }

    /// Whether every merged op is durable.
    pub(crate) fn is_durable(&mut self) -> Result<bool, Panicked> {
        let vv = self.doc.run(|d| d.oplog_vv())?;
        Ok(vv == self.durable_vv)
    }

    /// Marks what is merged now as durable without storing it (another node stored it).
    /// Only when nothing else was pending, so a pending op is never skipped.
    pub(crate) fn mark_durable_elsewhere(
        &mut self,
        before: &VersionVector,
    ) -> Result<(), Panicked> {
        if &self.durable_vv == before {
            self.durable_vv = self.doc.run(|d| d.oplog_vv())?;
            self.undurable.clear();
        }
        Ok(())
    }

    /// Hands over what was merged but not stored, before this state is replaced.
    pub(crate) fn take_undurable(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.undurable)
    }

    /// After a reload: merges again what the previous document held but had not stored.
    /// These bytes were produced by Loro itself from merged ops; one that fails now is
    /// dropped with an error log (it was never acknowledged).
    pub(crate) fn restore_undurable(&mut self, key: &DocKey, pending: Vec<Bytes>) {
        for bytes in pending {
            match self.doc.run(|d| d.import(&bytes)) {
                Ok(Ok(_)) => {
                    self.content.grow(bytes.len());
                    self.undurable_is_exact = false;
                    self.undurable.push(bytes);
                }
                Ok(Err(e)) => {
                    tracing::error!(%key, error = %e, "dropping unstored ops after reload")
                }
                Err(Panicked) => {
                    tracing::error!(%key, "unstored ops panic after reload; dropping them");
                    return;
                }
            }
        }
    }

    /// Stores whatever is merged but not yet durable.
    pub(crate) async fn flush(&mut self, key: &DocKey, storage: &dyn Storage) -> Result<()> {
        let poisoned = |Panicked| Error::ImportPanicked { key: key.clone() };
        let vv = self.doc.run(|d| d.oplog_vv()).map_err(poisoned)?;
        if vv == self.durable_vv {
            return Ok(());
        }
        let bytes = match self.undurable.as_slice() {
            [only] if self.undurable_is_exact => only.clone(),
            _ => self
                .doc
                .run(|d| d.export(ExportMode::updates(&self.durable_vv)))
                .map_err(poisoned)?
                .map(Bytes::from)
                .map_err(|e| Error::InvalidUpdate {
                    key: key.clone(),
                    reason: format!("encoding pending ops failed: {e}"),
                })?,
        };
        let len = bytes.len();
        let started = std::time::Instant::now();
        storage.append(key, bytes).await?;
        crate::telemetry::record_persist(started.elapsed());
        self.durable_vv = vv;
        self.undurable.clear();
        self.updates_since_compaction += 1;
        self.bytes_since_compaction += len;
        Ok(())
    }

    /// Whether enough has been appended since the last compaction.
    pub(crate) fn compaction_due(&self, after_updates: usize, after_bytes: usize) -> bool {
        self.updates_since_compaction >= after_updates || self.bytes_since_compaction >= after_bytes
    }

    /// Merges everything `stored` holds into the live document: what other nodes sharing
    /// the store appended. Stored data is durable by definition, so if the document was
    /// durable before, it still is. Any failure to decode is an error (the document may
    /// then hold part of it, all of it durable elsewhere).
    pub(crate) fn merge_stored(
        &mut self,
        key: &DocKey,
        stored: &StoredDoc,
    ) -> Result<Result<Imported, Error>, Panicked> {
        let before = self.doc.run(|d| d.oplog_vv())?;
        for (seq, bytes) in stored_blobs(stored) {
            if let Err(e) = self.doc.run(|d| d.import(bytes))? {
                return Ok(Err(corrupt(key, format!("{}: {e}", describe(seq)))));
            }
        }
        let after = self.doc.run(|d| d.oplog_vv())?;
        if after == before {
            return Ok(Ok(Imported {
                new_ops: None,
                before,
            }));
        }
        self.mark_durable_elsewhere(&before)?;
        let new_ops = self
            .doc
            .run(|d| d.export(ExportMode::updates(&before)))?
            .map(Bytes::from)
            .map_err(|e| corrupt(key, format!("re-encoding the stored ops failed: {e}")));
        Ok(new_ops.map(|bytes| {
            // The running bound grows as for any import (measured exactly near the cap).
            self.content.grow(bytes.len());
            Imported {
                new_ops: Some(bytes),
                before,
            }
        }))
    }

    /// Restarts the compaction counters: the next attempt waits for another full threshold
    /// instead of retrying on every update, even when this one fails.
    pub(crate) fn restart_compaction_count(&mut self) {
        self.updates_since_compaction = 0;
        self.bytes_since_compaction = 0;
    }

    /// Replaces the stored history with a snapshot, after proving the snapshot loads back
    /// into the same document, and re-bases the live document on it (a document loaded from
    /// a snapshot uses far less memory than one built from many small updates).
    ///
    /// `stored` is what storage held, already merged into the live document
    /// ([`merge_stored`](Self::merge_stored)) and flushed after: the snapshot then covers
    /// exactly the stored updates read, and only those are dropped. If another node
    /// compacted since `stored` was read, storage changes nothing.
    pub(crate) async fn compact(
        &mut self,
        key: &DocKey,
        stored: &StoredDoc,
        storage: &dyn Storage,
    ) -> Result<Compacted> {
        let poisoned = |Panicked| Error::ImportPanicked { key: key.clone() };
        let (snapshot, vv) = self
            .doc
            .run(|d| (d.export(ExportMode::Snapshot), d.oplog_vv()))
            .map_err(poisoned)?;
        let snapshot =
            snapshot.map_err(|e| corrupt(key, format!("snapshot export failed: {e}")))?;
        let mut reloaded = GuardedDoc::new(LoroDoc::new());
        import_stored(&mut reloaded, key, "the new snapshot", &snapshot)?;
        let size = reloaded.run(content_size).map_err(|Panicked| {
            corrupt(key, "the new snapshot panics when read back".to_owned())
        })?;
        let reloaded_vv = reloaded.run(|d| d.oplog_vv()).map_err(|Panicked| {
            corrupt(key, "the new snapshot has no readable version".to_owned())
        })?;
        if reloaded_vv != vv {
            return Err(corrupt(
                key,
                "the new snapshot does not reload to the same version".to_owned(),
            ));
        }
        let compaction = Compaction {
            snapshot: Bytes::from(snapshot),
            folded: stored.updates.iter().map(|u| u.seq).collect(),
            generation: stored.generation,
        };
        let outcome = storage.compact(key, compaction).await?;
        // Re-basing is safe either way: the live document's content is unchanged.
        if self.durable_vv == vv {
            self.doc = reloaded;
            self.content = ContentEstimate::exact(size);
        }
        Ok(outcome)
    }
}
