//! A small reader of the sequential editing traces (`josephg/editing-traces`, CC BY 4.0:
//! Joseph Gentle and the trace authors), for checking that real editing is never refused.
//! The traces live outside the repository: `CODESYNC_TRACES_DIR` names the directory
//! holding `sequential/`.

use std::io;
use std::path::{Path, PathBuf};

use loro::{ExportMode, LoroDoc, VersionVector};
use serde::Deserialize;

/// The environment variable naming the traces directory.
pub const TRACES_ENV: &str = "CODESYNC_TRACES_DIR";

/// One edit: at `pos` (characters), delete `delete` characters, then insert `insert`.
#[derive(Debug, Clone, Deserialize)]
pub struct Patch(pub usize, pub usize, pub String);

/// One transaction: the patches made at once.
#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    /// Its patches, in order.
    pub patches: Vec<Patch>,
}

/// A sequential trace: one author, transactions in order.
#[derive(Debug, Clone, Deserialize)]
pub struct SequentialTrace {
    /// The text before the first transaction.
    #[serde(rename = "startContent")]
    pub start_content: String,
    /// The text after the last one.
    #[serde(rename = "endContent")]
    pub end_content: String,
    /// The transactions.
    pub txns: Vec<Transaction>,
}

impl SequentialTrace {
    /// Reads a `.json.gz` trace.
    pub fn read(path: &Path) -> io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let reader = io::BufReader::new(flate2::read::GzDecoder::new(file));
        serde_json::from_reader(reader).map_err(io::Error::other)
    }

    /// `sequential/<name>.json.gz` under the directory `CODESYNC_TRACES_DIR` names;
    /// `None` when the variable is not set.
    pub fn path_of(name: &str) -> Option<PathBuf> {
        let dir = std::env::var_os(TRACES_ENV)?;
        Some(
            PathBuf::from(dir)
                .join("sequential")
                .join(format!("{name}.json.gz")),
        )
    }

    /// One Loro update per transaction (the first `limit`), as `peer` typing into the
    /// `content` text, and the text they give. With every transaction the text is
    /// `end_content`.
    pub fn updates(&self, peer: u64, limit: usize) -> Result<(Vec<Vec<u8>>, String), String> {
        let doc = LoroDoc::new();
        doc.set_peer_id(peer).map_err(|e| e.to_string())?;
        let text = doc.get_text("content");
        let mut sent = VersionVector::default();
        let mut updates = Vec::new();
        if !self.start_content.is_empty() {
            text.insert(0, &self.start_content)
                .map_err(|e| e.to_string())?;
        }
        for txn in self.txns.iter().take(limit) {
            for Patch(pos, delete, insert) in &txn.patches {
                if *delete > 0 {
                    text.delete(*pos, *delete).map_err(|e| e.to_string())?;
                }
                if !insert.is_empty() {
                    text.insert(*pos, insert).map_err(|e| e.to_string())?;
                }
            }
            doc.commit();
            if doc.oplog_vv() != sent {
                updates.push(
                    doc.export(ExportMode::updates(&sent))
                        .map_err(|e| e.to_string())?,
                );
                sent = doc.oplog_vv();
            }
        }
        Ok((updates, text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_trace_replays_to_its_end_content() {
        let json = r#"{"startContent":"ab","endContent":"xaYb!","txns":[
            {"time":"t","patches":[[0,0,"x"],[2,0,"Y"]]},
            {"time":"t","patches":[[4,0,"!"]]},
            {"time":"t","patches":[[4,1,"?"],[4,1,"!"]]}]}"#;
        let dir = std::env::temp_dir().join(format!("codesync-fuzz-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tiny.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(json.as_bytes()).expect("gzip");
        std::fs::write(&path, gz.finish().expect("gzip")).expect("write");

        let trace = SequentialTrace::read(&path).expect("read");
        let (updates, text) = trace.updates(3, usize::MAX).expect("replay");
        assert_eq!(text, trace.end_content);
        assert_eq!(updates.len(), 3, "one update per transaction");
        let (first_two, _) = trace.updates(3, 2).expect("replay");
        assert_eq!(first_two.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
