//! The Loro sync protocol, version 1: message types, the binary codec, and fragmentation.
//!
//! Wire layout of every binary frame (see the protocol's `protocol.md`):
//!
//! ```text
//! magic (4 bytes) | room id (varString) | type (1 byte) | body (depends on type)
//! ```
//!
//! | concern | items |
//! |---|---|
//! | CRDT type | [`Magic`] |
//! | identifiers and codes | [`BatchId`], [`Permission`], [`JoinErrorCode`], [`RoomErrorCode`], [`AckStatus`] |
//! | messages | [`Message`], [`Body`] |
//! | limits | [`Limits`] |
//! | codec | [`decode`], [`decode_bytes`], [`peek_room`], [`peek_batch`], [`encode`], [`encode_into`], [`encode_checked`], [`encoded_len`] |
//! | sending large updates | [`fragment`], [`doc_update_len`], [`doc_update_needs_fragmenting`] |
//! | receiving large updates | [`Reassembler`], [`Reassembled`], [`Refusal`] |
//!
//! Decoding never trusts a count or a length from the peer: each one is checked against
//! the bytes remaining in the frame (and the configured [`Limits`]) before anything is
//! allocated, so no allocation is ever larger than the frame itself. Text keepalive
//! frames (`"ping"` / `"pong"`) are not part of this codec.

mod codes;
mod decode;
mod encode;
mod fragment;
mod ids;
mod limits;
mod magic;
mod message;
mod reassembly;
mod wire;

pub use codes::{AckStatus, JoinErrorCode, RoomErrorCode};
pub use decode::{decode, decode_bytes, peek_batch, peek_room};
pub use encode::{encode, encode_checked, encode_into, encoded_len};
pub use fragment::{doc_update_len, doc_update_needs_fragmenting, fragment};
pub use ids::{BatchId, Permission};
pub use limits::Limits;
pub use magic::Magic;
pub use message::{Body, Message};
pub use reassembly::{Reassembled, Reassembler, Refusal};
