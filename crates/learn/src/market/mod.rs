//! The market model: a seeded, documented price response layered on real sessions, which
//! have purchase labels at the list price and no prices. Prices are ratios `r` of the list
//! price. Invariant: at `r = 1` every session buys exactly as its real label says.
//! The learner never reads these parameters; it sees only logged (price, outcome) pairs.
//!
//! Each simulated visit of a session draws a valuation `v` (in units of the list price);
//! the shopper buys iff `r <= v`:
//! - a real buyer values the product at `v = 1 + E`, `E ~ Exp(headroom)`: it buys at any
//!   discount and, above the list price, less and less;
//! - a real non-buyer is "blocked by price" with probability `blocked_share(x)`, with
//!   `v = 1 - min(D, 0.5)`, `D ~ Gamma(2, depth(x) / 2)` (mean `depth(x)`, hump-shaped: a
//!   token discount moves few shoppers): it buys once the discount reaches `D`;
//! - every other non-buyer never buys (`v = 0`).
//!
//! That is version 1 (`Market`). Other families of ground truth (`logit`, `flat`) sit
//! behind `MarketModel` and are chosen by a market file (`markets/README.md`).

mod discount;
mod family;
mod file;
mod flat;
mod logit;

pub use family::MarketModel;
pub use file::MarketError;
pub use flat::FlatMarket;
pub use logit::LogitMarket;

use edgeprice_core::rng::SplitMix64;
use edgeprice_core::session::{Numeric, Session};

/// Version of the market's arithmetic and parameters (logged data depends on it).
pub const MARKET_VERSION: u32 = 1;

/// Traffic sources that this market treats as deal-seeking (coupon and comparison sites).
/// The data set's traffic codes are anonymous, so this assignment is the market's own.
const DEAL_TRAFFIC: [&str; 3] = ["3", "4", "13"];

/// Stream ids for `SplitMix64::for_item`, so different uses never share draws.
const STREAM_VALUATION: u64 = 1;
const STREAM_LOGGING: u64 = 2;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// The market's fixed parameters (version 1). See the model card for their rationale.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Market;

impl Market {
    /// Share of the session's non-buying visits that were blocked by price.
    pub fn blocked_share(&self, s: &Session) -> f64 {
        let pages = finite_or_zero(s.get(Numeric::ProductRelated));
        let exit = finite_or_zero(s.get(Numeric::ExitRates)).min(0.2);
        let special = finite_or_zero(s.get(Numeric::SpecialDay)).min(1.0);
        let mut z = -2.6;
        z += match s.visitor_type.as_str() {
            "New_Visitor" => 1.2,
            "Returning_Visitor" => 0.0,
            _ => 0.5,
        };
        if finite_or_zero(s.get(Numeric::PageValues)) > 0.0 {
            z += 1.0;
        }
        z += 0.3 * pages.ln_1p();
        z -= 8.0 * exit;
        z += 1.5 * special;
        if DEAL_TRAFFIC.contains(&s.traffic_type.as_str()) {
            z += 0.7;
        }
        if s.weekend {
            z += 0.3;
        }
        sigmoid(z)
    }

    /// Mean discount (fraction of list price) a blocked shopper needs.
    pub fn depth(&self, s: &Session) -> f64 {
        let special = finite_or_zero(s.get(Numeric::SpecialDay)).min(1.0);
        let mut d = 0.07;
        if s.is_new_visitor() {
            d += 0.06;
        }
        if finite_or_zero(s.get(Numeric::PageValues)) == 0.0 {
            d += 0.03;
        }
        d + 0.06 * special
    }

    /// Mean headroom above the list price of a buyer's valuation.
    pub fn headroom(&self, s: &Session) -> f64 {
        if s.visitor_type == "Returning_Visitor" { 0.20 } else { 0.10 }
    }

