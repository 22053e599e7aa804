//! Run with: `cargo run --release -p codesync-benches --bin bench-report -- [--criterion-dir target/criterion] [--since UNIX_SECONDS] [--json target/bench-report/micro.json]`
//!
//! Reads criterion's estimates and prints every benchmark against the baseline measured in
//! the same run as a markdown table of ratios; writes the same as JSON.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use codesync_benches::report;

struct Args {
    criterion_dir: PathBuf,
    since: Option<SystemTime>,
    json: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        criterion_dir: PathBuf::from("target/criterion"),
        since: None,
        json: PathBuf::from("target/bench-report/micro.json"),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--criterion-dir" => args.criterion_dir = PathBuf::from(value()?),
            "--json" => args.json = PathBuf::from(value()?),
            "--since" => {
                let secs: u64 = value()?.parse().map_err(|e| format!("--since: {e}"))?;
                args.since = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let measurements = report::read_criterion_dir(&args.criterion_dir, args.since)
        .map_err(|e| format!("reading {}: {e}", args.criterion_dir.display()))?;
    if measurements.is_empty() {
        return Err(format!(
            "no criterion results in {} (run the benches first)",
            args.criterion_dir.display()
        ));
    }
    let rows = report::pair(&measurements);
    print!("{}", report::markdown(&rows));
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
    std::fs::write(&args.json, json).map_err(|e| format!("{}: {e}", args.json.display()))?;
    eprintln!("wrote {}", args.json.display());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}
