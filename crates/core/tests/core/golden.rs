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

#[test]
fn batched_model_and_price_many_equal_one_at_a_time() {
    let cases: Value = serde_json::from_slice(&std::fs::read(golden_dir().join("cases.json")).unwrap()).unwrap();
    let now = parse_time(LOADED_AT).unwrap();
    let engine = Engine::with_default(now).unwrap();
    // Every golden session, plus variants of each, and a session that does not parse.
    let mut sessions: Vec<Value> = Vec::new();
    for (i, case) in cases["cases"].as_array().unwrap().iter().enumerate() {
        for k in 0..13 {
            let mut s = case["session"].clone();
            s["session_id"] = json!(format!("batch-{i}-{k}"));
            sessions.push(s);
        }
    }
    sessions.insert(5, json!({"session_id": 7}));
    let product = &cases["cases"][0]["product"];
    let many = engine.price_many(&sessions, product, now).unwrap();
    assert_eq!(many.len(), sessions.len());
    for (s, d) in sessions.iter().zip(&many) {
        let one = engine.price(s, product, now).unwrap();
        assert_eq!(serde_json::to_value(d).unwrap(), serde_json::to_value(&one).unwrap());
    }
    // The model alone: a batch of rows gives each row's heads, bit for bit.
    let model = engine.bundle().model();
    let width = model.width();
    let xs: Vec<f32> = (0..50 * width).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect();
    let batch = model.heads_batch(&xs).unwrap();
    for (row, h) in xs.chunks(width).zip(&batch) {
        let (one, h) = (model.heads(row).unwrap(), h.as_ref().unwrap());
        assert_eq!((one.a.to_bits(), one.b.to_bits(), one.c.to_bits()), (h.a.to_bits(), h.b.to_bits(), h.c.to_bits()));
    }
    assert!(model.heads_batch(&xs[..width + 1]).is_err(), "a partial row is refused");
}
