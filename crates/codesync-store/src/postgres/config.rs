//! The settings of [`PostgresStorage`](super::PostgresStorage), checked before anything
//! connects.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::schema::SchemaName;
use crate::error::StoreError;

const DEFAULT_SCHEMA: &str = "codesync";
const DEFAULT_MAX_BATCH: usize = 1024;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Shown in `pg_stat_activity` unless the connection string names the application itself.
const APPLICATION_NAME: &str = "codesync";

/// Connection settings for [`PostgresStorage`](super::PostgresStorage).
///
/// Nothing is checked or contacted until
/// [`PostgresStorage::connect`](super::PostgresStorage::connect).
///
/// ```
/// use std::time::Duration;
/// use codesync_store::PostgresConfig;
///
/// let config = PostgresConfig::new("host=127.0.0.1 user=postgres dbname=app")
///     .schema("codesync")
///     .max_batch(512)
///     .connect_timeout(Duration::from_secs(2));
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct PostgresConfig {
    conn_str: String,
    schema: String,
    max_batch: usize,
    connect_timeout: Duration,
}

impl PostgresConfig {
    /// Settings for the server `conn_str` names, in `tokio-postgres` syntax: either
    /// `key=value` pairs (`host=127.0.0.1 port=5432 user=app dbname=app`) or a URL
    /// (`postgresql://app@127.0.0.1/app`). Connections are unencrypted (no TLS).
    #[must_use]
    pub fn new(conn_str: impl Into<String>) -> Self {
        Self {
            conn_str: conn_str.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            max_batch: DEFAULT_MAX_BATCH,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// The schema holding the backend's tables (default `codesync`); created if missing.
    ///
    /// It must be 1 to 63 lowercase ASCII letters, digits or underscores, not starting with
    /// a digit or `pg_`; anything else is refused when connecting.
    #[must_use]
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = name.into();
        self
    }

    /// The most writes committed in one transaction (default 1024; at least 1).
    ///
    /// Each write runs under its own savepoint, a subtransaction; PostgreSQL caches only 64
    /// of those per transaction, so larger batches make other sessions' snapshots slower
    /// while they commit. Lower this if that shows up under load.
    #[must_use]
    pub fn max_batch(mut self, writes: usize) -> Self {
        self.max_batch = writes;
        self
    }

    /// How long opening one connection may take, handshake and session setup included
    /// (default 5 s; must not be zero).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks every setting, so that a mistake is reported before any connection is made.
    pub(super) fn check(&self) -> Result<Settings, StoreError> {
        let schema = SchemaName::parse(&self.schema)?;
        if self.max_batch == 0 {
            return Err(StoreError::Config("max_batch must be at least 1"));
        }
        if self.connect_timeout.is_zero() {
            return Err(StoreError::Config("connect_timeout must not be zero"));
        }
        let mut pg = tokio_postgres::Config::from_str(&self.conn_str)?;
        pg.connect_timeout(self.connect_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name(APPLICATION_NAME);
        }
        Ok(Settings {
            pg,
            schema,
            max_batch: self.max_batch,
            connect_timeout: self.connect_timeout,
        })
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection string may hold a password: show it only as tokio-postgres parses
        // it, which redacts the password.
        let mut s = f.debug_struct("PostgresConfig");
        match tokio_postgres::Config::from_str(&self.conn_str) {
            Ok(parsed) => s.field("connection", &parsed),
            Err(_) => s.field("connection", &"<unparsable connection string>"),
        };
        s.field("schema", &self.schema)
            .field("max_batch", &self.max_batch)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A checked [`PostgresConfig`]: what every connection of the backend is opened with.
pub(super) struct Settings {
    pub(super) pg: tokio_postgres::Config,
    pub(super) schema: SchemaName,
    pub(super) max_batch: usize,
    pub(super) connect_timeout: Duration,
}
