//! Turns a causal history of transactions into one update per transaction, each authored
//! at exactly its parents' version.
//!
//! Every agent keeps its own document. Before agent `a` types transaction `t`, its document
//! imports whatever of `t`'s causal past it lacks. When the document holds something that
//! is *not* in `t`'s past (an agent that saw more than the trace says it did), it is rebuilt
//! from `t`'s past alone; if that past lacks the agent's own previous transaction, the agent
//! continues under a fresh peer id, since a peer's ops must form one chain (a version
//! vector entry `n` means "all of this peer's ops below `n`"). Neither happens in the
//! published traces, whose agents are fully ordered and see what their parents say.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::crdt::{Author, Authored};
use crate::trace::Patch;

/// One transaction to author: by `agent`, on top of `parents`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'a> {
    /// Whose document types it (an agent of the trace, or a writer).
    pub(crate) agent: usize,
    /// Earlier steps it was typed on top of.
    pub(crate) parents: &'a [usize],
    /// The edits.
    pub(crate) patches: &'a [Patch],
}

/// A step's result: its update and peer, or `None` for a step with no op.
#[derive(Debug)]
pub(crate) struct Output {
    /// Per step, what its author produced, with the peer id it was typed under.
    pub(crate) steps: Vec<Option<(u64, Authored)>>,
    /// The text once every step is merged (from the replica of the last step's author,
    /// after importing everything).
    pub(crate) text: String,
}

struct AgentDoc<A> {
    doc: A,
    peer: u64,
    /// Which steps the document holds.
    known: Vec<bool>,
    /// The maximal steps it holds (everything it holds is in their past).
    frontier: Vec<usize>,
    last_own: Option<usize>,
}

/// Authors every step. `new_author(peer)` makes an empty document for a peer id; agent `a`
/// starts as peer `a + 1`, fresh peers count up from `FRESH_PEERS`.
pub(crate) fn author_all<A: Author>(
    steps: &[Step<'_>],
    new_author: impl Fn(u64) -> Result<A>,
) -> Result<Output> {
    const FRESH_PEERS: u64 = 1_000_000;
    let n = steps.len();
    let mut agents: HashMap<usize, AgentDoc<A>> = HashMap::new();
    let mut out: Vec<Option<(u64, Authored)>> = Vec::with_capacity(n);
    let mut next_fresh = FRESH_PEERS;
    // Visit stamps, so each walk does not clear a `Vec<bool>` of every step.
    let mut stamp = vec![0u32; n];
    let mut walk = 0u32;

    for (t, step) in steps.iter().enumerate() {
        let agent = match agents.entry(step.agent) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let peer = step.agent as u64 + 1;
                e.insert(AgentDoc {
                    doc: new_author(peer)?,
                    peer,
                    known: vec![false; n],
                    frontier: Vec::new(),
                    last_own: None,
                })
            }
        };

        // Walk t's past, stopping at steps the agent already holds.
        walk += 1;
        let mut missing = Vec::new();
        let mut stack: Vec<usize> = step.parents.to_vec();
        while let Some(s) = stack.pop() {
            if stamp[s] == walk {
                continue;
            }
            stamp[s] = walk;
            if !agent.known[s] {
                missing.push(s);
                stack.extend_from_slice(steps[s].parents);
            }
        }
        // A frontier step the walk did not reach is outside t's past (see the module doc).
        let holds_extra = agent.frontier.iter().any(|&f| stamp[f] != walk);
        if holds_extra {
            walk += 1;
            let mut past = Vec::new();
            let mut stack: Vec<usize> = step.parents.to_vec();
            while let Some(s) = stack.pop() {
                if stamp[s] != walk {
                    stamp[s] = walk;
                    past.push(s);
                    stack.extend_from_slice(steps[s].parents);
                }
            }
            let keeps_chain = agent.last_own.is_none_or(|own| stamp[own] == walk);
            if !keeps_chain {
                agent.peer = next_fresh;
                next_fresh += 1;
            }
            agent.doc = new_author(agent.peer)?;
            agent.known.iter_mut().for_each(|k| *k = false);
            missing = past;
        }
        missing.sort_unstable();
        for &s in &missing {
            if let Some((_, authored)) = &out[s] {
                agent
                    .doc
                    .import(&authored.update)
                    .with_context(|| format!("txn {t}: importing its parent {s}"))?;
            }
            agent.known[s] = true;
        }
        let authored = agent
            .doc
            .apply(step.patches)
            .with_context(|| format!("txn {t} of agent {}", step.agent))?;
        agent.known[t] = true;
        agent.frontier = vec![t];
        agent.last_own = Some(t);
        out.push(authored.map(|a| (agent.peer, a)));
    }

    // The expected text: everything merged into the last step's author.
    let text = match steps.last() {
        None => String::new(),
        Some(last) => {
            let agent = agents
                .get_mut(&last.agent)
                .expect("every step's agent has a document");
            for (s, step_out) in out.iter().enumerate() {
                if !agent.known[s] {
                    if let Some((_, authored)) = step_out {
                        agent.doc.import(&authored.update)?;
                    }
                }
            }
            agent.doc.text()
        }
    };
    Ok(Output { steps: out, text })
}
