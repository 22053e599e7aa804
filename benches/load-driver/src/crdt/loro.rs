//! Loro: authoring per-transaction updates and the clients' replicas.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use loro::{ExportMode, LoroDoc, LoroText, VersionVector};

use super::{Author, Authored, Coverage, Marker, TEXT};
use crate::trace::Patch;

/// One author's LoroDoc, with a fixed peer id.
#[derive(Debug)]
pub(crate) struct LoroAuthor {
    doc: LoroDoc,
    text: LoroText,
    peer: u64,
}

impl LoroAuthor {
    /// An empty document whose ops carry `peer`.
    pub(crate) fn new(peer: u64) -> Result<Self> {
        let doc = LoroDoc::new();
        doc.set_peer_id(peer)
            .context("setting the author's peer id")?;
        let text = doc.get_text(TEXT);
        Ok(Self { doc, text, peer })
    }
}

impl Author for LoroAuthor {
    fn import(&mut self, update: &[u8]) -> Result<()> {
        let status = self.doc.import(update).context("author import")?;
        if status.pending.is_some() {
            // The builder imports parents first; a pending import means it did not.
            bail!("author import left changes pending: causal order broken");
        }
        Ok(())
    }

    fn apply(&mut self, patches: &[Patch]) -> Result<Option<Authored>> {
        let before = self.doc.oplog_vv();
        for p in patches {
            let len = self.text.len_unicode();
            if p.pos + p.delete > len {
                bail!(
                    "patch at {} deleting {} is past the end of the text ({len} chars)",
                    p.pos,
                    p.delete
                );
            }
            if p.delete > 0 {
                self.text.delete(p.pos, p.delete)?;
            }
            if !p.insert.is_empty() {
                self.text.insert(p.pos, &p.insert)?;
            }
        }
        self.doc.commit();
        let after = self.doc.oplog_vv();
        let start = counter(&before, self.peer);
        let end = counter(&after, self.peer);
        if end == start {
            return Ok(None);
        }
        let update = self
            .doc
            .export(ExportMode::updates(&before))
            .context("exporting a transaction")?;
        Ok(Some(Authored {
            update,
            marker: Marker::Op {
                peer: self.peer,
                counter: end - 1,
            },
            key: end - 1,
        }))
    }

    fn text(&self) -> String {
        self.text.to_string()
    }
}

/// A client's LoroDoc and its version vector as of the last import.
#[derive(Debug)]
pub(crate) struct LoroReplica {
    doc: LoroDoc,
    vv: VersionVector,
}

impl LoroReplica {
    /// An empty replica. Its peer id never shows: receivers do not edit.
    pub(crate) fn new() -> Self {
        let doc = LoroDoc::new();
        let vv = doc.oplog_vv();
        Self { doc, vv }
    }

    /// Imports an update; its coverage comes from the blob's header (which ops it holds).
    pub(crate) fn import(&mut self, update: &[u8]) -> Result<Coverage> {
        let meta = LoroDoc::decode_import_blob_meta(update, false)
            .context("decoding a Loro update's header")?;
        let status = self.doc.import(update).context("importing a Loro update")?;
        let changed = status.success.iter().next().is_some() || status.pending.is_some();
        if changed {
            self.vv = self.doc.oplog_vv();
        }
        let ranges = meta
            .partial_end_vv
            .iter()
            .filter_map(|(&peer, &end)| {
                let start = meta.partial_start_vv.get(&peer).copied().unwrap_or(0);
                let (start, end) = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
                (end > start).then_some((peer, start, end))
            })
            .collect();
        Ok(Coverage { ranges, changed })
    }

    /// Whether the version vector covers the marker's op.
    pub(crate) fn has(&self, marker: &Marker) -> bool {
        match *marker {
            Marker::Op { peer, counter: c } => counter(&self.vv, peer) > c,
            Marker::Deleted { .. } => false,
        }
    }

    /// The version to send in a JoinRequest.
    pub(crate) fn version(&self) -> Vec<u8> {
        self.vv.encode()
    }

    /// The text.
    pub(crate) fn text(&self) -> String {
        self.doc.get_text(TEXT).to_string()
    }
}

/// `vv[peer]` as u32 (counters are never negative).
fn counter(vv: &VersionVector, peer: u64) -> u32 {
    vv.get(&peer)
        .and_then(|&c| u32::try_from(c).ok())
        .unwrap_or(0)
}

/// Imports `updates` one by one into a fresh LoroDoc: the raw merge rate the server's
/// ingest is compared with. Returns the time and the final text.
pub(crate) fn raw_import(updates: &[&[u8]]) -> Result<(Duration, String)> {
    let doc = LoroDoc::new();
    let start = Instant::now();
    for update in updates {
        doc.import(update).context("raw import")?;
    }
    let elapsed = start.elapsed();
    Ok((elapsed, doc.get_text(TEXT).to_string()))
}
