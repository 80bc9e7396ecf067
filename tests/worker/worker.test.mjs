// The edge worker on workerd (miniflare) against the real origin binary on loopback:
// golden vectors, price JSON, page rewrite, visit cookie, policy refresh with ETag, an
// untrusted bundle at the origin, the origin going down, and feedback reaching the
// origin's database exactly once. Needs build/worker (scripts/build-worker.sh) and the
// release binary (cargo test --release builds it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as h from "./harness.mjs";

const seconds = (rfc3339) => Date.parse(rfc3339) / 1000;

test("golden vectors: the worker's decisions equal the native ones", async () => {
  const mf = h.startWorker();
  try {
    const cases = h.json("tests/golden/cases.json").cases;
    const golden = h.json("tests/golden/decisions.json").decisions;
    let largest = 0;
    for (const [i, c] of cases.entries()) {
      const r = await mf.dispatchFetch("http://shop.test/v1/price", {
        method: "POST",
        headers: { Authorization: `Bearer ${h.EDGE_TOKEN}` },
        body: JSON.stringify({ session: c.session, product: c.product, now: seconds(c.now) }),
      });
      assert.equal(r.status, 200, c.name);
      const got = await r.json();
      const want = golden[i].decision;
      for (const k of ["price", "price_minor", "propensity", "arm", "decision_id", "personalized", "reasons"]) {
        assert.deepEqual(got[k], want[k], `${c.name}: ${k}`);
      }
      for (const [j, w] of want.candidates.entries()) {
        const g = got.candidates[j];
        assert.equal(g.price_minor, w.price_minor);
        assert.equal(g.propensity, w.propensity);
        if (w.purchase_probability !== null) {
          const rel = Math.abs(g.purchase_probability - w.purchase_probability) / Math.max(1e-9, w.purchase_probability);
          largest = Math.max(largest, rel);
          assert.ok(rel < 1e-5, `${c.name}: P(buy) ${g.purchase_probability} vs ${w.purchase_probability}`);
        }
      }
    }
    console.log(`worker vs native: ${cases.length} golden cases, prices and propensities identical, largest relative P(buy) difference ${largest.toExponential(2)}`);
    const denied = await mf.dispatchFetch("http://shop.test/v1/price", { method: "POST", body: "{}" });
    assert.equal(denied.status, 401);
  } finally {
    await mf.dispose();
  }
});

test("an isolate's first request prices with KV's bundle when it verifies, else with the built-in one", async () => {
  const dir = h.tempDir();
  const key = h.keygen(dir, "kv-first");
  const good = h.bundle(dir, key, 7);
  const tampered = good.slice();
  tampered[tampered.length >> 1] ^= 1;
  const badSignature = good.slice();
  badSignature[badSignature.length - 1] ^= 1;
  const untrusted = h.bundle(dir, h.keygen(dir, "kv-stranger"), 8);
  const c = h.json("tests/golden/cases.json").cases[0];
  // The signature is checked by WebCrypto's Ed25519 (entry.mjs); a bundle it does not
  // verify is checked by ours, which refuses it, and the built-in policy prices.
  const cases = [[good, 7, "webcrypto"], [tampered, 1, null], [badSignature, 1, null], [untrusted, 1, null], [null, 1, null]];
  for (const [bytes, want, checkedBy] of cases) {
    const mf = h.startWorker({ POLICY_PUBLIC_KEYS: JSON.stringify([key.public]) });
    try {
      if (bytes) {
        const metadata = { policy_version: 7, confirmed_at: Math.floor(Date.now() / 1000) };
        await (await mf.getKVNamespace("POLICY")).put("bundle", bytes, { metadata });
      }
      const r = await mf.dispatchFetch("http://shop.test/v1/price", {
        method: "POST",
        headers: { Authorization: `Bearer ${h.EDGE_TOKEN}` },
        body: JSON.stringify({ session: c.session, product: c.product, now: seconds(c.now) }),
      });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).policy_version, want, `KV's bundle, case ${cases.findIndex((k) => k[0] === bytes)}`);
      const status = await (await mf.dispatchFetch("http://shop.test/_edgeprice/status")).json();
      assert.equal(status.policy_version, want, "the status page reports the policy that priced");
      assert.equal(status.policy_kv_signature_checked_by, checkedBy);
    } finally {
      await mf.dispose();
    }
  }
});

