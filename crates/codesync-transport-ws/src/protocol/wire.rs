//! Wire primitives: unsigned LEB128, length-prefixed bytes, and a bounds-checked reader.
//!
//! Every read checks the bytes remaining first; nothing here can index out of bounds or
//! allocate more than the slice it reads.

use bytes::Bytes;

use crate::{Error, Result};

/// Longest LEB128 encoding of a `u64`.
const MAX_VARINT_BYTES: usize = 10;

/// Bytes of the LEB128 encoding of `value`.
pub(super) fn varint_len(value: u64) -> usize {
    let mut len = 1;
    let mut rest = value >> 7;
    while rest != 0 {
        len += 1;
        rest >>= 7;
    }
    len
}

/// Bytes of a length-prefixed field holding `len` bytes.
pub(super) fn var_bytes_len(len: usize) -> usize {
    varint_len(len as u64) + len
}

/// Appends `value` as LEB128 (always the shortest encoding).
pub(super) fn put_varint(out: &mut Vec<u8>, value: u64) {
    let mut rest = value;
    while rest >= 0x80 {
        out.push((rest & 0x7F) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a length-prefixed byte string.
pub(super) fn put_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn malformed(reason: &'static str) -> Error {
    Error::Malformed { reason }
}

/// Reads a frame front to back. When the frame is held in [`Bytes`], byte fields are
/// zero-copy slices of it; otherwise each field is copied out on its own.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
    owner: Option<&'a Bytes>,
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `frame`; `owner`, when given, must hold exactly `frame`.
    pub(super) fn new(frame: &'a [u8], owner: Option<&'a Bytes>) -> Self {
        Reader {
            rest: frame,
            owner,
            offset: 0,
        }
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether everything has been read.
    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Fails if anything is left after a complete message.
    pub(super) fn finish(&self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(malformed("trailing bytes after the message"))
        }
    }

    /// The next `len` bytes, failing (without allocating) if fewer remain.
    pub(super) fn slice(&mut self, len: usize, reason: &'static str) -> Result<&'a [u8]> {
        if len > self.rest.len() {
            return Err(malformed(reason));
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        self.offset += len;
        Ok(head)
    }

    /// One byte.
    pub(super) fn byte(&mut self, reason: &'static str) -> Result<u8> {
        let (&first, tail) = self.rest.split_first().ok_or_else(|| malformed(reason))?;
        self.rest = tail;
        self.offset += 1;
        Ok(first)
    }

    /// A fixed-size array.
    pub(super) fn array<const N: usize>(&mut self, reason: &'static str) -> Result<[u8; N]> {
        let slice = self.slice(N, reason)?;
        <[u8; N]>::try_from(slice).map_err(|_| malformed(reason))
    }

    /// An unsigned LEB128 integer. Encodings longer than needed, or beyond `u64`, fail.
    pub(super) fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for index in 0..MAX_VARINT_BYTES {
            let byte = self.byte("truncated varint")?;
            if index == MAX_VARINT_BYTES - 1 && byte > 0x01 {
                return Err(malformed("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                if byte == 0 && index > 0 {
                    return Err(malformed("varint is not minimally encoded"));
                }
                return Ok(value);
            }
        }
        Err(malformed("varint overflows 64 bits"))
    }

    /// A length prefix, checked against the bytes remaining before anyone allocates.
    pub(super) fn length(&mut self, reason: &'static str) -> Result<usize> {
        let len = self.varint()?;
        match usize::try_from(len) {
            Ok(len) if len <= self.remaining() => Ok(len),
            _ => Err(malformed(reason)),
        }
    }

    /// `len` bytes as [`Bytes`] (a slice of the owner, or a copy of exactly `len` bytes).
    pub(super) fn bytes(&mut self, len: usize, reason: &'static str) -> Result<Bytes> {
        let start = self.offset;
        let slice = self.slice(len, reason)?;
        Ok(match self.owner {
            Some(owner) if owner.len() >= start + len => owner.slice(start..start + len),
            _ => Bytes::copy_from_slice(slice),
        })
    }

    /// A length-prefixed byte string.
    pub(super) fn var_bytes(&mut self) -> Result<Bytes> {
        let len = self.length("byte string longer than the frame")?;
        self.bytes(len, "byte string longer than the frame")
    }

    /// A length-prefixed UTF-8 string.
    pub(super) fn var_str(&mut self) -> Result<&'a str> {
        let len = self.length("string longer than the frame")?;
        let slice = self.slice(len, "string longer than the frame")?;
        std::str::from_utf8(slice).map_err(|_| malformed("string is not valid UTF-8"))
    }

    /// A length-prefixed UTF-8 string, owned.
    pub(super) fn var_string(&mut self) -> Result<String> {
        self.var_str().map(str::to_owned)
    }
}
