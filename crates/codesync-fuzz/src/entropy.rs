//! Where the mutator's choices come from.
//!
//! Every choice is read from a byte string, so one byte string always gives the same
//! mutation: libFuzzer can mutate the choices themselves, and a failing case is reproduced
//! from its bytes alone. Past the end the string reads as zeros (never a panic), so any
//! input, even an empty one, is a valid list of choices.

/// Reads choices from a byte string.
#[derive(Debug, Clone)]
pub struct Entropy<'a> {
    bytes: &'a [u8],
}

impl<'a> Entropy<'a> {
    /// Choices read from `bytes`, front to back.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next byte (0 once the string is used up).
    pub fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&first, rest)) => {
                self.bytes = rest;
                first
            }
            None => 0,
        }
    }

    /// The next four bytes as a little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // u32 → usize is lossless on every target this crate builds for (32 and 64 bit).
        self.u32() as usize % n
    }

    /// A number in `0..n` that is small far more often than large: lengths of chunks and
    /// counts of mutations, where small changes keep the rest of the structure parseable.
    pub fn small_below(&mut self, n: usize) -> usize {
        let bound = match self.byte() % 4 {
            0 | 1 => 8,
            2 => 64,
            _ => n,
        };
        self.below(bound.min(n))
    }

    /// True with probability about `1 / n`.
    pub fn one_in(&mut self, n: u8) -> bool {
        n <= 1 || self.byte().is_multiple_of(n)
    }

    /// Whether every byte has been read.
    pub fn is_exhausted(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A small deterministic generator (SplitMix64) that turns a case number into entropy
/// bytes, for bounded runs that must give the same cases every time.
#[derive(Debug, Clone)]
pub struct CaseRng {
    state: u64,
}

impl CaseRng {
    /// The generator for case `index` of a run seeded with `seed`.
    pub fn new(seed: u64, index: u64) -> Self {
        Self {
            state: seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zeros_past_the_end() {
        let mut e = Entropy::new(&[7, 1, 0, 0, 0]);
        assert_eq!(e.byte(), 7);
        assert_eq!(e.u32(), 1);
        assert!(e.is_exhausted());
        assert_eq!(e.byte(), 0);
        assert_eq!(e.below(10), 0);
        assert_eq!(e.below(0), 0);
    }

    #[test]
    fn case_rng_is_deterministic() {
        assert_eq!(CaseRng::new(1, 2).bytes(20), CaseRng::new(1, 2).bytes(20));
        assert_ne!(CaseRng::new(1, 2).bytes(20), CaseRng::new(1, 3).bytes(20));
    }
}
