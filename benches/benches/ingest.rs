//! Run with: `CODESYNC_TRACES_DIR=../shared/data/editing-traces cargo bench -p codesync-benches --bench ingest`
//!
//! Server ingest of one update against raw `LoroDoc::import` of the same bytes. Each
//! iteration feeds `UPDATES` per-keystroke updates of a trace, one `DocUpdate` frame each,
//! into a fresh hub (as it ships, over `MemoryStorage`: the durable append is measured by
//! the `durable_appends` bench), or the same updates into a fresh `LoroDoc`; criterion's
//! per-element time is the time per update. Two starting points per trace: an empty
//! document (the trace's first updates), and a session in steady state (`BASE` keystrokes
//! already compacted into the stored snapshot it loads, untimed; then the next updates).
//!
//! `hub_guarded` is the same hub with the untrusted-input guard (`codesync-guard`, one
//! worker process, as `codesync-server` ships): its ratio against `hub` is what the guard
//! costs per update. The worker is this bench binary, started again.

use std::time::Duration;

use codesync_benches::ingest::{self, IngestWorkload};
use std::sync::Arc;

use codesync_core::{Hub, MemoryStorage, UpdateGuard};
use codesync_guard::{GuardConfig, ProcessGuard};
use criterion::{criterion_group, BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// Updates fed per iteration: three compactions' worth at the shipped threshold (1000), so
/// their cost is spread over the updates as in a long-running session.
const UPDATES: usize = 3000;

/// The traces measured: prose (the paper) and code.
const TRACES: [&str; 2] = ["automerge-paper", "rustcode"];

/// Keystrokes already in the steady-state session's snapshot.
const BASE: usize = 20_000;

/// Measures ingest into hubs made by `make_hub`, one fresh hub per iteration, as the
/// function `name`. A variant of the hub (another storage, a guard) is one more call.
fn bench_hub(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    workload: &IngestWorkload,
    make_hub: impl Fn() -> Hub,
) {
    let runtime = ingest::runtime().expect("a tokio runtime");
    group.bench_function(criterion::BenchmarkId::new(name, &workload.name), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| ingest::hub_ingest(&runtime, make_hub(), workload).expect("ingest"))
                .sum::<Duration>()
        });
    });
}

fn ingest(c: &mut Criterion) {
    // The guard's worker tasks live on a runtime of their own, alive for the whole run.
    let guard_runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let guard = guard_runtime
        .block_on(async { ProcessGuard::spawn(GuardConfig::default()) })
        .expect("the guard starts");
    let guard: Arc<dyn UpdateGuard> = Arc::new(guard);
    let mut group = c.benchmark_group("ingest");
    // One iteration is thousands of updates (tens of milliseconds): a few samples of one
    // iteration each are enough, and keep the run short.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let workloads = TRACES.into_iter().flat_map(|trace| {
        let fresh = IngestWorkload::new(trace, codesync_benches::keystrokes(trace, UPDATES));
        let steady = IngestWorkload::after(
            &format!("{trace}_after_20k"),
            codesync_benches::keystrokes(trace, BASE + UPDATES),
            BASE,
        )
        .expect("a base snapshot");
        [fresh, steady]
    });
    for workload in workloads {
        let start = match &workload.base {
            Some(base) => format!("a stored {} B snapshot of the first {BASE}", base.len()),
            None => "an empty document".to_owned(),
        };
        codesync_benches::announce(
            &format!("ingest/{}", workload.name),
            &format!(
                "{} per-keystroke updates per iteration, one DocUpdate frame each, from {start}: \
                 {}",
                workload.len(),
                workload.source
            ),
            workload.from_trace,
        );
        group.throughput(Throughput::Elements(workload.len() as u64));
        bench_hub(&mut group, "hub", &workload, ingest::shipped_hub);
        bench_hub(&mut group, "hub_guarded", &workload, || {
            Hub::builder(MemoryStorage::new())
                .guard(guard.clone())
                .build()
        });
        group.bench_function(
            criterion::BenchmarkId::new("baseline_loro_import", &workload.name),
            |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| ingest::loro_import(&workload).expect("import"))
                        .sum::<Duration>()
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, ingest);

fn main() {
    // Started again as the guard's worker: serve, and never reach the benchmarks.
    codesync_guard::run_worker_if_requested();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
