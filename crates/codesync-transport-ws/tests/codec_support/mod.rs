//! Helpers shared by the codec and fragmentation tests.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use codesync_transport_ws::protocol::{BatchId, Body, Limits, Magic, Message};

/// A batch id as the TypeScript tests write it.
pub const BATCH: BatchId = BatchId([1, 2, 3, 4, 5, 6, 7, 8]);
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

pub fn b(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

pub fn msg(magic: Magic, room: &str, body: Body) -> Message {
    Message {
        magic,
        room: room.to_owned(),
        body,
    }
}

pub fn limits() -> Limits {
    Limits::default()
}

pub fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// LEB128, as the protocol writes lengths and counts.
pub fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}
