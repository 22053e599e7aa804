//! Loro's full ingest sequence on mutated real exports, in-process: import over the seed's
//! base, read the value, export a snapshot, import it into a fresh document, read, drop.
//!
//! The input is a case in `codesync_fuzz::cases::from_fuzz_input`'s format: mutation mode
//! (a seed, a donor, the mutator's choices) or raw mode (a Loro blob whose checksum the
//! target recomputes). Loro's panics are caught as a careful server catches them, with the
//! poisoned documents leaked; so a crash here is an input that ends a process whatever it
//! does: an allocation failure, or a panic during a panic. Set
//! `CODESYNC_FUZZ_PANICS_ARE_CRASHES=1` to report every panic as a crash instead.

#![no_main]

use std::sync::OnceLock;

use codesync_fuzz::{cases, ingest, seeds, Seed};
use libfuzzer_sys::fuzz_target;

fn all_seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(seeds)
}

fuzz_target!(
    init: {
        all_seeds();
        // libfuzzer-sys makes every panic abort at once, even one that would be caught.
        // Let them unwind, quietly: a caught panic is survivable and not what this target
        // looks for.
        if std::env::var_os("CODESYNC_FUZZ_PANICS_ARE_CRASHES").is_none() {
            std::panic::set_hook(Box::new(|_| {}));
        }
    },
    |data: &[u8]| {
        let case = cases::from_fuzz_input(all_seeds(), data);
        let _ = ingest::ingest(&case.bases(), &case.input, &mut |_| {});
    }
);
