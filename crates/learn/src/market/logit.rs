//! The "logit willingness-to-pay" market family: price sensitivity driven by features other
//! than purchase intent. Invariant: at `r = 1` every session buys exactly as its real label
//! says, and `purchase_probability` is the exact law of `valuation` (inverse-CDF draws).

use serde::{Deserialize, Serialize};

use super::discount::NeededDiscount;
use super::file::check;
use super::{MarketError, STREAM_VALUATION, finite_or_zero, sigmoid};
use edgeprice_core::rng::SplitMix64;
use edgeprice_core::session::{Numeric, Session};

/// Months whose shoppers this family treats as holiday shoppers (deeper needed discounts).
pub const HOLIDAY_MONTHS: [&str; 2] = ["Nov", "Dec"];
/// Traffic codes this family treats as direct (less price sensitive). The data set's codes
/// are anonymous: this reading is the family's own, and differs from version 1's deal codes.
pub const DIRECT_TRAFFIC: [&str; 2] = ["1", "2"];

/// The largest f64 below 1: a blocked shopper's valuation stays below the list price even
/// when its needed discount rounds away, so no real non-buyer ever buys at `r = 1`.
const BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

/// Parameters of the logit family. A visit's valuation `v` (in list prices):
/// - real buyer: `v = 1 + E`, `E ~ Exp(headroom)`;
/// - real non-buyer, blocked by price with probability `blocked_share(x)`: `v = 1 - D`, `D`
///   logistic with location `location(x)` and scale `discount_scale`, truncated to
///   `(0, max_discount]`;
/// - any other real non-buyer: `v = 0`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogitMarket {
    /// Mean headroom above the list price of a real buyer's valuation. Default 0.15.
    pub headroom: f64,
    /// Intercept of the blocked share's logit. Default -1.0.
    pub blocked_intercept: f64,
    /// Added to the blocked share's logit when PageValues > 0. Default 0.8.
    pub blocked_page_value: f64,
    /// Times min(ExitRates, 0.2), added to the blocked share's logit. Default -6.0.
    pub blocked_exit: f64,
    /// Added when the Month is Nov or Dec. Default 0.4.
    pub blocked_holiday: f64,
    /// Added on weekends. Default 0.2.
    pub blocked_weekend: f64,
    /// Times ln(1 + ProductRelated). Default 0.15.
    pub blocked_product_pages: f64,
    /// Location of the needed discount before the terms below. Default 0.08.
    pub discount_intercept: f64,
    /// Added to the location when the Month is Nov or Dec. Default 0.06.
    pub discount_holiday: f64,
    /// Added to the location when the TrafficType is 1 or 2. Default -0.04.
    pub discount_direct_traffic: f64,
    /// Added to the location on weekends. Default 0.02.
    pub discount_weekend: f64,
    /// Times ln(1 + Informational), added to the location. Default 0.01.
    pub discount_informational: f64,
    /// Times ln(1 + Administrative), added to the location. Default -0.01.
    pub discount_administrative: f64,
    /// Scale of the logistic needed discount. Default 0.03.
    pub discount_scale: f64,
    /// Largest needed discount (the truncation's upper end). Default 0.5.
    pub max_discount: f64,
}

impl Default for LogitMarket {
    fn default() -> Self {
        Self {
            headroom: 0.15,
            blocked_intercept: -1.0,
            blocked_page_value: 0.8,
            blocked_exit: -6.0,
            blocked_holiday: 0.4,
            blocked_weekend: 0.2,
            blocked_product_pages: 0.15,
            discount_intercept: 0.08,
            discount_holiday: 0.06,
            discount_direct_traffic: -0.04,
            discount_weekend: 0.02,
            discount_informational: 0.01,
            discount_administrative: -0.01,
            discount_scale: 0.03,
            max_discount: 0.5,
        }
    }
}

fn is_holiday(s: &Session) -> bool {
    HOLIDAY_MONTHS.contains(&s.month.as_str())
}

impl LogitMarket {
    /// Refuses parameters out of range: positive headroom and scale, `max_discount` in
    /// [0.01, 1], every coefficient finite and within +-100.
    pub fn validate(&self) -> Result<(), MarketError> {
        check("headroom", self.headroom.is_finite() && self.headroom > 0.0 && self.headroom <= 10.0, self.headroom)?;
        let scale = self.discount_scale;
        check("discount_scale", scale.is_finite() && scale > 0.0 && scale <= 1.0, scale)?;
        let max = self.max_discount;
        check("max_discount", max.is_finite() && (0.01..=1.0).contains(&max), max)?;
        for (name, c) in [
            ("blocked_intercept", self.blocked_intercept),
            ("blocked_page_value", self.blocked_page_value),
            ("blocked_exit", self.blocked_exit),
            ("blocked_holiday", self.blocked_holiday),
            ("blocked_weekend", self.blocked_weekend),
            ("blocked_product_pages", self.blocked_product_pages),
            ("discount_intercept", self.discount_intercept),
            ("discount_holiday", self.discount_holiday),
            ("discount_direct_traffic", self.discount_direct_traffic),
            ("discount_weekend", self.discount_weekend),
            ("discount_informational", self.discount_informational),
            ("discount_administrative", self.discount_administrative),
        ] {
            check(name, c.is_finite() && c.abs() <= 100.0, c)?;
        }
        Ok(())
    }

