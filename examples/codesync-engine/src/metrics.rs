//! Prometheus metrics, recorded through the `metrics` facade and rendered at `/metrics`.
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `codesync_engine_updates_merged_total{kind}` | counter | updates accepted; `kind` is `new` or `duplicate` (nothing new in it) |
//! | `codesync_engine_merged_bytes_total` | counter | bytes of the accepted updates |
//! | `codesync_engine_rejections_total{reason}` | counter | refused or failed requests, by the reason also sent in `X-Codesync-Error` |
//! | `codesync_engine_live_sessions` | gauge | sessions in memory (the LRU) |
//! | `codesync_engine_merge_duration_seconds` | histogram | merge time of accepted updates, storing included |

use std::time::Duration;

use anyhow::Context;
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const UPDATES_MERGED: &str = "codesync_engine_updates_merged_total";
const BYTES_MERGED: &str = "codesync_engine_merged_bytes_total";
const REJECTIONS: &str = "codesync_engine_rejections_total";
const LIVE_SESSIONS: &str = "codesync_engine_live_sessions";
const MERGE_SECONDS: &str = "codesync_engine_merge_duration_seconds";

/// Merge latency buckets, in seconds: from a pure in-memory merge (tens of µs) to a slow
/// disk or database commit.
const MERGE_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// How often histograms are drained into their rendered form.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the global recorder and starts its upkeep task (call within the runtime).
pub(crate) fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(MERGE_SECONDS.to_owned()), MERGE_BUCKETS)
        .context("configuring histogram buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    metrics::describe_counter!(
        UPDATES_MERGED,
        Unit::Count,
        "Updates accepted, by kind (new or duplicate)"
    );
    metrics::describe_counter!(BYTES_MERGED, Unit::Bytes, "Bytes of accepted updates");
    metrics::describe_counter!(
        REJECTIONS,
        Unit::Count,
        "Refused or failed requests, by reason"
    );
    metrics::describe_gauge!(LIVE_SESSIONS, Unit::Count, "Sessions held in memory");
    metrics::describe_histogram!(
        MERGE_SECONDS,
        Unit::Seconds,
        "Merge latency of accepted updates, storing included"
    );
    // Without the exporter's own HTTP listener nobody drains histograms: do it here.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Records an accepted update.
pub(crate) fn merged(bytes: usize, new_ops: bool, took: Duration) {
    let kind = if new_ops { "new" } else { "duplicate" };
    metrics::counter!(UPDATES_MERGED, "kind" => kind).increment(1);
    metrics::counter!(BYTES_MERGED).increment(bytes as u64);
    metrics::histogram!(MERGE_SECONDS).record(took.as_secs_f64());
}

/// Records a refused or failed request.
pub(crate) fn rejected(reason: &'static str) {
    metrics::counter!(REJECTIONS, "reason" => reason).increment(1);
}

/// Records how many sessions are in memory.
pub(crate) fn live_sessions(count: usize) {
    metrics::gauge!(LIVE_SESSIONS).set(count as f64);
}
