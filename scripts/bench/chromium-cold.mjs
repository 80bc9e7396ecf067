// Cold starts of a browser build (pkg/web-lean by default, or pkg/web) in headless Chromium,
// the browser counterpart of node-cold.cjs: a tiny local server (node:http) serves the
// package (`.wasm` as `application/wasm`, so wasm-bindgen's default init compiles it with
// WebAssembly.instantiateStreaming) and a page whose inline module script times, with
// performance.now(): the glue's import + fetch + compile + instantiate (`init()`), verify
// the built-in bundle and load its model (`PricingEngine.withDefault(now)`), and the first
// decision (`engine.price(...)`, node-cold.cjs's session and product).
//
// Each run is a fresh browser context (empty HTTP cache) in which the page is visited
// `VISITS` times (default 3), each visit in a new tab after the previous one is closed (a new
// renderer process: TRACE_WASM_CACHE=1 shows its pid); a visit stays open `DWELL_MS` (default
// 3000) after its first decision, the time V8 needs to decide to cache compiled wasm
// (--wasm-caching-timeout-ms is 2000). Two kinds of context, alternated run by run:
//   incognito  browser.newContext(): in-memory profile (what a fresh context usually means)
//   profile    launchPersistentContext on a new temporary user data dir: an on-disk profile,
//              where Chromium keeps its code cache; its `Code Cache/wasm` size is recorded
//              after each visit
// `CONTEXTS=incognito` (or `profile`) runs one kind only.
//
// Usage: node scripts/bench/chromium-cold.mjs [pkg/web-lean | pkg/web] [quick]
//   env PKG (package dir, if no argument), CHROMIUM (default /usr/bin/chromium), RUNS
//   (default 7, quick 2), VISITS, DWELL_MS, CONTEXTS, TRACE_WASM_CACHE=1 (records a Chrome
//   trace of each visit and prints the counts of its v8.wasm.* events, e.g.
//   v8.wasm.moduleCacheHit / v8.wasm.cachedModule: slower, a diagnostic, not for the figures).
// Prints each visit, a table of medians, and `BENCH {json}` lines in node-cold's shape
// (module_ms, verify_load_ms, first_decision_ms, total_ms): env chromium-lean or
// chromium-tract, stage "cold" for the first visit in a fresh incognito context, stage
// "cold-visit" (with context and visit fields) for the rest.
import { createHash } from "node:crypto";
import http from "node:http";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, extname, join, resolve } from "node:path";
import { chromium } from "playwright-core";

const args = process.argv.slice(2);
const quick = args.includes("quick");
const pkgDir = resolve(args.find((a) => a !== "quick") ?? process.env.PKG ?? "pkg/web-lean");
const runs = Number(process.env.RUNS ?? (quick ? 2 : 7));
const visits = Number(process.env.VISITS ?? 3);
const dwellMs = Number(process.env.DWELL_MS ?? 3000);
const kinds = (process.env.CONTEXTS ?? "incognito,profile").split(",");
const trace = process.env.TRACE_WASM_CACHE === "1";
const env = basename(pkgDir) === "web-lean" ? "chromium-lean" : basename(pkgDir) === "web" ? "chromium-tract" : `chromium-${basename(pkgDir)}`;
// The package is read once, so a rebuild during the run cannot mix two builds.
// Paths relative to the package, its JS snippets (snippets/...) included.
const files = new Map(readdirSync(pkgDir, { recursive: true }).filter((n) => statSync(join(pkgDir, n)).isFile())
  .map((n) => [n, { body: readFileSync(join(pkgDir, n)), modified: new Date(statSync(join(pkgDir, n)).mtimeMs).toUTCString() }]));
const wasmBytes = files.get("edgeprice_bg.wasm").body.length;
const wasmSha = createHash("sha256").update(files.get("edgeprice_bg.wasm").body).digest("hex").slice(0, 16);

