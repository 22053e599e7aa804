//! Searches for Loro updates that crash a process: generated cases (mutated seeds) go
//! through the oracle, and the counts of each verdict class are reported.
//!
//! ```text
//! cargo run -p codesync-fuzz --release --bin find-crashers -- --seconds 60
//!     [--cases N] [--run-seed S] [--jobs J] [--save DIR | --no-save] [--keep K]
//! cargo run -p codesync-fuzz --release --bin find-crashers -- --write-corpus DIR
//! cargo run -p codesync-fuzz --release --bin find-crashers -- --replay FILE...
//! ```
//!
//! `--write-corpus` writes every seed as a raw-mode input of the cargo-fuzz targets;
//! `--replay` classifies cargo-fuzz inputs (artifacts, corpus entries) with the oracle.
//!
//! Finds (panicked, aborted, timed out) are saved to `--save` (default this crate's
//! `data/found/`), at most `--keep` per class and one per class and stage, with their base.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codesync_fuzz::cases::{self, Case};
use codesync_fuzz::oracle::{self, Oracle, Verdict};
use codesync_fuzz::seeds;

#[derive(Debug)]
struct Args {
    seconds: f64,
    cases: u64,
    run_seed: u64,
    jobs: usize,
    save: Option<PathBuf>,
    keep: usize,
    write_corpus: Option<PathBuf>,
    replay: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 60.0,
        cases: u64::MAX,
        run_seed: 1,
        jobs: 2,
        save: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/found")),
        keep: 3,
        write_corpus: None,
        replay: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--seconds" => args.seconds = value()?.parse().map_err(|e| bad(&e))?,
            "--cases" => args.cases = value()?.parse().map_err(|e| bad(&e))?,
            "--run-seed" => args.run_seed = value()?.parse().map_err(|e| bad(&e))?,
            "--jobs" => args.jobs = value()?.parse().map_err(|e| bad(&e))?,
            "--keep" => args.keep = value()?.parse().map_err(|e| bad(&e))?,
            "--save" => args.save = Some(value()?.into()),
            "--no-save" => args.save = None,
            "--write-corpus" => args.write_corpus = Some(value()?.into()),
            "--replay" => args.replay.extend(it.by_ref().map(PathBuf::from)),
            other => return Err(format!("unknown flag {other} (see the source's header)")),
        }
    }
    Ok(args)
}