    /// Probability that a visit of this session buys at price ratio `r`, given its real
    /// label at the list price. Closed form of the valuation draws above.
    pub fn purchase_probability(&self, s: &Session, bought_at_list: bool, r: f64) -> f64 {
        if bought_at_list {
            if r <= 1.0 { 1.0 } else { (-(r - 1.0) / self.headroom(s)).exp() }
        } else if r >= 1.0 {
            0.0
        } else if r <= 0.5 {
            self.blocked_share(s)
        } else {
            // Gamma(2, theta) CDF at d = 1 - r.
            let t = (1.0 - r) / (self.depth(s) / 2.0);
            self.blocked_share(s) * (1.0 - (1.0 + t) * (-t).exp())
        }
    }

    /// The valuation of one visit (index `visit`) of session number `index`.
    pub fn valuation(&self, s: &Session, bought_at_list: bool, seed: u64, index: u64) -> f64 {
        let mut rng = SplitMix64::for_item(seed, STREAM_VALUATION, index);
        if bought_at_list {
            1.0 + rng.next_exp(self.headroom(s))
        } else if rng.next_f64() < self.blocked_share(s) {
            let theta = self.depth(s) / 2.0;
            1.0 - (rng.next_exp(theta) + rng.next_exp(theta)).min(0.5)
        } else {
            0.0
        }
    }
}

/// The exploring policy that produced the logged data: with probability `list_share` the
/// list price, otherwise a uniform draw from the ladder (which includes the list price).
#[derive(Clone, Debug, PartialEq)]
pub struct LoggingPolicy {
    pub ladder: Vec<f64>,
    pub list_share: f64,
}

impl Default for LoggingPolicy {
    fn default() -> Self {
        // 1.00, 0.975, ..., 0.80: nine rungs, list price first.
        Self { ladder: (0..9).map(|k| 1.0 - 0.025 * k as f64).collect(), list_share: 0.5 }
    }
}

impl LoggingPolicy {
    /// Probability of showing each rung (they sum to 1).
    pub fn propensities(&self) -> Vec<f64> {
        let uniform = (1.0 - self.list_share) / self.ladder.len() as f64;
        self.ladder.iter().map(|&r| if r == 1.0 { self.list_share + uniform } else { uniform }).collect()
    }

    /// Rung chosen for one visit, with its propensity.
    pub fn choose(&self, rng: &mut SplitMix64) -> (usize, f64) {
        let p = self.propensities();
        let u = rng.next_f64();
        let mut acc = 0.0;
        for (k, pk) in p.iter().enumerate() {
            acc += pk;
            if u < acc {
                return (k, *pk);
            }
        }
        let last = p.len() - 1;
        (last, p[last])
    }
}

/// One logged impression: a visit of a session shown one price, and what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Impression {
    pub session: usize,
    pub visit: u32,
    pub price_ratio: f64,
    pub propensity: f64,
    pub purchased: bool,
}

/// Replays `visits` visits of every session through the logging policy and the market.
/// Deterministic in `seed`; a session's draws do not depend on the other sessions.
/// `market` is a `&MarketModel` (a `&Market` is still accepted: it is `MarketModel::V1`).
pub fn simulate_log(
    market: &MarketModel,
    policy: &LoggingPolicy,
    sessions: &[(&Session, bool)],
    visits: u32,
    seed: u64,
) -> Vec<Impression> {
    let mut log = Vec::with_capacity(sessions.len() * visits as usize);
    for (i, (session, bought)) in sessions.iter().enumerate() {
        for visit in 0..visits {
            let item = (i as u64) << 8 | visit as u64;
            let mut rng = SplitMix64::for_item(seed, STREAM_LOGGING, item);
            let (k, propensity) = policy.choose(&mut rng);
            let price_ratio = policy.ladder[k];
            let valuation = market.valuation(session, *bought, seed, item);
            log.push(Impression { session: i, visit, price_ratio, propensity, purchased: price_ratio <= valuation });
        }
    }
    log
}

