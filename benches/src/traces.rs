//! Reading the editing traces and turning them into per-keystroke Loro updates.
//!
//! The traces (`josephg/editing-traces`, CC BY 4.0: Joseph Gentle and the trace authors)
//! live outside the repository; point `CODESYNC_TRACES_DIR` at the directory holding
//! `sequential/` and `concurrent/`. Without it, benchmarks fall back to synthetic typing
//! and say so.

use std::path::{Path, PathBuf};

use loro::{ExportMode, LoroDoc, VersionVector};
use serde::Deserialize;

/// The environment variable naming the traces directory.
pub const TRACES_ENV: &str = "CODESYNC_TRACES_DIR";

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be opened or decompressed.
    #[error("reading {path}: {source}")]
    Io {
        /// The trace file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a trace in the sequential format.
    #[error("parsing {path}: {source}")]
    Parse {
        /// The trace file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// One edit: at `pos` (in characters), delete `delete` characters, then insert `insert`.
#[derive(Debug, Clone, Deserialize)]
pub struct Patch(pub usize, pub usize, pub String);

#[derive(Debug, Deserialize)]
struct Txn {
    patches: Vec<Patch>,
}

/// A sequential editing trace.
#[derive(Debug, Deserialize)]
pub struct SequentialTrace {
    /// The text before the first edit.
    #[serde(rename = "startContent")]
    pub start_content: String,
    /// The text after the last edit: replaying every patch must give exactly this.
    #[serde(rename = "endContent")]
    pub end_content: String,
    txns: Vec<Txn>,
}

impl SequentialTrace {
    /// Reads a `.json.gz` sequential trace.
    pub fn read(path: &Path) -> Result<Self, TraceError> {
        let file = std::fs::File::open(path).map_err(|source| TraceError::Io {
            path: path.to_owned(),
            source,
        })?;
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        serde_json::from_reader(reader).map_err(|source| TraceError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Every patch, in order.
    pub fn patches(&self) -> impl Iterator<Item = &Patch> {
        self.txns.iter().flat_map(|t| t.patches.iter())
    }
}

/// The traces directory from `CODESYNC_TRACES_DIR`, if set.
pub fn traces_dir() -> Option<PathBuf> {
    std::env::var_os(TRACES_ENV).map(PathBuf::from)
}

/// Credit owed whenever figures measured on the traces are shown.
pub const TRACE_CREDIT: &str = "editing traces by Joseph Gentle and the trace authors, CC BY 4.0";

/// Per-keystroke updates and where they came from.
#[derive(Debug, Clone)]
pub struct Keystrokes {
    /// One Loro update per edit, in order; each depends on the ones before it.
    pub updates: Vec<Vec<u8>>,
    /// A description of the source, for the report.
    pub source: String,
    /// Whether they come from a real trace (and so need [`TRACE_CREDIT`]).
    pub from_trace: bool,
}

/// Per-keystroke Loro updates: the first `limit` patches of the `sequential/<name>` trace
/// when the traces are available, otherwise synthetic typing of a Rust file. Returns the
/// updates and a description of their source, for the report.
pub fn keystroke_updates(name: &str, limit: usize) -> (Vec<Vec<u8>>, String) {
    let k = keystrokes(name, limit);
    (k.updates, k.source)
}

/// Like [`keystroke_updates`], also saying whether a real trace was used.
pub fn keystrokes(name: &str, limit: usize) -> Keystrokes {
    let doc = LoroDoc::new();
    // Peer ids are irrelevant to storage benchmarks; fix one so runs are comparable.
    let _ = doc.set_peer_id(1);
    let text = doc.get_text("content");
    let mut sent = VersionVector::default();
    let mut updates = Vec::with_capacity(limit);
    let mut emit = |doc: &LoroDoc| {
        if let Ok(update) = doc.export(ExportMode::updates(&sent)) {
            updates.push(update);
        }
        sent = doc.oplog_vv();
    };
    let trace = traces_dir().map(|dir| dir.join("sequential").join(format!("{name}.json.gz")));
    match trace.as_deref().map(SequentialTrace::read) {
        Some(Ok(trace)) => {
            for Patch(pos, delete, insert) in trace.patches().take(limit) {
                if *delete > 0 {
                    let _ = text.delete(*pos, *delete);
                }
                if !insert.is_empty() {
                    let _ = text.insert(*pos, insert);
                }
                emit(&doc);
            }
            let source = format!("the first {} edits of the {name} trace", updates.len());
            Keystrokes {
                updates,
                source,
                from_trace: true,
            }
        }
        other => {
            if let Some(Err(e)) = other {
                eprintln!("could not read the trace ({e}); using synthetic typing");
            }
            let line = "    let total: u64 = items.iter().map(|i| i.price).sum();\n";
            for ch in line.chars().cycle().take(limit) {
                let _ = text.insert(text.len_unicode(), &ch.to_string());
                emit(&doc);
            }
            Keystrokes {
                updates,
                source: format!(
                    "{limit} synthetic keystrokes instead of the {name} trace \
                     (set {TRACES_ENV} for real traces)"
                ),
                from_trace: false,
            }
        }
    }
}
