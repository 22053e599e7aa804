//! Opening a connection. Every connection of the backend (writer, reader, and their
//! reconnections) is opened here, so each one gets the same session settings.

use std::io;

use tokio_postgres::{Client, NoTls};

use super::config::Settings;
use crate::error::StoreError;

/// Connects, spawns the connection's driver task on the current runtime, and sets up the
/// session; all within the configured connect timeout.
pub(super) async fn open(settings: &Settings) -> Result<Client, StoreError> {
    let attempt = async {
        let (client, connection) = settings.pg.connect(NoTls).await?;
        tokio::spawn(async move {
            // An orderly close (the storage was dropped) ends with Ok; anything else means
            // the server or network dropped us, and the owner reconnects on next use.
            if let Err(error) = connection.await {
                tracing::warn!(%error, "postgres connection ended with an error");
            }
        });
        // Acknowledged means durable: a server or role configured with
        // synchronous_commit = off would acknowledge commits a crash can still lose.
        client.batch_execute("SET synchronous_commit = on").await?;
        Ok(client)
    };
    // tokio-postgres bounds only the TCP connect; this bounds authentication and setup too,
    // so a server that accepts but never answers cannot hang the caller.
    tokio::time::timeout(settings.connect_timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connecting to PostgreSQL took longer than {:?}",
                    settings.connect_timeout
                ),
            )))
        })
}

/// Whether `error` means the connection is gone (rather than one statement failing). The
/// client may not have noticed yet: its driver task closes it a moment later.
pub(super) fn lost(error: &tokio_postgres::Error, client: &Client) -> bool {
    // A server ending the session (restart, failover, pg_terminate_backend) answers the
    // running statement with a FATAL error before it closes the socket.
    let fatal = error
        .as_db_error()
        .is_some_and(|db| matches!(db.severity(), "FATAL" | "PANIC"));
    error.is_closed() || client.is_closed() || fatal
}
