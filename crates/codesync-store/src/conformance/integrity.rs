//! Integrity: damaged or undecodable records are reported, never served as empty.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use codesync_core::{DocKey, Error, Hub, Storage};

use super::{key, unique_tenant, Author};

/// A record damaged behind the backend's back is reported as corrupt, naming the
/// document, by the store and by a hub loading it; never as an empty document.
///
/// `corrupt` damages the stored bytes of the document it is given (backend-specific).
pub async fn corrupted_record_is_reported<F, Fut>(storage: Arc<dyn Storage>, corrupt: F)
where
    F: FnOnce(DocKey) -> Fut,
    Fut: Future<Output = ()>,
{
    let tenant = unique_tenant("corrupt");
    let k = key(&tenant, "damaged");
    let mut author = Author::new(11);
    for word in ["one ", "two ", "three"] {
        storage
            .append(&k, author.type_text(word))
            .await
            .expect("append");
    }
    corrupt(k.clone()).await;
    let err = storage.load(&k).await.expect_err("corruption is detected");
    assert!(
        matches!(&err, Error::CorruptDocument { key, .. } if *key == k),
        "expected CorruptDocument naming {k}, got {err:?}"
    );
    assert!(err.to_string().contains(&k.to_string()), "{err}");
    let hub = Hub::builder_shared(storage.clone()).build();
    let err = hub.session(&k).await.expect_err("the hub refuses it too");
    assert!(matches!(err, Error::CorruptDocument { .. }), "{err:?}");
}

/// Bytes that pass the store's integrity check but are not a Loro update (a buggy writer)
/// make the hub refuse the document rather than open it empty.
pub async fn undecodable_record_is_refused_by_the_hub(storage: Arc<dyn Storage>) {
    let tenant = unique_tenant("undecodable");
    let k = key(&tenant, "garbage");
    storage
        .append(&k, Author::new(12).type_text("real"))
        .await
        .expect("append");
    storage
        .append(&k, Bytes::from_static(b"definitely not loro"))
        .await
        .expect("append");
    let hub = Hub::builder_shared(storage.clone()).build();
    let err = hub.session(&k).await.expect_err("refused");
    assert!(
        matches!(&err, Error::CorruptDocument { key, .. } if *key == k),
        "{err:?}"
    );
}
