//! Property tests of the decision (10,000 cases each): whatever the product, rules, model
//! heads and session, a non-fallback price is an allowed candidate that respects every
//! guardrail and the personalization cap, propensities sum to 1, and the same input gives
//! the same decision.

use edgeprice_core::engine::Engine;
use edgeprice_core::model::Heads;
use edgeprice_core::pricing::candidates::allowed;
use edgeprice_core::pricing::curve::PopulationCurve;
use edgeprice_core::pricing::decision::{Arm, Decision, Inputs, decide};
use edgeprice_core::pricing::product::Product;
use edgeprice_core::pricing::rules::{ControlPrice, Rules, parse_time};
use proptest::prelude::*;

const RUNGS: [f64; 12] = [1.1, 1.05, 1.0, 0.97, 0.94, 0.91, 0.88, 0.85, 0.8, 0.75, 0.7, 0.6];

#[derive(Debug, Clone)]
struct RuleParams {
    ladder_mask: u16,
    min_margin: f64,
    max_discount: f64,
    allow_above: bool,
    low_stock: u64,
    overstock_extra: f64,
    promo_extra: f64,
    ending: Option<i64>,
    cap: f64,
    softmax: bool,
    epsilon: f64,
    temperature: f64,
    control: f64,
    control_list: bool,
}

fn rules_toml(p: &RuleParams) -> String {
    let ladder: Vec<String> =
        RUNGS.iter().enumerate().filter(|(i, _)| p.ladder_mask & (1 << i) != 0).map(|(_, r)| r.to_string()).collect();
    let ending = p.ending.map(|e| format!("[rounding]\nending = {e}\n")).unwrap_or_default();
    format!(
        "objective = \"profit\"\nladder = [{}]\n[guardrails]\nmin_margin = {}\nmax_discount = {}\nallow_above_reference = {}\n\
         [inventory]\nlow_stock = {}\noverstock = 1000\noverstock_extra_discount = {}\n\
         [[promotions]]\nname = \"sale\"\nstart = \"2026-06-01T00:00:00Z\"\nend = \"2026-07-01T00:00:00Z\"\ncategories = [\"shoes\"]\nextra_discount = {}\n\
         {ending}[personalization]\ncap = {}\n[exploration]\nmode = \"{}\"\nepsilon = {}\ntemperature = {}\ncontrol_share = {}\ncontrol = \"{}\"\n",
        ladder.join(", "),
        p.min_margin,
        p.max_discount,
        p.allow_above,
        p.low_stock,
        p.overstock_extra,
        p.promo_extra,
        p.cap,
        if p.softmax { "softmax" } else { "epsilon" },
        p.epsilon,
        p.temperature,
        p.control,
        if p.control_list { "list" } else { "uniform" }
    )
}

fn rule_params() -> impl Strategy<Value = RuleParams> {
    (
        (1u16..4096, 0.0..0.6f64, 0.0..0.5f64, any::<bool>(), 0u64..20),
        (0.0..0.2f64, 0.0..0.3f64, prop_oneof![Just(None), Just(Some(99)), Just(Some(95)), Just(Some(0))]),
        (0.0..0.4f64, any::<bool>(), 0.0..1.0f64, 0.001..0.2f64, 0.0..0.5f64, any::<bool>()),
    )
        .prop_map(|(a, b, c)| RuleParams {
            ladder_mask: a.0,
            min_margin: a.1,
            max_discount: a.2,
            allow_above: a.3,
            low_stock: a.4,
            overstock_extra: b.0,
            promo_extra: b.1,
            ending: b.2,
            cap: c.0,
            softmax: c.1,
            epsilon: c.2,
            temperature: c.3,
            control: c.4,
            control_list: c.5,
        })
}

fn product_json() -> impl Strategy<Value = serde_json::Value> {
    (1i64..2_000_000, 0.0..1.0f64, prop::option::of(0u64..3000), prop::option::of(0.0..1.3f64), any::<bool>()).prop_map(
        |(list, cost_share, stock, map_share, shoes)| {
            let cost = (list as f64 * cost_share).floor() as i64;
            let mut p = serde_json::json!({
                "sku": "sku-prop", "list_price": list as f64 / 100.0, "cost": cost as f64 / 100.0,
                "currency": "USD", "category": if shoes { "shoes" } else { "books" },
            });
            if let Some(s) = stock {
                p["stock"] = s.into();
            }
            if let Some(m) = map_share {
                p["map_price"] = ((list as f64 * m).floor() / 100.0).into();
            }
            p
        },
    )
}