test("POST /v1/price refuses what it cannot read with one error shape: token, size, JSON, product", async () => {
  const mf = h.startWorker();
  try {
    const post = (body, auth = `Bearer ${h.EDGE_TOKEN}`) =>
      mf.dispatchFetch("http://shop.test/v1/price", { method: "POST", headers: { Authorization: auth }, body });
    const c = h.json("tests/golden/cases.json").cases[0];
    const cases = [
      [post("{}", "Bearer not-the-edge-token-0123"), 401, "unauthorized"],
      [post("x".repeat(128 * 1024 + 1)), 413, "body_too_large"],
      [post("{not json"), 400, "body_malformed"],
      [post(JSON.stringify({ session: c.session, product: { ...c.product, list_price: -1 } })), 400, null],
      [post(JSON.stringify({ session: c.session, products: Array(101).fill(c.product) })), 413, "too_many_products",
        "at most 100 products per request"],
    ];
    for (const [pending, status, code, message] of cases) {
      const r = await pending;
      assert.equal(r.status, status);
      assert.equal(r.headers.get("content-type"), "application/json");
      const body = await r.json();
      assert.deepEqual(Object.keys(body), ["code", "message"]);
      if (code) assert.equal(body.code, code);
      if (message) assert.equal(body.message, message);
    }
  } finally {
    await mf.dispose();
  }
});

test("a category page through /v1/price: each product's decision equals pricing it alone", async () => {
  const mf = h.startWorker();
  try {
    const c = h.json("tests/golden/cases.json").cases[0];
    const products = h.json("www/catalog.json").products.slice(0, 12);
    const post = (body) => mf.dispatchFetch("http://shop.test/v1/price", {
      method: "POST",
      headers: { Authorization: `Bearer ${h.EDGE_TOKEN}` },
      body: JSON.stringify({ session: c.session, now: seconds(c.now), ...body }),
    });
    const bad = { sku: "broken", list_price: 10, cost: 20, currency: "USD" };
    const page = await post({ products: [...products, bad] });
    assert.equal(page.status, 200);
    const { decisions } = await page.json();
    assert.equal(decisions.length, products.length + 1);
    for (const [i, p] of products.entries()) {
      const alone = await (await post({ product: p })).json();
      assert.deepEqual(decisions[i], alone, p.sku);
    }
    assert.equal(decisions.at(-1).code, "product_cost_above_list");
    const tooMany = await post({ products: Array(101).fill(products[0]) });
    assert.equal(tooMany.status, 413);
  } finally {
    await mf.dispose();
  }
});

test("a category page by SKU: the catalog's products priced as sent ones, candidates only when asked", async () => {
  const mf = h.startWorker();
  try {
    const c = h.json("tests/golden/cases.json").cases[0];
    const products = h.json("www/catalog.json").products.slice(0, 12);
    // Without an ORIGIN the CATALOG namespace is the catalog.
    const kv = await mf.getKVNamespace("CATALOG");
    for (const p of products) await kv.put(`product:${p.sku}`, JSON.stringify(p));
    const post = (body) => mf.dispatchFetch("http://shop.test/v1/price", {
      method: "POST",
      headers: { Authorization: `Bearer ${h.EDGE_TOKEN}` },
      body: JSON.stringify({ session: c.session, now: seconds(c.now), ...body }),
    });
    const skus = [...products.map((p) => p.sku), "sku-none", "bad sku!"];
    const brief = await post({ skus });
    assert.equal(brief.status, 200);
    const full = await post({ skus, candidates: true });
    const sent = (await (await post({ products })).json()).decisions;
    const [b, f] = [(await brief.json()).decisions, (await full.json()).decisions];
    assert.equal(b.length, skus.length);
    for (const [i, p] of products.entries()) {
      assert.deepEqual(f[i], sent[i], p.sku);
      const { candidates, ...rest } = sent[i];
      assert.ok(candidates.length >= 1);
      assert.deepEqual(b[i], rest, `${p.sku}: the brief answer is the decision without candidates`);
    }
    // No ORIGIN to ask and no KV entry: the product page's answer (503) for that SKU.
    assert.deepEqual([b.at(-2).code, b.at(-1).code], ["catalog_unavailable", "bad_sku"]);
    assert.equal((await post({ skus: Array(101).fill(products[0].sku) })).status, 413);
  } finally {
    await mf.dispose();
  }
});

