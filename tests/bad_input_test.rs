//! Bad sessions and products through the engine: a clear error (bad product, since there
//! is then no reference price) or a fallback decision (everything else), never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeprice::engine::Engine;
use edgeprice::pricing::decision::Arm;
use edgeprice::pricing::rules::parse_time;
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
