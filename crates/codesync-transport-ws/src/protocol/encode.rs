//! [`Message`] to bytes.

use super::message::{carries_app_code, carries_receiver_version};
use super::wire::{put_var_bytes, put_varint, var_bytes_len, varint_len};
use super::{Body, Limits, Message};
use crate::{Error, Result};

/// Encodes a message. Never fails; limits are the sender's business (see
/// [`encode_checked`]). A `JoinError`'s `receiver_version` is written only when its code is
/// `VersionUnknown`, its `app_code` only when the code is `AppError`; otherwise they are
/// dropped, as in the reference codec.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(msg));
    encode_into(msg, &mut out);
    out
}

/// Like [`encode`], but fails with [`Error::TooLarge`] if the room id exceeds
/// `limits.max_room_id_bytes` or the frame exceeds `limits.max_frame_bytes`.
pub fn encode_checked(msg: &Message, limits: &Limits) -> Result<Vec<u8>> {
    if msg.room.len() > limits.max_room_id_bytes {
        return Err(Error::TooLarge {
            size: msg.room.len(),
            limit: limits.max_room_id_bytes,
        });
    }
    let len = encoded_len(msg);
    if len > limits.max_frame_bytes {
        return Err(Error::TooLarge {
            size: len,
            limit: limits.max_frame_bytes,
        });
    }
    Ok(encode(msg))
}

/// Appends the encoding of `msg` to `out`.
pub fn encode_into(msg: &Message, out: &mut Vec<u8>) {
    out.extend_from_slice(msg.magic.as_bytes());
    put_var_bytes(out, msg.room.as_bytes());
    out.push(msg.body.kind());
    match &msg.body {
        Body::JoinRequest { auth, version } => {
            put_var_bytes(out, auth);
            put_var_bytes(out, version);
        }
        Body::JoinResponseOk {
            permission,
            version,
            extra,
        } => {
            put_var_bytes(out, permission.as_str().as_bytes());
            put_var_bytes(out, version);
            put_var_bytes(out, extra);
        }
        Body::JoinError {
            code,
            message,
            receiver_version,
            app_code,
        } => {
            out.push(code.as_u8());
            put_var_bytes(out, message.as_bytes());
            match (receiver_version, app_code) {
                (Some(version), _) if carries_receiver_version(*code) => {
                    put_var_bytes(out, version);
                }
                (_, Some(app_code)) if carries_app_code(*code) => {
                    put_var_bytes(out, app_code.as_bytes());
                }
                _ => {}
            }
        }
        Body::DocUpdate { updates, batch_id } => {
            put_varint(out, updates.len() as u64);
            for update in updates {
                put_var_bytes(out, update);
            }
            out.extend_from_slice(batch_id.as_bytes());
        }
        Body::FragmentHeader {
            batch_id,
            count,
            total_size,
        } => {
            out.extend_from_slice(batch_id.as_bytes());
            put_varint(out, *count);
            put_varint(out, *total_size);
        }
        Body::Fragment {
            batch_id,
            index,
            data,
        } => {
            out.extend_from_slice(batch_id.as_bytes());
            put_varint(out, *index);
            put_var_bytes(out, data);
        }
        Body::RoomError { code, message } => {
            out.push(code.as_u8());
            put_var_bytes(out, message.as_bytes());
        }
        Body::Leave => {}
        Body::Ack { ref_id, status } => {
            out.extend_from_slice(ref_id.as_bytes());
            out.push(status.as_u8());
        }
    }
}

/// The exact number of bytes [`encode`] produces for `msg`.
pub fn encoded_len(msg: &Message) -> usize {
    envelope_len(&msg.room)
        + match &msg.body {
            Body::JoinRequest { auth, version } => {
                var_bytes_len(auth.len()) + var_bytes_len(version.len())
            }
            Body::JoinResponseOk {
                permission,
                version,
                extra,
            } => {
                var_bytes_len(permission.as_str().len())
                    + var_bytes_len(version.len())
                    + var_bytes_len(extra.len())
            }
            Body::JoinError {
                code,
                message,
                receiver_version,
                app_code,
            } => {
                let extra = match (receiver_version, app_code) {
                    (Some(version), _) if carries_receiver_version(*code) => {
                        var_bytes_len(version.len())
                    }
                    (_, Some(app_code)) if carries_app_code(*code) => var_bytes_len(app_code.len()),
                    _ => 0,
                };
                1 + var_bytes_len(message.len()) + extra
            }
            Body::DocUpdate { updates, .. } => super::fragment::updates_len(updates),
            Body::FragmentHeader {
                count, total_size, ..
            } => 8 + varint_len(*count) + varint_len(*total_size),
            Body::Fragment { index, data, .. } => {
                8 + varint_len(*index) + var_bytes_len(data.len())
            }
            Body::RoomError { message, .. } => 1 + var_bytes_len(message.len()),
            Body::Leave => 0,
            Body::Ack { .. } => 9,
        }
}

/// Magic, room id and message type byte.
pub(super) fn envelope_len(room: &str) -> usize {
    4 + var_bytes_len(room.len()) + 1
}
