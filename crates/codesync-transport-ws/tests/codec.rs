//! The Loro protocol v1 codec: published test vectors, round trips, robustness against
//! hostile frames, fragmentation and reassembly.

use bytes::Bytes;
use codesync_transport_ws::protocol::{
    decode, decode_bytes, doc_update_len, encode, encode_checked, encode_into, encoded_len,
    peek_room, AckStatus, BatchId, Body, JoinErrorCode, Limits, Magic, Message, Permission,
    RoomErrorCode,
};
use codesync_transport_ws::Error;
use proptest::prelude::*;

mod codec_support;
use codec_support::{arb_bytes, b, config, hex, limits, msg, varint, BATCH};

// ---------------------------------------------------------------------------------------
// helpers

fn unhex(text: &str) -> Vec<u8> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn is_malformed(result: Result<Message, Error>) -> bool {
    matches!(result, Err(Error::Malformed { .. }))
}

// ---------------------------------------------------------------------------------------
// (a) published vectors: packages/loro-protocol/tests/__snapshots__/encoding.snap.test.ts.snap

fn published_vectors() -> Vec<(&'static str, Message, &'static str)> {
    let room = "room-1234";
    let fragment_data: Vec<u8> = (0u8..32).collect();
    vec![
        (
            "JoinRequest",
            msg(
                Magic::Loro,
                room,
                Body::JoinRequest {
                    auth: b(&[10, 20, 30]),
                    version: b(&[40, 50, 60]),
                },
            ),
            "254c4f5209726f6f6d2d3132333400030a141e0328323c",
        ),
        (
            "JoinResponseOk read",
            msg(
                Magic::Yjs,
                room,
                Body::JoinResponseOk {
                    permission: Permission::Read,
                    version: b(&[11, 22, 33]),
                    extra: Bytes::new(),
                },
            ),
            "25594a5309726f6f6d2d31323334010472656164030b162100",
        ),
        (
            "JoinResponseOk write + extra",
            msg(
                Magic::Loro,
                room,
                Body::JoinResponseOk {
                    permission: Permission::Write,
                    version: b(&[44, 55]),
                    extra: b(&[66, 77, 88]),
                },
            ),
            "254c4f5209726f6f6d2d3132333401057772697465022c3703424d58",
        ),
        (
            "JoinError auth failed",
            msg(
                Magic::Ephemeral,
                room,
                Body::JoinError {
                    code: JoinErrorCode::AuthFailed,
                    message: "Invalid credentials".to_owned(),
                    receiver_version: None,
                    app_code: None,
                },
            ),
            "2545504809726f6f6d2d31323334020213496e76616c69642063726564656e7469616c73",
        ),
        (
            "JoinError version unknown with receiver version",
            msg(
                Magic::Loro,
                room,
                Body::JoinError {
                    code: JoinErrorCode::VersionUnknown,
                    message: "Version mismatch".to_owned(),
                    receiver_version: Some(b(&[99, 100])),
                    app_code: None,
                },
            ),
            "254c4f5209726f6f6d2d3132333402011056657273696f6e206d69736d61746368026364",
        ),
        (
            "JoinError app error with appCode",
            msg(
                Magic::Yjs,
                room,
                Body::JoinError {
                    code: JoinErrorCode::AppError,
                    message: "Application specific error".to_owned(),
                    receiver_version: None,
                    app_code: Some("quota_exceeded".to_owned()),
                },
            ),
            "25594a5309726f6f6d2d31323334027f1a4170706c69636174696f6e20737065636966696320\
             6572726f720e71756f74615f6578636565646564",
        ),
        (
            "DocUpdate multiple updates",
            msg(
                Magic::Yjs,
                room,
                Body::DocUpdate {
                    updates: vec![b(&[1, 2, 3]), b(&[4, 5, 6, 7]), b(&[8])],
                    batch_id: BATCH,
                },
            ),
            "25594a5309726f6f6d2d31323334030303010203040405060701080102030405060708",
        ),
        (
            "DocUpdateFragmentHeader",
            msg(
                Magic::Loro,
                room,
                Body::FragmentHeader {
                    batch_id: BatchId([0xff, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]),
                    count: 10,
                    total_size: 1_024_000,
                },
            ),
            "254c4f5209726f6f6d2d3132333404ff112233445566770a80c03e",
        ),
        (
            "DocUpdateFragment",
            msg(
                Magic::Loro,
                room,
                Body::Fragment {
                    batch_id: BatchId([0; 8]),
                    index: 3,
                    data: Bytes::from(fragment_data),
                },
            ),
            "254c4f5209726f6f6d2d313233340500000000000000000320000102030405060708090a0b0c0d\
             0e0f101112131415161718191a1b1c1d1e1f",
        ),
        (
            "RoomError eviction",
            msg(
                Magic::Loro,
                room,
                Body::RoomError {
                    code: RoomErrorCode::Evicted,
                    message: "evicted".to_owned(),
                },
            ),
            "254c4f5209726f6f6d2d3132333406020765766963746564",
        ),
        (
            "Ack ok",
            msg(
                Magic::Loro,
                room,
                Body::Ack {
                    ref_id: BATCH,
                    status: AckStatus::Ok,
                },
            ),
            "254c4f5209726f6f6d2d3132333408010203040506070800",
        ),
        (
            "Ack fragment timeout",
            msg(
                Magic::YjsAwareness,
                room,
                Body::Ack {
                    ref_id: BatchId([1, 0, 0, 0, 0, 0, 0, 0]),
                    status: AckStatus::FragmentTimeout,
                },
            ),
            "2559415709726f6f6d2d3132333408010000000000000007",
        ),
        (
            "Leave",
            msg(Magic::Loro, room, Body::Leave),
            "254c4f5209726f6f6d2d3132333407",
        ),
    ]
}

