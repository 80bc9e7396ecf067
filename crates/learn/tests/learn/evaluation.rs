//! The learning loop's statistics on the real sessions: simulation is deterministic and
//! orders the policies as it must, and off-policy estimates of three policies cover their
//! simulated ground truth in at least 90% of 50 seeded repetitions (asserted for doubly
//! robust, the promotion gate's estimator; IPS and SNIPS coverage printed).

use edgeprice_core::bundle::{DEFAULT_BUNDLE, Manifest, TrustedKeys, inspect_unverified};
use edgeprice_core::engine::Engine;
use edgeprice_core::feedback::FeedbackEvent;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::pricing::rules::parse_time;
use edgeprice_core::session::Session;
use edgeprice_learn::evaluate::{Target, evaluate, join};
use edgeprice_learn::market::{Market, MarketModel};
use edgeprice_learn::simulate::{self, Policy};

fn now() -> i64 {
    parse_time("2026-12-05T12:00:00Z").unwrap()
}

fn product() -> Product {
    Product::from_json(&std::fs::read(edgeprice_testkit::models().join("demo_product.json")).unwrap()).unwrap()
}

/// Every fifth session of the train file (the loop's held-out split).
fn sessions() -> Vec<(Session, bool)> {
    crate::read_rows()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 5 == 4)
        .map(|(_, r)| (r.session, r.revenue.unwrap()))
        .collect()
}

/// The shipped model with other rules, signed with a throwaway key.
fn variant(rules_toml: &str, version: u64) -> (Engine, TrustedKeys) {
    let (mut manifest, _): (Manifest, usize) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    let (signer, keys) = edgeprice_testkit::signer("learn-test", 7);
    manifest.policy_version = version;
    manifest.rules_toml = rules_toml.to_string();
    let signed = signer.sign(&manifest, &edgeprice_testkit::model_file("behaviour.int8.onnx")).unwrap();
    (Engine::new(&signed, &keys, now()).unwrap(), keys)
}

#[test]
fn simulation_is_deterministic_and_orders_the_policies() {
    let (sessions, product) = (sessions(), product());
    let engine = Engine::with_default(now()).unwrap();
    let rules = engine.bundle().rules().clone();
    let run = |p: &Policy, seed| {
        simulate::summarize(&simulate::run(&MarketModel::default(), &sessions, &product, p, &rules, seed, now()))
    };
    let bundle = run(&Policy::Bundle(&engine), 3);
    // Guardrails hold: every price shown by the bundle (greedy or not) is an allowed price
    // or the reference price of the control group.
    let allowed: Vec<i64> = edgeprice_core::pricing::candidates::allowed(&product, &rules, now())
        .candidates
        .iter()
        .map(|k| k.price)
        .collect();
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
    let rules = logging.bundle().rules().clone();
    let base = std::fs::read_to_string(edgeprice_testkit::models().join("rules.toml")).unwrap();
    let wider = base.replace("epsilon = 0.02", "epsilon = 0.20");
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
        let events: Vec<FeedbackEvent> =
            visits.iter().flat_map(|v| simulate::events(v, &sessions[v.row].0, &product, 1, now())).collect();
        let (logged, skipped) = join(&events, &product, &logging.bundle().manifest().page_values);
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

#[test]
fn the_feature_oracle_is_the_ceiling_where_features_speak_and_uniform_where_they_do_not() {
    let (sessions, product) = (sessions(), product());
    let engine = Engine::with_default(now()).unwrap();
    let rules = engine.bundle().rules().clone();
    let labels = edgeprice_learn::oracle::label_probability(&sessions);
    assert!(labels.iter().all(|q| q.is_finite() && (0.0..=1.0).contains(q)));
    let flat =
        MarketModel::from_toml(&std::fs::read_to_string(edgeprice_testkit::repo().join("markets/flat.toml")).unwrap())
            .unwrap();
    for market in [MarketModel::default(), flat] {
        let run = |p: &Policy| simulate::run(&market, &sessions, &product, p, &rules, 5, now());
        let (oracle, uniform) = (run(&Policy::FeatureOracle(&labels)), run(&Policy::Uniform));
        let (o, u) = (simulate::summarize(&oracle), simulate::summarize(&uniform));
        println!(
            "{}: feature oracle {:.4}, uniform {:.4} expected profit per session",
            market.family(),
            o.expected_profit_per_session,
            u.expected_profit_per_session
        );
        if market.family() == "flat" {
            // Every session has the same demand: the feature oracle's price is the uniform one.
            assert!(oracle.iter().zip(&uniform).all(|(a, b)| a.price_minor == b.price_minor));
        } else {
            // Version 1's features carry price sensitivity: the ceiling is above one price.
            assert!(o.expected_profit_per_session > u.expected_profit_per_session + 0.05);
        }
    }
}

#[test]
fn the_gate_does_not_promote_a_candidate_identical_to_the_live_policy() {
    let (sessions, product) = (sessions(), product());
    let engine = Engine::with_default(now()).unwrap();
    let rules = engine.bundle().rules().clone();
    let visits =
        simulate::run(&MarketModel::default(), &sessions, &product, &Policy::Bundle(&engine), &rules, 9, now());
    let events: Vec<FeedbackEvent> =
        visits.iter().flat_map(|v| simulate::events(v, &sessions[v.row].0, &product, 1, now())).collect();
    let (logged, _) = join(&events, &product, &engine.bundle().manifest().page_values);
    let config = edgeprice_learn::train::retrain::RetrainConfig::default();
    let v = edgeprice_learn::train::gate::judge(&logged, &engine, &engine, &product, now(), &config).unwrap();
    assert_eq!((v.uplift.mean, v.uplift.ci_low, v.uplift.ci_high), (0.0, 0.0, 0.0));
    assert!(!v.promote, "{}", v.reason);
    // The direct method is cross-fitted: a decision's heads come from a model fitted on the
    // other half of the sessions, so they differ from the live model's own.
    let dm = edgeprice_learn::train::gate::cross_fitted_heads(&logged, product.list_price, &config).unwrap();
    let own = &engine.bundle().model();
    let schema = &engine.bundle().manifest().schema;
    let same = logged.iter().zip(&dm).filter(|(l, h)| own.heads(&schema.transform(&l.session)).ok() == **h).count();
    assert_eq!(same, 0);
}
