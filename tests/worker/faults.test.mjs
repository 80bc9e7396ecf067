// Fault injection at the edge: the built worker on workerd talks to the real origin
// (`edgeprice serve`, SQLite) through a proxy that fails on demand in every way a network
// and a broken or compromised origin can: 500s, a hang (past the worker's deadline), a
// reset connection, a truncated bundle, a bundle with one flipped byte, a bundle signed by
// a key the worker does not trust, and an older bundle replayed. Through all of it the
// worker keeps pricing with the last good policy and keeps every feedback event for retry;
// once the proxy passes requests again, every shown decision is in the origin's database once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import * as h from "./harness.mjs";

let dir, mf, server, proxyUrl, real, trusted, stranger;
const bundles = {};
const origin = { policy: "good", feedback: "good", hits: 0 };

/** Passes a request to the real origin; `mutate` may change a good bundle on the way back. */
async function pass(req, res, body, mutate) {
  const r = await fetch(`${real.url}${req.url}`, {
    method: req.method,
    headers: Object.fromEntries(["authorization", "content-type", "if-none-match"].filter((k) => req.headers[k]).map((k) => [k, req.headers[k]])),
    body: req.method === "GET" ? undefined : body,
  });
  let bytes = new Uint8Array(await r.arrayBuffer());
  if (mutate && r.status === 200) bytes = mutate(bytes);
  const headers = { "Content-Type": r.headers.get("content-type") ?? "application/octet-stream" };
  if (r.headers.get("etag")) headers.ETag = r.headers.get("etag");
  res.writeHead(r.status, headers).end(bytes);
}

function fail(mode, req, res) {
  if (mode === "500") return res.writeHead(500).end("boom"), true;
  if (mode === "hang") return true; // never answers; the worker's deadline must fire
  if (mode === "reset") return req.socket.destroy(), true;
  return false;
}

function handle(req, res) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const path = new URL(req.url, "http://proxy").pathname;
    if (path === "/v1/policy/latest") {
      origin.hits++;
      if (fail(origin.policy, req, res)) return;
      const mutate = {
        truncated: (b) => b.subarray(0, b.length >> 1),
        bitflip: (b) => ((b = Uint8Array.from(b)), (b[b.length >> 1] ^= 1), b),
        unknown_key: () => bundles.stranger,
        replay: () => bundles[1],
      }[origin.policy];
      // A mutated answer must not be a 304: ask the origin without the worker's ETag.
      if (mutate) delete req.headers["if-none-match"];
      return pass(req, res, body, mutate).catch(() => res.writeHead(502).end());
    }
    if (path === "/v1/feedback" && fail(origin.feedback, req, res)) return;
    pass(req, res, body).catch(() => res.writeHead(502).end());
  });
}

before(async () => {
  dir = h.tempDir();
  trusted = h.keygen(dir, "faults-trusted");
  stranger = h.keygen(dir, "faults-stranger");
  for (const v of [1, 2, 3]) bundles[v] = h.bundle(dir, trusted, v);
  bundles.stranger = h.bundle(dir, stranger, 9);
  real = await h.startOrigin({ dir, trusted: [trusted.pub] });
  assert.equal((await h.publish(real.url, bundles[2])).status, 201);
  server = createServer(handle);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  proxyUrl = `http://127.0.0.1:${server.address().port}`;
  mf = h.startWorker({
    ORIGIN: proxyUrl,
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
  await real?.stop();
});

/** Decision ids of the decision events in the real origin's database, and the row count. */
function stored() {
  const rows = h.feedbackRows(dir);
  const decisions = rows.filter((r) => r.kind === "decision").map((r) => r.decision_id);
  return { rows: rows.length, distinct: new Set(rows.map((r) => r.event_id)).size, decisions };
}

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
  assert.ok(stored().rows > 0, "feedback reached the real origin meanwhile");
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
  origin.feedback = "good";
  assert.equal((await h.publish(real.url, bundles[3])).status, 201);
  const s = await h.until(async () => {
    await cron();
    const s = await status();
    return s.feedback_queued === 0 && s.policy_version === 3 && s;
  }, 30_000, "the queue drained and v3 live");
  assert.equal(s.feedback_dropped, 0);
  const db = stored();
  assert.equal(db.rows, db.distinct, "no event stored twice");
  assert.deepEqual(new Set(db.decisions), shown, "every shown decision is in the origin's database, and only those");
  assert.equal(db.decisions.length, shown.size);
});
