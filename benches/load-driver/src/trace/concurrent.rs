//! The concurrent format: `{kind, endContent, numAgents, txns: [{agent, parents, patches}]}`.

use anyhow::{Context, Result};
use serde::Deserialize;

use super::{Kind, Patch, Trace, Txn};

#[derive(Deserialize)]
struct File {
    #[serde(rename = "endContent")]
    end_content: String,
    #[serde(rename = "numAgents")]
    num_agents: usize,
    txns: Vec<FileTxn>,
}

#[derive(Deserialize)]
struct FileTxn {
    agent: usize,
    parents: Vec<usize>,
    patches: Vec<Patch>,
}

/// Parses a concurrent trace, checking that parents point earlier and agents are in range.
pub(super) fn parse(name: &str, json: &[u8]) -> Result<Trace> {
    let file: File =
        serde_json::from_slice(json).with_context(|| format!("parsing concurrent trace {name}"))?;
    let trace = Trace {
        name: name.to_owned(),
        kind: Kind::Concurrent,
        num_agents: file.num_agents,
        txns: file
            .txns
            .into_iter()
            .map(|t| Txn {
                agent: t.agent,
                parents: t.parents,
                patches: t.patches,
            })
            .collect(),
        end_content: Some(file.end_content),
    };
    trace.validate()?;
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the concurrent traces' README.
    const README_EXAMPLE: &[u8] = br#"{
      "kind": "concurrent", "endContent": "yoooo ho ho\n", "numAgents": 2,
      "txns": [
        {"parents": [], "numChildren": 1, "agent": 0, "time": "t", "patches": [[0, 0, "hi there\n"]]},
        {"parents": [0], "numChildren": 1, "agent": 0, "time": "t", "patches": [[0, 8, ""], [0, 0, "yoooo"]]},
        {"parents": [1], "numChildren": 0, "agent": 1, "time": "t", "patches": [[5, 0, " ho ho"]]}
      ]}"#;

    #[test]
    fn parses_the_readme_example() {
        let trace = parse("readme", README_EXAMPLE).expect("parses");
        assert_eq!(trace.num_agents, 2);
        assert_eq!(trace.txns[2].agent, 1);
        assert_eq!(trace.txns[2].parents, vec![1]);
    }

    #[test]
    fn refuses_a_parent_that_is_not_earlier() {
        let json = br#"{"endContent":"","numAgents":1,"txns":[
            {"agent":0,"parents":[0],"patches":[[0,0,"a"]]}]}"#;
        assert!(parse("bad", json).is_err());
    }
}
