//! Several `codesync-server` processes share sessions through a real bus (Redis or NATS)
//! and one PostgreSQL store: clients of one session on different nodes converge, see each
//! other's presence, survive a node's SIGKILL, and a node cut off from the bus catches up.
//!
//! Each test needs `CODESYNC_TEST_POSTGRES_URL` and its bus's variable,
//! `CODESYNC_TEST_REDIS_URL` or `CODESYNC_TEST_NATS_URL` (`.ci/run` sets all three).
//! Without them it prints a SKIPPED line; with `CI=true` it fails instead.

// The helpers' items are `pub` for each other, not for any outside crate.
#![allow(unreachable_pub)]

mod editor;
mod node;
mod proxy;
#[path = "../support/mod.rs"]
mod support;

use std::io::Write;
use std::time::Duration;

use editor::{Editor, Presence};
use node::{ClusterSetup, Node};
use proxy::Proxy;

const SCHEMA: &str = "codesync_cluster_test";

/// The setup for `bus_var`'s bus, or `None` (after saying so) when it is not configured.
fn setup(bus_var: &str, test: &str) -> Option<ClusterSetup> {
    let store = std::env::var("CODESYNC_TEST_POSTGRES_URL").ok();
    let bus = std::env::var(bus_var).ok();
    match (store, bus) {
        (Some(store), Some(bus)) => Some(ClusterSetup {
            bus,
            store,
            schema: SCHEMA.to_owned(),
        }),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: CI=true but CODESYNC_TEST_POSTGRES_URL or {bus_var} is not set")
        }
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {test} (set CODESYNC_TEST_POSTGRES_URL and {bus_var} to run it)"
            );
            None
        }
    }
}

/// A session name no other run uses.
fn unique_room(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{what}-{}-{nanos}", std::process::id())
}

/// Pumps every editor until all hold the same text containing each of `tokens` exactly
/// once; panics with the texts after `within`.
async fn converge(editors: &mut [Editor], tokens: &[String], within: Duration) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        for editor in editors.iter_mut() {
            editor.pump(Duration::from_millis(50)).await;
        }
        let first = editors[0].text();
        let same = editors.iter().all(|e| e.text() == first);
        let complete = tokens
            .iter()
            .all(|t| first.matches(t.as_str()).count() == 1);
        if same && complete {
            return first;
        }
        if tokio::time::Instant::now() > deadline {
            let texts: Vec<String> = editors.iter().map(Editor::text).collect();
            let missing: Vec<&String> = tokens
                .iter()
                .filter(|t| first.matches(t.as_str()).count() != 1)
                .collect();
            panic!("no convergence: missing or doubled {missing:?} in texts {texts:#?}");
        }
    }
}

/// A fresh client of `node` sees exactly `expected`.
async fn node_holds(node: &Node, room: &str, expected: &str) {
    let mut reader = Editor::connect(&node.url, room, 999).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while reader.text() != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} holds {:?}, expected {expected:?}",
            node.url,
            reader.text()
        );
        reader.pump(Duration::from_millis(100)).await;
    }
}

fn token(editor: usize, i: usize) -> String {
    format!("[e{editor}t{i}]")
}

/// Each editor types `count` tokens, all at once on their own tasks, pumping between.
async fn type_concurrently(editors: Vec<Editor>, first: usize, count: usize) -> Vec<Editor> {
    let tasks: Vec<_> = editors
        .into_iter()
        .enumerate()
        .map(|(n, mut editor)| {
            tokio::spawn(async move {
                for i in first..first + count {
                    editor.type_token(&token(n, i)).await;
                    editor.pump(Duration::from_millis(5)).await;
                }
                editor
            })
        })
        .collect();
    let mut editors = Vec::new();
    for task in tasks {
        editors.push(task.await.expect("typing task"));
    }
    editors
}

async fn concurrent_typing_converges(bus_var: &str, test: &str) {
    let Some(setup) = setup(bus_var, test) else {
        return;
    };
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(&setup, &setup.bus)).collect();
    let room = unique_room("typing");
    let mut editors = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        editors.push(Editor::connect(&node.url, &room, 100 + n as u64).await);
    }
    let mut editors = type_concurrently(editors, 0, 40).await;
    let tokens: Vec<String> = editors.iter().flat_map(|e| e.typed.clone()).collect();
    assert_eq!(tokens.len(), 120);
    let text = converge(&mut editors, &tokens, Duration::from_secs(30)).await;
    for node in &nodes {
        node_holds(node, &room, &text).await;
    }
    // A node started now knows the session only from the store, which every node compacted
    // (every 7 appends) while the others appended.
    let late = Node::start(&setup, &setup.bus);
    node_holds(&late, &room, &text).await;
}

