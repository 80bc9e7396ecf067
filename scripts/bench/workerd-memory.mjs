// workerd's memory over 1,000,000 decisions (issue 18): does the workerd process level off,
// and is what grows ours (JS objects the workers-rs glue retains, the module's linear memory)
// or the runtime's? The built worker (EDGEPRICE_WORKER_BUILD, default build/worker-lean) and
// the trivial worker (scripts/bench/trivial-worker.mjs) each answer 10,000 requests pricing
// 100 products (POST /v1/price, as scripts/bench/workerd.mjs does), sampled every 100,000
// decisions:
// - workerd's resident memory (VmRSS and RssAnon of the workerd processes, from /proc);
// - for ours, the module's linear memory (/_edgeprice/status);
// - V8 heap statistics of every isolate of the runtime (the worker `core:user:`, miniflare's
//   `core:entry` that every dispatchFetch passes through, ...) from workerd's inspector
//   (Chrome DevTools Protocol, Runtime.getHeapUsage), before and after a forced full GC
//   (HeapProfiler.collectGarbage: V8 runs it as a platform task, which workerd pumps only
//   while it serves a request, so a small request follows it); garbage not yet collected
//   shows as the difference, retained objects stay after the GC.
// - heap snapshots of the worker's isolate after the first 100,000 decisions and at the end:
//   objects by constructor, and which counts grew in between.
// Each worker runs three ways: "inspected" (inspector on, the samples above, a forced GC at
// every sample), "observed" (inspector on, heap statistics read but no forced GC and no
// snapshot: V8 collects when it decides to, as in production) and "plain" (no inspector, RSS
// only: the control that the inspector itself does not change the RSS).
// Level: the RSS growth over the last half (500,000 -> 1,000,000) is at most 5% of the
// growth over the first half (0 -> 500,000).
// Prints `BENCH {json}` lines. Usage:
//   node scripts/bench/workerd-memory.mjs            (1,000,000 decisions per run)
//   EDGEPRICE_DECISIONS=20000 EDGEPRICE_STEP=5000 node scripts/bench/workerd-memory.mjs
//   EDGEPRICE_WORKER_BUILD=build/worker  (the tract build; absolute paths work too)
//   EDGEPRICE_MEMORY_RUNS=trivial-inspected,ours-inspected  (a subset of the six runs)
import { performance } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { isAbsolute } from "node:path";
import { Miniflare } from "miniflare";
import WebSocket from "ws"; // Node 20 has no global WebSocket; miniflare depends on ws

const root = new URL("../../", import.meta.url).pathname;
const EDGE_TOKEN = "edge-token-for-the-benchmark";
const emit = (o) => console.log(`BENCH ${JSON.stringify(o)}`);
const now = Date.parse("2026-11-28T12:00:00Z") / 1000;
const catalog = JSON.parse(readFileSync(`${root}www/catalog.json`, "utf8")).products;
const products = Array.from({ length: 100 }, (_, i) => ({ ...catalog[i % catalog.length], sku: `sku-b${i}` }));
const session = JSON.parse(readFileSync(`${root}tests/golden/cases.json`, "utf8")).cases[0].session;
const PER_REQUEST = products.length;
const TOTAL = Number(process.env.EDGEPRICE_DECISIONS ?? 1_000_000);
const STEP = Number(process.env.EDGEPRICE_STEP ?? 100_000);
if (TOTAL % STEP || STEP % PER_REQUEST || TOTAL % (2 * STEP)) throw new Error("EDGEPRICE_DECISIONS must be an even multiple of EDGEPRICE_STEP, a multiple of 100");
const buildDir = process.env.EDGEPRICE_WORKER_BUILD ?? "build/worker-lean";
const oursScript = `${isAbsolute(buildDir) ? buildDir : root + buildDir}/entry.mjs`.replace(/\/+entry/, "/entry");
const trivialScript = `${root}scripts/bench/trivial-worker.mjs`;
const MiB = 2 ** 20;
const r2 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);

function start(script, inspector) {
  return new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-20",
    bindings: { SESSION_SECRET: "session-secret-of-the-benchmark-0123456789", EDGE_TOKEN, ORIGIN: "" },
    kvNamespaces: ["POLICY"],
    ...(inspector ? { inspectorPort: 0 } : {}),
  });
}

