// Pushed policies on workerd: the real origin (`edgeprice serve`) notifies the worker of each
// publish and rollback with a signed Standard Webhooks request; the worker verifies it,
// fetches the bundle, verifies that like a polled one, serves it and writes it to KV, where
// a second worker in the same workerd (another isolate, no push) finds it. Polling is off (a one-hour TTL), so
// only the push can explain a new version. Forged and stale pushes change nothing; a
// rollback reaches the edges only as a re-issue signed with the merchant's key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Miniflare } from "miniflare";
import * as h from "./harness.mjs";

process.env.EDGEPRICE_ADMIN_TOKEN = h.ADMIN_TOKEN; // for the CLI's rollback
const SECRET = "whsec_" + Buffer.alloc(32, 7).toString("base64");
let dir, key, origin, mf, edge, other, deadPort;

before(async () => {
  dir = h.tempDir();
  key = h.keygen(dir, "push-test");
  const originPort = await h.freePort();
  deadPort = await h.freePort(); // nothing listens here: every push to it fails
  const vars = {
    ORIGIN: `http://127.0.0.1:${originPort}`,
    POLICY_TTL_SECONDS: "3600",
    POLICY_PUBLIC_KEYS: JSON.stringify([key.public]),
  };
  // Two workers in one workerd: two isolates sharing the POLICY namespace, as a Cloudflare
  // location's isolates share KV. Only the first takes pushes.
  const kv = { kvNamespaces: { POLICY: "policy" } };
  mf = new Miniflare({
    workers: [
      { name: "edge", ...h.workerOptions({ ...vars, POLICY_PUSH_SECRET: SECRET, POLICY_KV_CHECK_SECONDS: "0" }, kv) },
      { name: "other", ...h.workerOptions({ ...vars, POLICY_KV_CHECK_SECONDS: "1" }, kv) },
    ],
  });
  edge = { dispatchFetch: (url, init) => mf.dispatchFetch(url, init) };
  const otherWorker = await mf.getWorker("other");
  other = { dispatchFetch: (url, init) => otherWorker.fetch(url, init) };
  const url = await mf.ready;
  origin = await h.startOrigin({
    dir,
    port: originPort,
    trusted: [key.pub],
    env: {
      EDGEPRICE_PUSH_URLS: `${new URL("/_edgeprice/push", url)},http://127.0.0.1:${deadPort}/_edgeprice/push`,
      EDGEPRICE_PUSH_SECRET: SECRET,
      EDGEPRICE_PUSH_FIRST_RETRY_SECONDS: "0.1",
    },
  });
});

after(async () => {
  await mf?.dispose();
  await origin?.stop();
});

const version = async (mf) => (await (await mf.dispatchFetch("http://shop.test/price?sku=sku-1001")).json()).policy_version;
const admin = { Authorization: `Bearer ${h.ADMIN_TOKEN}` };
const deliveries = async () => (await (await fetch(`${origin.url}/v1/push/deliveries`, { headers: admin })).json()).deliveries;

function signed(body, { secret = SECRET, timestamp = Math.floor(Date.now() / 1000), id = "msg_test" } = {}) {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const sig = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${sig}` };
}

test("a publish is pushed: the worker serves it, KV carries it to another isolate", async () => {
  assert.equal(await version(edge), 1, "the built-in bundle");
  assert.equal((await h.publish(origin.url, h.bundle(dir, key, 2))).status, 201);
  await h.until(async () => (await version(edge)) === 2, 10_000, "the pushed v2 served");
  await h.until(async () => (await version(other)) === 2, 10_000, "v2 reaching the other isolate through KV");
  const d = await h.until(async () => {
    const list = await deliveries();
    return list.filter((x) => x.url.includes(`:${deadPort}/`)).length >= 3 && list;
  }, 10_000, "retries to the dead endpoint");
  const good = d.filter((x) => !x.url.includes(`:${deadPort}/`));
  assert.deepEqual(good.map((x) => [x.event, x.policy_version, x.delivered, x.status]), [["policy.published", 2, true, 200]]);
  const dead = d.filter((x) => x.url.includes(`:${deadPort}/`)).reverse();
  assert.deepEqual(dead.slice(0, 3).map((x) => [x.attempt, x.delivered, x.status]), [[1, false, 0], [2, false, 0], [3, false, 0]]);
  assert.ok(dead.every((x) => x.message_id === dead[0].message_id), "one message id across retries");
  const denied = await fetch(`${origin.url}/v1/push/deliveries`);
  assert.equal(denied.status, 401, "deliveries are for the admin");
});

test("a forged, stale or unsigned push changes nothing", async () => {
  assert.equal((await h.publish(origin.url, h.bundle(dir, key, 3))).status, 201);
  await h.until(async () => (await version(edge)) === 3, 10_000, "v3 pushed");
  const body = JSON.stringify({ type: "policy.published", data: { policy_version: 99 } });
  const push = (headers) => edge.dispatchFetch("http://shop.test/_edgeprice/push", { method: "POST", headers, body });
  const cases = [
    [signed(body, { secret: "whsec_" + Buffer.alloc(32, 8).toString("base64") }), "push_bad_signature"],
    [signed(body, { timestamp: Math.floor(Date.now() / 1000) - 3600 }), "push_stale"],
    [{ ...signed(body), "webhook-signature": "" }, "push_malformed"],
  ];
  for (const [headers, code] of cases) {
    const r = await push(headers);
    assert.deepEqual([r.status, (await r.json()).code], [401, code]);
  }
  assert.equal(await version(edge), 3);
  const ok = await push(signed(body));
  assert.deepEqual(await ok.json(), { policy_version: 3, updated: false }, "a good push with nothing new");
});

test("a rollback reaches edges only re-issued with the merchant's key", async () => {
  // The origin alone rolls back to v2: the push arrives, the edge refuses the older version.
  h.cli("rollback", "--origin", origin.url, "--to", "2");
  await h.until(async () => (await deliveries()).some((x) => x.event === "policy.rolled_back" && x.delivered), 10_000, "the rollback pushed");
  assert.equal(await version(edge), 3, "v2 is older than the live v3: refused");
  // Re-issued: v2's policy signed again as v4, published, pushed, served.
  h.cli("rollback", "--origin", origin.url, "--to", "2", "--key", key.path);
  await h.until(async () => (await version(edge)) === 4, 10_000, "the re-issue served");
  const versions = await (await fetch(`${origin.url}/v1/policy`)).json();
  assert.deepEqual([versions.live, versions.max], [4, 4]);
  const inspected = JSON.parse(h.cli("inspect", "--bundle", await save(`${origin.url}/v1/policy/4`)));
  assert.equal(inspected.manifest.metrics.reissue_of, 2);
  const v2 = JSON.parse(h.cli("inspect", "--bundle", await save(`${origin.url}/v1/policy/2`)));
  assert.equal(inspected.manifest.rules_toml, v2.manifest.rules_toml, "v2's policy");
});

async function save(url) {
  const { writeFileSync } = await import("node:fs");
  const path = `${dir}/${url.split("/").pop()}.epb`;
  writeFileSync(path, new Uint8Array(await (await fetch(url)).arrayBuffer()));
  return path;
}
