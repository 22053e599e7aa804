//! The engine's HTTP API, against the real binary.

mod common;

use common::{Engine, SECRET};
use loro::{ExportMode, LoroDoc, VersionVector};

/// A document written by peer `peer`, with `text` inserted at the start.
fn typed(peer: u64, text: &str) -> LoroDoc {
    let doc = LoroDoc::new();
    doc.set_peer_id(peer).expect("peer id");
    doc.get_text("content").insert(0, text).expect("insert");
    doc.commit();
    doc
}

fn all_updates(doc: &LoroDoc) -> Vec<u8> {
    doc.export(ExportMode::all_updates()).expect("export")
}

fn content(doc: &LoroDoc) -> String {
    doc.get_text("content").to_string()
}

#[tokio::test]
async fn refuses_a_missing_or_wrong_secret_before_touching_the_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]).await;
    let update = all_updates(&typed(1, "secret stuff"));
    let wrong_same_length: String = SECRET.chars().rev().collect();
    let cases: [&[(&str, &str)]; 4] = [
        &[],
        &[("X-Internal-Auth", "wrong")],
        &[("X-Internal-Auth", &wrong_same_length)],
        &[("X-Internal-Auth", &format!("{SECRET}x"))],
    ];
    for headers in cases {
        for (method, path) in [
            ("POST", "/merge/notes"),
            ("GET", "/version/notes"),
            ("POST", "/updates-since/notes"),
        ] {
            let r = engine.request(method, path, headers, &update).await;
            assert_eq!(
                r.status,
                401,
                "{method} {path} with {headers:?}: {}",
                r.text()
            );
            assert_eq!(r.header("x-codesync-error"), Some("unauthorized"));
        }
    }
    // Nothing was merged.
    assert_eq!(engine.version("notes").await, VersionVector::default());
    // Even an invalid session id is refused as unauthorized first: nothing is parsed.
    let r = engine.request("POST", "/merge/_reserved", &[], b"").await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn merge_answers_with_a_snapshot_holding_the_merged_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]).await;
    let alice = typed(1, "fn main() {}");
    let r = engine.merge("main.rs", &all_updates(&alice)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));

    // Bob edits concurrently, without having seen Alice's text.
    let bob = typed(2, "// header\n");
    let r = engine.merge("main.rs", &all_updates(&bob)).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let fresh = LoroDoc::new();
    fresh.import(&r.body).expect("the snapshot imports");
    alice.import(&all_updates(&bob)).expect("merge locally");
    assert_eq!(content(&fresh), content(&alice));
    assert!(content(&fresh).contains("fn main() {}"));
    assert!(content(&fresh).contains("// header"));
    // The version header describes exactly the snapshot.
    assert_eq!(r.version(), fresh.oplog_vv());
    assert_eq!(engine.version("main.rs").await, fresh.oplog_vv());

    // A duplicate is accepted and changes nothing.
    let again = engine.merge("main.rs", &all_updates(&bob)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.version(), fresh.oplog_vv());
}

#[tokio::test]
async fn tenants_are_separate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]).await;
    let update = all_updates(&typed(1, "acme's"));
    let headers = [("X-Internal-Auth", SECRET), ("X-Codesync-Tenant", "acme")];
    let r = engine
        .request("POST", "/merge/doc", &headers, &update)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Same session id, default tenant: empty.
    assert_eq!(engine.version("doc").await, VersionVector::default());
    let r = engine.request("GET", "/version/doc", &headers, b"").await;
    assert_eq!(
        VersionVector::decode(&r.body).expect("vv"),
        typed(1, "acme's").oplog_vv()
    );

    let bad = [
        ("X-Internal-Auth", SECRET),
        ("X-Codesync-Tenant", "no spaces"),
    ];
    let r = engine.request("POST", "/merge/doc", &bad, &update).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("x-codesync-error"), Some("invalid-id"));
}

#[tokio::test]
async fn an_update_over_the_size_cap_is_413_and_leaves_the_document_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--max-document-bytes", "1000"]).await;
    let doc = typed(1, "small start;");
    assert_eq!(engine.merge("capped", &all_updates(&doc)).await.status, 200);
    let before = engine.version("capped").await;

    let sent = doc.oplog_vv();
    doc.get_text("content")
        .insert(0, &"x".repeat(2000))
        .expect("insert");
    doc.commit();
    let big = doc.export(ExportMode::updates(&sent)).expect("export");
    let r = engine.merge("capped", &big).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.header("x-codesync-error"), Some("document-too-large"));
    assert!(r.text().contains("cap"), "{}", r.text());

    assert_eq!(engine.version("capped").await, before);
    assert_eq!(content(&engine.document("capped").await), "small start;");
}

