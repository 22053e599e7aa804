//! A simulated editor: a Loro document typed into and synced through one node.

use std::collections::HashMap;
use std::time::Duration;

use codesync_transport_ws::protocol::{AckStatus, BatchId, Body, Magic};
use codesync_transport_ws::Client;
use loro::awareness::EphemeralStore;
use loro::{ExportMode, LoroDoc, LoroValue, VersionVector};

/// One user's editor connected to one node.
pub struct Editor {
    pub doc: LoroDoc,
    client: Client,
    room: String,
    /// The tokens in each batch sent but not yet acknowledged.
    pending: HashMap<BatchId, Vec<String>>,
    /// Tokens whose batch the server acknowledged: durable, must never be lost.
    pub acked: Vec<String>,
    /// Every token this editor typed.
    pub typed: Vec<String>,
    sent: VersionVector,
}

async fn join(url: &str, room: &str, magic: Magic, version: &[u8]) -> (Client, Body) {
    let mut client = Client::connect(&format!("{url}/{room}"))
        .await
        .expect("connect to a node");
    client.join(magic, room, b"", version).await.expect("join");
    let answer = tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .expect("join answer in time")
        .expect("join answer");
    (client, answer.body)
}

impl Editor {
    /// Connects to the node at `url` and joins `room` with an empty document.
    pub async fn connect(url: &str, room: &str, peer: u64) -> Editor {
        let doc = LoroDoc::new();
        doc.set_peer_id(peer).expect("peer id");
        let (client, answer) = join(url, room, Magic::Loro, &[]).await;
        assert!(
            matches!(answer, Body::JoinResponseOk { .. }),
            "join refused: {answer:?}"
        );
        Editor {
            doc,
            client,
            room: room.to_owned(),
            pending: HashMap::new(),
            acked: Vec::new(),
            typed: Vec::new(),
            sent: VersionVector::default(),
        }
    }

    /// After its node died: joins `room` on another node with the document's version and
    /// sends whatever that node lacks, as a real client's reconnect does.
    pub async fn reconnect(&mut self, url: &str) {
        let version = self.doc.oplog_vv().encode();
        let (client, answer) = join(url, &self.room, Magic::Loro, &version).await;
        let Body::JoinResponseOk { version, .. } = answer else {
            panic!("rejoin refused: {answer:?}");
        };
        self.client = client;
        let server = VersionVector::decode(&version).expect("server version");
        let unacked: Vec<String> = self.pending.drain().flat_map(|(_, t)| t).collect();
        let missing = self
            .doc
            .export(ExportMode::updates(&server))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        if server != self.doc.oplog_vv() {
            let batch = self
                .client
                .send_update(Magic::Loro, &self.room, &missing)
                .await
                .expect("resend");
            self.pending.insert(batch, unacked);
        }
    }

    /// Types `token` at the end of the text and sends it.
    pub async fn type_token(&mut self, token: &str) {
        let text = self.doc.get_text("content");
        text.insert(text.len_unicode(), token).expect("insert");
        let update = self
            .doc
            .export(ExportMode::updates(&self.sent))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        self.typed.push(token.to_owned());
        let batch = self
            .client
            .send_update(Magic::Loro, &self.room, &update)
            .await
            .expect("send");
        self.pending.insert(batch, vec![token.to_owned()]);
    }

    /// Receives for up to `window`: merges updates, records acknowledgements.
    pub async fn pump(&mut self, window: Duration) {
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(received) = tokio::time::timeout_at(deadline, self.client.recv()).await {
            let Ok(message) = received else { return };
            match message.body {
                Body::DocUpdate { updates, .. } => {
                    for update in updates {
                        self.doc
                            .import(&update)
                            .expect("a node sent an update that imports");
                    }
                }
                Body::Ack { ref_id, status } => {
                    let tokens = self.pending.remove(&ref_id).unwrap_or_default();
                    assert_eq!(status, AckStatus::Ok, "refused batch of {tokens:?}");
                    self.acked.extend(tokens);
                }
                _ => {}
            }
        }
    }

    pub fn text(&self) -> String {
        self.doc.get_text("content").to_string()
    }
}

/// A presence connection: sets this user's cursor, or watches everyone's.
pub struct Presence {
    client: Client,
    room: String,
    pub seen: EphemeralStore,
}

impl Presence {
    pub async fn connect(url: &str, room: &str) -> Presence {
        let (client, answer) = join(url, room, Magic::Ephemeral, &[]).await;
        assert!(matches!(answer, Body::JoinResponseOk { .. }), "{answer:?}");
        Presence {
            client,
            room: room.to_owned(),
            seen: EphemeralStore::new(60_000),
        }
    }

    pub async fn set(&mut self, key: &str, value: &str) {
        let store = EphemeralStore::new(60_000);
        store.set(key, value);
        self.client
            .send_update(Magic::Ephemeral, &self.room, &store.encode_all())
            .await
            .expect("send presence");
    }

    /// Receives until `key` holds a value or `within` passes; returns the value.
    pub async fn wait_for(&mut self, key: &str, within: Duration) -> Option<LoroValue> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(value) = self.seen.get(key) {
                return Some(value);
            }
            let Ok(Ok(message)) = tokio::time::timeout_at(deadline, self.client.recv()).await
            else {
                return None;
            };
            if let Body::DocUpdate { updates, .. } = message.body {
                for update in updates {
                    self.seen.apply(&update).expect("presence decodes");
                }
            }
        }
    }
}
