//! The macro expanding the suite into tests.

/// Expands to one `#[tokio::test]` per backend-independent conformance function.
///
/// `$make` is an expression evaluating to a future of `Option<Arc<dyn Storage>>`; `None`
/// skips the tests (for backends whose server is not configured).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_round_trip() {
            if let Some(s) = $make.await {
                $crate::conformance::round_trip(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_compaction_equivalence() {
            if let Some(s) = $make.await {
                $crate::conformance::compaction_equivalence(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_compaction_drops_exactly_the_folded_updates() {
            if let Some(s) = $make.await {
                $crate::conformance::compaction_drops_exactly_the_folded_updates(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_superseded_compaction_changes_nothing() {
            if let Some(s) = $make.await {
                $crate::conformance::superseded_compaction_changes_nothing(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_generation_counts_compactions() {
            if let Some(s) = $make.await {
                $crate::conformance::generation_counts_compactions(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_compacting_a_missing_document_creates_it() {
            if let Some(s) = $make.await {
                $crate::conformance::compacting_a_missing_document_creates_it(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_concurrent_compactions() {
            if let Some(s) = $make.await {
                $crate::conformance::concurrent_compactions(s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_concurrent_creations() {
            if let Some(s) = $make.await {
                $crate::conformance::concurrent_creations(s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_concurrent_appends() {
            if let Some(s) = $make.await {
                $crate::conformance::concurrent_appends(s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_delete() {
            if let Some(s) = $make.await {
                $crate::conformance::delete(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_list_per_tenant() {
            if let Some(s) = $make.await {
                $crate::conformance::list_per_tenant(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_tenant_isolation() {
            if let Some(s) = $make.await {
                $crate::conformance::tenant_isolation(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_large_history() {
            if let Some(s) = $make.await {
                $crate::conformance::large_history(&*s).await;
            }
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_undecodable_record_is_refused_by_the_hub() {
            if let Some(s) = $make.await {
                $crate::conformance::undecodable_record_is_refused_by_the_hub(s).await;
            }
        }
    };
}