#[tokio::test]
async fn a_request_body_over_the_limit_is_413() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--max-body-bytes", "4096"]).await;
    let r = engine.merge("big", &vec![0_u8; 64 * 1024]).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.header("x-codesync-error"), Some("body-too-large"));
    assert_eq!(engine.version("big").await, VersionVector::default());
}

#[tokio::test]
async fn corrupt_bytes_missing_dependencies_and_bad_ids_are_400() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]).await;

    let r = engine.merge("bad", b"this is not a loro update").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("x-codesync-error"), Some("invalid-update"));
    assert!(r.text().contains("corrupt"), "{}", r.text());

    // An update building on ops the engine never saw.
    let doc = typed(1, "first;");
    let seen = doc.oplog_vv();
    doc.get_text("content")
        .insert(0, "second;")
        .expect("insert");
    doc.commit();
    let second = doc.export(ExportMode::updates(&seen)).expect("export");
    let r = engine.merge("bad", &second).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("x-codesync-error"), Some("missing-dependencies"));
    assert!(r.text().contains("missing dependencies"), "{}", r.text());
    assert_eq!(engine.version("bad").await, VersionVector::default());

    for path in ["/merge/_reserved", "/merge/a%20b", "/merge/.hidden"] {
        let r = engine.authed("POST", path, &all_updates(&doc)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert_eq!(r.header("x-codesync-error"), Some("invalid-id"), "{path}");
    }
}

#[tokio::test]
async fn updates_since_returns_exactly_what_the_holder_lacks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]).await;
    let alice = typed(1, "hello");
    let r = engine.merge("shared", &all_updates(&alice)).await;
    assert_eq!(r.status, 200);
    // A gateway holding the document at this version...
    let holder = LoroDoc::new();
    holder.import(&r.body).expect("import");
    let held = r.version();

    // ...misses Bob's edit.
    let bob = LoroDoc::new();
    bob.set_peer_id(2).expect("peer");
    bob.import(&all_updates(&alice)).expect("import");
    bob.get_text("content").insert(5, " world").expect("insert");
    bob.commit();
    let r = engine
        .merge(
            "shared",
            &bob.export(ExportMode::updates(&held)).expect("export"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let r = engine
        .authed("POST", "/updates-since/shared", &held.encode())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.version(), bob.oplog_vv());
    let status = holder.import(&r.body).expect("import what was missing");
    assert!(status.pending.is_none(), "nothing left pending");
    // Exactly Bob's ops: none of Alice's, which the holder already had.
    let imported: Vec<_> = status.success.iter().map(|(p, r)| (*p, *r)).collect();
    assert_eq!(imported, vec![(2, (0, 6))]);
    assert_eq!(content(&holder), "hello world");
    assert_eq!(holder.oplog_vv(), bob.oplog_vv());

    // A holder that is up to date gets nothing new.
    let r = engine
        .authed("POST", "/updates-since/shared", &bob.oplog_vv().encode())
        .await;
    assert_eq!(r.status, 200);
    let status = holder.import(&r.body).expect("import");
    assert!(status.success.iter().next().is_none(), "{status:?}");

    // A body that is not a version vector.
    let r = engine
        .authed("POST", "/updates-since/shared", &[0xff; 9])
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("x-codesync-error"), Some("invalid-version"));
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]).await;
    assert_eq!(
        engine.request("GET", "/healthz", &[], b"").await.status,
        200
    );
    assert_eq!(engine.request("GET", "/readyz", &[], b"").await.status, 200);

    assert_eq!(
        engine
            .merge("m", &all_updates(&typed(1, "abc")))
            .await
            .status,
        200
    );
    assert_eq!(
        engine.request("POST", "/merge/m", &[], b"").await.status,
        401
    );
    let r = engine.request("GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    let text = r.text();
    for needle in [
        "codesync_engine_updates_merged_total{kind=\"new\"} 1",
        "codesync_engine_merged_bytes_total",
        "codesync_engine_rejections_total{reason=\"unauthorized\"} 1",
        "codesync_engine_live_sessions 1",
        "codesync_engine_merge_duration_seconds_bucket",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // Server routes are not sessions and need no secret; unknown paths are 404.
    assert_eq!(
        engine.request("GET", "/nothing", &[], b"").await.status,
        404
    );
}
