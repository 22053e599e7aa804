//! Bytes to [`Message`].

use bytes::Bytes;

use super::message::{carries_app_code, carries_receiver_version, kind};
use super::wire::Reader;
use super::{
    AckStatus, BatchId, Body, JoinErrorCode, Limits, Magic, Message, Permission, RoomErrorCode,
};
use crate::{Error, Result};

/// Decodes one binary frame.
///
/// Fails with [`Error::TooLarge`] when the frame exceeds `limits.max_frame_bytes`, and with
/// [`Error::Malformed`] when the room id is longer than `limits.max_room_id_bytes` or not
/// UTF-8, the message type is unknown, a `DocUpdate` carries more than
/// `limits.max_updates_per_batch` updates, any field is truncated or invalid, or bytes are
/// left after the message. An unknown magic is *not* an error: the message decodes with
/// [`Magic::Unknown`] so the caller can refuse that room alone.
///
/// Fragment header counts and sizes are not checked here but by the [`Reassembler`]
/// (so the caller still learns the batch id to answer). Byte fields are copied out of
/// `frame`; [`decode_bytes`] avoids the copies.
///
/// [`Reassembler`]: super::Reassembler
pub fn decode(frame: &[u8], limits: &Limits) -> Result<Message> {
    decode_from(Reader::new(frame, None), frame.len(), limits)
}

/// [`decode`] for a frame held in [`Bytes`]: byte fields are slices of `frame`, not copies.
pub fn decode_bytes(frame: &Bytes, limits: &Limits) -> Result<Message> {
    decode_from(Reader::new(frame, Some(frame)), frame.len(), limits)
}

/// The CRDT type and room id of a frame, reading nothing else (and ignoring the frame size
/// limit), so a server can answer in the right room even when [`decode`] fails. `None` if
/// even the envelope is unreadable or the room id breaks `limits.max_room_id_bytes`.
pub fn peek_room(frame: &[u8], limits: &Limits) -> Option<(Magic, String)> {
    let mut reader = Reader::new(frame, None);
    let magic = read_magic(&mut reader).ok()?;
    let room = read_room(&mut reader, limits).ok()?;
    Some((magic, room.to_owned()))
}

/// For a frame that did not decode: when its envelope is readable and it is a DocUpdate or
/// a fragment header, the batch its sender is waiting to have acknowledged, so the
/// refusal can still be answered with an `Ack` instead of silence.
pub fn peek_batch(frame: &[u8], limits: &Limits) -> Option<(Magic, String, BatchId)> {
    let mut reader = Reader::new(frame, None);
    let magic = read_magic(&mut reader).ok()?;
    let room = read_room(&mut reader, limits).ok()?.to_owned();
    match reader.byte("no message type").ok()? {
        // A DocUpdate ends with its batch id.
        0x03 if reader.remaining() >= 8 => {
            let tail = frame.get(frame.len() - 8..)?;
            let mut id = [0u8; 8];
            id.copy_from_slice(tail);
            Some((magic, room, BatchId(id)))
        }
        // A fragment header starts with it.
        0x04 => read_batch_id(&mut reader).ok().map(|id| (magic, room, id)),
        _ => None,
    }
}

fn malformed(reason: &'static str) -> Error {
    Error::Malformed { reason }
}

fn read_magic(reader: &mut Reader<'_>) -> Result<Magic> {
    reader
        .array::<4>("frame too short for the magic bytes")
        .map(Magic::from_bytes)
}

fn read_room<'a>(reader: &mut Reader<'a>, limits: &Limits) -> Result<&'a str> {
    let len = reader.length("room id longer than the frame")?;
    if len > limits.max_room_id_bytes {
        return Err(malformed("room id longer than the limit"));
    }
    let bytes = reader.slice(len, "room id longer than the frame")?;
    std::str::from_utf8(bytes).map_err(|_| malformed("room id is not valid UTF-8"))
}

