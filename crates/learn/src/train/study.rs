//! Seeded learning loops in memory: the rounds of scripts/learning-loop.sh (traffic priced
//! by the live bundle with the market deciding purchases, retraining, the gate) without
//! the origin, so that many seeds and markets can run. Each round reports the live policy
//! on held-out sessions against the best uniform price and the feature oracle, and each
//! gate call with its ground truth (the market's expected profit of both deployed policies
//! on the held-out sessions). Rows with index mod 5 = 4 are held out, as in the script.

use serde::Serialize;

use super::round::{RoundError, RoundInputs, held_out_for_gate, propose};
use crate::dataset::Row;
use crate::evaluate::Logged;
use crate::market::{LoggingPolicy, MarketModel, simulate_log};
use crate::simulate::{self, Policy, Summary, Visit};
use crate::{Estimate, oracle};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::decision::Arm;
use edgeprice_core::pricing::rules::Rules;
use edgeprice_core::session::Session;

pub struct StudyConfig {
    pub rounds: usize,
    /// Visits per learning session per round, and per held-out session when measuring.
    pub visits: u32,
    pub seed: u64,
}

#[derive(Serialize, Clone, Debug)]
pub struct Standing {
    pub live_version: u64,
    pub deployed: Summary,
    pub greedy: Summary,
    pub uniform: Summary,
    pub feature_oracle: Summary,
    pub deployed_minus_uniform: Estimate,
    pub greedy_minus_uniform: Estimate,
    /// (greedy - uniform) / (feature oracle - uniform).
    pub greedy_captured_share: f64,
    /// Deployed profit relative to uniform: deployed / uniform - 1.
    pub deployed_vs_uniform: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct GateCall {
    pub candidate_version: u64,
    /// DR uplift per decision with the cross-fitted direct method, and with the live model.
    pub uplift: Estimate,
    pub uplift_live_dm: Estimate,
    /// What the gate decides on: the explored decisions' DR uplift, and their number.
    pub uplift_explored: Estimate,
    pub explored: usize,
    pub promoted: bool,
    /// The market's expected profit per held-out visit, deployed candidate - deployed live.
    pub truth: f64,
    pub truly_better: bool,
    /// The same difference on the gate's own held-out logged decisions (the population the
    /// gate estimates on), for checking its estimator apart from the population change.
    pub truth_on_gate_decisions: f64,
    /// Each policy's DR estimate (cross-fitted) and truth on the gate's decisions.
    pub candidate_dr: f64,
    pub candidate_ips: f64,
    pub candidate_snips: f64,
    pub live_dr: f64,
    pub candidate_truth_on_gate: f64,
    pub live_truth_on_gate: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct RoundReport {
    pub round: usize,
    pub standing: Standing,
    pub gate: Option<GateCall>,
}

fn labelled(rows: &[Row], keep: impl Fn(usize) -> bool) -> Vec<(Session, bool)> {
    rows.iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .filter_map(|(_, r)| r.revenue.map(|b| (r.session.clone(), b)))
        .collect()
}

fn repeat<T: Clone>(items: &[T], times: u32) -> Vec<T> {
    items.iter().flat_map(|x| std::iter::repeat_n(x.clone(), times as usize)).collect()
}

/// Logged decisions of simulated visits (what the origin would store).
fn logged(visits: &[Visit], sessions: &[(Session, bool)]) -> Vec<Logged> {
    visits
        .iter()
        .map(|v| Logged {
            session_id: v.session_id.clone(),
            session: sessions[v.row].0.clone(),
            price_minor: v.price_minor,
            propensity: v.propensity,
            purchased: v.purchased,
            reward: v.profit,
            explored: v.arm == Arm::Explore,
        })
        .collect()
}

/// Runs one seeded loop from a cold start (a model retrained on the market's exploring log).
pub fn run(
    market: &MarketModel,
    rows: &[Row],
    config: &StudyConfig,
    inp: &RoundInputs,
    mut on_round: impl FnMut(&RoundReport),
) -> Result<Vec<RoundReport>, RoundError> {
    let rules = Rules::from_toml(inp.rules_toml).map_err(|e| RoundError::Rules(e.to_string()))?;
    let product = inp.product;
    let learn = labelled(rows, |i| i % 5 != 4);
    let holdout = repeat(&labelled(rows, |i| i % 5 == 4), config.visits);
    let labels = repeat(&oracle::label_probability(&labelled(rows, |i| i % 5 == 4)), config.visits);
    let measure_seed = 1_000 + config.seed;
    let run_on = |policy: &Policy| simulate::run(market, &holdout, product, policy, &rules, measure_seed, inp.now);
    let uniform = run_on(&Policy::Uniform);
    let feature_oracle = run_on(&Policy::FeatureOracle(&labels));

    // Cold start: the exploring logging policy's log of the learning sessions in this market.
    let pairs: Vec<(&Session, bool)> = learn.iter().map(|(s, b)| (s, *b)).collect();
    let explore = simulate_log(market, &LoggingPolicy::default(), &pairs, config.visits, config.seed);
    let mut log: Vec<Logged> = explore
        .iter()
        .map(|imp| {
            let price_minor = (product.list_price as f64 * imp.price_ratio).round() as i64;
            Logged {
                session_id: format!("explore-{}-{}-{}", config.seed, imp.session, imp.visit),
                session: learn[imp.session].0.clone(),
                price_minor,
                propensity: imp.propensity,
                purchased: imp.purchased,
                reward: if imp.purchased { product.currency.to_major(price_minor - product.cost) } else { 0.0 },
                // Not marked: the cold start's gate verdict is not used.
                explored: false,
            }
        })
        .collect();
    let first = propose(log.clone(), &Engine::with_default(inp.now)?, inp)?;
    let mut live = first.candidate;
    log.clear(); // the loop's feedback starts with the first live policy's traffic

    let traffic_sessions = repeat(&learn, config.visits);
    // Each logged decision's real label, for the truth on the gate's own decisions.
    let mut bought_at_list: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut reports = Vec::new();
    for round in 0..=config.rounds {
        let deployed = run_on(&Policy::Bundle(&live));
        let greedy_engine = live.exploit_only();
        let greedy = run_on(&Policy::Bundle(&greedy_engine));
        let u = simulate::summarize(&uniform);
        let d = simulate::summarize(&deployed);
        let gap = simulate::paired(&feature_oracle, &uniform).mean;
        let greedy_gain = simulate::paired(&greedy, &uniform);
        let standing = Standing {
            live_version: live.policy_version(),
            deployed_minus_uniform: simulate::paired(&deployed, &uniform),
            greedy_minus_uniform: greedy_gain,
            greedy_captured_share: greedy_gain.mean / gap,
            deployed_vs_uniform: d.profit_per_session / u.profit_per_session - 1.0,
            deployed: d,
            greedy: simulate::summarize(&greedy),
            uniform: u,
            feature_oracle: simulate::summarize(&feature_oracle),
        };
        let mut report = RoundReport { round, standing, gate: None };
        if round < config.rounds {
            let traffic_seed = config.seed * 1_000 + round as u64;
            let visits = simulate::run(
                market,
                &traffic_sessions,
                product,
                &Policy::Bundle(&live),
                &rules,
                traffic_seed,
                inp.now,
            );
            log.extend(logged(&visits, &traffic_sessions));
            bought_at_list.extend(visits.iter().map(|v| (v.session_id.clone(), traffic_sessions[v.row].1)));
            let seeded = RoundInputs { seed: inp.seed + round as u64, ..*inp };
            let proposal = propose(log.clone(), &live, &seeded)?;
            let candidate_deployed = run_on(&Policy::Bundle(&proposal.candidate));
            let mean_expected = |v: &[Visit]| v.iter().map(|x| x.expected_profit).sum::<f64>() / v.len().max(1) as f64;
            let truth = mean_expected(&candidate_deployed) - mean_expected(&deployed);
            let gate_set: Vec<&Logged> = log.iter().filter(|l| held_out_for_gate(l)).collect();
            let expected_on_gate = |engine: &Engine| {
                let total: f64 = gate_set
                    .iter()
                    .map(|l| {
                        let bought = bought_at_list.get(&l.session_id).copied().unwrap_or(false);
                        let d = engine.price_session(&l.session_id, &l.session, product, inp.now);
                        d.candidates
                            .iter()
                            .map(|k| {
                                let r = k.price_minor as f64 / product.list_price as f64;
                                let margin = product.currency.to_major(k.price_minor - product.cost);
                                k.propensity * market.purchase_probability(&l.session, bought, r) * margin
                            })
                            .sum::<f64>()
                    })
                    .sum();
                total / gate_set.len().max(1) as f64
            };
            let (candidate_truth_on_gate, live_truth_on_gate) =
                (expected_on_gate(&proposal.candidate), expected_on_gate(&live));
            let truth_on_gate_decisions = candidate_truth_on_gate - live_truth_on_gate;
            report.gate = Some(GateCall {
                candidate_version: proposal.candidate.policy_version(),
                uplift: proposal.verdict.uplift,
                uplift_live_dm: proposal.verdict.uplift_live_dm,
                uplift_explored: proposal.verdict.uplift_explored,
                explored: proposal.verdict.explored,
                promoted: proposal.verdict.promote,
                truth,
                truly_better: truth > 0.0,
                truth_on_gate_decisions,
                candidate_dr: proposal.verdict.candidate.dr.mean,
                candidate_ips: proposal.verdict.candidate.ips.mean,
                candidate_snips: proposal.verdict.candidate.snips.mean,
                live_dr: proposal.verdict.live.dr.mean,
                candidate_truth_on_gate,
                live_truth_on_gate,
            });
            if proposal.verdict.promote {
                live = proposal.candidate;
            }
        }
        on_round(&report);
        reports.push(report);
    }
    Ok(reports)
}
