//! What every bus must do, written once and run over the memory network, Redis and NATS:
//! three hubs sharing one store, each with its own bus.

#![allow(dead_code, unreachable_pub)]

pub mod proxy;

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codesync_cluster::{connect_driver, ClusterConfig, ClusterDriver};
use codesync_core::loro::awareness::EphemeralStore;
use codesync_core::loro::{ExportMode, LoroDoc, VersionVector};
use codesync_core::{Connection, DocKey, Hub, MemoryStorage, Storage};
use tokio::time::Instant;

/// How long anything may take to propagate before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The URL of a real server from `var`; without it, says the test is skipped and returns
/// `None`, unless `CI=true`, where a missing server is a failure.
pub fn service_url(var: &str, example: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("{test}: {var} is not set, and CI=true: this test must run against a real server");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {test} (set {var}, e.g. {var}={example}, to run it)"
            );
            None
        }
    }
}

/// A session name no other test or run uses.
pub fn unique_key(name: &str) -> DocKey {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    DocKey::parse(
        "cluster-tests",
        &format!("{name}-{}-{nanos}-{n}", std::process::id()),
    )
    .expect("valid key")
}

/// Settings that notice and mend failures quickly.
pub fn test_config() -> ClusterConfig {
    ClusterConfig::default()
        .with_prefix("codesync-test")
        .with_ping_interval(Duration::from_millis(200))
        .with_reconnect_delay(Duration::from_millis(20), Duration::from_millis(200))
}

/// Hubs sharing one store, each on its own bus.
pub struct Nodes {
    pub hubs: Vec<Hub>,
    pub buses: Vec<Arc<ClusterDriver>>,
}

/// One node per URL, all on one `MemoryStorage`.
pub async fn nodes(urls: &[String]) -> Nodes {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let mut hubs = Vec::new();
    let mut buses = Vec::new();
    for url in urls {
        let bus = connect_driver(url, test_config())
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        hubs.push(
            Hub::builder_shared(storage.clone())
                .cluster(bus.clone())
                .build(),
        );
        buses.push(bus);
    }
    Nodes { hubs, buses }
}

/// Polls `check` until it returns `Ok`; fails with its last complaint after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        match check().await {
            Ok(()) => return,
            Err(complaint) if Instant::now() >= deadline => {
                panic!("timed out waiting until {what}: {complaint}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The session's text on `hub`.
pub async fn text(hub: &Hub, key: &DocKey) -> String {
    hub.session(key)
        .await
        .expect("session")
        .read(|d| d.get_text("content").to_string())
        .await
        .expect("read")
}

/// Waits until every hub holds the same text, with `counts` of each character.
pub async fn converged(hubs: &[Hub], key: &DocKey, counts: &[(char, usize)]) {
    eventually("every node holds the same, complete text", || async {
        let mut texts = Vec::new();
        for hub in hubs {
            texts.push(text(hub, key).await);
        }
        for (c, n) in counts {
            for (i, text) in texts.iter().enumerate() {
                let have = text.chars().filter(|x| x == c).count();
                if have != *n {
                    return Err(format!("node {i} has {have} of {n} {c:?}s: {texts:?}"));
                }
            }
        }
        if texts.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("texts differ: {texts:?}"));
        }
        Ok(())
    })
    .await;
}

/// A client editing its own copy and sending each edit to its node.
pub struct Typist {
    doc: LoroDoc,
    sent: VersionVector,
    pub connection: Connection,
}

impl Typist {
    pub async fn join(hub: &Hub, key: &DocKey) -> Self {
        Self {
            doc: LoroDoc::new(),
            sent: VersionVector::default(),
            connection: hub.join(key, b"").await.expect("join"),
        }
    }

    /// Appends `text` to its copy and sends the new ops; they must become durable.
    pub async fn type_text(&mut self, text: &str) {
        let content = self.doc.get_text("content");
        content.insert(content.len_unicode(), text).expect("insert");
        let update = self
            .doc
            .export(ExportMode::updates(&self.sent))
            .expect("export");
        self.sent = self.doc.oplog_vv();
        let applied = self.connection.apply(&update).await.expect("apply");
        assert!(applied.durable, "the update was not stored");
    }

    /// Types `c` `times` times, one edit each, letting other tasks run in between.
    pub async fn type_chars(mut self, c: char, times: usize) -> Self {
        for _ in 0..times {
            self.type_text(&c.to_string()).await;
            tokio::task::yield_now().await;
        }
        self
    }
}

/// Three nodes, a client on each typing at once: every node ends with the same text.
/// Before, they idle for a second of pings (every 200 ms), which must not drop anything.
pub async fn concurrent_typing_converges(urls: &[String; 3]) {
    let nodes = nodes(urls).await;
    let key = unique_key("converge");
    tokio::time::sleep(Duration::from_secs(1)).await;
    for bus in &nodes.buses {
        let stats = bus.stats();
        assert!(stats.connected && stats.reconnects == 0, "{stats:?}");
    }
    let mut tasks = Vec::new();
    for (hub, c) in nodes.hubs.iter().zip(['a', 'b', 'c']) {
        let typist = Typist::join(hub, &key).await;
        tasks.push(tokio::spawn(typist.type_chars(c, 25)));
    }
    let mut typists = Vec::new();
    for task in tasks {
        typists.push(task.await.expect("typist"));
    }
    converged(&nodes.hubs, &key, &[('a', 25), ('b', 25), ('c', 25)]).await;
    for bus in &nodes.buses {
        assert!(bus.stats().published > 0 && bus.stats().received > 0);
    }
}

