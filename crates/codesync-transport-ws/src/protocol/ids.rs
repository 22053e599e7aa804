//! Batch ids and join permissions.

use std::fmt;

/// The 8-byte id of an update batch (a `DocUpdate` or a fragmented batch); `Ack`s refer to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BatchId(pub [u8; 8]);

impl BatchId {
    /// The id whose bytes are `value` in big-endian order.
    pub fn from_u64(value: u64) -> Self {
        BatchId(value.to_be_bytes())
    }

    /// The id's bytes read as a big-endian integer.
    pub fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The 8 bytes on the wire.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl From<[u8; 8]> for BatchId {
    fn from(bytes: [u8; 8]) -> Self {
        BatchId(bytes)
    }
}

impl fmt::Display for BatchId {
    /// `0x` followed by 16 lowercase hex digits, as the TypeScript reference prints ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchId({self})")
    }
}

/// What a peer may do in a room, granted by `JoinResponseOk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `"read"`: receive updates only.
    Read,
    /// `"write"`: receive and send updates.
    Write,
}

impl Permission {
    /// The string on the wire: `"read"` or `"write"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
        }
    }

    /// The permission named by a wire string; anything but `"read"` / `"write"` is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Permission::Read),
            "write" => Some(Permission::Write),
            _ => None,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
