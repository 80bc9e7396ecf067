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
    /// Catalog that seeds a fresh database (`/v1/catalog`, `/products/{sku}`); once seeded,
    /// the catalog is the database's and changes through `PUT`/`PATCH /v1/catalog`.
    #[arg(long, env = "EDGEPRICE_CATALOG", default_value = "www/catalog.json")]
    pub catalog: PathBuf,
}

pub fn serve(a: ServeArgs) -> Result<()> {
    let catalog = read_catalog(&a.catalog)?;
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
        let listener =
            tokio::net::TcpListener::bind(&a.listen).await.with_context(|| format!("binding {}", a.listen))?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        run(db, catalog, keys, settings, listener, shutdown).await
    })
}

/// A catalog file (`www/catalog.json`'s form) as the products that seed a fresh database.
pub fn read_catalog(path: &std::path::Path) -> Result<Vec<(String, serde_json::Value)>> {
    let products = edgeprice_origin::load_catalog(&read(path)?).map_err(|e| anyhow::anyhow!(e))?;
    Ok(products.into_iter().collect())
}

/// The origin on `listener` until `shutdown` resolves: the store at `db` (seeded with
/// `catalog` when fresh), the rollup loop, and the HTTP app. `edgeprice serve` and
/// `edgeprice demo` both run it.
pub async fn run(
    db: String,
    catalog: Vec<(String, serde_json::Value)>,
    keys: edgeprice_core::bundle::TrustedKeys,
    settings: Settings,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let store = edgeprice_origin::store::Store::connect(&db).await?;
    let clock = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if store.seed_catalog(&catalog, clock()).await? {
        tracing::info!(products = catalog.len(), "catalog seeded");
    }
    let rollups = tokio::spawn(edgeprice_origin::serve::roll_up_forever(
        store.clone(),
        clock,
        settings.limits.request_deadline,
        settings.rollup_every,
    ));
    let state = edgeprice_origin::AppState {
        store,
        evaluator: Some(evaluator(keys.clone())),
        edges: Default::default(),
        keys,
        admin_token: settings.admin_token,
        edge_token: settings.edge_token,
        clock,
        metrics: Default::default(),
        limits: settings.limits,
        pusher: settings.pusher.map(std::sync::Arc::new),
    };
    let scheme = db.split(':').next().unwrap_or("");
    tracing::info!(address = %listener.local_addr()?, database = scheme, "edgeprice origin listening");
    edgeprice_origin::serve::serve(listener, edgeprice_origin::app(state), settings.header_timeout, shutdown).await;
    rollups.abort();
    Ok(())
}

/// The console's off-policy evaluation: the candidate must verify against the trusted keys;
/// IPS, SNIPS and DR of it and of the live policy on the same logged decisions, the
/// candidate's model as the direct-method part of both (as `edgeprice evaluate` does).
fn evaluator(keys: edgeprice_core::bundle::TrustedKeys) -> edgeprice_origin::Evaluator {
    use edgeprice_core::engine::Engine;
    use edgeprice_learn::evaluate::{self, Target};
    std::sync::Arc::new(move |input: edgeprice_origin::EvaluationInput| {
        let fail = |code: &str, m: String| (code.to_string(), m);
        let candidate = Engine::new(input.candidate, &keys, input.now).map_err(|e| fail(e.code(), e.to_string()))?;
        let live = Engine::new(input.live, &keys, input.now)
            .or_else(|_| Engine::with_default(input.now))
            .map_err(|e| fail(e.code(), e.to_string()))?;
        let product = edgeprice_core::pricing::product::Product::from_value(input.product)
            .map_err(|e| fail(e.code(), e.to_string()))?;
        let (logged, _) = evaluate::join(input.events, &product, &candidate.bundle().manifest().page_values);
        if logged.is_empty() {
            return Err(fail("no_feedback", format!("no logged decisions with features for {}", input.sku)));
        }
        let of = |target: &Engine| {
            let e = evaluate::evaluate(&logged, &Target::Bundle(target), &candidate, &product, input.now);
            let mut v = serde_json::to_value(&e).unwrap_or_default();
            v["policy_version"] = serde_json::json!(target.policy_version());
            v
        };
        let (c, l) = (of(&candidate), of(&live));
        let mut warnings: Vec<String> = Vec::new();
        for w in [&c["warnings"], &l["warnings"]].into_iter().filter_map(|w| w.as_array()).flatten() {
            if let Some(w) = w.as_str().filter(|w| !warnings.iter().any(|x| x == w)) {
                warnings.push(w.to_string());
            }
        }
        if c["effective_sample_size"].as_f64() == Some(0.0) {
            warnings.push(format!(
                "no logged decision of {} was at a price this bundle may show for the catalog's product now \
                 (its price or cost changed since?): the estimates are empty",
                input.sku
            ));
        }
        Ok(serde_json::json!({
            "sku": input.sku, "decisions": logged.len(), "candidate": c, "live": l, "warnings": warnings,
        }))
    })
}
