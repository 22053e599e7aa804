//! Reading criterion's results: every `<group>/<bench>/new/benchmark.json` (what was
//! measured) beside its `estimates.json` (how long it took).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use super::Measurement;
use crate::error::{BenchError, Result};

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<serde_json::Value>,
}

/// How many items one iteration handles, when criterion's throughput counts elements
/// (it serializes as `{"Elements": n}` or `{"ElementsAndBytes": {"elements": n, …}}`).
fn elements(throughput: &serde_json::Value) -> Option<u64> {
    throughput
        .get("Elements")
        .and_then(serde_json::Value::as_u64)
        .or_else(|| {
            throughput
                .get("ElementsAndBytes")
                .and_then(|t| t.get("elements"))
                .and_then(serde_json::Value::as_u64)
        })
}

#[derive(Deserialize)]
struct EstimatesJson {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Every measurement under `criterion_dir` whose estimates were written at or after
/// `since` (so results left over from older runs of benches not run this time are left
/// out), sorted by id.
pub fn read_criterion_dir(
    criterion_dir: &Path,
    since: Option<SystemTime>,
) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    collect_new_dirs(criterion_dir, &mut found)?;
    let mut measurements = Vec::new();
    for dir in found {
        let estimates_path = dir.join("estimates.json");
        if let Some(since) = since {
            let written = std::fs::metadata(&estimates_path)?.modified()?;
            if written < since {
                continue;
            }
        }
        let id: BenchmarkJson = read_json(&dir.join("benchmark.json"))?;
        let estimates: EstimatesJson = read_json(&estimates_path)?;
        measurements.push(Measurement {
            group: id.group_id,
            function: id.function_id.unwrap_or_default(),
            case: id.value_str.unwrap_or_default(),
            median_ns: estimates.median.point_estimate,
            low_ns: estimates.median.confidence_interval.lower_bound,
            high_ns: estimates.median.confidence_interval.upper_bound,
            elements: id.throughput.as_ref().and_then(elements),
        });
    }
    measurements.sort_by_key(Measurement::id);
    Ok(measurements)
}

/// Every directory named `new` holding both files criterion writes.
fn collect_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let is_result = path.file_name().is_some_and(|n| n == "new")
            && path.join("benchmark.json").is_file()
            && path.join("estimates.json").is_file();
        if is_result {
            found.push(path);
        } else {
            collect_new_dirs(&path, found)?;
        }
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text)
        .map_err(|e| BenchError::Unexpected(format!("{}: {e}", path.display())))
}
