//! `RemoteMerge` against a stand-in engine: the Merge seam over HTTP, and how refusals and
//! outages are reported.

mod common;

use bytes::Bytes;
use codesync_core::loro::{ExportMode, LoroDoc, VersionVector};
use codesync_core::{ClientId, DocKey, Merge, Origin};
use codesync_merge_remote::{Error, RemoteConfig, RemoteMerge, Secret};
use common::FakeEngine;

fn typed(peer: u64, text: &str) -> LoroDoc {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.commit();
    doc
}

fn text_of(bytes: &[u8]) -> String {
    let doc = LoroDoc::new();
    doc.import(bytes).expect("import");
    doc.get_text("content").to_string()
}

#[tokio::test]
async fn the_merge_seam_over_http() {
    let engine = FakeEngine::start().await;
    let remote = engine.remote();
    let key = DocKey::parse("default", "notes").expect("key");
    let doc = typed(1, "hello");
    let update = Bytes::from(doc.export(ExportMode::all_updates()).expect("export"));

    let applied = remote
        .merge(&key, update.clone(), Origin::Client(ClientId(7)))
        .await
        .expect("merge");
    assert!(applied.durable);
    assert_eq!(applied.version, doc.oplog_vv());
    assert_eq!(applied.origin, Origin::Client(ClientId(7)));
    assert_eq!(text_of(&applied.update.expect("new ops")), "hello");
    let again = remote
        .merge(&key, update, Origin::Replay)
        .await
        .expect("merge");
    assert!(again.update.is_none(), "a duplicate adds nothing");

    assert_eq!(remote.version(&key).await.expect("version"), doc.oplog_vv());
    let missing = remote
        .missing_for(&key, &VersionVector::default())
        .await
        .expect("missing");
    assert_eq!(text_of(&missing), "hello");
    let snapshot = remote.snapshot(&key).await.expect("snapshot");
    assert_eq!(text_of(&snapshot), "hello");
    assert!(remote.is_ready().await);
}

#[tokio::test]
async fn refusals_keep_their_meaning() {
    let engine = FakeEngine::start().await;
    let key = DocKey::parse("default", "notes").expect("key");

    let intruder = engine.remote_with_secret("wrong-secret-0123456789");
    let error = intruder
        .post_merge(&key, Bytes::from_static(b"x"))
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(error, Error::Refused { status: 401, .. }),
        "{error}"
    );
    assert!(
        error.is_unavailable(),
        "a misconfiguration waits, not drops"
    );

    let remote = engine.remote();
    let error = remote
        .merge(&key, Bytes::from_static(b"garbage"), Origin::Replay)
        .await
        .expect_err("garbage");
    assert!(
        matches!(error, codesync_core::Error::InvalidUpdate { .. }),
        "{error}"
    );

    // An update building on changes the engine never saw.
    let doc = typed(2, "base");
    let base = doc.oplog_vv();
    doc.get_text("content").insert(4, " more").expect("insert");
    let tail = doc.export(ExportMode::updates(&base)).expect("export");
    let error = remote
        .post_merge(&key, Bytes::from(tail))
        .await
        .expect_err("missing deps");
    assert!(error.is_missing_dependencies(), "{error}");
    assert!(!error.is_unavailable());

    engine.set_down(true);
    let error = remote.fetch_version(&key).await.expect_err("down");
    assert!(error.is_unavailable(), "{error}");
    assert!(!remote.is_ready().await);
}

#[tokio::test]
async fn an_engine_that_is_not_there_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = RemoteConfig::new(
        &format!("http://127.0.0.1:{port}"),
        Secret::new(common::SECRET).expect("secret"),
    )
    .expect("config");
    let remote = RemoteMerge::new(config).expect("client");
    let key = DocKey::parse("default", "notes").expect("key");
    let error = remote.fetch_version(&key).await.expect_err("nobody there");
    assert!(matches!(error, Error::Unreachable { .. }), "{error}");
    assert!(error.is_unavailable());
    assert!(!remote.is_ready().await);
}
