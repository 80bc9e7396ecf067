//! The learning loop's commands (part of the `edgeprice` binary): `simulate`, `evaluate`,
//! `retrain`. File and network I/O around `edgeprice::learn` and `edgeprice::train::retrain`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use edgeprice::bundle::{self, BundleSigner, Manifest, TrustedKeys};
use edgeprice::engine::Engine;
use edgeprice::learn::evaluate::{self, Evaluation, Logged, Target};
use edgeprice::learn::simulate::{self, Policy};
use edgeprice::pricing::product::Product;
use edgeprice::pricing::rules::Rules;
use edgeprice::session::Session;
use edgeprice::train::retrain::{RetrainConfig, retrain};
use serde_json::{Value, json};

use crate::{now_or, read, read_rows};

#[derive(Args)]
pub struct SimulateArgs {
    /// A CSV in the data set's format (sessions with their Revenue label).
    #[arg(long)]
    data: PathBuf,
    /// A bundle file, `list`, `uniform` (the best single price on the ladder) or `oracle`.
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
    /// Price a bundle with its model arm only (no exploration, no control group).
    #[arg(long)]
    greedy: bool,
    /// Also replay this policy (same forms as --policy) on the same sessions and valuations
    /// and report the paired difference of profit per session.
    #[arg(long)]
    baseline: Option<String>,
}

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

#[derive(Args)]
pub struct RetrainArgs {
    #[arg(long, conflicts_with = "db")]
    log: Option<PathBuf>,
    #[arg(long)]
    db: Option<String>,
    /// The live bundle: the baseline of the promotion gate; the new bundle is its version + 1.
    #[arg(long)]
    live: PathBuf,
    #[arg(long, default_value = "models/rules.toml")]
    rules: PathBuf,
    #[arg(long, default_value = "models/page_values.json")]
    page_values: PathBuf,
    #[arg(long, default_value = "models/demo_product.json")]
    product: PathBuf,
    /// Signing key (secret key file of `edgeprice keygen`).
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Publish to this origin when the gate passes (admin token from EDGEPRICE_ADMIN_TOKEN).
    #[arg(long)]
    origin: Option<String>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long)]
    now: Option<String>,
    /// Creation time written into the bundle (default: now).
    #[arg(long)]
    created: Option<String>,
    #[arg(long, default_value_t = 30)]
    valid_days: u64,
    #[arg(long)]
    trusted_key: Vec<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn trusted(extra: &[PathBuf]) -> Result<TrustedKeys> {
    let mut keys = bundle::default_keys()?;
    for p in extra {
        keys.add_json(&read(p)?).with_context(|| format!("in {}", p.display()))?;
    }
    Ok(keys)
}

fn product(path: &Path) -> Result<Product> {
    Product::from_json(&read(path)?).with_context(|| format!("in {}", path.display()))
}

fn fmt_time(t: i64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64))
        .to_string()
}

/// Feedback events from a file (NDJSON or a JSON array) or the origin's database.
fn load_events(log: Option<&Path>, db: Option<&str>) -> Result<Vec<Value>> {
    match (log, db) {
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            if text.trim_start().starts_with('[') {
                return Ok(serde_json::from_str(&text)?);
            }
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
                .collect()
        }
        (None, Some(url)) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let store = edgeprice::origin::store::Store::connect(url).await?;
                Ok(store.feedback_events().await?)
            })
        }
        _ => anyhow::bail!("give --log FILE or --db URL"),
    }
}

fn policy_of<'a>(spec: &str, engine: &'a Option<Engine>) -> Result<Policy<'a>> {
    Ok(match (spec, engine) {
        (_, Some(e)) => Policy::Bundle(e),
        ("list", None) => Policy::List,
        ("uniform", None) => Policy::Uniform,
        ("oracle", None) => Policy::Oracle,
        (other, None) => anyhow::bail!("unknown policy {other}"),
    })
}