fn shows_cursor(connection: &Connection) -> Result<(), String> {
    let keys = connection.session().presence_keys();
    if keys.iter().any(|k| k == "cursor-alice") {
        Ok(())
    } else {
        Err(format!("presence keys: {keys:?}"))
    }
}

/// Sets a presence key through `connection`.
fn set_cursor(connection: &Connection) {
    let store = EphemeralStore::new(30_000);
    store.set("cursor-alice", "line 7");
    connection
        .apply_presence(&store.encode_all())
        .expect("presence");
}

/// A presence key set through node A shows on B and C; it goes when A's client leaves.
pub async fn presence_spreads_and_leaves(urls: &[String; 3]) {
    let nodes = nodes(urls).await;
    let key = unique_key("presence");
    let on_a = nodes.hubs[0].join(&key, b"").await.expect("join A");
    let on_b = nodes.hubs[1].join(&key, b"").await.expect("join B");
    let on_c = nodes.hubs[2].join(&key, b"").await.expect("join C");
    set_cursor(&on_a);
    for (name, connection) in [("B", &on_b), ("C", &on_c)] {
        eventually(&format!("{name} sees A's cursor"), || async {
            shows_cursor(connection)
        })
        .await;
    }
    drop(on_a);
    for (name, connection) in [("B", &on_b), ("C", &on_c)] {
        eventually(&format!("{name} no longer sees A's cursor"), || async {
            match shows_cursor(connection) {
                Ok(()) => Err("still there".to_owned()),
                Err(_) => Ok(()),
            }
        })
        .await;
    }
}

/// A node that opens a session after A's client set its presence asks for it
/// (`PresenceRequest`) and gets it.
pub async fn a_late_joiner_gets_presence(urls: &[String; 3]) {
    let nodes = nodes(urls).await;
    let key = unique_key("late-presence");
    let on_a = nodes.hubs[0].join(&key, b"").await.expect("join A");
    set_cursor(&on_a);
    let on_b = nodes.hubs[1].join(&key, b"").await.expect("join B");
    eventually("B, joining later, sees A's cursor", || async {
        shows_cursor(&on_b)
    })
    .await;
}

/// Node C is cut off (by `cut`) while clients type on A and on C; once restored, every
/// node converges: C catches up from the store, and its Refresh makes A and B read what
/// it stored while away.
pub async fn cut_off_node_catches_up<Cut, Restore>(urls: &[String; 3], cut: Cut, restore: Restore)
where
    Cut: FnOnce(&Nodes),
    Restore: FnOnce(&Nodes),
{
    let nodes = nodes(urls).await;
    let key = unique_key("reconnect");
    let mut on_a = Typist::join(&nodes.hubs[0], &key).await;
    let _on_b = Typist::join(&nodes.hubs[1], &key).await;
    let on_c = Typist::join(&nodes.hubs[2], &key).await;
    on_a.type_text("aaaaa").await;
    converged(&nodes.hubs, &key, &[('a', 5)]).await;

    cut(&nodes);
    let c_bus = nodes.buses[2].clone();
    eventually("C notices it is cut off", || async {
        if c_bus.is_connected() {
            Err("still connected".to_owned())
        } else {
            Ok(())
        }
    })
    .await;
    let (on_a, on_c) = tokio::join!(on_a.type_chars('a', 10), on_c.type_chars('c', 10));
    // While cut off, nothing typed on one side reaches the other.
    assert_eq!(text(&nodes.hubs[0], &key).await.matches('c').count(), 0);
    assert_eq!(text(&nodes.hubs[2], &key).await.matches('a').count(), 5);

    restore(&nodes);
    converged(&nodes.hubs, &key, &[('a', 15), ('c', 10)]).await;
    assert!(c_bus.stats().reconnects >= 1);
    drop((on_a, on_c));
}

/// A node that subscribes (on join) receives the very next update another node makes:
/// `subscribe` returned only once the server had the subscription.
pub async fn a_new_subscriber_misses_nothing(urls: &[String; 3]) {
    let nodes = nodes(urls).await;
    for round in 0..10 {
        let key = unique_key(&format!("late-{round}"));
        let mut on_a = Typist::join(&nodes.hubs[0], &key).await;
        let _on_b = nodes.hubs[1].join(&key, b"").await.expect("join B");
        on_a.type_text("x").await;
        eventually(
            "B has the update made right after it subscribed",
            || async {
                let text = text(&nodes.hubs[1], &key).await;
                if text == "x" {
                    Ok(())
                } else {
                    Err(format!("B has {text:?}"))
                }
            },
        )
        .await;
    }
}
