//! Bad sessions and products through the engine: a clear error (bad product, since there
//! is then no reference price) or a fallback decision (everything else), never a panic.

use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::decision::Arm;
use edgeprice_core::pricing::rules::parse_time;
use serde_json::{Value, json};

fn engine() -> (Engine, i64) {
    let now = parse_time("2026-11-28T12:00:00Z").unwrap();
    (Engine::with_default(now).unwrap(), now)
}

fn product() -> Value {
    json!({"sku": "sku-1", "list_price": 49.99, "cost": 20.0, "currency": "USD", "stock": 50, "category": "home"})
}

#[test]
fn bad_sessions_fall_back_to_the_reference_price() {
    let (engine, now) = engine();
    let huge = "x".repeat(1 << 20);
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    for (session, code) in [
        (json!("just a string"), "fallback:session_malformed"),
        (json!({"features": {}}), "fallback:session_bad_id"),
        (json!({"session_id": huge, "features": {}}), "fallback:session_bad_id"),
        (json!({"session_id": "s", "features": {"PageValues": "NaN"}}), "fallback:session_wrong_type"),
        (json!({"session_id": "s", "features": {"Weekend": 3}}), "fallback:session_wrong_type"),
        (json!({"session_id": "s", "features": [1, 2]}), "fallback:session_malformed"),
        (json!({"session_id": "s", "events": [{"seconds": 3}]}), "fallback:session_malformed"),
        (json!({"session_id": "s", "events": deep}), "fallback:session_malformed"),
    ] {
        let d = engine.price(&session, &product(), now).unwrap();
        assert_eq!((d.arm, d.price_minor), (Arm::Fallback, 4999));
        assert_eq!(d.reasons, [code], "{session:.80}");
    }
}

#[test]
fn odd_but_valid_sessions_are_priced() {
    let (engine, now) = engine();
    let huge = "y".repeat(1 << 20);
    for session in [
        json!({"session_id": "s", "features": {}}),
        json!({"session_id": "s", "features": {"ProductRelated": -3, "ExitRates": 1e308, "Month": huge, "VisitorType": null}}),
        json!({"session_id": "s", "events": []}),
        json!({"session_id": "s", "events": [{"page": "product", "seconds": -1e308}, {"page": huge, "seconds": null}]}),
    ] {
        let d = engine.price(&session, &product(), now).unwrap();
        assert_ne!(d.arm, Arm::Fallback, "{:?}", d.reasons);
        assert!(d.price_minor <= 4999 && d.price_minor >= 2300);
    }
}

#[test]
fn bad_products_are_clear_errors() {
    let (engine, now) = engine();
    let session = json!({"session_id": "s", "features": {}});
    let huge = "z".repeat(1 << 20);
    for (p, code) in [
        (json!({"sku": "a", "list_price": -5, "cost": 1, "currency": "USD"}), "product_bad_amount"),
        (json!({"sku": "a", "list_price": 5, "cost": 9, "currency": "USD"}), "product_cost_above_list"),
        (json!({"sku": "a", "list_price": 5, "cost": 1, "currency": "DOGE"}), "product_unknown_currency"),
        (json!({"sku": "a", "list_price": "5", "cost": 1, "currency": "USD"}), "product_malformed"),
        (json!({"sku": "a", "list_price": 5.001, "cost": 1, "currency": "USD"}), "product_bad_amount"),
        (json!({"sku": huge, "list_price": 5, "cost": 1, "currency": "USD"}), "product_bad_name"),
        (json!({"sku": "a", "list_price": 5, "cost": 1, "currency": "USD", "category": huge}), "product_bad_name"),
        (json!({"sku": "a", "list_price": 5, "cost": 1, "currency": "USD", "colour": "red"}), "product_malformed"),
        (json!(null), "product_malformed"),
    ] {
        let err = engine.price(&session, &p, now).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
    }
}

#[test]
fn extreme_sessions_stay_within_the_guardrails() {
    // Sessions built to push the model to its ends: every numeric column at 0, huge,
    // hugely negative or missing, categories seen or never seen. Whatever the model says,
    // the shown price is one the rules allow (or the list price for control and fallback),
    // and the extremes do reach both ends of the allowed range.
    use edgeprice_core::pricing::candidates::allowed;
    use edgeprice_core::pricing::product::Product;
    use edgeprice_core::session::Numeric;
    let (engine, now) = engine();
    let parsed = Product::from_value(&product()).unwrap();
    let rules = &engine.bundle().rules();
    let set = allowed(&parsed, rules, now);
    let prices: Vec<i64> = set.candidates.iter().map(|c| c.price).collect();
    let values = [json!(0), json!(1e308), json!(-1e308), Value::Null, json!(7.5)];
    let mut seed = 0x5eed_u64;
    let mut draw = |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let mut shown = std::collections::BTreeSet::new();
    for i in 0..4_000 {
        let mut f = serde_json::Map::new();
        for column in Numeric::ALL {
            f.insert(column.name().into(), values[draw(values.len())].clone());
        }
        let unseen = draw(2) == 0;
        f.insert(
            "VisitorType".into(),
            json!(if unseen { "Martian" } else { ["New_Visitor", "Returning_Visitor"][draw(2)] }),
        );
        f.insert("TrafficType".into(), json!(if unseen { 99_999 } else { 1 + draw(20) }));
        f.insert("Month".into(), json!(if unseen { "Smarch" } else { "Nov" }));
        let d = engine.price(&json!({"session_id": format!("x-{i}"), "features": f}), &product(), now).unwrap();
        match d.arm {
            Arm::Fallback => assert_eq!(d.price_minor, parsed.list_price, "{d:?}"),
            // The shipped rules' control group sees the policy's uniform price.
            Arm::Control => assert_eq!(Some(parsed.currency.to_major(d.price_minor)), d.uniform_price, "{d:?}"),
            Arm::Model | Arm::Explore => {
                assert!(prices.contains(&d.price_minor), "{} not in {prices:?}", d.price_minor)
            }
        }
        assert!(d.price_minor >= set.floor && d.price_minor <= parsed.list_price);
        assert!(d.discount <= set.max_discount + 1e-9, "{d:?}");
        if d.arm == Arm::Model {
            shown.insert(d.price_minor);
        }
    }
    // The model arm alone spans the personalization cap's range: more than one price.
    assert!(shown.len() >= 2, "extremes all got {shown:?}");
}
