//! `price`: decisions for one session, an NDJSON file of sessions, or every row of a data
//! set CSV (with a summary on stderr).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::json;

use crate::files::{keys, now_or, read, read_rows};

#[derive(Args)]
pub struct PriceArgs {
    /// Bundle file (default: the built-in default bundle).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    #[arg(long, conflicts_with_all = ["sessions", "data"])]
    pub session: Option<PathBuf>,
    /// NDJSON file, one session per line.
    #[arg(long, conflicts_with = "data")]
    pub sessions: Option<PathBuf>,
    /// A data set CSV: every row is a session (id `row-N`); one decision per line, and a
    /// summary on stderr.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub product: PathBuf,
    /// Decision time, RFC 3339 UTC (default: now).
    #[arg(long)]
    pub now: Option<String>,
}

/// Where `price` reads sessions from.
enum SessionSource {
    One(PathBuf),
    Ndjson(PathBuf),
    Csv(PathBuf),
}

pub fn price(a: PriceArgs) -> Result<()> {
    let source = match (a.session, a.sessions, a.data) {
        (Some(p), None, None) => SessionSource::One(p),
        (None, Some(p), None) => SessionSource::Ndjson(p),
        (None, None, Some(p)) => SessionSource::Csv(p),
        _ => anyhow::bail!("give one of --session FILE, --sessions FILE or --data CSV"),
    };
    let (bundle_path, public_key, product, now) = (a.bundle, a.public_key, &a.product, a.now);
    let now = now_or(now.as_deref())?;
    let engine = match bundle_path {
        Some(p) => Engine::new(&read(&p)?, &keys(public_key.as_deref())?, now)?,
        None => Engine::with_default(now)?,
    };
    let product: serde_json::Value = serde_json::from_slice(&read(product)?).context("product JSON")?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    match source {
        SessionSource::One(p) => {
            let s: serde_json::Value = serde_json::from_slice(&read(&p)?).context("session JSON")?;
            writeln!(out, "{}", serde_json::to_string_pretty(&engine.price(&s, &product, now)?)?)?;
        }
        SessionSource::Ndjson(p) => {
            let text = String::from_utf8(read(&p)?)?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                // A line that is not JSON still gets a (fallback) decision, so output lines
                // stay aligned with input lines.
                let s = serde_json::from_str(line).unwrap_or(serde_json::Value::Null);
                let d = engine.price(&s, &product, now).with_context(|| format!("line {}", i + 1))?;
                writeln!(out, "{}", json::decision_text(&d))?;
            }
        }
        SessionSource::Csv(p) => {
            let parsed = edgeprice_core::pricing::product::Product::from_value(&product)?;
            let mut arms: std::collections::BTreeMap<String, usize> = Default::default();
            let (mut revenue, mut profit, mut discount) = (0.0, 0.0, 0.0);
            let rows = read_rows(&p)?;
            // The model runs in batches of 256 sessions (`Engine::score_many`).
            let mut decisions = Vec::with_capacity(rows.len());
            for (k, chunk) in rows.chunks(256).enumerate() {
                let batch: Vec<(String, edgeprice_core::session::Session)> = chunk
                    .iter()
                    .enumerate()
                    .map(|(j, row)| (format!("row-{}", k * 256 + j + 1), row.session.clone()))
                    .collect();
                decisions.extend(engine.score_many(&batch).iter().map(|s| engine.price_scored(s, &parsed, now)));
            }
            for d in decisions {
                *arms.entry(d.arm.name().to_string()).or_default() += 1;
                let p_buy = d.purchase_probability.unwrap_or(0.0);
                revenue += p_buy * d.price;
                profit += d.expected_profit.unwrap_or(0.0);
                discount += d.discount;
                writeln!(out, "{}", json::decision_text(&d))?;
            }
            let n = rows.len().max(1) as f64;
            eprintln!(
                "{} sessions priced with policy {}: arms {arms:?}; mean discount {:.3}; model-expected revenue {:.2} and profit {:.2} per session ({})",
                rows.len(),
                engine.policy_version(),
                discount / n,
                revenue / n,
                profit / n,
                parsed.currency.code()
            );
        }
    }
    out.flush()?;
    Ok(())
}
