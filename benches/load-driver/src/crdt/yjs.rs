//! Yjs (through `yrs`): authoring per-transaction updates and the clients' replicas.
//!
//! Trace positions are Unicode code points; `yrs` counts UTF-16 units (or bytes). The two
//! agree for every character of the Basic Multilingual Plane, so positions are converted
//! through the text only when the trace inserts a character outside it (none of the
//! published traces does; the driver says so when it happens, since it is slow).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use yrs::updates::decoder::Decode;
use yrs::{
    ClientID, Doc, GetString, IdSet, OffsetKind, Options, ReadTxn, StateVector, Text, TextRef,
    Transact, Update, ID,
};

use super::{Author, Authored, Coverage, Marker, TEXT};
use crate::trace::Patch;

/// A Yjs document whose text counts UTF-16 units, like Yjs in a browser.
fn new_doc(client: u64) -> (Doc, TextRef) {
    let mut options = Options::with_client_id(ClientID::new(client));
    options.offset_kind = OffsetKind::Utf16;
    let doc = Doc::with_options(options);
    let text = doc.get_or_insert_text(TEXT);
    (doc, text)
}

/// One author's Yjs document, with a fixed client id.
#[derive(Debug)]
pub(crate) struct YjsAuthor {
    doc: Doc,
    text: TextRef,
    client: u64,
    /// Convert code points to UTF-16 through the text (the trace has astral characters).
    convert: bool,
}

impl YjsAuthor {
    /// An empty document whose items carry `client` (below 2^53, as Yjs requires).
    pub(crate) fn new(client: u64, convert: bool) -> Result<Self> {
        if client >= 1 << 53 {
            bail!("Yjs client id {client} is over 53 bits");
        }
        let (doc, text) = new_doc(client);
        Ok(Self {
            doc,
            text,
            client,
            convert,
        })
    }
}

impl Author for YjsAuthor {
    fn import(&mut self, update: &[u8]) -> Result<()> {
        let update = Update::decode_v1(update).context("decoding an author's update")?;
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update).context("author apply")?;
        if ReadTxn::store(&txn).pending_update().is_some() {
            bail!("author import left changes pending: causal order broken");
        }
        Ok(())
    }

    fn apply(&mut self, patches: &[Patch]) -> Result<Option<Authored>> {
        let mut txn = self.doc.transact_mut();
        for p in patches {
            let (pos, delete) = if self.convert {
                let s = self.text.get_string(&txn);
                let start = utf16_offset(&s, p.pos);
                let end = utf16_offset(&s, p.pos + p.delete);
                match (start, end) {
                    (Some(start), Some(end)) => (start, end - start),
                    _ => bail!("patch at {} deleting {} is past the end", p.pos, p.delete),
                }
            } else {
                (p.pos, p.delete)
            };
            let len = self.text.len(&txn) as usize;
            if pos + delete > len {
                bail!("patch at {pos} deleting {delete} is past the end of the text ({len} units)");
            }
            let (pos, delete) = (u32::try_from(pos)?, u32::try_from(delete)?);
            if delete > 0 {
                self.text.remove_range(&mut txn, pos, delete);
            }
            if !p.insert.is_empty() {
                self.text.insert(&mut txn, pos, &p.insert);
            }
        }
        let client = ClientID::new(self.client);
        let before = txn.before_state().get(&client);
        let after = txn.after_state().get(&client);
        let marker = if after > before {
            Marker::Op {
                peer: self.client,
                counter: after - 1,
            }
        } else if let Some((peer, ranges)) = txn.delete_set().iter().next() {
            let Some(range) = ranges.iter().next() else {
                return Ok(None);
            };
            Marker::Deleted {
                peer: peer.get(),
                counter: range.start,
            }
        } else {
            return Ok(None);
        };
        let update = txn.encode_update_v1();
        // A delete-only transaction sorts after the author's ops so far.
        let key = after.saturating_sub(1);
        Ok(Some(Authored {
            update,
            marker,
            key,
        }))
    }

    fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }
}

/// The UTF-16 offset of code point `cp` in `s`, or `None` past the end.
pub(crate) fn utf16_offset(s: &str, cp: usize) -> Option<usize> {
    let mut units = 0;
    let mut chars = s.chars();
    for _ in 0..cp {
        units += chars.next()?.len_utf16();
    }
    Some(units)
}

/// A client's Yjs document, its state vector as of the last import, and the item ids that
/// received updates deleted (how delete-only transactions are recognised).
#[derive(Debug)]
pub(crate) struct YjsReplica {
    doc: Doc,
    text: TextRef,
    sv: StateVector,
    deleted: IdSet,
}

impl YjsReplica {
    /// An empty replica. Its client id never shows: receivers do not edit.
    pub(crate) fn new() -> Self {
        let (doc, text) = new_doc(ClientID::random().get());
        Self {
            doc,
            text,
            sv: StateVector::default(),
            deleted: IdSet::default(),
        }
    }

    /// Applies an update; its coverage is the ids of the items it inserts.
    pub(crate) fn import(&mut self, bytes: &[u8]) -> Result<Coverage> {
        let update = Update::decode_v1(bytes).context("decoding a Yjs update")?;
        let mut ranges = Vec::new();
        for (client, clocks) in update.insertions(true).iter() {
            for r in clocks.iter() {
                ranges.push((client.get(), r.start, r.end));
            }
        }
        let deletes = update.delete_set().clone();
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update).context("applying a Yjs update")?;
        let changed = txn.has_changes() || ReadTxn::store(&txn).pending_update().is_some();
        if changed {
            self.sv = txn.state_vector();
        }
        drop(txn);
        if !deletes.is_empty() {
            self.deleted.merge_with(deletes);
        }
        Ok(Coverage { ranges, changed })
    }

    /// Whether the state vector covers the op, or a received update deleted the item.
    pub(crate) fn has(&self, marker: &Marker) -> bool {
        match *marker {
            Marker::Op { peer, counter } => self.sv.get(&ClientID::new(peer)) > counter,
            Marker::Deleted { peer, counter } => self
                .deleted
                .contains(&ID::new(ClientID::new(peer), counter)),
        }
    }

    /// The state vector, for sync step 1.
    pub(crate) fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    /// What a peer at `remote` lacks, for sync step 2.
    pub(crate) fn diff(&self, remote: &StateVector) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(remote)
    }

    /// The text.
    pub(crate) fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }
}

/// Applies `updates` one by one to a fresh Yjs document: the raw merge rate for the Yjs
/// peers. Returns the time (decoding included: a server decodes too) and the final text.
pub(crate) fn raw_apply(updates: &[&[u8]]) -> Result<(Duration, String)> {
    let (doc, text) = new_doc(1 << 40);
    let start = Instant::now();
    for bytes in updates {
        let update = Update::decode_v1(bytes).context("raw apply: decoding")?;
        doc.transact_mut()
            .apply_update(update)
            .context("raw apply")?;
    }
    let elapsed = start.elapsed();
    let out = text.get_string(&doc.transact());
    Ok((elapsed, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_offsets_count_surrogate_pairs() {
        assert_eq!(utf16_offset("a😀b", 0), Some(0));
        assert_eq!(utf16_offset("a😀b", 2), Some(3));
        assert_eq!(utf16_offset("a😀b", 3), Some(4));
        assert_eq!(utf16_offset("a😀b", 4), None);
    }
}
