// The merchant console (/console) in real headless Chromium against a real origin filled by
// `edgeprice simulate` (two simulated days of a v2 bundle on a catalog product). It proves:
// a wrong admin token is refused with a readable message; every number each page renders
// (an element with `data-key`, its raw `data-value`) equals the value at that path in the
// JSON the admin API answers the test (tolerance 1e-9), with the charts present; the
// off-policy evaluation of an uploaded bundle shows the API's own DR/IPS/SNIPS numbers and a
// bundle of an unknown key its error code; publishing v3, rolling back to v2 and the rules
// diff work from the Policies page; no page throws. One full-page screenshot per page goes to
// a temporary folder; `UPDATE_SCREENSHOT=1` writes docs/console/<page>.png for the README.
// The binary embeds crates/origin/console/*: `CONSOLE_FROM_TREE=1` serves the working tree's
// files instead (the API is still the binary's), to try a console edit without a rebuild.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startOrigin, keygen, bundle, bin, root, ADMIN_TOKEN, EDGE_TOKEN, tempDir, publish, until } from "../worker/harness.mjs";

let dir, key, origin, browser, page, simulated = 0, shots;
const errors = [];
const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const get = async (path) => {
  const r = await fetch(`${origin.url}${path}`, { headers: auth });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
};
const evaluate = async (bytes) => {
  const r = await fetch(`${origin.url}/v1/reports/evaluate`, { method: "POST", headers: { ...auth, "Content-Type": "application/vnd.edgeprice.bundle" }, body: bytes });
  return { status: r.status, body: await r.json() };
};
const stamp = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

before(async () => {
  dir = tempDir();
  shots = process.env.UPDATE_SCREENSHOT === "1" ? join(root, "docs/console") : join(dir, "shots");
  mkdirSync(shots, { recursive: true });
  key = keygen(dir, "console-key");
  // The test's own admin requests (two snapshots of 8 answers per page) would drain the
  // default admin bucket (10/s, bursts of 20) that the console's requests share.
  origin = await startOrigin({ dir, trusted: [key.pub],
    env: { EDGEPRICE_ROLLUP_SECONDS: "1", EDGEPRICE_REQUEST_TIMEOUT_SECONDS: "2", EDGEPRICE_ADMIN_RATE: "1000:2000" } });
  assert.equal((await publish(origin.url, bundle(dir, key, 2))).status, 201);
  // A catalog product: the origin evaluates candidates against its catalog's product, so
  // the simulated prices must come from the same list price and cost.
  const catalog = JSON.parse(readFileSync(join(root, "www/catalog.json"), "utf8"));
  writeFileSync(`${dir}/product.json`, JSON.stringify(catalog.products.find((p) => p.sku === "sku-1002")));
  const rows = readFileSync(join(root, "../shared/data/online_shoppers_train.csv"), "utf8").trim().split("\n");
  // Two days of traffic (1,500 sessions each) inside the bundle's validity (created now, 30 days).
  for (const [seed, day] of [[1, 0], [2, 2]]) {
    writeFileSync(`${dir}/day${day}.csv`, [rows[0], ...rows.slice(1 + (seed - 1) * 1500, 1 + seed * 1500)].join("\n") + "\n");
    const out = execFileSync(bin, ["simulate", "--data", `${dir}/day${day}.csv`, "--policy", `${dir}/v2-console-key.epb`,
      "--trusted-key", key.pub, "--product", `${dir}/product.json`, "--seed", String(seed),
      "--now", stamp(Date.now() + 60_000 + day * 86_400_000), "--origin", origin.url, "--json"],
    { cwd: root, encoding: "utf8", env: { ...process.env, EDGEPRICE_EDGE_TOKEN: EDGE_TOKEN } });
    simulated += JSON.parse(out).sessions;
  }
  await until(async () => (await get("/v1/reports/overview")).feedback.decisions === simulated, 30_000, `${simulated} decisions rolled up`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => errors.push(e.message));
  // console.error of an exception a page caught (it then shows "could not be loaded"); the
  // browser's own lines for the 401 and 400 answers the test provokes are expected.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  if (process.env.CONSOLE_FROM_TREE === "1") { // the working tree's console files, not the binary's
    await page.route(/\/console(\/[a-z.]+)?$/, (r) => r.fulfill({ path: join(root, "crates/origin/console", new URL(r.request().url()).pathname.split("/")[2] || "index.html") }));
  }
  await page.goto(`${origin.url}/console`);
  await page.waitForSelector("body[data-ready=true]");
});