    /// Share of the session's non-buying visits that were blocked by price.
    pub fn blocked_share(&self, s: &Session) -> f64 {
        let mut z = self.blocked_intercept;
        if finite_or_zero(s.get(Numeric::PageValues)) > 0.0 {
            z += self.blocked_page_value;
        }
        z += self.blocked_exit * finite_or_zero(s.get(Numeric::ExitRates)).min(0.2);
        if is_holiday(s) {
            z += self.blocked_holiday;
        }
        if s.weekend {
            z += self.blocked_weekend;
        }
        z += self.blocked_product_pages * finite_or_zero(s.get(Numeric::ProductRelated)).ln_1p();
        sigmoid(z)
    }

    /// Location of a blocked shopper's logistic needed discount, within [0, max_discount].
    pub fn location(&self, s: &Session) -> f64 {
        let mut mu = self.discount_intercept;
        if is_holiday(s) {
            mu += self.discount_holiday;
        }
        if DIRECT_TRAFFIC.contains(&s.traffic_type.as_str()) {
            mu += self.discount_direct_traffic;
        }
        if s.weekend {
            mu += self.discount_weekend;
        }
        mu += self.discount_informational * finite_or_zero(s.get(Numeric::Informational)).ln_1p();
        mu += self.discount_administrative * finite_or_zero(s.get(Numeric::Administrative)).ln_1p();
        mu.max(0.0).min(self.max_discount)
    }

    /// The needed discount of the session's blocked shoppers.
    fn needed_discount(&self, s: &Session) -> NeededDiscount {
        NeededDiscount { location: self.location(s), scale: self.discount_scale, max: self.max_discount }
    }

    /// Mean needed discount of the session's blocked shoppers (the truncated logistic's mean,
    /// which exceeds `location` when the truncation at 0 cuts the lower tail).
    pub fn mean_discount(&self, s: &Session) -> f64 {
        self.needed_discount(s).mean()
    }

    /// Probability that a visit of this session buys at price ratio `r`, given its real
    /// label at the list price. Closed form of `valuation`'s draws.
    pub fn purchase_probability(&self, s: &Session, bought_at_list: bool, r: f64) -> f64 {
        if r <= 0.0 {
            1.0
        } else if bought_at_list {
            if r <= 1.0 { 1.0 } else { (-(r - 1.0) / self.headroom).exp() }
        } else if r >= 1.0 {
            0.0
        } else {
            self.blocked_share(s) * self.needed_discount(s).cdf(1.0 - r)
        }
    }

    /// The valuation of one visit: item `index` of the valuation stream of `seed`.
    pub fn valuation(&self, s: &Session, bought_at_list: bool, seed: u64, index: u64) -> f64 {
        let mut rng = SplitMix64::for_item(seed, STREAM_VALUATION, index);
        if bought_at_list {
            1.0 + rng.next_exp(self.headroom)
        } else if rng.next_f64() < self.blocked_share(s) {
            let d = self.needed_discount(s).quantile(rng.next_open_f64());
            (1.0 - d).min(BELOW_ONE)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sessions;
    use super::*;

    #[test]
    fn list_price_reproduces_the_real_labels() {
        let market = LogitMarket::default();
        for (s, bought) in sessions() {
            assert_eq!(market.purchase_probability(&s, bought, 1.0), if bought { 1.0 } else { 0.0 });
            for index in 0..2_000 {
                assert_eq!(1.0 <= market.valuation(&s, bought, 9, index), bought);
            }
        }
    }

    #[test]
    fn defaults_give_the_documented_ranges() {
        let market = LogitMarket::default();
        for (s, _) in sessions() {
            let share = market.blocked_share(&s);
            assert!((0.1..=0.8).contains(&share), "blocked share {share}");
            let mean = market.mean_discount(&s);
            assert!((0.04..=0.20).contains(&mean), "mean needed discount {mean}");
        }
    }

    #[test]
    fn price_sensitivity_follows_month_traffic_and_pages_not_intent() {
        let market = LogitMarket::default();
        let base = &sessions()[0].0; // May, traffic 2, weekday, no informational pages
        let mut holiday = base.clone();
        holiday.month = "Dec".into();
        assert!(market.location(&holiday) > market.location(base));
        let mut other_traffic = base.clone();
        other_traffic.traffic_type = "8".into();
        assert!(market.location(&other_traffic) > market.location(base));
        let mut reader = base.clone();
        reader.set(Numeric::Informational, 6.0);
        assert!(market.location(&reader) > market.location(base));
        let mut admin = base.clone();
        admin.set(Numeric::Administrative, 6.0);
        assert!(market.location(&admin) < market.location(base));
        let mut intent = base.clone();
        intent.set(Numeric::PageValues, 40.0);
        assert_eq!(market.location(&intent), market.location(base));
        assert!(market.blocked_share(&intent) > market.blocked_share(base));
    }
}
