//! Fragmentation and reassembly: fragments always fit the frame limit, reassemble in any
//! order, and the reassembler enforces its count, size and time limits.

use std::time::{Duration, Instant};

use bytes::Bytes;
use codesync_transport_ws::protocol::{
    decode, decode_bytes, doc_update_needs_fragmenting, encode, encoded_len, fragment, AckStatus,
    BatchId, Body, Limits, Magic, Message, Reassembled, Reassembler,
};
use proptest::prelude::*;

mod codec_support;
use codec_support::{arb_bytes, b, config, limits, msg, BATCH};

// ---------------------------------------------------------------------------------------
// fragmentation and reassembly

fn roomy_limits(max_frame_bytes: usize) -> Limits {
    Limits {
        max_frame_bytes,
        max_fragment_count: 1 << 20,
        ..Limits::default()
    }
}

/// Fragments `payload`, checks every frame's size, decodes every frame and feeds them to a
/// reassembler in `order` (a permutation seed); returns the reassembled batch.
fn send_through(
    room: &str,
    payload: &[u8],
    max_frame_bytes: usize,
    shuffle_seed: u64,
) -> Result<Reassembled, TestCaseError> {
    let limits = roomy_limits(max_frame_bytes);
    let messages = fragment(Magic::Loro, room, BATCH, payload, max_frame_bytes);
    let frames: Vec<Vec<u8>> = messages.iter().map(encode).collect();
    for frame in &frames {
        prop_assert!(
            frame.len() <= max_frame_bytes,
            "frame of {} bytes over {}",
            frame.len(),
            max_frame_bytes
        );
    }
    let Some(Body::FragmentHeader {
        count, total_size, ..
    }) = messages.first().map(|m| &m.body)
    else {
        return Err(TestCaseError::fail("no header first"));
    };
    prop_assert_eq!(*count as usize, messages.len() - 1);
    prop_assert_eq!(*total_size as usize, payload.len());

    // Fragments may arrive in any order after the header.
    let mut rest: Vec<Vec<u8>> = frames[1..].to_vec();
    let mut seed = shuffle_seed | 1;
    for i in (1..rest.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        rest.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let mut reassembler = Reassembler::new(limits.clone());
    let now = Instant::now();
    let header = decode(&frames[0], &limits).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(reassembler
        .accept(header, now)
        .map_err(|r| TestCaseError::fail(r.to_string()))?
        .is_none());
    let last = rest.len() - 1;
    for (i, frame) in rest.iter().enumerate() {
        let message = decode_bytes(&Bytes::from(frame.clone()), &limits)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let outcome = reassembler
            .accept(message, now)
            .map_err(|r| TestCaseError::fail(r.to_string()))?;
        match outcome {
            Some(done) => {
                prop_assert_eq!(i, last);
                prop_assert_eq!(reassembler.in_flight(), 0);
                return Ok(done);
            }
            None => prop_assert!(i < last),
        }
    }
    Err(TestCaseError::fail("never completed"))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn fragments_fit_and_reassemble(
        payload in prop::collection::vec(any::<u8>(), 0..6000),
        max_frame_bytes in 60usize..2000,
        room in "[a-z0-9-]{0,20}",
        seed in any::<u64>(),
    ) {
        let done = send_through(&room, &payload, max_frame_bytes, seed)?;
        prop_assert_eq!(done.magic, Magic::Loro);
        prop_assert_eq!(done.room, room);
        prop_assert_eq!(done.batch_id, BATCH);
        prop_assert_eq!(&done.payload[..], &payload[..]);
    }

    #[test]
    fn fragment_count_is_near_minimal(
        len in 1usize..200_000,
        max_frame_bytes in 64usize..70_000,
    ) {
        let payload = vec![7u8; len];
        let messages = fragment(Magic::Yjs, "room", BATCH, &payload, max_frame_bytes);
        // Envelope (4 + 1 + 4 + 1), batch id, and at most 3 + 3 varint bytes.
        let floor = max_frame_bytes - 10 - 8 - 6;
        prop_assert!(messages.len() - 1 <= len.div_ceil(floor));
        for message in &messages {
            prop_assert!(encoded_len(message) <= max_frame_bytes);
        }
    }

    #[test]
    fn needs_fragmenting_matches_the_encoding(
        updates in prop::collection::vec(arb_bytes(300), 0..5),
        max_frame_bytes in 0usize..1600,
    ) {
        let message = msg(Magic::Loro, "room", Body::DocUpdate { updates: updates.clone(), batch_id: BATCH });
        prop_assert_eq!(
            doc_update_needs_fragmenting("room", &updates, max_frame_bytes),
            encode(&message).len() > max_frame_bytes
        );
    }
}

#[test]
fn large_payload_with_default_limits() {
    let payload: Vec<u8> = (0..1_000_003u32)
        .map(|i| (i.wrapping_mul(7919) % 251) as u8)
        .collect();
    let messages = fragment(
        Magic::Loro,
        "big-room",
        BATCH,
        &payload,
        limits().max_frame_bytes,
    );
    assert_eq!(messages.len(), 1 + 4);
    for message in &messages {
        assert!(encode(message).len() <= 256 * 1024);
    }
    let mut reassembler = Reassembler::new(limits());
    let now = Instant::now();
    let mut done = None;
    for message in messages {
        let frame = encode(&message);
        let decoded = decode(&frame, &limits()).expect("fits the frame limit");
        done = reassembler.accept(decoded, now).expect("within limits");
    }
    assert_eq!(done.map(|d| d.payload.to_vec()), Some(payload));
}

#[test]
fn reassembles_a_real_loro_update() {
    use loro::{ExportMode, LoroDoc};
    let doc = LoroDoc::new();
    let text: String = (0..400_000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
        .collect();
    doc.get_text("t").insert(0, &text).expect("insert");
    let update = doc.export(ExportMode::all_updates()).expect("export");
    assert!(doc_update_needs_fragmenting(
        "doc",
        &[Bytes::from(update.clone())],
        limits().max_frame_bytes
    ));

    let mut reassembler = Reassembler::new(limits());
    let now = Instant::now();
    let mut done = None;
    for message in fragment(Magic::Loro, "doc", BATCH, &update, limits().max_frame_bytes) {
        let frame = Bytes::from(encode(&message));
        let decoded = decode_bytes(&frame, &limits()).expect("decodes");
        done = reassembler.accept(decoded, now).expect("accepted");
    }
    let done = done.expect("complete");
    let replica = LoroDoc::new();
    replica.import(&done.payload).expect("import");
    assert_eq!(replica.get_text("t").to_string(), text);
}

fn header(batch: u64, count: u64, total_size: u64) -> Message {
    msg(
        Magic::Loro,
        "r",
        Body::FragmentHeader {
            batch_id: BatchId::from_u64(batch),
            count,
            total_size,
        },
    )
}

fn piece(batch: u64, index: u64, data: &[u8]) -> Message {
    msg(
        Magic::Loro,
        "r",
        Body::Fragment {
            batch_id: BatchId::from_u64(batch),
            index,
            data: b(data),
        },
    )
}

fn ack_status(
    result: Result<Option<Reassembled>, codesync_transport_ws::protocol::Refusal>,
) -> Option<AckStatus> {
    match result {
        Err(refusal) => refusal.ack().map(|(_, _, _, status)| status),
        Ok(_) => panic!("expected a refusal"),
    }
}

fn small_limits() -> Limits {
    Limits {
        max_fragment_count: 4,
        max_reassembled_bytes: 100,
        max_concurrent_batches: 2,
        fragment_timeout: Duration::from_secs(10),
        ..Limits::default()
    }
}

#[test]
fn reassembly_refuses_headers_beyond_the_limits() {
    let now = Instant::now();
    let mut r = Reassembler::new(small_limits());
    assert_eq!(
        ack_status(r.accept(header(1, 5, 50), now)),
        Some(AckStatus::PayloadTooLarge)
    );
    assert_eq!(
        ack_status(r.accept(header(2, 2, 101), now)),
        Some(AckStatus::PayloadTooLarge)
    );
    assert_eq!(
        ack_status(r.accept(header(3, 0, 0), now)),
        Some(AckStatus::InvalidUpdate)
    );
    assert_eq!(
        ack_status(r.accept(header(4, 3, 2), now)),
        Some(AckStatus::InvalidUpdate)
    );
    assert_eq!(r.in_flight(), 0);
    // Fragments of a refused batch are dropped without another Ack.
    assert_eq!(ack_status(r.accept(piece(1, 0, b"x"), now)), None);

    assert!(r.accept(header(10, 1, 1), now).is_ok());
    assert!(r.accept(header(11, 1, 1), now).is_ok());
    assert_eq!(
        ack_status(r.accept(header(12, 1, 1), now)),
        Some(AckStatus::RateLimited)
    );
    assert_eq!(r.in_flight(), 2);
    // Not a fragment message at all.
    assert_eq!(
        ack_status(r.accept(msg(Magic::Loro, "r", Body::Leave), now)),
        None
    );
    // An empty payload is one empty fragment.
    let mut r = Reassembler::new(small_limits());
    assert!(r.accept(header(5, 1, 0), now).is_ok());
    let done = r
        .accept(piece(5, 0, b""), now)
        .expect("ok")
        .expect("complete");
    assert!(done.payload.is_empty());
}

#[test]
fn reassembly_refuses_inconsistent_fragments() {
    let now = Instant::now();
    let mut r = Reassembler::new(small_limits());

    // Index out of range discards the batch.
    r.accept(header(1, 2, 4), now).expect("header");
    assert_eq!(
        ack_status(r.accept(piece(1, 2, b"ab"), now)),
        Some(AckStatus::InvalidUpdate)
    );
    assert_eq!(r.in_flight(), 0);
    assert_eq!(ack_status(r.accept(piece(1, 0, b"ab"), now)), None);

    // A repeated index.
    r.accept(header(2, 3, 6), now).expect("header");
    assert!(r.accept(piece(2, 0, b"ab"), now).expect("ok").is_none());
    assert_eq!(r.buffered_bytes(), 2);
    assert_eq!(
        ack_status(r.accept(piece(2, 0, b"ab"), now)),
        Some(AckStatus::InvalidUpdate)
    );
    assert_eq!(r.buffered_bytes(), 0);

    // More bytes than announced.
    r.accept(header(3, 2, 4), now).expect("header");
    assert!(r.accept(piece(3, 1, b"abc"), now).expect("ok").is_none());
    assert_eq!(
        ack_status(r.accept(piece(3, 0, b"de"), now)),
        Some(AckStatus::InvalidUpdate)
    );

    // Fewer bytes than announced.
    r.accept(header(4, 2, 4), now).expect("header");
    assert!(r.accept(piece(4, 1, b"a"), now).expect("ok").is_none());
    assert_eq!(
        ack_status(r.accept(piece(4, 0, b"b"), now)),
        Some(AckStatus::InvalidUpdate)
    );

    // A fragment naming another room than its header.
    r.accept(header(5, 2, 4), now).expect("header");
    let stray = msg(
        Magic::Loro,
        "elsewhere",
        Body::Fragment {
            batch_id: BatchId::from_u64(5),
            index: 0,
            data: b(b"ab"),
        },
    );
    assert_eq!(
        ack_status(r.accept(stray, now)),
        Some(AckStatus::InvalidUpdate)
    );

    // A fragment of a batch never announced: one FragmentTimeout, then silence.
    assert_eq!(
        ack_status(r.accept(piece(99, 0, b"a"), now)),
        Some(AckStatus::FragmentTimeout)
    );
    assert_eq!(ack_status(r.accept(piece(99, 1, b"a"), now)), None);
    assert_eq!(r.in_flight(), 0);

    // Out-of-order arrival completes in index order.
    r.accept(header(6, 3, 6), now).expect("header");
    assert!(r.accept(piece(6, 2, b"ef"), now).expect("ok").is_none());
    assert!(r.accept(piece(6, 0, b"ab"), now).expect("ok").is_none());
    let done = r
        .accept(piece(6, 1, b"cd"), now)
        .expect("ok")
        .expect("done");
    assert_eq!(&done.payload[..], b"abcdef");
    assert_eq!(done.batch_id, BatchId::from_u64(6));
}

#[test]
fn reassembly_expires_batches_on_the_injected_clock() {
    let t0 = Instant::now();
    let mut r = Reassembler::new(small_limits());
    r.accept(header(1, 2, 2), t0).expect("header");
    r.accept(header(2, 2, 2), t0 + Duration::from_secs(3))
        .expect("header");
    assert!(r.accept(piece(1, 0, b"a"), t0).expect("ok").is_none());
    assert_eq!(r.next_deadline(), Some(t0 + Duration::from_secs(10)));

    assert!(r.expire(t0 + Duration::from_secs(9)).is_empty());
    assert_eq!(
        r.expire(t0 + Duration::from_secs(10)),
        vec![(Magic::Loro, "r".to_owned(), BatchId::from_u64(1))]
    );
    assert_eq!(r.in_flight(), 1);
    assert_eq!(r.next_deadline(), Some(t0 + Duration::from_secs(13)));
    // The late fragment of the expired batch draws no second Ack.
    assert_eq!(
        ack_status(r.accept(piece(1, 1, b"b"), t0 + Duration::from_secs(11))),
        None
    );
    // The sender resends the whole batch under the same id: accepted afresh.
    let t1 = t0 + Duration::from_secs(12);
    r.accept(header(1, 2, 2), t1).expect("resent header");
    assert!(r.accept(piece(1, 0, b"a"), t1).expect("ok").is_none());
    let done = r.accept(piece(1, 1, b"b"), t1).expect("ok").expect("done");
    assert_eq!(&done.payload[..], b"ab");

    assert_eq!(
        r.expire(t0 + Duration::from_secs(60)),
        vec![(Magic::Loro, "r".to_owned(), BatchId::from_u64(2))]
    );
    assert_eq!(r.next_deadline(), None);
    assert!(r.expire(t0 + Duration::from_secs(600)).is_empty());
}

#[test]
fn reassembly_restart_and_forget() {
    let now = Instant::now();
    let mut r = Reassembler::new(small_limits());
    r.accept(header(1, 2, 4), now).expect("header");
    assert!(r.accept(piece(1, 0, b"ab"), now).expect("ok").is_none());
    // A second header for the same batch restarts it.
    r.accept(header(1, 1, 3), now).expect("restart");
    assert_eq!(r.buffered_bytes(), 0);
    let done = r
        .accept(piece(1, 0, b"xyz"), now)
        .expect("ok")
        .expect("done");
    assert_eq!(&done.payload[..], b"xyz");

    r.accept(header(2, 2, 4), now).expect("header");
    r.forget_room(Magic::Yjs, "r");
    assert_eq!(r.in_flight(), 1);
    r.forget_room(Magic::Loro, "r");
    assert_eq!(r.in_flight(), 0);
}
