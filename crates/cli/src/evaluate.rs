//! `evaluate`: off-policy estimates (IPS, SNIPS, doubly robust) of a policy's profit per
//! session from logged feedback, read from a file or the origin's database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_core::engine::Engine;
use edgeprice_core::feedback::{self, FeedbackEvent};
use edgeprice_core::pricing::product::Product;
use edgeprice_learn::evaluate::{self, Evaluation, Logged, Target};
use serde_json::json;

use crate::files::{now_or, product, read, trusted};
use crate::simulate::NAMED_POLICIES;

#[derive(Args)]
pub struct EvaluateArgs {
    /// Logged feedback (NDJSON, as `simulate --log` writes or the origin stores).
    #[arg(long, conflicts_with = "db")]
    log: Option<PathBuf>,
    /// The origin's database URL (`sqlite://...` or `postgres://...`).
    #[arg(long)]
    db: Option<String>,
    /// A bundle file, `list`, or `price:AMOUNT` (one price for everyone).
    #[arg(long)]
    policy: String,
    #[arg(long, default_value = "models/demo_product.json")]
    product: PathBuf,
    /// Bundle whose model is the direct-method part of DR (default: the policy's, or the built-in).
    #[arg(long)]
    dm: Option<PathBuf>,
    #[arg(long)]
    now: Option<String>,
    #[arg(long)]
    trusted_key: Vec<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// Feedback events from a file (NDJSON or a JSON array) or the origin's database, each
/// checked as the origin checks an upload; a file with a bad event is refused.
pub fn load_events(log: Option<&Path>, db: Option<&str>) -> Result<Vec<FeedbackEvent>> {
    match (log, db) {
        (Some(path), None) => {
            let (events, rejected) =
                feedback::parse_batch(&read(path)?).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
            if let Some(r) = rejected.first() {
                anyhow::bail!(
                    "{}: {} bad events; event {}: {} ({})",
                    path.display(),
                    rejected.len(),
                    r.index + 1,
                    r.code,
                    r.message
                );
            }
            Ok(events)
        }
        (None, Some(url)) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let store = edgeprice_origin::store::Store::connect(url).await?;
                Ok(store.feedback_events().await?)
            })
        }
        _ => anyhow::bail!("give --log FILE or --db URL"),
    }
}

pub fn logged_for(
    events: &[FeedbackEvent],
    product: &Product,
    page_values: &BTreeMap<String, f64>,
) -> Result<Vec<Logged>> {
    let (logged, skipped) = evaluate::join(events, product, page_values);
    if skipped > 0 {
        eprintln!("skipped {skipped} decisions (another SKU, no features, a repeated id, or unreadable)");
    }
    anyhow::ensure!(!logged.is_empty(), "no logged decisions for {}", product.sku);
    Ok(logged)
}

pub fn print_evaluation(name: &str, e: &Evaluation) {
    println!(
        "{name}: {} decisions; IPS {:.4} [{:.4}, {:.4}]; SNIPS {:.4} [{:.4}, {:.4}]; DR {:.4} [{:.4}, {:.4}]; ESS {:.0}",
        e.decisions,
        e.ips.mean,
        e.ips.ci_low,
        e.ips.ci_high,
        e.snips.mean,
        e.snips.ci_low,
        e.snips.ci_high,
        e.dr.mean,
        e.dr.ci_low,
        e.dr.ci_high,
        e.effective_sample_size
    );
    for w in &e.warnings {
        eprintln!("warning: {w}");
    }
}

pub fn evaluate(a: EvaluateArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let product = product(&a.product)?;
    let keys = trusted(&a.trusted_key)?;
    let default = Engine::with_default(now)?;
    let candidate = match a.policy.as_str() {
        named if NAMED_POLICIES.contains(&named) => None,
        p if p.starts_with("price:") => None,
        path => Some(Engine::new(&read(Path::new(path))?, &keys, now).with_context(|| format!("bundle {path}"))?),
    };
    let dm = match &a.dm {
        Some(p) => Engine::new(&read(p)?, &keys, now)?,
        None => candidate.clone().unwrap_or(default),
    };
    let target = match (&candidate, a.policy.as_str()) {
        (Some(e), _) => Target::Bundle(e),
        (None, "list") => Target::Fixed(product.list_price),
        (None, p) if p.starts_with("price:") => {
            let amount: f64 = p["price:".len()..].parse().context("price:AMOUNT needs a number")?;
            Target::Fixed(product.currency.to_minor(amount).context("not an amount in the product's currency")?)
        }
        (None, p) => anyhow::bail!("{p}: evaluate takes a bundle file, `list` or `price:AMOUNT`"),
    };
    let events = load_events(a.log.as_deref(), a.db.as_deref())?;
    let logged = logged_for(&events, &product, &dm.bundle().manifest().page_values)?;
    let e = evaluate::evaluate(&logged, &target, &dm, &product, now);
    if a.json {
        let mut out = serde_json::to_value(&e)?;
        out["policy"] = json!(a.policy);
        println!("{out}");
    } else {
        print_evaluation(&a.policy, &e);
    }
    Ok(())
}