#[test]
fn published_join_request_vector() {
    let message = msg(
        Magic::Loro,
        "room-1234",
        Body::JoinRequest {
            auth: b(&[0x0a, 0x14, 0x1e]),
            version: b(&[0x28, 0x32, 0x3c]),
        },
    );
    // The snapshot's bytes: magic, room "room-1234", type 0x00, varBytes auth, varBytes
    // version. (A copy of this vector circulated with a doubled `03` after the type byte;
    // the snapshot file has none.)
    let expected = "254c4f52 09 726f6f6d2d31323334 00 030a141e 0328323c";
    assert_eq!(hex(&encode(&message)), hex(&unhex(expected)));
    assert_eq!(decode(&unhex(expected), &limits()).ok(), Some(message));
}

#[test]
fn every_published_vector_encodes_and_decodes() {
    for (name, message, expected) in published_vectors() {
        let expected = unhex(expected);
        assert_eq!(hex(&encode(&message)), hex(&expected), "encode {name}");
        assert_eq!(encoded_len(&message), expected.len(), "encoded_len {name}");
        let decoded = decode(&expected, &limits());
        assert_eq!(decoded.ok(), Some(message.clone()), "decode {name}");
        let decoded = decode_bytes(&Bytes::from(expected.clone()), &limits());
        assert_eq!(decoded.ok(), Some(message), "decode_bytes {name}");
    }
}

#[test]
fn every_published_vector_refuses_trailing_and_missing_bytes() {
    for (name, _, expected) in published_vectors() {
        let mut frame = unhex(expected);
        frame.push(0xff);
        assert!(is_malformed(decode(&frame, &limits())), "trailing {name}");
        frame.truncate(frame.len() - 2);
        // Dropping the last byte leaves a shorter frame that must not decode to the same
        // message; most are malformed, but a JoinError without its extra is still valid.
        if let Ok(short) = decode(&frame, &limits()) {
            assert_eq!(encode(&short), frame, "truncated {name} re-encodes as read");
        }
    }
}

// ---------------------------------------------------------------------------------------
// envelope, magic, codes

#[test]
fn magic_round_trips_and_unknown_magic_still_decodes() {
    for magic in [
        Magic::Loro,
        Magic::Ephemeral,
        Magic::PersistedEphemeral,
        Magic::EncryptedLoro,
        Magic::Yjs,
        Magic::YjsAwareness,
        Magic::Flock,
    ] {
        assert!(magic.is_known());
        assert_eq!(Magic::from_bytes(*magic.as_bytes()), magic);
    }
    assert_eq!(Magic::Loro.as_bytes(), b"%LOR");
    assert_eq!(Magic::PersistedEphemeral.as_bytes(), b"%EPS");
    assert_eq!(Magic::EncryptedLoro.as_bytes(), b"%ELO");
    assert_eq!(Magic::from_bytes(*b"ABCD"), Magic::Unknown(*b"ABCD"));

    let frame = encode(&msg(Magic::Unknown(*b"%XYZ"), "other", Body::Leave));
    let decoded = decode(&frame, &limits()).expect("unknown magic decodes");
    assert_eq!(decoded.magic, Magic::Unknown(*b"%XYZ"));
    assert_eq!(decoded.room, "other");
}

