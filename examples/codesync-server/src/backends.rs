//! Where documents persist and how nodes meet: the embedded store or a shared PostgreSQL
//! store, and optionally a cluster bus.

use std::sync::Arc;

use anyhow::Context;
use codesync_cluster::ClusterConfig;
use codesync_core::{ClusterBus, Storage};
use codesync_store::{PostgresConfig, PostgresStorage, SqliteStorage};

use crate::cli::Cli;

/// Opens the store the flags name; returns it and a description for the logs.
pub(crate) async fn open_storage(cli: &Cli) -> anyhow::Result<(Arc<dyn Storage>, String)> {
    match &cli.store {
        Some(url) => {
            let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
            if !is_url && !url.contains("host=") {
                anyhow::bail!(
                    "--store must name a PostgreSQL server (postgres://user@host:port/db, \
                     or key=value pairs with host=), not {url:?}"
                );
            }
            let config = PostgresConfig::new(url.clone()).schema(cli.store_schema.clone());
            let storage = PostgresStorage::connect(config)
                .await
                .context("connecting to the PostgreSQL store named by --store")?;
            let shown = format!("postgres (schema {})", cli.store_schema);
            Ok((Arc::new(storage), shown))
        }
        None => {
            let path = cli.data.join("codesync.sqlite3");
            let storage = SqliteStorage::open(&path)
                .with_context(|| format!("opening the store at {}", path.display()))?;
            Ok((Arc::new(storage), path.display().to_string()))
        }
    }
}

/// Connects to the cluster bus the flags name, if any.
pub(crate) async fn connect_cluster(cli: &Cli) -> anyhow::Result<Option<Arc<dyn ClusterBus>>> {
    let Some(url) = &cli.cluster else {
        return Ok(None);
    };
    let bus = codesync_cluster::connect(url, ClusterConfig::default())
        .await
        .context("connecting to the cluster bus named by --cluster")?;
    Ok(Some(bus))
}
