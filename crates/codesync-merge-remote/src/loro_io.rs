//! Decoding the engine's answers with Loro, without letting a panic in the CRDT library
//! take the gateway down.
//!
//! The engine is trusted, but its bytes still cross a network. Loro can panic on bytes it
//! cannot read, and a document that panicked cannot even be dropped safely (see
//! `codesync-core`'s docs), so every call runs under `catch_unwind` and a document that
//! panicked is leaked.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use codesync_core::loro::{ExportMode, LoroDoc, VersionVector};

/// Runs `f` on a fresh document holding `bytes` (an update or a snapshot).
fn with_doc<R>(bytes: &[u8], f: impl FnOnce(&LoroDoc) -> Result<R, String>) -> Result<R, String> {
    let doc = LoroDoc::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let status = doc.import(bytes).map_err(|e| e.to_string())?;
        if status.pending.is_some() {
            return Err("it depends on changes it does not contain".to_owned());
        }
        f(&doc)
    }));
    match outcome {
        Ok(result) => result,
        Err(_) => {
            // Dropping a document Loro panicked in can abort the process: leak it.
            std::mem::forget(doc);
            Err("the CRDT library panicked reading it".to_owned())
        }
    }
}

/// A snapshot of the document the complete update history `updates` describes.
pub(crate) fn snapshot_of_updates(updates: &[u8]) -> Result<Bytes, String> {
    if updates.is_empty() {
        return export(&LoroDoc::new(), ExportMode::Snapshot);
    }
    with_doc(updates, |doc| export(doc, ExportMode::Snapshot))
}

/// The updates in `snapshot` that a holder of `since` lacks, and the snapshot's version.
pub(crate) fn updates_in_snapshot(
    snapshot: &[u8],
    since: &VersionVector,
) -> Result<(Bytes, VersionVector), String> {
    with_doc(snapshot, |doc| {
        Ok((export(doc, ExportMode::updates(since))?, doc.oplog_vv()))
    })
}

fn export(doc: &LoroDoc, mode: ExportMode<'_>) -> Result<Bytes, String> {
    doc.export(mode).map(Bytes::from).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_updates_round_trip() -> Result<(), String> {
        let doc = LoroDoc::new();
        doc.get_text("content")
            .insert(0, "hello")
            .map_err(|e| e.to_string())?;
        let updates = export(&doc, ExportMode::all_updates())?;
        let snapshot = snapshot_of_updates(&updates)?;
        let (missing, version) = updates_in_snapshot(&snapshot, &VersionVector::default())?;
        assert_eq!(version, doc.oplog_vv());
        let copy = LoroDoc::new();
        copy.import(&missing).map_err(|e| e.to_string())?;
        assert_eq!(copy.get_text("content").to_string(), "hello");
        assert!(snapshot_of_updates(b"garbage").is_err());
        Ok(())
    }
}
