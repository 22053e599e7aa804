//! A session that keeps being edited while another is attacked: its edits must keep being
//! acknowledged and broadcast, whatever the attack does to the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use codesync_transport_ws::protocol::AckStatus;
use loro::{ExportMode, LoroDoc, VersionVector};

use super::{Peer, SendError, ServerProcess};

/// The bystander's Loro peer id: far from the ids the seeds and crashers use (1 and 2).
const PEER_ID: u64 = 0xB157;

/// An editor and a watcher in one room, editing concurrently with the caller.
#[derive(Debug)]
pub struct Bystander {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<usize, String>>,
}

impl Bystander {
    /// Joins `room` with two peers and starts editing it: one keystroke every `pace`,
    /// each of which must be acknowledged ok and reach the watcher.
    pub async fn start(
        server: &ServerProcess,
        room: &str,
        pace: Duration,
    ) -> Result<Self, SendError> {
        let mut editor = Peer::connect(server, room).await?;
        let mut watcher = Peer::connect(server, room).await?;
        editor.join(room).await?;
        watcher.join(room).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let room = room.to_owned();
        let stopping = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let doc = LoroDoc::new();
            doc.set_peer_id(PEER_ID).map_err(|e| e.to_string())?;
            let mut sent = VersionVector::default();
            let mut edits = 0;
            // At least one edit, and one more after the caller says stop: the last one is
            // proof the session works *after* the attack.
            loop {
                let last = stopping.load(Ordering::Relaxed);
                let text = doc.get_text("content");
                text.insert(text.len_unicode(), "k")
                    .map_err(|e| e.to_string())?;
                doc.commit();
                let update = doc
                    .export(ExportMode::updates(&sent))
                    .map_err(|e| e.to_string())?;
                sent = doc.oplog_vv();
                let status = editor
                    .send(&room, &update)
                    .await
                    .map_err(|e| format!("bystander edit {edits}: {e}"))?;
                if status != AckStatus::Ok {
                    return Err(format!(
                        "bystander edit {edits} was acknowledged {status:?}"
                    ));
                }
                watcher.next_broadcast(&room).await.map_err(|e| {
                    format!("bystander edit {edits} never reached the watcher: {e}")
                })?;
                edits += 1;
                if last {
                    return Ok(edits);
                }
                tokio::time::sleep(pace).await;
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops editing after one last edit; how many edits were acknowledged and broadcast,
    /// or what went wrong.
    pub async fn finish(self) -> Result<usize, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.task
            .await
            .map_err(|e| format!("the bystander task failed: {e}"))?
    }
}
