//! Protocol messages as Rust values.

use bytes::Bytes;

use super::{AckStatus, BatchId, JoinErrorCode, Magic, Permission, RoomErrorCode};

/// One protocol message: the envelope (CRDT type and room) and a typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The CRDT type of the room.
    pub magic: Magic,
    /// The room id (UTF-8; at most [`Limits::max_room_id_bytes`](super::Limits) bytes).
    pub room: String,
    /// What the message says.
    pub body: Body,
}

/// The body of a [`Message`], one variant per message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `0x00`: ask to join the room.
    JoinRequest {
        /// Application-defined join payload (credentials, session info).
        auth: Bytes,
        /// The requester's document version.
        version: Bytes,
    },
    /// `0x01`: the join was accepted.
    JoinResponseOk {
        /// What the requester may do.
        permission: Permission,
        /// The receiver's document version.
        version: Bytes,
        /// Extra metadata; always on the wire, empty when there is none.
        extra: Bytes,
    },
    /// `0x02`: the join was refused.
    JoinError {
        /// Why.
        code: JoinErrorCode,
        /// Human-readable explanation.
        message: String,
        /// The receiver's version. Encoded only when `code` is `VersionUnknown` (0x01).
        receiver_version: Option<Bytes>,
        /// Application error code. Encoded only when `code` is `AppError` (0x7F).
        app_code: Option<String>,
    },
    /// `0x03`: document updates.
    DocUpdate {
        /// The updates, each applied as one unit.
        updates: Vec<Bytes>,
        /// Id the `Ack` refers to.
        batch_id: BatchId,
    },
    /// `0x04`: announces a batch sent as fragments (one update split in pieces).
    FragmentHeader {
        /// Id of the batch; fragments and the `Ack` refer to it.
        batch_id: BatchId,
        /// How many fragments follow.
        count: u64,
        /// Total bytes of all fragments together.
        total_size: u64,
    },
    /// `0x05`: one piece of a fragmented batch.
    Fragment {
        /// Id of the batch, as in its header.
        batch_id: BatchId,
        /// Position of this piece, from 0.
        index: u64,
        /// The bytes of this piece.
        data: Bytes,
    },
    /// `0x06`: the peer has been removed from the room.
    RoomError {
        /// Why.
        code: RoomErrorCode,
        /// Human-readable explanation.
        message: String,
    },
    /// `0x07`: stop receiving updates for the room.
    Leave,
    /// `0x08`: outcome of an update batch.
    Ack {
        /// The batch id of the `DocUpdate` or fragmented batch.
        ref_id: BatchId,
        /// The outcome.
        status: AckStatus,
    },
}

/// Message type bytes.
pub(super) mod kind {
    pub(in crate::protocol) const JOIN_REQUEST: u8 = 0x00;
    pub(in crate::protocol) const JOIN_RESPONSE_OK: u8 = 0x01;
    pub(in crate::protocol) const JOIN_ERROR: u8 = 0x02;
    pub(in crate::protocol) const DOC_UPDATE: u8 = 0x03;
    pub(in crate::protocol) const FRAGMENT_HEADER: u8 = 0x04;
    pub(in crate::protocol) const FRAGMENT: u8 = 0x05;
    pub(in crate::protocol) const ROOM_ERROR: u8 = 0x06;
    pub(in crate::protocol) const LEAVE: u8 = 0x07;
    pub(in crate::protocol) const ACK: u8 = 0x08;
}

impl Body {
    /// The message type byte.
    pub(super) fn kind(&self) -> u8 {
        match self {
            Body::JoinRequest { .. } => kind::JOIN_REQUEST,
            Body::JoinResponseOk { .. } => kind::JOIN_RESPONSE_OK,
            Body::JoinError { .. } => kind::JOIN_ERROR,
            Body::DocUpdate { .. } => kind::DOC_UPDATE,
            Body::FragmentHeader { .. } => kind::FRAGMENT_HEADER,
            Body::Fragment { .. } => kind::FRAGMENT,
            Body::RoomError { .. } => kind::ROOM_ERROR,
            Body::Leave => kind::LEAVE,
            Body::Ack { .. } => kind::ACK,
        }
    }

    /// The batch id this body carries or refers to, if any.
    pub fn batch_id(&self) -> Option<BatchId> {
        match self {
            Body::DocUpdate { batch_id, .. }
            | Body::FragmentHeader { batch_id, .. }
            | Body::Fragment { batch_id, .. } => Some(*batch_id),
            Body::Ack { ref_id, .. } => Some(*ref_id),
            _ => None,
        }
    }
}

/// Whether a `JoinError` with this code carries `receiver_version` on the wire.
pub(super) fn carries_receiver_version(code: JoinErrorCode) -> bool {
    code.as_u8() == JoinErrorCode::VersionUnknown.as_u8()
}

/// Whether a `JoinError` with this code carries `app_code` on the wire.
pub(super) fn carries_app_code(code: JoinErrorCode) -> bool {
    code.as_u8() == JoinErrorCode::AppError.as_u8()
}