fn read_batch_id(reader: &mut Reader<'_>) -> Result<BatchId> {
    reader.array::<8>("truncated batch id").map(BatchId)
}

fn decode_from(mut reader: Reader<'_>, frame_len: usize, limits: &Limits) -> Result<Message> {
    if frame_len > limits.max_frame_bytes {
        return Err(Error::TooLarge {
            size: frame_len,
            limit: limits.max_frame_bytes,
        });
    }
    let magic = read_magic(&mut reader)?;
    let room = read_room(&mut reader, limits)?.to_owned();
    let body = read_body(&mut reader, limits)?;
    reader.finish()?;
    Ok(Message { magic, room, body })
}

fn read_body(reader: &mut Reader<'_>, limits: &Limits) -> Result<Body> {
    let kind = reader.byte("frame ends before the message type")?;
    Ok(match kind {
        kind::JOIN_REQUEST => Body::JoinRequest {
            auth: reader.var_bytes()?,
            version: reader.var_bytes()?,
        },
        kind::JOIN_RESPONSE_OK => {
            let permission =
                Permission::parse(reader.var_str()?).ok_or(malformed("unknown permission"))?;
            Body::JoinResponseOk {
                permission,
                version: reader.var_bytes()?,
                extra: reader.var_bytes()?,
            }
        }
        kind::JOIN_ERROR => read_join_error(reader)?,
        kind::DOC_UPDATE => read_doc_update(reader, limits)?,
        kind::FRAGMENT_HEADER => Body::FragmentHeader {
            batch_id: read_batch_id(reader)?,
            count: reader.varint()?,
            total_size: reader.varint()?,
        },
        kind::FRAGMENT => Body::Fragment {
            batch_id: read_batch_id(reader)?,
            index: reader.varint()?,
            data: reader.var_bytes()?,
        },
        kind::ROOM_ERROR => Body::RoomError {
            code: RoomErrorCode::from_u8(reader.byte("truncated room error code")?),
            message: reader.var_string()?,
        },
        kind::LEAVE => Body::Leave,
        kind::ACK => Body::Ack {
            ref_id: read_batch_id(reader)?,
            status: AckStatus::from_u8(reader.byte("truncated ack status")?),
        },
        _ => return Err(malformed("unknown message type")),
    })
}

/// Code, message, then — only if bytes remain — the extra the code calls for
/// (`receiver_version` for 0x01, `app_code` for 0x7F), as the reference codec does.
fn read_join_error(reader: &mut Reader<'_>) -> Result<Body> {
    let code = JoinErrorCode::from_u8(reader.byte("truncated join error code")?);
    let message = reader.var_string()?;
    let mut receiver_version = None;
    let mut app_code = None;
    if !reader.is_empty() {
        if carries_receiver_version(code) {
            receiver_version = Some(reader.var_bytes()?);
        } else if carries_app_code(code) {
            app_code = Some(reader.var_string()?);
        }
    }
    Ok(Body::JoinError {
        code,
        message,
        receiver_version,
        app_code,
    })
}

/// The count is checked against the bytes left (each update takes at least its length
/// byte, and the batch id 8 more) and the limit before any update is read; the vector
/// grows only with updates actually read.
fn read_doc_update(reader: &mut Reader<'_>, limits: &Limits) -> Result<Body> {
    let count = reader.varint()?;
    let room_for = reader.remaining().saturating_sub(8) as u64;
    if count > room_for {
        return Err(malformed("update count exceeds the frame"));
    }
    if count > limits.max_updates_per_batch as u64 {
        return Err(Error::TooLarge {
            size: usize::try_from(count).unwrap_or(usize::MAX),
            limit: limits.max_updates_per_batch,
        });
    }
    let mut updates = Vec::new();
    for _ in 0..count {
        updates.push(reader.var_bytes()?);
    }
    let batch_id = read_batch_id(reader)?;
    Ok(Body::DocUpdate { updates, batch_id })
}
