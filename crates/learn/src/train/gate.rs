//! The promotion gate: a candidate policy replaces the live one only when it beats the
//! live policy on held-out logged decisions, paired, with the 95% interval above zero.
//! Version 4 asks for three intervals above zero. First, on the **explored** decisions
//! alone: there the logging policy drew the price uniformly from the allowed ones, whatever
//! its model thought, so the importance weight of a target policy is `n * pi(price)`, at
//! most `n` (the number of allowed prices).
//! The doubly robust estimate over them (direct method cross-fitted: each half of the
//! held-out shoppers scored by a model fitted on the other half) is then unbiased and its
//! terms bounded; it is also noisy, with a few hundred explored decisions a round. Second
//! and third, over all held-out decisions with two direct methods: cross-fitted, and the
//! live policy's model (fitted on earlier data). Each interval comes from 20 groups of
//! shoppers (`grouped_difference`: one shopper's visits are not independent). Over all
//! decisions (greedy ones carry weights up to 1 / 0.005) an estimate leans on its direct
//! method, which shares the retraining recipe's bias with the candidate, and on a few huge
//! weights: alone, such a gate promoted worse candidates in 2 to 3 of 18 calls in seeded
//! studies (`edgeprice study` reports each rule alone).

use super::TrainError;
use super::retrain::{RetrainConfig, fit_logged};
use crate::Estimate;
use crate::evaluate::{Evaluation, GROUPS, Logged, Target, evaluate_with, grouped_difference, grouped_mean};
use edgeprice_core::engine::Engine;
use edgeprice_core::model::Heads;
use edgeprice_core::pricing::product::Product;

/// Version of the gate's split and estimators.
pub const GATE_VERSION: u32 = 4;

pub struct Verdict {
    /// The paired DR difference on the explored decisions: what the gate decides on.
    pub uplift_explored: Estimate,
    /// Explored decisions among the held-out ones.
    pub explored: usize,
    /// Both policies under the cross-fitted direct method, all held-out decisions.
    pub candidate: Evaluation,
    pub live: Evaluation,
    /// Paired DR difference, candidate - live, per decision (cross-fitted direct method).
    pub uplift: Estimate,
    /// The same with the live policy's model as the direct method.
    pub uplift_live_dm: Estimate,
    pub promote: bool,
    pub reason: String,
}

/// Which half of the cross-fit a held-out decision's shopper falls in.
fn half(l: &Logged) -> usize {
    (super::round::shopper_hash(b"gate-dm", l) & 1) as usize
}

/// Direct-method heads of every decision of `held_out`, each from a model that did not
/// see its half.
pub fn cross_fitted_heads(
    held_out: &[Logged],
    list_minor: i64,
    config: &RetrainConfig,
) -> Result<Vec<Option<Heads>>, TrainError> {
    let mut heads = vec![None; held_out.len()];
    for h in 0..2 {
        let other: Vec<Logged> = held_out.iter().filter(|l| half(l) != h).cloned().collect();
        let seeded = RetrainConfig { seed: config.seed ^ (0x6761_7465 + h as u64), ..config.clone() };
        let dm = fit_logged(&other, list_minor, &seeded)?;
        for (i, l) in held_out.iter().enumerate().filter(|(_, l)| half(l) == h) {
            heads[i] = dm.model.heads(&dm.schema.transform(&l.session)).ok();
        }
    }
    Ok(heads)
}

