//! Nodes sharing sessions over the in-process memory network (always runs).

mod common;

use codesync_cluster::{connect, ClusterConfig, ClusterError, MemoryNetwork};
use codesync_core::NodeId;
use common::{converged, eventually, nodes, text, unique_key, Typist};

/// Three `memory://` URLs on a network of their own, and that network (for its hooks).
fn network() -> ([String; 3], MemoryNetwork) {
    let name = unique_key("net").session().to_string();
    let url = format!("memory://{name}");
    let network = MemoryNetwork::named(&name);
    ([url.clone(), url.clone(), url], network)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_concurrent_typing_converges() {
    let (urls, _network) = network();
    common::concurrent_typing_converges(&urls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_presence_spreads_and_leaves() {
    let (urls, _network) = network();
    common::presence_spreads_and_leaves(&urls).await;
}

/// The in-process bus answers fast: this once caught replies arriving before the asking
/// session was in its slot (the hub now asks only after it is).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_a_late_joiner_gets_presence() {
    let (urls, _network) = network();
    common::a_late_joiner_gets_presence(&urls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_cut_off_node_catches_up() {
    let (urls, network) = network();
    let (cut, restore) = (network.clone(), network.clone());
    common::cut_off_node_catches_up(
        &urls,
        move |nodes| cut.cut_off(nodes.buses[2].node_id()),
        move |nodes| restore.restore(nodes.buses[2].node_id()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_a_new_subscriber_misses_nothing() {
    let (urls, _network) = network();
    common::a_new_subscriber_misses_nothing(&urls).await;
}

/// B loses one update without noticing (its connection stays up); the next update
/// depends on it, so B reads the store, and has both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_missing_dependencies_are_read_from_the_store() {
    let (urls, network) = network();
    let nodes = nodes(&urls[..2]).await;
    let key = unique_key("deps");
    let mut on_a = Typist::join(&nodes.hubs[0], &key).await;
    let _on_b = Typist::join(&nodes.hubs[1], &key).await;
    let b = nodes.buses[1].node_id();

    network.set_deaf(b, true);
    on_a.type_text("hello").await;
    network.set_deaf(b, false);
    assert_eq!(
        text(&nodes.hubs[1], &key).await,
        "",
        "B was meant to miss it"
    );

    on_a.type_text(" world").await;
    converged(&nodes.hubs, &key, &[('o', 2), ('l', 3)]).await;
    assert_eq!(text(&nodes.hubs[1], &key).await, "hello world");
    assert_eq!(
        nodes.buses[1].stats().reconnects,
        0,
        "mended without a reconnect"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_dropping_a_hub_ends_its_bus() {
    let (urls, network) = network();
    let mut nodes = nodes(&urls[..1]).await;
    let node: NodeId = nodes.buses[0].node_id();
    assert_eq!(network.connections(node), 1);
    drop(nodes.hubs.pop());
    // The test still holds the bus; only the hub is gone.
    eventually("the bus has stopped", || async {
        match network.connections(node) {
            0 => Ok(()),
            n => Err(format!("{n} connections open")),
        }
    })
    .await;
    assert!(!nodes.buses[0].is_connected());
}

#[tokio::test]
async fn bad_urls_are_refused_clearly() {
    let refused = |result: Result<_, ClusterError>| match result {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    let e = refused(connect("ftp://host", ClusterConfig::default()).await);
    assert!(matches!(e, ClusterError::UnknownScheme { .. }), "{e}");
    let e = refused(connect("no scheme", ClusterConfig::default()).await);
    assert!(matches!(e, ClusterError::UnknownScheme { .. }), "{e}");
    let e = refused(connect("memory://x", ClusterConfig::default().with_prefix("a b")).await);
    assert!(matches!(e, ClusterError::InvalidConfig(_)), "{e}");

    let e = refused(connect("redis://u:secret@127.0.0.1:1", ClusterConfig::default()).await);
    assert!(!e.to_string().contains("secret"), "{e}");
    if cfg!(feature = "redis") {
        assert!(matches!(e, ClusterError::Connect { .. }), "{e}");
        let e = refused(connect("rediss://127.0.0.1:1", ClusterConfig::default()).await);
        assert!(matches!(e, ClusterError::Unsupported { .. }), "{e}");
    } else {
        assert!(matches!(e, ClusterError::FeatureDisabled { .. }), "{e}");
    }
    let e = refused(connect("nats://127.0.0.1:1", ClusterConfig::default()).await);
    if cfg!(feature = "nats") {
        assert!(matches!(e, ClusterError::Connect { .. }), "{e}");
    } else {
        assert!(matches!(e, ClusterError::FeatureDisabled { .. }), "{e}");
    }
}
