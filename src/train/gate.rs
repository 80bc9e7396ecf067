//! The promotion gate: a candidate policy replaces the live one only when its doubly
//! robust profit per decision on held-out logged decisions beats the live policy's, paired,
//! with the 95% interval above zero. The direct method is cross-fitted (version 1): the
//! held-out decisions are split in two by shopper, and each half is scored by a model
//! fitted on the other half with the retraining recipe. So the direct method is never the
//! candidate's own model, which is optimistic about the prices it picked itself.

use super::TrainError;
use super::retrain::{RetrainConfig, fit_logged};
use crate::engine::Engine;
use crate::learn::Estimate;
use crate::learn::evaluate::{Evaluation, Logged, Target, difference, evaluate_with};
use crate::model::Heads;
use crate::pricing::product::Product;

/// Version of the gate's split and estimator.
pub const GATE_VERSION: u32 = 1;

pub struct Verdict {
    pub candidate: Evaluation,
    pub live: Evaluation,
    /// Paired DR difference, candidate - live, per decision.
    pub uplift: Estimate,
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
    let candidate = evaluate_with(held_out, &Target::Bundle(candidate), &dm, product, now);
    let live = evaluate_with(held_out, &Target::Bundle(live), &dm, product, now);
    let uplift = difference(&candidate, &live);
    let promote = uplift.ci_low > 0.0;
    let verdict = if promote { "above zero" } else { "does not exclude zero or is negative" };
    let reason = format!(
        "DR uplift {:.4} per decision (cross-fitted direct method), 95% CI [{:.4}, {:.4}] {verdict}",
        uplift.mean, uplift.ci_low, uplift.ci_high
    );
    Ok(Verdict { candidate, live, uplift, promote, reason })
}
