//! The report of the micro-benchmarks: each benchmark against the baseline measured in the
//! same run, as a ratio.
//!
//! Pairing is by name: in every group, a function whose name starts with `baseline` is the
//! baseline of each other function of that group measured on the same case (criterion's
//! parameter, e.g. the trace's name).

mod read;
mod render;

use serde::Serialize;

pub use read::read_criterion_dir;
pub use render::{format_ns, markdown};

/// The prefix that marks a function as its group's baseline.
pub const BASELINE_PREFIX: &str = "baseline";

/// One benchmark's result, as criterion estimated it.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Criterion's group (`ingest`, `protocol`, …).
    pub group: String,
    /// The function measured (`hub`, `baseline_loro_import`, …).
    pub function: String,
    /// The case (criterion's parameter), empty when there is none.
    pub case: String,
    /// Median time of one iteration, in nanoseconds.
    pub median_ns: f64,
    /// Lower bound of the median's 95% confidence interval.
    pub low_ns: f64,
    /// Upper bound of the median's 95% confidence interval.
    pub high_ns: f64,
    /// Items one iteration handles (criterion's `Throughput::Elements`), if declared.
    pub elements: Option<u64>,
}

impl Measurement {
    /// `group/function/case`, as criterion names it.
    pub fn id(&self) -> String {
        [&self.group, &self.function, &self.case]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Median time per item (per iteration when no item count was declared).
    pub fn per_item_ns(&self) -> f64 {
        self.median_ns / self.elements.unwrap_or(1).max(1) as f64
    }

    fn is_baseline(&self) -> bool {
        self.function.starts_with(BASELINE_PREFIX)
    }
}

/// One line of the report: a benchmark and its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The benchmark.
    pub subject: Measurement,
    /// Its baseline, if one was measured in this run.
    pub baseline: Option<Measurement>,
    /// Subject time per item over baseline time per item: how many times slower than
    /// the baseline (below 1: faster).
    pub ratio: Option<f64>,
}

/// Pairs every benchmark with its group's baseline for the same case.
pub fn pair(measurements: &[Measurement]) -> Vec<Row> {
    measurements
        .iter()
        .filter(|m| !m.is_baseline())
        .map(|subject| {
            let baseline = measurements
                .iter()
                .find(|b| b.is_baseline() && b.group == subject.group && b.case == subject.case)
                .cloned();
            let ratio = baseline
                .as_ref()
                .map(|b| subject.per_item_ns() / b.per_item_ns());
            Row {
                subject: subject.clone(),
                baseline,
                ratio,
            }
        })
        .collect()
}