after(async () => {
  await browser?.close();
  await origin?.stop();
});

/** Every JSON answer a page's `data-key`s can name, for the policy version `v`. */
async function snapshot(v) {
  const policy = await get("/v1/policy");
  const [overview, summary, timeseries, prices, fairness, manifest, deliveries] = await Promise.all([
    get("/v1/reports/overview"), get(`/v1/reports/summary?policy_version=${v}`), get(`/v1/reports/timeseries?bucket=hour&policy_version=${v}`),
    get(`/v1/reports/prices?policy_version=${v}`), get(`/v1/reports/fairness?policy_version=${v}`),
    get(`/v1/policy/${policy.live}/manifest`), get("/v1/push/deliveries?limit=20")]);
  return { overview, summary, timeseries, prices, fairness, manifest, policy, deliveries };
}

const at = (obj, path) => path.reduce((o, k) => (o == null ? undefined : o[k]), obj);
/** The page's raw text of a number against the API's value: 1e-9 relative, null for null. */
function same(text, value) {
  if (value === null) return text === "null";
  if (typeof value !== "number") return text === String(value);
  const n = Number(text);
  return text !== "null" && Math.abs(n - value) <= 1e-9 * Math.max(Math.abs(n), Math.abs(value));
}
/** The mismatches between the page's numbers and `answers`; counts the keys compared. */
async function compare(answers, only = null) {
  const shown = await page.$$eval("[data-key]", (els) => els.map((e) => [e.dataset.key, e.dataset.value]));
  const bad = [];
  let checked = 0;
  for (const [k, text] of shown) {
    const [name, ...path] = k.split(".");
    if (only && name !== only) continue;
    assert.ok(name in answers, `the page shows ${k}, of no endpoint the test knows`);
    checked++;
    const value = at(answers[name], path);
    if (!same(text, value)) bad.push(`${k}: page ${text}, API ${JSON.stringify(value)}`);
  }
  return { checked, bad };
}

/** Opens `name` (by hash, then by reload while the overview's clock moves) and compares it. */
async function checkPage(name, min, charts = []) {
  let result;
  for (let attempt = 0; attempt < 4; attempt++) {
    const live = String((await get("/v1/policy")).live);
    const before = await snapshot(live);
    if (attempt === 0) await page.evaluate((n) => { location.hash = n; }, name);
    else await page.reload();
    await page.waitForSelector(`body[data-ready=true][data-page=${name}]`);
    const select = page.locator("#policy-version");
    if (await select.count()) assert.equal(await select.inputValue(), live, "the page shows the live version by default");
    const after = await snapshot(live);
    // A rollup (every second) between the snapshots may move the overview's counters: the
    // page's answer was fetched in between, so each number must equal one of the two.
    const [a, b] = [await compare(before), await compare(after)];
    const bad = a.bad.filter((m) => b.bad.some((n) => n.split(":")[0] === m.split(":")[0]));
    result = { checked: a.checked, bad, answers: after };
    if (!bad.length) break;
  }
  assert.deepEqual(result.bad, [], `${name}: numbers differ from the API`);
  assert.ok(result.checked >= min, `${name}: only ${result.checked} numbers compared`);
  for (const c of charts) assert.equal(await page.locator(`svg[data-chart=${c}]`).count(), 1, `${name}: chart ${c}`);
  console.log(`console ${name}: ${result.checked} numbers match the API`);
  return result.answers;
}

