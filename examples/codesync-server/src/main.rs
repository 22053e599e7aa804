//! Run with: `cargo run --release -p codesync-server -- --listen 127.0.0.1:8080 --data ./data`
//!
//! The whole codesync system in one process: the Loro protocol at `ws://ADDR/<SESSION_ID>`,
//! the session's page at `http://ADDR/<SESSION_ID>`, every document in one SQLite file under
//! `--data` (or in a shared PostgreSQL store, `--store postgres://…`), and the server's own
//! routes under `/_/` (`/_/healthz`, `/_/readyz`, `/_/metrics`). With `--cluster
//! redis://…|nats://…` it is one node of several sharing sessions (docs/cluster.md).
//! SIGTERM or Ctrl-C flushes every session before exit.

mod app;
mod backends;
mod cli;
mod page;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use codesync_core::{Hub, Limits, LimitsConfig, OpenPolicy, SessionConfig};
use codesync_transport_ws::security::{ClientIp, OriginPolicy, RateLimitConfig, TrustedProxy};
use codesync_transport_ws::{ConnectionConfig, EndpointConfig, WsEndpoint};

/// Connections the server holds at once, across every IP address.
const MAX_CONNECTIONS: usize = 10_000;

use cli::{Cli, ProxyMode, Switch};
use codesync_guard::{GuardConfig, ProcessGuard};

fn main() -> anyhow::Result<()> {
    // The untrusted-input guard starts this executable again as its worker: become one
    // now if that is what this process is for, before anything else starts.
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
        .init();
    let cli = Cli::parse();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;

    let (storage, store_shown) = backends::open_storage(&cli).await?;
    let limits = LimitsConfig::default()
        .with_default(Limits::default().with_max_document_bytes(cli.max_document_bytes));
    let session = SessionConfig::default().with_compaction(cli.compact_after_updates, 1 << 20);
    let mut hub = Hub::builder_shared(storage)
        .capacity(cli.capacity)
        .session_config(session)
        .policy(OpenPolicy::new(limits));
    if let Some(bus) = backends::connect_cluster(&cli).await? {
        hub = hub.cluster(bus);
    }
    if cli.untrusted_input_guard == Switch::On {
        let guard = ProcessGuard::spawn(GuardConfig::default().with_workers(cli.guard_workers))
            .context("starting the untrusted-input guard")?;
        hub = hub.guard(Arc::new(guard));
    } else {
        tracing::warn!("the untrusted-input guard is off: a crafted update can crash this server");
    }
    let hub = hub.build();

    let endpoint = WsEndpoint::new(hub.clone(), endpoint_config(&cli)?);
    let editor = std::fs::read_to_string(cli.web_dir.join("index.html"))
        .ok()
        .map(Arc::from);
    if editor.is_none() {
        tracing::warn!(web_dir = %cli.web_dir.display(), "no built editor page; serving a placeholder (see scripts/run.sh)");
    }
    let state = app::AppState {
        hub: hub.clone(),
        endpoint,
        metrics,
        editor,
    };
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr()?;
    // Printed on stdout so scripts and tests can find a port chosen by the OS.
    println!("codesync-server listening on http://{addr}/<SESSION_ID>");
    tracing::info!(%addr, store = %store_shown, cluster = cli.cluster.as_deref().unwrap_or("none"), "serving");

    let service =
        app::router(state, &cli.web_dir).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    shutdown_signal().await;
    // WebSockets are long-lived: stop serving rather than wait for them to close. Every
    // acknowledged update is already on disk; the flush stores anything merged since.
    server.abort();
    tracing::info!("shutting down: flushing every session");
    match tokio::time::timeout(Duration::from_secs(30), hub.flush_all()).await {
        Ok(Ok(())) => tracing::info!("flushed; bye"),
        Ok(Err(e)) => tracing::error!(error = %e, "flush failed"),
        Err(_) => tracing::error!("flush did not finish within 30 s"),
    }
    Ok(())
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
        .with_client_ip(client_ip)
        .with_max_connections(MAX_CONNECTIONS, cli.max_connections_per_ip)
        .with_connection(
            ConnectionConfig::default()
                .with_message_rate(cli.messages_per_second, cli.message_burst)
                .with_max_refused_updates(cli.max_refused_updates),
        ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
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
