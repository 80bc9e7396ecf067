//! The allowed candidate prices of one product at one time: the ladder, rounded to the
//! currency and the price ending, filtered by every guardrail. Each rule that removed or
//! changed a price leaves a reason code. Invariant: every returned price satisfies
//! floor <= price, price <= reference (unless allowed), and discount <= the max discount.

use super::product::Product;
use super::rules::Rules;

/// A price the rules allow, in minor units, and its ratio to the list price.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub price: i64,
    pub ratio: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Allowed {
    /// Distinct prices, highest first. Empty when no price satisfies the rules.
    pub candidates: Vec<Candidate>,
    /// Lowest allowed price: cost * (1 + min margin), or the MAP price if higher.
    pub floor: i64,
    pub max_discount: f64,
    pub reasons: Vec<String>,
}

/// Largest price <= `raw` ending in `ending` minor units (for example 99 -> x.99).
fn apply_ending(raw: i64, ending: i64, scale: i64) -> i64 {
    // The step is one major unit, or the next power of ten above a longer ending.
    let mut step = scale.max(1);
    while step <= ending {
        step *= 10;
    }
    let base = raw.div_euclid(step) * step + ending;
    if base > raw { base - step } else { base }
}

pub fn allowed(product: &Product, rules: &Rules, now: i64) -> Allowed {
    let mut reasons = Vec::new();
    let g = &rules.guardrails;
    let list = product.list_price;
    let mut max_discount = g.max_discount;
    let inv = &rules.inventory;
    let low = matches!((product.stock, inv.low_stock), (Some(s), Some(l)) if s <= l);
    if low {
        max_discount = 0.0;
        reasons.push("low_stock".to_string());
    } else {
        if matches!((product.stock, inv.overstock), (Some(s), Some(o)) if s >= o) {
            max_discount += inv.overstock_extra_discount;
            reasons.push("overstock".to_string());
        }
        for promo in rules.active_promotions(now, &product.category, &product.tags) {
            max_discount += promo.extra_discount;
            // Joined, not `format!`: the formatting machinery would be compiled into a cold start
            // whenever a promotion runs.
            reasons.push(["promotion:", promo.name.as_str()].concat());
        }
    }
    let max_discount = max_discount.min(0.95);
    let margin_floor = (product.cost as f64 * (1.0 + g.min_margin)).ceil() as i64;
    let map_floor = product.map_price.unwrap_or(0);
    let floor = margin_floor.max(map_floor);
    // Integer comparison: price >= list * (1 - max_discount), rounded up to a minor unit.
    let lowest = (list as f64 * (1.0 - max_discount) - 1e-6).ceil() as i64;
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut note = |code: &str| {
        if !reasons.iter().any(|r| r == code) {
            reasons.push(code.to_string());
        }
    };
    for &ratio in &rules.ladder {
        let raw = (list as f64 * ratio).round() as i64;
        let mut price = raw;
        if let Some(ending) = rules.rounding.ending
            && raw != list
        {
            price = apply_ending(raw, ending, product.currency.scale());
            if price != raw {
                note("price_ending");
            }
        }
        if price <= 0 {
            continue;
        }
        if price > list && !g.allow_above_reference {
            note("above_reference_blocked");
            continue;
        }
        if price < lowest {
            note(if low { "low_stock_no_discount" } else { "max_discount" });
            continue;
        }
        if price < floor {
            note(if map_floor >= margin_floor { "map_floor" } else { "margin_floor" });
            continue;
        }
        if !candidates.iter().any(|c| c.price == price) {
            candidates.push(Candidate { price, ratio: price as f64 / list as f64 });
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.price));
    Allowed { candidates, floor, max_discount, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings() {
        assert_eq!(apply_ending(4749, 99, 100), 4699);
        assert_eq!(apply_ending(4799, 99, 100), 4799);
        assert_eq!(apply_ending(4800, 99, 100), 4799);
        assert_eq!(apply_ending(4800, 0, 100), 4800);
        assert_eq!(apply_ending(4850, 95, 100), 4795);
        assert_eq!(apply_ending(12_345, 900, 1), 11_900);
    }
}
