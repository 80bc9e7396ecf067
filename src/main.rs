//! The `edgeprice` command line: thin I/O around the library (paths, stdout, progress).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use edgeprice::bundle::{self, BundleSigner, Manifest, PopulationCurve, TrustedKeys};
use edgeprice::dataset::{self, Row};
use edgeprice::engine::Engine;
use edgeprice::features::FeatureSchema;
use edgeprice::model::BehaviourModel;
use edgeprice::pricing::rules::{Rules, parse_time};
use edgeprice::train::{self, TrainConfig};

mod learning;

#[derive(Parser)]
#[command(name = "edgeprice", version, about = "Personalized pricing at the edge: train, score, price.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the behaviour model on a data set CSV (with 5-fold cross-validation) and write
    /// behaviour.onnx, behaviour.int8.onnx, schema.json and metrics.json to DIR.
    Train {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Override the number of training epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override AdamW's decoupled weight decay.
        #[arg(long)]
        weight_decay: Option<f64>,
        /// Override the learning rate.
        #[arg(long)]
        learning_rate: Option<f64>,
        /// Price-response form: 1 `sigmoid(a - b (r - 1))`, 2 (default) adds the ceiling `c`.
        #[arg(long)]
        form: Option<u32>,
        /// The market (TOML, `markets/*.toml`) that decides the exploring log's purchases;
        /// default: market version 1. The learner sees only the log.
        #[arg(long)]
        market: Option<PathBuf>,
    },
    /// Print one purchase probability at the list price (r = 1) per data row, in row order.
    Score {
        /// Folder with schema.json and the ONNX models (for example `models`).
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// Use the int8 model (behaviour.int8.onnx) instead of fp32.
        #[arg(long)]
        int8: bool,
        /// Print the heads `a,b,c` instead of the probability (`c` = 1 for two-head models).
        #[arg(long)]
        heads: bool,
    },
    /// Print the model's input vector of every data row as CSV (header: input names).
    Features {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
    },
    /// Make an Ed25519 signing key: writes the secret key file KEY (keep it private) and
    /// KEY.pub.json, and prints the public key file.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// Key id written into bundles (default: derived from the public key).
        #[arg(long)]
        key_id: Option<String>,
    },
    /// Build and sign a policy bundle from a model folder and a rules file.
    Bundle {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        rules: PathBuf,
        #[arg(long)]
        policy_version: u64,
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Creation time, RFC 3339 UTC (default: now).
        #[arg(long)]
        created: Option<String>,
        /// Days of validity after creation.
        #[arg(long, default_value_t = 30)]
        valid_days: u64,
        /// Page value table, JSON object page id -> value (PageValues for page events).
        #[arg(long)]
        page_values: Option<PathBuf>,
    },
    /// Verify a bundle: exit 0 when valid, non-zero with the reason code otherwise.
    Verify {
        #[arg(long)]
        bundle: PathBuf,
        /// Public key file (default: the key of the built-in default bundle).
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Time to check validity at, RFC 3339 UTC (default: now).
        #[arg(long)]
        now: Option<String>,
    },
    /// Print a bundle's manifest and parsed rules as JSON (signature not checked).
    Inspect {
        #[arg(long)]
        bundle: PathBuf,
    },
    /// Run the origin service: publish and serve bundles, store feedback. Tokens come from
    /// the environment: EDGEPRICE_ADMIN_TOKEN and EDGEPRICE_EDGE_TOKEN.
    Serve {
        /// Database URL: `sqlite://PATH?mode=rwc` or `postgres://...`.
        #[arg(long, env = "EDGEPRICE_DATABASE_URL", default_value = "sqlite://data/origin.db?mode=rwc")]
        db: String,
        #[arg(long, env = "EDGEPRICE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Keys trusted to sign bundles, comma-separated: public key files, or `KEY_ID:HEX`
        /// (default: the key of the built-in default bundle).
        #[arg(long, env = "EDGEPRICE_TRUSTED_KEYS", value_delimiter = ',')]
        trusted_key: Vec<String>,
        /// Demo catalog for /v1/catalog/{sku} and /products/{sku}.
        #[arg(long, env = "EDGEPRICE_CATALOG", default_value = "www/catalog.json")]
        catalog: PathBuf,
    },
    /// Publish a bundle to an origin (admin token from EDGEPRICE_ADMIN_TOKEN).
    Publish {
        #[arg(long, env = "EDGEPRICE_ORIGIN")]
        origin: String,
        #[arg(long)]
        bundle: PathBuf,
    },
    /// Make an earlier policy version live again at an origin (admin token from the environment).
    Rollback {
        #[arg(long, env = "EDGEPRICE_ORIGIN")]
        origin: String,
        #[arg(long)]
        to: u64,
    },
    /// Replay the sessions of a CSV through a policy (a bundle, list, uniform or oracle), the
    /// market model deciding purchases; prints profit, revenue and conversion per session.
    Simulate(learning::SimulateArgs),
    /// Off-policy estimates (IPS, SNIPS, doubly robust) of a policy's profit per session
    /// from logged feedback.
    Evaluate(learning::EvaluateArgs),
    /// Train the next model from logged feedback, build bundle N+1, and publish it only if
    /// its doubly robust estimate beats the live policy's.
    Retrain(learning::RetrainArgs),
    /// Seeded learning loops in memory (no origin) from a cold start in a market: one JSON
    /// line per round with the live policy against the best uniform price and the feature
    /// oracle on held-out sessions, and each gate call with its ground truth.
    Study(learning::StudyArgs),
    /// Price sessions for a product: one decision JSON (or one per line with --sessions).
    Price {
        /// Bundle file (default: the built-in default bundle).
        #[arg(long)]
        bundle: Option<PathBuf>,
        #[arg(long)]
        public_key: Option<PathBuf>,
        #[arg(long, conflicts_with_all = ["sessions", "data"])]
        session: Option<PathBuf>,
        /// NDJSON file, one session per line.
        #[arg(long, conflicts_with = "data")]
        sessions: Option<PathBuf>,
        /// A data set CSV: every row is a session (id `row-N`); one decision per line, and a
        /// summary on stderr.
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        product: PathBuf,
        /// Decision time, RFC 3339 UTC (default: now).
        #[arg(long)]
        now: Option<String>,
    },
}

fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    dataset::parse(&text).with_context(|| format!("in {}", path.display()))
}

fn read_schema(dir: &Path) -> Result<FeatureSchema> {
    let path = dir.join("schema.json");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    FeatureSchema::from_json(&bytes).with_context(|| format!("in {}", path.display()))
}

type TrainOverrides = (Option<usize>, Option<f64>, Option<f64>, Option<u32>);

fn run_train(data: &Path, out: &Path, seed: u64, overrides: TrainOverrides, market: Option<&Path>) -> Result<()> {
    let started = Instant::now();
    let rows = read_rows(data)?;
    let mut config = TrainConfig { seed, market: learning::market(market)?, ..Default::default() };
    let (epochs, weight_decay, learning_rate, form) = overrides;
    config.mlp.form = form.unwrap_or(config.mlp.form);
    anyhow::ensure!((1..=2).contains(&config.mlp.form), "--form is 1 (logistic) or 2 (with the ceiling head)");
    config.mlp.epochs = epochs.unwrap_or(config.mlp.epochs);
    config.mlp.weight_decay = weight_decay.unwrap_or(config.mlp.weight_decay);
    config.mlp.learning_rate = learning_rate.unwrap_or(config.mlp.learning_rate);
    let bar = indicatif::ProgressBar::new(config.total_epochs());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} epochs ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("training on {} sessions", rows.len()));
    let trained = train::train(&rows, &config, &mut || bar.inc(1))?;
    bar.finish();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write("behaviour.onnx", &trained.fp32)?;
    write("behaviour.int8.onnx", &trained.int8)?;
    write("schema.json", format!("{}\n", trained.schema.to_json()).as_bytes())?;
    write("metrics.json", format!("{}\n", serde_json::to_string_pretty(&trained.metrics)?).as_bytes())?;
    let cv = &trained.metrics.cross_validation;
    eprintln!(
        "5-fold CV: AUC fp32 {:.4} int8 {:.4}, log loss {:.4}, ECE {:.4}; price response MAE {:.4}; \
         fp32 {} B, int8 {} B; {:.1} s",
        cv.auc_fp32.mean,
        cv.auc_int8.mean,
        cv.log_loss_fp32.mean,
        cv.ece_fp32.mean,
        cv.price_response.mean_abs_error,
        trained.fp32.len(),
        trained.int8.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_score(dir: &Path, data: &Path, int8: bool, heads: bool) -> Result<()> {
    let schema = read_schema(dir)?;
    let file = dir.join(if int8 { "behaviour.int8.onnx" } else { "behaviour.onnx" });
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let model = BehaviourModel::load(&bytes, schema.width()).with_context(|| format!("loading {}", file.display()))?;
    let rows = read_rows(data)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut x = Vec::with_capacity(schema.width());
    for (i, row) in rows.iter().enumerate() {
        x.clear();
        schema.transform_into(&row.session, &mut x);
        let h = model.heads(&x).with_context(|| format!("scoring data row {}", i + 1))?;
        if heads {
            writeln!(out, "{},{},{}", h.a, h.b, h.c)?;
        } else {
            writeln!(out, "{:.9}", h.purchase_probability(1.0))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn run_features(dir: &Path, data: &Path) -> Result<()> {
    let schema = read_schema(dir)?;
    let rows = read_rows(data)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{}", schema.names().join(","))?;
    for row in &rows {
        let x = schema.transform(&row.session);
        let cells: Vec<String> = x.iter().map(|v| v.to_string()).collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    out.flush()?;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn now_or(text: Option<&str>) -> Result<i64> {
    match text {
        Some(t) => {
            parse_time(t).with_context(|| format!("{t:?} is not an RFC 3339 UTC time (like 2026-11-28T12:00:00Z)"))
        }
        None => Ok(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64),
    }
}

fn keys(public_key: Option<&Path>) -> Result<TrustedKeys> {
    match public_key {
        Some(p) => {
            let mut k = TrustedKeys::default();
            k.add_json(&read(p)?)?;
            Ok(k)
        }
        None => Ok(bundle::default_keys()?),
    }
}

fn run_keygen(out: &Path, key_id: Option<String>) -> Result<()> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let probe = BundleSigner::from_secret("", &secret);
    let id = key_id.unwrap_or_else(|| format!("ep-{}", &probe.public_file().public_key[..12]));
    let signer = BundleSigner::from_secret(&id, &secret);
    std::fs::write(out, signer.secret_json()).with_context(|| format!("writing {}", out.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))?;
    }
    let public = serde_json::to_string_pretty(&signer.public_file())?;
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub.json");
    std::fs::write(&pub_path, format!("{public}\n"))?;
    println!("{public}");
    Ok(())
}

/// The population demand curve that sets the uniform price, from metrics.json: estimated
/// from the logged impressions (doubly robust, `train` writes it), not from the model alone.
fn population_curve(metrics: &serde_json::Value) -> Result<PopulationCurve> {
    let pc = &metrics["population_curve"];
    let floats = |v: &serde_json::Value| -> Option<Vec<f64>> { v.as_array()?.iter().map(|x| x.as_f64()).collect() };
    let ratios = floats(&pc["ratios"]).context("metrics.json has no population_curve.ratios")?;
    let probs = floats(&pc["purchase_probability"]).context("metrics.json has no population_curve")?;
    anyhow::ensure!(ratios.len() == probs.len(), "population_curve ratios and probabilities differ in length");
    Ok(PopulationCurve { ratios, purchase_probability: probs })
}

#[allow(clippy::too_many_arguments)]
fn run_bundle(
    model: &Path,
    rules: &Path,
    policy_version: u64,
    key: &Path,
    out: &Path,
    created: Option<String>,
    valid_days: u64,
    page_values: Option<PathBuf>,
) -> Result<()> {
    let schema = read_schema(model)?;
    let onnx = read(&model.join("behaviour.int8.onnx"))?;
    let metrics: serde_json::Value = serde_json::from_slice(&read(&model.join("metrics.json"))?)?;
    let rules_toml = String::from_utf8(read(rules)?)?;
    Rules::from_toml(&rules_toml).with_context(|| format!("in {}", rules.display()))?;
    let created_at = now_or(created.as_deref())?;
    let fmt = edgeprice::pricing::rules::format_time;
    let page_values = match page_values {
        Some(p) => serde_json::from_slice(&read(&p)?).with_context(|| format!("in {}", p.display()))?,
        None => Default::default(),
    };
    let manifest = Manifest {
        policy_version,
        key_id: String::new(),
        created: fmt(created_at),
        expires: fmt(created_at + valid_days as i64 * 86_400),
        schema,
        rules_toml,
        page_values,
        population_curve: population_curve(&metrics)?,
        metrics: serde_json::json!({
            "cross_validation": {
                "auc_int8": metrics["cross_validation"]["auc_int8"]["mean"],
                "log_loss_fp32": metrics["cross_validation"]["log_loss_fp32"]["mean"],
                "ece_fp32": metrics["cross_validation"]["ece_fp32"]["mean"],
                "price_response_mean_abs_error": metrics["cross_validation"]["price_response"]["mean_abs_error"],
            },
            "versions": metrics["versions"],
        }),
        plan: None, // `sign` lowers and embeds it
    };
    let signer = BundleSigner::from_json(&read(key)?)?;
    let bytes = signer.sign(&manifest, &onnx)?;
    let mut trusted = TrustedKeys::default();
    trusted.add_json(serde_json::to_string(&signer.public_file())?.as_bytes())?;
    bundle::verify(&bytes, &trusted, created_at, None).context("the bundle just written does not verify")?;
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "wrote {} ({} bytes, policy version {policy_version}, key {})",
        out.display(),
        bytes.len(),
        signer.key_id
    );
    Ok(())
}

fn run_verify(path: &Path, public_key: Option<PathBuf>, now: Option<String>) -> Result<()> {
    let bytes = read(path)?;
    match bundle::verify(&bytes, &keys(public_key.as_deref())?, now_or(now.as_deref())?, None) {
        Ok(b) => {
            // Engines trust the signed plan; here tract-onnx checks it against the ONNX too.
            if let Err(e) = b.model.check_reference() {
                eprintln!("bundle_model_mismatch: {e}");
                std::process::exit(2);
            }
            println!(
                "ok: policy version {}, key {}, expires {}, model run by {} (checked against tract-onnx)",
                b.manifest.policy_version,
                b.manifest.key_id,
                b.manifest.expires,
                b.model.runtime()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("{}: {e}", e.code());
            std::process::exit(2);
        }
    }
}

fn run_inspect(path: &Path) -> Result<()> {
    let (manifest, model_bytes) = bundle::inspect_unverified(&read(path)?)?;
    let rules = Rules::from_toml(&manifest.rules_toml).map(|r| serde_json::to_value(r).unwrap_or_default());
    let out = serde_json::json!({
        "signature_checked": false,
        "manifest": manifest,
        "model_bytes": model_bytes,
        "rules": rules.unwrap_or_else(|e| serde_json::json!({"error": e.to_string()})),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Where `price` reads sessions from.
enum SessionSource {
    One(PathBuf),
    Ndjson(PathBuf),
    Csv(PathBuf),
}

fn run_price(
    bundle_path: Option<PathBuf>,
    public_key: Option<PathBuf>,
    source: SessionSource,
    product: &Path,
    now: Option<String>,
) -> Result<()> {
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
                writeln!(out, "{}", serde_json::to_string(&d)?)?;
            }
        }
        SessionSource::Csv(p) => {
            let parsed = edgeprice::pricing::product::Product::from_value(product.clone())?;
            let mut arms: std::collections::BTreeMap<String, usize> = Default::default();
            let (mut revenue, mut profit, mut discount) = (0.0, 0.0, 0.0);
            let rows = read_rows(&p)?;
            for (i, row) in rows.iter().enumerate() {
                let d = engine.price_session(&format!("row-{}", i + 1), &row.session, &parsed, now);
                *arms.entry(serde_json::to_value(d.arm)?.as_str().unwrap_or("?").to_string()).or_default() += 1;
                let p_buy = d.purchase_probability.unwrap_or(0.0);
                revenue += p_buy * d.price;
                profit += d.expected_profit.unwrap_or(0.0);
                discount += d.discount;
                writeln!(out, "{}", serde_json::to_string(&d)?)?;
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

/// The origin's abuse limits from the environment (defaults in `origin::limits`):
/// EDGEPRICE_EDGE_RATE and EDGEPRICE_ADMIN_RATE as `per_second:burst` (for example
/// `1000:2000`), EDGEPRICE_REQUEST_TIMEOUT_SECONDS for the whole-request deadline
/// (EDGEPRICE_HEADER_TIMEOUT_SECONDS, 10 s by default, bounds the headers: `origin::serve`).
fn limits_from_env() -> Result<edgeprice::origin::limits::Limits> {
    use edgeprice::origin::limits::{Limits, Rate};
    let d = Limits::default();
    let rate = |name: &str, default: Rate| -> Result<Rate> {
        let Ok(text) = std::env::var(name) else { return Ok(default) };
        let (per, burst) = text.split_once(':').unwrap_or((&text, &text));
        let (per_second, burst): (f64, f64) = (per.trim().parse()?, burst.trim().parse()?);
        anyhow::ensure!(per_second > 0.0 && burst >= 1.0, "{name}: rate must be > 0 and burst >= 1");
        Ok(Rate { per_second, burst })
    };
    let deadline = seconds_from_env("EDGEPRICE_REQUEST_TIMEOUT_SECONDS", d.request_deadline)?;
    Ok(Limits::new(rate("EDGEPRICE_EDGE_RATE", d.edge)?, rate("EDGEPRICE_ADMIN_RATE", d.admin)?, deadline))
}

/// A duration in seconds from the environment (clamped to 0.1 s .. 1 h), or `default`.
fn seconds_from_env(name: &str, default: std::time::Duration) -> Result<std::time::Duration> {
    match std::env::var(name) {
        Ok(t) => Ok(std::time::Duration::from_secs_f64(
            t.trim().parse::<f64>().with_context(|| name.to_string())?.clamp(0.1, 3600.0),
        )),
        Err(_) => Ok(default),
    }
}

fn run_serve(db: &str, listen: &str, trusted: &[String], catalog: &Path) -> Result<()> {
    let catalog = edgeprice::origin::load_catalog(&read(catalog)?).map_err(|e| anyhow::anyhow!(e))?;
    let token = |name: &str| -> Result<String> {
        let t = std::env::var(name).with_context(|| format!("{name} is not set"))?;
        anyhow::ensure!(t.len() >= 16, "{name} must be at least 16 characters");
        Ok(t)
    };
    let mut keys = TrustedKeys::default();
    if trusted.is_empty() {
        keys = bundle::default_keys()?;
    }
    for entry in trusted.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        match entry.split_once(':') {
            Some((id, hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let json = serde_json::json!({"key_id": id, "public_key": hex}).to_string();
                keys.add_json(json.as_bytes())?;
            }
            _ => keys.add_json(&read(Path::new(entry))?)?,
        }
    }
    // A SQLite file under a folder that does not exist yet (the default `data/`).
    if let Some(path) = db.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p))
        && let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let (admin_token, edge_token) = (token("EDGEPRICE_ADMIN_TOKEN")?, token("EDGEPRICE_EDGE_TOKEN")?);
    anyhow::ensure!(admin_token != edge_token, "the admin and edge tokens must differ");
    // JSON log lines on stderr; RUST_LOG filters (default: info).
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
        let store = edgeprice::origin::store::Store::connect(db).await?;
        let clock =
            || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let state = edgeprice::origin::AppState {
            store,
            catalog,
            keys,
            admin_token,
            edge_token,
            clock,
            metrics: Default::default(),
            limits: limits_from_env()?,
        };
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        tracing::info!(address = %listener.local_addr()?, database = db.split(':').next().unwrap_or(""), "edgeprice origin listening");
        let header_timeout =
            seconds_from_env("EDGEPRICE_HEADER_TIMEOUT_SECONDS", std::time::Duration::from_secs(10))?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        edgeprice::origin::serve::serve(listener, edgeprice::origin::app(state), header_timeout, shutdown).await;
        Ok(())
    })
}

/// Sends an admin request to the origin; prints the answer, fails on a non-2xx status.
fn admin_request(method: &str, url: &str, content_type: &str, body: &[u8]) -> Result<()> {
    let token = std::env::var("EDGEPRICE_ADMIN_TOKEN").context("EDGEPRICE_ADMIN_TOKEN is not set")?;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let auth = format!("Bearer {token}");
    let mut resp = match method {
        "PUT" => agent.put(url).header("Authorization", &auth).header("Content-Type", content_type).send(body),
        _ => agent.post(url).header("Authorization", &auth).header("Content-Type", content_type).send(body),
    }
    .with_context(|| format!("{method} {url}"))?;
    let status = resp.status();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    println!("{text}");
    anyhow::ensure!(status.is_success(), "{method} {url}: {status}");
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train { data, out, seed, epochs, weight_decay, learning_rate, form, market } => {
            run_train(&data, &out, seed, (epochs, weight_decay, learning_rate, form), market.as_deref())
        }
        Command::Score { model, data, int8, heads } => run_score(&model, &data, int8, heads),
        Command::Features { model, data } => run_features(&model, &data),
        Command::Keygen { out, key_id } => run_keygen(&out, key_id),
        Command::Bundle { model, rules, policy_version, key, out, created, valid_days, page_values } => {
            run_bundle(&model, &rules, policy_version, &key, &out, created, valid_days, page_values)
        }
        Command::Verify { bundle, public_key, now } => run_verify(&bundle, public_key, now),
        Command::Inspect { bundle } => run_inspect(&bundle),
        Command::Publish { origin, bundle } => admin_request(
            "PUT",
            &format!("{}/v1/policy", origin.trim_end_matches('/')),
            "application/octet-stream",
            &read(&bundle)?,
        ),
        Command::Rollback { origin, to } => {
            let body = serde_json::json!({ "version": to }).to_string();
            admin_request(
                "POST",
                &format!("{}/v1/policy/rollback", origin.trim_end_matches('/')),
                "application/json",
                body.as_bytes(),
            )
        }
        Command::Simulate(args) => learning::run_simulate(args),
        Command::Evaluate(args) => learning::run_evaluate(args),
        Command::Retrain(args) => learning::run_retrain(args),
        Command::Study(args) => learning::run_study(args),
        Command::Serve { db, listen, trusted_key, catalog } => run_serve(&db, &listen, &trusted_key, &catalog),
        Command::Price { bundle, public_key, session, sessions, data, product, now } => {
            let source = match (session, sessions, data) {
                (Some(p), None, None) => SessionSource::One(p),
                (None, Some(p), None) => SessionSource::Ndjson(p),
                (None, None, Some(p)) => SessionSource::Csv(p),
                _ => anyhow::bail!("give one of --session FILE, --sessions FILE or --data CSV"),
            };
            run_price(bundle, public_key, source, &product, now)
        }
    }
}
