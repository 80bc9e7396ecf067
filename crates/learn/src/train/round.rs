//! One round of the learning loop after the traffic: split the logged decisions (one
//! shopper in five held out for the gate, by a hash of the session's features), retrain on the rest, sign the
//! candidate as the live version + 1 and judge it against the live policy (`gate`).
//! `edgeprice retrain` and the in-memory studies (`study`) run exactly this.

use std::collections::BTreeMap;

use serde_json::json;

use super::TrainError;
use super::gate::{Verdict, judge};
use super::retrain::{RetrainConfig, retrain};
use crate::evaluate::Logged;
use edgeprice_core::bundle::{BundleError, BundleSigner, Draft, TrustedKeys};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::hash::hash_fields;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::pricing::rules::Rules;

/// What a round needs besides the log: the rules and page values the candidate ships with,
/// its signer, and the times it is signed and judged at.
pub struct RoundInputs<'a> {
    pub rules_toml: &'a str,
    pub page_values: &'a BTreeMap<String, f64>,
    pub product: &'a Product,
    pub signer: &'a BundleSigner,
    /// Keys the live bundle verifies with (the signer's is added).
    pub keys: &'a TrustedKeys,
    pub now: i64,
    /// Creation time and validity written into the candidate.
    pub created: i64,
    pub valid_days: u64,
    pub seed: u64,
}

impl<'a> RoundInputs<'a> {
    /// Inputs for rounds at `now` of this shop (rules, page values, product) signed by
    /// `signer`: a candidate created at `now`, valid 30 days, trained with seed 42 (set the
    /// fields to change them).
    pub fn new(
        shop: (&'a str, &'a BTreeMap<String, f64>, &'a Product),
        signer: &'a BundleSigner,
        keys: &'a TrustedKeys,
        now: i64,
    ) -> Self {
        let (rules_toml, page_values, product) = shop;
        RoundInputs { rules_toml, page_values, product, signer, keys, now, created: now, valid_days: 30, seed: 42 }
    }
}

pub struct Proposal {
    pub bytes: Vec<u8>,
    pub candidate: Engine,
    pub verdict: Verdict,
    pub trained_on: usize,
    pub gate_decisions: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the rules do not parse: {0}")]
    Rules(String),
}

/// Hash of what the learner knows of a decision's shopper: the session's features. Visits
/// with the same features (a returning shopper, the same session logged again) share it,
/// so a split by it never puts one shopper on both sides (a model that saw a shopper's
/// other visits is optimistic about that shopper, and a gate fed such a split was: it
/// promoted worse candidates). Falls back to the session id.
pub fn shopper_hash(salt: &[u8], l: &Logged) -> u64 {
    match serde_json::to_vec(&l.session) {
        Ok(features) => hash_fields(&[salt, &features]),
        Err(_) => hash_fields(&[salt, l.session_id.as_bytes()]),
    }
}

/// Whether a logged decision's shopper is held out for the gate (one in five).
pub fn held_out_for_gate(l: &Logged) -> bool {
    shopper_hash(b"gate", l).is_multiple_of(5)
}

/// Retrains on `logged` and judges the candidate against `live`.
pub fn propose(logged: Vec<Logged>, live: &Engine, inp: &RoundInputs) -> Result<Proposal, RoundError> {
    let rules = Rules::from_toml(inp.rules_toml).map_err(|e| RoundError::Rules(e.to_string()))?;
    let (gate_set, train_set): (Vec<Logged>, Vec<Logged>) = logged.into_iter().partition(held_out_for_gate);
    let config = RetrainConfig { seed: inp.seed, ..Default::default() };
    let r = retrain(&train_set, inp.product.list_price, &rules.ladder, &config)?;
    let draft = Draft {
        policy_version: live.policy_version() + 1,
        created: inp.created,
        valid_days: inp.valid_days,
        schema: r.schema,
        rules_toml: inp.rules_toml.to_string(),
        page_values: inp.page_values.clone(),
        population_curve: r.curve,
        metrics: json!({"retrained_from": {"decisions": r.decisions, "training_rows": r.training_rows,
            "correction": "importance resampling, weight 1/propensity capped at 20",
            "population_curve": "doubly robust over the logged decisions"}}),
    };
    let bytes = inp.signer.sign_draft(draft, &r.int8)?;
    let mut keys = inp.keys.clone();
    keys.add(&inp.signer.key_id, &inp.signer.public_bytes())?;
    let candidate = Engine::new(&bytes, &keys, inp.now)?;
    let verdict = judge(&gate_set, &candidate, live, inp.product, inp.now, &config)?;
    Ok(Proposal { bytes, candidate, verdict, trained_on: train_set.len(), gate_decisions: gate_set.len() })
}
