//! Real Loro exports to mutate, built in code (no files to keep in sync with loro).
//!
//! Each seed document (one per container type, and one nesting them) gives six seeds: the full history as an updates blob,
//! the incremental updates of each of two peers and of both merged (each with the `base`
//! it was made on), a full snapshot and a state-only (shallow) snapshot.

mod documents;

use loro::{ExportMode, LoroDoc};

pub(crate) use documents::SCRIPTS;

/// What kind of blob a seed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedKind {
    /// An updates blob: what a peer sends a server.
    Updates,
    /// A snapshot: servers refuse them from peers, but loro decodes them with other code.
    Snapshot,
}

/// One real export and the state it applies to.
#[derive(Debug, Clone)]
pub struct Seed {
    /// `document/export`, for example `tree/updates-peer2`.
    pub name: String,
    /// Updates or snapshot.
    pub kind: SeedKind,
    /// An updates blob that builds the state `bytes` was exported on top of: import it
    /// first (a server applies a peer's update to the document it already holds). Empty
    /// when `bytes` applies to an empty document.
    pub base: Vec<u8>,
    /// The export itself.
    pub bytes: Vec<u8>,
}

/// Every seed: six exports of each document (text with unicode and marks, list, map, tree,
/// movable list, counter, and one nesting them all). Deterministic: peers 1 and 2, no
/// timestamps, so the same bytes on every run.
pub fn seeds() -> Vec<Seed> {
    SCRIPTS
        .iter()
        .flat_map(|script| {
            export_all(script).unwrap_or_else(|e| {
                // The scripts are fixed code: an error is a bug in them, not in the input.
                panic!("building the {} seed document: {e}", script.name)
            })
        })
        .collect()
}

/// The six exports of one script.
fn export_all(script: &documents::Script) -> Result<Vec<Seed>, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let one = LoroDoc::new();
    one.set_peer_id(1).map_err(|e| err(&e))?;
    (script.base)(&one).map_err(|e| err(&e))?;
    one.commit();
    let base = one.export(ExportMode::all_updates()).map_err(|e| err(&e))?;
    let base_version = one.oplog_vv();

    let two = LoroDoc::new();
    two.set_peer_id(2).map_err(|e| err(&e))?;
    two.import(&base).map_err(|e| err(&e))?;
    (script.edit)(&one, 1).map_err(|e| err(&e))?;
    (script.edit)(&two, 2).map_err(|e| err(&e))?;
    let since_base = ExportMode::updates(&base_version);
    let from_one = one.export(since_base.clone()).map_err(|e| err(&e))?;
    let from_two = two.export(since_base.clone()).map_err(|e| err(&e))?;
    one.import(&from_two).map_err(|e| err(&e))?;
    let both = one.export(since_base).map_err(|e| err(&e))?;
    let full = one.export(ExportMode::all_updates()).map_err(|e| err(&e))?;
    let snapshot = one.export(ExportMode::Snapshot).map_err(|e| err(&e))?;
    let state_only = one
        .export(ExportMode::StateOnly(None))
        .map_err(|e| err(&e))?;

    let seed = |export: &str, kind, base: &[u8], bytes| Seed {
        name: format!("{}/{export}", script.name),
        kind,
        base: base.to_vec(),
        bytes,
    };
    Ok(vec![
        seed("updates-full", SeedKind::Updates, &[], full),
        seed("updates-peer1", SeedKind::Updates, &base, from_one),
        seed("updates-peer2", SeedKind::Updates, &base, from_two),
        seed("updates-merged", SeedKind::Updates, &base, both),
        seed("snapshot", SeedKind::Snapshot, &[], snapshot),
        seed("snapshot-state-only", SeedKind::Snapshot, &[], state_only),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_imports_over_its_base_and_matches_the_merged_document() {
        let all = seeds();
        assert_eq!(all.len(), SCRIPTS.len() * 6);
        for seed in &all {
            let doc = LoroDoc::new();
            if !seed.base.is_empty() {
                doc.import(&seed.base).expect("base");
            }
            let status = doc.import(&seed.bytes).expect(&seed.name);
            assert!(status.pending.is_none(), "{}: nothing pending", seed.name);
            let header_mode = crate::header::mode(&seed.bytes);
            let expected = match seed.kind {
                SeedKind::Updates => crate::header::UPDATES_MODE,
                SeedKind::Snapshot => crate::header::SNAPSHOT_MODE,
            };
            assert_eq!(header_mode, Some(expected), "{}", seed.name);
        }
        // The full exports of a document agree with each other.
        for script in SCRIPTS {
            let values: Vec<_> = all
                .iter()
                .filter(|s| s.name.starts_with(&format!("{}/", script.name)) && s.base.is_empty())
                .map(|s| {
                    let doc = LoroDoc::new();
                    doc.import(&s.bytes).expect("import");
                    doc.get_deep_value()
                })
                .collect();
            assert_eq!(values.len(), 3);
            assert!(values.windows(2).all(|w| w[0] == w[1]), "{}", script.name);
        }
    }

    #[test]
    fn seeds_are_the_same_on_every_run() {
        let a: Vec<_> = seeds().into_iter().map(|s| s.bytes).collect();
        let b: Vec<_> = seeds().into_iter().map(|s| s.bytes).collect();
        assert_eq!(a, b);
    }
}
