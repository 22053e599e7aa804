//! Splitting one large update into a fragmented batch, and deciding when that is needed.
//!
//! A fragmented batch carries exactly **one update**: the concatenation of its fragments,
//! in index order, is that update's bytes. This mirrors the reference TypeScript client,
//! which fragments each oversized update on its own, and both reference peers, which pass
//! the reassembled bytes on as a single update.

use bytes::Bytes;

use super::encode::envelope_len;
use super::wire::{var_bytes_len, varint_len};
use super::{BatchId, Body, Magic, Message};

/// The messages that carry `payload` (one update) as a fragmented batch: a
/// [`Body::FragmentHeader`] followed by [`Body::Fragment`]s with indices `0..count`.
///
/// Fragments are as large as possible while every message encodes to at most
/// `max_frame_bytes`. That holds whenever `max_frame_bytes` leaves room for the fragment
/// envelope plus one byte — about 20 bytes plus the room id; below that, each fragment
/// carries a single byte and exceeds the limit. An empty payload gives one empty fragment.
/// The receiver's [`Limits`](super::Limits) bound the fragment count and total size, so
/// the sender should keep `payload.len()` within `max_reassembled_bytes`.
pub fn fragment(
    magic: Magic,
    room: &str,
    batch_id: BatchId,
    payload: &[u8],
    max_frame_bytes: usize,
) -> Vec<Message> {
    let chunk = chunk_size(room, payload.len(), max_frame_bytes);
    let pieces: Vec<&[u8]> = if payload.is_empty() {
        vec![payload]
    } else {
        payload.chunks(chunk).collect()
    };
    let message = |body| Message {
        magic,
        room: room.to_owned(),
        body,
    };
    let mut messages = Vec::with_capacity(pieces.len() + 1);
    messages.push(message(Body::FragmentHeader {
        batch_id,
        count: pieces.len() as u64,
        total_size: payload.len() as u64,
    }));
    for (index, piece) in pieces.into_iter().enumerate() {
        messages.push(message(Body::Fragment {
            batch_id,
            index: index as u64,
            data: Bytes::copy_from_slice(piece),
        }));
    }
    messages
}

/// The bytes of a `DocUpdate` carrying `updates` in room `room` (any magic: it is 4 bytes).
pub fn doc_update_len(room: &str, updates: &[Bytes]) -> usize {
    envelope_len(room) + updates_len(updates)
}

/// Whether a `DocUpdate` carrying `updates` would encode to more than `max_frame_bytes`.
///
/// If so, and there are several updates, send them in smaller `DocUpdate`s; an update
/// that does not fit on its own must go as a fragmented batch ([`fragment`]), because a
/// fragmented batch carries exactly one update.
pub fn doc_update_needs_fragmenting(room: &str, updates: &[Bytes], max_frame_bytes: usize) -> bool {
    doc_update_len(room, updates) > max_frame_bytes
}

/// The body of a `DocUpdate` after the type byte: count, updates, batch id.
pub(super) fn updates_len(updates: &[Bytes]) -> usize {
    varint_len(updates.len() as u64)
        + updates
            .iter()
            .map(|update| var_bytes_len(update.len()))
            .sum::<usize>()
        + 8
}

/// The largest fragment size such that every fragment of a `total`-byte payload encodes
/// within `max_frame_bytes` (at least 1).
fn chunk_size(room: &str, total: usize, max_frame_bytes: usize) -> usize {
    // Envelope, batch id, then the index varint, the length varint and the data.
    let available = max_frame_bytes.saturating_sub(envelope_len(room) + 8);
    let mut index_len = 1;
    loop {
        let chunk = largest_var_bytes(available.saturating_sub(index_len)).max(1);
        let count = total.div_ceil(chunk).max(1);
        let needed = varint_len(count as u64 - 1);
        // The index length only grows, and never beyond 10 bytes, so this terminates.
        if needed <= index_len {
            return chunk;
        }
        index_len = needed;
    }
}

/// The largest `len` with `var_bytes_len(len) <= space` (0 if none).
fn largest_var_bytes(space: usize) -> usize {
    let mut len = space.saturating_sub(1);
    while len > 0 && var_bytes_len(len) > space {
        len -= 1;
    }
    len
}
