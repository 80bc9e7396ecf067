//! `MarketModel`: the market families a simulation can run on, behind one interface.
//! Invariant: `MarketModel::V1` is `Market` itself, draw for draw (same formulas, same RNG
//! streams); every family's `purchase_probability` is the closed form of its `valuation`.

use super::{FlatMarket, LogitMarket, MARKET_VERSION, Market, MarketError};
use edgeprice_core::session::Session;

/// The ground truth of a simulation: which family of market, with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum MarketModel {
    /// Version 1 (`Market`, models/README.md "Market model"): fixed parameters.
    V1(Market),
    /// "Logit willingness-to-pay": needed discounts depend on features other than intent.
    Logit(LogitMarket),
    /// "Features say nothing": one valuation distribution for every session and label.
    Flat(FlatMarket),
}

impl Default for MarketModel {
    fn default() -> Self {
        MarketModel::V1(Market)
    }
}

impl From<Market> for MarketModel {
    fn from(market: Market) -> Self {
        MarketModel::V1(market)
    }
}

impl From<LogitMarket> for MarketModel {
    fn from(market: LogitMarket) -> Self {
        MarketModel::Logit(market)
    }
}

impl From<FlatMarket> for MarketModel {
    fn from(market: FlatMarket) -> Self {
        MarketModel::Flat(market)
    }
}

impl MarketModel {
    /// The family names a market file's `family` key accepts.
    pub const FAMILIES: [&'static str; 3] = ["v1", "logit", "flat"];

    /// The family's name, as written in a market file: "v1", "logit" or "flat".
    pub fn family(&self) -> &'static str {
        match self {
            MarketModel::V1(_) => "v1",
            MarketModel::Logit(_) => "logit",
            MarketModel::Flat(_) => "flat",
        }
    }

    /// Probability that a visit of this session buys at price ratio `r`, given its real
    /// label at the list price. Closed form of `valuation`'s draws.
    pub fn purchase_probability(&self, s: &Session, bought_at_list: bool, r: f64) -> f64 {
        match self {
            MarketModel::V1(m) => m.purchase_probability(s, bought_at_list, r),
            MarketModel::Logit(m) => m.purchase_probability(s, bought_at_list, r),
            MarketModel::Flat(m) => m.purchase_probability(r),
        }
    }

    /// The valuation (in list prices) of one visit, item `index` of the valuation stream of
    /// `seed`: the visit buys iff `r <= valuation`.
    pub fn valuation(&self, s: &Session, bought_at_list: bool, seed: u64, index: u64) -> f64 {
        match self {
            MarketModel::V1(m) => m.valuation(s, bought_at_list, seed, index),
            MarketModel::Logit(m) => m.valuation(s, bought_at_list, seed, index),
            MarketModel::Flat(m) => m.valuation(seed, index),
        }
    }

    /// Refuses parameters out of their documented ranges (`from_toml` always checks).
    pub fn validate(&self) -> Result<(), MarketError> {
        match self {
            MarketModel::V1(_) => Ok(()),
            MarketModel::Logit(m) => m.validate(),
            MarketModel::Flat(m) => m.validate(),
        }
    }

