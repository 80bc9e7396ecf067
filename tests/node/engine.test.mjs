// The wasm build under Node (pkg/node, made by scripts/build-web.sh): the golden decision
// vectors must match the native decisions bit for bit in price, propensity and arm. Other
// numbers come from the model's f32 arithmetic, which tract's wasm SIMD kernels sum in
// another order than its native ones: they must agree within 1e-5 (relative), and the
// largest difference is printed. The JS API must keep its error and update contract.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const root = new URL("../../", import.meta.url);
// EDGEPRICE_PKG=pkg/node-lean runs the same tests on the build without tract-onnx.
const pkg = process.env.EDGEPRICE_PKG ?? "pkg/node";
const { PricingEngine } = require(new URL(`${pkg}/edgeprice.js`, root).pathname);
const json = (path) => JSON.parse(readFileSync(new URL(path, root), "utf8"));
const seconds = (rfc3339) => Date.parse(rfc3339) / 1000;

const cases = json("tests/golden/cases.json").cases;
const golden = json("tests/golden/decisions.json");
const NOW = seconds("2026-11-28T12:00:00Z");
const product = { sku: "sku-1001", list_price: 49.99, cost: 22, currency: "USD", stock: 120, category: "shoes" };

let largest = 0;
function same(got, want, path) {
  if (typeof want === "number" && typeof got === "number") {
    const rel = Math.abs(got - want) / Math.max(1, Math.abs(want));
    largest = Math.max(largest, rel);
    assert.ok(rel <= 1e-5, `${path}: ${got} != ${want}`);
  } else if (Array.isArray(want)) {
    assert.equal(got.length, want.length, `${path}: length`);
    want.forEach((w, i) => same(got[i], w, `${path}[${i}]`));
  } else if (want !== null && typeof want === "object") {
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${path}: keys`);
    for (const k of Object.keys(want)) same(got[k], want[k], `${path}.${k}`);
  } else {
    assert.equal(got, want, path);
  }
}

test("golden vectors: wasm decisions equal the native ones", () => {
  const engine = PricingEngine.withDefault(seconds(golden.loaded_at));
  assert.equal(cases.length, golden.decisions.length);
  cases.forEach((c, i) => {
    const got = engine.price(c.session, c.product, seconds(c.now));
    const want = golden.decisions[i].decision;
    assert.equal(got.price_minor, want.price_minor, `${c.name}: price`);
    assert.equal(got.price, want.price, `${c.name}: price`);
    assert.equal(got.propensity, want.propensity, `${c.name}: propensity`);
    assert.equal(got.arm, want.arm, `${c.name}: arm`);
    same(got, want, c.name);
  });
  console.log(`wasm vs native: ${cases.length} golden cases, price and propensity identical, largest relative difference elsewhere ${largest.toExponential(2)}`);
});

test("a tampered update throws a coded Error and keeps the live policy", () => {
  const engine = PricingEngine.withDefault(NOW);
  const bytes = new Uint8Array(readFileSync(new URL("models/default.epb", root)));
  bytes[bytes.length >> 1] ^= 1;
  assert.throws(() => engine.update(bytes, NOW), (e) => e instanceof Error && e.code === "bundle_bad_signature");
  assert.throws(() => engine.update(bytes.subarray(0, 100), NOW), (e) => e.code === "bundle_truncated");
  bytes[bytes.length >> 1] ^= 1;
  assert.throws(() => engine.update(bytes, NOW), (e) => e.code === "bundle_downgrade");
  assert.equal(engine.policyVersion, 1);
  assert.equal(engine.price({ session_id: "s", features: {} }, product, NOW).policy_version, 1);
});

test("unknown keys and bad products are coded errors", () => {
  const bytes = readFileSync(new URL("models/default.epb", root));
  assert.throws(() => new PricingEngine(bytes, [], NOW), (e) => e.code === "bundle_unknown_key");
  const key = json("models/default.pub.json");
  assert.equal(new PricingEngine(bytes, [key], NOW).policyVersion, 1);
  const engine = PricingEngine.withDefault(NOW);
  assert.throws(() => engine.price({ session_id: "s", features: {} }, { ...product, currency: "XXX" }, NOW),
    (e) => e.code === "product_unknown_currency");
  const d = engine.price("not a session", product, NOW);
  assert.equal(d.arm, "fallback");
  assert.deepEqual(d.reasons, ["fallback:session_malformed"]);
});

test("priceMany and the session tracker", () => {
  const engine = PricingEngine.withDefault(NOW);
  const sessions = Array.from({ length: 50 }, (_, i) => ({ session_id: `n-${i}`, features: { ProductRelated: i } }));
  const many = engine.priceMany(sessions, product, NOW);
  assert.equal(many.length, 50);
  many.forEach((d, i) => assert.deepEqual(d, engine.price(sessions[i], product, NOW)));
  const tracker = engine.tracker();
  tracker.record({ page: "product", seconds: 95, page_id: "product/sku-1001" });
  tracker.record({ page: "cart", seconds: 20, page_id: "checkout/cart" });
  assert.equal(tracker.pages, 2);
  const session = tracker.session("t-1", "New_Visitor", "2", NOW);
  assert.equal(session.features.ProductRelated, 1);
  assert.equal(session.features.PageValues, (42.5 + 95) / 2);
  assert.equal(session.features.Month, "Nov");
  assert.notEqual(engine.price(session, product, NOW).arm, "fallback");
});

test("priceJson: JSON text in and out, the same decision as price()", () => {
  const engine = PricingEngine.withDefault(seconds(golden.loaded_at));
  for (const c of cases) {
    const viaText = JSON.parse(engine.priceJson(JSON.stringify(c.session), JSON.stringify(c.product), seconds(c.now)));
    assert.deepEqual(viaText, engine.price(c.session, c.product, seconds(c.now)), c.name);
  }
  assert.throws(() => engine.priceJson("{}", "{not json", NOW), (e) => e.code === "bad_input");
  const fallback = JSON.parse(engine.priceJson("{not json", JSON.stringify(product), NOW));
  assert.equal(fallback.arm, "fallback", "an unreadable session gets the reference price");
});

// What price() answered before it read plain objects itself: JSON.stringify, serde, and
// JSON.parse of serde's text (priceJson is that path, with the stringify done here).
// With a place, priceAt's JSON path: the values through JSON text, each object given a
// class prototype, which the JS reader leaves to the JSON path (JSON.stringify still writes
// the same text).
class Opaque {}
function viaJson(engine, session, product, now, place) {
  const text = (v) => { try { return JSON.stringify(v) ?? "{not json"; } catch { return "{not json"; } };
  try {
    if (place !== undefined) {
      const opaque = (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? Object.setPrototypeOf(v, Opaque.prototype) : v);
      const json = (v) => { const t = text(v); return t === "{not json" ? "not json" : opaque(JSON.parse(t)); };
      return { decision: engine.priceAt(json(session), json(product), place, now) };
    }
    return { decision: JSON.parse(engine.priceJson(text(session), text(product), now)) };
  } catch (e) {
    return { code: e.code };
  }
}
function viaObjects(engine, session, product, now, place) {
  try {
    return { decision: place === undefined ? engine.price(session, product, now) : engine.priceAt(session, product, place, now) };
  } catch (e) {
    return { code: e.code === "bad_input" || e.code?.startsWith("product_") ? e.code : `unexpected ${e}` };
  }
}

// Inputs the JS reader must read as the JSON path does, or leave to it: -0, NaN, huge and
// unsafe integers, lone surrogates and NUL in texts and keys, BigInt, nested members, class
// instances, toJSON, null prototypes, the "map" alias, unknown product keys.
function oddInputs(count) {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const numbers = [0, -0, 1, 2.5, 17, -3, 1e21, 1e300, 2 ** 53 + 2, NaN, Infinity, -Infinity, 1e-310, 0.1 + 0.2];
  const values = [...numbers, null, undefined, "Nov", "Returning_Visitor", "7", "", "a\0b", "\ud800", "x".repeat(80), true, false, "TRUE", 10n, {}, [], () => 1];
  const columns = ["Administrative", "Administrative_Duration", "ProductRelated", "ProductRelated_Duration", "BounceRates",
    "ExitRates", "PageValues", "SpecialDay", "Month", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType",
    "Weekend", "Unknown", "\ud800key", "a\0b"];
  class Shape { constructor(o) { Object.assign(this, o); } }
  const out = [];
  for (let i = 0; i < count; i++) {
    const features = {};
    for (let k = Math.floor(rand() * 8); k > 0; k--) features[pick(columns)] = pick(rand() < 0.6 ? numbers : values);
    if (rand() < 0.5) features.Month = pick(["Nov", "Feb", "", null, 3, 2.5]);
    if (rand() < 0.3) features.Weekend = pick([true, false, "false", 1, null]);
    const id = rand() < 0.9 ? `odd-${i}` : pick(["", "x".repeat(200), 7, "a\0b", "\udc00"]);
    let session = { session_id: id, features };
    if (rand() < 0.1) session.extra = pick(values);
    if (rand() < 0.05) session = pick([new Shape(session), Object.assign(Object.create(null), session), { ...session, toJSON: () => ({}) }, null, "text"]);
    const product = { sku: `sku-${i % 7}`, list_price: 49.99, cost: 22, currency: "USD" };
    if (rand() < 0.3) product.stock = pick([0, -0, 5, -1, 1.5, NaN, 2 ** 60, null, "5"]);
    if (rand() < 0.2) product[pick(["map_price", "map"])] = pick([45, 60, NaN, null, "45"]);
    if (rand() < 0.2) product.promotion_tags = pick([[], ["black-friday"], ["a", 1], [, "b"], null, "x"]);
    if (rand() < 0.1) product.category = pick(["shoes", "", null, 5, "\ud800"]);
    if (rand() < 0.1) product.name = pick(["Shoe", null, 5]);
    if (rand() < 0.1) product[pick(["list_price", "cost"])] = pick([-0, 0, 1e300, NaN, "49.99", 60, 0.001]);
    if (rand() < 0.05) product.currency = pick(["usd", "JPY", "XXX", "a\0b", 3]);
    if (rand() < 0.05) product.colour = "red";
    if (rand() < 0.03) product.sku = pick(["", "x".repeat(300), 3, "\ud800"]);
    out.push({ session, product });
  }
  return out;
}

test("price() and priceAt() read plain objects themselves: the same object as the JSON path, keys in order", () => {
  const engine = PricingEngine.withDefault(seconds(golden.loaded_at));
  const inputs = [...cases.map((c) => ({ session: c.session, product: c.product, now: seconds(c.now) })), ...oddInputs(4000)];
  let decisions = 0;
  const places = [undefined, undefined, { country: "US", region: "NY" }, { country: "IT" }, { country: "BR" }];
  for (const [i, { session, product, now = NOW }] of inputs.entries()) {
    const place = places[i % places.length];
    const want = viaJson(engine, session, product, now, place);
    const got = viaObjects(engine, session, product, now, place);
    assert.deepStrictEqual(got, want, JSON.stringify({ session, product }, (_, v) => (typeof v === "bigint" ? `${v}n` : v)));
    if (want.decision) {
      assert.equal(JSON.stringify(got.decision), JSON.stringify(want.decision));
      decisions++;
    }
  }
  assert.ok(decisions > 2000, `most odd inputs still price (${decisions})`);
  console.log(`price() and priceAt() vs the JSON path: ${inputs.length} inputs, ${decisions} decisions identical, the rest the same error`);
});

test("pricePage() reads plain objects itself: the same decisions (or error) as the JSON path", () => {
  const engine = PricingEngine.withDefault(NOW);
  const inputs = oddInputs(1500);
  const outcome = (f) => { try { return { page: f() }; } catch (e) { return { code: e.code }; } };
  let pages = 0;
  for (let i = 0; i + 3 <= inputs.length; i += 3) {
    const session = inputs[i].session;
    const products = inputs.slice(i, i + 3).map((x) => x.product);
    // The JSON path: the same values with class prototypes, which the JS reader leaves to it.
    let opaque;
    try {
      opaque = JSON.parse(JSON.stringify(session) ?? "null");
      if (opaque !== null && typeof opaque === "object" && !Array.isArray(opaque)) Object.setPrototypeOf(opaque, Opaque.prototype);
    } catch {
      opaque = 10n; // what JSON cannot write reads as no session on the JSON path too
    }
    const want = outcome(() => engine.pricePage(opaque, products, NOW));
    const got = outcome(() => engine.pricePage(session, products, NOW));
    assert.deepStrictEqual(got, want, JSON.stringify({ session, products }, (_, v) => (typeof v === "bigint" ? `${v}n` : v)));
    if (want.page) {
      assert.equal(JSON.stringify(got.page), JSON.stringify(want.page));
      pages++;
    }
  }
  assert.ok(pages > 100, `many pages price (${pages})`);
  assert.deepStrictEqual(engine.pricePage(cases[0].session, [], NOW), []);
});

test("the fast path: quote(tracker, prepared product) is price() of the tracker's session", () => {
  const engine = PricingEngine.withDefault(NOW);
  const tracker = engine.tracker("q-1", "New_Visitor", "3");
  for (let i = 0; i < 6; i++) tracker.record({ page: "product", seconds: 40 + i, page_id: "product/sku-1001" });
  const prepared = engine.product(product);
  assert.equal(prepared.sku, "sku-1001");
  const q = engine.quote(tracker, prepared, NOW);
  const d = engine.price(tracker.session("q-1", "New_Visitor", "3", NOW), product, NOW);
  assert.deepEqual(q.toJSON(), d);
  assert.deepEqual([q.price, q.priceMinor, q.propensity, q.arm, q.decisionId, q.personalized, q.reasons],
    [d.price, d.price_minor, d.propensity, d.arm, d.decision_id, d.personalized, d.reasons]);
  q.free();
  assert.throws(() => engine.product({ sku: "x", list_price: 1, cost: 2, currency: "USD" }), (e) => e.code === "product_cost_above_list");
  // An unidentified tracker still gets a decision (joinable by its empty id), never a throw.
  assert.ok(engine.quote(engine.tracker(), prepared, NOW).price > 0);
});

test("pricePage: one session, many products, each as price() alone; modelHeads and stageTimes", () => {
  const engine = PricingEngine.withDefault(NOW);
  const products = json("www/catalog.json").products;
  const c = cases[0];
  const page = engine.pricePage(c.session, products, seconds(c.now));
  assert.equal(page.length, products.length);
  page.forEach((d, i) => assert.deepEqual(d, engine.price(c.session, products[i], seconds(c.now)), products[i].sku));
  assert.throws(() => engine.pricePage(c.session, [{ sku: "" }], NOW), (e) => e.code === "product_malformed");
  const [a, b] = engine.modelHeads(new Float32Array(42));
  assert.ok(Number.isFinite(a) && b > 0, `${a} ${b}`);
  assert.throws(() => engine.modelHeads(new Float32Array(41)), (e) => e.code === "model_wrong_width");
  // modelHeadsBatch (the batched kernel, eight rows at a time): batches that do and do not
  // fill the last group, each row's heads exactly modelHeads' (the same bits).
  for (const n of [1, 3, 8, 21, 50]) {
    const rows = Float32Array.from({ length: n * 42 }, (_, i) => ((i * 37 + n) % 101) / 20 - 2);
    const batch = engine.modelHeadsBatch(rows);
    assert.equal(batch.length, 3 * n);
    for (let r = 0; r < n; r++) {
      const one = engine.modelHeads(rows.slice(42 * r, 42 * r + 42));
      assert.deepStrictEqual(Array.from(batch.slice(3 * r, 3 * r + 3)), Array.from(one), `batch of ${n}, row ${r}`);
    }
  }
  assert.throws(() => engine.modelHeadsBatch(new Float32Array(43)), (e) => e.code === "model_wrong_width");
  const t = engine.stageTimes(engine.tracker("st"), engine.product(product), 3, NOW);
  for (const k of ["features_us", "model_us", "rules_us", "all_us"]) assert.ok(t[k] > 0 && t[k] < 1e5, `${k} ${t[k]}`);
  assert.equal(t.runtime, "int8_fast_path");
});

test("a place applies its jurisdiction's disclosure; without one the decision is as before", () => {
  const engine = PricingEngine.withDefault(seconds(golden.loaded_at));
  const texts = {
    "us-ny": "THIS PRICE WAS SET BY AN ALGORITHM USING YOUR PERSONAL DATA.",
    eu: "Personalised price: this price was set for you by automated decision-making based on your activity on this site.",
    default: "This price was set for your visit by an automated pricing system.",
  };
  for (const c of cases) {
    const now = seconds(c.now);
    const plain = engine.price(c.session, c.product, now);
    assert.equal(plain.disclosure, undefined);
    for (const [place, name] of [[{ country: "US", region: "NY" }, "us-ny"], [{ country: "IT" }, "eu"], [{ country: "BR" }, "default"], [{}, "default"]]) {
      const d = engine.priceAt(c.session, c.product, place, now);
      assert.equal(d.jurisdiction, name, c.name);
      assert.equal(d.disclosure, plain.personalized ? texts[name] : undefined, c.name);
      assert.equal(d.price_minor, plain.price_minor);
    }
  }
});

test("a format-1 bundle verifies in the build with tract-onnx and is refused by the lean one", () => {
  const bytes = readFileSync(new URL("crates/core/tests/fixtures/default-format1.epb", root));
  const key = json("crates/core/tests/fixtures/default-format1.pub.json");
  if (pkg.includes("lean")) {
    // The lean build reads format 2 only: it carries no TOML parser (crates/core, `text-rules`).
    assert.throws(() => new PricingEngine(bytes, [key], NOW), (e) => e.code === "bundle_format_version");
  } else {
    const old = new PricingEngine(bytes, [key], NOW);
    const now = PricingEngine.withDefault(NOW);
    for (const c of cases) {
      const at = seconds(c.now);
      assert.deepEqual(old.price(c.session, c.product, at), now.price(c.session, c.product, at), c.name);
    }
  }
});
