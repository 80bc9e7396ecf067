//! `bundle`: a policy bundle built from a model folder and the shop's rules, signed. It
//! needs tract-onnx (the fast path's plan is lowered from the ONNX and checked against it),
//! so it is in the CLI's `full` build only.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_core::bundle::{BundleSigner, Draft};
use edgeprice_core::pricing::curve::PopulationCurve;
use edgeprice_core::pricing::rules::Rules;
use serde_json::json;

use crate::files::{self, now_or, read, read_schema};

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
