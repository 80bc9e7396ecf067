// The live catalog on workerd: a stock change made with `PATCH /v1/catalog/{sku}` at the
// real origin stops the worker discounting that product (the rules' low-stock guard)
// within CATALOG_TTL_SECONDS of the change, the bound the worker documents (a copy's age
// counts from its origin fetch, in the isolate and in KV); an unchanged product is
// revalidated with a 304 that renews its KV copy; with the origin down, the last
// copy is served (stale-if-error); and the worker's feedback uploads carry its status,
// which the origin's overview lists.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as h from "./harness.mjs";

const TTL = 2;
let dir, origin, mf;
const admin = { Authorization: `Bearer ${h.ADMIN_TOKEN}` };

before(async () => {
  dir = h.tempDir();
  origin = await h.startOrigin({ dir, trusted: [] });
  mf = h.startWorker({ ORIGIN: origin.url, CATALOG_TTL_SECONDS: String(TTL), EDGE_NAME: "edge-catalog-test" });
});

after(async () => {
  await mf?.dispose();
  await origin?.stop();
});

/** A new visitor's decision for `sku` (each request without a cookie is a new session). */
async function price(sku) {
  const r = await mf.dispatchFetch(`http://shop.test/price?sku=${sku}`);
  assert.equal(r.status, 200);
  return r.json();
}

const discounted = (d) => d.price < d.list_price;

test("a stock change reaches edge prices within the catalog TTL", async () => {
  const sku = "sku-1001";
  let seen = 0;
  for (let i = 0; i < 40 && seen === 0; i++) seen += discounted(await price(sku)) ? 1 : 0;
  assert.ok(seen > 0, "with plenty of stock some visitors get a discount");
  const r = await fetch(`${origin.url}/v1/catalog/${sku}`, {
    method: "PATCH",
    headers: { ...admin, "Content-Type": "application/json" },
    body: JSON.stringify({ stock: 2 }),
  });
  assert.equal(r.status, 200, await r.text());
  const changed = Date.now();
  const first = await h.until(async () => {
    const d = await price(sku);
    return d.reasons.includes("low_stock") && d;
  }, 10_000, "the low-stock price");
  const took = (Date.now() - changed) / 1000;
  console.log(`stock change to edge price: ${took.toFixed(2)} s (bound: CATALOG_TTL_SECONDS = ${TTL} s plus one request)`);
  assert.ok(took <= TTL + 1, `took ${took} s`);
  assert.equal(first.price, first.list_price);
  for (let i = 0; i < 20; i++) {
    const d = await price(sku);
    assert.ok(!discounted(d) && d.reasons.includes("low_stock"), JSON.stringify(d.reasons));
  }
});

test("the worker's feedback uploads carry its status to the origin's overview", async () => {
  await (await mf.getWorker()).scheduled({ cron: "* * * * *" });
  const overview = await h.until(async () => {
    const o = await (await fetch(`${origin.url}/v1/reports/overview`, { headers: admin })).json();
    return o.edges.length > 0 && o;
  }, 10_000, "an edge in the overview");
  const edge = overview.edges[0];
  assert.equal(edge.edge, "edge-catalog-test");
  assert.equal(edge.feedback_path, "memory");
  assert.equal(typeof edge.policy_version, "number");
  assert.ok(overview.feedback.events > 0);
});

test("an unchanged product is revalidated with a 304 and its KV copy renewed under the same ETag", async () => {
  const sku = "sku-1002";
  const kv = await mf.getKVNamespace("CATALOG");
  await price(sku);
  const first = await kv.getWithMetadata(`product:${sku}`);
  assert.ok(first.value && first.metadata?.etag, "the first fetch is copied to KV with its ETag");
  await new Promise((r) => setTimeout(r, (TTL + 1) * 1000));
  await price(sku);
  const answered = origin.log.filter((e) => e.fields?.path === `/v1/catalog/${sku}`).map((e) => e.fields.status);
  assert.deepEqual(answered, [200, 304], "one fetch, then one revalidation answered 304");
  const renewed = await kv.getWithMetadata(`product:${sku}`);
  assert.equal(renewed.value, first.value);
  assert.equal(renewed.metadata.etag, first.metadata.etag);
  assert.ok(renewed.metadata.fetched_at > first.metadata.fetched_at, "the 304 renewed the KV copy's fetch time");
});

test("origin down: the last catalog copy is served past its TTL", async () => {
  await origin.stop();
  await new Promise((r) => setTimeout(r, (TTL + 0.5) * 1000));
  const d = await price("sku-1001");
  assert.ok(d.reasons.includes("low_stock"), "the copy with the new stock");
  const unknown = await mf.dispatchFetch("http://shop.test/price?sku=never-fetched");
  assert.equal(unknown.status, 503, "a product never fetched cannot be priced without the origin");
});
