//! Run with: `benches/memory.sh` (or `cargo run --release -p codesync-benches --bin memory -- --help`)
//!
//! Resident memory per live session against a `LoroDoc` freshly loaded from the same
//! snapshot: (a) many sessions of small code files (this repository's sources, cycled) in
//! the hub's LRU; (b) long-history sessions typed one keystroke at a time, with and without
//! compaction. Every case runs in a fresh process (this binary re-executed as
//! `memory measure CASE COUNT DIR`), reading `VmRSS` before and after making its sessions.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use codesync_benches::memory::{self, Case, Sample};
use serde::Serialize;

const USAGE: &str = "usage: memory [--sessions N] [--long-sessions N] [--keystrokes N] \
                     [--trace NAME] [--repo DIR] [--json PATH]";

struct Args {
    sessions: usize,
    long_sessions: usize,
    keystrokes: usize,
    trace: String,
    repo: PathBuf,
    json: PathBuf,
}

fn parse_args(given: Vec<String>) -> Result<Args, String> {
    let mut args = Args {
        sessions: 10_000,
        long_sessions: 50,
        // Not a multiple of the compaction threshold (1000): the session holds a tail of
        // 500 updates on its last snapshot, as a session between two compactions does.
        keystrokes: 20_500,
        trace: "automerge-paper".to_owned(),
        repo: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
        json: PathBuf::from("target/bench-report/memory.json"),
    };
    let mut given = given.into_iter();
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--sessions" => args.sessions = number(value()?)?,
            "--long-sessions" => args.long_sessions = number(value()?)?,
            "--keystrokes" => args.keystrokes = number(value()?)?,
            "--trace" => args.trace = value()?,
            "--repo" => args.repo = PathBuf::from(value()?),
            "--json" => args.json = PathBuf::from(value()?),
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// One line of the report.
#[derive(Serialize)]
struct Line {
    case: &'static str,
    sessions: usize,
    bytes_per_session: f64,
    baseline: &'static str,
    ratio: f64,
}

/// Runs `case` in a fresh process and reads its sample.
fn measure_in_child(case: Case, count: usize, dir: &Path) -> Result<Sample, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .args(["measure", case.name(), &count.to_string()])
        .arg(dir)
        .output()
        .map_err(|e| format!("starting the measuring process: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            case.name(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("{}: {e}", case.name()))
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

fn orchestrate(args: Args) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let long = codesync_benches::keystrokes(&args.trace, args.keystrokes);
    let files = memory::prepare(dir.path(), &args.repo, &long).map_err(|e| e.to_string())?;
    println!(
        "workload: (a) {} sessions of small code files: the {files} *.rs and *.js files under \
         crates/ and examples/, cycled, each a compacted snapshot loaded by a hub \
         (capacity >= {}, MemoryStorage) or a bare LoroDoc",
        args.sessions, args.sessions
    );
    println!(
        "workload: (b) {} long-history sessions, each {} typed one update per keystroke \
         through a connected client (storage keeps nothing, so only sessions count); \
         compaction at the shipped 1000 updates or off; baseline: bare LoroDocs loaded \
         from the final snapshot",
        args.long_sessions, long.source
    );
    let mut samples = Vec::new();
    for case in Case::ALL {
        let count = if case.is_small() {
            args.sessions
        } else {
            args.long_sessions
        };
        eprintln!("measuring {} ({count} sessions)…", case.name());
        samples.push((case, measure_in_child(case, count, dir.path())?));
    }
    let per_session = |wanted: Case| {
        samples
            .iter()
            .find(|(c, _)| *c == wanted)
            .map_or(f64::NAN, |(_, s)| s.per_session())
    };
    println!();
    println!("| case | sessions | RSS per session | baseline | ratio |");
    println!("|---|---:|---:|---|---:|");
    let mut lines = Vec::new();
    for (case, sample) in &samples {
        let baseline = case.baseline();
        let ratio = sample.per_session() / per_session(baseline);
        println!(
            "| {} | {} | {} | {} | {ratio:.2}× |",
            case.name(),
            sample.count,
            kib(sample.per_session()),
            baseline.name()
        );
        lines.push(Line {
            case: case.name(),
            sessions: sample.count,
            bytes_per_session: sample.per_session(),
            baseline: baseline.name(),
            ratio,
        });
    }
    if long.from_trace {
        println!("\ntraces: {}", codesync_benches::TRACE_CREDIT);
    }
    if let Some(parent) = args.json.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let json = serde_json::to_string_pretty(&lines).map_err(|e| e.to_string())?;
    std::fs::write(&args.json, json).map_err(|e| format!("{}: {e}", args.json.display()))?;
    eprintln!("wrote {}", args.json.display());
    Ok(())
}

/// The measuring process: `measure CASE COUNT DIR`; prints one JSON sample.
fn measure(given: &[String]) -> Result<(), String> {
    let [case, count, dir] = given else {
        return Err("usage: memory measure CASE COUNT DIR".to_owned());
    };
    let case = Case::parse(case).ok_or(format!("unknown case {case}"))?;
    let count = count.parse().map_err(|e| format!("COUNT: {e}"))?;
    let sample = memory::measure(case, count, Path::new(dir)).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&sample).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn main() -> ExitCode {
    let given: Vec<String> = std::env::args().skip(1).collect();
    let result = match given.first().map(String::as_str) {
        Some("measure") => measure(&given[1..]),
        _ => parse_args(given).and_then(orchestrate),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memory: {e}");
            ExitCode::FAILURE
        }
    }
}