/// Verdict counts and the finds kept so far.
#[derive(Debug, Default)]
struct Tally {
    by_class: BTreeMap<&'static str, u64>,
    /// Of each class, how many inputs kept the updates mode (the only blobs a server
    /// takes from a peer).
    as_update: BTreeMap<&'static str, u64>,
    by_stage: BTreeMap<(&'static str, String), u64>,
    kept: BTreeSet<(&'static str, String)>,
    saved: Vec<PathBuf>,
}

fn main() -> ExitCode {
    oracle::serve_if_requested();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("find-crashers: {e}");
            return ExitCode::from(2);
        }
    };
    let seeds = Arc::new(seeds::seeds());
    if let Some(dir) = &args.write_corpus {
        return write_corpus(&seeds, dir);
    }
    if !args.replay.is_empty() {
        return replay(&seeds, &args.replay);
    }
    let started = Instant::now();
    let budget = Duration::from_secs_f64(args.seconds);
    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..args.jobs.max(1))
        .map(|_| {
            let (seeds, next, tally) = (Arc::clone(&seeds), Arc::clone(&next), Arc::clone(&tally));
            let (save, keep, run_seed, limit) =
                (args.save.clone(), args.keep, args.run_seed, args.cases);
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut oracle = Oracle::current_exe()?;
                while started.elapsed() < budget {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= limit {
                        break;
                    }
                    let case = cases::generate(&seeds, run_seed, index);
                    let verdict = oracle.classify(&case.bases(), &case.input)?;
                    let mut tally = tally
                        .lock()
                        .map_err(|_| std::io::Error::other("poisoned"))?;
                    record(&mut tally, &case, index, &verdict, save.as_deref(), keep);
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        match worker.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("find-crashers: a worker failed: {e}"),
            Err(_) => eprintln!("find-crashers: a worker thread panicked"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let Ok(tally) = tally.lock() else {
        return ExitCode::FAILURE;
    };
    report(&tally, elapsed, args.run_seed);
    ExitCode::SUCCESS
}

fn record(
    tally: &mut Tally,
    case: &Case,
    index: u64,
    verdict: &Verdict,
    save: Option<&std::path::Path>,
    keep: usize,
) {
    let class = verdict.class();
    let mut stage = verdict.stage().map_or("none", |s| s.name()).to_owned();
    if let Verdict::Aborted { detail, .. } = verdict {
        stage.push_str(abort_cause(detail));
    }
    *tally.by_class.entry(class).or_default() += 1;
    if cases::is_updates_blob(&case.input) {
        *tally.as_update.entry(class).or_default() += 1;
    }
    *tally.by_stage.entry((class, stage.clone())).or_default() += 1;
    let interesting = matches!(
        verdict,
        Verdict::Panicked { .. } | Verdict::Aborted { .. } | Verdict::TimedOut { .. }
    );
    let kept_of_class = tally.kept.iter().filter(|(c, _)| *c == class).count();
    let Some(dir) = save.filter(|_| interesting && kept_of_class < keep) else {
        return;
    };
    // One per distinct failure (stage and message), and only small ones: these are for
    // reading and replaying.
    let message = match verdict {
        Verdict::Panicked { message, .. } => message.as_str(),
        Verdict::Aborted { detail, .. } => detail.split(" | ").next().unwrap_or_default(),
        _ => "",
    };
    if case.input.len() > 4096 || !tally.kept.insert((class, format!("{stage} {message}"))) {
        return;
    }
    let name = format!("{class}-{stage}-{}-{index}", case.seed.replace('/', "-"));
    let path = dir.join(format!("{name}.bin"));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, &case.input))
        .and_then(|()| match case.base.is_empty() {
            true => Ok(()),
            false => std::fs::write(dir.join(format!("{name}.base.bin")), &case.base),
        });
    match written {
        Ok(()) => {
            eprintln!("saved {} ({verdict:?})", path.display());
            tally.saved.push(path);
        }
        Err(e) => eprintln!("find-crashers: could not save {}: {e}", path.display()),
    }
}

/// What ended a worker, from its last stderr lines.
fn abort_cause(detail: &str) -> &'static str {
    if detail.contains("memory allocation") {
        "-by-alloc"
    } else if detail.contains("panic in a destructor") || detail.contains("while processing panic")
    {
        "-by-double-panic"
    } else if detail.contains("panicked") {
        "-by-panic"
    } else {
        "-by-other"
    }
}

fn report(tally: &Tally, elapsed: f64, run_seed: u64) {
    let total: u64 = tally.by_class.values().sum();
    let rate = total as f64 / elapsed.max(1e-9);
    println!("find-crashers: {total} cases in {elapsed:.1} s ({rate:.1}/s), run seed {run_seed}");
    println!(
        "{:<10} {:>8} {:>10} {:>10}  by stage",
        "class", "count", "per 1000", "as update"
    );
    for (class, count) in &tally.by_class {
        let stages: Vec<String> = tally
            .by_stage
            .iter()
            .filter(|((c, _), _)| c == class)
            .map(|((_, stage), n)| format!("{stage} {n}"))
            .collect();
        println!(
            "{class:<10} {count:>8} {:>10.2} {:>10}  {}",
            *count as f64 * 1000.0 / total.max(1) as f64,
            tally.as_update.get(class).copied().unwrap_or(0),
            stages.join(", ")
        );
    }
    for path in &tally.saved {
        println!("saved {}", path.display());
    }
}

fn replay(seeds: &[seeds::Seed], files: &[PathBuf]) -> ExitCode {
    let mut oracle = match Oracle::current_exe() {
        Ok(oracle) => oracle,
        Err(e) => {
            eprintln!("find-crashers: {e}");
            return ExitCode::FAILURE;
        }
    };
    for file in files {
        let verdict = std::fs::read(file).and_then(|data| {
            let case = cases::from_fuzz_input(seeds, &data);
            oracle.classify(&case.bases(), &case.input)
        });
        match verdict {
            Ok(verdict) => println!("{}: {verdict:?}", file.display()),
            Err(e) => println!("{}: cannot replay: {e}", file.display()),
        }
    }
    ExitCode::SUCCESS
}

fn write_corpus(seeds: &[seeds::Seed], dir: &std::path::Path) -> ExitCode {
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        for index in 0..seeds.len() {
            if let Some(entry) = cases::raw_corpus_entry(seeds, index) {
                std::fs::write(dir.join(format!("seed-{index:02}")), entry)?;
            }
        }
        Ok(())
    });
    match written {
        Ok(()) => {
            println!("wrote {} corpus entries to {}", seeds.len(), dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("find-crashers: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
