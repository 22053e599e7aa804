//! The memory benchmark's inputs on disk: a list of byte strings, each prefixed by its
//! length (u32, little-endian). The parent process prepares them once; each measuring
//! process only reads them, so no allocation churn from preparing (parsing a trace,
//! replaying it) is left in its heap to be reused by what it measures.

use std::path::Path;

use crate::error::{BenchError, Result};

/// Writes `blobs` to `path`.
pub fn write_blobs(path: &Path, blobs: &[Vec<u8>]) -> Result<()> {
    let total = blobs.iter().map(|b| b.len() + 4).sum();
    let mut out = Vec::with_capacity(total);
    for blob in blobs {
        let len = u32::try_from(blob.len())
            .map_err(|_| BenchError::Unexpected("a blob over 4 GiB".to_owned()))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(blob);
    }
    Ok(std::fs::write(path, out)?)
}

/// Reads what [`write_blobs`] wrote.
pub fn read_blobs(path: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path)?;
    let truncated = || BenchError::Unexpected(format!("{} is truncated", path.display()));
    let mut rest = bytes.as_slice();
    let mut blobs = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(truncated)?;
        let len = u32::from_le_bytes(*len) as usize;
        let blob = tail.get(..len).ok_or_else(truncated)?;
        blobs.push(blob.to_vec());
        rest = &tail[len..];
    }
    Ok(blobs)
}
