//! What a peer may make the codec and the reassembler accept.

use std::time::Duration;

/// Limits applied while decoding frames and reassembling fragmented batches.
///
/// The defaults follow the protocol: frames of at most 256 KiB, room ids of at most 128
/// bytes, a 10 s reassembly timeout. A connection buffers at most
/// `max_concurrent_batches × max_reassembled_bytes` bytes of partial batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest binary frame accepted by [`decode`](super::decode), and the frame size
    /// outgoing updates are fragmented to.
    pub max_frame_bytes: usize,
    /// Longest room id, in UTF-8 bytes.
    pub max_room_id_bytes: usize,
    /// Most updates one `DocUpdate` may carry.
    pub max_updates_per_batch: usize,
    /// Most fragments one fragmented batch may announce.
    pub max_fragment_count: u64,
    /// Largest total size a fragmented batch may announce.
    pub max_reassembled_bytes: usize,
    /// How long the fragments of a batch may take to arrive, counted from its header.
    pub fragment_timeout: Duration,
    /// Most fragmented batches one connection may have in flight at once.
    pub max_concurrent_batches: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 256 * 1024,
            max_room_id_bytes: 128,
            max_updates_per_batch: 1024,
            max_fragment_count: 4096,
            max_reassembled_bytes: 8 * 1024 * 1024,
            fragment_timeout: Duration::from_secs(10),
            max_concurrent_batches: 2,
        }
    }
}
