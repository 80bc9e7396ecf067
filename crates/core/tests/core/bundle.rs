//! Bundle verification: every single-byte change and every truncation of the shipped
//! default bundle is rejected with a reason; so are downgrades, expired bundles, unknown
//! keys, forged signatures, bad rules and a model that does not fit its schema. A rejected
//! update leaves the live policy serving.

use std::collections::BTreeMap;

use edgeprice_core::bundle::{self, DEFAULT_BUNDLE, TrustedKeys, inspect_unverified, verify};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::rules::parse_time;

use edgeprice_testkit::{now, signer as test_signer};

fn default_model() -> Vec<u8> {
    edgeprice_testkit::model_file("behaviour.int8.onnx")
}

#[test]
fn default_bundle_verifies() {
    let b = verify(DEFAULT_BUNDLE, &bundle::default_keys().unwrap(), now(), None).unwrap();
    assert_eq!(b.manifest().policy_version, 1);
    assert_eq!(b.manifest().key_id, "edgeprice-default-2026-12b");
}

#[test]
fn the_built_in_bundle_reads_as_verify_reads_it_and_keeps_its_window() {
    let keys = bundle::default_keys().unwrap();
    let (built_in, verified) = (bundle::built_in(now()).unwrap(), verify(DEFAULT_BUNDLE, &keys, now(), None).unwrap());
    assert_eq!(built_in.manifest(), verified.manifest());
    assert_eq!(built_in.rules(), verified.rules());
    assert_eq!(built_in.expires_at(), verified.expires_at());
    let x = vec![0.25f32; built_in.model().width()];
    assert_eq!(format!("{:?}", built_in.model().heads(&x)), format!("{:?}", verified.model().heads(&x)));
    // Only the signature is taken as checked (by build.rs): the validity window still holds.
    for at in ["2025-12-31T23:00:00Z", "2035-12-30T00:00:00Z", "2040-01-01T00:00:00Z"] {
        let at = parse_time(at).unwrap();
        let codes = (
            bundle::built_in(at).err().map(|e| e.code()),
            verify(DEFAULT_BUNDLE, &keys, at, None).err().map(|e| e.code()),
        );
        assert!(codes.0.is_some() && codes.0 == codes.1, "at {at}: {codes:?}");
    }
    let (engine, checked) = (Engine::with_default(now()).unwrap(), Engine::new(DEFAULT_BUNDLE, &keys, now()).unwrap());
    let (session, product) = (
        serde_json::json!({"session_id": "s-1", "features": {"ProductRelated": 12, "PageValues": 10}}),
        serde_json::json!({"sku": "sku-1", "list_price": 49.99, "cost": 22.0, "currency": "USD"}),
    );
    assert_eq!(engine.price(&session, &product, now()).unwrap(), checked.price(&session, &product, now()).unwrap());
}

#[test]
fn every_single_byte_flip_is_rejected() {
    let keys = bundle::default_keys().unwrap();
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut bytes = DEFAULT_BUNDLE.to_vec();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0xFF] {
            bytes[i] ^= mask;
            let err =
                verify(&bytes, &keys, now(), None).err().unwrap_or_else(|| panic!("flip {mask:#x} at {i} accepted"));
            *codes.entry(err.code()).or_default() += 1;
            bytes[i] ^= mask;
        }
    }
    println!("{} flips rejected: {codes:?}", 2 * bytes.len());
    assert!(codes["bundle_bad_signature"] > bytes.len(), "most flips should fail the signature: {codes:?}");
    assert!(codes.contains_key("bundle_malformed") && codes.contains_key("bundle_unknown_key"), "{codes:?}");
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    let keys = bundle::default_keys().unwrap();
    for cut in 0..DEFAULT_BUNDLE.len() {
        let err =
            verify(&DEFAULT_BUNDLE[..cut], &keys, now(), None).err().unwrap_or_else(|| panic!("cut at {cut} accepted"));
        assert!(
            ["bundle_truncated", "bundle_malformed", "bundle_bad_signature", "bundle_unknown_key"]
                .contains(&err.code()),
            "cut at {cut}: {err}"
        );
    }
    let mut longer = DEFAULT_BUNDLE.to_vec();
    longer.push(0);
    assert_eq!(verify(&longer, &keys, now(), None).unwrap_err().code(), "bundle_malformed");
    assert_eq!(verify(&vec![0u8; 9 << 20], &keys, now(), None).unwrap_err().code(), "bundle_malformed");
}

