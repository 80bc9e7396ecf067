//! Session JSON (aggregates or page events) priced with the shipped bundle: any bytes give
//! a decision within the rules (a fallback for what cannot be read), never a panic.
#![no_main]

mod common;

use edgeprice_core::pricing::product::Product;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let engine = common::engine();
    let product = Product::from_json(
        br#"{"sku":"sku-1001","list_price":49.99,"cost":22,"currency":"USD","stock":120,"category":"shoes"}"#,
    )
    .unwrap();
    let session: serde_json::Value = serde_json::from_slice(data).unwrap_or(serde_json::Value::Null);
    let product_json = serde_json::json!({"sku":"sku-1001","list_price":49.99,"cost":22,"currency":"USD","stock":120,"category":"shoes"});
    let d = engine.price(&session, &product_json, common::NOW).unwrap();
    common::check(engine, &product, &d);
});
