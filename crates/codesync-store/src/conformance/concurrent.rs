//! Compactions racing each other and concurrent appends, as on nodes sharing one store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use codesync_core::{Compacted, Compaction, DocKey, Storage};
use tokio::sync::Barrier;

use super::{fold_all, key, load_existing, rebuild, seqs, unique_tenant, Author};

/// Compactors per round when one handle plays every node.
const COMPACTORS: usize = 4;
/// Rounds of racing compactions.
const ROUNDS: u64 = 8;
/// Updates appended before the first round.
const INITIAL: usize = 10;
/// Updates appended during each round, racing the compactions.
const RACING: usize = 4;

/// [`concurrent_compactions_across`] with one handle shared by several tasks.
pub async fn concurrent_compactions(storage: Arc<dyn Storage>) {
    concurrent_compactions_across(vec![storage; COMPACTORS]).await;
}

/// Several tasks, one per handle in `nodes` (separate handles on one store play separate
/// nodes), each load a document, build a snapshot of what they read and compact at once,
/// while another task keeps appending. In every round exactly one compaction succeeds (all
/// were built from the same generation), the generation counts the rounds, and no update
/// is lost: what remains stored is exactly what was appended minus what the successful
/// compactions folded, and it rebuilds to the whole document.
///
/// # Panics
///
/// If `nodes` is empty, or on any violation.
pub async fn concurrent_compactions_across(nodes: Vec<Arc<dyn Storage>>) {
    assert!(!nodes.is_empty(), "at least one node");
    let k = key(&unique_tenant("racing-compactions"), "doc");
    let mut author = Author::new(40);
    let mut appended = BTreeMap::new();
    for i in 0..INITIAL {
        let update = author.type_text(&format!("initial {i};"));
        let seq = nodes[0].append(&k, update.clone()).await.expect("append");
        appended.insert(seq, update);
    }
    let mut folded_by_winners = BTreeSet::new();
    for round in 0..ROUNDS {
        let racing: Vec<Bytes> = (0..RACING)
            .map(|i| author.type_text(&format!("round {round} update {i};")))
            .collect();
        // Everyone (compactors and the appender) starts together; every compactor loads
        // before any compacts, so all build from the same generation.
        let start = Arc::new(Barrier::new(nodes.len() + 1));
        let loaded = Arc::new(Barrier::new(nodes.len()));
        let appender = tokio::spawn(append_all(
            Arc::clone(&nodes[round as usize % nodes.len()]),
            k.clone(),
            racing,
            Arc::clone(&start),
        ));
        let compactors: Vec<_> = nodes
            .iter()
            .map(|node| {
                let (node, k, start, loaded) = (
                    Arc::clone(node),
                    k.clone(),
                    Arc::clone(&start),
                    Arc::clone(&loaded),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    let read = load_existing(&*node, &k).await;
                    loaded.wait().await;
                    let compaction = fold_all(&read);
                    let outcome = node.compact(&k, compaction).await.expect("compact");
                    (read.generation, seqs(&read), outcome)
                })
            })
            .collect();
        let mut winners = 0;
        for compactor in compactors {
            let (generation, folded, outcome) = compactor.await.expect("compactor");
            assert_eq!(
                generation, round,
                "every compactor read the round's generation"
            );
            if outcome == Compacted::Done {
                winners += 1;
                folded_by_winners.extend(folded);
            }
        }
        assert_eq!(
            winners, 1,
            "round {round}: exactly one compaction from generation {round} succeeds"
        );
        for (seq, update) in appender.await.expect("appender") {
            assert!(appended.insert(seq, update).is_none(), "seq {seq} reused");
        }

        let stored = load_existing(&*nodes[0], &k).await;
        assert_eq!(stored.generation, round + 1, "one compaction per round");
        let expected: Vec<(u64, Bytes)> = appended
            .iter()
            .filter(|(seq, _)| !folded_by_winners.contains(*seq))
            .map(|(seq, update)| (*seq, update.clone()))
            .collect();
        let kept: Vec<(u64, Bytes)> = stored
            .updates
            .iter()
            .map(|u| (u.seq, u.bytes.clone()))
            .collect();
        assert_eq!(
            kept, expected,
            "round {round}: exactly the updates no successful compaction folded remain"
        );
        let rebuilt = rebuild(&stored);
        assert_eq!(rebuilt.get_text("content").to_string(), author.text());
        assert_eq!(
            rebuilt.oplog_vv(),
            author.doc.oplog_vv(),
            "nothing was lost"
        );
    }
}

/// [`concurrent_creations_across`] with one handle shared by several tasks.
pub async fn concurrent_creations(storage: Arc<dyn Storage>) {
    concurrent_creations_across(vec![storage; COMPACTORS]).await;
}

/// Several tasks, one per handle in `nodes`, compact a document that does not exist yet,
/// all from generation 0 and at once: exactly one creates it, the others are superseded
/// (not failed: a racing insert must not surface as a duplicate key), and the document
/// holds the winner's snapshot at generation 1.
///
/// # Panics
///
/// If `nodes` is empty, or on any violation.
pub async fn concurrent_creations_across(nodes: Vec<Arc<dyn Storage>>) {
    assert!(!nodes.is_empty(), "at least one node");
    let k = key(&unique_tenant("racing-creations"), "doc");
    let start = Arc::new(Barrier::new(nodes.len()));
    let tasks: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let (node, k, start) = (Arc::clone(node), k.clone(), Arc::clone(&start));
            let snapshot = Bytes::from(format!("snapshot of node {i}"));
            tokio::spawn(async move {
                start.wait().await;
                let compaction = Compaction {
                    snapshot: snapshot.clone(),
                    folded: vec![],
                    generation: 0,
                };
                (
                    snapshot,
                    node.compact(&k, compaction).await.expect("compact"),
                )
            })
        })
        .collect();
    let mut winners = vec![];
    for task in tasks {
        let (snapshot, outcome) = task.await.expect("task");
        if outcome == Compacted::Done {
            winners.push(snapshot);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creation succeeds");
    let stored = load_existing(&*nodes[0], &k).await;
    assert_eq!(stored.snapshot.as_ref(), winners.first());
    assert_eq!(stored.generation, 1);
    assert!(stored.updates.is_empty());
}

/// Appends `updates` in order once `start` opens, yielding between them so the appends
/// interleave with the compactions; returns each update with its sequence number.
async fn append_all(
    node: Arc<dyn Storage>,
    k: DocKey,
    updates: Vec<Bytes>,
    start: Arc<Barrier>,
) -> Vec<(u64, Bytes)> {
    start.wait().await;
    let mut stored = Vec::with_capacity(updates.len());
    for update in updates {
        let seq = node.append(&k, update.clone()).await.expect("append");
        stored.push((seq, update));
        tokio::task::yield_now().await;
    }
    stored
}