// The page: the module script wraps instantiateStreaming only to record that init used it
// and that it succeeded (the call itself is the browser's).
const page = `<!doctype html><meta charset="utf-8"><title>cold</title><link rel="icon" href="data:,">
<script type="module">
const out = { streaming: "not called" };
const original = WebAssembly.instantiateStreaming;
WebAssembly.instantiateStreaming = function (source, imports) {
  out.streaming = "called";
  return original.call(WebAssembly, source, imports).then(
    (r) => { out.streaming = "ok"; return r; },
    (e) => { out.streaming = "failed: " + e; throw e; });
};
try {
  const t0 = performance.now();
  const glue = await import("/pkg/edgeprice.js");
  const tg = performance.now();
  await glue.default();
  const t1 = performance.now();
  const now = Date.parse("2026-11-28T12:00:00Z") / 1000;
  const engine = glue.PricingEngine.withDefault(now);
  const t2 = performance.now();
  const product = { sku: "sku-1001", list_price: 49.99, cost: 22, currency: "USD", stock: 120, category: "shoes" };
  const d = engine.price({ session_id: "cold", features: { ProductRelated: 12, PageValues: 10 } }, product, now);
  const t3 = performance.now();
  if (d.arm === "fallback") throw new Error("first decision fell back: " + d.reasons);
  const w = performance.getEntriesByName(new URL("/pkg/edgeprice_bg.wasm", location.href).href)[0];
  Object.assign(out, {
    module_ms: t1 - t0, verify_load_ms: t2 - t1, first_decision_ms: t3 - t2, total_ms: t3 - t0,
    glue_ms: tg - t0, init_ms: t1 - tg, script_start_ms: t0, since_navigation_ms: t3,
    wasm_response_end_ms: w ? w.responseEnd - t0 : null, wasm_transfer_bytes: w ? w.transferSize : null,
    price: d.price, arm: d.arm,
  });
} catch (e) {
  out.error = String(e && e.stack || e);
}
window.__cold = out;
</script>`;

const types = { ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".ts": "text/plain" };
const server = http.createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/" || path === "/index.html") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    return res.end(page);
  }
  const name = path.startsWith("/pkg/") ? path.slice(5) : null;
  if (!name || name.split("/").some((part) => part === "" || part.startsWith("."))) { res.writeHead(404); return res.end(); }
  const file = files.get(name);
  if (!file) { res.writeHead(404); return res.end(); }
  // Cacheable for an hour, like a hashed asset on a CDN: a later visit in the same context
  // takes it from the HTTP cache, which is where Chromium hangs the wasm code cache.
  res.writeHead(200, { "Content-Type": types[extname(name)] ?? "application/octet-stream", "Content-Length": file.body.length,
    "Cache-Control": "public, max-age=3600", "Last-Modified": file.modified });
  res.end(file.body);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const launchArgs = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
const launchOptions = { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: launchArgs };

function dirBytes(dir) {
  let total = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) total += e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  } catch { /* not there (yet) */ }
  return total;
}

// Blink's instant events about wasm streaming and its code cache (devtools.timeline).
const traceCategories = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.wasm"];
function wasmEvents(buffer) {
  const counts = {}, pids = new Set();
  for (const e of JSON.parse(buffer.toString()).traceEvents) {
    if (!/^v8\.wasm\./.test(e.name)) continue;
    counts[e.name] = (counts[e.name] ?? 0) + 1;
    pids.add(e.pid);
  }
  return (Object.entries(counts).map(([k, n]) => `${k}${n > 1 ? " x" + n : ""}`).join(", ") || "none") + ` (renderer pid ${[...pids].join(", ")})`;
}

async function visit(context, codeCacheDir) {
  const tracer = trace ? (context.browser() ?? browser) : null;
  const tab = await context.newPage();
  if (tracer) await tracer.startTracing(undefined, { categories: traceCategories });
  const problems = [];
  tab.on("pageerror", (e) => problems.push(e.message));
  tab.on("console", (m) => (m.type() === "warning" || m.type() === "error") && problems.push(m.text()));
  await tab.goto(url);
  await tab.waitForFunction(() => window.__cold !== undefined, null, { timeout: 60_000 });
  const r = await tab.evaluate(() => window.__cold);
  if (r.error) throw new Error(`page: ${r.error}`);
  if (problems.length) r.console = problems;
  if (dwellMs > 0) await new Promise((ok) => setTimeout(ok, dwellMs));
  await tab.close();
  if (tracer) r.trace = wasmEvents(await tracer.stopTracing());
  if (codeCacheDir) r.wasm_code_cache_bytes = dirBytes(codeCacheDir); // after the tab is gone
  return r;
}

