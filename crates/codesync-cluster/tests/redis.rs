//! Nodes sharing sessions through a real Redis server: set `CODESYNC_TEST_REDIS_URL`
//! (e.g. `redis://127.0.0.1:6379`); skipped without it, except under `CI=true`.

#![cfg(feature = "redis")]

mod common;

use common::proxy::{target_of, Proxy};

const VAR: &str = "CODESYNC_TEST_REDIS_URL";
const EXAMPLE: &str = "redis://127.0.0.1:6379";

fn urls(test: &str) -> Option<[String; 3]> {
    let url = common::service_url(VAR, EXAMPLE, test)?;
    Some([url.clone(), url.clone(), url])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_concurrent_typing_converges() {
    let Some(urls) = urls("redis_concurrent_typing_converges") else {
        return;
    };
    common::concurrent_typing_converges(&urls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_presence_spreads_and_leaves() {
    let Some(urls) = urls("redis_presence_spreads_and_leaves") else {
        return;
    };
    common::presence_spreads_and_leaves(&urls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_new_subscriber_misses_nothing() {
    let Some(urls) = urls("redis_a_new_subscriber_misses_nothing") else {
        return;
    };
    common::a_new_subscriber_misses_nothing(&urls).await;
}

/// Node C reaches Redis through a proxy the test severs and restores (the shared server
/// itself is never stopped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cut_off_node_catches_up() {
    let Some([a, b, c]) = urls("redis_cut_off_node_catches_up") else {
        return;
    };
    let proxy = Proxy::start(target_of(&c, 6379)).await;
    let urls = [a, b, proxy.url_for(&c)];
    common::cut_off_node_catches_up(&urls, |_| proxy.sever(), |_| proxy.restore()).await;
}
