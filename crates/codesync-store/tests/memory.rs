//! The conformance suite against the in-memory backend. (It keeps no checksums: memory is
//! not a medium that rots behind the process's back, so the corruption test does not apply.)

use std::sync::Arc;

use codesync_core::{MemoryStorage, Storage};

codesync_store::conformance_tests!(async {
    Some(Arc::new(MemoryStorage::new()) as Arc<dyn Storage>)
});

#[tokio::test]
async fn superseded_compaction_never_creates_a_document() {
    codesync_store::conformance::superseded_compaction_never_creates_a_document(
        &MemoryStorage::new(),
    )
    .await;
}
