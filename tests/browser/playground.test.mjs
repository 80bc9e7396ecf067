// The playground in real headless Chromium (Debian's, driven by playwright-core): it loads
// the wasm engine and default bundle, reprices as the session changes, tracks browsing,
// rejects a tampered bundle with its reason, and measures decisions per second. Takes a
// screenshot into a temporary folder; `UPDATE_SCREENSHOT=1` writes www/screenshot.png for
// the README instead (a test run leaves tracked files as they are).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { chromium } from "playwright-core";

const root = new URL("../../", import.meta.url).pathname;
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json" };
let server, browser, page, base;

before(async () => {
  server = createServer(async (req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    const file = path.endsWith("/") ? join(path, "index.html") : path;
    if (!file.startsWith(root)) return res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    // playwright gives every launch a fresh, empty profile directory of its own.
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${base}/www/`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  assert.deepEqual(errors, []);
});

after(async () => {
  await browser?.close();
  server?.close();
});

const decision = async () => JSON.parse(await page.textContent("#json"));

test("loads the default policy and prices the shaped session", async () => {
  assert.match(await page.textContent("#policy"), /policy v1 · key edgeprice-default-2026-12b/);
  const d = await decision();
  assert.equal(d.policy_version, 1);
  assert.ok(["model", "explore", "control"].includes(d.arm), d.arm);
  assert.equal(await page.textContent("#arm"), d.arm);
  const total = d.candidates.reduce((s, c) => s + c.propensity, 0);
  assert.ok(Math.abs(total - 1) < 1e-9);
});

test("reprices when the session changes", async () => {
  const before = await decision();
  await page.fill("#session-id", "playground-2");
  await page.locator("#f-PageValues").fill("80");
  await page.locator("#f-ExitRates").fill("0.005");
  const after = await decision();
  assert.ok(after.purchase_probability > before.purchase_probability, `${after.purchase_probability} vs ${before.purchase_probability}`);
  assert.notEqual(after.decision_id, before.decision_id);
});

test("browsing feeds the session tracker", async () => {
  await page.check("input[name=mode][value=tracker]");
  await page.click("text=view a product page");
  await page.click("text=view a product page");
  await page.click("text=view the cart");
  assert.match(await page.textContent("#tracked"), /^3 pages viewed · ProductRelated 2/);
  assert.notEqual((await decision()).arm, "fallback");
});

test("a tampered bundle is rejected with its reason and the policy stays", async () => {
  const bytes = readFileSync(new URL("models/default.epb", `file://${root}`));
  bytes[bytes.length >> 1] ^= 1;
  await page.setInputFiles("#bundle-file", { name: "tampered.epb", mimeType: "application/octet-stream", buffer: bytes });
  await page.waitForSelector("#bundle-status.error");
  assert.match(await page.textContent("#bundle-status"), /bundle rejected \(bundle_bad_signature\).*policy v1 stays live/);
});

test("measures decisions per second and takes the README screenshot", async () => {
  const perSecond = Number(await page.getAttribute("#speed", "data-per-second"));
  assert.ok(perSecond > 0);
  console.log(`playground: ${Math.round(perSecond)} decisions per second in headless Chromium`);
  await page.check("input[name=mode][value=features]");
  const folder = process.env.UPDATE_SCREENSHOT ? null : mkdtempSync(join(tmpdir(), "edgeprice-shot-"));
  const path = folder === null ? join(root, "www/screenshot.png") : join(folder, "playground.png");
  await page.screenshot({ path, fullPage: true });
  assert.ok(statSync(path).size > 10_000, `a screenshot at ${path}`);
  if (folder !== null && !process.env.EDGEPRICE_KEEP_TEMP) rmSync(folder, { recursive: true });
});
