// Node figures of issue 8: the wasm packages (pkg/node with tract-onnx, pkg/node-lean
// without) side by side with onnxruntime-node and onnxruntime-web (wasm backend, one thread)
// on the same ONNX model and the same feature vectors, onnxruntime in the lean package's
// process. Every call is timed on its own with performance.now(); prints `BENCH {json}` lines
// for report.py. NODE_BENCH_BUILD=tract or lean times that package alone: bench.sh runs one
// process per package, so neither package's heap and code are in the other's figures (with
// both in one process, the halves drifted apart, quote() included).
// Usage: node scripts/bench/node.cjs <features.csv> <bench dir with keys and bundles> [quick]
const { performance } = require("node:perf_hooks");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const root = path.join(__dirname, "../..");
const [featuresCsv, benchDir, quick] = process.argv.slice(2);
const N = quick ? 2_000 : 20_000;
const now = Date.parse("2026-11-28T12:00:00Z") / 1000;
const emit = (o) => console.log(`BENCH ${JSON.stringify(o)}`);

function stats(times) {
  const t = Float64Array.from(times).sort();
  return { p50_us: t[t.length >> 1], p99_us: t[Math.floor(t.length * 0.99)] };
}
/** Times each of n calls of f(i) after as many warm-up calls (V8 tiers hot wasm and JS
 * functions up as they run), in microseconds. */
function perCall(n, f) {
  let sink = 0;
  for (let i = 0; i < n; i++) sink += f(i);
  const times = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    sink += f(i);
    times[i] = (performance.now() - t) * 1000;
  }
  if (Number.isNaN(sink)) throw new Error("NaN");
  return stats(times);
}
async function perCallAsync(n, f) {
  for (let i = 0; i < n / 10; i++) await f(i);
  const times = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    times[i] = (performance.now() - t) * 1000;
  }
  return stats(times);
}

const xs = fs.readFileSync(featuresCsv, "utf8").trim().split("\n").slice(1, 2001)
  .map((l) => Float32Array.from(l.split(",").map(Number)));
