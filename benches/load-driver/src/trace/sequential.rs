//! The sequential format: `{startContent, endContent, txns: [{patches}]}`.

use anyhow::{Context, Result};
use serde::Deserialize;

use super::{Kind, Patch, Trace, Txn};

#[derive(Deserialize)]
struct File {
    #[serde(rename = "startContent", default)]
    start_content: String,
    #[serde(rename = "endContent")]
    end_content: String,
    txns: Vec<FileTxn>,
}

#[derive(Deserialize)]
struct FileTxn {
    patches: Vec<Patch>,
}

/// Parses a sequential trace into a chain of transactions by agent 0. A non-empty
/// `startContent` (none of the published traces has one) becomes a first transaction that
/// inserts it, so every replica starts from the same empty document.
pub(super) fn parse(name: &str, json: &[u8]) -> Result<Trace> {
    let file: File =
        serde_json::from_slice(json).with_context(|| format!("parsing sequential trace {name}"))?;
    let mut bodies: Vec<Vec<Patch>> = Vec::with_capacity(file.txns.len() + 1);
    if !file.start_content.is_empty() {
        bodies.push(vec![Patch {
            pos: 0,
            delete: 0,
            insert: file.start_content,
        }]);
    }
    bodies.extend(file.txns.into_iter().map(|t| t.patches));
    Ok(Trace {
        name: name.to_owned(),
        kind: Kind::Sequential,
        num_agents: 1,
        txns: chain(bodies),
        end_content: Some(file.end_content),
    })
}

/// Transactions by agent 0, each on top of the one before.
pub(crate) fn chain(bodies: Vec<Vec<Patch>>) -> Vec<Txn> {
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, patches)| Txn {
            agent: 0,
            parents: if i == 0 { vec![] } else { vec![i - 1] },
            patches,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_sequential_trace() {
        let json = br#"{"startContent":"","endContent":"hi!","txns":[
            {"time":"t","patches":[[0,0,"hello"]]},
            {"time":"t","patches":[[1,4,"i"],[2,0,"!"]]}]}"#;
        let trace = parse("tiny", json).expect("parses");
        assert_eq!(trace.kind, Kind::Sequential);
        assert_eq!(trace.txns.len(), 2);
        assert_eq!(trace.txns[1].parents, vec![0]);
        assert_eq!(trace.txns[1].patches.len(), 2);
        assert_eq!(trace.end_content.as_deref(), Some("hi!"));
    }
}
