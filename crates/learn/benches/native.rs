//! Native figures of issue 8, one run: per-decision latency split into stages (session
//! parse, features, model, rules) and all-in, tract-onnx against the int8 fast path, a
//! category page (one session x 50 products), cold start (bundle bytes to first decision)
//! and bundle update. `cargo bench --bench native`; prints `BENCH {json}` lines that
//! `scripts/bench/report.py` puts side by side with Node, workerd and onnxruntime.
//! Every call is timed on its own (`Instant` costs about 20 ns, included), so p99 is real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use edgeprice_core::bundle::{self, BundleSigner, TrustedKeys};
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::decision::{Inputs, decide};
use edgeprice_core::pricing::product::Product;
use edgeprice_core::tracker::{features_json, parse_session};
use serde_json::{Value, json};

/// Times `f` on each of `n` calls (after `n / 10` warm-up calls); returns (p50, p99) in us.
fn per_call(n: usize, mut f: impl FnMut(usize) -> f64) -> (f64, f64) {
    let mut sink = 0.0;
    for i in 0..n / 10 {
        sink += f(i);
    }
    let mut t: Vec<f64> = (0..n)
        .map(|i| {
            let t0 = Instant::now();
            sink += f(i);
            t0.elapsed().as_nanos() as f64 / 1e3
        })
        .collect();
    black_box(sink);
    t.sort_by(f64::total_cmp);
    (t[n / 2], t[n * 99 / 100])
}

