//! Golden decision vectors: the cases in tests/golden/cases.json priced natively with the
//! built-in default bundle must give the decisions in tests/golden/decisions.json (numbers
//! within 1e-9, everything else exactly). The same files serve the wasm and worker runs.
//! `UPDATE_GOLDEN=1` rewrites decisions.json; review the diff before committing it.

use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::rules::parse_time;
use serde_json::{Value, json};

const LOADED_AT: &str = "2026-11-28T00:00:00Z";

fn golden_dir() -> std::path::PathBuf {
    edgeprice_testkit::repo().join("tests/golden")
}

fn same(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() <= 1e-9 * x.abs().max(1.0) { Ok(()) } else { Err(format!("{path}: {x} != {y}")) }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().try_for_each(|(i, (u, v))| same(u, v, &format!("{path}[{i}]")))
        }
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            x.iter().try_for_each(|(k, u)| same(u, y.get(k).unwrap_or(&Value::Null), &format!("{path}.{k}")))
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} != {b}")),
    }
}

#[test]
fn golden_decisions() {
    let cases: Value = serde_json::from_slice(&std::fs::read(golden_dir().join("cases.json")).unwrap()).unwrap();
    let engine = Engine::with_default(parse_time(LOADED_AT).unwrap()).unwrap();
    let mut decisions = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let now = parse_time(case["now"].as_str().unwrap()).unwrap();
        let d = engine.price(&case["session"], &case["product"], now).unwrap();
        decisions.push(json!({"name": case["name"], "decision": d}));
    }
    let path = golden_dir().join("decisions.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let doc = json!({"loaded_at": LOADED_AT, "bundle": "models/default.epb", "decisions": decisions});
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        return;
    }
    let expected: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let expected = expected["decisions"].as_array().unwrap();
    assert_eq!(expected.len(), decisions.len(), "number of golden cases");
    for (got, want) in decisions.iter().zip(expected) {
        if let Err(e) = same(got, want, "") {
            panic!("golden case {:?} differs: {e}", want["name"]);
        }
    }
    // The vectors cover every arm.
    let arms: Vec<&str> = expected.iter().map(|d| d["decision"]["arm"].as_str().unwrap()).collect();
    for arm in ["model", "explore", "control", "fallback"] {
        assert!(arms.contains(&arm), "no golden case with arm {arm}: {arms:?}");
    }
}