async function oneRun(kind) {
  const out = [];
  if (kind === "incognito") {
    const context = await browser.newContext();
    for (let v = 1; v <= visits; v++) out.push(await visit(context, null));
    await context.close();
  } else {
    const dir = mkdtempSync(join(tmpdir(), "chromium-cold-"));
    const context = await chromium.launchPersistentContext(dir, launchOptions);
    const cache = join(dir, "Default", "Code Cache", "wasm");
    for (let v = 1; v <= visits; v++) out.push(await visit(context, cache));
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const browser = kinds.includes("incognito") ? await chromium.launch(launchOptions) : null;
const version = browser ? browser.version() : null;
console.log(`# ${env}: ${pkgDir} (edgeprice_bg.wasm ${wasmBytes.toLocaleString("en")} B, sha256 ${wasmSha}...) in Chromium${version ? " " + version : ""}, `
  + `${runs} runs x ${visits} visits, dwell ${dwellMs} ms, contexts ${kinds.join(", ")}${trace ? ", tracing v8.wasm events" : ""}`);
const results = Object.fromEntries(kinds.map((k) => [k, []]));
const f = (x, d = 1) => (x == null ? "-" : x.toFixed(d));
for (let i = 0; i < runs; i++) {
  for (const kind of kinds) {
    const rs = await oneRun(kind);
    results[kind].push(rs);
    rs.forEach((r, v) => console.log(`run ${i + 1} ${kind.padEnd(9)} visit ${v + 1}: module ${f(r.module_ms)} (glue ${f(r.glue_ms)}, init ${f(r.init_ms)}; `
      + `wasm response end ${f(r.wasm_response_end_ms)}, transfer ${r.wasm_transfer_bytes} B) verify+load ${f(r.verify_load_ms)} first ${f(r.first_decision_ms, 2)} `
      + `total ${f(r.total_ms)} ms; since navigation ${f(r.since_navigation_ms)} ms; streaming ${r.streaming}`
      + (r.wasm_code_cache_bytes !== undefined ? `; Code Cache/wasm ${r.wasm_code_cache_bytes} B` : "") + (r.console ? `; console: ${r.console.join(" | ")}` : "") + (r.trace ? `; trace: ${r.trace}` : "")));
  }
}
await browser?.close();
server.close();

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const keys = ["module_ms", "glue_ms", "init_ms", "wasm_response_end_ms", "verify_load_ms", "first_decision_ms", "total_ms", "since_navigation_ms"];
console.log(`\n| ${env}: medians of ${runs} (ms) | module (glue + init) | verify + load | first decision | total | since navigation | streaming | wasm from HTTP cache | wasm code cache after visit |`);
console.log("|---|---|---|---|---|---|---|---|---|");
const bench = [];
for (const kind of kinds) {
  for (let v = 0; v < visits; v++) {
    const rs = results[kind].map((run) => run[v]);
    const med = Object.fromEntries(keys.map((k) => [k, median(rs.map((r) => r[k]))]));
    const streaming = [...new Set(rs.map((r) => r.streaming))].join("/");
    const fromCache = rs.filter((r) => r.wasm_transfer_bytes === 0).length;
    const cache = rs[0].wasm_code_cache_bytes === undefined ? "-" : rs.map((r) => r.wasm_code_cache_bytes).join(", ") + " B";
    console.log(`| ${kind}, visit ${v + 1}${v === 0 ? " (fresh)" : ""} | ${f(med.module_ms)} (${f(med.glue_ms)} + ${f(med.init_ms)}) | ${f(med.verify_load_ms)} `
      + `| ${f(med.first_decision_ms, 2)} | ${f(med.total_ms)} | ${f(med.since_navigation_ms)} | ${streaming} | ${fromCache}/${rs.length} runs | ${cache} |`);
    const headline = kind === "incognito" && v === 0;
    bench.push({ env, name: `cold start in Chromium: page script to first decision (${kind} context, visit ${v + 1}, median of ${rs.length} contexts)`,
      stage: headline ? "cold" : "cold-visit", context: kind, visit: v + 1, runs: rs.length, streaming, wasm_from_http_cache_runs: fromCache, wasm_bytes: wasmBytes, wasm_sha256_16: wasmSha, ...med });
  }
}
console.log("");
for (const b of bench) console.log("BENCH " + JSON.stringify(b));
