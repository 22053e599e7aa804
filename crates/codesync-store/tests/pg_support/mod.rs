//! What the PostgreSQL test files share: the server to test against (or a visible skip)
//! and a plain connection for tampering with the tables.

use std::io::Write as _;

use tokio_postgres::NoTls;

/// The variable naming the server.
pub(crate) const URL_VAR: &str = "CODESYNC_TEST_POSTGRES_URL";

/// The server to test against, or `None` to skip (outside CI).
pub(crate) fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{URL_VAR} is not set but CI=true: the PostgreSQL tests must run in CI; \
                 set it to a connection string such as \
                 'host=127.0.0.1 port=5432 user=postgres dbname=test'"
            );
            // Straight to stderr: the harness swallows eprintln! of passing tests, and a
            // skip must be visible.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {URL_VAR} is not set; PostgreSQL backend tests did not run"
            );
            None
        }
    }
}

/// A plain connection for tampering with the tables behind the backend's back.
pub(crate) async fn raw_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("raw connection");
    tokio::spawn(connection);
    client
}