#[test]
fn peek_room_answers_for_an_undecodable_frame() {
    // The TypeScript test "returns undefined for invalid CRDT type".
    let frame = [65, 66, 67, 68, 1, 5, 1, 2, 3, 4, 5, 0];
    assert!(decode(&frame, &limits()).is_err());
    assert_eq!(
        peek_room(&frame, &limits()),
        Some((Magic::Unknown(*b"ABCD"), "\u{5}".to_owned()))
    );
    // An unknown message type is an error, but the room is still readable.
    let mut frame = encode(&msg(Magic::Loro, "r", Body::Leave));
    if let Some(kind) = frame.last_mut() {
        *kind = 0x09;
    }
    assert!(is_malformed(decode(&frame, &limits())));
    assert_eq!(
        peek_room(&frame, &limits()),
        Some((Magic::Loro, "r".to_owned()))
    );
    assert_eq!(peek_room(&[1, 2, 3], &limits()), None);
    assert_eq!(peek_room(b"%LOR\x05ab", &limits()), None);
}

#[test]
fn codes_map_every_byte_and_back() {
    for byte in 0..=u8::MAX {
        assert_eq!(JoinErrorCode::from_u8(byte).as_u8(), byte);
        assert_eq!(RoomErrorCode::from_u8(byte).as_u8(), byte);
        assert_eq!(AckStatus::from_u8(byte).as_u8(), byte);
    }
    assert_eq!(JoinErrorCode::from(0x7f), JoinErrorCode::AppError);
    assert_eq!(JoinErrorCode::from_u8(0x03), JoinErrorCode::Other(0x03));
    assert_eq!(RoomErrorCode::from_u8(0x7f), RoomErrorCode::Unknown);
    assert_eq!(RoomErrorCode::from_u8(0x00), RoomErrorCode::Other(0x00));
    assert_eq!(AckStatus::from_u8(0x02), AckStatus::Other(0x02));
    assert_eq!(u8::from(AckStatus::PayloadTooLarge), 0x05);
    assert_eq!(u8::from(AckStatus::RateLimited), 0x06);
    assert_eq!(Permission::parse("read"), Some(Permission::Read));
    assert_eq!(Permission::parse("write"), Some(Permission::Write));
    assert_eq!(Permission::parse("Write"), None);
    assert_eq!(Permission::Write.as_str(), "write");
}

#[test]
fn batch_id_prints_as_hex() {
    assert_eq!(format!("{BATCH:?}"), "BatchId(0x0102030405060708)");
    assert_eq!(BATCH.to_string(), "0x0102030405060708");
    assert_eq!(BatchId::from_u64(0x0102030405060708), BATCH);
    assert_eq!(BATCH.to_u64(), 0x0102030405060708);
}

#[test]
fn room_id_limits_and_utf8() {
    let room = "a".repeat(128);
    let frame = encode(&msg(Magic::Loro, &room, Body::Leave));
    assert_eq!(decode(&frame, &limits()).map(|m| m.room).ok(), Some(room));

    let long = msg(Magic::Loro, &"a".repeat(129), Body::Leave);
    assert!(is_malformed(decode(&encode(&long), &limits())));
    assert!(matches!(
        encode_checked(&long, &limits()),
        Err(Error::TooLarge {
            size: 129,
            limit: 128
        })
    ));

    let empty = msg(Magic::Loro, "", Body::Leave);
    assert_eq!(decode(&encode(&empty), &limits()).ok(), Some(empty));

    // Room id bytes 0xff 0xfe are not UTF-8.
    assert!(is_malformed(decode(b"%LOR\x02\xff\xfe\x07", &limits())));
    // Neither is an invalid permission string, or an unknown permission.
    assert!(is_malformed(decode(
        b"%LOR\x01r\x01\x02\xff\xfe\x00\x00",
        &limits()
    )));
    assert!(is_malformed(decode(
        b"%LOR\x01r\x01\x05admin\x00\x00",
        &limits()
    )));
}

