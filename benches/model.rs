//! Model run time, native: tract-onnx (the reference runtime) against the compact int8 fast
//! path (`plan`), on the shipped model and real session vectors, side by side in one run.
//! `cargo bench --bench model`. Prints medians of 31 timed batches; a benchmark, not a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use edgeprice::features::FeatureSchema;
use edgeprice::model::BehaviourModel;
use edgeprice::plan::Plan;

fn median_ns_per_call(xs: &[Vec<f32>], mut f: impl FnMut(&[f32]) -> f32) -> f64 {
    let mut runs: Vec<f64> = (0..31)
        .map(|_| {
            let t = Instant::now();
            let mut sink = 0f32;
            for x in xs {
                sink += f(x);
            }
            black_box(sink);
            t.elapsed().as_nanos() as f64 / xs.len() as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // built and run by `cargo test --all-targets`: nothing to time there
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::var("EDGEPRICE_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("../shared/data/online_shoppers_train.csv"));
    let rows = edgeprice::dataset::parse(&std::fs::read_to_string(data).unwrap()).unwrap();
    let schema = FeatureSchema::from_json(&std::fs::read(root.join("models/schema.json")).unwrap()).unwrap();
    let onnx = std::fs::read(root.join("models/behaviour.int8.onnx")).unwrap();
    let xs: Vec<Vec<f32>> = rows.iter().take(2_000).map(|r| schema.transform(&r.session)).collect();
    let tract = BehaviourModel::load(&onnx, schema.width()).unwrap();
    let plan = Plan::lower(&onnx).unwrap();
    let t = median_ns_per_call(&xs, |x| tract.reference_heads(x).unwrap().a);
    let p = median_ns_per_call(&xs, |x| plan.heads(x).unwrap().a);
    let load_t = {
        let t0 = Instant::now();
        black_box(BehaviourModel::load(&onnx, schema.width()).unwrap());
        t0.elapsed().as_secs_f64() * 1e3
    };
    let load_p = {
        let t0 = Instant::now();
        black_box(Plan::lower(&onnx).unwrap());
        t0.elapsed().as_secs_f64() * 1e3
    };
    println!("model run, native, {} session vectors x 31 batches (median ns per call):", xs.len());
    println!("  tract-onnx     {t:>9.0} ns   load + optimize {load_t:.2} ms");
    println!("  int8 fast path {p:>9.0} ns   lower {load_p:.3} ms");
    println!("  ratio          {:>9.1}x", t / p);
    // A whole decision (session JSON parse, features, model, rules, exploration hash).
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("tests/golden/cases.json")).unwrap()).unwrap();
    let case = &cases["cases"][0];
    let now = edgeprice::pricing::rules::parse_time(case["now"].as_str().unwrap()).unwrap();
    let engine = edgeprice::engine::Engine::with_default(now).unwrap();
    let one = vec![vec![0f32]; 2_000];
    let d = median_ns_per_call(&one, |_| engine.price(&case["session"], &case["product"], now).unwrap().price as f32);
    println!("whole decision, native (engine.price on golden case 0, {}): {d:.0} ns", engine.bundle().model.runtime());
}
