//! Convergence: 2–6 peers edit concurrently (inserts and deletes, multi-byte Unicode) and
//! exchange updates through the hub in random order, with duplicates, delays and
//! out-of-order deltas; in the end every peer's text equals the hub's, and the hub's
//! equals what storage reloads.

mod common;

use codesync_core::{ClientId, DocKey, Error, Hub, MemoryStorage, Origin};
use loro::{ExportMode, LoroDoc, VersionVector};
use proptest::prelude::*;

const PIECES: &[&str] = &["a", "é", "中文", "🙂", "e\u{301}", "\n", "fn ", "ß"];

#[derive(Debug, Clone)]
enum Action {
    Edit {
        peer: usize,
        at: f64,
        piece: usize,
        delete: usize,
    },
    Send {
        peer: usize,
        delta_only: bool,
    },
    Deliver {
        pick: usize,
        keep_copy: bool,
    },
    Receive {
        peer: usize,
        pick: usize,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..6usize, 0.0..1.0f64, 0..PIECES.len(), 0..4usize)
            .prop_map(|(peer, at, piece, delete)| Action::Edit { peer, at, piece, delete }),
        2 => (0..6usize, any::<bool>()).prop_map(|(peer, delta_only)| Action::Send { peer, delta_only }),
        3 => (any::<usize>(), prop::bool::weighted(0.2))
            .prop_map(|(pick, keep_copy)| Action::Deliver { pick, keep_copy }),
        3 => (0..6usize, any::<usize>()).prop_map(|(peer, pick)| Action::Receive { peer, pick }),
    ]
}

struct Peer {
    doc: LoroDoc,
    /// The hub is known to hold at least this.
    acked: VersionVector,
    /// What the last send covered (for delta-only sends, which may arrive out of order).
    sent: VersionVector,
    inbox: Vec<bytes::Bytes>,
}

struct InFlight {
    from: usize,
    bytes: Vec<u8>,
}

async fn deliver(hub: &Hub, key: &DocKey, peers: &mut [Peer], msg: &InFlight) {
    match hub
        .apply(key, &msg.bytes, Origin::Client(ClientId(msg.from as u64)))
        .await
    {
        Ok(applied) => {
            assert!(applied.durable);
            if let Some(update) = &applied.update {
                for (i, p) in peers.iter_mut().enumerate() {
                    if i != msg.from {
                        p.inbox.push(update.clone());
                    }
                }
            }
            peers[msg.from].acked = applied.version.clone();
        }
        // A delta that overtook its predecessor: the client resyncs on its next send.
        Err(Error::MissingDependencies { .. }) => {
            peers[msg.from].sent = peers[msg.from].acked.clone()
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn run(peer_count: usize, actions: Vec<Action>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let storage = std::sync::Arc::new(MemoryStorage::new());
        let hub = Hub::builder_shared(storage.clone()).build();
        let key = DocKey::parse("acme", "shared.rs").expect("key");
        let mut peers: Vec<Peer> = (0..peer_count)
            .map(|i| {
                let doc = LoroDoc::new();
                doc.set_peer_id(i as u64 + 1).expect("peer id");
                Peer {
                    doc,
                    acked: VersionVector::default(),
                    sent: VersionVector::default(),
                    inbox: vec![],
                }
            })
            .collect();
        let mut in_flight: Vec<InFlight> = vec![];

        for action in actions {
            match action {
                Action::Edit {
                    peer,
                    at,
                    piece,
                    delete,
                } => {
                    let p = &peers[peer % peer_count];
                    let text = p.doc.get_text("content");
                    let len = text.len_unicode();
                    let pos = ((len as f64) * at) as usize;
                    let del = delete.min(len - pos.min(len));
                    if del > 0 {
                        text.delete(pos, del).expect("delete");
                    }
                    text.insert(pos.min(text.len_unicode()), PIECES[piece])
                        .expect("insert");
                    p.doc.commit();
                }
                Action::Send { peer, delta_only } => {
                    let from = peer % peer_count;
                    let p = &mut peers[from];
                    let base = if delta_only { &p.sent } else { &p.acked };
                    let bytes = p.doc.export(ExportMode::updates(base)).expect("export");
                    p.sent = p.doc.oplog_vv();
                    in_flight.push(InFlight { from, bytes });
                }
                Action::Deliver { pick, keep_copy } if !in_flight.is_empty() => {
                    let i = pick % in_flight.len();
                    let msg = if keep_copy {
                        InFlight {
                            from: in_flight[i].from,
                            bytes: in_flight[i].bytes.clone(),
                        }
                    } else {
                        in_flight.swap_remove(i)
                    };
                    deliver(&hub, &key, &mut peers, &msg).await;
                }
                Action::Receive { peer, pick } => {
                    let p = &mut peers[peer % peer_count];
                    if !p.inbox.is_empty() {
                        let update = p.inbox.swap_remove(pick % p.inbox.len());
                        p.doc.import(&update).expect("peer import");
                    }
                }
                Action::Deliver { .. } => {}
            }
        }

        // Drain: deliver what is in flight, then every peer uploads what the hub lacks and
        // downloads what it lacks.
        for msg in std::mem::take(&mut in_flight) {
            deliver(&hub, &key, &mut peers, &msg).await;
        }
        for from in 0..peer_count {
            let bytes = peers[from]
                .doc
                .export(ExportMode::updates(&peers[from].acked))
                .expect("export");
            deliver(&hub, &key, &mut peers, &InFlight { from, bytes }).await;
        }
        let session = hub.session(&key).await.expect("session");
        let hub_text = session
            .read(|d| d.get_text("content").to_string())
            .await
            .expect("read");
        for p in &peers {
            let missing = session
                .missing_for(&p.doc.oplog_vv())
                .await
                .expect("missing");
            p.doc.import(&missing).expect("import");
            assert_eq!(p.doc.get_text("content").to_string(), hub_text);
        }
        let reloaded = Hub::builder_shared(storage).build();
        let stored_text = reloaded
            .session(&key)
            .await
            .expect("reload")
            .read(|d| d.get_text("content").to_string())
            .await
            .expect("read");
        assert_eq!(stored_text, hub_text);
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_peer_converges_to_the_hub(peer_count in 2usize..=6, actions in prop::collection::vec(action(), 1..120)) {
        run(peer_count, actions);
    }
}
