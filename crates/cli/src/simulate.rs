//! `simulate`: sessions replayed through a policy (a bundle or a named baseline) with the
//! market deciding purchases; optionally the feedback it would log, to a file or an origin.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::rules::Rules;
use edgeprice_core::session::Session;
use edgeprice_learn::simulate::{self, Policy};
use serde_json::json;

use crate::client::Origin;
use crate::files::{self, now_or, product, read, read_rows, trusted};

#[derive(Args)]
pub struct SimulateArgs {
    /// A CSV in the data set's format (sessions with their Revenue label).
    #[arg(long)]
    data: PathBuf,
    /// A bundle file, `list`, `uniform` (the best single price on the ladder),
    /// `feature-oracle` (the market's best price at each session's features) or `oracle`.
    #[arg(long)]
    policy: String,
    #[arg(long, default_value = "models/demo_product.json")]
    product: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the feedback events (NDJSON) here.
    #[arg(long, conflicts_with = "origin")]
    log: Option<PathBuf>,
    /// Post the feedback events to this origin (edge token from EDGEPRICE_EDGE_TOKEN).
    #[arg(long)]
    origin: Option<String>,
    #[arg(long)]
    json: bool,
    /// Simulated time, RFC 3339 UTC (default: now): promotions and bundle validity.
    #[arg(long)]
    now: Option<String>,
    /// Public key files trusted besides the built-in one.
    #[arg(long)]
    trusted_key: Vec<PathBuf>,
    /// Rules giving the allowed prices of list/uniform/oracle (default: the built-in bundle's).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Simulated visits per session (each with its own valuation and session id).
    #[arg(long, default_value_t = 1)]
    visits: u32,
    /// The market (TOML, `markets/*.toml`) deciding purchases; default: market version 1.
    /// Only the simulator reads it.
    #[arg(long)]
    market: Option<PathBuf>,
    /// Price a bundle with its model arm only (no exploration, no control group).
    #[arg(long)]
    greedy: bool,
    /// Also replay this policy (same forms as --policy) on the same sessions and valuations
    /// and report the paired difference of profit per session.
    #[arg(long)]
    baseline: Option<String>,
}

/// The baseline policies `simulate` knows by name (anything else is a bundle file).
pub const NAMED_POLICIES: [&str; 4] = ["list", "uniform", "feature-oracle", "oracle"];

pub fn policy_of<'a>(spec: &str, engine: &'a Option<Engine>, labels: &'a [f64]) -> Result<Policy<'a>> {
    Ok(match (spec, engine) {
        (_, Some(e)) => Policy::Bundle(e),
        ("list", None) => Policy::List,
        ("uniform", None) => Policy::Uniform,
        ("feature-oracle", None) => Policy::FeatureOracle(labels),
        ("oracle", None) => Policy::Oracle,
        (other, None) => anyhow::bail!("unknown policy {other}"),
    })
}

