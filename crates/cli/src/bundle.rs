//! `keygen`, `bundle`, `verify` and `inspect`: signing keys and signed policy bundles.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_core::bundle::{self, BundleSigner, Draft};
use edgeprice_core::pricing::curve::PopulationCurve;
use edgeprice_core::pricing::rules::Rules;
use serde_json::json;

use crate::files::{self, keys, now_or, read, read_schema};

#[derive(Args)]
pub struct KeygenArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Key id written into bundles (default: derived from the public key).
    #[arg(long)]
    pub key_id: Option<String>,
}

#[derive(Args)]
pub struct BundleArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub rules: PathBuf,
    #[arg(long)]
    pub policy_version: u64,
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Creation time, RFC 3339 UTC (default: now).
    #[arg(long)]
    pub created: Option<String>,
    /// Days of validity after creation.
    #[arg(long, default_value_t = 30)]
    pub valid_days: u64,
    /// Page value table, JSON object page id -> value (PageValues for page events).
    #[arg(long)]
    pub page_values: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub bundle: PathBuf,
    /// Public key file (default: the key of the built-in default bundle).
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// Time to check validity at, RFC 3339 UTC (default: now).
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Args)]
pub struct InspectArgs {
    #[arg(long)]
    pub bundle: PathBuf,
}

pub fn keygen(a: KeygenArgs) -> Result<()> {
    let (out, key_id) = (&a.out, a.key_id);
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let probe = BundleSigner::from_secret("", &secret);
    let id = key_id.unwrap_or_else(|| format!("ep-{}", &probe.public_file().public_key[..12]));
    let signer = BundleSigner::from_secret(&id, &secret);
    files::write(out, signer.secret_json().as_bytes())?;
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

/// Prints a new push secret: 32 random bytes in the Standard Webhooks `whsec_` form.
pub fn push_secret() -> Result<()> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    println!("{}", edgeprice_core::webhook::Secret::encode(&key));
    Ok(())
}

pub fn bundle(a: BundleArgs) -> Result<()> {
    let metrics: serde_json::Value = files::read_json(&a.model.join("metrics.json"))?;
    let rules_toml = files::read_text(&a.rules)?;
    Rules::from_toml(&rules_toml).with_context(|| format!("in {}", a.rules.display()))?;
    let page_values = match &a.page_values {
        Some(p) => files::read_json(p)?,
        None => Default::default(),
    };
    let draft = Draft {
        policy_version: a.policy_version,
        created: now_or(a.created.as_deref())?,
        valid_days: a.valid_days,
        schema: read_schema(&a.model)?,
        rules_toml,
        page_values,
        population_curve: population_curve(&metrics)?,
        metrics: json!({
            "cross_validation": {
                "auc_int8": metrics["cross_validation"]["auc_int8"]["mean"],
                "log_loss_fp32": metrics["cross_validation"]["log_loss_fp32"]["mean"],
                "ece_fp32": metrics["cross_validation"]["ece_fp32"]["mean"],
                "price_response_mean_abs_error": metrics["cross_validation"]["price_response"]["mean_abs_error"],
            },
            "versions": metrics["versions"],
        }),
    };
    let signer = BundleSigner::from_json(&read(&a.key)?)?;
    let bytes = signer
        .sign_draft(draft, &read(&a.model.join("behaviour.int8.onnx"))?)
        .context("the bundle just signed does not verify")?;
    files::write(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, policy version {}, key {})",
        a.out.display(),
        bytes.len(),
        a.policy_version,
        signer.key_id
    );
    Ok(())
}

pub fn verify(a: VerifyArgs) -> Result<()> {
    let (path, public_key, now) = (&a.bundle, a.public_key, a.now);
    let bytes = read(path)?;
    match bundle::verify(&bytes, &keys(public_key.as_deref())?, now_or(now.as_deref())?, None) {
        Ok(b) => {
            // Engines trust the signed plan; here tract-onnx checks it against the ONNX too.
            if let Err(e) = b.model().check_reference() {
                eprintln!("bundle_model_mismatch: {e}");
                std::process::exit(2);
            }
            println!(
                "ok: policy version {}, key {}, expires {}, model run by {} (checked against tract-onnx)",
                b.manifest().policy_version,
                b.manifest().key_id,
                b.manifest().expires,
                b.model().runtime()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("{}: {e}", e.code());
            std::process::exit(2);
        }
    }
}

pub fn inspect(a: InspectArgs) -> Result<()> {
    let path = &a.bundle;
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