fn check(d: &Decision, product: &Product, rules: &Rules, now: i64) {
    let set = allowed(product, rules, now);
    let total: f64 = d.candidates.iter().map(|c| c.propensity).sum();
    assert!((total - 1.0).abs() < 1e-9, "propensities sum to {total}");
    assert!(d.candidates.iter().all(|c| c.propensity > 0.0 && c.propensity <= 1.0 + 1e-12));
    let shown = d.candidates.iter().find(|c| c.price_minor == d.price_minor).expect("shown price among candidates");
    assert!((shown.propensity - d.propensity).abs() < 1e-15);
    if d.arm == Arm::Fallback {
        assert_eq!(d.price_minor, product.list_price);
        return;
    }
    let floor = ((product.cost as f64) * (1.0 + rules.guardrails.min_margin)).ceil() as i64;
    assert!(d.price_minor >= floor, "price {} below margin floor {floor}", d.price_minor);
    assert!(d.price_minor >= product.map_price.unwrap_or(0), "price below MAP");
    if !rules.guardrails.allow_above_reference {
        assert!(d.price_minor <= product.list_price, "price above reference");
    }
    let lowest = (product.list_price as f64 * (1.0 - set.max_discount) - 1e-6).ceil() as i64;
    assert!(d.price_minor >= lowest, "discount beyond the maximum");
    if d.arm == Arm::Control && rules.exploration.control == ControlPrice::List {
        assert_eq!(d.price_minor, product.list_price);
    } else {
        assert!(set.candidates.iter().any(|c| c.price == d.price_minor), "price is not an allowed candidate");
        let uniform = (d.uniform_price.unwrap() * 100.0).round();
        let cap = rules.personalization.cap;
        assert!((d.price_minor as f64 - uniform).abs() <= cap * uniform + 1.0, "outside the personalization cap");
        if d.arm == Arm::Control {
            assert_eq!(d.price_minor as f64, uniform, "a uniform-price control shows the uniform price");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn decisions_respect_the_rules(
        params in rule_params(),
        product in product_json(),
        a in -8.0f32..8.0,
        b in 0.01f32..30.0,
        c in 0.05f32..=1.0,
        session in "[a-z0-9]{1,12}",
        day in 0i64..365,
    ) {
        // An invalid rule set or product never reaches pricing; proptest fails the test if
        // more than 1,024 of the 10,000 cases are discarded this way.
        let rules = Rules::from_toml(&rules_toml(&params));
        prop_assume!(rules.is_ok());
        let rules = rules.unwrap();
        let product = Product::from_value(&product);
        prop_assume!(product.is_ok());
        let product = product.unwrap();
        let curve = PopulationCurve { ratios: vec![0.6, 1.0, 1.1], purchase_probability: vec![0.4, 0.15, 0.1] };
        let now = parse_time("2026-01-01T00:00:00Z").unwrap() + day * 86_400;
        let inputs = Inputs { session_id: &session, product: &product, rules: &rules, curve: &curve, heads: Heads { a, b, c }, policy_version: 3, now };
        match decide(&inputs) {
            Ok(d) => {
                check(&d, &product, &rules, now);
                prop_assert_eq!(decide(&inputs).unwrap(), d);
            }
            Err(reason) => {
                prop_assert_eq!(reason, "no_allowed_price");
                let set = allowed(&product, &rules, now);
                prop_assert!(set.candidates.is_empty() || product.list_price < set.floor);
            }
        }
    }

    #[test]
    fn shipped_model_and_rules_on_any_session(
        counts in prop::collection::vec(prop_oneof![Just(f64::NAN), -10.0..1e6f64, Just(1e300)], 10),
        month in prop_oneof![Just("Nov"), Just("May"), Just("Smarch"), Just("")],
        visitor in prop_oneof![Just("New_Visitor"), Just("Returning_Visitor"), Just("Other"), Just("Bot")],
        product in product_json(),
        session in "[a-z0-9]{1,12}",
        day in 0i64..365,
    ) {
        let names = ["Administrative", "Administrative_Duration", "Informational", "Informational_Duration", "ProductRelated",
            "ProductRelated_Duration", "BounceRates", "ExitRates", "PageValues", "SpecialDay"];
        let mut features = serde_json::Map::new();
        for (n, v) in names.iter().zip(&counts) {
            features.insert(n.to_string(), serde_json::Number::from_f64(*v).map(Into::into).unwrap_or(serde_json::Value::Null));
        }
        features.insert("Month".into(), month.into());
        features.insert("VisitorType".into(), visitor.into());
        let json = serde_json::json!({"session_id": session, "features": features});
        let now = parse_time("2026-01-01T00:00:00Z").unwrap() + day * 86_400;
        let engine = engine();
        let p = Product::from_value(&product);
        prop_assume!(p.is_ok());
        let p = p.unwrap();
        let d = engine.price(&json, &product, now).unwrap();
        check(&d, &p, engine.bundle().rules(), now);
        prop_assert!(d.arm != Arm::Fallback || d.reasons == ["fallback:no_allowed_price"], "{:?}", d.reasons);
        prop_assert_eq!(engine.price(&json, &product, now).unwrap(), d);
    }
}

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| Engine::with_default(parse_time("2026-06-01T00:00:00Z").unwrap()).unwrap())
}
