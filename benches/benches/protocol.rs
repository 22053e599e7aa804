//! Run with: `CODESYNC_TRACES_DIR=../shared/data/editing-traces cargo bench -p codesync-benches --bench protocol`
//!
//! The wire codec: encode and decode of each message the server handles most, against a
//! copy of the same frame's bytes (`Vec::from(slice)`, one allocation and a memcpy), so
//! the ratio says how far from free the codec is.

use std::hint::black_box;
use std::time::Duration;

use codesync_benches::frames::{self, Sample};
use codesync_transport_ws::protocol::{self, Limits};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Keystroke updates to pick the typical (median-sized) one from.
const KEYSTROKES: usize = 2000;

/// The size of the large update: a paste of about 4 KB.
const PASTE_BYTES: usize = 4000;

fn codec(c: &mut Criterion) {
    let keystrokes = codesync_benches::keystrokes("automerge-paper", KEYSTROKES);
    let keystroke = frames::typical(&keystrokes.updates);
    let large = frames::paste_update(PASTE_BYTES).expect("a paste update");
    let samples: Vec<Sample> = frames::samples(&keystroke, &large).expect("samples");
    let sizes: Vec<String> = samples
        .iter()
        .map(|s| format!("{} {} B", s.name, s.frame.len()))
        .collect();
    codesync_benches::announce(
        "protocol",
        &format!(
            "frames: {}; the keystroke is the median-sized update of {}; the 4k update is one \
             paste of Rust-like text",
            sizes.join(", "),
            keystrokes.source
        ),
        keystrokes.from_trace,
    );

    let limits = Limits::default();
    let mut group = c.benchmark_group("protocol");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for sample in &samples {
        let message = &sample.message;
        let frame = sample.frame.as_slice();
        group.bench_with_input(BenchmarkId::new("encode", sample.name), message, |b, m| {
            b.iter(|| protocol::encode(black_box(m)));
        });
        group.bench_with_input(BenchmarkId::new("decode", sample.name), frame, |b, f| {
            b.iter(|| protocol::decode(black_box(f), &limits).expect("decodes"));
        });
        group.bench_with_input(
            BenchmarkId::new("baseline_memcpy", sample.name),
            frame,
            |b, f| b.iter(|| Vec::from(black_box(f))),
        );
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