#[test]
fn utf8_messages_round_trip() {
    for text in [
        "Hello, World!",
        "こんにちは世界",
        "🎉🚀💻 Emojis work!",
        "Mixed: 中文, English, 日本語, 한국어",
        "Special chars: \n\t\r\"'\\",
    ] {
        let message = msg(
            Magic::Loro,
            "room-123",
            Body::JoinError {
                code: JoinErrorCode::Unknown,
                message: text.to_owned(),
                receiver_version: None,
                app_code: None,
            },
        );
        assert_eq!(decode(&encode(&message), &limits()).ok(), Some(message));
    }
}

#[test]
fn frame_size_limit() {
    let big = msg(
        Magic::Loro,
        "room",
        Body::DocUpdate {
            updates: vec![Bytes::from(vec![0u8; 260 * 1024])],
            batch_id: BATCH,
        },
    );
    let frame = encode(&big);
    assert!(matches!(
        decode(&frame, &limits()),
        Err(Error::TooLarge { limit, .. }) if limit == 256 * 1024
    ));
    assert!(matches!(
        encode_checked(&big, &limits()),
        Err(Error::TooLarge { .. })
    ));
    let roomy = Limits {
        max_frame_bytes: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(decode(&frame, &roomy).ok(), Some(big));
}

#[test]
fn join_error_extras_follow_the_code() {
    let with = |code, receiver_version: Option<Bytes>, app_code: Option<&str>| {
        msg(
            Magic::Loro,
            "r",
            Body::JoinError {
                code,
                message: "m".to_owned(),
                receiver_version,
                app_code: app_code.map(str::to_owned),
            },
        )
    };
    // Without the extra, the message ends after the text; the extra is optional.
    let bare = with(JoinErrorCode::VersionUnknown, None, None);
    assert_eq!(hex(&encode(&bare)), "254c4f5201720201016d");
    assert_eq!(decode(&encode(&bare), &limits()).ok(), Some(bare));
    // An empty receiver version is still written (and read back).
    let empty = with(JoinErrorCode::VersionUnknown, Some(Bytes::new()), None);
    assert_eq!(hex(&encode(&empty)), "254c4f5201720201016d00");
    assert_eq!(decode(&encode(&empty), &limits()).ok(), Some(empty));
    // Extras that do not belong to the code are not written.
    let stray = with(JoinErrorCode::AuthFailed, Some(b(&[1])), Some("x"));
    assert_eq!(hex(&encode(&stray)), "254c4f5201720202016d");
    assert_eq!(encoded_len(&stray), encode(&stray).len());
    let stray = with(JoinErrorCode::AppError, Some(b(&[1])), None);
    assert_eq!(hex(&encode(&stray)), "254c4f520172027f016d");
    // ...and are refused as trailing bytes when a peer sends them anyway.
    assert!(is_malformed(decode(
        &unhex("254c4f5201720202016d0101"),
        &limits()
    )));
    assert!(is_malformed(decode(
        &unhex("254c4f5201720200016d00"),
        &limits()
    )));
    // The app code must be UTF-8.
    assert!(is_malformed(decode(
        &unhex("254c4f520172027f016d01ff"),
        &limits()
    )));
}

#[test]
fn doc_update_edge_cases() {
    let empty = msg(
        Magic::Loro,
        "room-123",
        Body::DocUpdate {
            updates: vec![],
            batch_id: BATCH,
        },
    );
    assert_eq!(decode(&encode(&empty), &limits()).ok(), Some(empty));

    let one = encode(&msg(
        Magic::Loro,
        "room-123",
        Body::DocUpdate {
            updates: vec![b(&[1])],
            batch_id: BATCH,
        },
    ));
    // A batch id one byte short.
    assert!(is_malformed(decode(&one[..one.len() - 1], &limits())));

    let few = Limits {
        max_updates_per_batch: 2,
        ..Limits::default()
    };
    let three = msg(
        Magic::Loro,
        "r",
        Body::DocUpdate {
            updates: vec![b(&[1]), b(&[2]), b(&[3])],
            batch_id: BATCH,
        },
    );
    assert!(matches!(
        decode(&encode(&three), &few),
        Err(Error::TooLarge { size: 3, limit: 2 })
    ));
}

#[test]
fn unknown_message_type_and_bad_varints_are_malformed() {
    assert!(is_malformed(decode(b"%LOR\x01r\x09", &limits())));
    assert!(is_malformed(decode(b"%LOR\x01r", &limits())));
    assert!(is_malformed(decode(b"%LO", &limits())));
    assert!(is_malformed(decode(b"", &limits())));
    // Room length 1 written in two bytes (not minimal).
    assert!(is_malformed(decode(b"%LOR\x81\x00r\x07", &limits())));
    // Fragment header whose count needs 11 bytes / overflows 64 bits.
    let mut frame = b"%LOR\x01r\x04\0\0\0\0\0\0\0\0".to_vec();
    frame.extend_from_slice(&[0xff; 10]);
    frame.extend_from_slice(&[0x01, 0x00]);
    assert!(is_malformed(decode(&frame, &limits())));
    let mut frame = b"%LOR\x01r\x04\0\0\0\0\0\0\0\0".to_vec();
    frame.extend_from_slice(&[0xff; 9]);
    frame.extend_from_slice(&[0x02, 0x00]);
    assert!(is_malformed(decode(&frame, &limits())));
    // u64::MAX itself is fine.
    let mut frame = b"%LOR\x01r\x04\0\0\0\0\0\0\0\0".to_vec();
    frame.extend_from_slice(&[0xff; 9]);
    frame.extend_from_slice(&[0x01, 0x00]);
    assert_eq!(
        decode(&frame, &limits()).map(|m| m.body).ok(),
        Some(Body::FragmentHeader {
            batch_id: BatchId([0; 8]),
            count: u64::MAX,
            total_size: 0
        })
    );
}

// ---------------------------------------------------------------------------------------
// (b) round trips and (c) mutation fuzzing, by proptest

fn arb_magic() -> impl Strategy<Value = Magic> {
    prop_oneof![
        Just(Magic::Loro),
        Just(Magic::Ephemeral),
        Just(Magic::PersistedEphemeral),
        Just(Magic::EncryptedLoro),
        Just(Magic::Yjs),
        Just(Magic::YjsAwareness),
        Just(Magic::Flock),
        any::<[u8; 4]>().prop_map(Magic::from_bytes),
    ]
}

fn arb_batch() -> impl Strategy<Value = BatchId> {
    any::<[u8; 8]>().prop_map(BatchId)
}

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (arb_bytes(40), arb_bytes(40))
            .prop_map(|(auth, version)| Body::JoinRequest { auth, version }),
        (any::<bool>(), arb_bytes(40), arb_bytes(40)).prop_map(|(write, version, extra)| {
            Body::JoinResponseOk {
                permission: if write {
                    Permission::Write
                } else {
                    Permission::Read
                },
                version,
                extra,
            }
        }),
        (
            prop_oneof![
                Just(0x00u8),
                Just(0x01),
                Just(0x02),
                Just(0x7f),
                any::<u8>()
            ],
            ".{0,20}",
            proptest::option::of(arb_bytes(20)),
            proptest::option::of(".{0,12}"),
        )
            .prop_map(|(code, message, receiver_version, app_code)| {
                let code = JoinErrorCode::from_u8(code);
                Body::JoinError {
                    code,
                    message,
                    receiver_version: receiver_version
                        .filter(|_| code == JoinErrorCode::VersionUnknown),
                    app_code: app_code.filter(|_| code == JoinErrorCode::AppError),
                }
            }),
        (prop::collection::vec(arb_bytes(30), 0..6), arb_batch())
            .prop_map(|(updates, batch_id)| Body::DocUpdate { updates, batch_id }),
        (arb_batch(), any::<u64>(), any::<u64>()).prop_map(|(batch_id, count, total_size)| {
            Body::FragmentHeader {
                batch_id,
                count,
                total_size,
            }
        }),
        (arb_batch(), any::<u64>(), arb_bytes(60)).prop_map(|(batch_id, index, data)| {
            Body::Fragment {
                batch_id,
                index,
                data,
            }
        }),
        (any::<u8>(), ".{0,20}").prop_map(|(code, message)| Body::RoomError {
            code: RoomErrorCode::from_u8(code),
            message,
        }),
        Just(Body::Leave),
        (arb_batch(), any::<u8>()).prop_map(|(ref_id, status)| Body::Ack {
            ref_id,
            status: AckStatus::from_u8(status),
        }),
    ]
}

