//! The learning loop's statistics on the real sessions: simulation is deterministic and
//! orders the policies as it must, and off-policy estimates of three policies cover their
//! simulated ground truth in at least 90% of 50 seeded repetitions (asserted for doubly
//! robust, the promotion gate's estimator; IPS and SNIPS coverage printed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use edgeprice::bundle::{BundleSigner, Manifest, TrustedKeys, inspect_unverified};
use edgeprice::engine::Engine;
use edgeprice::learn::evaluate::{Target, evaluate, join};
use edgeprice::learn::simulate::{self, Policy};
use edgeprice::market::{Market, MarketModel};
use edgeprice::pricing::product::Product;
use edgeprice::pricing::rules::parse_time;
use edgeprice::session::Session;

fn now() -> i64 {
    parse_time("2026-12-05T12:00:00Z").unwrap()
}

fn product() -> Product {
    Product::from_json(&std::fs::read(common::models().join("demo_product.json")).unwrap()).unwrap()
}

/// Every fifth session of the train file (the loop's held-out split).
fn sessions() -> Vec<(Session, bool)> {
    common::read_rows()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 5 == 4)
        .map(|(_, r)| (r.session, r.revenue.unwrap()))
        .collect()
}

/// The shipped model with other rules, signed with a throwaway key.
fn variant(rules_toml: &str, version: u64) -> (Engine, TrustedKeys) {
    let bytes = std::fs::read(common::models().join("default.epb")).unwrap();
    let (mut manifest, _): (Manifest, usize) = inspect_unverified(&bytes).unwrap();
    let model = std::fs::read(common::models().join("behaviour.int8.onnx")).unwrap();
    let signer = BundleSigner::from_secret("learn-test", &[7; 32]);
    manifest.policy_version = version;
    manifest.rules_toml = rules_toml.to_string();
    let signed = signer.sign(&manifest, &model).unwrap();
    let mut keys = TrustedKeys::default();
    keys.add_json(serde_json::to_string(&signer.public_file()).unwrap().as_bytes()).unwrap();
    (Engine::new(&signed, &keys, now()).unwrap(), keys)
}

#[test]
fn simulation_is_deterministic_and_orders_the_policies() {
    let (sessions, product) = (sessions(), product());
    let engine = Engine::with_default(now()).unwrap();
    let rules = engine.bundle().rules.clone();
    let run = |p: &Policy, seed| {
        simulate::summarize(&simulate::run(&MarketModel::default(), &sessions, &product, p, &rules, seed, now()))
    };
    let bundle = run(&Policy::Bundle(&engine), 3);
    // Guardrails hold: every price shown by the bundle (greedy or not) is an allowed price
    // or the reference price of the control group.
    let allowed: Vec<i64> =
        edgeprice::pricing::candidates::allowed(&product, &rules, now()).candidates.iter().map(|k| k.price).collect();
    for policy in [engine.clone(), engine.exploit_only()] {
        for v in simulate::run(&MarketModel::default(), &sessions, &product, &Policy::Bundle(&policy), &rules, 3, now())
        {
            assert!(allowed.contains(&v.price_minor) || v.price_minor == product.list_price, "{}", v.price_minor);
        }
    }
    assert_eq!(bundle, run(&Policy::Bundle(&engine), 3), "same seed, same result");
    assert_ne!(bundle, run(&Policy::Bundle(&engine), 4));
    let (list, uniform, oracle) = (run(&Policy::List, 3), run(&Policy::Uniform, 3), run(&Policy::Oracle, 3));
    for s in [&bundle, &list, &uniform] {
        assert!(oracle.profit_per_session >= s.profit_per_session, "the oracle is an upper bound");
    }
    assert!(uniform.expected_profit_per_session >= list.expected_profit_per_session - 1e-9, "list is on the ladder");
    // At the list price the market reproduces the real labels exactly.
    let buyers = sessions.iter().filter(|(_, b)| *b).count() as f64 / sessions.len() as f64;
    assert!((list.conversion - buyers).abs() < 1e-12);
    println!(
        "held-out sessions: {}; profit per session: bundle v1 {:.4}, list {:.4}, uniform {:.4}, oracle {:.4}",
        sessions.len(),
        bundle.profit_per_session,
        list.profit_per_session,
        uniform.profit_per_session,
        oracle.profit_per_session
    );
}

#[test]
fn off_policy_estimates_cover_the_ground_truth() {
    let (sessions, product) = (sessions(), product());
    let logging = Engine::with_default(now()).unwrap();
    let rules = logging.bundle().rules.clone();
    let base = std::fs::read_to_string(common::models().join("rules.toml")).unwrap();
    let wider = base.replace("epsilon = 0.03", "epsilon = 0.20");
    assert_ne!(wider, base);
    let (other, _) = variant(&wider, 2);
    let market = Market;
    let fixed = product.currency.to_minor(44.99).unwrap();
    let truth_fixed = |price: i64| {
        let r = price as f64 / product.list_price as f64;
        let profit = product.currency.to_major(price - product.cost);
        sessions.iter().map(|(s, b)| market.purchase_probability(s, *b, r) * profit).sum::<f64>()
            / sessions.len() as f64
    };
    let reps = 50;
    let mut covered = [[0usize; 3]; 3]; // [target][ips, snips, dr]
    let mut widths = [0.0f64; 3];
    for seed in 0..reps {
        let visits = simulate::run(
            &MarketModel::default(),
            &sessions,
            &product,
            &Policy::Bundle(&logging),
            &rules,
            100 + seed,
            now(),
        );
        let events: Vec<serde_json::Value> =
            visits.iter().flat_map(|v| simulate::events(v, &sessions[v.row].0, &product, 1, now())).collect();
        let (logged, skipped) = join(&events, &product, &logging.bundle().manifest.page_values);
        assert_eq!((logged.len(), skipped), (sessions.len(), 0));
        // Ground truth of the bundle target: the market's expected profit under its whole
        // price distribution, on the session ids of this repetition.
        let truth_other = simulate::summarize(&simulate::run(
            &MarketModel::default(),
            &sessions,
            &product,
            &Policy::Bundle(&other),
            &rules,
            100 + seed,
            now(),
        ))
        .expected_profit_per_session;
        let cases = [
            (Target::Fixed(product.list_price), truth_fixed(product.list_price)),
            (Target::Fixed(fixed), truth_fixed(fixed)),
            (Target::Bundle(&other), truth_other),
        ];
        for (t, (target, truth)) in cases.iter().enumerate() {
            let e = evaluate(&logged, target, &logging, &product, now());
            for (k, est) in [e.ips, e.snips, e.dr].iter().enumerate() {
                covered[t][k] += usize::from(est.contains(*truth));
            }
            widths[t] += (e.dr.ci_high - e.dr.ci_low) / reps as f64;
        }
    }
    let names = ["list price", "44.99 for everyone", "bundle (cap 0.15, epsilon 0.20)"];
    for (t, name) in names.iter().enumerate() {
        let share = |k: usize| covered[t][k] as f64 / reps as f64;
        println!(
            "coverage over {reps} repetitions, {name}: IPS {:.0}%, SNIPS {:.0}%, DR {:.0}% (mean DR interval width {:.3})",
            100.0 * share(0),
            100.0 * share(1),
            100.0 * share(2),
            widths[t]
        );
        assert!(share(2) >= 0.9, "{name}: DR covered the truth in only {} of {reps}", covered[t][2]);
    }
}
