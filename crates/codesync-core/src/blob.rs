//! A cheap look at a Loro blob's header, before any decoding.
//!
//! Peers may send only *updates*. A snapshot is refused: its blocks are compressed, so its
//! size says nothing about the content it carries (the size cap's cheap bound would not
//! hold), and a shallow snapshot can leave changes pending that no fork can drop.

const MAGIC: &[u8; 4] = b"loro";
/// Magic (4 bytes) and checksum (16 bytes) come before the mode.
const MODE_OFFSET: usize = 20;
/// Loro's encode mode for updates (`FastUpdates`), big-endian.
const UPDATES_MODE: [u8; 2] = [0, 4];

/// What the header says the blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlobKind {
    /// An updates blob: the only kind peers may send.
    Updates,
    /// Anything else (a snapshot, an old format, not Loro at all).
    Other,
}

pub(crate) fn kind(bytes: &[u8]) -> BlobKind {
    let is_updates = bytes.len() >= MODE_OFFSET + 2
        && &bytes[..4] == MAGIC
        && bytes[MODE_OFFSET..MODE_OFFSET + 2] == UPDATES_MODE;
    if is_updates {
        BlobKind::Updates
    } else {
        BlobKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loro::{ExportMode, LoroDoc};

    #[test]
    fn tells_updates_from_snapshots() {
        let doc = LoroDoc::new();
        doc.get_text("t").insert(0, "x").expect("insert");
        let updates = doc.export(ExportMode::all_updates()).expect("export");
        let snapshot = doc.export(ExportMode::Snapshot).expect("export");
        assert_eq!(kind(&updates), BlobKind::Updates);
        assert_eq!(kind(&snapshot), BlobKind::Other);
        assert_eq!(kind(b"loro"), BlobKind::Other);
        assert_eq!(kind(&[]), BlobKind::Other);
    }
}
