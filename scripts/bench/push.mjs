// Publish -> first price with the new version, at the worker (miniflare, the built worker)
// in front of the real origin: through a push (the origin notifies the worker, which
// fetches and verifies the bundle) and through polling alone (POLICY_TTL_SECONDS, the
// wrangler.toml default 60 unless TTL is set). A shopper asks /price every 50 ms; the time
// runs from the publish answer to the first answer priced with the new version. The first
// publish warms up (not counted; a new isolate refreshes at once); before each counted one
// the polling run waits a random part of the TTL, since a publish does not know when an
// isolate last asked (without it every run would take the whole TTL).
// Prints each run and the medians. Run by scripts/bench-push.sh; a benchmark, not a test.
import * as h from "../../tests/worker/harness.mjs";

const RUNS = Number(process.env.RUNS ?? 5);
const TTL = process.env.TTL ?? "60";
const SECRET = "whsec_" + Buffer.alloc(32, 3).toString("base64");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(mode) {
  const dir = h.tempDir();
  const key = h.keygen(dir, `bench-${mode}`);
  const originPort = await h.freePort();
  const push = mode === "push";
  const mf = h.startWorker({
    ORIGIN: `http://127.0.0.1:${originPort}`,
    POLICY_TTL_SECONDS: push ? "3600" : TTL,
    POLICY_PUBLIC_KEYS: JSON.stringify([key.public]),
    ...(push ? { POLICY_PUSH_SECRET: SECRET } : {}),
  });
  const url = await mf.ready;
  const env = push ? { EDGEPRICE_PUSH_URLS: `${new URL("/_edgeprice/push", url)}`, EDGEPRICE_PUSH_SECRET: SECRET } : {};
  const origin = await h.startOrigin({ dir, port: originPort, trusted: [key.pub], env });
  const times = [];
  try {
    for (let v = 2; v < 3 + RUNS; v++) {
      const bundle = h.bundle(dir, key, v);
      if (!push && v > 2) await new Promise((r) => setTimeout(r, Math.random() * Number(TTL) * 1000));
      const published = await h.publish(origin.url, bundle);
      if (published.status !== 201) throw new Error(`publish v${v}: ${published.status}`);
      const start = performance.now();
      for (;;) {
        const d = await (await mf.dispatchFetch("http://shop.test/price?sku=sku-1001")).json();
        if (d.policy_version === v) break;
        if (performance.now() - start > 10 * Number(TTL) * 1000) throw new Error(`v${v} never served`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const ms = performance.now() - start;
      if (v === 2) continue; // the warm-up
      times.push(ms);
      console.log(`${mode} v${v}: ${ms.toFixed(0)} ms`);
    }
  } finally {
    await mf.dispose();
    await origin.stop();
  }
  return times;
}

// MODES=push (or poll) runs one side only.
const modes = (process.env.MODES ?? "push,poll").split(",");
const push = modes.includes("push") ? await measure("push") : [];
const poll = modes.includes("poll") ? await measure("poll") : [];
const show = (xs, f) => (xs.length ? f(median(xs)) : "not run");
console.log(`publish -> first price with it, median of ${RUNS}: push ${show(push, (m) => `${m.toFixed(0)} ms`)}, polling (TTL ${TTL} s) ${show(poll, (m) => `${(m / 1000).toFixed(1)} s`)}`);
