//! The mutator: real Loro exports, changed past the header, checksum recomputed.
//!
//! Loro's own fuzzing feeds raw bytes, which its checksum rejects before any decoder runs.
//! Here the header stays valid (magic, and mostly the updates mode, the only kind a server
//! takes from peers) and only the body changes, so every input reaches the decoders. The
//! mutations aim at what binary decoders trust: lengths and counts (LEB128 varints, small
//! off-by-one changes, huge values, `0xFF` runs), fixed-width integers, and the layout of
//! chunks (duplicated, deleted, moved, spliced from another export, truncated).

use crate::entropy::Entropy;
use crate::header::{self, HEADER_LEN, SNAPSHOT_MODE, UPDATES_MODE};

/// Outputs never grow past this: large enough for every seed and its duplications, small
/// enough that the decoders, not the copying, dominate each execution.
const MAX_LEN: usize = 64 * 1024;

/// Values that break length and count checks when written as varints or integers.
const INTERESTING: [u64; 18] = [
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x3FFF,
    0x4000,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    1 << 32,
    // About the 34 GB allocation loro 1.17.1 was seen to request.
    1 << 35,
    1 << 40,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// Bytes that are boundaries for LEB128, signed bytes and flags.
const INTERESTING_BYTES: [u8; 8] = [0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xFE, 0xFF];

/// Mutates a copy of `seed` with the choices in `entropy`; the same arguments always give
/// the same output. The header keeps its magic, its mode is mostly the updates mode
/// (sometimes the snapshot mode, rarely anything), and the checksum is recomputed.
pub fn mutate(seed: &[u8], entropy: &[u8]) -> Vec<u8> {
    mutate_with_donor(seed, &[], entropy)
}

/// As [`mutate`], with `donor` (another export) as a source of chunks to splice in, so
/// valid structures of one document meet the offsets and counts of another.
pub fn mutate_with_donor(seed: &[u8], donor: &[u8], entropy: &[u8]) -> Vec<u8> {
    let mut e = Entropy::new(entropy);
    let mut out = seed.to_vec();
    if out.len() < HEADER_LEN {
        // Not an export at all: give it a header so the body still reaches a decoder.
        out = b"loro".to_vec();
        out.resize(HEADER_LEN - 2, 0);
        out.extend_from_slice(&UPDATES_MODE);
    }
    let donor_body = donor.get(HEADER_LEN..).unwrap_or_default();
    let rounds = 1 + e.small_below(8);
    for _ in 0..rounds {
        mutate_once(&mut out, donor_body, &mut e);
        out.truncate(MAX_LEN);
    }
    let mode = match e.byte() % 64 {
        0..=6 => SNAPSHOT_MODE,
        7 => [e.byte(), e.byte()],
        _ => UPDATES_MODE,
    };
    header::set_mode(&mut out, mode);
    header::fix_checksum(&mut out);
    out
}

/// One mutation of the body (`out[HEADER_LEN..]`).
fn mutate_once(out: &mut Vec<u8>, donor: &[u8], e: &mut Entropy<'_>) {
    let body = out.len() - HEADER_LEN;
    if body == 0 {
        // Nothing to change: grow a body for the next rounds to work on.
        out.extend((0..1 + e.small_below(16)).map(|_| e.byte()));
        return;
    }
    let at = HEADER_LEN + e.below(body);
    match e.byte() % 13 {
        0 => out[at] ^= 1 << (e.byte() % 8),
        1 => out[at] = INTERESTING_BYTES[e.below(INTERESTING_BYTES.len())],
        2 => out[at] = e.byte(),
        // Off-by-a-little: a length or count that no longer matches what follows.
        3 => {
            let delta = 1 + e.byte() % 16;
            out[at] = if e.one_in(2) {
                out[at].wrapping_add(delta)
            } else {
                out[at].wrapping_sub(delta)
            };
        }
        4 => {
            let end = varint_end(out, at);
            let value = interesting(e);
            out.splice(at..end, leb128(value));
        }
        5 => {
            let value = interesting(e);
            out.splice(at..at, leb128(value));
        }
        // A varint that never ends, or ends after nine 0xFF bytes with a huge value.
        6 => {
            let run = 1 + e.small_below(10);
            let end = (at + run).min(out.len());
            out[at..end].fill(0xFF);
            if e.one_in(2) {
                out.insert(end, 0x01 + e.byte() % 0x7F);
            }
        }
        7 => {
            let bytes = fixed_width(interesting(e), e);
            let end = (at + bytes.len()).min(out.len());
            out.splice(at..end, bytes);
        }
        8 => {
            let chunk = chunk_at(out, e);
            let dest = HEADER_LEN + e.below(out.len() - HEADER_LEN + 1);
            out.splice(dest..dest, chunk);
        }
        9 => {
            let len = 1 + e.small_below(out.len() - at);
            out.drain(at..at + len);
        }
        10 => {
            let len = 1 + e.small_below(out.len() - at);
            let chunk: Vec<u8> = out.drain(at..at + len).collect();
            let dest = HEADER_LEN + e.below(out.len() - HEADER_LEN + 1);
            out.splice(dest..dest, chunk);
        }
        11 if !donor.is_empty() => {
            let from = e.below(donor.len());
            let len = 1 + e.small_below(donor.len() - from);
            let chunk = &donor[from..from + len];
            if e.one_in(2) {
                out.splice(at..at, chunk.iter().copied());
            } else {
                let end = (at + len).min(out.len());
                out.splice(at..end, chunk.iter().copied());
            }
        }
        _ => out.truncate(at + e.below(out.len() - at)),
    }
}

/// A chunk of the body to duplicate elsewhere.
fn chunk_at(out: &[u8], e: &mut Entropy<'_>) -> Vec<u8> {
    let body = out.len() - HEADER_LEN;
    let from = HEADER_LEN + e.below(body);
    let len = 1 + e.small_below(out.len() - from);
    out[from..from + len].to_vec()
}

fn interesting(e: &mut Entropy<'_>) -> u64 {
    let base = INTERESTING[e.below(INTERESTING.len())];
    // Neighbours of the boundaries matter as much as the boundaries.
    match e.byte() % 4 {
        0 => base.wrapping_sub(1),
        1 => base.wrapping_add(1),
        _ => base,
    }
}

/// The low 2, 4 or 8 bytes of `value` as a fixed-width integer, in either byte order
/// (columnar encodings and peer ids use both).
fn fixed_width(value: u64, e: &mut Entropy<'_>) -> Vec<u8> {
    let width = [2, 4, 8][e.below(3)];
    let little_endian = value.to_le_bytes()[..width].to_vec();
    if e.one_in(2) {
        little_endian
    } else {
        little_endian.into_iter().rev().collect()
    }
}

/// The unsigned LEB128 encoding of `value`.
pub fn leb128(mut value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let low = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// Where the LEB128 varint starting at `at` ends (exclusive; at most 10 bytes, clipped to
/// the buffer), so it can be replaced whole.
fn varint_end(bytes: &[u8], at: usize) -> usize {
    let mut end = at;
    while end < bytes.len() && end - at < 10 {
        end += 1;
        if bytes[end - 1] & 0x80 == 0 {
            break;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trips_known_values() {
        assert_eq!(leb128(0), [0]);
        assert_eq!(leb128(0x7F), [0x7F]);
        assert_eq!(leb128(0x80), [0x80, 0x01]);
        assert_eq!(leb128(u64::MAX).len(), 10);
        assert_eq!(varint_end(&[0x80, 0x80, 0x01, 0x05], 0), 3);
        assert_eq!(varint_end(&[0x80, 0x80], 0), 2);
    }

    #[test]
    fn never_panics_and_keeps_the_header() {
        let seed = {
            let mut s = b"loro".to_vec();
            s.resize(HEADER_LEN - 2, 0);
            s.extend_from_slice(&UPDATES_MODE);
            s.extend_from_slice(&[1, 2, 3, 0x80, 0x80, 1, 9]);
            s
        };
        for i in 0u32..5_000 {
            let entropy: Vec<u8> = (0..64u32)
                .map(|j| (i.wrapping_mul(31).wrapping_add(j * 7) % 251) as u8)
                .collect();
            for input in [&seed[..], &seed[..HEADER_LEN], b"xy"] {
                let out = mutate_with_donor(input, &seed, &entropy);
                assert!(out.len() >= HEADER_LEN);
                assert_eq!(&out[..4], b"loro");
                assert!(header::checksum_ok(&out));
                assert_eq!(out, mutate_with_donor(input, &seed, &entropy));
            }
        }
    }
}