const shot = async (name) => {
  const path = join(shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  assert.ok(statSync(path).size > 10_000, `a screenshot at ${path}`);
};
const errorText = () => until(async () => (await page.textContent("#error")).trim(), 10_000, "an error message");

test("a wrong admin token is refused, then the right one signs in", async () => {
  await page.fill("#token", "not-the-admin-token");
  await page.click("#sign-in");
  assert.match(await errorText(), /admin token was refused.*unauthorized.*HTTP 401/);
  assert.ok(await page.isVisible("#sign-in-form"), "the form comes back for the right token");
  await page.fill("#token", ADMIN_TOKEN);
  await page.click("#sign-in");
  await page.waitForSelector("body[data-ready=true][data-page=overview] #page .facts");
  assert.equal((await page.textContent("#error")).trim(), "");
});

test("every page shows the API's numbers and its charts", async () => {
  const ov = await checkPage("overview", 15);
  assert.equal(ov.overview.feedback.decisions, simulated);
  await shot("overview");
  const ex = await checkPage("experiment", 60, ["profit-over-time", "uplift-over-time"]);
  for (const arm of ["model", "explore", "control"]) {
    assert.ok(ex.summary.arms.find((a) => a.arm === arm)?.decisions > 0, `arm ${arm} has decisions`);
  }
  assert.ok(new Set(ex.timeseries.points.map((p) => p.start)).size > 1, "more than one hour in the time series");
  const pr = await checkPage("prices", 30, ["price-distribution", "price-conversion"]);
  assert.ok(pr.prices.products.length > 0);
  assert.ok(pr.prices.products.some((p) => p.arms.some((a) => a.points.some((q) => q.believed != null))), "some believed probability");
  await shot("prices");
  const fa = await checkPage("fairness", 100, ["fairness-relative-price"]);
  assert.ok(fa.fairness.groups.length > 0);
  await shot("fairness");
  await checkPage("policies", 3);
});

test("the experiment page evaluates a candidate bundle like the API does", async () => {
  await page.evaluate(() => { location.hash = "experiment"; });
  await page.waitForSelector("body[data-ready=true][data-page=experiment]");
  // A bundle of an unknown key: the page shows the API's error code.
  const stranger = keygen(dir, "stranger");
  bundle(dir, stranger, 3);
  const refused = await evaluate(readFileSync(`${dir}/v3-stranger.epb`));
  assert.equal(refused.status, 400);
  assert.equal(refused.body.code, "bundle_unknown_key");
  await page.setInputFiles("#candidate", `${dir}/v3-stranger.epb`);
  await page.click("#evaluate");
  assert.match(await errorText(), /bundle_unknown_key: .*"stranger".*HTTP 400/);
  // The v3 candidate of the trusted key: the page's numbers are the API's.
  const v3 = bundle(dir, key, 3);
  await page.setInputFiles("#candidate", `${dir}/v3-console-key.epb`);
  await page.click("#evaluate");
  await page.waitForSelector('#evaluation [data-key="evaluate.candidate.dr.mean"]');
  assert.equal((await page.textContent("#error")).trim(), "");
  const expected = (await evaluate(v3)).body;
  const { checked, bad } = await compare({ evaluate: expected }, "evaluate");
  assert.deepEqual(bad, []);
  for (const k of ["dr", "ips", "snips"]) {
    for (const side of ["candidate", "live"]) assert.equal(await page.locator(`[data-key="evaluate.${side}.${k}.mean"]`).count(), 1, `${side} ${k}`);
  }
  assert.ok(expected.candidate.effective_sample_size > 0 && Number.isFinite(expected.candidate.dr.mean), "a usable estimate");
  assert.ok(checked >= 20, `only ${checked} evaluation numbers`);
  console.log(`console evaluation: ${checked} numbers match POST /v1/reports/evaluate`);
  await shot("experiment");
});

test("the policies page publishes, rolls back and compares rules", async () => {
  await page.evaluate(() => { location.hash = "policies"; });
  await page.waitForSelector("body[data-ready=true][data-page=policies]");
  await page.setInputFiles("#publish-file", `${dir}/v3-console-key.epb`);
  await page.click("#publish");
  await page.click("#confirm-ok");
  await page.waitForSelector("#notice:has-text('Policy v3 is live')");
  assert.equal((await get("/v1/policy")).live, 3);
  await page.waitForSelector("body[data-ready=true] .rollback[data-version='2']");
  await page.click(".rollback[data-version='2']");
  await page.click("#confirm-ok");
  await page.waitForSelector("#notice:has-text('Policy v2 is live (rollback)')");
  assert.equal((await get("/v1/policy")).live, 2);
  await page.waitForSelector("body[data-ready=true][data-page=policies] #diff-a");
  const { bad, checked } = await compare({ policy: await get("/v1/policy"), deliveries: await get("/v1/push/deliveries?limit=20") });
  assert.deepEqual(bad, []);
  assert.ok(checked >= 7, `only ${checked} numbers on the policies page`);
  console.log(`console policies after publish and rollback: ${checked} numbers match the API`);
  await page.selectOption("#diff-a", "2");
  await page.selectOption("#diff-b", "3");
  await page.click("#compare");
  // v2 and v3 are bundles of the same rules file: the diff is empty and says so.
  await page.waitForSelector("#diff table");
  assert.match(await page.textContent("#diff"), /v2 → v3: 0 changed, 0 added, 0 removed\..*The rules of v2 and v3 are identical\./);
  await shot("policies");
});

test("no page threw or logged an error", () => {
  assert.deepEqual(errors, []);
});
