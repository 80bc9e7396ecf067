// One cold start of a wasm package in a fresh Node process, printed as one JSON line:
// read + compile + instantiate (require), load the built-in bundle and its model
// (withDefault; its signature was checked when the module was built), first decision; all
// from performance.now() in this process. With a bundle and its key file: that bundle,
// its signature checked (`new PricingEngine`), as a shop's own bundle is loaded.
// Usage: node scripts/bench/node-cold.cjs <package dir> [<bundle.epb> <key.pub.json>]
const { performance } = require("node:perf_hooks");
const path = require("node:path");
const fs = require("node:fs");
const [bundle, key] = process.argv[3] ? [fs.readFileSync(process.argv[3]), JSON.parse(fs.readFileSync(process.argv[4], "utf8"))] : [];
const t0 = performance.now();
const { PricingEngine } = require(path.resolve(process.argv[2], "edgeprice.js"));
const t1 = performance.now();
const now = Date.parse("2026-11-28T12:00:00Z") / 1000;
const engine = bundle ? new PricingEngine(bundle, [key], now) : PricingEngine.withDefault(now);
const t2 = performance.now();
const product = { sku: "sku-1001", list_price: 49.99, cost: 22, currency: "USD", stock: 120, category: "shoes" };
const d = engine.price({ session_id: "cold", features: { ProductRelated: 12, PageValues: 10 } }, product, now);
const t3 = performance.now();
if (d.arm === "fallback") throw new Error(`first decision fell back: ${d.reasons}`);
console.log(JSON.stringify({ module_ms: t1 - t0, verify_load_ms: t2 - t1, first_decision_ms: t3 - t2, total_ms: t3 - t0 }));
