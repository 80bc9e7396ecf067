// Smoke test of `edgeprice demo` (the README's first command): the demo runs with its own
// shoppers while this test browses product pages through its worker as shoppers of its own;
// every page carries a decided price and its decision id, a disclosure exactly where the
// price is personalized, and the origin holds each of those decisions with the price the
// page showed. The status line reports the origin's decisions; the playground it serves
// prices in Chromium. Ctrl-C (SIGINT) stops the
// demo with status 0, and every process it started is gone, its ports closed.
// `UPDATE_SCREENSHOT=1` writes docs/demo/product-page.png (a personalized page in Chromium).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const root = new URL("../../", import.meta.url).pathname;
const target = process.env.CARGO_TARGET_DIR ?? `${process.env.HOME}/.cache/edgeprice/target`;
// What `cargo demo` builds (the CLI without `full`, profile demo).
const bin = process.env.EDGEPRICE_DEMO_BIN ?? `${target}/demo/edgeprice`;
const ADMIN = "admin-token-of-the-demo-smoke-test";
const base = 21000 + (process.pid % 300) * 3;
const [originPort, workerPort, playgroundPort] = [base, base + 1, base + 2];
const worker = `http://127.0.0.1:${workerPort}`;
const origin = `http://127.0.0.1:${originPort}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(check, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const got = await check().catch(() => undefined);
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Every process below `pid` now (from /proc's parent links). */
function descendants(pid) {
  const parent = new Map();
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* gone meanwhile */ }
  }
  const out = [];
  const walk = (p) => { for (const [c, pp] of parent) if (pp === p) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const portOpen = (port) => new Promise((ok) => {
  const s = createConnection({ port, host: "127.0.0.1" }, () => { s.destroy(); ok(true); });
  s.on("error", () => ok(false));
});

/** A minimal CSV reader (quoted fields with doubled quotes). */
function csv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field.replace(/\r$/, "")); rows.push(row); row = []; field = ""; }
    else field += c;
  }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

/** One shopper of this test: a few product views (high page values), then a product page. */
async function browse(sku, n) {
  let cookie = "";
  const keep = (res) => { const c = res.headers.get("set-cookie"); if (c) cookie = c.split(";")[0]; };
  const events = Array.from({ length: 4 + n % 20 }, (_, i) => ({ page: "product", seconds: 30 + 5 * i, page_id: i % 2 ? "product/sku-1004" : "checkout/cart" }));
  const posted = await fetch(`${worker}/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ events }) });
  assert.equal(posted.status, 200, await posted.text());
  keep(posted);
  const res = await fetch(`${worker}/products/${sku}`, { headers: { cookie } });
  const html = await res.text();
  assert.equal(res.status, 200, html);
  const m = html.match(new RegExp(`data-edgeprice-sku="${sku}"[^>]*data-edgeprice-decision="([0-9a-z]+)"[^>]*>([0-9.]+) ([A-Z]{3})<`))
    ?? html.match(new RegExp(`data-edgeprice-decision="([0-9a-z]+)"[^>]*data-edgeprice-sku="${sku}"[^>]*>([0-9.]+) ([A-Z]{3})<`));
  assert.ok(m, `a decided price and its decision id on the page of ${sku}:\n${html}`);
  const paragraph = html.match(/<p class="edgeprice-disclosure"( hidden)?>([^<]*)<\/p>/);
  assert.ok(paragraph, "the page keeps its disclosure paragraph");
  return {
    sku, id: m[1], price: Number(m[2]), currency: m[3],
    shown: paragraph[1] === undefined && paragraph[2].length > 0,
    header: res.headers.get("edgeprice-disclosure"),
  };
}

