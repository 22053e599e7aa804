//! Editing traces (`josephg/editing-traces`, CC BY 4.0: Joseph Gentle and the trace
//! authors), read into one shape for both kinds: transactions with an agent and causal
//! parents. A sequential trace becomes a chain (each transaction's parent is the one before).

mod concurrent;
mod patch;
mod sequential;

#[cfg(test)]
pub(crate) use sequential::chain as sequential_chain;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub(crate) use patch::Patch;

/// Which folder of the traces directory a trace came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// One author, transactions in order (`sequential/`).
    Sequential,
    /// Several agents typing at once, with causal parents (`concurrent/`).
    Concurrent,
}

/// One transaction: `agent` applied `patches` on top of the state after `parents`.
#[derive(Debug, Clone)]
pub(crate) struct Txn {
    /// The agent (author) in the trace; 0 for sequential traces.
    pub(crate) agent: usize,
    /// Indices of earlier transactions this one was typed on top of (empty: the empty text).
    pub(crate) parents: Vec<usize>,
    /// Edits, applied in order; positions are Unicode code points.
    pub(crate) patches: Vec<Patch>,
}

/// A trace, possibly cut to its first transactions.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    /// The trace's file name without `.json.gz`.
    pub(crate) name: String,
    /// Sequential or concurrent.
    pub(crate) kind: Kind,
    /// Agents in the trace (1 for sequential traces).
    pub(crate) num_agents: usize,
    /// The transactions, parents always before children.
    pub(crate) txns: Vec<Txn>,
    /// The text after every transaction, as the trace states it; `None` when the trace was
    /// cut with `--limit` (the expected text is then computed by replaying the prefix).
    pub(crate) end_content: Option<String>,
}

impl Trace {
    /// Reads `sequential/NAME.json.gz` or `concurrent/NAME.json.gz` from `dir` and keeps
    /// the first `limit` transactions. Parents always point earlier (checked), so any
    /// prefix is causally closed.
    pub(crate) fn load(dir: &Path, name: &str, limit: Option<usize>) -> Result<Self> {
        let file = format!("{name}.json.gz");
        let sequential = dir.join("sequential").join(&file);
        let concurrent = dir.join("concurrent").join(&file);
        let mut trace = if sequential.is_file() {
            sequential::parse(name, &read_gz(&sequential)?)?
        } else if concurrent.is_file() {
            concurrent::parse(name, &read_gz(&concurrent)?)?
        } else {
            bail!(
                "no trace {name}: neither {} nor {} exists (set --traces-dir or CODESYNC_TRACES_DIR)",
                sequential.display(),
                concurrent.display()
            );
        };
        if let Some(limit) = limit {
            if limit < trace.txns.len() {
                trace.txns.truncate(limit);
                trace.end_content = None;
            }
        }
        Ok(trace)
    }

    /// Whether any inserted text has a character outside the Basic Multilingual Plane: such
    /// a character is one code point but two UTF-16 units, so Yjs offsets differ from the
    /// trace's positions after it.
    pub(crate) fn has_astral_chars(&self) -> bool {
        self.txns
            .iter()
            .flat_map(|t| t.patches.iter())
            .any(|p| p.insert.chars().any(|c| c.len_utf16() > 1))
    }

    /// Checks the invariants replay relies on: parents point earlier, agents are in range.
    pub(crate) fn validate(&self) -> Result<()> {
        for (index, txn) in self.txns.iter().enumerate() {
            if let Some(bad) = txn.parents.iter().find(|&&p| p >= index) {
                bail!(
                    "trace {}: txn {index} has parent {bad}, not an earlier txn",
                    self.name
                );
            }
            if txn.agent >= self.num_agents {
                bail!(
                    "trace {}: txn {index} has agent {} but the trace declares {} agents",
                    self.name,
                    txn.agent,
                    self.num_agents
                );
            }
        }
        Ok(())
    }
}

fn read_gz(path: &PathBuf) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(&mut bytes)
        .with_context(|| format!("decompressing {}", path.display()))?;
    Ok(bytes)
}