fn arb_message() -> impl Strategy<Value = Message> {
    // At most 42 characters of at most 3 bytes: within the 128-byte room limit.
    (arb_magic(), "[a-z0-9/_é漢-]{0,42}", arb_body()).prop_map(|(magic, room, body)| Message {
        magic,
        room,
        body,
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Overwrite(usize, Vec<u8>),
    HugeVarint(usize, u64),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
        (
            any::<usize>(),
            prop_oneof![
                Just(u64::MAX),
                Just(1u64 << 60),
                Just(1u64 << 62),
                Just(1u64 << 31),
                any::<u64>()
            ]
        )
            .prop_map(|(at, value)| Mutation::HugeVarint(at, value)),
    ]
}

fn mutate(mut frame: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = frame.len();
        let at = |position: usize| if len == 0 { 0 } else { position % (len + 1) };
        match mutation {
            Mutation::FlipBit(position, bit) => {
                if len > 0 {
                    frame[position % len] ^= 1 << bit;
                }
            }
            Mutation::Truncate(position) => frame.truncate(at(*position)),
            Mutation::Insert(position, bytes) => {
                let at = at(*position);
                frame.splice(at..at, bytes.iter().copied());
            }
            Mutation::Overwrite(position, bytes) => overwrite(&mut frame, at(*position), bytes),
            Mutation::HugeVarint(position, value) => {
                overwrite(&mut frame, at(*position), &varint(*value))
            }
        }
    }
    frame
}