/// Judges `candidate` against `live` on `held_out` decisions neither was trained on.
pub fn judge(
    held_out: &[Logged],
    candidate: &Engine,
    live: &Engine,
    product: &Product,
    now: i64,
    config: &RetrainConfig,
) -> Result<Verdict, TrainError> {
    let dm = cross_fitted_heads(held_out, product.list_price, config)?;
    let candidate_engine = candidate;
    let (c, l) = (Target::Bundle(candidate), Target::Bundle(live));
    let candidate = evaluate_with(held_out, &c, &dm, product, now);
    let live_eval = evaluate_with(held_out, &l, &dm, product, now);
    let group: Vec<usize> =
        held_out.iter().map(|l| (super::round::shopper_hash(b"gate-group", l) % GROUPS as u64) as usize).collect();
    let uplift = grouped_difference(&candidate, &live_eval, &group);
    let b = live.bundle();
    let live_dm: Vec<Option<Heads>> =
        held_out.iter().map(|x| b.model().heads(&b.manifest().schema.transform(&x.session)).ok()).collect();
    let uplift_live_dm = grouped_difference(
        &evaluate_with(held_out, &c, &live_dm, product, now),
        &evaluate_with(held_out, &l, &live_dm, product, now),
        &group,
    );
    let (uplift_explored, explored) = explored_difference(held_out, candidate_engine, live, &dm, &group, product, now);
    let promote = uplift_explored.ci_low > 0.0 && uplift.ci_low > 0.0 && uplift_live_dm.ci_low > 0.0;
    let verdict = if promote { "all three above zero: promote" } else { "not all three above zero: hold" };
    let reason = format!(
        "DR uplift per decision, 95% CI: on the {explored} explored held-out decisions {:.4} [{:.4}, {:.4}]; \
         on all {} held-out decisions {:.4} [{:.4}, {:.4}] (cross-fitted direct method) and {:.4} [{:.4}, {:.4}] \
         (the live model as direct method); {verdict}",
        uplift_explored.mean,
        uplift_explored.ci_low,
        uplift_explored.ci_high,
        held_out.len(),
        uplift.mean,
        uplift.ci_low,
        uplift.ci_high,
        uplift_live_dm.mean,
        uplift_live_dm.ci_low,
        uplift_live_dm.ci_high,
    );
    Ok(Verdict { uplift_explored, explored, candidate, live: live_eval, uplift, uplift_live_dm, promote, reason })
}

/// Paired doubly robust difference, candidate - live, over the explored decisions of
/// `held_out`, and their number. An explored price was drawn uniformly from the logging
/// policy's allowed prices within its personalization cap, recomputed with the live bundle
/// (the rules do not change between rounds), so its probability given exploration is 1 / n.
fn explored_difference(
    held_out: &[Logged],
    candidate: &Engine,
    live: &Engine,
    dm: &[Option<Heads>],
    group: &[usize],
    product: &Product,
    now: i64,
) -> (Estimate, usize) {
    let c = product.currency;
    let cap = live.bundle().rules().personalization.cap;
    let (mut terms, mut groups) = (Vec::new(), Vec::new());
    for (i, l) in held_out.iter().enumerate().filter(|(_, l)| l.explored) {
        let logging = live.price_session(&l.session_id, &l.session, product, now);
        let Some(uniform) = logging.uniform_price.and_then(|u| c.to_minor(u)) else { continue };
        let (lo, hi) = (uniform as f64 * (1.0 - cap) - 1e-6, uniform as f64 * (1.0 + cap) + 1e-6);
        let n = logging.candidates.iter().filter(|k| (lo..=hi).contains(&(k.price_minor as f64))).count() as f64;
        let heads = dm.get(i).copied().flatten();
        let q = |price: i64| {
            heads.map_or(0.0, |h| h.purchase_probability(price as f64 / product.list_price as f64))
                * c.to_major(price - product.cost)
        };
        let term = |engine: &Engine| {
            let d = engine.price_session(&l.session_id, &l.session, product, now);
            let direct: f64 = d.candidates.iter().map(|k| k.propensity * q(k.price_minor)).sum();
            let pi: f64 = d.candidates.iter().filter(|k| k.price_minor == l.price_minor).map(|k| k.propensity).sum();
            direct + n * pi * (l.reward - q(l.price_minor))
        };
        terms.push(term(candidate) - term(live));
        groups.push(group.get(i).copied().unwrap_or(0));
    }
    (grouped_mean(&terms, &groups), terms.len())
}