/// Test sessions of every market family, from a CSV snippet in the data set's format.
#[cfg(test)]
fn sessions() -> Vec<(Session, bool)> {
    let text = "Administrative,Administrative_Duration,Informational,Informational_Duration,ProductRelated,ProductRelated_Duration,BounceRates,ExitRates,PageValues,SpecialDay,Month,OperatingSystems,Browser,Region,TrafficType,VisitorType,Weekend,Revenue\n\
        0,0,0,0,10,262.5,0,0.02,0,0,May,2,2,5,2,Returning_Visitor,FALSE,FALSE\n\
        2,40,0,0,30,900,0,0.01,25.5,0,Nov,2,2,1,3,New_Visitor,TRUE,FALSE\n\
        1,10,0,0,12,400,0,0.015,40,0.4,Nov,1,1,1,4,New_Visitor,FALSE,TRUE\n\
        0,0,6,120,45,1500,0,0.005,0,0,Dec,2,2,3,8,Returning_Visitor,TRUE,FALSE\n\
        5,300,0,0,3,60,0.2,0.2,0,0,Mar,2,4,1,1,Returning_Visitor,FALSE,FALSE\n\
        3,90,2,30,25,800,0,0.01,12,0,Dec,2,2,1,2,Returning_Visitor,TRUE,TRUE\n";
    crate::dataset::parse(text).unwrap().into_iter().map(|r| (r.session, r.revenue.unwrap())).collect()
}

/// Sessions with values no data set should hold (NaN, infinite, negative, huge, empty codes):
/// every family must still answer a finite probability in [0, 1].
#[cfg(test)]
fn odd_sessions() -> Vec<(Session, bool)> {
    let mut out = Vec::new();
    for (k, value) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -3.0, 1e300, f64::MAX].into_iter().enumerate() {
        let mut s = Session::default();
        for column in Numeric::ALL {
            s.set(column, value);
        }
        s.month = ["", "Nov", "Dec", "June"][k % 4].to_string();
        s.traffic_type = ["1", "", "13", "99"][k % 4].to_string();
        s.weekend = k % 2 == 0;
        out.push((s.clone(), false));
        out.push((s, true));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_price_reproduces_the_real_labels() {
        let market = Market;
        for (s, bought) in sessions() {
            assert_eq!(market.purchase_probability(&s, bought, 1.0), if bought { 1.0 } else { 0.0 });
            for index in 0..200 {
                assert_eq!(1.0 <= market.valuation(&s, bought, 9, index), bought);
            }
        }
    }

    #[test]
    fn demand_falls_as_price_rises() {
        let market = Market;
        for (s, bought) in sessions() {
            let mut last = f64::INFINITY;
            for k in 0..=40 {
                let p = market.purchase_probability(&s, bought, 0.4 + 0.02 * k as f64);
                assert!(p <= last + 1e-15);
                last = p;
            }
        }
    }

    #[test]
    fn draws_match_the_closed_form() {
        let market = Market;
        let all = sessions();
        let (s, bought) = &all[1];
        for r in [0.8, 0.9, 0.95] {
            let n = 40_000;
            let hits = (0..n).filter(|&i| r <= market.valuation(s, *bought, 5, i)).count() as f64 / n as f64;
            let p = market.purchase_probability(s, *bought, r);
            assert!((hits - p).abs() < 0.01, "r={r} simulated {hits} closed form {p}");
        }
    }

    #[test]
    fn logging_policy_propensities_are_exact() {
        let policy = LoggingPolicy::default();
        let p = policy.propensities();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let owned = sessions();
        let refs: Vec<(&Session, bool)> = owned.iter().map(|(s, b)| (s, *b)).collect();
        let log = simulate_log(&MarketModel::default(), &policy, &refs, 200, 1);
        assert_eq!(log, simulate_log(&MarketModel::default(), &policy, &refs, 200, 1));
        // A bare `Market` is version 1 through `MarketModel::V1`: the same log.
        let list = log.iter().filter(|i| i.price_ratio == 1.0).count() as f64 / log.len() as f64;
        assert!((list - p[0]).abs() < 0.04, "{list} vs {}", p[0]);
        for imp in &log {
            let k = policy.ladder.iter().position(|r| *r == imp.price_ratio).unwrap();
            assert_eq!(imp.propensity, p[k]);
            if imp.price_ratio == 1.0 {
                assert_eq!(imp.purchased, owned[imp.session].1);
            }
        }
    }
}
