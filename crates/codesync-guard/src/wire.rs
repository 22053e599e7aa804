//! What the server and a worker say to each other over the worker's stdin and stdout:
//! length-prefixed postcard frames.
//!
//! Both ends are this crate's own code, so the format needs no versioning; the length
//! limit still stops a confused stream from asking for an absurd allocation.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// The largest frame either side accepts: a base snapshot of a large document plus room.
pub(crate) const MAX_FRAME_BYTES: usize = 256 * 1024 * 1024;

/// From the server to a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Try `update` on the worker's copy of `key` at `base_version` (an encoded
    /// `VersionVector`), first replacing the copy by `base` when given.
    Update {
        id: u64,
        key: String,
        base_version: Vec<u8>,
        base: Option<Vec<u8>>,
        update: Vec<u8>,
    },
    /// Load a stored document (snapshot, then updates) into a fresh copy of `key`.
    Stored {
        id: u64,
        key: String,
        blobs: Vec<Vec<u8>>,
    },
    /// Drop the copy of `key`. No answer.
    Forget { key: String },
}

impl Request {
    /// The id the answer will carry, if one is expected.
    pub(crate) fn id(&self) -> Option<u64> {
        match self {
            Request::Update { id, .. } | Request::Stored { id, .. } => Some(*id),
            Request::Forget { .. } => None,
        }
    }

    /// Gives the request a new id (when it is sent again to a restarted worker).
    pub(crate) fn set_id(&mut self, new_id: u64) {
        match self {
            Request::Update { id, .. } | Request::Stored { id, .. } => *id = new_id,
            Request::Forget { .. } => {}
        }
    }
}

/// From a worker to the server, one per `Update` or `Stored` request, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Response {
    pub(crate) id: u64,
    pub(crate) outcome: Outcome,
}

/// The worker's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Safe,
    NeedBase,
    MissingDependencies,
    Invalid(String),
    Unsafe(String),
    /// Sent once, unasked, when a worker starts (with id 0): proof that the program really
    /// is a worker before anything is sent to it.
    Ready,
}

/// Encodes one frame: a little-endian `u32` length, then the postcard body.
pub(crate) fn encode<T: Serialize>(message: &T) -> io::Result<Vec<u8>> {
    let body = postcard::to_stdvec(message).map_err(io::Error::other)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|len| (*len as usize) <= MAX_FRAME_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Decodes a frame's body.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> io::Result<T> {
    postcard::from_bytes(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The body length announced by a frame header, if acceptable.
pub(crate) fn body_len(header: [u8; 4]) -> io::Result<usize> {
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame over the size limit",
        ));
    }
    Ok(len)
}

/// Reads one frame body synchronously (the worker side); `None` at a clean end of input.
pub(crate) fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut body = vec![0u8; body_len(header)?];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Writes one frame synchronously (the worker side) and flushes it.
pub(crate) fn write_frame<T: Serialize>(output: &mut impl Write, message: &T) -> io::Result<()> {
    output.write_all(&encode(message)?)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let request = Request::Update {
            id: 7,
            key: "t/s".to_owned(),
            base_version: vec![1, 2],
            base: None,
            update: vec![9; 100],
        };
        let frame = encode(&request).expect("encode");
        let mut reader = &frame[..];
        let body = read_frame(&mut reader).expect("read").expect("a frame");
        let back: Request = decode(&body).expect("decode");
        assert_eq!(back.id(), Some(7));
        assert!(read_frame(&mut reader).expect("eof").is_none());
    }

    #[test]
    fn oversized_headers_are_refused() {
        let header = (u32::MAX).to_le_bytes();
        assert!(body_len(header).is_err());
        let mut truncated: &[u8] = &[5, 0, 0, 0, 1];
        assert!(read_frame(&mut truncated).is_err());
    }
}
