// workerd figures of issue 8 (miniflare 4, the built worker with and without tract-onnx):
// cold start (new runtime to the first priced response, against a trivial worker started
// the same way), per-decision cost inside workerd, and the isolate's memory over 100,000
// decisions. workerd stops its clocks while a request runs (no timing inside a worker), so
// decisions are timed from outside: requests pricing 1 and 100 products of one session
// (POST /v1/price `products`), and the difference per extra decision.
// Prints `BENCH {json}` lines for report.py. Usage: node scripts/bench/workerd.mjs [quick]
import { performance } from "node:perf_hooks";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import { Miniflare } from "miniflare";

const root = new URL("../../", import.meta.url).pathname;
const quick = process.argv[2] === "quick";
const EDGE_TOKEN = "edge-token-for-the-benchmark";
const emit = (o) => console.log(`BENCH ${JSON.stringify(o)}`);
const now = Date.parse("2026-11-28T12:00:00Z") / 1000;
const catalog = JSON.parse(readFileSync(`${root}www/catalog.json`, "utf8")).products;
const products = Array.from({ length: 100 }, (_, i) => ({ ...catalog[i % catalog.length], sku: `sku-b${i}` }));
const session = JSON.parse(readFileSync(`${root}tests/golden/cases.json`, "utf8")).cases[0].session;

function stats(times) {
  const t = Float64Array.from(times).sort();
  return { p50: t[t.length >> 1], p99: t[Math.floor(t.length * 0.99)] };
}

/** The modules of a worker: the script first, then, for a build (build/worker*), every
 * module beside it (the wasm-bindgen glue, its snippets, the wasm), listed rather than found.
 * The trivial worker is its one file. */
function modulesOf(script) {
  const dir = dirname(script);
  const rest = !script.includes("/build/") ? [] : readdirSync(dir, { recursive: true }).map(String).sort()
    .filter((f) => /\.(m?js|wasm)$/.test(f) && `${dir}/${f}` !== script);
  return [{ type: "ESModule", path: script },
    ...rest.map((f) => ({ type: f.endsWith(".wasm") ? "CompiledWasm" : "ESModule", path: `${dir}/${f}` }))];
}

/** A new workerd running `script`. Its modules are listed (`modulesOf`), as wrangler's
 * bundle hands them to the runtime: with `scriptPath` and `modulesRules`, miniflare finds
 * them by parsing every JavaScript module in Node first, and for our 63 KB wasm-bindgen glue
 * that parse took about 15 ms of each start before workerd began (`scan`, the method until
 * 2026-12-03; BENCHMARKS.md has both). */
function start(script, scan = false, bindings = {}, kv = true) {
  const modules = scan
    ? { modules: true, scriptPath: script,
        modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }] }
    : { modulesRoot: dirname(script), modules: modulesOf(script) };
  return new Miniflare({
    ...modules,
    compatibilityDate: "2026-04-20",
    bindings: { SESSION_SECRET: "session-secret-of-the-benchmark-0123456789", EDGE_TOKEN, ORIGIN: "", ...bindings },
    kvNamespaces: kv ? ["POLICY", "CATALOG"] : [],
  });
}

const price = (mf, body) => mf.dispatchFetch("http://shop.test/v1/price", {
  method: "POST", headers: { Authorization: `Bearer ${EDGE_TOKEN}` }, body: JSON.stringify({ session, now, ...body }),
});