// One origin and one worker for the rest, in order.
let dir, origin, mf, testKey, rotatedKey;
const decisions = new Set();
let purchases = 0;

before(async () => {
  dir = h.tempDir();
  testKey = h.keygen(dir, "worker-test");
  rotatedKey = h.keygen(dir, "rotated-at-origin");
  origin = await h.startOrigin({ dir, trusted: [`${h.root}models/default.pub.json`, testKey.pub, rotatedKey.pub] });
  mf = h.startWorker(
    {
      ORIGIN: origin.url,
      POLICY_TTL_SECONDS: "1",
      POLICY_PUBLIC_KEYS: JSON.stringify([testKey.public]),
      FEEDBACK_MAX_AGE_SECONDS: "3600",
      ORIGIN_TIMEOUT_MS: "2000",
    },
    { kvPersist: `${dir}/kv` },
  );
});

after(async () => {
  await mf?.dispose();
  await origin?.stop();
});

const get = (path, cookie) => mf.dispatchFetch(`http://shop.test${path}`, { headers: cookie ? { Cookie: cookie } : {} });
const post = (path, body, cookie) =>
  mf.dispatchFetch(`http://shop.test${path}`, { method: "POST", body: JSON.stringify(body), headers: cookie ? { Cookie: cookie } : {} });
const status = async () => (await get("/_edgeprice/status")).json();
async function price(sku, cookie) {
  const r = await get(`/price?sku=${sku}`, cookie);
  const body = await r.json();
  if (r.status === 200) decisions.add(body.decision_id);
  return { r, body, cookie: h.cookieOf(r) ?? cookie };
}

test("GET /price: a decision for the session and a signed visit cookie", async () => {
  const { r, body, cookie } = await price("sku-1001");
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("cache-control"), "private, no-store");
  assert.match(cookie, /^ep_visit=v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.equal(body.sku, "sku-1001");
  assert.equal(body.list_price, 59.99);
  assert.equal(body.policy_version, 1);
  assert.ok(body.price > 0 && body.price <= body.list_price);
  assert.ok(body.propensity > 0 && body.propensity <= 1);
  const unknown = await get("/price?sku=sku-9999");
  assert.deepEqual([unknown.status, (await unknown.json()).code], [404, "unknown_sku"]);
  const bad = await get("/price?sku=%3Cscript%3E");
  assert.deepEqual([bad.status, (await bad.json()).code], [400, "bad_sku"]);
  // The query is read as a form: percent escapes decoded, the first `sku` taken.
  const escaped = await price("sku%2D1001&sku=sku-1002");
  assert.deepEqual([escaped.r.status, escaped.body.sku], [200, "sku-1001"]);
});

test("page events fold into the cookie; a tampered cookie starts a new session", async () => {
  let { cookie } = await price("sku-1002");
  const events = [{ page: "product", seconds: 30, page_id: "product/sku-1001" }, { page: "cart", seconds: 12 }];
  let r = await post("/events", { events, traffic_type: 2 }, cookie);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { recorded: 2, pages: 2 });
  cookie = h.cookieOf(r);
  r = await post("/events", { page: "product", seconds: 5 }, cookie);
  assert.equal((await r.json()).pages, 3, "the cookie carried the first two events");
  cookie = h.cookieOf(r);
  const before = await price("sku-1002");
  const [name, value] = cookie.split("=");
  const i = value.length - 30;
  const tampered = `${name}=${value.slice(0, i)}${value[i] === "A" ? "B" : "A"}${value.slice(i + 1)}`;
  r = await post("/events", { page: "product", seconds: 5 }, tampered);
  assert.equal(r.status, 200, "a tampered cookie is not an error");
  assert.equal((await r.json()).pages, 1, "it starts a new session");
  assert.notEqual(h.cookieOf(r), tampered);
  const malformed = await mf.dispatchFetch("http://shop.test/events", { method: "POST", body: "{not json" });
  assert.deepEqual([malformed.status, (await malformed.json()).code], [400, "body_malformed"]);
  const huge = await post("/events", { events: Array(200).fill({ page: "product" }) });
  assert.equal(huge.status, 413);
  assert.equal(before.r.status, 200);
});

