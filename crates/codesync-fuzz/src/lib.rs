//! # codesync-fuzz
//!
//! Hostile Loro updates for codesync's fuzz harness. Loro's own fuzzing feeds raw bytes,
//! which the blob checksum rejects before any decoder runs; here real exports
//! ([`seeds()`]: every container type, updates and snapshots) are mutated past the 22-byte
//! header ([`mutate()`]) and their xxh32 checksum recomputed ([`fix_checksum`]), so every
//! input reaches loro's decoders and diff code.
//!
//! | piece | what it is for |
//! |---|---|
//! | [`seeds()`], [`mutate()`], [`cases`] | generating inputs: by case number (bounded runs) or from a fuzzer's bytes |
//! | [`crashers`] | the known inputs that end a process with loro 1.17.1, as regression inputs |
//! | [`ingest`] | a server's full ingest sequence (import, read, snapshot, reload, read, drop), in-process, panics caught |
//! | [`oracle`] | the same in a worker process, classifying each input as ok, refused, panicked, aborted or timed out |
//! | [`valid`], [`traces`] | valid editing that no defence may refuse |
//! | `server` (feature `server-driver`) | a black-box driver of a running server: its process, peers, a bystander session |
//!
//! Used by the `find-crashers` binary (the oracle over generated cases), the cargo-fuzz
//! targets in `fuzz/`, and the server's black-box tests
//! (`examples/codesync-server/tests/hostile_crdt.rs`).

#![forbid(unsafe_code)]

pub mod cases;
pub mod crashers;
pub mod entropy;
pub mod header;
pub mod ingest;
pub mod mutate;
pub mod oracle;
pub mod seeds;
#[cfg(feature = "server-driver")]
pub mod server;
pub mod traces;
pub mod valid;

pub use header::{fix_checksum, HEADER_LEN};
pub use mutate::{mutate, mutate_with_donor};
pub use seeds::{seeds, Seed, SeedKind};