async fn presence_crosses_nodes(bus_var: &str, test: &str) {
    let Some(setup) = setup(bus_var, test) else {
        return;
    };
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(&setup, &setup.bus)).collect();
    let room = unique_room("presence");
    let mut watcher = Presence::connect(&nodes[1].url, &room).await;
    let mut alice = Presence::connect(&nodes[0].url, &room).await;
    alice.set("alice", "line 3, column 7").await;
    let seen = watcher.wait_for("alice", Duration::from_secs(10)).await;
    assert_eq!(
        seen,
        Some("line 3, column 7".into()),
        "presence set on node 0, seen on node 1"
    );
    // A node that opens the session later asks the others for their clients' presence.
    let mut late = Presence::connect(&nodes[2].url, &room).await;
    let seen = late.wait_for("alice", Duration::from_secs(10)).await;
    assert_eq!(
        seen,
        Some("line 3, column 7".into()),
        "presence seen by a later node"
    );
    // Alice leaves: her cursor goes on every node.
    drop(alice);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while watcher.seen.get("alice").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice's cursor lingers on node 1"
        );
        let _ = watcher
            .wait_for("never-set", Duration::from_millis(100))
            .await;
    }
}

async fn sigkill_loses_no_acknowledged_update(bus_var: &str, test: &str) {
    let Some(setup) = setup(bus_var, test) else {
        return;
    };
    let mut doomed = Node::start(&setup, &setup.bus);
    let survivor = Node::start(&setup, &setup.bus);
    let room = unique_room("sigkill");
    let editors = vec![
        Editor::connect(&doomed.url, &room, 201).await,
        Editor::connect(&survivor.url, &room, 202).await,
    ];
    let mut editors = type_concurrently(editors, 0, 25).await;
    for editor in editors.iter_mut() {
        editor.pump(Duration::from_millis(200)).await;
    }
    let acked_before_kill = editors[0].acked.clone();
    assert!(
        !acked_before_kill.is_empty(),
        "the doomed node acknowledged nothing"
    );
    // Keep typing on the doomed node right up to the kill.
    editors[0].type_token("[e0-last-before-kill]").await;
    doomed.kill_9();
    editors[0].reconnect(&survivor.url).await;
    let mut editors = type_concurrently(editors, 25, 10).await;
    let mut tokens: Vec<String> = editors.iter().flat_map(|e| e.typed.clone()).collect();
    tokens.dedup();
    let text = converge(&mut editors, &tokens, Duration::from_secs(30)).await;
    for acked in acked_before_kill.iter().chain(&editors[1].acked) {
        assert_eq!(
            text.matches(acked.as_str()).count(),
            1,
            "acknowledged {acked} lost"
        );
    }
    node_holds(&survivor, &room, &text).await;
    let restarted = Node::start(&setup, &setup.bus);
    node_holds(&restarted, &room, &text).await;
}

async fn cut_off_node_catches_up(bus_var: &str, test: &str) {
    let Some(setup) = setup(bus_var, test) else {
        return;
    };
    let (scheme, target) = setup.bus.split_once("://").expect("bus URL has a scheme");
    let proxy = Proxy::start(target.trim_end_matches('/').to_owned()).await;
    let connected = Node::start(&setup, &setup.bus);
    let cut_off = Node::start(&setup, &format!("{scheme}://{}", proxy.addr));
    let room = unique_room("cutoff");
    let editors = vec![
        Editor::connect(&connected.url, &room, 301).await,
        Editor::connect(&cut_off.url, &room, 302).await,
    ];
    let mut editors = type_concurrently(editors, 0, 10).await;
    let tokens: Vec<String> = editors.iter().flat_map(|e| e.typed.clone()).collect();
    converge(&mut editors, &tokens, Duration::from_secs(30)).await;

    proxy.sever();
    let mut editors = type_concurrently(editors, 10, 10).await;
    for editor in editors.iter_mut() {
        editor.pump(Duration::from_millis(500)).await;
    }
    // While cut off, neither side sees the other's new tokens.
    assert!(
        !editors[0].text().contains(&token(1, 15)),
        "crossed a severed bus"
    );
    proxy.restore();
    let tokens: Vec<String> = editors.iter().flat_map(|e| e.typed.clone()).collect();
    let text = converge(&mut editors, &tokens, Duration::from_secs(45)).await;
    node_holds(&connected, &room, &text).await;
    node_holds(&cut_off, &room, &text).await;
}

macro_rules! bus_tests {
    ($module:ident, $var:literal) => {
        mod $module {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_typing_on_three_nodes_converges() {
                super::concurrent_typing_converges(
                    $var,
                    concat!(
                        stringify!($module),
                        "::concurrent_typing_on_three_nodes_converges"
                    ),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn presence_crosses_nodes() {
                super::presence_crosses_nodes(
                    $var,
                    concat!(stringify!($module), "::presence_crosses_nodes"),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sigkill_loses_no_acknowledged_update() {
                super::sigkill_loses_no_acknowledged_update(
                    $var,
                    concat!(
                        stringify!($module),
                        "::sigkill_loses_no_acknowledged_update"
                    ),
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cut_off_node_catches_up() {
                super::cut_off_node_catches_up(
                    $var,
                    concat!(stringify!($module), "::cut_off_node_catches_up"),
                )
                .await;
            }
        }
    };
}

bus_tests!(redis, "CODESYNC_TEST_REDIS_URL");
bus_tests!(nats, "CODESYNC_TEST_NATS_URL");
