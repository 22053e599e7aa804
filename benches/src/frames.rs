//! The protocol messages the codec benchmark encodes and decodes: the ones a server
//! handles most (document updates of a keystroke and of a paste, acks) and the join
//! handshake.

use bytes::Bytes;
use codesync_transport_ws::protocol::{self, AckStatus, BatchId, Body, Magic, Message, Permission};
use loro::{ExportMode, LoroDoc};

use crate::error::Result;
use crate::ingest::ROOM;

/// One message and its encoding.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The case's name in the report.
    pub name: &'static str,
    /// The message.
    pub message: Message,
    /// Its encoding.
    pub frame: Vec<u8>,
}

impl Sample {
    fn new(name: &'static str, body: Body) -> Self {
        let message = Message {
            magic: Magic::Loro,
            room: ROOM.to_owned(),
            body,
        };
        let frame = protocol::encode(&message);
        Self {
            name,
            message,
            frame,
        }
    }
}

/// The median-sized update of `updates`: a typical keystroke.
pub fn typical(updates: &[Vec<u8>]) -> Vec<u8> {
    let mut by_size: Vec<&Vec<u8>> = updates.iter().collect();
    by_size.sort_by_key(|u| u.len());
    by_size
        .get(by_size.len() / 2)
        .map(|u| u.to_vec())
        .unwrap_or_default()
}

/// A Loro update of about `bytes` bytes: one paste of Rust-like source.
pub fn paste_update(bytes: usize) -> Result<Vec<u8>> {
    let line = "    let total: u64 = items.iter().map(|i| i.price).sum();\n";
    let text: String = line.chars().cycle().take(bytes).collect();
    let doc = LoroDoc::new();
    doc.get_text("content").insert(0, &text)?;
    doc.commit();
    Ok(doc.export(ExportMode::all_updates())?)
}

/// The benchmark's messages: `keystroke` and `large` as `DocUpdate`s, a join request with a
/// signed-token-sized credential and a three-peer version, its answer, and an ack.
pub fn samples(keystroke: &[u8], large: &[u8]) -> Result<Vec<Sample>> {
    let doc = LoroDoc::new();
    for peer in 1..=3u64 {
        doc.set_peer_id(peer)?;
        doc.get_text("content").insert(0, "x")?;
        doc.commit();
    }
    let version = Bytes::from(doc.oplog_vv().encode());
    // The size of a `security::TokenPolicy` token: claims plus an HMAC, base64.
    let auth = Bytes::from(vec![b'A'; 120]);
    let update = |bytes: &[u8]| Body::DocUpdate {
        updates: vec![Bytes::copy_from_slice(bytes)],
        batch_id: BatchId::from_u64(42),
    };
    Ok(vec![
        Sample::new("doc_update_keystroke", update(keystroke)),
        Sample::new("doc_update_4k", update(large)),
        Sample::new(
            "join_request",
            Body::JoinRequest {
                auth,
                version: version.clone(),
            },
        ),
        Sample::new(
            "join_response",
            Body::JoinResponseOk {
                permission: Permission::Write,
                version,
                extra: Bytes::new(),
            },
        ),
        Sample::new(
            "ack",
            Body::Ack {
                ref_id: BatchId::from_u64(42),
                status: AckStatus::Ok,
            },
        ),
    ])
}