test("the demo prices pages through the worker, fills the origin, and stops everything it started", { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "edgeprice-demo-test-"));
  const demo = spawn(bin, ["demo", "--seconds", "300", "--rate", "4", "--every", "3", "--dir", dir,
    "--origin-port", String(originPort), "--worker-port", String(workerPort), "--playground-port", String(playgroundPort)],
  { cwd: root, env: { ...process.env, EDGEPRICE_ADMIN_TOKEN: ADMIN }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  demo.stdout.on("data", (c) => { out += c; });
  demo.stderr.on("data", (c) => { err += c; });
  const exited = new Promise((ok) => demo.on("exit", (code, signal) => ok({ code, signal })));
  t.after(() => {
    if (alive(demo.pid)) demo.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await until(async () => err.includes("first priced page after"), 420_000, "the demo's first priced page");
    assert.ok(!err.includes(ADMIN), "a token from the environment is not printed");

    const catalog = JSON.parse(readFileSync(join(root, "www/catalog.json"), "utf8")).products;
    const pages = [];
    for (let n = 0; n < 24; n++) pages.push(await browse(catalog[n % catalog.length].sku, n));
    for (const p of pages) {
      // A disclosure in the page exactly when the response carries it in its header.
      assert.equal(p.shown, p.header !== null, `${p.sku} ${p.id}: paragraph and header agree`);
    }

    // The origin holds every decision these pages showed, at the price shown; the
    // personalized ones (arm `model`) are the ones that carried the disclosure.
    const auth = { authorization: `Bearer ${ADMIN}` };
    const rows = await until(async () => {
      const res = await fetch(`${origin}/v1/export/decisions.csv`, { headers: auth });
      const all = csv(await res.text());
      const ids = new Set(all.map((r) => r.decision_id));
      return pages.every((p) => ids.has(p.id)) && all;
    }, 60_000, "the pages' decisions at the origin");
    const byId = new Map(rows.map((r) => [r.decision_id, r]));
    for (const p of pages) {
      const r = byId.get(p.id);
      assert.ok(Math.abs(Number(r.price) - p.price) < 0.005, `${p.id}: origin ${r.price}, page ${p.price}`);
      assert.equal(r.personalized === "true", p.shown, `${p.id} (arm ${r.arm}): disclosed exactly when personalized`);
      assert.equal(r.disclosed === "true", p.shown, `${p.id}: the origin logged the disclosure as shown`);
    }
    assert.ok(pages.some((p) => p.shown), "some pages were personalized (and disclosed)");
    assert.ok(rows.length > pages.length, `the demo's own shoppers reached the origin too (${rows.length} decisions)`);
    assert.ok(rows.some((r) => r.purchased === "true"), "some of the demo's shoppers bought");

    // The status line reports what the origin stored.
    await until(async () => /origin: policy v1 · decisions [1-9]/.test(out), 60_000, "a status line with the origin's decisions");

    // A personalized page in Chromium, as a shopper sees it.
    const personalized = pages.find((p) => p.shown);
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 330 } });
      const events = Array.from({ length: 12 }, (_, i) => ({ page: "product", seconds: 40, page_id: i % 2 ? "product/sku-1004" : "checkout/cart" }));
      const posted = await page.request.post(`${worker}/events`, { data: { events } });
      assert.equal(posted.status(), 200);
      await page.goto(`${worker}/products/${personalized.sku}`);
      const shots = process.env.UPDATE_SCREENSHOT === "1" ? join(root, "docs/demo") : dir;
      mkdirSync(shots, { recursive: true });
      const path = join(shots, "product-page.png");
      await page.screenshot({ path });
      assert.ok(statSync(path).size > 5_000, `a screenshot at ${path}`);
      assert.match(await page.textContent("[data-edgeprice-sku]"), /^\d+\.\d\d [A-Z]{3}$/);

      // The playground the demo serves prices in the browser with the lean package.
      await until(async () => err.includes("the playground is ready"), 300_000, "the playground's package");
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${playgroundPort}/`);
      await page.waitForFunction(() => /policy v1/.test(document.querySelector("#policy")?.textContent ?? ""), null, { timeout: 30_000 });
      const d = JSON.parse(await page.textContent("#json"));
      assert.equal(d.policy_version, 1);
      assert.ok(["model", "explore", "control"].includes(d.arm), d.arm);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }

    // Ctrl-C: the demo stops with status 0 and leaves nothing running.
    const started = descendants(demo.pid);
    assert.ok(started.length > 0, "the demo runs wrangler (and workerd) below it");
    demo.kill("SIGINT");
    let timer;
    const { code, signal } = await Promise.race([exited, new Promise((ok) => { timer = setTimeout(() => ok({ code: "timeout" }), 60_000); })]);
    clearTimeout(timer);
    assert.equal(code, 0, `the demo's exit (${signal ?? ""})`);
    assert.match(err, /Nothing left running/);
    await sleep(500);
    assert.deepEqual(started.filter(alive), [], "no process the demo started is left");
    for (const port of [originPort, workerPort, playgroundPort]) assert.equal(await portOpen(port), false, `port ${port} closed`);
  } catch (e) {
    t.diagnostic(`demo stdout (last lines):\n${out.split("\n").slice(-15).join("\n")}`);
    t.diagnostic(`demo stderr:\n${err.slice(-4000)}`);
    throw e;
  }
});
