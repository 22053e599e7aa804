//! Compaction: a snapshot replaces exactly the updates it folds, only if the document is
//! still at the generation the snapshot was built from.

use bytes::Bytes;
use codesync_core::{Compacted, Compaction, Storage, StoredDoc};
use loro::{ExportMode, LoroDoc};

use super::{fold_all, key, load_existing, rebuild, seqs, unique_tenant, Author};

async fn compact(storage: &dyn Storage, key: &codesync_core::DocKey, c: Compaction) -> Compacted {
    storage.compact(key, c).await.expect("compact")
}

/// Asserts that `stored` rebuilds to the same document as `expected`.
fn assert_same_doc(stored: &StoredDoc, expected: &LoroDoc) {
    let rebuilt = rebuild(stored);
    assert_eq!(
        rebuilt.get_text("content").to_string(),
        expected.get_text("content").to_string()
    );
    assert_eq!(rebuilt.oplog_vv(), expected.oplog_vv());
}

/// A snapshot plus the updates after it gives the same document as the full history, and
/// updates appended after the snapshot was read survive it.
pub async fn compaction_equivalence(storage: &dyn Storage) {
    let tenant = unique_tenant("compaction");
    let k = key(&tenant, "doc");
    let mut author = Author::new(2);
    for i in 0..20 {
        storage
            .append(&k, author.type_text(&format!("line {i}\n")))
            .await
            .expect("append");
    }
    let read = load_existing(storage, &k).await;
    assert_eq!(read.generation, 0, "never compacted");
    // Appended after the snapshot was read: must not be dropped by the compaction.
    let mut later_seqs = vec![];
    for i in 20..23 {
        later_seqs.push(
            storage
                .append(&k, author.type_text(&format!("line {i}\n")))
                .await
                .expect("append"),
        );
    }
    assert_eq!(compact(storage, &k, fold_all(&read)).await, Compacted::Done);
    let stored = load_existing(storage, &k).await;
    assert!(stored.snapshot.is_some());
    assert_eq!(
        seqs(&stored),
        later_seqs,
        "exactly the unfolded updates remain"
    );
    assert_eq!(stored.generation, 1);
    assert_same_doc(&stored, &author.doc);

    // Sequence numbers are never reused after a compaction.
    let next = storage
        .append(&k, author.type_text("after"))
        .await
        .expect("append");
    assert!(next > *later_seqs.last().expect("three appends"));
}

/// Only the folded sequence numbers are dropped: an unfolded update with a *lower* number
/// than a folded one survives (with several nodes appending, numbers can commit out of
/// order), and so do updates appended after the snapshot was read or after it was stored.
pub async fn compaction_drops_exactly_the_folded_updates(storage: &dyn Storage) {
    let tenant = unique_tenant("exact-fold");
    let k = key(&tenant, "doc");
    // One author per update: independent updates, so a snapshot of any subset is valid.
    let mut authors: Vec<Author> = (20..25).map(Author::new).collect();
    let mut updates = vec![];
    for (i, author) in authors.iter_mut().enumerate().take(3) {
        let update = author.type_text(&format!("update {i};"));
        let seq = storage.append(&k, update.clone()).await.expect("append");
        updates.push((seq, update));
    }
    let read = load_existing(storage, &k).await;
    assert_eq!(
        seqs(&read),
        updates.iter().map(|(seq, _)| *seq).collect::<Vec<_>>()
    );
    // Fold the first and third only, as a node that had not yet seen the second would.
    let partial = LoroDoc::new();
    for (_, update) in [&updates[0], &updates[2]] {
        partial.import(update).expect("import");
    }
    let snapshot = Bytes::from(partial.export(ExportMode::Snapshot).expect("snapshot"));
    // Appended between the read and the compaction, with a higher number than any folded.
    let between = authors[3].type_text("between;");
    let between_seq = storage.append(&k, between.clone()).await.expect("append");
    let compaction = Compaction {
        snapshot: snapshot.clone(),
        folded: vec![updates[0].0, updates[2].0],
        generation: read.generation,
    };
    assert_eq!(compact(storage, &k, compaction).await, Compacted::Done);
    let after = authors[4].type_text("after;");
    let after_seq = storage.append(&k, after.clone()).await.expect("append");

    let stored = load_existing(storage, &k).await;
    assert_eq!(stored.snapshot.as_ref(), Some(&snapshot));
    let kept: Vec<(u64, Bytes)> = stored
        .updates
        .iter()
        .map(|u| (u.seq, u.bytes.clone()))
        .collect();
    assert_eq!(
        kept,
        [
            updates[1].clone(),
            (between_seq, between),
            (after_seq, after)
        ],
        "exactly the unfolded updates remain, the lower-numbered one included"
    );
    let everything = LoroDoc::new();
    for author in &authors {
        everything.import(&author.snapshot()).expect("import");
    }
    assert_same_doc(&stored, &everything);
}

