// Node figures of the wasm package (pkg/node, scripts/build-web.sh), printed side by side:
// cold start (read bytes, compile and instantiate the module, verify the built-in bundle,
// load the model, first decision) and per-decision latency of price(), priceMany() and
// priceJson() on a golden case. Medians of 31 batches; a benchmark, not a test.
const { performance } = require("node:perf_hooks");
const fs = require("node:fs");
const path = require("node:path");
const root = path.join(__dirname, "../..");

const t0 = performance.now();
const { PricingEngine } = require(path.join(root, "pkg/node/edgeprice.js"));
const t1 = performance.now();
const c = JSON.parse(fs.readFileSync(path.join(root, "tests/golden/cases.json"), "utf8")).cases[0];
const now = Date.parse(c.now) / 1000;
const engine = PricingEngine.withDefault(now);
const t2 = performance.now();
engine.price(c.session, c.product, now);
const t3 = performance.now();
console.log(`cold start: module ${(t1 - t0).toFixed(1)} ms, bundle verify + model load ${(t2 - t1).toFixed(1)} ms, first decision ${(t3 - t2).toFixed(2)} ms; total ${(t3 - t0).toFixed(1)} ms`);

function median(batch, perBatch) {
  const runs = [];
  for (let r = 0; r < 31; r++) {
    const t = performance.now();
    batch();
    runs.push(((performance.now() - t) * 1000) / perBatch);
  }
  runs.sort((a, b) => a - b);
  return [runs[15], runs[27]];
}
const sessions = Array.from({ length: 100 }, (_, i) => ({ ...c.session, session_id: `s-${i}` }));
const sj = JSON.stringify(c.session), pj = JSON.stringify(c.product);
for (let i = 0; i < 3000; i++) engine.price(c.session, c.product, now);
const rows = [
  ["price()", median(() => { for (let i = 0; i < 1000; i++) engine.price(c.session, c.product, now); }, 1000)],
  ["priceMany() x100", median(() => engine.priceMany(sessions, c.product, now), sessions.length)],
  ["priceJson()", median(() => { for (let i = 0; i < 1000; i++) JSON.parse(engine.priceJson(sj, pj, now)); }, 1000)],
];
console.log(`Node ${process.version}, per decision (median, p90 of 31 batches):`);
for (const [name, [p50, p90]] of rows) console.log(`  ${name.padEnd(18)} ${p50.toFixed(1).padStart(7)} us  ${p90.toFixed(1).padStart(7)} us`);
