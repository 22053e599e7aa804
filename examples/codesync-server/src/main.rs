//! Run with: `cargo run --release -p codesync-server -- --listen 127.0.0.1:8080 --data ./data`
//!
//! The whole codesync system in one process: the Loro protocol at `ws://ADDR/<SESSION_ID>`,
//! the session's page at `http://ADDR/<SESSION_ID>`, every document in one SQLite file under
//! `--data`, and the server's own routes under `/_/` (`/_/healthz`, `/_/readyz`,
//! `/_/metrics`). SIGTERM or Ctrl-C flushes every session before exit.

mod app;
mod cli;
mod page;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use codesync_core::{Hub, Limits, LimitsConfig, OpenPolicy};
use codesync_store::SqliteStorage;
use codesync_transport_ws::security::{ClientIp, OriginPolicy, RateLimitConfig, TrustedProxy};
use codesync_transport_ws::{EndpointConfig, WsEndpoint};

use cli::{Cli, ProxyMode};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the banner naming the bound address.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;

    let path = cli.data.join("codesync.sqlite3");
    let storage = SqliteStorage::open(&path)
        .with_context(|| format!("opening the store at {}", path.display()))?;
    let limits = LimitsConfig::default()
        .with_default(Limits::default().with_max_document_bytes(cli.max_document_bytes));
    let hub = Hub::builder(storage)
        .capacity(cli.capacity)
        .policy(OpenPolicy::new(limits))
        .build();

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
    tracing::info!(%addr, data = %path.display(), "serving");

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
        .with_client_ip(client_ip))
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
