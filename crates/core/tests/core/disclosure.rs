//! Disclosure by jurisdiction on the golden cases: a personalized price carries its
//! jurisdiction's text (New York, the EU, the default), other prices none; where the
//! merchant's rules turn personalization off the shopper gets the uniform (or list) price
//! with its reason, and nothing else about the decision changes without a place.

use edgeprice_core::bundle::{DEFAULT_BUNDLE, inspect_unverified};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::decision::Arm;
use edgeprice_core::pricing::disclosure::{DEFAULT_TEXT, EU_TEXT, NEW_YORK_TEXT, Place};
use edgeprice_core::pricing::rules::parse_time;
use serde_json::{Value, json};

fn cases() -> Vec<Value> {
    let path = edgeprice_testkit::repo().join("tests/golden/cases.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn place(v: Value) -> Place {
    Place::from_value(&v)
}

/// The default bundle re-signed with `extra` appended to its rules.
fn engine_with(extra: &str) -> Engine {
    let (mut manifest, _) = inspect_unverified(DEFAULT_BUNDLE).unwrap();
    let (signer, keys) = edgeprice_testkit::signer("disclosure-test", 11);
    manifest.rules_toml.push_str(extra);
    let signed = signer.sign(&manifest, &edgeprice_testkit::model_file("behaviour.int8.onnx")).unwrap();
    Engine::new(&signed, &keys, parse_time("2026-11-28T00:00:00Z").unwrap()).unwrap()
}

#[test]
fn personalized_prices_carry_their_jurisdictions_text() {
    let engine = Engine::with_default(parse_time("2026-11-28T00:00:00Z").unwrap()).unwrap();
    for c in cases() {
        let now = parse_time(c["now"].as_str().unwrap()).unwrap();
        let plain = engine.price(&c["session"], &c["product"], now).unwrap();
        let plain_json = serde_json::to_value(&plain).unwrap();
        assert!(
            plain_json.get("disclosure").is_none() && plain_json.get("jurisdiction").is_none(),
            "no place, no fields"
        );
        for (where_, text, name) in [
            (json!({"country": "US", "region": "NY"}), NEW_YORK_TEXT, "us-ny"),
            (json!({"country": "FR"}), EU_TEXT, "eu"),
            (json!({"country": "US", "region": "CA"}), DEFAULT_TEXT, "default"),
            (json!({"country": "not a code"}), DEFAULT_TEXT, "default"),
        ] {
            let d = engine.price_at(&c["session"], &c["product"], now, &place(where_)).unwrap();
            assert_eq!(d.jurisdiction.as_deref(), Some(name));
            assert_eq!(d.disclosure.as_deref(), plain.personalized.then_some(text), "{}", c["name"]);
            assert_eq!((d.price_minor, d.arm, d.propensity), (plain.price_minor, plain.arm, plain.propensity));
        }
    }
}

#[test]
fn a_jurisdiction_without_personalization_gets_the_uniform_or_list_price() {
    let uniform = engine_with(
        "\n[disclosure]\n[[disclosure.jurisdictions]]\nname = \"eu\"\ncountries = [\"FR\", \"DE\"]\npersonalization = \"uniform\"\n",
    );
    let list = engine_with(
        "\n[disclosure]\n[[disclosure.jurisdictions]]\nname = \"eu\"\ncountries = [\"FR\"]\npersonalization = \"list\"\n",
    );
    let fr = place(json!({"country": "FR"}));
    let mut seen_model = 0;
    for c in cases() {
        let now = parse_time(c["now"].as_str().unwrap()).unwrap();
        let free = uniform.price(&c["session"], &c["product"], now).unwrap();
        let d = uniform.price_at(&c["session"], &c["product"], now, &fr).unwrap();
        assert_eq!(d.decision_id, free.decision_id);
        assert!(d.disclosure.is_none() && !d.personalized, "{}", c["name"]);
        if free.arm == Arm::Fallback {
            assert_eq!(d.price_minor, free.price_minor, "a fallback stays as it was");
            continue;
        }
        seen_model += usize::from(free.arm == Arm::Model);
        assert_eq!(
            (d.arm, d.propensity, d.reasons.clone()),
            (Arm::Fallback, 1.0, vec!["jurisdiction:eu:uniform".to_string()])
        );
        assert_eq!(Some(d.price), free.uniform_price, "{}", c["name"]);
        assert_eq!(d.candidates.len(), 1);
        let l = list.price_at(&c["session"], &c["product"], now, &fr).unwrap();
        assert_eq!((l.price, l.reasons[0].as_str()), (l.list_price, "jurisdiction:eu:list"));
        // Elsewhere, the same engine personalizes as before.
        let us = uniform.price_at(&c["session"], &c["product"], now, &place(json!({"country": "US"}))).unwrap();
        assert_eq!((us.price_minor, us.arm), (free.price_minor, free.arm));
    }
    assert!(seen_model >= 5, "the cases include personalized prices");
}
