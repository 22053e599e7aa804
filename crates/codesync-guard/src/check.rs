//! The checks a worker runs: the server's whole ingest path, on copies of the documents.
//!
//! Each check imports the bytes, reads the value, exports a snapshot, imports that snapshot
//! into a fresh document and reads it again. That last step is what a later cold load of
//! the session does; some crafted updates are accepted by `import` and only break there.
//! A stored document's copy is the one reloaded from the snapshot (smaller in memory than
//! one that imported many small updates); after an update, the copy that imported it is
//! kept, since its state is already built.
//!
//! A panic is caught and turned into a refusal. An abort cannot be caught: it ends the
//! worker, and the server refuses the request that was being checked.

use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};

use loro::{ExportMode, LoroDoc, VersionVector};
use lru::LruCache;

use crate::wire::Outcome;

/// The worker's copies of live documents, least recently used dropped first.
#[derive(Debug)]
pub(crate) struct Mirrors {
    docs: LruCache<String, LoroDoc>,
}

impl Mirrors {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            docs: LruCache::new(capacity),
        }
    }

    /// How many copies are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.docs.len()
    }

    pub(crate) fn forget(&mut self, key: &str) {
        self.docs.pop(key);
    }

    /// Tries `update` on the copy of `key` at `base_version` (replaced by `base` first when
    /// given).
    pub(crate) fn check_update(
        &mut self,
        key: &str,
        base_version: &[u8],
        base: Option<&[u8]>,
        update: &[u8],
    ) -> Outcome {
        let Ok(base_version) = VersionVector::decode(base_version) else {
            return Outcome::Invalid("the base version does not decode".to_owned());
        };
        if let Some(base) = base {
            self.docs.pop(key);
            match load(&[base]) {
                Ok(doc) => {
                    self.docs.put(key.to_owned(), doc);
                }
                Err(outcome) => return outcome,
            }
        }
        // Taken out of the cache: if Loro panics on it, it is leaked, never dropped (a
        // document whose lock was poisoned by a panic can panic again in `Drop`).
        let Some(doc) = self.docs.pop(key) else {
            return Outcome::NeedBase;
        };
        let matches = catch_unwind(AssertUnwindSafe(|| doc.oplog_vv() == base_version));
        match matches {
            Ok(true) => {}
            Ok(false) => return Outcome::NeedBase,
            Err(_) => {
                std::mem::forget(doc);
                return Outcome::NeedBase;
            }
        }
        let doc = match try_import(doc, update) {
            Ok(doc) => doc,
            Err(ImportFailure::Panicked) => {
                return Outcome::Unsafe("importing it made the CRDT library panic".to_owned())
            }
            // The copy may hold part of the refused bytes: it is dropped, and the next
            // request brings a fresh base.
            Err(ImportFailure::Rejected(e)) => return Outcome::Invalid(e.to_string()),
            Err(ImportFailure::Pending) => return Outcome::MissingDependencies,
        };
        match round_trip(&doc) {
            Ok(_fresh) => {
                // Keep the document that imported the update, not the one reloaded from the
                // snapshot: a snapshot-loaded document rebuilds its text state on its first
                // import, which would cost every check a full state decode.
                self.docs.put(key.to_owned(), doc);
                Outcome::Safe
            }
            Err(outcome) => {
                std::mem::forget(doc);
                outcome
            }
        }
    }

    /// Loads a stored document into a fresh copy of `key`.
    pub(crate) fn check_stored(&mut self, key: &str, blobs: &[&[u8]]) -> Outcome {
        self.docs.pop(key);
        match load(blobs) {
            Ok(doc) => {
                self.docs.put(key.to_owned(), doc);
                Outcome::Safe
            }
            Err(outcome) => outcome,
        }
    }
}

/// Why an import did not go through.
enum ImportFailure {
    /// Loro panicked; the document was leaked.
    Panicked,
    /// Loro refused the bytes.
    Rejected(loro::LoroError),
    /// The bytes depend on changes the document lacks.
    Pending,
}

/// Imports `bytes` into `doc`, taking it: a document Loro panicked on is leaked, never
/// dropped (a document whose lock was poisoned by a panic can panic again in `Drop`).
fn try_import(doc: LoroDoc, bytes: &[u8]) -> Result<LoroDoc, ImportFailure> {
    match catch_unwind(AssertUnwindSafe(|| doc.import(bytes))) {
        Err(_) => {
            std::mem::forget(doc);
            Err(ImportFailure::Panicked)
        }
        Ok(Err(e)) => Err(ImportFailure::Rejected(e)),
        Ok(Ok(status)) if status.pending.is_some() => Err(ImportFailure::Pending),
        Ok(Ok(_)) => Ok(doc),
    }
}