fn overwrite(frame: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let end = (at + bytes.len()).min(frame.len());
    frame.splice(at..end, bytes.iter().copied());
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn every_message_round_trips(message in arb_message()) {
        let frame = encode(&message);
        prop_assert_eq!(frame.len(), encoded_len(&message));
        let mut appended = vec![0xAA];
        encode_into(&message, &mut appended);
        prop_assert_eq!(&appended[1..], &frame[..]);
        prop_assert_eq!(decode(&frame, &limits()).ok(), Some(message.clone()));
        prop_assert_eq!(
            decode_bytes(&Bytes::from(frame.clone()), &limits()).ok(),
            Some(message.clone())
        );
        prop_assert_eq!(
            peek_room(&frame, &limits()),
            Some((message.magic, message.room.clone()))
        );
        prop_assert_eq!(encode_checked(&message, &limits()).ok(), Some(frame));
        if let Body::DocUpdate { updates, .. } = &message.body {
            prop_assert_eq!(doc_update_len(&message.room, updates), encoded_len(&message));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(frame in prop::collection::vec(any::<u8>(), 0..300)) {
        let decoded = decode(&frame, &limits());
        if let Ok(message) = decoded {
            // Whatever decodes is canonical: it encodes back to the same bytes.
            prop_assert_eq!(encode(&message), frame.clone());
        }
        let _ = decode_bytes(&Bytes::from(frame.clone()), &limits());
        let _ = peek_room(&frame, &limits());
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_envelope_never_panic(
        magic in arb_magic(),
        kind in 0u8..10,
        rest in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut frame = magic.as_bytes().to_vec();
        frame.extend_from_slice(b"\x04room");
        frame.push(kind);
        frame.extend(rest);
        if let Ok(message) = decode(&frame, &limits()) {
            prop_assert_eq!(encode(&message), frame);
        }
    }

    #[test]
    fn mutated_frames_never_panic(
        message in arb_message(),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
    ) {
        let frame = mutate(encode(&message), &mutations);
        match decode(&frame, &limits()) {
            Ok(decoded) => prop_assert_eq!(encode(&decoded), frame.clone()),
            Err(Error::Malformed { .. } | Error::TooLarge { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
        let _ = decode_bytes(&Bytes::from(frame.clone()), &limits());
        let _ = peek_room(&frame, &limits());
    }
}