test("GET /products/{sku}: the origin's page with the personalized price written in", async () => {
  const { body: decision, cookie } = await price("sku-1003");
  const r = await get("/products/sku-1003", cookie);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("cache-control"), "private, no-store");
  const html = await r.text();
  const shown = `${decision.price.toFixed(2)} ${decision.currency}`;
  const slot = html.match(/<span class="price" data-edgeprice-sku="sku-1003"[^>]*>([^<]*)<\/span>/);
  assert.ok(slot, html);
  assert.equal(slot[1], shown, "the same session sees the same price on the page");
  assert.match(slot[0], /data-edgeprice-decision="[0-9a-f]{16}"/);
  decisions.add(slot[0].match(/data-edgeprice-decision="([0-9a-f]{16})"/)[1]);
  assert.match(html, /navigator\.sendBeacon\("\/events"/);
  const disclosure = html.match(/<p class="edgeprice-disclosure"([^>]*)>([^<]*)<\/p>/);
  if (decision.personalized) {
    assert.ok(!disclosure[1].includes("hidden") && disclosure[2].length > 10, "disclosed");
  } else {
    assert.ok(disclosure[1].includes("hidden"), "no disclosure for an unpersonalized price");
  }
  const missing = await get("/products/sku-9999");
  assert.equal(missing.status, 404, "the origin's 404 page passes through");
});

test("policy refresh: the cron handler and the TTL bring the origin's newer bundles, with ETag", async () => {
  // v2 published; the scheduled handler fetches it, verifies it and stores it in KV.
  assert.equal((await h.publish(origin.url, h.bundle(dir, testKey, 2))).status, 201);
  await (await mf.getWorker()).scheduled({ cron: "* * * * *" });
  let s = await status();
  assert.deepEqual([s.policy_version, s.policy_source], [2, "origin"]);
  const kv = await mf.getKVNamespace("POLICY");
  const stored = await kv.getWithMetadata("bundle", "arrayBuffer");
  assert.equal(stored.metadata.policy_version, 2);
  // v3 published; a request after the TTL starts a background refresh; later requests see v3.
  // Backend pricing calls (entry.mjs's synchronous `priceApi`, which hands the refresh to
  // `upkeep`); shoppers' routes start it in `fetch` (tests/worker/faults.test.mjs).
  assert.equal((await h.publish(origin.url, h.bundle(dir, testKey, 3))).status, 201);
  await new Promise((r) => setTimeout(r, 1100));
  const c = h.json("tests/golden/cases.json").cases[0];
  const apiVersion = async () => (await (await mf.dispatchFetch("http://shop.test/v1/price", {
    method: "POST",
    headers: { Authorization: `Bearer ${h.EDGE_TOKEN}` },
    body: JSON.stringify({ session: c.session, product: c.product }),
  })).json()).policy_version;
  await h.until(async () => (await apiVersion()) === 3, 10_000, "policy v3 through the backend API");
  assert.equal((await price("sku-1004")).body.policy_version, 3);
  const notModified = origin.log.filter((e) => e.fields?.path === "/v1/policy/latest" && e.fields?.status === 304);
  assert.ok(notModified.length >= 1, "the worker revalidates with If-None-Match and gets 304s");
  // A new isolate (fresh worker, same KV, origin unreachable) starts from the KV copy.
  const cold = h.startWorker({ ORIGIN: "http://127.0.0.1:9", POLICY_PUBLIC_KEYS: JSON.stringify([testKey.public]) }, { kvPersist: `${dir}/kv` });
  try {
    const c = await (await cold.dispatchFetch("http://shop.test/_edgeprice/status")).json();
    assert.deepEqual([c.policy_version, c.policy_source], [2, "kv"]);
  } finally {
    await cold.dispose();
  }
});

