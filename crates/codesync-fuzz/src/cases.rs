//! Turning a case number (bounded runs) or a fuzzer's bytes (cargo fuzz) into one input:
//! a seed's base and a mutation of the seed.

use crate::entropy::CaseRng;
use crate::header::{self, HEADER_LEN};
use crate::mutate::mutate_with_donor;
use crate::seeds::Seed;

/// One generated input and the state it applies to.
#[derive(Debug, Clone)]
pub struct Case {
    /// The seed it was made from (`document/export`).
    pub seed: String,
    /// The updates to import before it (the seed's base; may be empty).
    pub base: Vec<u8>,
    /// The hostile bytes.
    pub input: Vec<u8>,
}

impl Case {
    /// The updates to import before the input: the base, when there is one.
    pub fn bases(&self) -> Vec<&[u8]> {
        if self.base.is_empty() {
            Vec::new()
        } else {
            vec![&self.base[..]]
        }
    }
}

/// Bytes of choices per generated case: enough for eight mutations and the header's.
const ENTROPY_PER_CASE: usize = 128;

/// The `index`-th case of the run seeded `run_seed`: the same seeds, run seed and index
/// always give the same case. One case in four splices in chunks of another seed.
pub fn generate(seeds: &[Seed], run_seed: u64, index: u64) -> Case {
    let mut rng = CaseRng::new(run_seed, index);
    let Some(seed) = pick(seeds, rng.next_u64()) else {
        return Case {
            seed: "none".to_owned(),
            base: Vec::new(),
            input: Vec::new(),
        };
    };
    let donor = if rng.next_u64().is_multiple_of(4) {
        pick(seeds, rng.next_u64()).map_or(&[][..], |d| &d.bytes[..])
    } else {
        &[]
    };
    let entropy = rng.bytes(ENTROPY_PER_CASE);
    Case {
        seed: seed.name.clone(),
        base: seed.base.clone(),
        input: mutate_with_donor(&seed.bytes, donor, &entropy),
    }
}

/// The case a fuzzer's input stands for. First byte: bit 7 clear, *mutation mode*: the
/// seed is `data[0]`, the donor `data[1]` (none if it names the seed itself), and the rest
/// are the mutator's choices; bit 7 set, *raw mode*: `data[1]` names the seed whose base
/// to import and `data[2..]` is the Loro blob itself, its checksum recomputed (so the
/// fuzzer's own byte-level mutations reach loro's decoders; see [`raw_corpus_entry`]).
pub fn from_fuzz_input(seeds: &[Seed], data: &[u8]) -> Case {
    let selector = data.first().copied().unwrap_or(0);
    let second = data.get(1).copied().unwrap_or(0);
    let rest = data.get(2..).unwrap_or_default();
    let Some(seed) = pick(seeds, u64::from(second)) else {
        return generate(seeds, 0, 0);
    };
    if selector & 0x80 != 0 {
        let mut input = rest.to_vec();
        header::fix_checksum(&mut input);
        return Case {
            seed: format!("raw-over-{}", seed.name),
            base: seed.base.clone(),
            input,
        };
    }
    let Some(seed) = pick(seeds, u64::from(selector)) else {
        return generate(seeds, 0, 0);
    };
    let donor = pick(seeds, u64::from(second))
        .filter(|d| d.name != seed.name)
        .map_or(&[][..], |d| &d.bytes[..]);
    Case {
        seed: seed.name.clone(),
        base: seed.base.clone(),
        input: mutate_with_donor(&seed.bytes, donor, rest),
    }
}

/// A raw-mode fuzzer input holding seed `index` unchanged: a starting corpus for the
/// fuzzer's own mutations.
pub fn raw_corpus_entry(seeds: &[Seed], index: usize) -> Option<Vec<u8>> {
    let seed = seeds.get(index)?;
    let mut entry = vec![0x80, u8::try_from(index).ok()?];
    entry.extend_from_slice(&seed.bytes);
    Some(entry)
}

fn pick(seeds: &[Seed], choice: u64) -> Option<&Seed> {
    let len = u64::try_from(seeds.len()).ok().filter(|&n| n > 0)?;
    // The remainder is below `seeds.len()`, so it fits a usize.
    seeds.get(usize::try_from(choice % len).ok()?)
}

/// Whether `input` still looks like an updates blob to a server's header check (the
/// server takes nothing else from a peer).
pub fn is_updates_blob(input: &[u8]) -> bool {
    input.len() >= HEADER_LEN
        && &input[..4] == b"loro"
        && header::mode(input) == Some(header::UPDATES_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::seeds;

    #[test]
    fn raw_mode_carries_a_seed_unchanged_over_its_base() {
        let seeds = seeds();
        for index in 0..seeds.len() {
            let entry = raw_corpus_entry(&seeds, index).expect("an entry per seed");
            let case = from_fuzz_input(&seeds, &entry);
            assert_eq!(case.input, seeds[index].bytes);
            assert_eq!(case.base, seeds[index].base);
        }
    }

    #[test]
    fn mutation_mode_always_gives_a_loro_header() {
        let seeds = seeds();
        // Raw mode passes the fuzzer's bytes on as they are, however short.
        assert_eq!(from_fuzz_input(&seeds, &[0x85, 3, 1, 2]).input, [1, 2]);
        for data in [&[][..], &[0], &[5, 5], &[7, 200, 9, 9, 9]] {
            let case = from_fuzz_input(&seeds, data);
            assert_eq!(&case.input[..4], b"loro", "{data:?}");
            assert!(header::checksum_ok(&case.input));
        }
        assert_eq!(generate(&seeds, 3, 9).input, generate(&seeds, 3, 9).input);
        assert!(generate(&[], 3, 9).input.is_empty());
    }
}
