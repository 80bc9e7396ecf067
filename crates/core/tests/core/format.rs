//! Bundle formats: format 1 (JSON manifest, rules as TOML) still verifies and prices exactly
//! as the same policy in format 2 (binary manifest, compiled rules); format 2 carries every
//! rule field; compiled rules that are out of range, or not what their signed TOML says,
//! are refused.

use edgeprice_core::bundle::{
    self, DEFAULT_BUNDLE, FORMAT_JSON, FORMAT_VERSION, TrustedKeys, format_of, inspect_unverified, verify,
};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::pricing::rules::Rules;
use edgeprice_core::session::{Numeric, Session};

use edgeprice_testkit::{now, repo, signer as test_signer};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("crates/core/tests/fixtures").join(name)).unwrap()
}

#[test]
fn a_format_1_bundle_prices_exactly_as_the_same_policy_in_format_2() {
    let old = fixture("default-format1.epb");
    assert_eq!((format_of(&old).unwrap(), format_of(DEFAULT_BUNDLE).unwrap()), (FORMAT_JSON, FORMAT_VERSION));
    let mut old_keys = TrustedKeys::default();
    old_keys.add_json(&fixture("default-format1.pub.json")).unwrap();
    let (v1, v2) = (
        verify(&old, &old_keys, now(), None).unwrap(),
        verify(DEFAULT_BUNDLE, &bundle::default_keys().unwrap(), now(), None).unwrap(),
    );
    // The same policy: everything but the key it is signed with.
    let mut m1 = v1.manifest().clone();
    m1.key_id = v2.manifest().key_id.clone();
    assert_eq!(&m1, v2.manifest());
    assert_eq!(v1.rules(), v2.rules());
    assert!(DEFAULT_BUNDLE.len() < old.len(), "{} >= {}", DEFAULT_BUNDLE.len(), old.len());

    let (e1, e2) = (Engine::from_verified(v1), Engine::from_verified(v2));
    let product = Product::from_json(
        br#"{"sku":"sku-1001","list_price":49.99,"cost":22,"currency":"USD","stock":120,"category":"shoes"}"#,
    )
    .unwrap();
    for i in 0..200 {
        let mut session = Session {
            visitor_type: if i % 3 == 0 { "New_Visitor" } else { "Returning_Visitor" }.into(),
            ..Default::default()
        };
        session.set(Numeric::ProductRelated, (i % 40) as f64);
        session.set(Numeric::PageValues, (i * 7 % 60) as f64);
        let id = format!("format-{i}");
        let (d1, d2) =
            (e1.price_session(&id, &session, &product, now()), e2.price_session(&id, &session, &product, now()));
        assert_eq!(serde_json::to_string(&d1).unwrap(), serde_json::to_string(&d2).unwrap(), "session {i}");
    }
}

/// Rules that use every field the compiled form carries.
const EVERY_FIELD: &str = r#"
objective = "revenue"
ladder = [1.1, 1.0, 0.9, 0.8]
[guardrails]
min_margin = 0.05
max_discount = 0.25
allow_above_reference = true
[inventory]
low_stock = 3
overstock = 900
overstock_extra_discount = 0.04
[[promotions]]
name = "spring"
start = "2026-03-01T00:00:00Z"
end = "2026-04-01T00:00:00Z"
categories = ["shoes", "bags"]
tags = ["clearance"]
extra_discount = 0.07
[rounding]
ending = 95
[personalization]
cap = 0.12
[exploration]
mode = "softmax"
temperature = 0.02
epsilon = 0.01
control_share = 0.2
control = "list"
[disclosure]
text = "Prices may be set for your visit."
[[disclosure.jurisdictions]]
name = "ca"
countries = ["US"]
regions = ["CA", "OR"]
text = "Set by an algorithm."
personalization = "uniform"
[[disclosure.jurisdictions]]
name = "de"
countries = ["DE"]
personalization = "list"
"#;

