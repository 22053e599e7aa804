//! The wire format of one bus message: a small versioned binary envelope.
//!
//! ```text
//! byte 0      version (1)
//! byte 1      kind: 1 Update, 2 Presence, 3 PresenceGone, 4 PresenceRequest, 5 Refresh
//! bytes 2..10 sender node id, u64 big-endian
//! bytes 10..  payload:
//!             Update, Presence: the bytes as they are
//!             PresenceGone: u32 BE count, then per key a u32 BE length and UTF-8 bytes
//!             PresenceRequest, Refresh: nothing
//! ```
//!
//! Anything else (another version, an unknown kind, a short or over-long payload, bad
//! UTF-8) is refused by [`decode`], never by a panic.

use bytes::{BufMut, Bytes, BytesMut};
use codesync_core::{NodeId, NodeMessage};

/// The envelope version this crate writes and reads.
pub(crate) const VERSION: u8 = 1;
const HEADER: usize = 10;

const UPDATE: u8 = 1;
const PRESENCE: u8 = 2;
const PRESENCE_GONE: u8 = 3;
const PRESENCE_REQUEST: u8 = 4;
const REFRESH: u8 = 5;

/// One decoded message and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) from: NodeId,
    pub(crate) message: NodeMessage,
}

/// Why bytes were not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("shorter than the {HEADER}-byte header")]
    TooShort,
    #[error("envelope version {0} is not supported (this node reads version {VERSION})")]
    Version(u8),
    #[error("unknown message kind {0}")]
    Kind(u8),
    #[error("malformed payload: {0}")]
    Payload(&'static str),
}

/// Encodes `message` from node `from`; `None` for a message kind this version does not
/// know (a newer `NodeMessage` variant).
pub(crate) fn encode(from: NodeId, message: &NodeMessage) -> Option<Bytes> {
    let (kind, extra) = match message {
        NodeMessage::Update(bytes) | NodeMessage::Presence(bytes) => (
            if matches!(message, NodeMessage::Update(_)) {
                UPDATE
            } else {
                PRESENCE
            },
            bytes.len(),
        ),
        NodeMessage::PresenceGone(keys) => (
            PRESENCE_GONE,
            4 + keys.iter().map(|k| 4 + k.len()).sum::<usize>(),
        ),
        NodeMessage::PresenceRequest => (PRESENCE_REQUEST, 0),
        NodeMessage::Refresh => (REFRESH, 0),
        _ => return None,
    };
    let mut out = BytesMut::with_capacity(HEADER + extra);
    out.put_u8(VERSION);
    out.put_u8(kind);
    out.put_u64(from.0);
    match message {
        NodeMessage::Update(bytes) | NodeMessage::Presence(bytes) => out.put_slice(bytes),
        NodeMessage::PresenceGone(keys) => {
            out.put_u32(u32::try_from(keys.len()).ok()?);
            for key in keys {
                out.put_u32(u32::try_from(key.len()).ok()?);
                out.put_slice(key.as_bytes());
            }
        }
        _ => {}
    }
    Some(out.freeze())
}

/// Decodes one message; refuses anything not written by [`encode`] of this version.
pub(crate) fn decode(bytes: &Bytes) -> Result<Envelope, DecodeError> {
    if bytes.len() < HEADER {
        return Err(DecodeError::TooShort);
    }
    if bytes[0] != VERSION {
        return Err(DecodeError::Version(bytes[0]));
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[2..HEADER]);
    let from = NodeId(u64::from_be_bytes(id));
    let payload = bytes.slice(HEADER..);
    let empty = |message| {
        if payload.is_empty() {
            Ok(message)
        } else {
            Err(DecodeError::Payload("this kind carries no payload"))
        }
    };
    let message = match bytes[1] {
        UPDATE => NodeMessage::Update(payload),
        PRESENCE => NodeMessage::Presence(payload),
        PRESENCE_GONE => NodeMessage::PresenceGone(decode_keys(&payload)?),
        PRESENCE_REQUEST => empty(NodeMessage::PresenceRequest)?,
        REFRESH => empty(NodeMessage::Refresh)?,
        kind => return Err(DecodeError::Kind(kind)),
    };
    Ok(Envelope { from, message })
}

