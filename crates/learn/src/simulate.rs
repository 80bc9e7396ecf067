//! Replays sessions through a policy, the market model (src/market.rs) deciding each
//! purchase from a seeded valuation. Every policy sees the same valuations for the same
//! seed (common random numbers), so policies compare on the same shoppers. Policies:
//! a bundle (the engine, exploration and control included), `list` (the reference price),
//! `uniform` (the best single allowed price for these sessions, found with the market's
//! expected profit: a hindsight baseline), `feature-oracle` (each session's best allowed
//! price by the market's expected profit at its features, label unknown: the reachable
//! ceiling, `learn::oracle`) and `oracle` (the highest allowed price each shopper would
//! pay: the upper bound). Invariant: every shown price is an allowed price.

use serde_json::{Value, json};

use super::Estimate;
use crate::market::MarketModel;
use edgeprice_core::engine::Engine;
use edgeprice_core::feedback::{DecisionEvent, Detail, FeedbackEvent, OutcomeEvent};
use edgeprice_core::pricing::candidates::allowed;
use edgeprice_core::pricing::decision::Arm;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::pricing::rules::Rules;
use edgeprice_core::session::Session;
use edgeprice_core::tracker::features_json;

/// Stream of the market's valuation draws for simulated traffic (distinct from training's).
const SIM_STREAM: u64 = 1 << 40;

pub enum Policy<'a> {
    Bundle(&'a Engine),
    List,
    Uniform,
    /// The probability of each row's real label (`oracle::label_probability`).
    FeatureOracle(&'a [f64]),
    Oracle,
}

/// One simulated visit: what was shown and what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    pub row: usize,
    pub session_id: String,
    pub decision_id: String,
    pub arm: Arm,
    pub price_minor: i64,
    pub propensity: f64,
    pub purchased: bool,
    /// Major units.
    pub revenue: f64,
    pub profit: f64,
    /// The market's expected profit of this visit under the policy's whole price
    /// distribution (exploration and control included): the ground truth of evaluation.
    pub expected_profit: f64,
    /// The decision's report context (a bundle's decisions; empty for the reference policies).
    pub detail: Detail,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub sessions: usize,
    pub profit_per_session: f64,
    pub profit_ci_low: f64,
    pub profit_ci_high: f64,
    pub revenue_per_session: f64,
    pub conversion: f64,
    /// Mean of the market's expected profit per session (no valuation noise).
    pub expected_profit_per_session: f64,
}

pub fn session_id(seed: u64, row: usize) -> String {
    format!("sim-{seed}-{row}")
}

/// The market's valuation of session `row` in simulation `seed` (as a ratio of list price).
pub fn valuation(market: &MarketModel, s: &Session, bought: bool, seed: u64, row: usize) -> f64 {
    market.valuation(s, bought, seed, SIM_STREAM | row as u64)
}

