//! The "flat" market family: the features say nothing. Invariant: every visit of every
//! session draws its valuation from one distribution that ignores the session and its label,
//! so P(buy | x, r) is the same for all x and no personalization can beat one uniform price.

use serde::{Deserialize, Serialize};

use super::file::check;
use super::{MarketError, STREAM_VALUATION};
use edgeprice_core::rng::SplitMix64;

/// Parameters of the flat family. A visit's valuation `v` (in list prices), for any session:
/// - with probability `buy_share`: `v = 1 + E`, `E ~ Exp(headroom)`;
/// - with probability `blocked_share`: `v = 1 - min(D, 0.5)`, `D ~ Gamma(2, depth / 2)`
///   (mean `depth`, version 1's draw);
/// - otherwise `v = 0` (never buys).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FlatMarket {
    /// Share of visits that buy at the list price. Default 0.155 (the data's base rate).
    pub buy_share: f64,
    /// Share of visits blocked by price (they buy once the discount reaches D). Default 0.35.
    pub blocked_share: f64,
    /// Mean headroom above the list price of a buying visit's valuation. Default 0.15.
    pub headroom: f64,
    /// Mean needed discount of a blocked visit. Default 0.10.
    pub depth: f64,
}

impl Default for FlatMarket {
    fn default() -> Self {
        Self { buy_share: 0.155, blocked_share: 0.35, headroom: 0.15, depth: 0.10 }
    }
}

/// P(D <= d) for D ~ Gamma(2, mean / 2) (the same closed form as version 1's).
fn gamma2_cdf(d: f64, mean: f64) -> f64 {
    let t = d / (mean / 2.0);
    if t > 700.0 { 1.0 } else { (1.0 - (1.0 + t) * (-t).exp()).max(0.0) }
}

impl FlatMarket {
    /// Refuses parameters out of range: shares in [0, 1] summing to at most 1, headroom and
    /// depth in (0, 10].
    pub fn validate(&self) -> Result<(), MarketError> {
        let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
        check("buy_share", unit(self.buy_share), self.buy_share)?;
        check("blocked_share", unit(self.blocked_share), self.blocked_share)?;
        let total = self.buy_share + self.blocked_share;
        check("buy_share + blocked_share", total <= 1.0, total)?;
        check("headroom", self.headroom.is_finite() && self.headroom > 0.0 && self.headroom <= 10.0, self.headroom)?;
        check("depth", self.depth.is_finite() && self.depth > 0.0 && self.depth <= 10.0, self.depth)?;
        Ok(())
    }

    /// Probability that a visit buys at price ratio `r`, whatever the session and its label.
    /// Closed form of `valuation`'s draws.
    pub fn purchase_probability(&self, r: f64) -> f64 {
        if r <= 0.0 {
            return 1.0;
        }
        let buyers = if r <= 1.0 { 1.0 } else { (-(r - 1.0) / self.headroom).exp() };
        let blocked = if r >= 1.0 {
            0.0
        } else if r <= 0.5 {
            1.0
        } else {
            gamma2_cdf(1.0 - r, self.depth)
        };
        (self.buy_share * buyers + self.blocked_share * blocked).min(1.0)
    }

    /// The valuation of one visit: item `index` of the valuation stream of `seed`.
    pub fn valuation(&self, seed: u64, index: u64) -> f64 {
        let mut rng = SplitMix64::for_item(seed, STREAM_VALUATION, index);
        let u = rng.next_f64();
        if u < self.buy_share {
            1.0 + rng.next_exp(self.headroom)
        } else if u < self.buy_share + self.blocked_share {
            let theta = self.depth / 2.0;
            1.0 - (rng.next_exp(theta) + rng.next_exp(theta)).min(0.5)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MarketModel, odd_sessions, sessions};
    use super::*;

    #[test]
    fn every_session_and_label_gets_the_same_probability() {
        let model = MarketModel::Flat(FlatMarket::default());
        let all: Vec<_> = sessions().into_iter().chain(odd_sessions()).collect();
        for k in 0..=50 {
            let r = 0.5 + 0.02 * k as f64;
            let p = FlatMarket::default().purchase_probability(r);
            for (s, bought) in &all {
                assert_eq!(model.purchase_probability(s, *bought, r).to_bits(), p.to_bits());
                assert_eq!(model.purchase_probability(s, !*bought, r).to_bits(), p.to_bits());
            }
        }
        // The draws ignore the session and label too: same seed and index, same valuation.
        for index in 0..200 {
            let v = model.valuation(&all[0].0, true, 4, index);
            for (s, bought) in &all {
                assert_eq!(model.valuation(s, *bought, 4, index).to_bits(), v.to_bits());
            }
        }
    }

    #[test]
    fn the_list_price_sells_at_the_base_rate() {
        let market = FlatMarket::default();
        assert!((market.purchase_probability(1.0) - 0.155).abs() < 1e-15);
        assert!((market.purchase_probability(0.5) - (0.155 + 0.35)).abs() < 1e-15);
        let n = 40_000;
        let at_list = (0..n).filter(|&i| 1.0 <= market.valuation(2, i)).count() as f64 / n as f64;
        assert!((at_list - 0.155).abs() < 0.01, "{at_list}");
    }

    #[test]
    fn draws_match_the_closed_form_and_demand_falls() {
        let market = FlatMarket { buy_share: 0.3, blocked_share: 0.5, headroom: 0.2, depth: 0.15 };
        for r in [0.6, 0.85, 0.95, 1.05, 1.3] {
            let n = 40_000;
            let hits = (0..n).filter(|&i| r <= market.valuation(8, i)).count() as f64 / n as f64;
            let p = market.purchase_probability(r);
            assert!((hits - p).abs() < 0.01, "r={r} simulated {hits} closed form {p}");
        }
        let mut last = f64::INFINITY;
        for k in 0..=100 {
            let p = market.purchase_probability(0.02 * k as f64);
            assert!(p <= last && (0.0..=1.0).contains(&p));
            last = p;
        }
    }

    #[test]
    fn extreme_parameters_stay_probabilities() {
        for market in [
            FlatMarket { buy_share: 1.0, blocked_share: 0.0, headroom: 1e-300, depth: 1e-300 },
            FlatMarket { buy_share: 0.0, blocked_share: 1.0, headroom: 10.0, depth: 10.0 },
            FlatMarket { buy_share: 0.5, blocked_share: 0.5, headroom: 5e-324, depth: 5e-324 },
        ] {
            assert!(market.validate().is_ok());
            for r in [-1.0, 0.0, 0.3, 0.6, 0.99, 1.0, 1.01, 2.0] {
                let p = market.purchase_probability(r);
                assert!(p.is_finite() && (0.0..=1.0).contains(&p), "{market:?} r={r}: {p}");
            }
        }
    }
}
