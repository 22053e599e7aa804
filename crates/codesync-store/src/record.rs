//! Integrity checks for stored blobs: every snapshot and update is stored with its CRC-32,
//! so a damaged record is reported by name instead of being fed to the CRDT decoder.

use codesync_core::DocKey;

use crate::error::StoreError;

/// The checksum stored beside a blob.
pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Checks a blob read back against its stored checksum.
pub(crate) fn verify(
    key: &DocKey,
    what: &str,
    bytes: &[u8],
    stored: u32,
) -> Result<(), StoreError> {
    let actual = checksum(bytes);
    if actual == stored {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            key: key.clone(),
            detail: format!(
                "{what}: checksum mismatch (stored {stored:08x}, computed {actual:08x})"
            ),
        })
    }
}

/// Databases store checksums as signed 32-bit or 64-bit integers; these convert losslessly.
pub(crate) fn to_db(checksum: u32) -> i64 {
    i64::from(checksum)
}

/// The inverse of [`to_db`]; an out-of-range value is itself corruption.
pub(crate) fn from_db(key: &DocKey, what: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt {
        key: key.clone(),
        detail: format!("{what}: stored checksum {value} is out of range"),
    })
}
