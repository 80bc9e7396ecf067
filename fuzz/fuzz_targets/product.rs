//! Product JSON: read or refused with a code; a product that reads is priced within the
//! rules for a plain session.
#![no_main]

mod common;

use edgeprice_core::pricing::product::Product;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(product) = Product::from_json(data) {
        let engine = common::engine();
        let session = edgeprice_core::session::Session { visitor_type: "New_Visitor".into(), ..Default::default() };
        let d = engine.price_session("fuzz", &session, &product, common::NOW);
        common::check(engine, &product, &d);
    }
});