const price = (mf, body) => mf.dispatchFetch("http://shop.test/v1/price", {
  method: "POST", headers: { Authorization: `Bearer ${EDGE_TOKEN}` }, body: JSON.stringify({ session, now, ...body }),
});

/** Resident memory of the workerd processes under this one (KiB, from /proc): VmRSS, RssAnon. */
function workerdRss() {
  let pids = [];
  try {
    pids = execFileSync("pgrep", ["-P", String(process.pid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {}
  let rss = 0, anon = 0, n = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      if (!/^Name:\s*workerd/m.test(status)) continue;
      rss += Number(/^VmRSS:\s*(\d+)/m.exec(status)[1]);
      anon += Number(/^RssAnon:\s*(\d+)/m.exec(status)?.[1] ?? 0);
      n++;
    } catch {}
  }
  return { rss_mib: r2(rss / 1024), rss_anon_mib: r2(anon / 1024), processes: n };
}

/** A Chrome DevTools Protocol session on one of workerd's isolates. */
async function cdp(url) {
  const ws = new WebSocket(url, { maxPayload: 256 * MiB });
  await new Promise((ok, fail) => { ws.once("open", ok); ws.once("error", fail); });
  let id = 0;
  const pending = new Map();
  let chunks = null;
  ws.on("message", (data) => {
    const m = JSON.parse(data);
    if (m.id !== undefined) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (p) m.error ? p.fail(new Error(`${p.method}: ${JSON.stringify(m.error)}`)) : p.ok(m.result ?? m.params ?? {});
    } else if (m.method === "HeapProfiler.addHeapSnapshotChunk" && chunks) {
      chunks.push(m.params.chunk);
    }
  });
  ws.on("close", () => { for (const p of pending.values()) p.fail(new Error(`${p.method}: inspector closed`)); pending.clear(); });
  const send = (method, params = {}) => new Promise((ok, fail) => {
    const i = ++id;
    pending.set(i, { ok, fail, method });
    ws.send(JSON.stringify({ id: i, method, params }));
  });
  return {
    send,
    async heap() {
      const h = await send("Runtime.getHeapUsage");
      return { used_mib: r2(h.usedSize / MiB), total_mib: r2(h.totalSize / MiB),
        embedder_mib: r2((h.embedderHeapUsedSize ?? 0) / MiB), backing_mib: r2((h.backingStorageSize ?? 0) / MiB) };
    },
    /** A heap snapshot (V8 collects all garbage first), parsed. */
    async snapshot() {
      chunks = [];
      await send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
      const s = JSON.parse(chunks.join(""));
      chunks = null;
      return s;
    },
    close: () => ws.close(),
  };
}

/** Objects of a heap snapshot by kind (constructor name for objects, the type otherwise). */
function summarize(s) {
  const f = s.snapshot.meta.node_fields, types = s.snapshot.meta.node_types[0], nf = f.length;
  const [ti, ni, si] = ["type", "name", "self_size"].map((k) => f.indexOf(k));
  const by = new Map();
  let count = 0, bytes = 0;
  for (let i = 0; i < s.nodes.length; i += nf) {
    const type = types[s.nodes[i + ti]], size = s.nodes[i + si];
    const key = ["object", "native", "closure", "regexp"].includes(type) ? `${type}:${s.strings[s.nodes[i + ni]]}` : type;
    const e = by.get(key) ?? { count: 0, bytes: 0 };
    e.count++; e.bytes += size; by.set(key, e);
    count++; bytes += size;
  }
  return { nodes: count, self_mib: r2(bytes / MiB), by };
}
const top = (by, n) => [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, n).map(([k, v]) => ({ kind: k, count: v.count, kib: r2(v.bytes / 1024) }));
function grown(a, b, n) {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].map((k) => {
    const x = a.get(k) ?? { count: 0, bytes: 0 }, y = b.get(k) ?? { count: 0, bytes: 0 };
    return { kind: k, count_from: x.count, count_to: y.count, kib_from: r2(x.bytes / 1024), kib_to: r2(y.bytes / 1024), dkib: r2((y.bytes - x.bytes) / 1024) };
  }).filter((d) => d.count_to !== d.count_from || d.dkib !== 0).sort((p, q) => Math.abs(q.dkib) - Math.abs(p.dkib)).slice(0, n);
}

