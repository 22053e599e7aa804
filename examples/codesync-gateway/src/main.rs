//! Run with: `cargo run --release -p codesync-gateway -- --engine-url http://127.0.0.1:8090`
//! after `export CODESYNC_INTERNAL_AUTH=...` (the same secret the engine was started with).
//!
//! The seed's WebSocket gateway, in Rust. Browsers connect to `ws://ADDR/<SESSION_ID>` and
//! speak the Loro protocol v1. Each client update is merged into the session's document in
//! this process and made durable in the gateway's own SQLite store (`--data`) before the
//! client is acknowledged; it is broadcast to the session's other clients at once and,
//! concurrently, sent to the CRDT engine (`POST /merge/{id}`).
//!
//! When the engine is unreachable the gateway keeps merging in-process (the fallback
//! Merge), probes the engine's `/readyz` with backoff, and once it is back replays to it
//! exactly what it missed. Sessions loaded here first pull what the engine has that the
//! gateway lacks. The remote Merge and this fallback live in the `codesync-merge-remote`
//! crate (`RemoteMerge`, `EngineSync`); `codesync-core` stays I/O-free.
//!
//! Own routes under `/_/`: `/_/healthz`, `/_/readyz`, `/_/metrics` (Prometheus). The origin
//! allow-list (`--allowed-origin`) and the per-IP rate limit (1000 requests/minute, then a
//! 10-minute block) apply before the upgrade. SIGTERM or Ctrl-C flushes every session
//! (and gives the engine a moment to receive what is in flight) before exit.

mod app;
mod cli;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use codesync_core::{Hub, Limits, LimitsConfig, OpenPolicy, TenantId};
use codesync_guard::{GuardConfig, ProcessGuard};
use codesync_merge_remote::{EngineSync, RemoteConfig, RemoteMerge, Secret, SyncConfig};
use codesync_store::SqliteStorage;
use codesync_transport_ws::security::{ClientIp, OriginPolicy, RateLimitConfig, TrustedProxy};
use codesync_transport_ws::{EndpointConfig, WsEndpoint};

use cli::{Cli, ProxyMode};

/// The environment variable holding the engine's secret. Not a flag: flags show in
/// process listings.
const SECRET_ENV: &str = "CODESYNC_INTERNAL_AUTH";

/// How long the final flush may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long shutdown waits for updates in flight to reach the engine (whatever does not
/// is in the gateway's store and replayed by the next start).
const ENGINE_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    // The untrusted-input guard starts this executable again as its worker.
    codesync_guard::run_worker_if_requested();
    tokio::runtime::Runtime::new()
        .context("starting the tokio runtime")?
        .block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the banner naming the bound address.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,loro=warn,loro_internal=warn")
            }),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let secret = read_secret()?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;

    let remote = RemoteConfig::new(&cli.engine_url, secret)
        .context("--engine-url")?
        .with_request_timeout(Duration::from_millis(cli.engine_timeout_ms));
    let remote = RemoteMerge::new(remote).context("building the engine client")?;
    let sync_config = SyncConfig::default().with_backoff(
        Duration::from_millis(100),
        Duration::from_millis(cli.engine_max_backoff_ms),
    );
    let sync = EngineSync::new(remote, sync_config);

    let path = cli.data.join("codesync.sqlite3");
    let storage = SqliteStorage::open(&path)
        .with_context(|| format!("opening the gateway's store at {}", path.display()))?;
    let limits = LimitsConfig::default()
        .with_default(Limits::default().with_max_document_bytes(cli.max_document_bytes));
    // Client updates are tried in the guard's worker before this gateway merges them, so
    // the engine, which trusts its gateways, only ever receives updates that passed it.
    let guard = ProcessGuard::spawn(GuardConfig::default())
        .context("starting the untrusted-input guard")?;
    let hub = Hub::builder(storage)
        .capacity(cli.capacity)
        .policy(sync.policy(OpenPolicy::new(limits)))
        .guard(Arc::new(guard))
        .build();
    let sync_task = sync.start(hub.clone())?;
    // Replay marks of a previous run are gone: check every stored session against the
    // engine, so updates it missed while this gateway was down or crashed still reach it.
    let tenant = TenantId::default_tenant();
    let marked = sync
        .reconcile_stored(&hub, &tenant)
        .await
        .context("listing the gateway's stored sessions")?;
    tracing::info!(
        sessions = marked,
        "checking stored sessions against the engine"
    );

    let endpoint = WsEndpoint::new(hub.clone(), endpoint_config(&cli)?);
    let state = app::AppState {
        hub: hub.clone(),
        sync: sync.clone(),
        endpoint,
        metrics,
    };
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr()?;
    // Printed on stdout so scripts and tests can find a port chosen by the OS.
    println!("codesync-gateway listening on http://{addr}/<SESSION_ID>");
    tracing::info!(%addr, data = %path.display(), engine = %cli.engine_url, "serving");

    let service = app::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    shutdown_signal().await;
    // WebSockets are long-lived: stop serving rather than wait for them to close. Every
    // acknowledged update is already on disk; the flush stores anything merged since.
    server.abort();
    tracing::info!("shutting down: flushing every session");
    let flushed = match tokio::time::timeout(FLUSH_TIMEOUT, hub.flush_all()).await {
        Ok(Ok(())) => {
            tracing::info!("flushed");
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow::Error::new(e).context("flushing sessions at shutdown")),
        Err(_) => Err(anyhow::anyhow!(
            "flushing sessions did not finish within {FLUSH_TIMEOUT:?}"
        )),
    };
    if !sync.settled(ENGINE_DRAIN_TIMEOUT).await {
        tracing::warn!("updates still on their way to the engine; the next start replays them");
    }
    sync_task.abort();
    tracing::info!("bye");
    flushed
}

fn read_secret() -> anyhow::Result<Secret> {
    let value = std::env::var(SECRET_ENV).with_context(|| {
        format!(
            "{SECRET_ENV} is not set (or not UTF-8): the gateway needs the secret the engine \
             expects in X-Internal-Auth (for example `export {SECRET_ENV}=$(openssl rand -hex 32)`, \
             the same value for both)"
        )
    })?;
    Secret::new(value).context(SECRET_ENV)
}

fn endpoint_config(cli: &Cli) -> anyhow::Result<EndpointConfig> {
    let origins = if cli.allowed_origins.is_empty() {
        OriginPolicy::any()
    } else {
        OriginPolicy::new()
            .allow_all(cli.allowed_origins.iter())
            .context("parsing --allowed-origin")?
    };
    let rate_limit = RateLimitConfig::default()
        .with_budget(cli.rate_limit_per_minute, Duration::from_secs(60))
        .with_block_for(Duration::from_secs(cli.rate_limit_block_secs));
    let client_ip = match cli.trusted_proxy {
        ProxyMode::None => ClientIp::socket_only(),
        ProxyMode::CloudRun => ClientIp::behind(TrustedProxy::cloud_run()),
    };
    Ok(EndpointConfig::default()
        .with_origins(origins)
        .with_rate_limit(rate_limit)
        .with_client_ip(client_ip))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
