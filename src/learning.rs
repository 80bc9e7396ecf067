//! The learning loop's commands (part of the `edgeprice` binary): `simulate`, `evaluate`,
//! `retrain`. File and network I/O around `edgeprice::learn` and `edgeprice::train::retrain`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use edgeprice::bundle::{self, BundleSigner, TrustedKeys};
use edgeprice::engine::Engine;
use edgeprice::learn::evaluate::{self, Evaluation, Logged, Target};
use edgeprice::learn::simulate::{self, Policy};
use edgeprice::market::MarketModel;
use edgeprice::pricing::product::Product;
use edgeprice::pricing::rules::Rules;
use edgeprice::session::Session;
use edgeprice::train::round::{RoundInputs, propose};
use serde_json::{Value, json};

use crate::{now_or, read, read_rows};

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

#[derive(Args)]
pub struct StudyArgs {
    /// A CSV in the data set's format; rows with index mod 5 = 4 are held out.
    #[arg(long)]
    data: PathBuf,
    /// The market (TOML) deciding purchases; default: market version 1.
    #[arg(long)]
    market: Option<PathBuf>,
    /// Seeded loops to run: seeds FIRST_SEED .. FIRST_SEED + SEEDS - 1.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, default_value_t = 4)]
    visits: u32,
    #[arg(long, default_value = "models/rules.toml")]
    rules: PathBuf,
    #[arg(long, default_value = "models/page_values.json")]
    page_values: PathBuf,
    #[arg(long, default_value = "models/demo_product.json")]
    product: PathBuf,
    /// Simulated time (default 2026-12-05T12:00:00Z, when no promotion runs for the demo product).
    #[arg(long, default_value = "2026-12-05T12:00:00Z")]
    now: String,
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

/// The baseline policies `simulate` knows by name (anything else is a bundle file).
const NAMED_POLICIES: [&str; 4] = ["list", "uniform", "feature-oracle", "oracle"];

fn policy_of<'a>(spec: &str, engine: &'a Option<Engine>, labels: &'a [f64]) -> Result<Policy<'a>> {
    Ok(match (spec, engine) {
        (_, Some(e)) => Policy::Bundle(e),
        ("list", None) => Policy::List,
        ("uniform", None) => Policy::Uniform,
        ("feature-oracle", None) => Policy::FeatureOracle(labels),
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

/// The market of a `--market FILE` argument, or version 1.
pub fn market(path: Option<&Path>) -> Result<MarketModel> {
    match path {
        Some(p) => MarketModel::from_toml(&String::from_utf8(read(p)?)?).with_context(|| format!("in {}", p.display())),
        None => Ok(MarketModel::default()),
    }
}

pub fn run_simulate(a: SimulateArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let market = market(a.market.as_deref())?;
    let rows = read_rows(&a.data)?;
    let sessions: Vec<(Session, bool)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.revenue.map(|b| (r.session, b)).with_context(|| format!("row {} has no Revenue label", i + 1)))
        .collect::<Result<_>>()?;
    let visits_each = a.visits.clamp(1, 1_000) as usize;
    // The feature oracle's label estimate, cross-fitted over distinct sessions.
    let labels: Vec<f64> = edgeprice::learn::oracle::label_probability(&sessions)
        .into_iter()
        .flat_map(|q| std::iter::repeat_n(q, visits_each))
        .collect();
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
    Rules::from_toml(&rules_toml).with_context(|| format!("in {}", a.rules.display()))?;
    let page_values: std::collections::BTreeMap<String, f64> = serde_json::from_slice(&read(&a.page_values)?)?;
    let events = load_events(a.log.as_deref(), a.db.as_deref())?;
    let logged = logged_for(&events, &product, &page_values)?;
    let signer = BundleSigner::from_json(&read(&a.key)?)?;
    let inputs = RoundInputs {
        rules_toml: &rules_toml,
        page_values: &page_values,
        product: &product,
        signer: &signer,
        keys: &keys,
        now,
        created: now_or(a.created.as_deref())?,
        valid_days: a.valid_days,
        seed: a.seed,
    };
    let proposal = propose(logged, &live, &inputs)?;
    let (bytes, version) = (proposal.bytes, proposal.candidate.policy_version());
    std::fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    let v = proposal.verdict;
    let (new_eval, live_eval, diff, promote, reason) = (v.candidate, v.live, v.uplift, v.promote, v.reason);
    let (diff_live_dm, diff_explored, explored) = (v.uplift_live_dm, v.uplift_explored, v.explored);
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
        "policy_version": version, "bundle": a.out, "trained_on": proposal.trained_on,
        "gate_decisions": proposal.gate_decisions,
        "candidate_dr": new_eval.dr, "live_dr": live_eval.dr, "uplift": diff, "uplift_live_dm": diff_live_dm,
        "uplift_explored": diff_explored, "explored_decisions": explored,
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

/// `edgeprice study`: seeded learning loops in memory, one JSON line per round.
pub fn run_study(a: StudyArgs) -> Result<()> {
    let now = now_or(Some(&a.now))?;
    let market = market(a.market.as_deref())?;
    let rows = read_rows(&a.data)?;
    let product = product(&a.product)?;
    let rules_toml = String::from_utf8(read(&a.rules)?)?;
    let page_values: std::collections::BTreeMap<String, f64> = serde_json::from_slice(&read(&a.page_values)?)?;
    let keys = bundle::default_keys()?;
    // A fixed key made for the study: its bundles are never written anywhere.
    let mut rng = edgeprice::rng::SplitMix64::new(0x0073_7475_6479);
    let mut secret = [0u8; 32];
    secret.chunks_mut(8).for_each(|c| c.copy_from_slice(&rng.next_u64().to_le_bytes()));
    let signer = BundleSigner::from_secret("study", &secret);
    for seed in a.first_seed..a.first_seed + a.seeds {
        let inputs = RoundInputs {
            rules_toml: &rules_toml,
            page_values: &page_values,
            product: &product,
            signer: &signer,
            keys: &keys,
            now,
            created: now - 86_400,
            valid_days: 3650,
            seed: 42 + seed,
        };
        let config = edgeprice::train::study::StudyConfig { rounds: a.rounds, visits: a.visits, seed };
        edgeprice::train::study::run(&market, &rows, &config, &inputs, |r| {
            let mut line = serde_json::to_value(r).unwrap_or_default();
            line["seed"] = json!(seed);
            line["market"] = json!(market.family());
            println!("{line}");
        })?;
    }
    Ok(())
}
