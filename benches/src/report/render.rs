//! The report as a markdown table.

use std::fmt::Write;

use super::Row;

/// A duration in nanoseconds with a readable unit.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn format_rate(per_item_ns: f64) -> String {
    let per_second = 1e9 / per_item_ns;
    if per_second >= 1e6 {
        format!("{:.2} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0} /s")
    }
}

/// The ratio, and below 1 also how many times faster, which reads better for a
/// benchmark that beats its baseline (group commit against one flush per update).
fn format_ratio(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.1}×")
    } else if ratio >= 1.0 {
        format!("{ratio:.2}×")
    } else {
        format!("{ratio:.3}× ({:.1}× faster)", 1.0 / ratio)
    }
}

/// Every row as a markdown table: time per item (median), the rate, the baseline's time
/// per item, and the ratio.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| benchmark | case | time per item | rate | baseline | baseline time per item | ratio |\n\
         |---|---|---:|---:|---|---:|---:|\n",
    );
    for row in rows {
        let s = &row.subject;
        let (baseline, baseline_time) = match &row.baseline {
            Some(b) => (b.function.clone(), format_ns(b.per_item_ns())),
            None => ("(none this run)".to_owned(), "–".to_owned()),
        };
        let ratio = row.ratio.map_or_else(|| "–".to_owned(), format_ratio);
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "| {}/{} | {} | {} | {} | {} | {} | {} |",
            s.group,
            s.function,
            s.case,
            format_ns(s.per_item_ns()),
            format_rate(s.per_item_ns()),
            baseline,
            baseline_time,
            ratio
        );
    }
    out
}