/// Of two compactions built from the same generation, the first is stored and the second
/// is superseded and changes nothing: neither the snapshot nor any update.
pub async fn superseded_compaction_changes_nothing(storage: &dyn Storage) {
    let tenant = unique_tenant("superseded");
    let k = key(&tenant, "doc");
    let mut author = Author::new(30);
    for word in ["alpha ", "beta "] {
        storage
            .append(&k, author.type_text(word))
            .await
            .expect("append");
    }
    let read = load_existing(storage, &k).await;
    let first = fold_all(&read);
    // Appended after the first compaction was built: the second folds it too, so a
    // superseded compaction that dropped its updates anyway would lose it.
    let late_seq = storage
        .append(&k, author.type_text("gamma"))
        .await
        .expect("append");
    let mut second_folded = seqs(&read);
    second_folded.push(late_seq);
    let second = Compaction {
        snapshot: author.snapshot(),
        folded: second_folded,
        generation: read.generation,
    };
    assert_ne!(first.snapshot, second.snapshot);

    assert_eq!(compact(storage, &k, first.clone()).await, Compacted::Done);
    let after_first = load_existing(storage, &k).await;
    assert_eq!(after_first.snapshot.as_ref(), Some(&first.snapshot));
    assert_eq!(seqs(&after_first), [late_seq]);
    assert_eq!(after_first.generation, read.generation + 1);

    assert_eq!(compact(storage, &k, second).await, Compacted::Superseded);
    let after_second = load_existing(storage, &k).await;
    assert_eq!(
        after_second, after_first,
        "a superseded compaction changes nothing"
    );
    assert_same_doc(&after_second, &author.doc);
}

/// Every successful compaction bumps the generation `load` returns; a stale or future
/// generation is superseded and leaves it alone; a re-created document starts at 0.
pub async fn generation_counts_compactions(storage: &dyn Storage) {
    let tenant = unique_tenant("generation");
    let k = key(&tenant, "doc");
    let mut author = Author::new(31);
    storage
        .append(&k, author.type_text("start "))
        .await
        .expect("append");
    assert_eq!(load_existing(storage, &k).await.generation, 0);
    for expected in 1..=3 {
        let read = load_existing(storage, &k).await;
        assert_eq!(compact(storage, &k, fold_all(&read)).await, Compacted::Done);
        assert_eq!(load_existing(storage, &k).await.generation, expected);
        storage
            .append(&k, author.type_text(&format!("round {expected} ")))
            .await
            .expect("append");
    }
    let current = load_existing(storage, &k).await;
    for stale in [0, 1, 2, 4, u64::MAX] {
        let compaction = Compaction {
            generation: stale,
            ..fold_all(&current)
        };
        assert_eq!(
            compact(storage, &k, compaction).await,
            Compacted::Superseded,
            "generation {stale} while the document is at 3"
        );
    }
    assert_eq!(load_existing(storage, &k).await, current);
    assert_same_doc(&current, &author.doc);

    storage.delete(&k).await.expect("delete");
    storage
        .append(&k, Author::new(32).type_text("again"))
        .await
        .expect("append");
    assert_eq!(load_existing(storage, &k).await.generation, 0);
}

/// Compacting a document never stored creates it at generation 1, holding just the
/// snapshot; a second compaction from generation 0 is then superseded.
pub async fn compacting_a_missing_document_creates_it(storage: &dyn Storage) {
    let tenant = unique_tenant("compact-new");
    let k = key(&tenant, "fresh");
    let mut author = Author::new(33);
    author.type_text("born as a snapshot");
    let compaction = Compaction {
        snapshot: author.snapshot(),
        folded: vec![],
        generation: 0,
    };
    assert_eq!(
        compact(storage, &k, compaction.clone()).await,
        Compacted::Done
    );
    let stored = load_existing(storage, &k).await;
    assert_eq!(stored.snapshot.as_ref(), Some(&compaction.snapshot));
    assert!(stored.updates.is_empty());
    assert_eq!(stored.generation, 1);
    assert_eq!(
        storage.list(&tenant).await.expect("list"),
        [k.session().clone()]
    );
    assert_eq!(
        compact(storage, &k, compaction).await,
        Compacted::Superseded,
        "the document is at generation 1 now"
    );
    let seq = storage
        .append(&k, author.type_text("!"))
        .await
        .expect("append");
    let stored = load_existing(storage, &k).await;
    assert_eq!(seqs(&stored), [seq]);
    assert_same_doc(&stored, &author.doc);
}

/// A superseded compaction of a document that does not exist (never stored, or deleted
/// since the compaction's snapshot was read) leaves it not existing.
pub async fn superseded_compaction_never_creates_a_document(storage: &dyn Storage) {
    let tenant = unique_tenant("no-resurrect");
    let never = key(&tenant, "never");
    let compaction = Compaction {
        snapshot: Author::new(34).snapshot(),
        folded: vec![1],
        generation: 3,
    };
    assert_eq!(
        compact(storage, &never, compaction).await,
        Compacted::Superseded
    );
    assert_eq!(storage.load(&never).await.expect("load"), None);

    // A node compacts a document another node deletes meanwhile.
    let deleted = key(&tenant, "deleted");
    let mut author = Author::new(35);
    storage
        .append(&deleted, author.type_text("soon gone"))
        .await
        .expect("append");
    let read = load_existing(storage, &deleted).await;
    assert_eq!(
        compact(storage, &deleted, fold_all(&read)).await,
        Compacted::Done
    );
    let stale = fold_all(&load_existing(storage, &deleted).await);
    storage.delete(&deleted).await.expect("delete");
    assert_eq!(
        compact(storage, &deleted, stale).await,
        Compacted::Superseded,
        "the deleted document is at generation 0, not 1"
    );
    assert_eq!(storage.load(&deleted).await.expect("load"), None);
    assert!(storage.list(&tenant).await.expect("list").is_empty());
}