async function run(name, script, ours, inspected, forceGc) {
  const t0 = performance.now();
  // The artifact as loaded (miniflare reads it once, at start).
  const wasmSha = ours ? createHash("sha256").update(readFileSync(script.replace(/entry\.mjs$/, "edgeprice_bg.wasm"))).digest("hex") : null;
  const mf = start(script, inspected);
  const sessions = new Map(); // target id -> cdp session
  try {
    await mf.ready;
    if (inspected) {
      const base = String(await mf.getInspectorURL()).replace(/^ws:/, "http:").replace(/\/$/, "");
      const targets = await (await fetch(`${base}/json`)).json();
      for (const t of targets) sessions.set(t.id, await cdp(t.webSocketDebuggerUrl));
      if (!sessions.has("core:user:")) throw new Error(`no core:user: inspector target: ${targets.map((t) => t.id)}`);
    }
    const gcTargets = ["core:user:", "core:entry"].filter((t) => sessions.has(t));
    const pump = async () => {
      const r = ours ? await mf.dispatchFetch("http://shop.test/_edgeprice/status") : await mf.dispatchFetch("http://shop.test/price?sku=a");
      return r.json();
    };
    const heaps = async () => {
      const o = {};
      for (const [id, s] of sessions) o[id] = await s.heap();
      return o;
    };
    /** Forced full GC of the worker's and the entry's isolates: the GC task runs when a
     * request pumps the isolate's message loop. */
    const collect = async () => {
      const done = gcTargets.map((t) => sessions.get(t).send("HeapProfiler.collectGarbage").then(() => true));
      let all = false;
      for (let tries = 0; tries < 5 && !all; tries++) {
        await pump();
        all = await Promise.race([Promise.all(done).then(() => true), new Promise((ok) => setTimeout(() => ok(false), 1000))]);
      }
      return all;
    };
    const samples = [];
    // Observed runs: the worker's and the entry's heap every STEP/100 decisions, to see the
    // collections V8 makes on its own (a drop of used/total size or of the embedder heap).
    const TRACE = Math.max(PER_REQUEST, STEP / 100);
    const trace = inspected && !forceGc ? Object.fromEntries(gcTargets.map((t) => [t, []])) : null;
    let snapFirst = null;
    let tLast = performance.now();
    for (let done = 0; done <= TOTAL; done += PER_REQUEST) {
      if (done % STEP === 0) {
        const tSample = performance.now();
        const status = ours ? await pump() : null;
        const sample = { decisions: done, interval_s: r2((tSample - tLast) / 1000), ...workerdRss() };
        if (ours) Object.assign(sample, { wasm_mib: r2(status.wasm_memory_bytes / MiB), feedback_queued: status.feedback_queued });
        if (inspected) {
          sample.heap = await heaps();
          if (forceGc) {
            sample.gc_completed = await collect();
            sample.heap_after_gc = await heaps();
            const after = workerdRss();
            sample.rss_after_gc_mib = after.rss_mib;
            sample.rss_anon_after_gc_mib = after.rss_anon_mib;
          }
          const u = sample.heap_after_gc ?? sample.heap;
          sample.v8_total_all_isolates_mib = r2(Object.values(u).reduce((a, h) => a + h.total_mib, 0));
          sample.v8_used_all_isolates_mib = r2(Object.values(u).reduce((a, h) => a + h.used_mib, 0));
          if (forceGc && (done === STEP || done === TOTAL)) {
            const snap = summarize(await sessions.get("core:user:").snapshot());
            sample.snapshot = { nodes: snap.nodes, self_mib: snap.self_mib, top: top(snap.by, 12) };
            if (done === STEP) snapFirst = snap;
            else if (snapFirst) sample.snapshot.grown_since_first = grown(snapFirst.by, snap.by, 15);
          }
        }
        samples.push(sample);
        console.error(`${name}: ${done} decisions, rss ${sample.rss_mib} MiB` + (inspected ? `, user heap ${sample.heap["core:user:"].used_mib}/${sample.heap["core:user:"].total_mib} MiB (backing ${sample.heap["core:user:"].backing_mib}, embedder ${sample.heap["core:user:"].embedder_mib})` : "") + (forceGc ? ` -> ${sample.heap_after_gc["core:user:"].used_mib}/${sample.heap_after_gc["core:user:"].total_mib} MiB after GC, rss ${sample.rss_after_gc_mib}` : "") + (ours ? `, wasm ${sample.wasm_mib} MiB` : ""));
        tLast = performance.now();
      }
      if (trace && done % TRACE === 0) {
        for (const t of gcTargets) {
          const h = await sessions.get(t).heap();
          trace[t].push([done, h.used_mib, h.total_mib, h.embedder_mib, h.backing_mib]);
        }
      }
      if (done < TOTAL) {
        const r = await price(mf, { products });
        if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
        await r.arrayBuffer();
      }
    }
    const at = (d) => samples.find((s) => s.decisions === d);
    const [s0, sMid, sEnd, s1] = [at(0), at(TOTAL / 2), at(TOTAL), at(STEP)];
    const first = sMid.rss_mib - s0.rss_mib, second = sEnd.rss_mib - sMid.rss_mib;
    // Also the growth per 100,000 decisions with the warm-up left out: STEP -> TOTAL/2 against
    // TOTAL/2 -> TOTAL.
    const perStepFirst = (sMid.rss_mib - s1.rss_mib) / ((TOTAL / 2 - STEP) / STEP), perStepSecond = second / (TOTAL / 2 / STEP);
    const result = {
      env: `workerd-memory-${name}`, name: `workerd memory over ${TOTAL} decisions: ${name}`, stage: "memory",
      worker: ours ? script.replace(root, "") : "scripts/bench/trivial-worker.mjs",
      wasm_sha256: wasmSha,
      inspected, forced_gc: forceGc, decisions: TOTAL, step: STEP, seconds: r2((performance.now() - t0) / 1000),
      rss_first_half_mib: r2(first), rss_second_half_mib: r2(second), second_over_first: r2(first > 0 ? second / first : null),
      level: first > 0 ? second <= 0.05 * first : second <= 0,
      rss_per_100k_first_half_after_warmup_mib: r2(perStepFirst * (100_000 / STEP)), rss_per_100k_second_half_mib: r2(perStepSecond * (100_000 / STEP)),
      samples,
    };
    if (trace) {
      result.heap_trace_fields = ["decisions", "used_mib", "total_mib", "embedder_mib", "backing_mib"];
      result.heap_trace_summary = Object.fromEntries(Object.entries(trace).map(([t, rows]) => {
        const col = (i) => rows.map((r) => r[i]);
        const drops = (i) => rows.filter((r, k) => k > 0 && r[i] < rows[k - 1][i]).length;
        return [t, { points: rows.length, used_min: Math.min(...col(1)), used_max: Math.max(...col(1)), total_min: Math.min(...col(2)), total_max: Math.max(...col(2)),
          total_end: rows.at(-1)[2], embedder_max: Math.max(...col(3)), backing_max: Math.max(...col(4)),
          used_drops: drops(1), total_drops: drops(2), embedder_drops: drops(3) }];
      }));
      result.heap_trace = trace;
    }
    emit(result);
    return result;
  } finally {
    for (const s of sessions.values()) s.close();
    await mf.dispose();
  }
}

const wanted = (process.env.EDGEPRICE_MEMORY_RUNS ?? "trivial-inspected,ours-inspected,trivial-observed,ours-observed,trivial-plain,ours-plain").split(",");
const t0 = performance.now();
const results = [];
for (const name of wanted) {
  const [who, how] = name.split("-");
  if (!["trivial", "ours"].includes(who) || !["inspected", "observed", "plain"].includes(how)) throw new Error(`unknown run ${name}`);
  results.push(await run(name, who === "ours" ? oursScript : trivialScript, who === "ours", how !== "plain", how === "inspected"));
}
emit({ env: "workerd-memory", name: "summary", stage: "memory", seconds: r2((performance.now() - t0) / 1000),
  runs: results.map((r) => ({ run: r.env, level: r.level, rss_start_mib: r.samples[0].rss_mib, rss_mid_mib: r.samples[r.samples.length >> 1].rss_mib,
    rss_end_mib: r.samples.at(-1).rss_mib, first_half_mib: r.rss_first_half_mib, second_half_mib: r.rss_second_half_mib, second_over_first: r.second_over_first })) });
