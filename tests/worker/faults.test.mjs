// Fault injection at the edge: the built worker on workerd against an origin that fails in
// every way a network and a compromised or broken origin can: 500s, a hang (past the
// worker's deadline), a reset connection, a truncated bundle, a bundle with one flipped
// byte, a bundle signed by a key the worker does not trust, and an older bundle replayed.
// Through all of it the worker keeps pricing with the last good policy and keeps every
// feedback event for retry; once the origin behaves, every shown decision arrives, once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import * as h from "./harness.mjs";

let dir, mf, server, originUrl, trusted, stranger;
const bundles = {};
const catalog = new Map(h.json("www/catalog.json").products.map((p) => [p.sku, p]));
const received = []; // event ids the origin acknowledged
const origin = { policy: "good", feedback: "good", live: 2, hits: 0 };

function fail(mode, req, res) {
  if (mode === "500") return res.writeHead(500).end("boom"), true;
  if (mode === "hang") return true; // never answers; the worker's deadline must fire
  if (mode === "reset") return req.socket.destroy(), true;
  return false;
}

function handle(req, res) {
  const url = new URL(req.url, "http://origin");
  if (url.pathname.startsWith("/v1/catalog/")) {
    const p = catalog.get(decodeURIComponent(url.pathname.slice(12)));
    return p ? res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(p)) : res.writeHead(404).end();
  }
  if (url.pathname === "/v1/policy/latest") {
    origin.hits++;
    if (fail(origin.policy, req, res)) return;
    let body = bundles[origin.live];
    if (origin.policy === "truncated") body = body.subarray(0, body.length >> 1);
    if (origin.policy === "bitflip") (body = Uint8Array.from(body))[body.length >> 1] ^= 1;
    if (origin.policy === "unknown_key") body = bundles.stranger;
    if (origin.policy === "replay") body = bundles[1];
    const etag = `"${origin.policy}-${origin.live}"`;
    if (req.headers["if-none-match"] === etag) return res.writeHead(304).end();
    return res.writeHead(200, { ETag: etag, "Content-Type": "application/vnd.edgeprice.bundle" }).end(body);
  }
  if (url.pathname === "/v1/feedback" && req.method === "POST") {
    if (fail(origin.feedback, req, res)) return;
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (text += c));
    req.on("end", () => {
      const ids = text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l).event_id);
      received.push(...ids);
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ stored: ids.length, rejected: [] }));
    });
    return;
  }
  res.writeHead(404).end();
}

before(async () => {
  dir = h.tempDir();
  trusted = h.keygen(dir, "faults-trusted");
  stranger = h.keygen(dir, "faults-stranger");
  for (const v of [1, 2, 3]) bundles[v] = h.bundle(dir, trusted, v);
  bundles.stranger = h.bundle(dir, stranger, 9);
  server = createServer(handle);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  originUrl = `http://127.0.0.1:${server.address().port}`;
  mf = h.startWorker({
    ORIGIN: originUrl,
    POLICY_TTL_SECONDS: "1",
    POLICY_PUBLIC_KEYS: JSON.stringify([trusted.public]),
    ORIGIN_TIMEOUT_MS: "400",
    FEEDBACK_MAX_AGE_SECONDS: "3600",
  });
});

after(async () => {
  await mf?.dispose();
  server?.closeAllConnections();
  server?.close();
});

const get = (path) => mf.dispatchFetch(`http://shop.test${path}`);
const status = async () => (await get("/_edgeprice/status")).json();
const cron = async () => (await mf.getWorker()).scheduled({ cron: "* * * * *" });
const shown = new Set();
async function priceAll() {
  for (const sku of ["sku-1001", "sku-1002", "sku-1003"]) {
    const r = await get(`/price?sku=${sku}`);
    assert.equal(r.status, 200, `${sku}: ${r.status}`);
    const d = await r.json();
    assert.notEqual(d.arm, "fallback", JSON.stringify(d.reasons));
    shown.add(d.decision_id);
  }
}

test("every bad answer to a policy refresh leaves the last good policy live", async () => {
  await cron();
  assert.equal((await status()).policy_version, 2, "v2 from the healthy origin");
  await priceAll();
  for (const policy of ["500", "hang", "reset", "truncated", "bitflip", "unknown_key", "replay"]) {
    origin.policy = policy;
    const before = await status();
    const hits = origin.hits;
    await cron(); // the cron refresh ignores the TTL
    const s = await status();
    assert.ok(origin.hits > hits, `${policy}: the worker asked the origin`);
    assert.equal(s.policy_version, 2, `${policy}: the last good policy stays`);
    assert.ok(s.policy_refresh_failures > before.policy_refresh_failures, `${policy}: counted as failed ${JSON.stringify(s)}`);
    await priceAll(); // and prices with it
  }
  origin.policy = "good";
  await cron();
  assert.equal((await status()).policy_version, 2, "the good origin's bundle is still v2");
  assert.ok(received.length > 0, "feedback flowed to the healthy feedback endpoint meanwhile");
});

test("feedback waits through 500s, a hang and resets, then arrives once", async () => {
  for (const feedback of ["500", "hang", "reset"]) {
    origin.feedback = feedback;
    const before = await status();
    await priceAll();
    const s = await h.until(async () => {
      await cron(); // forced flush; the outbox's backoff (2, 4, 8 s) spaces the attempts
      const s = await status();
      return s.feedback_failures > before.feedback_failures && s;
    }, 20_000, `a failed upload (${feedback})`);
    assert.equal(s.feedback_sent, before.feedback_sent, `${feedback}: nothing acknowledged`);
    assert.equal(s.feedback_dropped, 0, `${feedback}: nothing dropped`);
    assert.ok(s.feedback_queued >= before.feedback_queued + 3, `${feedback}: the new decisions wait`);
  }
  // The origin recovers and publishes v3: it goes live and every queued event arrives once.
  Object.assign(origin, { feedback: "good", live: 3 });
  const s = await h.until(async () => {
    await cron();
    const s = await status();
    return s.feedback_queued === 0 && s.policy_version === 3 && s;
  }, 30_000, "the queue drained and v3 live");
  assert.equal(s.feedback_dropped, 0);
  assert.equal(new Set(received).size, received.length, "no event sent twice");
  const decisions = new Set(received.filter((id) => id.startsWith("d-")).map((id) => id.slice(2)));
  assert.deepEqual(decisions, shown, "every shown decision arrived");
});