/// Replays every session once in `market`. `rules` give the allowed prices of the
/// non-bundle policies.
pub fn run(
    market: &MarketModel,
    sessions: &[(Session, bool)],
    product: &Product,
    policy: &Policy,
    rules: &Rules,
    seed: u64,
    now: i64,
) -> Vec<Visit> {
    let c = product.currency;
    let list = product.list_price;
    let candidates = allowed(product, rules, now).candidates;
    let profit_of = |price: i64| c.to_major(price - product.cost);
    let ratio = |price: i64| price as f64 / list as f64;
    let uniform = match policy {
        Policy::Uniform => best_of(candidates.iter().map(|k| {
            let total: f64 =
                sessions.iter().map(|(s, b)| market.purchase_probability(s, *b, k.ratio) * profit_of(k.price)).sum();
            (k.price, total)
        }))
        .unwrap_or(list),
        _ => list,
    };
    // A bundle's model runs once for all the sessions, batched (`Engine::score_many`).
    let scored = match policy {
        Policy::Bundle(engine) => {
            let batch: Vec<_> =
                sessions.iter().enumerate().map(|(row, (s, _))| (session_id(seed, row), s.clone())).collect();
            engine.score_many(&batch)
        }
        _ => Vec::new(),
    };
    sessions
        .iter()
        .enumerate()
        .map(|(row, (s, bought))| {
            let id = session_id(seed, row);
            let v = valuation(market, s, *bought, seed, row);
            let truth = |price: i64| market.purchase_probability(s, *bought, ratio(price)) * profit_of(price);
            let mut detail = Detail::default();
            let (price, propensity, arm, decision_id, expected) = match *policy {
                Policy::Bundle(engine) => {
                    let d = match scored.get(row) {
                        Some(scored) => engine.price_scored(scored, product, now),
                        None => engine.price_session(&id, s, product, now),
                    };
                    let expected = d.candidates.iter().map(|k| k.propensity * truth(k.price_minor)).sum();
                    detail = Detail::of(&d);
                    (d.price_minor, d.propensity, d.arm, d.decision_id, expected)
                }
                Policy::List => (list, 1.0, Arm::Control, format!("list-{id}"), truth(list)),
                Policy::Uniform => (uniform, 1.0, Arm::Model, format!("uniform-{id}"), truth(uniform)),
                Policy::FeatureOracle(q) => {
                    let q = q.get(row).copied().unwrap_or(0.0);
                    let expected = |price: i64| {
                        let r = ratio(price);
                        (q * market.purchase_probability(s, true, r)
                            + (1.0 - q) * market.purchase_probability(s, false, r))
                            * profit_of(price)
                    };
                    let price = best_of(candidates.iter().map(|k| (k.price, expected(k.price)))).unwrap_or(list);
                    (price, 1.0, Arm::Model, format!("feature-oracle-{id}"), truth(price))
                }
                Policy::Oracle => {
                    // The highest allowed price at or below the valuation; no sale below the floor.
                    let price = candidates.iter().find(|k| k.ratio <= v).map_or(list, |k| k.price);
                    (
                        price,
                        1.0,
                        Arm::Model,
                        format!("oracle-{id}"),
                        if ratio(price) <= v { profit_of(price) } else { 0.0 },
                    )
                }
            };
            let purchased = ratio(price) <= v;
            Visit {
                row,
                session_id: id,
                decision_id,
                arm,
                price_minor: price,
                propensity,
                purchased,
                revenue: if purchased { c.to_major(price) } else { 0.0 },
                profit: if purchased { profit_of(price) } else { 0.0 },
                expected_profit: expected,
                detail,
            }
        })
        .collect()
}

/// The price of the largest value; ties go to the first (candidates are highest first).
fn best_of(values: impl Iterator<Item = (i64, f64)>) -> Option<i64> {
    values
        .fold(None, |best: Option<(i64, f64)>, x| match best {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        })
        .map(|b| b.0)
}

pub fn summarize(visits: &[Visit]) -> Summary {
    let profits: Vec<f64> = visits.iter().map(|v| v.profit).collect();
    let e = Estimate::of(&profits);
    let n = visits.len().max(1) as f64;
    Summary {
        sessions: visits.len(),
        profit_per_session: e.mean,
        profit_ci_low: e.ci_low,
        profit_ci_high: e.ci_high,
        revenue_per_session: visits.iter().map(|v| v.revenue).sum::<f64>() / n,
        conversion: visits.iter().filter(|v| v.purchased).count() as f64 / n,
        expected_profit_per_session: visits.iter().map(|v| v.expected_profit).sum::<f64>() / n,
    }
}

/// A policy's profit against the reachable ceiling, on the same sessions and valuations.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Ceiling {
    /// The feature oracle's profit per session (and 95% interval).
    pub profit_per_session: f64,
    pub profit_ci_low: f64,
    pub profit_ci_high: f64,
    /// The best uniform price's profit per session (hindsight, the market's expectation).
    pub uniform_profit_per_session: f64,
    /// Paired differences per session.
    pub feature_oracle_minus_uniform: Estimate,
    pub policy_minus_uniform: Estimate,
    /// (policy - uniform) / (feature oracle - uniform): the headline figure.
    pub captured_share: f64,
    pub label_estimate_version: u32,
}

pub fn ceiling(policy: &[Visit], feature_oracle: &[Visit], uniform: &[Visit]) -> Ceiling {
    let (o, u) = (summarize(feature_oracle), summarize(uniform));
    let (gap, gain) = (paired(feature_oracle, uniform), paired(policy, uniform));
    Ceiling {
        profit_per_session: o.profit_per_session,
        profit_ci_low: o.profit_ci_low,
        profit_ci_high: o.profit_ci_high,
        uniform_profit_per_session: u.profit_per_session,
        feature_oracle_minus_uniform: gap,
        policy_minus_uniform: gain,
        captured_share: gain.mean / gap.mean,
        label_estimate_version: super::oracle::LABEL_ESTIMATE_VERSION,
    }
}