fn report(name: &str, (p50, p99): (f64, f64), extra: Value) {
    let mut line = json!({"env": "native", "name": name, "p50_us": p50, "p99_us": p99});
    if let (Some(l), Some(e)) = (line.as_object_mut(), extra.as_object()) {
        l.extend(e.clone());
    }
    println!("BENCH {line}");
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // built and run by `cargo test --all-targets`: nothing to time there
    }
    // The workspace root, two levels above this crate.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = std::env::var("EDGEPRICE_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("../shared/data/online_shoppers_train.csv"));
    let rows = edgeprice_learn::dataset::parse(&std::fs::read_to_string(data).unwrap()).unwrap();
    let now = edgeprice_core::pricing::rules::parse_time("2026-11-28T12:00:00Z").unwrap();
    let t0 = Instant::now();
    let engine = Engine::with_default(now).unwrap();
    let product_json: Value =
        serde_json::from_slice(&std::fs::read(root.join("models/demo_product.json")).unwrap()).unwrap();
    let product = Product::from_value(&product_json).unwrap();
    let first = engine.price_session("cold", &rows[0].session, &product, now);
    let cold_ms = t0.elapsed().as_secs_f64() * 1e3;
    black_box(first);
    let b = engine.bundle();
    let schema = &b.manifest().schema;
    let n = if std::env::args().any(|a| a == "--quick") { 2_000 } else { 20_000 };
    let session = |i: usize| &rows[i % rows.len()].session;
    let sessions_json: Vec<Value> =
        rows.iter().enumerate().map(|(i, r)| features_json(&format!("s-{i}"), &r.session)).collect();
    let xs: Vec<Vec<f32>> = rows.iter().map(|r| schema.transform(&r.session)).collect();
    let plan = b.model().fast_plan().expect("the shipped bundle carries a plan");
    let pv = &b.manifest().page_values;

    report(
        "parse session + product (JSON values)",
        per_call(n, |i| {
            let (_, s) = parse_session(&sessions_json[i % rows.len()], now, pv).unwrap();
            let p = Product::from_value(&product_json).unwrap();
            s.numeric[0] + p.list_price as f64
        }),
        json!({"stage": "parse"}),
    );
    report("features", per_call(n, |i| schema.transform(session(i))[0] as f64), json!({"stage": "features"}));
    report(
        "model: int8 fast path",
        per_call(n, |i| plan.heads(&xs[i % rows.len()]).unwrap().a as f64),
        json!({"stage": "model", "runtime": "fast"}),
    );
    // Batch 50 (`heads_batch`, the batched kernel), per vector: the same 50 vectors per call
    // as Node's modelHeadsBatch and onnxruntime-web's batched run.
    let flats: Vec<Vec<f32>> =
        (0..20).map(|b| (0..50).flat_map(|r| xs[(b * 50 + r) % xs.len()].clone()).collect()).collect();
    let (p50, p99) =
        per_call((n / 50).max(100), |i| plan.heads_batch(&flats[i % flats.len()]).unwrap()[49].unwrap().a as f64);
    report(
        "model: int8 fast path, batch of 50 (per vector)",
        (p50 / 50.0, p99 / 50.0),
        json!({"stage": "model_batch50", "runtime": "fast"}),
    );
    report(
        "model: tract-onnx",
        per_call(n, |i| b.model().reference_heads(&xs[i % rows.len()]).unwrap().a as f64),
        json!({"stage": "model", "runtime": "tract"}),
    );
    let heads: Vec<_> = xs.iter().map(|x| plan.heads(x).unwrap()).collect();
    // Agreement of the fast path with tract-onnx on every session of the data set.
    let worst = xs.iter().zip(&heads).fold(0f32, |w, (x, f)| {
        let t = b.model().reference_heads(x).unwrap();
        w.max((f.a - t.a).abs() / t.a.abs().max(1.0)).max((f.b - t.b).abs() / t.b.abs().max(1.0))
    });
    println!(
        "BENCH {}",
        json!({"env": "native", "name": "fast path vs tract-onnx, every data set session", "stage": "agreement",
               "vectors": xs.len(), "max_rel_diff": worst, "tolerance": edgeprice_core::model::FAST_PATH_TOLERANCE})
    );
    let ids: Vec<String> = (0..rows.len()).map(|i| format!("s-{i}")).collect();
    report(
        "rules (candidates, demand curve, exploration, decision)",
        per_call(n, |i| {
            let inputs = Inputs {
                session_id: &ids[i % rows.len()],
                product: &product,
                rules: b.rules(),
                curve: &b.manifest().population_curve,
                heads: heads[i % rows.len()],
                policy_version: b.manifest().policy_version,
                now,
            };
            decide(&inputs).unwrap().price
        }),
        json!({"stage": "rules"}),
    );
    report(
        "all-in, parsed session (price_session)",
        per_call(n, |i| engine.price_session(&ids[i % rows.len()], session(i), &product, now).price),
        json!({"stage": "all"}),
    );
    report(
        "all-in, JSON values in (price)",
        per_call(n, |i| engine.price(&sessions_json[i % rows.len()], &product_json, now).unwrap().price),
        json!({"stage": "all_json"}),
    );

    // A category page: one session, 50 products (the catalog's 30 and 20 more).
    let catalog: Value = serde_json::from_slice(&std::fs::read(root.join("www/catalog.json")).unwrap()).unwrap();
    let mut products: Vec<Product> =
        catalog["products"].as_array().unwrap().iter().map(|p| Product::from_value(p).unwrap()).collect();
    let base = products.clone();
    products.extend(base.iter().take(20).map(|p| Product { sku: format!("{}-b", p.sku), ..p.clone() }));
    let page = per_call(2_000, |i| {
        products.iter().map(|p| engine.price_session(&ids[i % rows.len()], session(i), p, now).price).sum()
    });
    report(
        "category page, 1 session x 50 products",
        page,
        json!({"stage": "batch50", "per_second": 50.0 / page.0 * 1e6}),
    );

    // Cold start and update: verify (signature, manifest, rules, plan) and swap.
    report("cold start: bundle bytes to first decision", (cold_ms * 1e3, cold_ms * 1e3), json!({"stage": "cold"}));
    let signer = BundleSigner::from_secret("bench", &[7u8; 32]);
    let mut keys = TrustedKeys::default();
    keys.add_json(serde_json::to_string(&signer.public_file()).unwrap().as_bytes()).unwrap();
    let (manifest, _) = bundle::inspect_unverified(bundle::DEFAULT_BUNDLE).unwrap();
    let model = std::fs::read(root.join("models/behaviour.int8.onnx")).unwrap();
    let next: Vec<Vec<u8>> = (0..40)
        .map(|v| {
            let m = bundle::Manifest { policy_version: 100 + v, key_id: "bench".into(), ..manifest.clone() };
            signer.sign_exact(&m, &model).unwrap()
        })
        .collect();
    let mut live = Engine::new(&next[0], &keys, now).unwrap();
    let mut k = 0;
    let update = per_call(29, |_| {
        k += 1;
        live.update(&next[k], &keys, now).unwrap() as f64
    });
    report("bundle update (verify + swap)", update, json!({"stage": "update", "bundle_bytes": next[0].len()}));
}
