//! The decision: demand curve over the allowed candidates, objective, the uniform price and
//! personalization cap, then hash-seeded exploration and the control arm, with the exact
//! propensity of the shown price. Deterministic in (session id, sku, policy version, now).

use serde::Serialize;

use super::candidates::{Candidate, allowed};
use super::disclosure::{Applied, Personalize};
use super::hash::{HASH_VERSION, hash_fields, uniform};
use super::product::Product;
use super::rules::{ControlPrice, ExplorationMode, Objective, Rules};
use crate::model::Heads;
use crate::pricing::curve::PopulationCurve;

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Model,
    Explore,
    Control,
    Fallback,
}

impl Arm {
    /// The arm's name as decisions serialize it.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Model => "model",
            Arm::Explore => "explore",
            Arm::Control => "control",
            Arm::Fallback => "fallback",
        }
    }

    /// The arm of a name `name` gives; `None` for any other text.
    pub fn from_name(name: &str) -> Option<Arm> {
        [Arm::Model, Arm::Explore, Arm::Control, Arm::Fallback].into_iter().find(|a| a.name() == name)
    }
}

/// One allowed price with its predicted outcome and its probability of being shown.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct CandidateOutcome {
    pub price: f64,
    pub price_minor: i64,
    /// `None` when the model did not run (fallback).
    pub purchase_probability: Option<f64>,
    pub expected_profit: Option<f64>,
    pub propensity: f64,
}