fn post_events(origin: &str, lines: &[String]) -> Result<()> {
    let token = std::env::var("EDGEPRICE_EDGE_TOKEN").context("EDGEPRICE_EDGE_TOKEN is not set")?;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{}/v1/feedback", origin.trim_end_matches('/'));
    for chunk in lines.chunks(1_000) {
        let body = chunk.join("\n");
        let mut resp = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/x-ndjson")
            .send(body.as_bytes())
            .with_context(|| format!("POST {url}"))?;
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        anyhow::ensure!(resp.status().is_success(), "POST {url}: {} {text}", resp.status());
        let answer: Value = serde_json::from_str(&text).unwrap_or_default();
        let rejected = answer["rejected"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(rejected == 0, "the origin rejected {rejected} events: {}", answer["rejected"]);
    }
    Ok(())
}

pub fn run_simulate(a: SimulateArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let rows = read_rows(&a.data)?;
    let sessions: Vec<(Session, bool)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.revenue.map(|b| (r.session, b)).with_context(|| format!("row {} has no Revenue label", i + 1)))
        .collect::<Result<_>>()?;
    let visits_each = a.visits.clamp(1, 1_000) as usize;
    let sessions: Vec<(Session, bool)> =
        sessions.iter().flat_map(|s| std::iter::repeat_n(s.clone(), visits_each)).collect();
    let product = product(&a.product)?;
    let keys = trusted(&a.trusted_key)?;
    let default = Engine::with_default(now)?;
    let rules = match &a.rules {
        Some(p) => Rules::from_toml(&String::from_utf8(read(p)?)?)?,
        None => default.bundle().rules.clone(),
    };
    let load = |spec: &str| -> Result<Option<Engine>> {
        Ok(match spec {
            "list" | "uniform" | "oracle" => None,
            path => {
                let e = Engine::new(&read(Path::new(path))?, &keys, now).with_context(|| format!("bundle {path}"))?;
                Some(if a.greedy { e.exploit_only() } else { e })
            }
        })
    };
    let engine = load(&a.policy)?;
    let version = engine.as_ref().map_or(0, Engine::policy_version);
    let policy = policy_of(&a.policy, &engine)?;
    let visits = simulate::run(&sessions, &product, &policy, &rules, a.seed, now);
    let uplift = match &a.baseline {
        Some(spec) => {
            let base_engine = load(spec)?;
            let base = simulate::run(&sessions, &product, &policy_of(spec, &base_engine)?, &rules, a.seed, now);
            Some(simulate::paired(&visits, &base))
        }
        None => None,
    };
    let summary = simulate::summarize(&visits);
    if a.log.is_some() || a.origin.is_some() {
        let lines: Vec<String> = visits
            .iter()
            .flat_map(|v| simulate::events(v, &sessions[v.row].0, &product, version, now))
            .map(|e| e.to_string())
            .collect();
        if let Some(path) = &a.log {
            std::fs::write(path, lines.join("\n") + "\n").with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(origin) = &a.origin {
            post_events(origin, &lines)?;
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
        if let Some(f) = fairness {
            out["fairness"] = f;
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
        if let Some(f) = fairness {
            println!("{}", serde_json::to_string_pretty(&f)?);
        }
    }
    Ok(())
}

fn logged_for(
    events: &[Value],
    product: &Product,
    page_values: &std::collections::BTreeMap<String, f64>,
) -> Result<Vec<Logged>> {
    let (logged, skipped) = evaluate::join(events, product, page_values);
    if skipped > 0 {
        eprintln!("skipped {skipped} decisions (another SKU, no features, a repeated id, or unreadable)");
    }
    anyhow::ensure!(!logged.is_empty(), "no logged decisions for {}", product.sku);
    Ok(logged)
}

fn print_evaluation(name: &str, e: &Evaluation) {
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

pub fn run_evaluate(a: EvaluateArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let product = product(&a.product)?;
    let keys = trusted(&a.trusted_key)?;
    let default = Engine::with_default(now)?;
    let candidate = match a.policy.as_str() {
        "list" | "uniform" | "oracle" => None,
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
    let logged = logged_for(&events, &product, &dm.bundle().manifest.page_values)?;
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

pub fn run_retrain(a: RetrainArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let product = product(&a.product)?;
    let keys = trusted(&a.trusted_key)?;
    let live = Engine::new(&read(&a.live)?, &keys, now).context("the live bundle")?;
    let rules_toml = String::from_utf8(read(&a.rules)?)?;
    let rules = Rules::from_toml(&rules_toml).with_context(|| format!("in {}", a.rules.display()))?;
    let page_values: std::collections::BTreeMap<String, f64> = serde_json::from_slice(&read(&a.page_values)?)?;
    let events = load_events(a.log.as_deref(), a.db.as_deref())?;
    let logged = logged_for(&events, &product, &page_values)?;
    // The gate judges on sessions the new model did not train on: one in five, by session id.
    let holdout =
        |l: &Logged| edgeprice::pricing::hash::hash_fields(&[b"gate", l.session_id.as_bytes()]).is_multiple_of(5);
    let (gate_set, train_set): (Vec<Logged>, Vec<Logged>) = logged.into_iter().partition(holdout);
    let config = RetrainConfig { seed: a.seed, ..Default::default() };
    let r = retrain(&train_set, product.list_price, &rules.ladder, &config)?;
    let created = now_or(a.created.as_deref())?;
    let version = live.policy_version() + 1;
    let manifest = Manifest {
        policy_version: version,
        key_id: String::new(),
        created: fmt_time(created),
        expires: fmt_time(created + a.valid_days as i64 * 86_400),
        schema: r.schema,
        rules_toml,
        page_values,
        population_curve: r.curve,
        metrics: json!({"retrained_from": {"decisions": r.decisions, "training_rows": r.training_rows,
            "correction": "importance resampling, weight 1/propensity capped at 20"}}),
        plan: None, // `sign` lowers and embeds it
    };
    let signer = BundleSigner::from_json(&read(&a.key)?)?;
    let bytes = signer.sign(&manifest, &r.int8)?;
    let mut with_signer = keys.clone();
    with_signer.add_json(serde_json::to_string(&signer.public_file())?.as_bytes())?;
    let next = Engine::new(&bytes, &with_signer, now).context("the new bundle does not verify")?;
    std::fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;

    // Promotion gate: doubly robust profit per decision of both policies on the held-out
    // log, same direct-method model; promote when the paired difference's 95% interval is
    // above zero.
    let new_eval = evaluate::evaluate(&gate_set, &Target::Bundle(&next), &next, &product, now);
    let live_eval = evaluate::evaluate(&gate_set, &Target::Bundle(&live), &next, &product, now);
    let diff = evaluate::difference(&new_eval, &live_eval);
    let promote = diff.ci_low > 0.0;
    let reason = if promote {
        format!("DR uplift {:.4} per decision, 95% CI [{:.4}, {:.4}] above zero", diff.mean, diff.ci_low, diff.ci_high)
    } else {
        format!(
            "DR uplift {:.4} per decision, 95% CI [{:.4}, {:.4}] does not exclude zero or is negative",
            diff.mean, diff.ci_low, diff.ci_high
        )
    };
    let mut published = false;
    if promote && let Some(origin) = &a.origin {
        crate::admin_request(
            "PUT",
            &format!("{}/v1/policy", origin.trim_end_matches('/')),
            "application/vnd.edgeprice.bundle",
            &bytes,
        )?;
        published = true;
    }
    let report = json!({
        "policy_version": version, "bundle": a.out, "trained_on": train_set.len(), "gate_decisions": gate_set.len(),
        "candidate_dr": new_eval.dr, "live_dr": live_eval.dr, "uplift": diff,
        "promote": promote, "published": published, "reason": reason,
    });
    if a.json {
        println!("{report}");
    } else {
        print_evaluation(&format!("candidate v{version}"), &new_eval);
        print_evaluation(&format!("live v{}", live.policy_version()), &live_eval);
        println!("{reason}{}", if published { "; published" } else { "" });
    }
    Ok(())
}
