//! The conformance suite every [`Storage`] backend runs (feature `conformance`).
//!
//! Each function exercises one part of the contract written on [`Storage`] and panics on a
//! violation. The suite never assumes an empty store: every function works in tenants of
//! its own, so it can run against a shared database at the same time as other runs.
//!
//! [`conformance_tests!`] expands to one `#[tokio::test]` per function that needs nothing
//! but the backend. Each backend's tests call the others themselves:
//! [`corrupted_record_is_reported`] (needs a way to damage a record),
//! [`concurrent_compactions_across`] and [`concurrent_creations_across`] (want several
//! handles on one store, playing separate nodes) and
//! [`superseded_compaction_never_creates_a_document`].
//!
//! [`conformance_tests!`]: crate::conformance_tests

mod basic;
mod compaction;
mod concurrent;
mod integrity;
mod macros;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use codesync_core::{Compaction, DocKey, SessionId, Storage, StoredDoc, TenantId};
use loro::{ExportMode, LoroDoc, VersionVector};

pub use basic::{
    concurrent_appends, delete, large_history, list_per_tenant, round_trip, tenant_isolation,
};
pub use compaction::{
    compacting_a_missing_document_creates_it, compaction_drops_exactly_the_folded_updates,
    compaction_equivalence, generation_counts_compactions, superseded_compaction_changes_nothing,
    superseded_compaction_never_creates_a_document,
};
pub use concurrent::{
    concurrent_compactions, concurrent_compactions_across, concurrent_creations,
    concurrent_creations_across,
};
pub use integrity::{corrupted_record_is_reported, undecodable_record_is_refused_by_the_hub};

/// A tenant id no other run uses: `label` plus the process id, the time and a counter.
pub fn unique_tenant(label: &str) -> TenantId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    TenantId::new(format!("{label}-{}-{nanos}-{n}", std::process::id()))
        .expect("generated tenant ids are valid")
}

fn key(tenant: &TenantId, session: &str) -> DocKey {
    DocKey::new(
        tenant.clone(),
        SessionId::new(session).expect("valid session id"),
    )
}

/// An author producing incremental Loro updates, one per call.
struct Author {
    doc: LoroDoc,
    sent: VersionVector,
}

impl Author {
    fn new(peer: u64) -> Self {
        let doc = LoroDoc::new();
        doc.set_peer_id(peer).expect("peer id");
        Self {
            doc,
            sent: VersionVector::default(),
        }
    }

    fn type_text(&mut self, text: &str) -> Bytes {
        let t = self.doc.get_text("content");
        t.insert(t.len_unicode(), text).expect("insert");
        let update = self
            .doc
            .export(ExportMode::updates(&self.sent))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        Bytes::from(update)
    }

    fn snapshot(&self) -> Bytes {
        Bytes::from(self.doc.export(ExportMode::Snapshot).expect("snapshot"))
    }

    fn text(&self) -> String {
        self.doc.get_text("content").to_string()
    }
}

/// Rebuilds the document a stored record describes.
fn rebuild(stored: &StoredDoc) -> LoroDoc {
    let doc = LoroDoc::new();
    if let Some(snapshot) = &stored.snapshot {
        doc.import(snapshot).expect("snapshot imports");
    }
    for update in &stored.updates {
        doc.import(&update.bytes).expect("update imports");
    }
    doc
}

/// The sequence numbers of the stored updates, in stored order.
fn seqs(stored: &StoredDoc) -> Vec<u64> {
    stored.updates.iter().map(|u| u.seq).collect()
}

/// What a session would store for `stored`: a snapshot of all of it, folding every update
/// read, built from the generation read.
fn fold_all(stored: &StoredDoc) -> Compaction {
    let snapshot = rebuild(stored)
        .export(ExportMode::Snapshot)
        .expect("snapshot");
    Compaction {
        snapshot: Bytes::from(snapshot),
        folded: seqs(stored),
        generation: stored.generation,
    }
}

async fn load_existing(storage: &dyn Storage, key: &DocKey) -> StoredDoc {
    storage
        .load(key)
        .await
        .expect("load succeeds")
        .unwrap_or_else(|| panic!("{key} should exist"))
}
