//! Reassembling fragmented batches received on one connection.
//!
//! Memory: a batch is checked against the limits when its header arrives, and fragments
//! are kept as received (no buffer is sized from the header). Only when every fragment
//! is in and their sizes add up to the announced total is one buffer of that total
//! allocated — a size that has then actually arrived. Partial batches of one connection
//! therefore hold at most `max_concurrent_batches × max_reassembled_bytes` bytes of data,
//! plus each received frame's envelope when decoded with
//! [`decode_bytes`](super::decode_bytes).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::time::Instant;

use bytes::Bytes;

use super::{AckStatus, BatchId, Body, Limits, Magic, Message};
use crate::Error;

/// How many refused or expired batch ids are remembered, so that their remaining
/// fragments are dropped quietly instead of each drawing an `Ack`.
const REMEMBERED_REFUSALS: usize = 64;

/// A batch whose fragments have all arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// CRDT type of the room.
    pub magic: Magic,
    /// The room.
    pub room: String,
    /// The batch id (for the `Ack`).
    pub batch_id: BatchId,
    /// The fragments concatenated: one update.
    pub payload: Bytes,
}

/// Why the [`Reassembler`] refused a header or fragment, and the `Ack` to answer with, if any.
///
/// The refused batch is discarded; later fragments of it are refused without an `Ack`.
#[derive(Debug)]
pub struct Refusal {
    error: Error,
    reply: Option<(Magic, String, BatchId, AckStatus)>,
}

impl Refusal {
    fn new(error: Error, reply: Option<(Magic, String, BatchId, AckStatus)>) -> Self {
        Refusal { error, reply }
    }

    /// The `Ack` to send the peer — room, batch and status — or `None` when none is due.
    pub fn ack(&self) -> Option<(Magic, String, BatchId, AckStatus)> {
        self.reply.clone()
    }

    /// What was wrong.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// What was wrong, by value.
    pub fn into_error(self) -> Error {
        self.error
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        refusal.error
    }
}

/// A batch whose header has arrived and whose fragments have not all arrived.
#[derive(Debug)]
struct Pending {
    magic: Magic,
    room: String,
    count: u64,
    total: usize,
    received: usize,
    fragments: BTreeMap<u64, Bytes>,
    deadline: Instant,
}

/// Reassembles the fragmented batches of one connection.
///
/// Batches are keyed by batch id, as in the reference server; a fragment must name the
/// same magic and room as its header. A second header for a batch in flight restarts it
/// (the reference peers do the same). Time is passed in, so tests drive it.
#[derive(Debug)]
pub struct Reassembler {
    limits: Limits,
    batches: HashMap<BatchId, Pending>,
    refused: VecDeque<BatchId>,
}

