//! Bundle bytes: framing, signature, manifest, rules, plan. First byte 0 (or anything but
//! 1 and 2): the bytes as a bundle (the signature stops almost everything, as it should).
//! First byte 1 or 2: the next two bytes (LE) are a manifest length, then manifest bytes and
//! model bytes, framed as that format (1: JSON manifest, 2: binary manifest with compiled
//! rules) and signed with a trusted fuzz key, so the checks behind the signature are
//! reached. A bundle that verifies must price within its own rules (`common::check`).
#![no_main]

mod common;

use edgeprice_core::bundle::{BundleSigner, TrustedKeys, default_keys, verify};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::product::Product;
use libfuzzer_sys::fuzz_target;

/// The fuzz signer and the keys trusting it (the shipped key too), made once per process.
fn signer_and_keys() -> &'static (BundleSigner, TrustedKeys) {
    static ONCE: std::sync::OnceLock<(BundleSigner, TrustedKeys)> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let signer = BundleSigner::from_secret("fuzz", &[3; 32]);
        let mut keys = default_keys().unwrap();
        keys.add_json(serde_json::to_string(&signer.public_file()).unwrap().as_bytes()).unwrap();
        (signer, keys)
    })
}

fuzz_target!(|data: &[u8]| {
    let (signer, keys) = signer_and_keys();
    let bytes = match data.split_first() {
        Some((&format @ (1 | 2), rest)) if rest.len() >= 2 => {
            let len = (u16::from_le_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 2);
            let (manifest, model) = rest[2..].split_at(len);
            signer.sign_format(u16::from(format), manifest, model).unwrap()
        }
        _ => data.to_vec(),
    };
    if let Ok(b) = verify(&bytes, keys, common::NOW, None) {
        let engine = Engine::from_verified(b);
        let product = Product::from_json(br#"{"sku":"f","list_price":49.99,"cost":20,"currency":"USD"}"#).unwrap();
        for visitor in ["New_Visitor", "Returning_Visitor"] {
            let session = edgeprice_core::session::Session { visitor_type: visitor.into(), ..Default::default() };
            let d = engine.price_session("fuzz", &session, &product, common::NOW);
            common::check(&engine, &product, &d);
        }
    }
});
