//! SIGTERM flushes and exits cleanly; a restarted engine still has every merged update.

mod common;

use common::Engine;
use loro::{ExportMode, LoroDoc, VersionVector};

#[tokio::test]
async fn merged_updates_survive_sigterm_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]).await;
    let doc = LoroDoc::new();
    doc.set_peer_id(7).expect("peer");
    let mut sent = VersionVector::default();
    for i in 0..10 {
        doc.get_text("content")
            .insert(0, &format!("edit{i};"))
            .expect("insert");
        doc.commit();
        let update = doc.export(ExportMode::updates(&sent)).expect("export");
        sent = doc.oplog_vv();
        let r = engine.merge("notes", &update).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let before = engine.version("notes").await;
    assert!(engine.terminate(), "clean exit after SIGTERM");

    let restarted = Engine::start(dir.path(), &[]).await;
    assert_eq!(restarted.version("notes").await, before);
    let stored = restarted.document("notes").await;
    assert_eq!(
        stored.get_text("content").to_string(),
        doc.get_text("content").to_string()
    );
    assert!(restarted.terminate(), "clean exit after SIGTERM");
}