pub fn simulate(a: SimulateArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let market = files::market(a.market.as_deref())?;
    let rows = read_rows(&a.data)?;
    let sessions: Vec<(Session, bool)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.revenue.map(|b| (r.session, b)).with_context(|| format!("row {} has no Revenue label", i + 1)))
        .collect::<Result<_>>()?;
    let visits_each = a.visits.clamp(1, 1_000) as usize;
    // The feature oracle's label estimate, cross-fitted over distinct sessions.
    let labels: Vec<f64> = edgeprice_learn::oracle::label_probability(&sessions)
        .into_iter()
        .flat_map(|q| std::iter::repeat_n(q, visits_each))
        .collect();
    let sessions: Vec<(Session, bool)> =
        sessions.iter().flat_map(|s| std::iter::repeat_n(s.clone(), visits_each)).collect();
    let product = product(&a.product)?;
    let keys = trusted(&a.trusted_key)?;
    let default = Engine::with_default(now)?;
    let rules = match &a.rules {
        Some(p) => Rules::from_toml(&files::read_text(p)?)?,
        None => default.bundle().rules().clone(),
    };
    let load = |spec: &str| -> Result<Option<Engine>> {
        Ok(match spec {
            named if NAMED_POLICIES.contains(&named) => None,
            path => {
                let e = Engine::new(&read(Path::new(path))?, &keys, now).with_context(|| format!("bundle {path}"))?;
                Some(if a.greedy { e.exploit_only() } else { e })
            }
        })
    };
    let engine = load(&a.policy)?;
    let version = engine.as_ref().map_or(0, Engine::policy_version);
    let policy = policy_of(&a.policy, &engine, &labels)?;
    let visits = simulate::run(&market, &sessions, &product, &policy, &rules, a.seed, now);
    let uplift = match &a.baseline {
        Some(spec) => {
            let base_engine = load(spec)?;
            let base_policy = policy_of(spec, &base_engine, &labels)?;
            let base = simulate::run(&market, &sessions, &product, &base_policy, &rules, a.seed, now);
            Some(simulate::paired(&visits, &base))
        }
        None => None,
    };
    // A bundle's figures against the reachable ceiling: the share of (feature oracle -
    // uniform) it captures, on the same sessions and valuations.
    let ceiling = match &policy {
        Policy::Bundle(_) => {
            let oracle =
                simulate::run(&market, &sessions, &product, &Policy::FeatureOracle(&labels), &rules, a.seed, now);
            let uniform = simulate::run(&market, &sessions, &product, &Policy::Uniform, &rules, a.seed, now);
            Some(simulate::ceiling(&visits, &oracle, &uniform))
        }
        _ => None,
    };
    let summary = simulate::summarize(&visits);
    if a.log.is_some() || a.origin.is_some() {
        let lines: Vec<String> = visits
            .iter()
            .flat_map(|v| simulate::events(v, &sessions[v.row].0, &product, version, now))
            .map(|e| e.to_json().to_string())
            .collect();
        if let Some(path) = &a.log {
            files::write(path, (lines.join("\n") + "\n").as_bytes())?;
        }
        if let Some(origin) = &a.origin {
            Origin::new(origin).post_feedback(&lines)?;
        }
    }
    let fairness = match &policy {
        Policy::Bundle(engine) => Some(simulate::fairness(&visits, &sessions, engine, &product, now)),
        _ => None,
    };
    if a.json {
        let mut out = serde_json::to_value(&summary)?;
        out["policy"] = json!(a.policy);
        out["seed"] = json!(a.seed);
        out["market"] = market.describe();
        if let Some(f) = fairness {
            out["fairness"] = f;
        }
        if let Some(c) = &ceiling {
            out["feature_oracle"] = serde_json::to_value(c)?;
        }
        if let (Some(u), Some(b)) = (uplift, &a.baseline) {
            out["baseline"] = json!(b);
            out["uplift_vs_baseline"] = serde_json::to_value(u)?;
        }
        println!("{out}");
    } else {
        println!(
            "{}: {} sessions, profit per session {:.4} (95% CI {:.4} to {:.4}), revenue per session {:.4}, conversion {:.4}",
            a.policy,
            summary.sessions,
            summary.profit_per_session,
            summary.profit_ci_low,
            summary.profit_ci_high,
            summary.revenue_per_session,
            summary.conversion
        );
        if let (Some(u), Some(b)) = (uplift, &a.baseline) {
            println!(
                "minus {b} on the same sessions: {:.4} per session (paired 95% CI {:.4} to {:.4})",
                u.mean, u.ci_low, u.ci_high
            );
        }
        if let Some(c) = &ceiling {
            println!(
                "feature oracle {:.4}, best uniform {:.4} per session: this policy captures {:.1}% of (feature oracle - uniform); policy - uniform {:.4} (paired 95% CI {:.4} to {:.4})",
                c.profit_per_session,
                c.uniform_profit_per_session,
                100.0 * c.captured_share,
                c.policy_minus_uniform.mean,
                c.policy_minus_uniform.ci_low,
                c.policy_minus_uniform.ci_high
            );
        }
        if let Some(f) = fairness {
            println!("{}", serde_json::to_string_pretty(&f)?);
        }
    }
    Ok(())
}