/// Imports `blobs` in order into a fresh document, then proves it round-trips.
fn load(blobs: &[&[u8]]) -> Result<LoroDoc, Outcome> {
    let mut doc = LoroDoc::new();
    for (index, blob) in blobs.iter().enumerate() {
        doc = match try_import(doc, blob) {
            Ok(doc) => doc,
            Err(ImportFailure::Panicked) => {
                return Err(Outcome::Unsafe(format!(
                    "importing blob #{index} made the CRDT library panic"
                )))
            }
            Err(ImportFailure::Rejected(e)) => {
                return Err(Outcome::Invalid(format!("blob #{index}: {e}")))
            }
            Err(ImportFailure::Pending) => return Err(Outcome::MissingDependencies),
        };
    }
    let fresh = round_trip(&doc);
    if fresh.is_err() {
        std::mem::forget(doc);
    }
    fresh
}

/// Reads `doc`, snapshots it, loads the snapshot into a fresh document and reads that:
/// what a later cold load of the session would do.
fn round_trip(doc: &LoroDoc) -> Result<LoroDoc, Outcome> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let value = doc.get_deep_value();
        let snapshot = doc.export(ExportMode::Snapshot)?;
        let fresh = LoroDoc::new();
        fresh.import(&snapshot)?;
        Ok::<_, loro::LoroError>((value, fresh))
    }));
    match outcome {
        Err(_) => Err(Outcome::Unsafe(
            "its document made the CRDT library panic in a snapshot round trip".to_owned(),
        )),
        Ok(Err(e)) => Err(Outcome::Unsafe(format!(
            "its document does not survive a snapshot round trip: {e}"
        ))),
        Ok(Ok((value, fresh))) => match catch_unwind(AssertUnwindSafe(|| fresh.get_deep_value())) {
            Ok(reloaded) if reloaded == value => Ok(fresh),
            Ok(_) => {
                drop(fresh);
                Err(Outcome::Unsafe(
                    "its document reads differently after a snapshot round trip".to_owned(),
                ))
            }
            Err(_) => {
                std::mem::forget(fresh);
                Err(Outcome::Unsafe(
                    "its document, reloaded from a snapshot, made the CRDT library panic"
                        .to_owned(),
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> (LoroDoc, Vec<u8>) {
        let doc = LoroDoc::new();
        doc.set_peer_id(1).expect("peer");
        doc.get_text("content").insert(0, text).expect("insert");
        let update = doc.export(ExportMode::all_updates()).expect("export");
        (doc, update)
    }

    #[test]
    fn a_valid_update_is_safe_and_advances_the_copy() {
        let mut mirrors = Mirrors::new(4);
        let empty = VersionVector::default().encode();
        let (doc, update) = typed("hello");
        assert_eq!(
            mirrors.check_update("k", &empty, None, &update),
            Outcome::NeedBase
        );
        let base = LoroDoc::new().export(ExportMode::Snapshot).expect("export");
        assert_eq!(
            mirrors.check_update("k", &empty, Some(&base), &update),
            Outcome::Safe
        );
        // The copy is now at the doc's version: the next update needs no base.
        let before = doc.oplog_vv();
        doc.get_text("content").insert(5, "!").expect("insert");
        let next = doc.export(ExportMode::updates(&before)).expect("export");
        assert_eq!(
            mirrors.check_update("k", &before.encode(), None, &next),
            Outcome::Safe
        );
        // A stale base version is not checked against the wrong state.
        assert_eq!(
            mirrors.check_update("k", &before.encode(), None, &next),
            Outcome::NeedBase
        );
    }

    #[test]
    fn garbage_and_gaps_are_refused_without_panicking() {
        let mut mirrors = Mirrors::new(4);
        let empty = VersionVector::default().encode();
        assert!(matches!(mirrors.check_stored("k", &[]), Outcome::Safe));
        assert!(matches!(
            mirrors.check_update("k", &empty, None, b"not loro at all"),
            Outcome::Invalid(_)
        ));
        let (doc, _) = typed("abc");
        let before = doc.oplog_vv();
        doc.get_text("content").insert(0, "x").expect("insert");
        let gap = doc.export(ExportMode::updates(&before)).expect("export");
        mirrors.check_stored("k", &[]);
        assert_eq!(
            mirrors.check_update("k", &empty, None, &gap),
            Outcome::MissingDependencies
        );
    }

    #[test]
    fn the_catchable_panic_input_is_unsafe() {
        let mut mirrors = Mirrors::new(4);
        let empty = VersionVector::default().encode();
        mirrors.check_stored("k", &[]);
        let input = include_bytes!("../data/import-panic-then-abort.bin");
        // Loro's own panic message is printed by the default hook; the point is that the
        // check answers instead of unwinding.
        let outcome = mirrors.check_update("k", &empty, None, input);
        assert!(matches!(outcome, Outcome::Unsafe(_)), "{outcome:?}");
        assert_eq!(mirrors.len(), 0);
    }
}
