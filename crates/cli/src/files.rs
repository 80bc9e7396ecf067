//! The CLI's reading side: files, times and keys named on the command line, with the path
//! in every error. Everything else in the binary goes through these.

#[cfg(feature = "full")]
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use edgeprice_core::bundle::{self, TrustedKeys};
#[cfg(feature = "full")]
use edgeprice_core::features::FeatureSchema;
use edgeprice_core::pricing::product::Product;
#[cfg(feature = "full")]
use edgeprice_core::pricing::rules::Rules;
use edgeprice_core::pricing::rules::parse_time;
use edgeprice_learn::dataset::{self, Row};
use edgeprice_learn::market::MarketModel;

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?).with_context(|| format!("{} is not UTF-8", path.display()))
}

/// Writes a file, naming it in the error.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

pub fn read_rows(path: &Path) -> Result<Vec<Row>> {
    dataset::parse(&read_text(path)?).with_context(|| format!("in {}", path.display()))
}

#[cfg(feature = "full")]
pub fn read_schema(dir: &Path) -> Result<FeatureSchema> {
    let path = dir.join("schema.json");
    FeatureSchema::from_json(&read(&path)?).with_context(|| format!("in {}", path.display()))
}

/// Unix seconds of an RFC 3339 argument, or the clock when it is absent.
pub fn now_or(text: Option<&str>) -> Result<i64> {
    match text {
        Some(t) => {
            parse_time(t).with_context(|| format!("{t:?} is not an RFC 3339 UTC time (like 2026-11-28T12:00:00Z)"))
        }
        None => Ok(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64),
    }
}

/// The keys of `--public-key FILE`, or the built-in default bundle's key.
pub fn keys(public_key: Option<&Path>) -> Result<TrustedKeys> {
    match public_key {
        Some(p) => {
            let mut k = TrustedKeys::default();
            k.add_json(&read(p)?)?;
            Ok(k)
        }
        None => Ok(bundle::default_keys()?),
    }
}

/// The built-in key and the key files of `--trusted-key`.
pub fn trusted(extra: &[PathBuf]) -> Result<TrustedKeys> {
    let mut keys = bundle::default_keys()?;
    for p in extra {
        keys.add_json(&read(p)?).with_context(|| format!("in {}", p.display()))?;
    }
    Ok(keys)
}

pub fn product(path: &Path) -> Result<Product> {
    Product::from_json(&read(path)?).with_context(|| format!("in {}", path.display()))
}

/// The market of a `--market FILE` argument, or version 1.
pub fn market(path: Option<&Path>) -> Result<MarketModel> {
    match path {
        Some(p) => MarketModel::from_toml(&String::from_utf8(read(p)?)?).with_context(|| format!("in {}", p.display())),
        None => Ok(MarketModel::default()),
    }
}

#[cfg(feature = "full")]
/// A JSON file (page values, metrics).
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_slice(&read(path)?).with_context(|| format!("in {}", path.display()))
}

#[cfg(feature = "full")]
/// The shop a retraining round signs for: rules, page value table and product files
/// (`retrain` and `study`).
#[derive(clap::Args)]
pub struct ShopArgs {
    #[arg(long, default_value = "models/rules.toml")]
    pub rules: PathBuf,
    #[arg(long, default_value = "models/page_values.json")]
    pub page_values: PathBuf,
    #[arg(long, default_value = "models/demo_product.json")]
    pub product: PathBuf,
}

#[cfg(feature = "full")]
/// The files of `ShopArgs`, read and checked (the rules parse).
pub struct Shop {
    pub rules_toml: String,
    pub page_values: BTreeMap<String, f64>,
    pub product: Product,
}

#[cfg(feature = "full")]
impl ShopArgs {
    pub fn read(&self) -> Result<Shop> {
        let rules_toml = read_text(&self.rules)?;
        Rules::from_toml(&rules_toml).with_context(|| format!("in {}", self.rules.display()))?;
        Ok(Shop { rules_toml, page_values: read_json(&self.page_values)?, product: product(&self.product)? })
    }
}

#[cfg(feature = "full")]
impl Shop {
    /// What `RoundInputs::new` takes of the shop.
    pub fn parts(&self) -> (&str, &BTreeMap<String, f64>, &Product) {
        (&self.rules_toml, &self.page_values, &self.product)
    }
}
