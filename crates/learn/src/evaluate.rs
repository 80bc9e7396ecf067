//! Off-policy evaluation: the profit per session a target policy would have made, estimated
//! from feedback logged under another policy with known propensities. Estimators: IPS,
//! self-normalized IPS and doubly robust (the direct-method part is a behaviour model's
//! P(buy | x, price)), each with a 95% interval, and the effective sample size of the
//! importance weights. Rewards are profit (price - cost) when the visit bought, else 0.

use std::collections::{BTreeMap, HashMap};

use super::Estimate;
use edgeprice_core::engine::Engine;
use edgeprice_core::feedback::FeedbackEvent;
use edgeprice_core::model::Heads;
use edgeprice_core::pricing::decision::Arm;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::session::Session;
use edgeprice_core::tracker::parse_session;

/// A logged decision joined with its outcome.
#[derive(Clone, Debug)]
pub struct Logged {
    pub session_id: String,
    pub session: Session,
    /// Shown price, minor units.
    pub price_minor: i64,
    pub propensity: f64,
    pub purchased: bool,
    /// Profit of this visit (major units).
    pub reward: f64,
    /// The logging policy's exploration drew this price (arm `explore`): uniformly from
    /// the allowed prices, whatever the model thought of them.
    pub explored: bool,
}

/// Reads feedback events (decisions and outcomes, any order) for one product. Decisions
/// without features, for another SKU, or with a price the currency cannot hold are skipped
/// and counted; a decision without an outcome did not buy.
pub fn join(events: &[FeedbackEvent], product: &Product, page_values: &BTreeMap<String, f64>) -> (Vec<Logged>, usize) {
    let mut bought: HashMap<&str, bool> = HashMap::new();
    for e in events {
        if let FeedbackEvent::Outcome(o) = e {
            *bought.entry(o.decision_id.as_str()).or_default() |= o.purchased;
        }
    }
    let c = product.currency;
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut seen = std::collections::HashSet::new();
    for d in events.iter().filter_map(|e| if let FeedbackEvent::Decision(d) = e { Some(d) } else { None }) {
        if d.sku != product.sku || !seen.insert(d.decision_id.as_str()) {
            skipped += 1;
            continue;
        }
        let Some(features) = d.features.as_ref().filter(|f| f.is_object()) else {
            skipped += 1;
            continue;
        };
        let session = serde_json::json!({"session_id": d.session_id, "features": features});
        let parsed = parse_session(&session, d.time, page_values);
        match (parsed, c.to_minor(d.price)) {
            (Ok((_, s)), Some(price_minor)) => {
                let purchased = bought.get(d.decision_id.as_str()).copied().unwrap_or(false);
                let reward = if purchased { c.to_major(price_minor - product.cost) } else { 0.0 };
                out.push(Logged {
                    session_id: d.session_id.clone(),
                    session: s,
                    price_minor,
                    propensity: d.propensity,
                    purchased,
                    reward,
                    explored: d.arm == Arm::Explore,
                });
            }
            _ => skipped += 1,
        }
    }
    (out, skipped)
}

