//! Updates that make loro 1.17.1 panic (and, handled naively, abort the process) are
//! survived: the process lives, the session recovers from storage, other sessions are
//! untouched. Inputs from the shared regression set, copied into `tests/data/`.

mod common;

use std::sync::Arc;

use codesync_core::{ClientId, Error, Hub, Origin, Storage};
use common::{key, text_and_version, text_update, InstrumentedStorage};

const CLIENT: Origin = Origin::Client(ClientId(1));

fn crasher(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn import_panic_is_refused_and_the_session_reloads_from_storage() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).build();
    let victim = key("acme", "victim");
    let bystander = key("other", "bystander");
    hub.apply(&victim, &text_update(100, "victim text"), CLIENT)
        .await
        .expect("seed");
    hub.apply(&bystander, &text_update(200, "bystander text"), CLIENT)
        .await
        .expect("seed");
    let victim_before = text_and_version(&hub, &victim).await;
    let bystander_before = text_and_version(&hub, &bystander).await;
    let held = hub
        .join(&victim, b"")
        .await
        .expect("a client holds the session");
    let loads_before = storage.loads();

    let result = hub
        .apply(&victim, &crasher("import-panic-then-abort.bin"), CLIENT)
        .await;

    assert!(
        matches!(result, Err(Error::ImportPanicked { .. })),
        "{result:?}"
    );
    assert_eq!(
        storage.loads(),
        loads_before + 1,
        "the session reloaded from storage once"
    );
    assert_eq!(text_and_version(&hub, &victim).await, victim_before);
    assert_eq!(text_and_version(&hub, &bystander).await, bystander_before);
    // The connected client's handle is the same session, reloaded in place, and works.
    let applied = held
        .apply(&text_update(300, "more "))
        .await
        .expect("edit after");
    assert!(applied.durable);
    assert_eq!(
        text_and_version(&hub, &victim).await.0,
        held.session()
            .read(|d| d.get_text("content").to_string())
            .await
            .expect("read")
    );
}

#[tokio::test]
async fn accepted_then_abort_input_is_survived_and_never_compacted_into_a_snapshot() {
    let storage = Arc::new(InstrumentedStorage::default());
    let hub = Hub::builder_shared(storage.clone()).capacity(1).build();
    let victim = key("acme", "victim");
    let bystander = key("other", "bystander");
    // Peers 1 and 2 are the crafted update's own: seed with others.
    hub.apply(&bystander, &text_update(200, "bystander text"), CLIENT)
        .await
        .expect("seed");
    let bystander_before = text_and_version(&hub, &bystander).await;
    hub.apply(&victim, &text_update(100, "victim text"), CLIENT)
        .await
        .expect("seed");

    // loro accepts this update, and reading the live document works...
    hub.apply(
        &victim,
        &crasher("accepted-then-abort-on-reload.bin"),
        CLIENT,
    )
    .await
    .expect("loro accepts it");
    let victim_after = text_and_version(&hub, &victim).await;

    // ...but a snapshot of it panics when read back. Compaction proves every snapshot
    // before storing it, so it refuses, and the history stays as replayable updates.
    let session = hub.session(&victim).await.expect("session");
    let compacted = session.compact().await;
    assert!(
        matches!(compacted, Err(Error::CorruptDocument { .. })),
        "{compacted:?}"
    );
    drop(session);
    let stored = storage.load(&victim).await.expect("load").expect("stored");
    assert!(
        stored.snapshot.is_none(),
        "no unloadable snapshot was stored"
    );

    // Capacity 1: touching the bystander evicts the victim; the victim then reloads from
    // storage, intact, and keeps working.
    assert_eq!(text_and_version(&hub, &bystander).await, bystander_before);
    common::evictions_settled(&hub).await;
    let loads_before = storage.loads();
    assert_eq!(text_and_version(&hub, &victim).await, victim_after);
    assert_eq!(storage.loads(), loads_before + 1, "reloaded from storage");
    hub.apply(&victim, &text_update(300, "after "), CLIENT)
        .await
        .expect("edit after");
    assert_eq!(text_and_version(&hub, &bystander).await, bystander_before);
}
