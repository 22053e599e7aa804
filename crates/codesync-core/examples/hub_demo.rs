//! Run with: `cargo run -p codesync-core --example hub_demo`
//!
//! Three simulated clients type into one session at the same time through the hub; each
//! sees the others' edits as events, and all end with the same text.

use std::sync::Arc;

use codesync_core::{DocKey, Hub, MemoryStorage, SessionEvent};
use loro::{ExportMode, LoroDoc, VersionVector};

const LINES: [&str; 3] = ["fn main() {", "    println!(\"hello, codesync\");", "}"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let storage = Arc::new(MemoryStorage::new());
    let hub = Hub::builder_shared(storage.clone()).build();
    let key = DocKey::parse("demo", "main.rs")?;

    let mut clients = Vec::new();
    for (i, line) in LINES.iter().enumerate() {
        let connection = hub.join(&key, b"demo").await?;
        let doc = LoroDoc::new();
        doc.set_peer_id(i as u64 + 1)?;
        clients.push((connection, doc, *line));
    }

    // The first client lays out three empty lines; everyone starts from that.
    let mut events: Vec<_> = clients
        .iter()
        .map(|(c, _, _)| c.session().subscribe())
        .collect();
    clients[0].1.get_text("content").insert(0, "\n\n\n")?;
    let layout = clients[0].1.export(ExportMode::all_updates())?;
    clients[0].0.apply(&layout).await?;
    for (_, doc, _) in &clients[1..] {
        doc.import(&layout)?;
    }
    let mut sent: Vec<VersionVector> = clients.iter().map(|(_, d, _)| d.oplog_vv()).collect();

    // Every client types its own line, one keystroke per update, interleaved with the
    // others, at the end of that line in its own (possibly not yet up to date) copy.
    let longest = LINES.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for step in 0..longest {
        for (i, (connection, doc, line)) in clients.iter().enumerate() {
            let Some(ch) = line.chars().nth(step) else {
                continue;
            };
            let text = doc.get_text("content");
            let end_of_line = text
                .to_string()
                .match_indices('\n')
                .nth(i)
                .map_or(0, |(at, _)| at);
            text.insert(end_of_line, &ch.to_string())?;
            let update = doc.export(ExportMode::updates(&sent[i]))?;
            sent[i] = doc.oplog_vv();
            let applied = connection.apply(&update).await?;
            assert!(applied.durable, "acknowledge only durable updates");
        }
        // Deliver what each client has not seen yet (never its own updates).
        for (i, (connection, doc, _)) in clients.iter().enumerate() {
            while let Ok(event) = events[i].try_recv() {
                if let SessionEvent::Update(change) = event {
                    if !change.origin.is_client(connection.id()) {
                        doc.import(&change.update)?;
                    }
                }
            }
        }
    }

    let session = hub.session(&key).await?;
    let merged = session.read(|d| d.get_text("content").to_string()).await?;
    println!("merged document ({} bytes):\n{merged}", merged.len());
    for (i, (_, doc, _)) in clients.iter().enumerate() {
        let same = doc.get_text("content").to_string() == merged;
        println!("client {} converged: {same}", i + 1);
    }
    drop(clients);
    hub.flush_all().await?;
    let reloaded = Hub::builder_shared(storage).build();
    let stored = reloaded.session(&key).await?;
    let from_storage = stored.read(|d| d.get_text("content").to_string()).await?;
    println!(
        "reloaded from storage equals live: {}",
        from_storage == merged
    );
    Ok(())
}
