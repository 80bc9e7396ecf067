//! `serve`: the origin service on a socket. Its settings come from the environment
//! (`edgeprice_origin::config`); logs are JSON lines on stderr, filtered by RUST_LOG.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_origin::config::{self, Settings};

use crate::files::read;

#[derive(Args)]
pub struct ServeArgs {
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://...`.
    #[arg(long, env = "EDGEPRICE_DATABASE_URL", default_value = "sqlite://data/origin.db?mode=rwc")]
    pub db: String,
    #[arg(long, env = "EDGEPRICE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Keys trusted to sign bundles, comma-separated: public key files, or `KEY_ID:HEX`
    /// (default: the key of the built-in default bundle).
    #[arg(long, env = "EDGEPRICE_TRUSTED_KEYS", value_delimiter = ',')]
    pub trusted_key: Vec<String>,
    /// Demo catalog for /v1/catalog/{sku} and /products/{sku}.
    #[arg(long, env = "EDGEPRICE_CATALOG", default_value = "www/catalog.json")]
    pub catalog: PathBuf,
}

pub fn serve(a: ServeArgs) -> Result<()> {
    let catalog = edgeprice_origin::load_catalog(&read(&a.catalog)?).map_err(|e| anyhow::anyhow!(e))?;
    let keys = config::trusted_keys(&a.trusted_key)?;
    let db = config::prepare_database(&a.db)?;
    let settings = Settings::from_env()?;
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = edgeprice_origin::store::Store::connect(&db).await?;
        let clock =
            || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let state = edgeprice_origin::AppState {
            store,
            catalog,
            keys,
            admin_token: settings.admin_token,
            edge_token: settings.edge_token,
            clock,
            metrics: Default::default(),
            limits: settings.limits,
            pusher: settings.pusher.map(std::sync::Arc::new),
        };
        let listener =
            tokio::net::TcpListener::bind(&a.listen).await.with_context(|| format!("binding {}", a.listen))?;
        let scheme = a.db.split(':').next().unwrap_or("");
        tracing::info!(address = %listener.local_addr()?, database = scheme, "edgeprice origin listening");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        edgeprice_origin::serve::serve(listener, edgeprice_origin::app(state), settings.header_timeout, shutdown).await;
        Ok(())
    })
}