fn decode_keys(mut payload: &[u8]) -> Result<Vec<String>, DecodeError> {
    fn take_u32(payload: &mut &[u8]) -> Result<usize, DecodeError> {
        let (head, rest) = payload
            .split_first_chunk::<4>()
            .ok_or(DecodeError::Payload("truncated length"))?;
        *payload = rest;
        usize::try_from(u32::from_be_bytes(*head))
            .map_err(|_| DecodeError::Payload("length out of range"))
    }
    let count = take_u32(&mut payload)?;
    // Every key takes at least 4 bytes: a lying count cannot make us allocate more than
    // the message's own size.
    let mut keys = Vec::with_capacity(count.min(payload.len() / 4));
    for _ in 0..count {
        let len = take_u32(&mut payload)?;
        if payload.len() < len {
            return Err(DecodeError::Payload("truncated key"));
        }
        let (key, rest) = payload.split_at(len);
        let key = std::str::from_utf8(key).map_err(|_| DecodeError::Payload("key not UTF-8"))?;
        keys.push(key.to_owned());
        payload = rest;
    }
    if !payload.is_empty() {
        return Err(DecodeError::Payload("trailing bytes"));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds() -> Vec<NodeMessage> {
        vec![
            NodeMessage::Update(Bytes::from_static(b"\x00\x01loro ops")),
            NodeMessage::Update(Bytes::new()),
            NodeMessage::Presence(Bytes::from_static(b"cursor")),
            NodeMessage::PresenceGone(vec![]),
            NodeMessage::PresenceGone(vec!["a".into(), String::new(), "ключ".into()]),
            NodeMessage::PresenceRequest,
            NodeMessage::Refresh,
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for message in all_kinds() {
            for node in [NodeId(0), NodeId(42), NodeId(u64::MAX)] {
                let bytes = encode(node, &message).expect("known kind");
                assert_eq!(bytes[0], VERSION);
                let decoded = decode(&bytes).expect("decodes");
                assert_eq!(decoded.from, node);
                assert_eq!(decoded.message, message);
            }
        }
    }

    #[test]
    fn the_header_layout_is_fixed() {
        let bytes = encode(NodeId(0x0102_0304_0506_0708), &NodeMessage::Refresh).expect("known");
        assert_eq!(&bytes[..], &[1, 5, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let refused = |bytes: &[u8]| decode(&Bytes::copy_from_slice(bytes)).expect_err("refused");
        assert_eq!(refused(b""), DecodeError::TooShort);
        assert_eq!(refused(b"\x01\x01short"), DecodeError::TooShort);
        assert_eq!(refused(b"\x02\x01........"), DecodeError::Version(2));
        assert_eq!(refused(b"\x01\x09........"), DecodeError::Kind(9));
        assert!(matches!(
            refused(b"\x01\x05........x"),
            DecodeError::Payload(_)
        ));
        let gone = |payload: &[u8]| {
            let mut bytes = b"\x01\x03........".to_vec();
            bytes.extend_from_slice(payload);
            refused(&bytes)
        };
        assert!(matches!(gone(b""), DecodeError::Payload(_)));
        assert!(matches!(gone(b"\xff\xff\xff\xff"), DecodeError::Payload(_)));
        assert!(matches!(
            gone(b"\0\0\0\x01\0\0\0\x05ab"),
            DecodeError::Payload(_)
        ));
        assert!(matches!(
            gone(b"\0\0\0\x01\0\0\0\x01\xff"),
            DecodeError::Payload(_)
        ));
        assert!(matches!(gone(b"\0\0\0\0x"), DecodeError::Payload(_)));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix and single-byte mutation of valid
        // envelopes, plus pseudo-random buffers.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for message in all_kinds() {
            let valid = encode(NodeId(3), &message).expect("known").to_vec();
            for cut in 0..=valid.len() {
                let _ = decode(&Bytes::copy_from_slice(&valid[..cut]));
            }
            for i in 0..valid.len() {
                let mut mutated = valid.clone();
                mutated[i] = mutated[i].wrapping_add((next() % 255 + 1) as u8);
                let _ = decode(&Bytes::from(mutated));
            }
        }
        for _ in 0..2000 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = bytes.first_mut() {
                *first = VERSION;
            }
            let _ = decode(&Bytes::from(bytes));
        }
    }
}
