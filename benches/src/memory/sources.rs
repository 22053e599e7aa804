//! The small code files of the memory benchmark: the repository's own sources, so the
//! benchmark needs no traces.

use std::path::{Path, PathBuf};

use loro::{ExportMode, LoroDoc};

use crate::error::Result;

/// Directories never searched: dependencies and build output, not sources.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "dist", ".git"];

/// Every `*.rs` and `*.js` file under `<repo>/crates` and `<repo>/examples`, sorted.
pub fn code_files(repo: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for top in ["crates", "examples"] {
        collect(&repo.join(top), &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name) {
                collect(&path, files)?;
            }
        } else if name.ends_with(".rs") || name.ends_with(".js") {
            files.push(path);
        }
    }
    Ok(())
}

/// A compacted session holding `text`: the snapshot of a document whose `content` text is
/// `text`, as the hub's compaction would store it.
pub fn snapshot_of_text(text: &str) -> Result<Vec<u8>> {
    let doc = LoroDoc::new();
    doc.set_peer_id(1)?;
    // Browsers send LF only; normalise so the content matches what a session would hold.
    doc.get_text("content")
        .insert(0, &text.replace("\r\n", "\n"))?;
    doc.commit();
    Ok(doc.export(ExportMode::Snapshot)?)
}