impl Reassembler {
    /// A reassembler enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            batches: HashMap::new(),
            refused: VecDeque::new(),
        }
    }

    /// Takes a [`Body::FragmentHeader`] or [`Body::Fragment`] message. Returns the batch when
    /// this message completes it, `None` while fragments are missing. Any other message is
    /// refused without an `Ack`.
    pub fn accept(&mut self, msg: Message, now: Instant) -> Result<Option<Reassembled>, Refusal> {
        let Message { magic, room, body } = msg;
        match body {
            Body::FragmentHeader {
                batch_id,
                count,
                total_size,
            } => self
                .accept_header(magic, room, batch_id, count, total_size, now)
                .map(|()| None),
            Body::Fragment {
                batch_id,
                index,
                data,
            } => self.accept_fragment(magic, room, batch_id, index, data),
            _ => Err(Refusal::new(
                Error::Fragment {
                    reason: "not a fragment header or fragment",
                },
                None,
            )),
        }
    }

    /// Starts a batch of `count` fragments totalling `total_size` bytes, due by
    /// `now + fragment_timeout`.
    ///
    /// Refused with `PayloadTooLarge` when `count` or `total_size` exceed the limits, with
    /// `RateLimited` when `max_concurrent_batches` are already in flight, and with
    /// `InvalidUpdate` when `count` is 0 or larger than `total_size` (each fragment but
    /// those of an empty payload carries at least one byte).
    pub fn accept_header(
        &mut self,
        magic: Magic,
        room: String,
        batch_id: BatchId,
        count: u64,
        total_size: u64,
        now: Instant,
    ) -> Result<(), Refusal> {
        // A restarted batch replaces the one in flight.
        self.batches.remove(&batch_id);
        let status_and_error = if count > self.limits.max_fragment_count {
            Some((
                AckStatus::PayloadTooLarge,
                Error::TooLarge {
                    size: saturating_usize(count),
                    limit: saturating_usize(self.limits.max_fragment_count),
                },
            ))
        } else if total_size > self.limits.max_reassembled_bytes as u64 {
            Some((
                AckStatus::PayloadTooLarge,
                Error::TooLarge {
                    size: saturating_usize(total_size),
                    limit: self.limits.max_reassembled_bytes,
                },
            ))
        } else if count == 0 {
            Some((
                AckStatus::InvalidUpdate,
                Error::Fragment {
                    reason: "a fragmented batch must have at least one fragment",
                },
            ))
        } else if count > total_size.max(1) {
            Some((
                AckStatus::InvalidUpdate,
                Error::Fragment {
                    reason: "more fragments than payload bytes",
                },
            ))
        } else if self.batches.len() >= self.limits.max_concurrent_batches {
            Some((
                AckStatus::RateLimited,
                Error::Fragment {
                    reason: "too many fragmented batches in flight",
                },
            ))
        } else {
            None
        };
        if let Some((status, error)) = status_and_error {
            self.remember_refused(batch_id);
            return Err(Refusal::new(error, Some((magic, room, batch_id, status))));
        }
        self.refused.retain(|id| *id != batch_id);
        self.batches.insert(
            batch_id,
            Pending {
                magic,
                room,
                count,
                // Checked above against `max_reassembled_bytes`, a `usize`.
                total: saturating_usize(total_size),
                received: 0,
                fragments: BTreeMap::new(),
                deadline: now + self.limits.fragment_timeout,
            },
        );
        Ok(())
    }

    /// Adds fragment `index` of a batch; returns the batch once all fragments are in.
    ///
    /// A fragment of a batch never announced (or already expired) is refused with
    /// `FragmentTimeout`, as the reference server does, so the sender resends. An index out
    /// of range, a repeated index, a different room, or sizes that do not add up to the
    /// announced total discard the batch with `InvalidUpdate`.
    pub fn accept_fragment(
        &mut self,
        magic: Magic,
        room: String,
        batch_id: BatchId,
        index: u64,
        data: Bytes,
    ) -> Result<Option<Reassembled>, Refusal> {
        let Some(pending) = self.batches.get_mut(&batch_id) else {
            let ack = if self.refused.contains(&batch_id) {
                None
            } else {
                self.remember_refused(batch_id);
                Some((magic, room, batch_id, AckStatus::FragmentTimeout))
            };
            let error = Error::Fragment {
                reason: "fragment of an unknown, expired or refused batch",
            };
            return Err(Refusal::new(error, ack));
        };
        let problem = if pending.magic != magic || pending.room != room {
            Some("fragment names another room than its header")
        } else if index >= pending.count {
            Some("fragment index out of range")
        } else if pending.fragments.contains_key(&index) {
            Some("fragment index repeated")
        } else if data.len() > pending.total - pending.received {
            Some("fragments exceed the announced total size")
        } else {
            None
        };
        if let Some(reason) = problem {
            return Err(self.discard(batch_id, magic, room, reason));
        }
        pending.received += data.len();
        pending.fragments.insert(index, data);
        if (pending.fragments.len() as u64) < pending.count {
            return Ok(None);
        }
        if pending.received != pending.total {
            let reason = "fragments fall short of the announced total size";
            return Err(self.discard(batch_id, magic, room, reason));
        }
        let Some(pending) = self.batches.remove(&batch_id) else {
            return Ok(None);
        };
        Ok(Some(Reassembled {
            magic: pending.magic,
            room: pending.room,
            batch_id,
            payload: concat(pending.fragments, pending.total),
        }))
    }

    /// Discards every batch due by `now` and returns them, oldest first; answer each with
    /// `Ack(FragmentTimeout)`. Their late fragments are then refused without an `Ack`.
    pub fn expire(&mut self, now: Instant) -> Vec<(Magic, String, BatchId)> {
        let mut due: Vec<(Instant, BatchId)> = self
            .batches
            .iter()
            .filter(|(_, pending)| pending.deadline <= now)
            .map(|(id, pending)| (pending.deadline, *id))
            .collect();
        due.sort();
        let mut expired = Vec::with_capacity(due.len());
        for (_, batch_id) in due {
            if let Some(pending) = self.batches.remove(&batch_id) {
                self.remember_refused(batch_id);
                expired.push((pending.magic, pending.room, batch_id));
            }
        }
        expired
    }

    /// When the next batch falls due, if any is in flight.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.batches.values().map(|pending| pending.deadline).min()
    }

    /// Drops the batches of one room (after the peer leaves it).
    pub fn forget_room(&mut self, magic: Magic, room: &str) {
        self.batches
            .retain(|_, pending| pending.magic != magic || pending.room != room);
    }

    /// Batches in flight.
    pub fn in_flight(&self) -> usize {
        self.batches.len()
    }

    /// Fragment bytes held for batches in flight.
    pub fn buffered_bytes(&self) -> usize {
        self.batches.values().map(|pending| pending.received).sum()
    }

    fn discard(
        &mut self,
        batch_id: BatchId,
        magic: Magic,
        room: String,
        reason: &'static str,
    ) -> Refusal {
        self.batches.remove(&batch_id);
        self.remember_refused(batch_id);
        Refusal::new(
            Error::Fragment { reason },
            Some((magic, room, batch_id, AckStatus::InvalidUpdate)),
        )
    }

    /// Refuses a batch from outside (its sender may not write, or is over its budget):
    /// whatever was buffered for it is dropped, and its later fragments are refused
    /// without an `Ack` (the caller has already answered).
    pub fn refuse(&mut self, batch_id: BatchId) {
        self.batches.remove(&batch_id);
        self.remember_refused(batch_id);
    }

    fn remember_refused(&mut self, batch_id: BatchId) {
        if self.refused.contains(&batch_id) {
            return;
        }
        if self.refused.len() >= REMEMBERED_REFUSALS {
            self.refused.pop_front();
        }
        self.refused.push_back(batch_id);
    }
}

/// The fragments in index order as one buffer of `total` bytes (their summed length).
fn concat(fragments: BTreeMap<u64, Bytes>, total: usize) -> Bytes {
    if fragments.len() == 1 {
        if let Some((_, only)) = fragments.into_iter().next() {
            return only;
        }
        return Bytes::new();
    }
    let mut payload = Vec::with_capacity(total);
    for data in fragments.into_values() {
        payload.extend_from_slice(&data);
    }
    Bytes::from(payload)
}

fn saturating_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
