//! The oracle classifies what the known crashers and real exports do, in worker processes
//! (the `find-crashers` binary, run again as a worker), without ending this process.

use codesync_fuzz::crashers::{self, CRASHERS};
use codesync_fuzz::ingest::Stage;
use codesync_fuzz::oracle::{Oracle, Verdict};
use codesync_fuzz::{cases, seeds, SeedKind};

fn oracle() -> Oracle {
    Oracle::new(env!("CARGO_BIN_EXE_find-crashers"), Vec::new())
}

#[test]
fn the_known_crashers_are_classified() {
    let mut oracle = oracle();
    for crasher in [crashers::ALLOC_ABORT_A, crashers::ALLOC_ABORT_B] {
        let verdict = oracle.classify(&[], crasher.bytes).expect("oracle");
        assert!(
            matches!(&verdict, Verdict::Aborted { stage: Some(Stage::Import), status, detail }
                if status.contains("signal 6") && detail.contains("memory allocation")),
            "{}: {verdict:?}",
            crasher.name
        );
    }
    // Fatal only to a process that drops the poisoned document; leaked, it is a panic.
    let verdict = oracle
        .classify(&[], crashers::IMPORT_PANIC_THEN_ABORT.bytes)
        .expect("oracle");
    assert!(
        matches!(
            verdict,
            Verdict::Panicked {
                stage: Stage::Import,
                ..
            }
        ),
        "{verdict:?}"
    );
    let verdict = oracle
        .classify(&[], crashers::ACCEPTED_THEN_ABORT_ON_RELOAD.bytes)
        .expect("oracle");
    assert!(
        matches!(
            verdict,
            Verdict::Panicked {
                stage: Stage::ReadReloaded,
                ..
            }
        ),
        "accepted, then the reload panics: {verdict:?}"
    );
    assert_eq!(CRASHERS.len(), 4);
}

#[test]
fn real_exports_are_ok_and_garbage_is_refused_by_the_same_worker() {
    let mut oracle = oracle();
    for seed in seeds().iter().filter(|s| s.kind == SeedKind::Updates) {
        let bases: Vec<&[u8]> = [&seed.base[..]]
            .into_iter()
            .filter(|b| !b.is_empty())
            .collect();
        let verdict = oracle.classify(&bases, &seed.bytes).expect("oracle");
        assert!(
            matches!(verdict, Verdict::Ok { .. }),
            "{}: {verdict:?}",
            seed.name
        );
    }
    let mut garbage = seeds()[0].bytes.clone();
    garbage.truncate(30);
    codesync_fuzz::fix_checksum(&mut garbage);
    let verdict = oracle.classify(&[], &garbage).expect("oracle");
    assert!(
        matches!(
            verdict,
            Verdict::Refused {
                stage: Stage::Import,
                ..
            }
        ),
        "{verdict:?}"
    );
}

#[test]
fn the_text_of_the_reloaded_document_is_reported() {
    let (updates, text) = codesync_fuzz::valid::typing_history(9, 200);
    let (last, bases) = updates.split_last().expect("typing");
    let bases: Vec<&[u8]> = bases.iter().map(Vec::as_slice).collect();
    let verdict = oracle().classify(&bases, last).expect("oracle");
    assert_eq!(verdict, Verdict::Ok { text });
}

/// What `find-crashers` saved still does what its name says (loro is pinned: a change
/// here means loro's behaviour changed).
#[test]
fn saved_finds_reproduce() {
    let found = crashers::found().expect("data/found");
    assert!(found.len() >= 2, "{} saved finds", found.len());
    let mut oracle = oracle();
    for find in &found {
        let bases: Vec<&[u8]> = [&find.base[..]]
            .into_iter()
            .filter(|b| !b.is_empty())
            .collect();
        let verdict = oracle.classify(&bases, &find.input).expect("oracle");
        let stage = verdict.stage().map_or("none", |s| s.name());
        let prefix = format!("{}-{stage}-", verdict.class());
        // Debug builds check overflows that release builds (where these were found) do
        // not: a release-build abort may be an earlier panic here.
        let relaxed = find.name.starts_with("aborted") && verdict.class() == "panicked";
        assert!(
            find.name.starts_with(&prefix) || relaxed,
            "{}: now {verdict:?}",
            find.name
        );
    }
}

/// A bounded search finds more than the four known inputs: within 3,000 generated cases
/// there are panics (a fixed run seed, so the same cases every time).
#[test]
fn a_bounded_search_finds_panics() {
    let seeds = seeds();
    let mut oracle = oracle();
    let mut classes = std::collections::BTreeMap::<&str, usize>::new();
    for index in 0..3_000 {
        let case = cases::generate(&seeds, 1, index);
        let verdict = oracle.classify(&case.bases(), &case.input).expect("oracle");
        *classes.entry(verdict.class()).or_default() += 1;
    }
    assert!(
        classes.get("panicked").copied().unwrap_or(0) > 0,
        "{classes:?}"
    );
    assert!(classes.get("ok").copied().unwrap_or(0) > 0, "{classes:?}");
    assert!(
        classes.get("refused").copied().unwrap_or(0) > 2_000,
        "{classes:?}"
    );
}
