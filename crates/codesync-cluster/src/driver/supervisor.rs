//! The connection's life: watch it, and when it is lost, make it again (with backoff,
//! forever), resubscribe every session, have the hub catch up, then let the pending
//! `Refresh`es go out.

use std::sync::Arc;
use std::time::Duration;

use codesync_core::NodeMessage;
use tokio::time::{sleep, timeout, Instant};

use super::{subscriptions, Shared};
use crate::backend::Link;

/// How often the supervisor looks whether its hub still exists.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Runs until the driver shuts down or its hub is dropped.
pub(crate) async fn run(shared: Arc<Shared>, first: Arc<dyn Link>) {
    let mut link = first;
    // The first connection was installed by `start`, before anything could subscribe.
    let mut generation = shared.current().map_or(0, |c| c.generation);
    loop {
        shared.outbound.set_ready(true);
        let lost = watch(&shared, generation, &*link).await;
        shared.outbound.set_ready(false);
        shared.uninstall(generation);
        drop(link);
        if !lost {
            break;
        }
        tracing::warn!(server = %shared.backend.describe(), "cluster bus connection lost; reconnecting");
        let Some(next) = reconnect(&shared).await else {
            break;
        };
        link = next;
        generation = shared.install(link.clone());
        recover(&shared).await;
    }
    shared.shutdown.close();
    shared.inbound.close();
    tracing::info!(server = %shared.backend.describe(), "cluster bus stopped");
}

/// Waits until connection `generation` is lost (`true`) or the driver stops (`false`),
/// pinging it now and then.
async fn watch(shared: &Shared, generation: u64, link: &dyn Link) -> bool {
    let check_every = CHECK_EVERY.min(shared.config.ping_interval);
    let mut last_ping = Instant::now();
    loop {
        tokio::select! {
            () = link.closed() => return true,
            () = shared.link_lost.notified() => {
                if shared.current().map(|c| c.generation) != Some(generation) {
                    return true;
                }
            }
            () = shared.shutdown.wait() => return false,
            () = sleep(check_every) => {
                if !shared.inbound.is_open() {
                    tracing::info!("the hub is gone; stopping the cluster bus");
                    return false;
                }
                if last_ping.elapsed() >= shared.config.ping_interval {
                    last_ping = Instant::now();
                    let why = match timeout(shared.config.subscribe_timeout, link.ping()).await {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => format!("ping failed: {e}"),
                        Err(_) => "ping not answered in time".to_owned(),
                    };
                    shared.link_failed(generation, &why);
                    return true;
                }
            }
        }
    }
}

/// Connects again with exponential backoff (and jitter), forever; `None` if the driver
/// stops meanwhile.
async fn reconnect(shared: &Shared) -> Option<Arc<dyn Link>> {
    let config = &shared.config;
    let mut delay = config.reconnect_initial_delay;
    let mut attempt: u64 = 0;
    loop {
        if !shared.is_running() {
            return None;
        }
        attempt += 1;
        let why = match timeout(
            config.connect_timeout,
            shared.backend.connect(shared.sink.clone()),
        )
        .await
        {
            Ok(Ok(link)) => {
                tracing::info!(server = %shared.backend.describe(), attempt, "cluster bus reconnected");
                return Some(link);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no connection within {:?}", config.connect_timeout),
        };
        if attempt == 1 || attempt.is_multiple_of(10) {
            tracing::warn!(server = %shared.backend.describe(), attempt, error = %why, next_try_in = ?delay, "cluster bus still unreachable");
        } else {
            tracing::debug!(server = %shared.backend.describe(), attempt, error = %why, "cluster bus still unreachable");
        }
        tokio::select! {
            () = sleep(jittered(delay)) => {}
            () = shared.shutdown.wait() => return None,
        }
        delay = (delay * 2).min(config.reconnect_max_delay);
    }
}

/// Up to a quarter more, so restarted nodes do not all retry at the same instant.
fn jittered(delay: Duration) -> Duration {
    let quarter = u64::try_from(delay.as_millis() / 4).unwrap_or(u64::MAX);
    let extra = getrandom::u64().unwrap_or(0) % quarter.saturating_add(1);
    delay + Duration::from_millis(extra)
}

/// After a reconnect: resubscribe, then the hub reads the store for every live session,
/// then other nodes are asked for their presence (lost while this node was away).
async fn recover(shared: &Arc<Shared>) {
    shared.counters.reconnected();
    subscriptions::resubscribe_all(shared).await;
    if let Some(target) = shared.inbound.target() {
        target.reconnected().await;
    }
    for key in shared.subs.wanted() {
        shared
            .outbound
            .publish(&key, NodeMessage::PresenceRequest, &shared.counters);
    }
}