const catalog = JSON.parse(fs.readFileSync(path.join(root, "www/catalog.json"), "utf8")).products;
const page = [...catalog, ...catalog.slice(0, 20).map((p) => ({ ...p, sku: `${p.sku}-b` }))];
const product = JSON.parse(fs.readFileSync(path.join(root, "models/demo_product.json"), "utf8"));
// Sessions in the features form, from the same data rows' columns (bench.sh writes them).
const sessions = fs.readFileSync(path.join(benchDir, "sessions.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
const pages = ["home", "category", "product", "search", "cart", "info"];

async function main() {
  const timer = perCall(N, () => 0);
  emit({ env: "node", name: "performance.now() pair (timer cost, included below)", ...timer, stage: "timer" });
  const engines = {};
  const only = process.env.NODE_BENCH_BUILD;
  const builds = [["tract", "pkg/node"], ["lean", "pkg/node-lean"]].filter(([build]) => !only || build === only);
  if (builds.length === 0) throw new Error(`NODE_BENCH_BUILD=${only}: tract or lean`);
  for (const [build, dir] of builds) {
    const env = `node-${build}`;
    const { PricingEngine } = require(path.join(root, dir, "edgeprice.js"));
    const engine = PricingEngine.withDefault(now);
    const prepared = engine.product(product);
    // 500 trackers with seeded page sequences (1-40 page views each).
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const trackers = Array.from({ length: 500 }, (_, i) => {
      const t = engine.tracker(`t-${i}`, rand() < 0.3 ? "New_Visitor" : "Returning_Visitor", String(1 + Math.floor(rand() * 8)));
      const views = 1 + Math.floor(rand() * 40);
      for (let k = 0; k < views; k++) t.record({ page: pages[Math.floor(rand() * pages.length)], seconds: Math.floor(rand() * 120) });
      return t;
    });
    emit({ env, name: "all-in: quote(tracker, prepared product), read 3 fields, free()", stage: "all", ...perCall(N, (i) => {
      const q = engine.quote(trackers[i % trackers.length], prepared, now);
      const v = q.price + q.propensity + q.arm.length;
      q.free();
      return v;
    }) });
    emit({ env, name: "all-in: quote() left to the garbage collector", stage: "all_gc", ...perCall(N, (i) => {
      const q = engine.quote(trackers[i % trackers.length], prepared, now);
      return q.price + q.propensity;
    }) });
    emit({ env, name: "all-in: price(session object, product object) -> Decision object", stage: "all_json", ...perCall(N, (i) =>
      engine.price(sessions[i % sessions.length], product, now).price) });
    const parts = [];
    for (let r = 0; r < (quick ? 3 : 15); r++) parts.push(engine.stageTimes(trackers[r], prepared, quick ? 11 : 51, now));
    const med = (k) => parts.map((p) => p[k]).sort((a, b) => a - b)[parts.length >> 1];
    for (const k of ["features", "model", "rules"]) {
      emit({ env, name: `${k} (inside the module, median of batches)`, stage: k, p50_us: med(`${k}_us`), p99_us: null });
    }
    const heads = perCall(N, (i) => engine.modelHeads(xs[i % xs.length])[0]);
    emit({ env, name: "model: modelHeads(Float32Array) from JS", stage: "model_js", ...heads, runtime: "fast" });
    const pageCall = perCall(quick ? 200 : 2_000, (i) => engine.pricePage(sessions[i % sessions.length], page, now).length);
    emit({ env, name: "category page: pricePage(1 session, 50 products)", stage: "batch50", ...pageCall, per_second: 50 / pageCall.p50_us * 1e6 });
    const many = sessions.slice(0, 10_000);
    const t0 = performance.now();
    const out = engine.priceMany(many, product, now);
    const ms = performance.now() - t0;
    emit({ env, name: `priceMany(${out.length} sessions, 1 product)`, stage: "batch10k", total_ms: ms, per_second: out.length / ms * 1e3 });
    // Bundle update: verify + swap, a newer bundle each time.
    const keys = [JSON.parse(fs.readFileSync(path.join(benchDir, "bench.key.pub.json"), "utf8"))];
    const bundles = fs.readdirSync(benchDir).filter((f) => f.endsWith(".epb")).sort()
      .map((f) => new Uint8Array(fs.readFileSync(path.join(benchDir, f))));
    const live = new PricingEngine(bundles[0], keys, now);
    const upd = [];
    for (let k = 1; k < bundles.length; k++) {
      const t = performance.now();
      live.update(bundles[k], now);
      upd.push((performance.now() - t) * 1000);
    }
    emit({ env, name: "bundle update (verify + swap)", stage: "update", ...stats(upd.slice(3)) });
    // Memory: RSS and external (wasm memory included) after 100,000 more decisions.
    const before = process.memoryUsage();
    for (let i = 0; i < (quick ? 10_000 : 100_000); i++) engine.quote(trackers[i % trackers.length], prepared, now).free();
    const after = process.memoryUsage();
    emit({ env, name: "memory after 100k quote() calls", stage: "memory", rss_before_mb: before.rss / 2 ** 20, rss_after_mb: after.rss / 2 ** 20, external_before_mb: before.external / 2 ** 20, external_after_mb: after.external / 2 ** 20 });
    engines[build] = engine;
  }

  // The same ONNX model in onnxruntime, in the lean package's process, same vectors.
  if (!engines.lean) return;
  const onnx = fs.readFileSync(path.join(root, "models/behaviour.int8.onnx"));
  const ours = engines.lean;
  // onnxruntime's default ("all") graph optimizations fuse DequantizeLinear + Gemm into an
  // int8 matmul that quantizes the activations too: faster, but about 2% off the model's
  // own arithmetic (tests/onnx_crosscheck_test.py); "basic" computes what the model says.
  const variants = [["onnxruntime-node", "cpu", "basic"], ["onnxruntime-node", "cpu", "all"], ["onnxruntime-web", "wasm", "all"]];
  for (const [mod, provider, level] of variants) {
    const ort = require(mod);
    if (mod === "onnxruntime-web") ort.env.wasm.numThreads = 1;
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(onnx, { executionProviders: [provider], intraOpNumThreads: 1, graphOptimizationLevel: level });
    const cold = performance.now() - t0;
    const run = (i) => session.run({ features: new ort.Tensor("float32", xs[i % xs.length], [1, xs[0].length]) });
    let worst = 0;
    for (let i = 0; i < 500; i++) {
      const r = await run(i);
      const [a, b] = ours.modelHeads(xs[i]);
      worst = Math.max(worst, Math.abs(r.a.data[0] - a) / Math.max(1, Math.abs(a)), Math.abs(r.b.data[0] - b) / Math.max(1, Math.abs(b)));
    }
    emit({ env: `${mod}-${level}`, name: `model: ${mod} ${ort.env.versions?.common ?? ""} session.run (await), graph optimization ${level}`, stage: "model_js",
      ...(await perCallAsync(N, run)), session_ms: cold, max_rel_diff_vs_fast_path: worst });
    if (mod !== "onnxruntime-web") continue;
    // Batch 50: the same 50 vectors in one call each, per vector (issue 18's comparison).
    const width = xs[0].length;
    const flat = new Float32Array(50 * width);
    for (let r = 0; r < 50; r++) flat.set(xs[r % xs.length], r * width);
    const batched = new ort.Tensor("float32", flat, [50, width]);
    const theirs = await perCallAsync(Math.max(50, N / 50), () => session.run({ features: batched }));
    const mine = perCall(Math.max(50, N / 50), () => ours.modelHeadsBatch(flat)[0]);
    // The batched kernel gives every row exactly modelHeads' heads.
    const check = ours.modelHeadsBatch(flat);
    for (let r = 0; r < 50; r++) {
      const single = ours.modelHeads(xs[r % xs.length]);
      if ([0, 1, 2].some((k) => !Object.is(check[3 * r + k], single[k]))) throw new Error(`modelHeadsBatch row ${r} differs from modelHeads`);
    }
    emit({ env: "node-lean", name: "model, batch of 50: modelHeadsBatch (per vector)", stage: "model_batch50", p50_us: mine.p50_us / 50, p99_us: mine.p99_us / 50 });
    emit({ env: `${mod}-${level}`, name: `model, batch of 50: ${mod} session.run on [50, width] (per vector)`, stage: "model_batch50",
      p50_us: theirs.p50_us / 50, p99_us: theirs.p99_us / 50, ratio_vs_ours: theirs.p50_us / mine.p50_us });
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
