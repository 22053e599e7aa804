//! Nodes sharing sessions through a real NATS server: set `CODESYNC_TEST_NATS_URL`
//! (e.g. `nats://127.0.0.1:4222`); skipped without it, except under `CI=true`.

#![cfg(feature = "nats")]

mod common;

use common::proxy::{target_of, Proxy};

const VAR: &str = "CODESYNC_TEST_NATS_URL";
const EXAMPLE: &str = "nats://127.0.0.1:4222";

fn urls(test: &str) -> Option<[String; 3]> {
    let url = common::service_url(VAR, EXAMPLE, test)?;
    Some([url.clone(), url.clone(), url])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_concurrent_typing_converges() {
    let Some(urls) = urls("nats_concurrent_typing_converges") else {
        return;
    };
    common::concurrent_typing_converges(&urls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_presence_spreads_and_leaves() {
    let Some(urls) = urls("nats_presence_spreads_and_leaves") else {
        return;
    };
    common::presence_spreads_and_leaves(&urls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_new_subscriber_misses_nothing() {
    let Some(urls) = urls("nats_a_new_subscriber_misses_nothing") else {
        return;
    };
    common::a_new_subscriber_misses_nothing(&urls).await;
}

/// Node C reaches NATS through a proxy the test severs and restores (the shared server
/// itself is never stopped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_cut_off_node_catches_up() {
    let Some([a, b, c]) = urls("nats_cut_off_node_catches_up") else {
        return;
    };
    let proxy = Proxy::start(target_of(&c, 4222)).await;
    let urls = [a, b, proxy.url_for(&c)];
    common::cut_off_node_catches_up(&urls, |_| proxy.sever(), |_| proxy.restore()).await;
}