/** Resident memory of the workerd processes under this one (KiB, from /proc). */
function workerdRssKib() {
  const pids = execFileSync("pgrep", ["-P", String(process.pid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  let kib = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      if (/^Name:\s*workerd/m.test(status)) kib += Number(/^VmRSS:\s*(\d+)/m.exec(status)[1]);
    } catch {}
  }
  return kib;
}

/** Cold starts: a new workerd until the script is loaded (its wasm compiled), then the first
 * request (instantiate, bundle, model, first decision). The scripts take turns within each
 * round, so that each is compared with the trivial worker over the same minutes of this
 * shared host: run one after the other, minutes apart, the same code's start over the
 * trivial worker's measured +13.8 ms in one run and +45.2 ms in the next (2026-12-03).
 * Medians over 25 rounds (9 until 2026-12-03: a round is under a second, and with 9 the
 * median of the same build moved by several ms between runs). */
async function colds(entries) {
  const runs = entries.map(() => []);
  for (let r = 0; r < (quick ? 2 : 25); r++) {
    for (const [i, { script, first, scan, warmKv, kvBundle, noKv }] of entries.entries()) {
      const t0 = performance.now();
      const mf = start(script, scan, kvBundle ? { POLICY_PUBLIC_KEYS: pushed.keys } : {}, !noKv);
      await mf.ready;
      const t1 = performance.now();
      // `warmKv`: miniflare's KV simulator answers one read from Node first, untimed
      // (`kvWarmed` says why).
      if (warmKv) await (await mf.getKVNamespace("POLICY")).get("warm-up");
      // `kvBundle`: a pushed bundle in KV (`pushed`), put from Node, untimed.
      if (kvBundle) await (await mf.getKVNamespace("POLICY")).put("bundle", pushed.bytes);
      const t2 = performance.now();
      const res = await first(mf);
      if (res.status !== 200) throw new Error(`cold start answer ${res.status}: ${await res.text()}`);
      const answer = await res.arrayBuffer();
      const t3 = performance.now();
      // Ours must have priced with the pushed policy (version 2), not the built-in one.
      if (kvBundle && script !== trivialScript && JSON.parse(new TextDecoder().decode(answer)).policy_version !== 2) {
        throw new Error("the first request did not price with the pushed bundle");
      }
      runs[i].push([t1 - t0, t3 - t2]);
      await mf.dispose();
    }
  }
  const med = (rows, k) => rows.map((r) => r[k]).sort((a, b) => a - b)[rows.length >> 1];
  return runs.map((rows) => ({ ready_ms: med(rows, 0), first_ms: med(rows, 1), rounds: rows.length }));
}

/** `pushed`: the policy a shop's worker finds in KV once the origin has pushed one (every
 * isolate after the first push), here the shipped model and rules signed as version 2 by a
 * key the worker trusts (POLICY_PUBLIC_KEYS). The isolate's first request then verifies and
 * loads it (signature, manifest, model) instead of taking the built-in bundle its start
 * prepared; the `cold` rows find KV empty. Made with the CLI bench.sh built. */
const pushed = (() => {
  const bin = `${process.env.CARGO_TARGET_DIR ?? `${homedir()}/.cache/edgeprice/target`}/release/edgeprice`; // scripts/env.sh
  const dir = mkdtempSync(`${tmpdir()}/edgeprice-bench-`);
  try {
    execFileSync(bin, ["keygen", "--out", `${dir}/bench.key`, "--key-id", "bench-push"], { cwd: root, stdio: "ignore" });
    execFileSync(bin, ["bundle", "--model", "models", "--rules", "models/rules.toml", "--page-values", "models/page_values.json",
      "--policy-version", "2", "--key", `${dir}/bench.key`, "--out", `${dir}/pushed.epb`], { cwd: root, stdio: "ignore" });
    return { bytes: new Uint8Array(readFileSync(`${dir}/pushed.epb`)),
      keys: JSON.stringify([JSON.parse(readFileSync(`${dir}/bench.key.pub.json`, "utf8"))]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

const builds = [["tract", "build/worker"], ["lean", "build/worker-lean"]];
const entryOf = (dir) => `${root}${dir}/entry.mjs`;
const trivialScript = `${root}scripts/bench/trivial-worker.mjs`;
const trivialFirst = (mf) => mf.dispatchFetch("http://shop.test/price?sku=a");
const pricedFirst = (mf) => price(mf, { product: products[0] });
/** `kvWarmed`: the lean worker's first request with miniflare's KV simulator already
 * answering, against the trivial worker's started the same way. An isolate's first request
 * reads the policy in KV (the latest pushed bundle), and the simulator's own first read
 * (its KV worker's code, storage and SQLite set up in the same workerd) was 5-6 ms of it:
 * the lean worker without a KV namespace answered its first request +6.3 ms after the
 * trivial worker, and +12.4 ms with one (41 interleaved rounds, 2026-12-03). On Cloudflare
 * KV is a running service; the `cold` rows keep the simulator's start in. */
/** `sameIo`: the lean worker's first request against the trivial worker answering the same
 * request (POST /v1/price, the same body) with the same platform work and no pricing: its
 * isolate's first request reads the policy's key in KV, as entry.mjs does, and reads and
 * parses the body (scripts/bench/trivial-worker.mjs). What remains is what edgeprice adds:
 * its code compiled and run. The `cold` row's reference answers GET /price with neither. */
/** `noKv`: both workers with no KV namespace bound, so no first read of KV: the lean worker
 * then prices with the built-in bundle its start prepared. What a first request costs with
 * the simulator's first read taken out, rather than warmed. */
const lean = entryOf(new Map(builds).get("lean"));
const [trivial, coldTract, coldLean, trivialScanned, leanScanned, trivialWarmed, leanWarmed, trivialSameIo, trivialPushed, leanPushed,
  trivialNoKv, leanNoKv] = await colds([
  { script: trivialScript, first: trivialFirst },
  ...builds.map(([, dir]) => ({ script: entryOf(dir), first: pricedFirst })),
  { script: trivialScript, first: trivialFirst, scan: true },
  { script: lean, first: pricedFirst, scan: true },
  { script: trivialScript, first: trivialFirst, warmKv: true },
  { script: lean, first: pricedFirst, warmKv: true },
  { script: trivialScript, first: pricedFirst },
  { script: trivialScript, first: pricedFirst, kvBundle: true },
  { script: lean, first: pricedFirst, kvBundle: true },
  { script: trivialScript, first: trivialFirst, noKv: true },
  { script: lean, first: pricedFirst, noKv: true },
]);
const coldOf = [coldTract, coldLean];

/** A worker's cold start with its total (start and first request). */
const withTotal = (c) => ({ ...c, total_ms: c.ready_ms + c.first_ms });
/** A worker's cold start with its totals against the trivial worker's started the same way. */
const againstTrivial = (c, t) => ({ ...withTotal(c),
  over_trivial_ms: c.ready_ms + c.first_ms - t.ready_ms - t.first_ms, first_over_trivial_ms: c.first_ms - t.first_ms });
emit({ env: "workerd-trivial", name: "cold start: trivial worker", stage: "cold", ...withTotal(trivial) });
emit({ env: "workerd-lean", name: "cold start, modules found by miniflare's import scan (the method until 2026-12-03)", stage: "cold-scanned",
  ...againstTrivial(leanScanned, trivialScanned) });
emit({ env: "workerd-lean", name: "cold start, miniflare's KV simulator warmed by a read from Node first", stage: "cold-kv-warm",
  ...againstTrivial(leanWarmed, trivialWarmed) });
emit({ env: "workerd-trivial", name: "cold start: trivial worker, the same request and platform work as ours (`sameIo`)", stage: "cold-same-io",
  ...withTotal(trivialSameIo) });
emit({ env: "workerd-lean", name: "cold start against the trivial worker doing the same request and platform work (`sameIo`)", stage: "cold-same-io",
  ...againstTrivial(coldLean, trivialSameIo) });
emit({ env: "workerd-lean", name: "cold start, no KV namespace bound for either worker (`noKv`)", stage: "cold-no-kv",
  ...againstTrivial(leanNoKv, trivialNoKv) });
emit({ env: "workerd-trivial", name: "cold start: trivial worker, the same request and platform work, a pushed bundle in KV (`pushed`)", stage: "cold-pushed",
  ...withTotal(trivialPushed) });
emit({ env: "workerd-lean", name: "cold start with a pushed bundle in KV, against the trivial worker reading it (`pushed`, `sameIo`)", stage: "cold-pushed",
  ...againstTrivial(leanPushed, trivialPushed) });

/** 200,000 decisions (2,000 requests of 100 products), sampled every 25,000: workerd's
 * resident memory and, for our worker, the module's linear memory (/_edgeprice/status). */
async function memory(mf, ours) {
  await mf.ready;
  const samples = [];
  const total = quick ? 10_000 : 200_000;
  const step = quick ? 2_500 : 25_000;
  for (let done = 0; done <= total; done += 100) {
    if (done % step === 0) {
      const status = ours ? await (await mf.dispatchFetch("http://shop.test/_edgeprice/status")).json() : {};
      samples.push({ decisions: done, rss_mib: workerdRssKib() / 1024, wasm_mib: ours ? status.wasm_memory_bytes / 2 ** 20 : null });
    }
    if (done < total) {
      const r = await price(mf, { products });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      await r.arrayBuffer();
    }
  }
  return samples;
}

{
  const mf = start(trivialScript);
  try {
    emit({ env: "workerd-trivial", name: "workerd memory, the same requests to the trivial worker", stage: "memory", samples: await memory(mf, false) });
  } finally {
    await mf.dispose();
  }
}

for (const [k, [build, dir]] of builds.entries()) {
  const env = `workerd-${build}`;
  const script = entryOf(dir);
  const c = coldOf[k];
  emit({ env, name: "cold start: new workerd to first priced response", stage: "cold", ...againstTrivial(c, trivial) });
  const mf = start(script);
  try {
    const time = async (body, n) => {
      const t = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const r = await price(mf, body);
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        t.push((performance.now() - t0) * 1000);
      }
      return stats(t);
    };
    await time({ products }, 50);
    const reps = quick ? 40 : 200;
    const one = await time({ products: products.slice(0, 1) }, reps);
    const hundred = await time({ products }, reps);
    emit({ env, name: "per decision inside workerd: (request of 100 products - request of 1) / 99", stage: "all",
      p50_us: (hundred.p50 - one.p50) / 99, p99_us: (hundred.p99 - one.p50) / 99, request_1_us: one.p50, request_100_us: hundred.p50 });
    emit({ env, name: "category page: 50 products in one request (from the 1/100 product runs)", stage: "batch50",
      per_second: 1e6 / ((hundred.p50 - one.p50) / 99) });
    // The same page by SKU: the products come from the catalog copies the isolate keeps
    // (put in the CATALOG namespace, which is the catalog when there is no ORIGIN), and the
    // decisions are answered without their candidates.
    const kv = await mf.getKVNamespace("CATALOG");
    for (const p of products) await kv.put(`product:${p.sku}`, JSON.stringify(p));
    const skus = products.map((p) => p.sku);
    await time({ skus }, 50);
    // The anchor: a worker that answers the same bytes (this worker's decisions, captured)
    // without pricing, timed in turn with ours. Miniflare compresses the answer in workerd
    // and inflates it in Node; that, the transfer and the JSON both pay per product.
    const answer = await (await price(mf, { skus })).json();
    const replay = new Miniflare({ modules: true, compatibilityDate: "2026-04-20",
      bindings: { DECISIONS: answer.decisions.map((d) => JSON.stringify(d)) },
      script: `export default { async fetch(req, env) {
        const n = (await req.json()).skus.length;
        return new Response('{"decisions":[' + env.DECISIONS.slice(0, n).join(",") + "]}",
          { headers: { "Content-Type": "application/json", "Cache-Control": "private, no-store" } });
      } };` });
    try {
      const once = async (target, list) => {
        const t0 = performance.now();
        const r = await price(target, { skus: list });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        return (performance.now() - t0) * 1000;
      };
      for (let i = 0; i < 50; i++) await once(replay, skus);
      const t = { one: [], hundred: [], replayOne: [], replayHundred: [] };
      for (let i = 0; i < (quick ? 40 : 1000); i++) {
        t.one.push(await once(mf, skus.slice(0, 1)));
        t.hundred.push(await once(mf, skus));
        t.replayOne.push(await once(replay, skus.slice(0, 1)));
        t.replayHundred.push(await once(replay, skus));
      }
      const [one, hundred, replayOne, replayHundred] = [t.one, t.hundred, t.replayOne, t.replayHundred].map(stats);
      const perProduct = (hundred.p50 - one.p50) / 99, replayPerProduct = (replayHundred.p50 - replayOne.p50) / 99;
      emit({ env, name: "per product of a category page by SKU: (100 SKUs - 1 SKU) / 99", stage: "page_sku",
        p50_us: perProduct, p99_us: (hundred.p99 - one.p50) / 99, request_1_us: one.p50, request_100_us: hundred.p50,
        replay_p50_us: replayPerProduct, over_replay_us: perProduct - replayPerProduct });
    } finally {
      await replay.dispose();
    }
    // Memory over 100,000 decisions (1,000 requests of 100), sampled as it goes.
    emit({ env, name: `workerd memory over ${quick ? "10,000" : "200,000"} decisions`, stage: "memory", samples: await memory(mf, true) });
  } finally {
    await mf.dispose();
  }
}
