//! codesync's guarded ingest, in-process: a `Hub` built with the untrusted-input guard
//! applies a seed's base and then a mutated update as a client's, and afterwards the
//! session must still load and read its value. A crash of this process, a refused base (a
//! false refusal), or a session that no longer reads is a finding.
//!
//! The guard runs its workers as this same executable: `run_worker_if_requested` must be
//! the first thing the process does, hence the `init` block.

#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use codesync_core::{ClientId, DocKey, Hub, MemoryStorage, Origin};
use codesync_fuzz::{cases, seeds, Seed};
use codesync_guard::{GuardConfig, ProcessGuard};
use libfuzzer_sys::fuzz_target;

const CLIENT: Origin = Origin::Client(ClientId(1));

struct Harness {
    seeds: Vec<Seed>,
    runtime: tokio::runtime::Runtime,
    guard: ProcessGuard,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // Its own thread keeps the guard's worker tasks running between inputs.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let guard = runtime
            .block_on(async { ProcessGuard::spawn(GuardConfig::default()) })
            .expect("the guard starts");
        Harness {
            seeds: seeds(),
            runtime,
            guard,
        }
    })
}

fuzz_target!(
    init: {
        codesync_guard::run_worker_if_requested();
        harness();
    },
    |data: &[u8]| {
        static INPUTS: AtomicU64 = AtomicU64::new(0);
        let harness = harness();
        let case = cases::from_fuzz_input(&harness.seeds, data);
        // A fresh session per input, so no input meets another's leftovers.
        let n = INPUTS.fetch_add(1, Ordering::Relaxed);
        let key = DocKey::parse("fuzz", &format!("input-{n}")).expect("a valid key");
        harness.runtime.block_on(async {
            let hub = Hub::builder(MemoryStorage::new())
                .guard(Arc::new(harness.guard.clone()))
                .build();
            for base in case.bases() {
                if let Err(e) = hub.apply(&key, base, CLIENT).await {
                    panic!("false refusal: the valid base of {} was refused: {e}", case.seed);
                }
            }
            // Refused or accepted, both are fine; the session must survive either.
            let _ = hub.apply(&key, &case.input, CLIENT).await;
            let session = hub
                .session(&key)
                .await
                .unwrap_or_else(|e| panic!("the session no longer loads: {e}"));
            if let Err(e) = session.read(|doc| doc.get_deep_value()).await {
                panic!("the session no longer reads: {e}");
            }
        });
    }
);
