//! The memory benchmark: resident memory per live session against a `LoroDoc` freshly
//! loaded from the same snapshot.
//!
//! Each case runs in a process of its own (the `memory` binary re-executes itself), so
//! every measurement starts from a clean heap; the parent prepares the inputs as files.

mod blobs;
mod cases;
mod discard;
mod sources;

use std::path::Path;

use codesync_core::SessionConfig;

pub use blobs::{read_blobs, write_blobs};
pub use cases::{measure, Sample};
pub use discard::DiscardStorage;
pub use sources::{code_files, snapshot_of_text};

use crate::error::{BenchError, Result};
use crate::traces::Keystrokes;

/// Input file: the distinct snapshots of the small code files.
pub const SMALL_SNAPSHOTS: &str = "small-snapshots.bin";
/// Input file: the per-keystroke updates of one long-history session.
pub const LONG_UPDATES: &str = "long-updates.bin";
/// Input file: the snapshot of the document those updates build.
pub const LONG_SNAPSHOT: &str = "long-snapshot.bin";
/// Input file: the snapshot a session with the shipped compaction made last, and the
/// updates it merged since.
pub const LONG_LAST_COMPACTION: &str = "long-last-compaction.bin";

/// What one measuring process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Sessions of small code files, loaded by a hub from their snapshots.
    SmallHub,
    /// Baseline: bare `LoroDoc`s importing the same snapshots.
    SmallLoro,
    /// Reference: the same, each read once (Loro decodes snapshots lazily; the hub reads
    /// every document when it loads it, to measure its size).
    SmallLoroRead,
    /// Reference: only the event channel a session allocates when it loads (a tokio
    /// broadcast channel of `SessionConfig::event_capacity` slots), to see its share.
    EventChannelOnly,
    /// Long-history sessions typed one keystroke at a time, with the shipped compaction.
    LongHubCompaction,
    /// The same without compaction.
    LongHubNoCompaction,
    /// Baseline: bare `LoroDoc`s importing the final snapshot.
    LongLoroSnapshot,
    /// Reference: bare `LoroDoc`s importing every keystroke update.
    LongLoroUpdates,
    /// Reference: what a compacted session holds, bare: a `LoroDoc` loaded from the
    /// snapshot of the last compaction, then importing the updates since, one at a time.
    LongLoroSnapshotPlusTail,
}

impl Case {
    /// Every case, in report order.
    pub const ALL: [Case; 9] = [
        Case::SmallHub,
        Case::SmallLoro,
        Case::SmallLoroRead,
        Case::EventChannelOnly,
        Case::LongHubCompaction,
        Case::LongHubNoCompaction,
        Case::LongLoroSnapshot,
        Case::LongLoroUpdates,
        Case::LongLoroSnapshotPlusTail,
    ];

    /// The case's name, on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Case::SmallHub => "small_hub",
            Case::SmallLoro => "small_loro_from_snapshot",
            Case::SmallLoroRead => "small_loro_from_snapshot_read",
            Case::EventChannelOnly => "event_channel_only",
            Case::LongHubCompaction => "long_hub_compaction",
            Case::LongHubNoCompaction => "long_hub_no_compaction",
            Case::LongLoroSnapshot => "long_loro_from_snapshot",
            Case::LongLoroUpdates => "long_loro_from_updates",
            Case::LongLoroSnapshotPlusTail => "long_loro_from_last_compaction_plus_tail",
        }
    }

    /// The case named `name`.
    pub fn parse(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The baseline this case is compared with.
    pub fn baseline(self) -> Case {
        match self {
            Case::SmallHub | Case::SmallLoro | Case::SmallLoroRead | Case::EventChannelOnly => {
                Case::SmallLoro
            }
            _ => Case::LongLoroSnapshot,
        }
    }

    /// Whether this is a small-files case (else a long-history one).
    pub fn is_small(self) -> bool {
        self.baseline() == Case::SmallLoro
    }
}

/// This process's resident set size (`VmRSS` of `/proc/self/status`), in bytes.
pub fn rss_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| BenchError::Unexpected("no VmRSS in /proc/self/status".to_owned()))
}

/// Writes every input file into `dir`: snapshots of the code files under `repo`, and the
/// long-history updates with the snapshot they build. Returns how many code files.
pub fn prepare(dir: &Path, repo: &Path, long: &Keystrokes) -> Result<usize> {
    let files = code_files(repo)?;
    if files.is_empty() {
        return Err(BenchError::Unexpected(format!(
            "no *.rs or *.js files under {}",
            repo.display()
        )));
    }
    let snapshots = files
        .iter()
        .map(|path| snapshot_of_text(&std::fs::read_to_string(path)?))
        .collect::<Result<Vec<_>>>()?;
    write_blobs(&dir.join(SMALL_SNAPSHOTS), &snapshots)?;
    write_blobs(&dir.join(LONG_UPDATES), &long.updates)?;
    let snapshot = crate::stored::snapshot_of(&long.updates)?;
    write_blobs(&dir.join(LONG_SNAPSHOT), &[snapshot])?;
    // A session compacts once `compact_after_updates` appends have accumulated (the byte
    // threshold is far off for keystrokes), so the last compaction covered a multiple of it.
    let every = SessionConfig::default().compact_after_updates.max(1);
    let covered = long.updates.len() / every * every;
    let mut last = vec![crate::stored::snapshot_of(&long.updates[..covered])?];
    last.extend_from_slice(&long.updates[covered..]);
    write_blobs(&dir.join(LONG_LAST_COMPACTION), &last)?;
    Ok(files.len())
}