#[test]
fn format_2_carries_every_rule_field() {
    let (signer, keys) = test_signer("format-test", 11);
    let (mut manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    manifest.rules_toml = EVERY_FIELD.to_string();
    manifest.policy_version = 9;
    let bytes = signer.sign_exact(&manifest, bundle::model_bytes(DEFAULT_BUNDLE).unwrap()).unwrap();
    assert_eq!(format_of(&bytes).unwrap(), FORMAT_VERSION);
    let verified = verify(&bytes, &keys, now(), None).unwrap();
    assert_eq!(verified.rules(), &Rules::from_toml(EVERY_FIELD).unwrap());
    assert_eq!(verified.manifest().rules_toml, EVERY_FIELD, "the merchant's text travels verbatim");
    let (read, _) = inspect_unverified(&bytes).unwrap();
    assert_eq!(read, *verified.manifest());
    // The signer refuses rules that do not compile, rather than sign them.
    manifest.rules_toml = EVERY_FIELD.replace("max_discount = 0.25", "max_discount = 3.0");
    let err = signer.sign_exact(&manifest, b"model").unwrap_err();
    assert_eq!(err.code(), "bundle_bad_rules", "{err}");
}

/// Replaces the one occurrence of `from` in `bytes` by `to` (same length).
fn splice(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at: Vec<usize> = bytes.windows(from.len()).enumerate().filter(|(_, w)| *w == from).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "{} occurrences", at.len());
    let mut out = bytes.to_vec();
    out[at[0]..at[0] + to.len()].copy_from_slice(to);
    out
}

#[test]
fn compiled_rules_out_of_range_or_unlike_their_text_are_refused() {
    let (signer, keys) = test_signer("format-test", 12);
    let (mut manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    manifest.key_id = signer.key_id.clone();
    let model = bundle::model_bytes(DEFAULT_BUNDLE).unwrap();
    let good = bundle::binary_manifest(&manifest).unwrap();
    assert!(verify(&signer.sign_format(FORMAT_VERSION, &good, model).unwrap(), &keys, now(), None).is_ok());

    // The compiled maximum discount (after the ladder, which ends at 0.80, and the minimum
    // margin, both 0.15 in these rules) set to 3: out of range, refused in every build.
    let after_ladder = good.windows(8).position(|w| w == 0.80f64.to_le_bytes()).unwrap() + 8;
    let [margin, discount] = [0, 8].map(|o| f64::from_le_bytes(good[after_ladder + o..][..8].try_into().unwrap()));
    assert_eq!((margin, discount), (0.15, 0.15));
    let mut compiled = good.clone();
    compiled[after_ladder + 8..][..8].copy_from_slice(&3.0f64.to_le_bytes());
    let err = verify(&signer.sign_format(FORMAT_VERSION, &compiled, model).unwrap(), &keys, now(), None).unwrap_err();
    assert_eq!(err.code(), "bundle_bad_rules", "{err}");
    assert!(err.to_string().contains("max_discount"), "{err}");

    // The signed text says 0.10 where the compiled rules say 0.15: a build with the full
    // toolchain (these tests have tract-onnx) compiles the text again and refuses the bundle.
    let unlike = splice(&good, b"max_discount = 0.15", b"max_discount = 0.10");
    let err = verify(&signer.sign_format(FORMAT_VERSION, &unlike, model).unwrap(), &keys, now(), None).unwrap_err();
    assert_eq!(err.code(), "bundle_bad_rules", "{err}");

    // A format this build does not know.
    let err = verify(&signer.sign_format(3, &good, model).unwrap(), &keys, now(), None).unwrap_err();
    assert_eq!(err.code(), "bundle_format_version");
    // Format 2's bytes under format 1's number are not JSON.
    let err = verify(&signer.sign_format(FORMAT_JSON, &good, model).unwrap(), &keys, now(), None).unwrap_err();
    assert_eq!(err.code(), "bundle_malformed");
    // Every truncation of a signed binary manifest is refused with a reason, never a panic.
    for cut in 0..good.len() {
        let err =
            verify(&signer.sign_format(FORMAT_VERSION, &good[..cut], model).unwrap(), &keys, now(), None).unwrap_err();
        assert_eq!(err.code(), "bundle_malformed", "cut at {cut}: {err}");
    }
}
