//! Rules TOML: parsed or refused with a code; rules that parse give candidate sets that
//! keep the guardrails (floor <= price, discount within the maximum) for a fixed product.
#![no_main]

mod common;

use edgeprice_core::pricing::candidates::allowed;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::pricing::rules::Rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rules) = Rules::from_toml(text) else { return };
    let product = Product::from_json(
        br#"{"sku":"sku-1001","list_price":49.99,"cost":22,"currency":"USD","stock":120,"category":"shoes","promotion_tags":["black-friday"]}"#,
    )
    .unwrap();
    let a = allowed(&product, &rules, common::NOW);
    for c in &a.candidates {
        assert!(c.price >= a.floor && c.price > 0, "{c:?} below floor {}", a.floor);
        let discount = 1.0 - c.price as f64 / product.list_price as f64;
        assert!(discount <= a.max_discount + 1e-9, "{c:?}: discount {discount} > {}", a.max_discount);
    }
    assert!(a.candidates.windows(2).all(|w| w[0].price > w[1].price), "{:?}", a.candidates);
});