/// The policy being evaluated.
pub enum Target<'a> {
    Bundle(&'a Engine),
    /// One price for everyone (minor units): `list`, or a uniform price.
    Fixed(i64),
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Evaluation {
    pub decisions: usize,
    pub ips: Estimate,
    pub snips: Estimate,
    pub dr: Estimate,
    /// (sum w)^2 / sum w^2.
    pub effective_sample_size: f64,
    pub min_logged_propensity: f64,
    pub max_weight: f64,
    pub warnings: Vec<String>,
    /// Per-decision doubly robust terms (for paired comparisons of two targets).
    #[serde(skip)]
    pub dr_terms: Vec<f64>,
}

/// Estimates the target's profit per decision. `dm` supplies P(buy | x, r) for the direct
/// method (a bundle's model); `now` prices the target.
pub fn evaluate(logged: &[Logged], target: &Target, dm: &Engine, product: &Product, now: i64) -> Evaluation {
    let b = dm.bundle();
    let heads: Vec<Option<Heads>> =
        logged.iter().map(|l| b.model().heads(&b.manifest().schema.transform(&l.session)).ok()).collect();
    evaluate_with(logged, target, &heads, product, now)
}

/// `evaluate` with the direct method's heads given per logged decision (for example from
/// a model fitted on other decisions: cross-fitting). `None` predicts no purchase.
pub fn evaluate_with(
    logged: &[Logged],
    target: &Target,
    dm: &[Option<Heads>],
    product: &Product,
    now: i64,
) -> Evaluation {
    let c = product.currency;
    let list = product.list_price as f64;
    let mut w = Vec::with_capacity(logged.len());
    let mut ips = Vec::with_capacity(logged.len());
    let mut dr = Vec::with_capacity(logged.len());
    for (i, l) in logged.iter().enumerate() {
        let dist: Vec<(i64, f64)> = match target {
            Target::Bundle(engine) => engine
                .price_session(&l.session_id, &l.session, product, now)
                .candidates
                .iter()
                .map(|k| (k.price_minor, k.propensity))
                .collect(),
            Target::Fixed(p) => vec![(*p, 1.0)],
        };
        let heads = dm.get(i).copied().flatten();
        let q = |price: i64| {
            heads.map_or(0.0, |h| h.purchase_probability(price as f64 / list)) * c.to_major(price - product.cost)
        };
        let pi = dist.iter().filter(|(p, _)| *p == l.price_minor).map(|(_, q)| q).sum::<f64>();
        let wi = pi / l.propensity;
        let direct: f64 = dist.iter().map(|(p, pr)| pr * q(*p)).sum();
        w.push(wi);
        ips.push(wi * l.reward);
        dr.push(direct + wi * (l.reward - q(l.price_minor)));
    }
    let n = logged.len() as f64;
    let sum_w: f64 = w.iter().sum();
    let snips_mean = if sum_w > 0.0 { ips.iter().sum::<f64>() / sum_w } else { f64::NAN };
    let mean_w = sum_w / n.max(1.0);
    let t: Vec<f64> = logged.iter().zip(&w).map(|(l, wi)| wi * (l.reward - snips_mean) / mean_w).collect();
    let spread = Estimate::of(&t);
    let half = (spread.ci_high - spread.ci_low) / 2.0;
    let ess = if sum_w > 0.0 { sum_w.powi(2) / w.iter().map(|x| x * x).sum::<f64>() } else { 0.0 };
    let min_p = logged.iter().map(|l| l.propensity).fold(f64::INFINITY, f64::min);
    let max_w = w.iter().copied().fold(0.0, f64::max);
    let mut warnings = Vec::new();
    if min_p < 0.01 {
        warnings
            .push(format!("logged propensities as small as {min_p:.4}: weights up to {max_w:.0}, estimates are noisy"));
    }
    if ess < n / 10.0 {
        warnings.push(format!(
            "effective sample size {ess:.0} of {n:.0}: the target rarely shows what was logged; trust DR over IPS"
        ));
    }
    if logged.is_empty() {
        warnings.push("no logged decisions for this product".into());
    }
    Evaluation {
        decisions: logged.len(),
        ips: Estimate::of(&ips),
        snips: Estimate { mean: snips_mean, ci_low: snips_mean - half, ci_high: snips_mean + half },
        dr: Estimate::of(&dr),
        effective_sample_size: ess,
        min_logged_propensity: if logged.is_empty() { f64::NAN } else { min_p },
        max_weight: max_w,
        warnings,
        dr_terms: dr,
    }
}

/// Two-sided 95% quantile of Student's t with 19 degrees of freedom (20 groups).
const T95_19: f64 = 2.093_024_054_408_263;

/// Groups of `grouped_mean`.
pub const GROUPS: usize = 20;

/// Paired doubly robust difference (candidate - live); see `grouped_mean` for the interval.
pub fn grouped_difference(candidate: &Evaluation, live: &Evaluation, group: &[usize]) -> Estimate {
    let d: Vec<f64> = candidate.dr_terms.iter().zip(&live.dr_terms).map(|(a, b)| a - b).collect();
    grouped_mean(&d, group)
}

/// Mean of `values` with a 95% interval from the means of `GROUPS` groups of them
/// (`group[i]` in 0..GROUPS, for example by shopper) and Student's t; infinite when a group
/// is empty. The decisions of one shopper are not independent (the same features, label and
/// model error every visit), and a few decisions with huge importance weights make a
/// per-decision normal interval too narrow; the spread of group means counts both.
pub fn grouped_mean(values: &[f64], group: &[usize]) -> Estimate {
    let mut sums = [0.0; GROUPS];
    let mut counts = [0usize; GROUPS];
    for (v, g) in values.iter().zip(group) {
        sums[g % GROUPS] += v;
        counts[g % GROUPS] += 1;
    }
    let means: Vec<f64> = sums.iter().zip(&counts).filter(|(_, n)| **n > 0).map(|(s, n)| s / *n as f64).collect();
    let total: f64 = sums.iter().sum();
    let n = counts.iter().sum::<usize>().max(1) as f64;
    let mean = total / n;
    if means.len() < GROUPS {
        return Estimate { mean, ci_low: f64::NEG_INFINITY, ci_high: f64::INFINITY };
    }
    let m = means.iter().sum::<f64>() / GROUPS as f64;
    let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (GROUPS - 1) as f64;
    let half = T95_19 * (var / GROUPS as f64).sqrt();
    Estimate { mean, ci_low: mean - half, ci_high: mean + half }
}