#[test]
fn downgrade_expiry_and_keys() {
    let keys = bundle::default_keys().unwrap();
    assert_eq!(verify(DEFAULT_BUNDLE, &keys, now(), Some(1)).unwrap_err().code(), "bundle_downgrade");
    assert_eq!(verify(DEFAULT_BUNDLE, &keys, now(), Some(7)).unwrap_err().code(), "bundle_downgrade");
    let expires = parse_time("2035-12-30T00:00:00Z").unwrap();
    assert!(verify(DEFAULT_BUNDLE, &keys, expires - 1, None).is_ok());
    assert_eq!(verify(DEFAULT_BUNDLE, &keys, expires, None).unwrap_err().code(), "bundle_expired");
    assert_eq!(verify(DEFAULT_BUNDLE, &TrustedKeys::default(), now(), None).unwrap_err().code(), "bundle_unknown_key");

    // Re-signed by another key that claims the default key's id: the signature fails.
    let (manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    let (forger, _) = test_signer("edgeprice-default-2026-12b", 9);
    let forged = forger.sign(&manifest, &default_model()).unwrap();
    assert_eq!(verify(&forged, &keys, now(), None).unwrap_err().code(), "bundle_bad_signature");
}

#[test]
fn bad_content_under_a_good_signature_is_rejected() {
    let (signer, keys) = test_signer("test-key", 3);
    let (manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    let mut narrow = manifest.clone();
    narrow.schema.inputs.pop();
    let err = verify(&signer.sign(&narrow, &default_model()).unwrap(), &keys, now(), None).unwrap_err();
    assert_eq!(err.code(), "bundle_model_mismatch", "{err}");
    let mut rules = manifest.clone();
    rules.rules_toml = rules.rules_toml.replace("max_discount = 0.15", "max_discount = 3.0");
    // The signer refuses to compile them; signed as format 1 (rules as text), verify does.
    assert_eq!(signer.sign(&rules, &default_model()).unwrap_err().code(), "bundle_bad_rules");
    rules.key_id = "test-key".into();
    let json = serde_json::to_vec(&rules).unwrap();
    assert_eq!(
        verify(&signer.sign_manifest_bytes(&json, &default_model()).unwrap(), &keys, now(), None).unwrap_err().code(),
        "bundle_bad_rules"
    );
    let err = verify(&signer.sign(&manifest, b"not onnx").unwrap(), &keys, now(), None).unwrap_err();
    assert_eq!(err.code(), "bundle_model_mismatch");
}

#[test]
fn rejected_update_keeps_the_live_policy() {
    let (signer, keys) = test_signer("test-key", 4);
    let (mut manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    manifest.policy_version = 5;
    let v5 = signer.sign(&manifest, &default_model()).unwrap();
    let mut engine = Engine::new(&v5, &keys, now()).unwrap();
    assert_eq!(
        engine.update(DEFAULT_BUNDLE, &bundle::default_keys().unwrap(), now()).unwrap_err().code(),
        "bundle_downgrade"
    );
    assert_eq!(engine.update(&v5[..100], &keys, now()).unwrap_err().code(), "bundle_truncated");
    assert_eq!(engine.policy_version(), 5);
    manifest.policy_version = 6;
    assert_eq!(engine.update(&signer.sign(&manifest, &default_model()).unwrap(), &keys, now()).unwrap(), 6);
    assert_eq!(engine.policy_version(), 6);
}

#[test]
fn signing_is_deterministic() {
    let (signer, _) = test_signer("test-key", 6);
    let (manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    assert!(!manifest.page_values.is_empty());
    let a = signer.sign(&manifest, &default_model()).unwrap();
    let b = signer.sign(&manifest, &default_model()).unwrap();
    assert!(a == b, "the same manifest signed twice gave different bytes");
}