/// Paired difference of profit per session, `a - b`, over the same sessions and valuations
/// (common random numbers): much narrower than the two intervals side by side.
pub fn paired(a: &[Visit], b: &[Visit]) -> Estimate {
    let d: Vec<f64> = a.iter().zip(b).filter(|(x, y)| x.row == y.row).map(|(x, y)| x.profit - y.profit).collect();
    Estimate::of(&d)
}

/// The feedback events of a visit, as the edge would send them (decision, outcome).
pub fn events(v: &Visit, s: &Session, product: &Product, policy_version: u64, now: i64) -> [FeedbackEvent; 2] {
    let c = product.currency;
    let decision = DecisionEvent {
        event_id: format!("d-{}", v.decision_id),
        decision_id: v.decision_id.clone(),
        session_id: v.session_id.clone(),
        sku: product.sku.clone(),
        policy_version,
        arm: v.arm,
        price: c.to_major(v.price_minor),
        cost: Some(c.to_major(product.cost)),
        propensity: v.propensity,
        features: features_json(&v.session_id, s).get("features").cloned(),
        detail: v.detail.clone(),
        time: now,
    };
    let outcome = OutcomeEvent::of(&v.decision_id, &v.session_id, v.purchased, Some(v.revenue), now);
    [FeedbackEvent::Decision(decision), FeedbackEvent::Outcome(outcome)]
}

/// Fairness and disclosure report of a bundle's prices over simulated visits: for each
/// categorical column, the mean and spread of the shown price relative to the policy's
/// uniform price by group (groups of at least 20 visits), the share of personalized
/// prices, and how often the personalization cap binds (the model's best allowed price
/// lies outside the cap window around the uniform price).
pub fn fairness(visits: &[Visit], sessions: &[(Session, bool)], engine: &Engine, product: &Product, now: i64) -> Value {
    use edgeprice_core::session::Categorical;
    let b = engine.bundle();
    let all = allowed(product, b.rules(), now).candidates;
    let cap = b.rules().personalization.cap;
    let mut groups: std::collections::BTreeMap<(&str, String), (f64, f64, f64)> = Default::default();
    let (mut binds, mut personalized, mut n) = (0usize, 0usize, 0usize);
    for v in visits {
        let s = &sessions[v.row].0;
        let d = engine.price_session(&v.session_id, s, product, now);
        let Some(uniform) = d.uniform_price.and_then(|u| product.currency.to_minor(u)) else { continue };
        n += 1;
        personalized += usize::from(d.personalized);
        if let Ok(h) = b.model().heads(&b.manifest().schema.transform(s)) {
            let best = all
                .iter()
                .map(|k| (k.price, h.purchase_probability(k.ratio) * (k.price - product.cost) as f64))
                .fold(None, |acc: Option<(i64, f64)>, x| match acc {
                    Some(a) if a.1 >= x.1 => Some(a),
                    _ => Some(x),
                });
            if let Some((p, _)) = best {
                let (lo, hi) = (uniform as f64 * (1.0 - cap) - 1e-6, uniform as f64 * (1.0 + cap) + 1e-6);
                binds += usize::from((p as f64) < lo || (p as f64) > hi);
            }
        }
        let rel = v.price_minor as f64 / uniform as f64;
        for column in Categorical::ALL {
            let g = groups.entry((column.name(), s.category(column).to_string())).or_default();
            g.0 += 1.0;
            g.1 += rel;
            g.2 += rel * rel;
        }
    }
    let mut by_feature = serde_json::Map::new();
    for ((feature, group), (count, sum, sq)) in groups {
        if count < 20.0 {
            continue;
        }
        let mean = sum / count;
        let sd = (sq / count - mean * mean).max(0.0).sqrt();
        let entry = by_feature.entry(feature.to_string()).or_insert_with(|| json!({}));
        entry[group] = json!({"visits": count as u64, "mean_price_to_uniform": mean, "sd_price_to_uniform": sd});
    }
    json!({
        "visits": n,
        "personalized_share": personalized as f64 / n.max(1) as f64,
        "cap_binds_share": binds as f64 / n.max(1) as f64,
        "personalization_cap": cap,
        "groups": by_feature,
    })
}
