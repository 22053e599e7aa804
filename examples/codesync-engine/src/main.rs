//! Run with: `cargo run --release -p codesync-engine -- --listen 127.0.0.1:8090 --data ./engine-data`
//! after `export CODESYNC_INTERNAL_AUTH=$(openssl rand -hex 32)` (the secret the gateway
//! sends; the engine refuses to start without one of at least 16 bytes).
//!
//! The seed's CRDT engine: an HTTP service a WebSocket gateway calls to merge each client
//! update into the session's persistent Loro document. It is the store of record: every
//! update is durable (SQLite under `--data`, or PostgreSQL with `--postgres-url`) before
//! the engine answers.
//!
//! | route | answer |
//! |---|---|
//! | `POST /merge/{session_id}` | merges the body (a Loro update); 200 with the full snapshot |
//! | `GET /version/{session_id}` | the document's encoded version vector |
//! | `POST /updates-since/{session_id}` | the updates the holder of the body's version vector lacks |
//! | `GET /healthz`, `/readyz`, `/metrics` | liveness, readiness, Prometheus metrics (no secret) |
//!
//! Document routes need the `X-Internal-Auth` header to equal `CODESYNC_INTERNAL_AUTH`
//! (compared in constant time) and take the tenant from `X-Codesync-Tenant` (default
//! `default`). Binary answers carry `X-Codesync-Version`, the hex of the encoded version
//! vector they correspond to. Errors are `text/plain` with an `X-Codesync-Error` reason:
//! 401 wrong secret, 400 invalid id / corrupt update / missing dependencies / bad version
//! vector, 413 document cap or body limit, 503 not durable or storage down.
//! See `--help` for every flag; SIGTERM or Ctrl-C stops accepting connections, lets
//! requests in flight finish, flushes every session, then exits.

mod auth;
mod cli;
mod errors;
mod metrics;
mod routes;
mod state;
mod storage;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use codesync_core::{Hub, Limits, LimitsConfig, OpenPolicy};

use cli::Cli;
use state::AppState;
use storage::Backend;

/// How long requests in flight may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the final flush may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the banner naming the bound address.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // Loro logs every export's block sizes at info: keep it to warnings.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,loro=warn,loro_internal=warn")
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let secret = auth::Secret::from_env()?;
    let metrics = metrics::install()?;
    let state = Arc::new(AppState::new(secret, metrics)?);
    let backend = match &cli.postgres_url {
        Some(url) => Backend::Postgres(url.clone()),
        None => Backend::Sqlite(cli.data.join(storage::SQLITE_FILE)),
    };

    let signal = shutdown_signal();
    tokio::pin!(signal);

    // Listen before storage opens, so `/healthz` answers and `/readyz` says why not yet.
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr()?;
    // On stdout, so scripts and tests can find a port chosen by the OS.
    println!("codesync-engine listening on http://{addr}");
    tracing::info!(%addr, storage = %backend.describe(), "listening");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = routes::router(state.clone(), cli.max_body_bytes);
    let mut server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let mut stopped = stopped;
                let _ = stopped.wait_for(|&stop| stop).await;
            })
            .into_future(),
    );

    let hub = tokio::select! {
        opened = open_hub(&cli, &backend) => match opened {
            Ok(hub) => {
                state.set_hub(hub.clone());
                tracing::info!(storage = %backend.describe(), "storage open; ready");
                Some(hub)
            }
            Err(e) => {
                server.abort();
                return Err(e);
            }
        },
        () = &mut signal => None,
    };
    if hub.is_some() {
        tokio::select! {
            () = &mut signal => {}
            served = &mut server => {
                return Err(anyhow::anyhow!("the HTTP server stopped unexpectedly: {served:?}"));
            }
        }
    }

    tracing::info!(
        "shutdown requested: no longer accepting connections; finishing requests in flight"
    );
    state.start_draining();
    let _ = stop.send(true);
    match tokio::time::timeout(DRAIN_TIMEOUT, &mut server).await {
        Ok(Ok(Ok(()))) => tracing::info!("every request finished"),
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "the HTTP server failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server task failed"),
        Err(_) => {
            tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still running; cutting them off");
            server.abort();
        }
    }
    let Some(hub) = hub else {
        tracing::info!("storage was never opened; nothing to flush; bye");
        return Ok(());
    };
    tracing::info!(sessions = hub.live_sessions(), "flushing every session");
    match tokio::time::timeout(FLUSH_TIMEOUT, hub.flush_all()).await {
        Ok(Ok(())) => {
            tracing::info!("every session flushed; bye");
            Ok(())
        }
        Ok(Err(e)) => Err(e).context("flushing sessions at shutdown"),
        Err(_) => Err(anyhow::anyhow!(
            "flushing sessions did not finish within {FLUSH_TIMEOUT:?}"
        )),
    }
}

/// Opens storage and builds the hub with the configured capacity and document cap.
async fn open_hub(cli: &Cli, backend: &Backend) -> anyhow::Result<Hub> {
    let storage = storage::open(backend).await?;
    let limits = LimitsConfig::default()
        .with_default(Limits::default().with_max_document_bytes(cli.max_document_bytes));
    Ok(Hub::builder_shared(storage)
        .capacity(cli.capacity)
        .policy(OpenPolicy::new(limits))
        .build())
}

/// Resolves on Ctrl-C or SIGTERM. The SIGTERM handler is installed at once (not on first
/// poll), so a SIGTERM arriving while storage opens is not fatal.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::warn!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::info!("received Ctrl-C");
        };
        #[cfg(unix)]
        let terminate = async {
            match sigterm {
                Ok(mut signal) => {
                    signal.recv().await;
                    tracing::info!("received SIGTERM");
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
}
