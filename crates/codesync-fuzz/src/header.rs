//! The 22-byte header of a Loro blob, and its checksum.
//!
//! Layout (loro 1.17): `"loro"` magic (4 bytes), a 16-byte checksum field whose last four
//! bytes hold xxh32 (seed `"LORO"` read as a little-endian u32) of everything after the
//! field, stored little-endian, then the encode mode (2 bytes, big-endian). The checksum
//! is not a secret: anyone can recompute it, so it only stops *accidental* corruption.
//! The mutator recomputes it after every mutation so its inputs reach the decoders.

use xxhash_rust::xxh32::xxh32;

/// Bytes of the header: magic, checksum field, mode.
pub const HEADER_LEN: usize = 22;

/// Where the checksummed region starts (the mode is its first two bytes).
const CHECKSUM_BODY: usize = 20;
/// Where the xxh32 value sits inside the checksum field.
const CHECKSUM_AT: usize = 16;
/// Loro's xxh32 seed.
const SEED: u32 = u32::from_le_bytes(*b"LORO");

/// The encode mode of an updates blob (`FastUpdates`): the only kind a peer may send.
pub const UPDATES_MODE: [u8; 2] = [0, 4];
/// The encode mode of a snapshot blob (`FastSnapshot`), which servers refuse from peers.
pub const SNAPSHOT_MODE: [u8; 2] = [0, 3];

/// Recomputes the checksum of `blob` in place, so Loro accepts it past the header check.
/// Blobs shorter than the checksummed region are left as they are (Loro refuses them
/// before looking at the checksum).
pub fn fix_checksum(blob: &mut [u8]) {
    if blob.len() < CHECKSUM_BODY {
        return;
    }
    let sum = xxh32(&blob[CHECKSUM_BODY..], SEED);
    blob[CHECKSUM_AT..CHECKSUM_BODY].copy_from_slice(&sum.to_le_bytes());
}

/// Whether the stored checksum of `blob` matches its content.
pub fn checksum_ok(blob: &[u8]) -> bool {
    blob.len() >= CHECKSUM_BODY
        && blob[CHECKSUM_AT..CHECKSUM_BODY] == xxh32(&blob[CHECKSUM_BODY..], SEED).to_le_bytes()
}

/// The mode bytes of `blob`, if it is long enough to have them.
pub fn mode(blob: &[u8]) -> Option<[u8; 2]> {
    blob.get(CHECKSUM_BODY..HEADER_LEN).map(|m| [m[0], m[1]])
}

/// Overwrites the mode bytes (the checksum must be fixed afterwards: they are inside it).
pub fn set_mode(blob: &mut [u8], mode: [u8; 2]) {
    if let Some(slot) = blob.get_mut(CHECKSUM_BODY..HEADER_LEN) {
        slot.copy_from_slice(&mode);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loro::{ExportMode, LoroDoc};

    fn export() -> Vec<u8> {
        let doc = LoroDoc::new();
        doc.get_text("content")
            .insert(0, "héllo ✓")
            .expect("insert");
        doc.export(ExportMode::all_updates()).expect("export")
    }

    #[test]
    fn a_fixed_copy_of_a_real_export_imports_again() {
        let original = export();
        assert!(checksum_ok(&original), "loro's own export passes our check");
        let mut copy = original.clone();
        copy[CHECKSUM_AT..CHECKSUM_BODY].fill(0);
        fix_checksum(&mut copy);
        assert_eq!(copy, original, "the recomputed checksum is loro's");
        let doc = LoroDoc::new();
        doc.import(&copy)
            .expect("a no-op mutation with a fixed checksum imports");
        assert_eq!(doc.get_text("content").to_string(), "héllo ✓");
    }

    #[test]
    fn a_wrong_checksum_is_refused_by_loro() {
        let mut blob = export();
        let last = blob.len() - 1;
        blob[last] ^= 0x01;
        assert!(!checksum_ok(&blob));
        let refused = LoroDoc::new().import(&blob);
        assert!(
            matches!(refused, Err(loro::LoroError::DecodeChecksumMismatchError)),
            "{refused:?}"
        );
        fix_checksum(&mut blob);
        assert!(checksum_ok(&blob));
    }

    #[test]
    fn mode_bytes_are_read_and_written() {
        let mut blob = export();
        assert_eq!(mode(&blob), Some(UPDATES_MODE));
        set_mode(&mut blob, SNAPSHOT_MODE);
        assert_eq!(mode(&blob), Some(SNAPSHOT_MODE));
        assert_eq!(mode(b"loro"), None);
        let mut short = *b"loro";
        fix_checksum(&mut short);
        assert_eq!(&short, b"loro", "too short to carry a checksum: untouched");
    }
}