test("a bundle the worker does not trust keeps the last good policy live", async () => {
  // The origin trusts a rotated key that the worker was not given yet: v4 is refused at the edge.
  assert.equal((await h.publish(origin.url, h.bundle(dir, rotatedKey, 4))).status, 201);
  const failuresBefore = (await status()).policy_refresh_failures;
  await new Promise((r) => setTimeout(r, 1100));
  await price("sku-1005");
  const s = await h.until(async () => {
    const s = await status();
    return s.policy_refresh_failures > failuresBefore && s;
  }, 10_000, "a refused refresh");
  assert.equal(s.policy_version, 3);
  assert.equal((await price("sku-1005")).body.policy_version, 3);
});

test("origin down: the worker keeps pricing and keeps the feedback for retry", async () => {
  await origin.stop();
  const sent = (await status()).feedback_sent;
  const { r, body, cookie } = await price("sku-1001");
  assert.equal(r.status, 200, "the catalog entry is cached and the policy is served stale");
  assert.equal(body.policy_version, 3);
  const page = await get("/products/sku-1001", cookie);
  assert.equal(page.status, 502, "no origin page to rewrite");
  await page.text();
  // A purchase, reported twice (the second must not be stored twice).
  for (let i = 0; i < 2; i++) {
    const p = await post("/purchase", { decision_id: body.decision_id, revenue: body.price }, cookie);
    assert.equal(p.status, 202);
  }
  purchases = 1;
  const bad = await post("/purchase", { decision_id: "x'); drop table", revenue: 1 });
  assert.equal(bad.status, 400);
  await (await mf.getWorker()).scheduled({ cron: "* * * * *" });
  const s = await status();
  assert.ok(s.feedback_failures >= 1 && s.feedback_queued > 0, JSON.stringify(s));
  assert.equal(s.feedback_sent, sent, "nothing was acknowledged while the origin was down");
  assert.equal(s.feedback_dropped, 0);
});

test("feedback reaches the origin's database once per event", async () => {
  origin = await h.startOrigin({ dir, port: origin.port, trusted: [`${h.root}models/default.pub.json`, testKey.pub, rotatedKey.pub] });
  await h.until(async () => {
    await (await mf.getWorker()).scheduled({ cron: "* * * * *" });
    return (await status()).feedback_queued === 0;
  }, 15_000, "the retry after the backoff");
  const s = await status();
  assert.equal(s.feedback_dropped, 0);
  const metrics = await (await fetch(`${origin.url}/metrics`)).text();
  const count = (result) => Number(metrics.match(new RegExp(`edgeprice_feedback_events_total\\{result="${result}"\\} (\\d+)`))[1]);
  const stored = h.feedbackRows(dir);
  const decisionRows = stored.filter((r) => r.kind === "decision");
  const rows = {
    rows: [stored.length, new Set(stored.map((r) => r.event_id)).size],
    decisions: decisionRows.map((r) => r.decision_id),
    outcomes: stored.filter((r) => r.kind === "outcome").length,
    sessions: new Set(decisionRows.map((r) => r.session_id)).size,
  };
  const [total, distinct] = rows.rows;
  assert.equal(total, distinct);
  assert.equal(rows.outcomes, purchases, "the purchase reported twice is stored once");
  assert.deepEqual(new Set(rows.decisions), decisions, "every decision shown is stored, and only those");
  assert.equal(rows.decisions.length + rows.outcomes, total);
  assert.ok(s.feedback_sent >= total, "the worker counts what it sent, duplicates included");
  assert.equal(count("rejected"), 0);
  console.log(`feedback: ${total} events stored once each (${rows.decisions.length} decisions from ${rows.sessions} sessions, ${rows.outcomes} outcome); the worker sent ${s.feedback_sent} (repeats refused as duplicates: ${s.feedback_sent - total}), dropped ${s.feedback_dropped}`);
});
