//! Hostile counts and lengths: refused quickly, before anything is allocated.

use std::time::{Duration, Instant};

use bytes::Bytes;
use codesync_transport_ws::protocol::{
    decode, decode_bytes, peek_room, AckStatus, Magic, Reassembler,
};
use codesync_transport_ws::Error;

mod codec_support;
use codec_support::{hex, limits, varint, BATCH};

// ---------------------------------------------------------------------------------------
// (d) hostile counts and lengths: refused before anything is allocated

fn hostile_frames() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for huge in [1u64 << 60, 1 << 62, u64::MAX, 1 << 32, 1 << 20, 13] {
        // DocUpdate claiming `huge` updates (15 bytes or so).
        let mut frame = b"%LOR\x00\x03".to_vec();
        frame.extend(varint(huge));
        frames.push(frame.clone());
        frame.extend_from_slice(&[0; 8]);
        frames.push(frame);
        // JoinRequest whose auth claims `huge` bytes.
        let mut frame = b"%LOR\x00\x00".to_vec();
        frame.extend(varint(huge));
        frame.extend_from_slice(b"abc");
        frames.push(frame);
        // Room id claiming `huge` bytes.
        let mut frame = b"%LOR".to_vec();
        frame.extend(varint(huge));
        frame.push(0x07);
        frames.push(frame);
        // Fragment whose data claims `huge` bytes.
        let mut frame = b"%LOR\x00\x05\0\0\0\0\0\0\0\0\x00".to_vec();
        frame.extend(varint(huge));
        frames.push(frame);
        // JoinError whose message claims `huge` bytes; RoomError likewise.
        let mut frame = b"%LOR\x00\x02\x01".to_vec();
        frame.extend(varint(huge));
        frames.push(frame);
        let mut frame = b"%LOR\x00\x06\x01".to_vec();
        frame.extend(varint(huge));
        frames.push(frame);
        // DocUpdate with one update claiming `huge` bytes.
        let mut frame = b"%LOR\x00\x03\x01".to_vec();
        frame.extend(varint(huge));
        frame.extend_from_slice(&[0; 8]);
        frames.push(frame);
    }
    frames
}

#[test]
fn huge_counts_and_lengths_fail_fast_without_allocating() {
    let thirteen = {
        let mut frame = b"%LOR\x00\x03".to_vec();
        frame.extend(varint(1 << 60));
        frame
    };
    assert!(
        thirteen.len() <= 15,
        "a tiny frame: {} bytes",
        thirteen.len()
    );
    let started = Instant::now();
    // With `Vec::with_capacity(count)` these would abort the process (or panic on capacity
    // overflow); they must come back as errors, quickly.
    for _ in 0..100 {
        for frame in hostile_frames() {
            assert!(decode(&frame, &limits()).is_err(), "{}", hex(&frame));
            let owned = Bytes::from(frame.clone());
            assert!(decode_bytes(&owned, &limits()).is_err());
            let _ = peek_room(&frame, &limits());
        }
    }
    assert!(decode(&thirteen, &limits()).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn huge_fragment_headers_decode_but_the_reassembler_refuses_them() {
    let mut frame = b"%LOR\x01r\x04\x01\x02\x03\x04\x05\x06\x07\x08".to_vec();
    frame.extend(varint(1 << 60));
    frame.extend(varint(1 << 62));
    let header = decode(&frame, &limits()).expect("syntactically fine");
    let mut reassembler = Reassembler::new(limits());
    let refusal = reassembler
        .accept(header, Instant::now())
        .expect_err("too many fragments");
    assert_eq!(
        refusal.ack(),
        Some((
            Magic::Loro,
            "r".to_owned(),
            BATCH,
            AckStatus::PayloadTooLarge
        ))
    );
    assert!(matches!(refusal.error(), Error::TooLarge { .. }));
    assert_eq!(reassembler.in_flight(), 0);
    assert_eq!(reassembler.buffered_bytes(), 0);
}
