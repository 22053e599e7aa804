//! Malformed, truncated, over-size and crashing updates are refused and change nothing.

mod common;

use codesync_core::{
    ClientId, Error, Hub, Limits, LimitsConfig, MemoryStorage, OpenPolicy, Origin,
};
use common::{key, text_and_version, text_update};
use proptest::prelude::*;

const CLIENT: Origin = Origin::Client(ClientId(1));

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn hub_with_text(text: &str) -> (Hub, codesync_core::DocKey) {
    let hub = Hub::builder(MemoryStorage::new()).build();
    let k = key("acme", "doc");
    hub.apply(&k, &text_update(1, text), CLIENT)
        .await
        .expect("seed");
    (hub, k)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_are_refused_and_change_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        runtime().block_on(async {
            let (hub, k) = hub_with_text("hello").await;
            let before = text_and_version(&hub, &k).await;
            let result = hub.apply(&k, &bytes, CLIENT).await;
            prop_assert!(matches!(result, Err(Error::InvalidUpdate { .. })), "{result:?}");
            prop_assert_eq!(text_and_version(&hub, &k).await, before);
            Ok(())
        })?;
    }

    #[test]
    fn truncated_real_updates_are_refused_and_change_nothing(cut in 0usize..1000) {
        runtime().block_on(async {
            let (hub, k) = hub_with_text("hello").await;
            let before = text_and_version(&hub, &k).await;
            let update = text_update(2, &"fn main() { println!(\"hi\"); }\n".repeat(10));
            let cut = cut % update.len();
            let result = hub.apply(&k, &update[..cut], CLIENT).await;
            prop_assert!(matches!(result, Err(Error::InvalidUpdate { .. })), "{result:?}");
            prop_assert_eq!(text_and_version(&hub, &k).await, before);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_flipped_byte_in_a_real_update_is_refused() {
    let (hub, k) = hub_with_text("hello").await;
    let before = text_and_version(&hub, &k).await;
    let mut update = text_update(2, "world");
    let last = update.len() - 1;
    update[last] ^= 0x55;
    let result = hub.apply(&k, &update, CLIENT).await;
    assert!(
        matches!(result, Err(Error::InvalidUpdate { .. })),
        "{result:?}"
    );
    assert_eq!(text_and_version(&hub, &k).await, before);
}

#[tokio::test]
async fn size_cap_refuses_over_cap_update_and_keeps_document() {
    let big = codesync_core::TenantId::new("big").expect("tenant");
    let policy = OpenPolicy::new(
        LimitsConfig::default()
            .with_default(Limits::default().with_max_document_bytes(1000))
            .with_tenant(big, Limits::default().with_max_document_bytes(5000)),
    );
    let hub = Hub::builder(MemoryStorage::new()).policy(policy).build();
    let small = key("small", "doc");
    let large = key("big", "doc");

    // Far from the cap: accepted on the cheap path.
    hub.apply(&small, &text_update(1, "hello"), CLIENT)
        .await
        .expect("small edit");
    let before = text_and_version(&hub, &small).await;

    // 2,000 bytes of content is over the default cap of 1,000.
    let update = text_update(2, &"x".repeat(2000));
    let err = hub
        .apply(&small, &update, CLIENT)
        .await
        .expect_err("over cap");
    match &err {
        Error::DocumentTooLarge { size, limit, .. } => {
            assert_eq!(*limit, 1000);
            assert_eq!(*size, 2005);
        }
        other => panic!("wrong error: {other:?}"),
    }
    assert_eq!(text_and_version(&hub, &small).await, before);

    // The same update fits the overridden tenant's cap.
    hub.apply(&large, &update, CLIENT)
        .await
        .expect("override allows it");
    assert_eq!(text_and_version(&hub, &large).await.0.len(), 2000);

    // Edits that stay under the cap keep working right up to it.
    let fits = text_update(3, &"y".repeat(990));
    hub.apply(&small, &fits, CLIENT)
        .await
        .expect("exactly fits");
    assert_eq!(text_and_version(&hub, &small).await.0.len(), 995);
    let one_more = text_update(4, "123456");
    let err = hub
        .apply(&small, &one_more, CLIENT)
        .await
        .expect_err("now over");
    assert!(
        matches!(err, Error::DocumentTooLarge { size: 1001, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn deleting_content_frees_room_under_the_cap() {
    let policy = OpenPolicy::new(
        LimitsConfig::default().with_default(Limits::default().with_max_document_bytes(100)),
    );
    let hub = Hub::builder(MemoryStorage::new()).policy(policy).build();
    let k = key("acme", "doc");
    let author = loro::LoroDoc::new();
    author.set_peer_id(7).expect("peer");
    let text = author.get_text("content");
    text.insert(0, &"a".repeat(90)).expect("insert");
    let v0 = loro::VersionVector::default();
    let update = author
        .export(loro::ExportMode::updates(&v0))
        .expect("export");
    hub.apply(&k, &update, CLIENT).await.expect("90 bytes fit");
    let v1 = author.oplog_vv();
    text.delete(0, 80).expect("delete");
    text.insert(0, &"b".repeat(50)).expect("insert");
    let update = author
        .export(loro::ExportMode::updates(&v1))
        .expect("export");
    hub.apply(&k, &update, CLIENT)
        .await
        .expect("60 bytes fit after the delete");
    assert_eq!(text_and_version(&hub, &k).await.0, text.to_string());
}

#[tokio::test]
async fn updates_with_missing_dependencies_are_refused_with_a_resync_error() {
    let (hub, k) = hub_with_text("hello").await;
    let before = text_and_version(&hub, &k).await;
    let author = loro::LoroDoc::new();
    author.set_peer_id(9).expect("peer");
    author
        .get_text("content")
        .insert(0, "first ")
        .expect("insert");
    author.commit();
    let v1 = author.oplog_vv();
    author
        .get_text("content")
        .insert(6, "second")
        .expect("insert");
    let second = author
        .export(loro::ExportMode::updates(&v1))
        .expect("export");
    let err = hub.apply(&k, &second, CLIENT).await.expect_err("gap");
    assert!(err.needs_resync(), "{err:?}");
    assert_eq!(text_and_version(&hub, &k).await, before);
    // After the resync the same update applies.
    let all = author
        .export(loro::ExportMode::all_updates())
        .expect("export");
    hub.apply(&k, &all, CLIENT).await.expect("resynced");
    let reference = loro::LoroDoc::new();
    reference.import(&text_update(1, "hello")).expect("import");
    reference.import(&all).expect("import");
    assert_eq!(
        text_and_version(&hub, &k).await.0,
        reference.get_text("content").to_string()
    );
}

#[tokio::test]
async fn duplicates_are_accepted_and_report_nothing_new() {
    let (hub, k) = hub_with_text("hello").await;
    let again = hub
        .apply(&k, &text_update(1, "hello"), CLIENT)
        .await
        .expect("duplicate");
    assert!(again.update.is_none());
    assert!(again.durable);
}