    /// The family and its parameters, for reports.
    pub fn describe(&self) -> serde_json::Value {
        match self {
            MarketModel::V1(_) => serde_json::json!({ "family": "v1", "version": MARKET_VERSION }),
            MarketModel::Logit(m) => serde_json::json!({
                "family": "logit",
                "parameters": serde_json::to_value(m).unwrap_or_default(),
                "holiday_months": super::logit::HOLIDAY_MONTHS,
                "direct_traffic": super::logit::DIRECT_TRAFFIC,
            }),
            MarketModel::Flat(m) => serde_json::json!({
                "family": "flat",
                "parameters": serde_json::to_value(m).unwrap_or_default(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LoggingPolicy, odd_sessions, sessions, simulate_log};
    use super::*;

    fn families() -> Vec<MarketModel> {
        vec![MarketModel::default(), LogitMarket::default().into(), FlatMarket::default().into()]
    }

    #[test]
    fn v1_through_the_enum_is_bit_identical_to_market() {
        let model = MarketModel::default();
        assert_eq!(model, MarketModel::V1(Market));
        for (s, bought) in sessions().iter().chain(&odd_sessions()) {
            for k in 0..=60 {
                let r = 0.4 + 0.02 * k as f64;
                assert_eq!(
                    model.purchase_probability(s, *bought, r).to_bits(),
                    Market.purchase_probability(s, *bought, r).to_bits()
                );
            }
            for index in 0..500 {
                assert_eq!(
                    model.valuation(s, *bought, 3, index).to_bits(),
                    Market.valuation(s, *bought, 3, index).to_bits()
                );
            }
        }
        let owned = sessions();
        let refs: Vec<(&Session, bool)> = owned.iter().map(|(s, b)| (s, *b)).collect();
        let policy = LoggingPolicy::default();
        assert_eq!(
            simulate_log(&model, &policy, &refs, 50, 7),
            simulate_log(&MarketModel::V1(Market), &policy, &refs, 50, 7)
        );
    }

    #[test]
    fn every_family_draws_match_its_closed_form() {
        let all = sessions();
        for model in families() {
            for (s, bought) in [&all[1], &all[3], &all[5]] {
                for r in [0.55, 0.8, 0.9, 0.95, 1.0, 1.1] {
                    let n = 40_000;
                    let hits = (0..n).filter(|&i| r <= model.valuation(s, *bought, 5, i)).count() as f64 / n as f64;
                    let p = model.purchase_probability(s, *bought, r);
                    assert!((hits - p).abs() < 0.01, "{} r={r} simulated {hits} closed form {p}", model.family());
                }
            }
        }
    }

    #[test]
    fn every_family_demand_falls_as_price_rises() {
        for model in families() {
            for (s, bought) in sessions().iter().chain(&odd_sessions()) {
                let mut last = f64::INFINITY;
                for k in 0..=80 {
                    let p = model.purchase_probability(s, *bought, -0.2 + 0.02 * k as f64);
                    assert!(p <= last + 1e-15, "{} rose to {p} from {last}", model.family());
                    last = p;
                }
            }
        }
    }

    #[test]
    fn every_family_is_finite_and_a_probability_for_any_session() {
        for model in families() {
            for (s, bought) in sessions().iter().chain(&odd_sessions()) {
                for r in [-1.0, 0.0, 1e-9, 0.3, 0.5, 0.51, 0.75, 0.999, 1.0, 1.001, 1.5, 3.0, 1e6] {
                    let p = model.purchase_probability(s, *bought, r);
                    assert!(p.is_finite() && (0.0..=1.0).contains(&p), "{} r={r}: {p}", model.family());
                }
                for index in 0..200 {
                    let v = model.valuation(s, *bought, 11, index);
                    assert!(v.is_finite() && v >= 0.0, "{}: valuation {v}", model.family());
                }
            }
        }
    }

    #[test]
    fn family_names_and_descriptions() {
        let names: Vec<&str> = families().iter().map(MarketModel::family).collect();
        assert_eq!(names, MarketModel::FAMILIES);
        for model in families() {
            let d = model.describe();
            assert_eq!(d["family"], model.family());
            assert!(model.validate().is_ok());
        }
        assert_eq!(MarketModel::default().describe()["version"], MARKET_VERSION);
        let logit = MarketModel::from(LogitMarket::default()).describe();
        assert_eq!(logit["parameters"]["headroom"], 0.15);
        assert_eq!(logit["direct_traffic"], serde_json::json!(["1", "2"]));
        assert_eq!(MarketModel::from(FlatMarket::default()).describe()["parameters"]["buy_share"], 0.155);
    }
}