impl CandidateOutcome {
    /// A price the model scored: expected profit is `P(buy) * (price - cost)`, in major units.
    fn predicted(product: &Product, price: i64, p: f64, propensity: f64) -> Self {
        let c = product.currency;
        CandidateOutcome {
            price: c.to_major(price),
            price_minor: price,
            purchase_probability: Some(p),
            expected_profit: Some(c.to_major(1) * p * (price - product.cost) as f64),
            propensity,
        }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Decision {
    pub sku: String,
    pub price: f64,
    pub price_minor: i64,
    pub list_price: f64,
    pub currency: String,
    /// 1 - price / list price, rounded to 4 decimals.
    pub discount: f64,
    pub arm: Arm,
    /// Probability that this policy shows this price to this session (control included).
    pub propensity: f64,
    pub purchase_probability: Option<f64>,
    pub expected_profit: Option<f64>,
    pub uniform_price: Option<f64>,
    pub policy_version: u64,
    pub decision_id: String,
    pub reasons: Vec<String>,
    /// True when the session's behaviour chose the price (arm `model`): for disclosure.
    pub personalized: bool,
    pub hash_version: u32,
    /// The jurisdiction whose rule applied (`default` when none matched), when the caller
    /// said where the shopper is (`Engine::place`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// The text a personalized price must show there; absent for other prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<String>,
    /// Every price with a chance of being shown; their propensities sum to 1. A decision
    /// always has one; only an answer that leaves them out (a worker's category page by
    /// SKU, unless asked) empties the list, and then the field is not written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateOutcome>,
}

pub fn decision_id(session_id: &str, sku: &str, policy_version: u64, now: i64) -> String {
    let h = hash_fields(&[
        b"decision",
        session_id.as_bytes(),
        sku.as_bytes(),
        &policy_version.to_le_bytes(),
        &now.to_le_bytes(),
    ]);
    // 16 lowercase hex digits, most significant first (what `{:016x}` writes), without the
    // formatting machinery: every decision makes one.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..16).rev().map(|i| char::from(HEX[((h >> (4 * i)) & 0xf) as usize])).collect()
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The reference price with arm `fallback`: what a page shows when pricing cannot run.
pub fn fallback(product: &Product, session_id: &str, policy_version: u64, now: i64, reason: &str) -> Decision {
    let c = product.currency;
    Decision {
        sku: product.sku.clone(),
        price: c.to_major(product.list_price),
        price_minor: product.list_price,
        list_price: c.to_major(product.list_price),
        currency: c.code().to_string(),
        discount: 0.0,
        arm: Arm::Fallback,
        propensity: 1.0,
        purchase_probability: None,
        expected_profit: None,
        uniform_price: None,
        policy_version,
        decision_id: decision_id(session_id, &product.sku, policy_version, now),
        reasons: vec![["fallback:", reason].concat()],
        personalized: false,
        hash_version: HASH_VERSION,
        jurisdiction: None,
        disclosure: None,
        candidates: vec![CandidateOutcome {
            price: c.to_major(product.list_price),
            price_minor: product.list_price,
            purchase_probability: None,
            expected_profit: None,
            propensity: 1.0,
        }],
    }
}

/// `d` as its jurisdiction's rule wants it (`Engine::place`): a personalized price gets the
/// disclosure text; where personalization is off, any policy price is replaced by the
/// uniform price (or the list price) with arm `fallback`, propensity 1 and the reason
/// `jurisdiction:<name>:uniform|list`. The decision id stays (same session, sku, time).
pub fn apply_jurisdiction(mut d: Decision, product: &Product, applied: &Applied) -> Decision {
    d.jurisdiction = Some(applied.name.to_string());
    let fixed = match applied.personalization {
        Personalize::On => {
            if d.personalized {
                d.disclosure = Some(applied.text.to_string());
            }
            return d;
        }
        _ if d.arm == Arm::Fallback => return d,
        Personalize::Uniform => {
            d.uniform_price.and_then(|u| d.candidates.iter().find(|c| c.price == u)).map(|c| (c.price_minor, "uniform"))
        }
        Personalize::List => None,
    };
    let (minor, mode) = fixed.unwrap_or((product.list_price, "list"));
    let c = product.currency;
    let list = product.list_price.max(1);
    d.price = c.to_major(minor);
    d.price_minor = minor;
    d.discount = round4(1.0 - minor as f64 / list as f64);
    d.arm = Arm::Fallback;
    d.propensity = 1.0;
    d.personalized = false;
    d.reasons = vec![["jurisdiction:", applied.name, ":", mode].concat()];
    let shown = d.candidates.iter().find(|k| k.price_minor == minor).cloned();
    d.purchase_probability = shown.as_ref().and_then(|k| k.purchase_probability);
    d.expected_profit = shown.as_ref().and_then(|k| k.expected_profit);
    d.candidates = vec![CandidateOutcome {
        propensity: 1.0,
        ..shown.unwrap_or(CandidateOutcome {
            price: c.to_major(minor),
            price_minor: minor,
            purchase_probability: None,
            expected_profit: None,
            propensity: 1.0,
        })
    }];
    d
}

pub struct Inputs<'a> {
    pub session_id: &'a str,
    pub product: &'a Product,
    pub rules: &'a Rules,
    pub curve: &'a PopulationCurve,
    pub heads: Heads,
    pub policy_version: u64,
    pub now: i64,
}

fn objective(rules: &Rules, product: &Product, price: i64, p: f64) -> f64 {
    match rules.objective {
        Objective::Profit => p * (price - product.cost) as f64,
        Objective::Revenue => p * price as f64,
    }
}

/// Index of the best objective; ties go to the higher price (candidates are highest first).
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Prices one session. `Err` carries the fallback reason when no price satisfies the rules.
pub fn decide(inp: &Inputs) -> Result<Decision, &'static str> {
    let (product, rules) = (inp.product, inp.rules);
    let c = product.currency;
    let list = product.list_price;
    let mut set = allowed(product, rules, inp.now);
    if set.candidates.is_empty() || list < set.floor {
        return Err("no_allowed_price");
    }
    let mut reasons = std::mem::take(&mut set.reasons);
    // The policy's uniform price: the best single price for the training population.
    let pop: Vec<f64> =
        set.candidates.iter().map(|k| objective(rules, product, k.price, inp.curve.at(k.ratio))).collect();
    let uniform_price = set.candidates[argmax(&pop)].price;
    let cap = rules.personalization.cap;
    let lo = (uniform_price as f64 * (1.0 - cap) - 1e-6).ceil() as i64;
    let hi = (uniform_price as f64 * (1.0 + cap) + 1e-6).floor() as i64;
    let personal: Vec<Candidate> = set.candidates.iter().copied().filter(|k| (lo..=hi).contains(&k.price)).collect();
    // The cap binds when the model's best allowed price lies outside the window around the
    // uniform price (what the merchant's fairness report counts); a window that only drops
    // prices the model would not choose anyway is no reason for this price.
    if personal.len() < set.candidates.len() {
        let all: Vec<f64> = set
            .candidates
            .iter()
            .map(|k| objective(rules, product, k.price, inp.heads.purchase_probability(k.ratio)))
            .collect();
        if !(lo..=hi).contains(&set.candidates[argmax(&all)].price) {
            reasons.push("personalization_cap".into());
        }
    }
    let probs: Vec<f64> = personal.iter().map(|k| inp.heads.purchase_probability(k.ratio)).collect();
    let objs: Vec<f64> = personal.iter().zip(&probs).map(|(k, p)| objective(rules, product, k.price, *p)).collect();
    let greedy = argmax(&objs);
    let n = personal.len() as f64;
    let x = &rules.exploration;
    // Within the personalized arm: probability of each candidate.
    let pi: Vec<f64> = match x.mode {
        ExplorationMode::Epsilon => {
            (0..personal.len()).map(|i| x.epsilon / n + if i == greedy { 1.0 - x.epsilon } else { 0.0 }).collect()
        }
        ExplorationMode::Softmax => {
            let scale = x.temperature * list as f64;
            let top = objs[greedy];
            let w: Vec<f64> = objs.iter().map(|o| ((o - top) / scale).exp()).collect();
            let total: f64 = w.iter().sum();
            w.iter().map(|v| v / total).collect()
        }
    };
    let (sid, sku, pv) = (inp.session_id, product.sku.as_str(), inp.policy_version);
    let control = uniform("arm", sid, sku, pv) < x.control_share;
    let control_price = match x.control {
        ControlPrice::Uniform => uniform_price,
        ControlPrice::List => list,
    };
    let u = uniform("explore", sid, sku, pv);
    let (chosen_price, arm) = if control {
        reasons.push(match x.control {
            ControlPrice::Uniform => "control_uniform".into(),
            ControlPrice::List => "control_list".into(),
        });
        (control_price, Arm::Control)
    } else {
        let pick = match x.mode {
            ExplorationMode::Epsilon if u < x.epsilon => {
                let i = ((uniform("explore-pick", sid, sku, pv) * n) as usize).min(personal.len() - 1);
                reasons.push("explore_epsilon".into());
                (i, true)
            }
            ExplorationMode::Epsilon => (greedy, false),
            ExplorationMode::Softmax => {
                let mut acc = 0.0;
                let mut i = personal.len() - 1;
                for (k, p) in pi.iter().enumerate() {
                    acc += p;
                    if u < acc {
                        i = k;
                        break;
                    }
                }
                if i != greedy {
                    reasons.push("explore_softmax".into());
                }
                (i, i != greedy)
            }
        };
        let arm = if pick.1 { Arm::Explore } else { Arm::Model };
        if arm == Arm::Model {
            reasons.push("model_optimum".into());
        }
        (personal[pick.0].price, arm)
    };
    // Exact propensity of every price under the whole policy: control mixture included.
    let share = x.control_share;
    let mut outcomes: Vec<CandidateOutcome> = personal
        .iter()
        .zip(&probs)
        .zip(&pi)
        .map(|((k, p), q)| {
            CandidateOutcome::predicted(
                product,
                k.price,
                *p,
                (1.0 - share) * q + if k.price == control_price { share } else { 0.0 },
            )
        })
        .collect();
    // The uniform price is always within the cap; a list-price control may lie outside it.
    if share > 0.0 && !personal.iter().any(|k| k.price == control_price) {
        let p = inp.heads.purchase_probability(control_price as f64 / list as f64);
        outcomes.insert(0, CandidateOutcome::predicted(product, control_price, p, share));
    }
    let shown = outcomes.iter().find(|o| o.price_minor == chosen_price).cloned().ok_or("internal_no_candidate")?;
    Ok(Decision {
        sku: product.sku.clone(),
        price: c.to_major(chosen_price),
        price_minor: chosen_price,
        list_price: c.to_major(list),
        currency: c.code().to_string(),
        discount: round4(1.0 - chosen_price as f64 / list as f64),
        arm,
        propensity: shown.propensity,
        purchase_probability: shown.purchase_probability,
        expected_profit: shown.expected_profit,
        uniform_price: Some(c.to_major(uniform_price)),
        policy_version: pv,
        decision_id: decision_id(sid, sku, pv, inp.now),
        reasons,
        personalized: arm == Arm::Model,
        hash_version: HASH_VERSION,
        jurisdiction: None,
        disclosure: None,
        candidates: outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_ids_are_the_hash_in_16_hex_digits() {
        let mut leading_zero = 0;
        for i in 0..2_000i64 {
            let sid = format!("s-{i}");
            let h = hash_fields(&[b"decision", sid.as_bytes(), b"sku-1", &7u64.to_le_bytes(), &i.to_le_bytes()]);
            assert_eq!(decision_id(&sid, "sku-1", 7, i), format!("{h:016x}"));
            leading_zero += usize::from(h >> 60 == 0);
        }
        assert!(leading_zero > 0, "some hash starts with a zero digit, which must be written");
    }
}
