//! The market file (TOML): which family the simulator's ground truth is, and its parameters.
//! Invariant: `MarketModel::from_toml` returns only validated models; every refusal has a
//! stable code. Parsing only: the core never writes TOML.

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::{FlatMarket, LogitMarket, Market, MarketModel};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MarketError {
    #[error("the market file is not valid TOML of the expected shape: {0}")]
    Malformed(String),
    #[error("market family {0:?} is unknown (expected \"v1\", \"logit\" or \"flat\")")]
    UnknownFamily(String),
    #[error("market parameter {0} is out of range: {1}")]
    OutOfRange(&'static str, String),
}

impl MarketError {
    /// Stable code for scripts and reports.
    pub fn code(&self) -> &'static str {
        match self {
            MarketError::Malformed(_) => "market_malformed",
            MarketError::UnknownFamily(_) => "market_unknown_family",
            MarketError::OutOfRange(..) => "market_out_of_range",
        }
    }
}

/// `Err(OutOfRange)` naming the parameter unless `ok`.
pub(super) fn check(name: &'static str, ok: bool, value: f64) -> Result<(), MarketError> {
    if ok { Ok(()) } else { Err(MarketError::OutOfRange(name, format!("{value:?}"))) }
}

/// First pass: the family, and whether a parameters table is present (read in the second).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    family: String,
    #[serde(default)]
    parameters: Option<IgnoredAny>,
}

/// Second pass, once the family is known: its parameters, every one optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithParameters<P> {
    #[serde(rename = "family")]
    _family: IgnoredAny,
    #[serde(default)]
    parameters: P,
}

fn parameters<P: DeserializeOwned + Default>(text: &str) -> Result<P, MarketError> {
    let file: WithParameters<P> = toml::from_str(text).map_err(|e| MarketError::Malformed(e.to_string()))?;
    Ok(file.parameters)
}

impl MarketModel {
    /// Reads a market file: `family = "v1" | "logit" | "flat"` and, for logit and flat, an
    /// optional `[parameters]` table (unset parameters take their defaults). Version 1 is
    /// fixed and takes no parameters.
    pub fn from_toml(text: &str) -> Result<MarketModel, MarketError> {
        let head: Head = toml::from_str(text).map_err(|e| MarketError::Malformed(e.to_string()))?;
        let model = match head.family.as_str() {
            "v1" => {
                if head.parameters.is_some() {
                    return Err(MarketError::Malformed(
                        "family \"v1\" takes no [parameters] table (version 1 is fixed)".into(),
                    ));
                }
                MarketModel::V1(Market)
            }
            "logit" => MarketModel::Logit(parameters::<LogitMarket>(text)?),
            "flat" => MarketModel::Flat(parameters::<FlatMarket>(text)?),
            _ => return Err(MarketError::UnknownFamily(head.family)),
        };
        model.validate()?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = include_str!("../../../../markets/v1.toml");
    const LOGIT: &str = include_str!("../../../../markets/logit.toml");
    const FLAT: &str = include_str!("../../../../markets/flat.toml");

    fn code(text: &str) -> &'static str {
        MarketModel::from_toml(text).unwrap_err().code()
    }

    #[test]
    fn example_files_parse_to_their_families_with_the_documented_defaults() {
        assert_eq!(MarketModel::from_toml(V1).unwrap(), MarketModel::V1(Market));
        let logit = MarketModel::from_toml(LOGIT).unwrap();
        assert_eq!(logit.family(), "logit");
        assert_eq!(logit, MarketModel::Logit(LogitMarket::default()));
        let flat = MarketModel::from_toml(FLAT).unwrap();
        assert_eq!(flat.family(), "flat");
        assert_eq!(flat, MarketModel::Flat(FlatMarket::default()));
    }

    #[test]
    fn every_parameter_is_optional() {
        assert_eq!(MarketModel::from_toml("family = \"logit\"").unwrap(), LogitMarket::default().into());
        assert_eq!(MarketModel::from_toml("family = \"flat\"\n[parameters]\n").unwrap(), FlatMarket::default().into());
        let some = MarketModel::from_toml("family = \"flat\"\n[parameters]\nbuy_share = 0.2\n").unwrap();
        assert_eq!(some, FlatMarket { buy_share: 0.2, ..FlatMarket::default() }.into());
        let logit = MarketModel::from_toml("family = \"logit\"\n[parameters]\ndiscount_scale = 0.05\n").unwrap();
        assert_eq!(logit, LogitMarket { discount_scale: 0.05, ..LogitMarket::default() }.into());
    }

    #[test]
    fn refusals_have_stable_codes() {
        assert_eq!(code("family = "), "market_malformed");
        assert_eq!(code(""), "market_malformed");
        assert_eq!(code("family = 1"), "market_malformed");
        assert_eq!(code("family = \"v1\"\nseed = 3"), "market_malformed");
        assert_eq!(code("family = \"v1\"\n[parameters]\n"), "market_malformed");
        assert_eq!(code("family = \"v1\"\n[parameters]\nheadroom = 0.2\n"), "market_malformed");
        assert_eq!(code("family = \"flat\"\n[parameters]\nbuy_rate = 0.2\n"), "market_malformed");
        assert_eq!(code("family = \"logit\"\n[parameters]\nheadroom = \"wide\"\n"), "market_malformed");
        assert_eq!(code("family = \"logit\"\nparameters = 3\n"), "market_malformed");
        assert_eq!(code("family = \"v2\""), "market_unknown_family");
        assert_eq!(code("family = \"Logit\""), "market_unknown_family");
        for bad in [
            "family = \"flat\"\n[parameters]\nbuy_share = -0.1\n",
            "family = \"flat\"\n[parameters]\nblocked_share = 1.5\n",
            "family = \"flat\"\n[parameters]\nbuy_share = 0.7\nblocked_share = 0.4\n",
            "family = \"flat\"\n[parameters]\nheadroom = 0.0\n",
            "family = \"flat\"\n[parameters]\ndepth = -0.1\n",
            "family = \"flat\"\n[parameters]\ndepth = nan\n",
            "family = \"logit\"\n[parameters]\nheadroom = -1.0\n",
            "family = \"logit\"\n[parameters]\ndiscount_scale = 0.0\n",
            "family = \"logit\"\n[parameters]\nmax_discount = 1.5\n",
            "family = \"logit\"\n[parameters]\nblocked_exit = inf\n",
            "family = \"logit\"\n[parameters]\ndiscount_holiday = 1000.0\n",
        ] {
            assert_eq!(code(bad), "market_out_of_range", "{bad}");
        }
        let err = MarketModel::from_toml("family = \"flat\"\n[parameters]\ndepth = 0.0\n").unwrap_err();
        assert_eq!(err, MarketError::OutOfRange("depth", "0.0".into()));
    }
}
