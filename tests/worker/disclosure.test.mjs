// Disclosure by jurisdiction on workerd: the shopper's place comes from `request.cf`
// (country, regionCode); a personalized price carries its jurisdiction's text in the
// decision, in the `Edgeprice-Disclosure` header of /price and in the product page, and a
// region whose rules turn personalization off gets the uniform price with its reason code.
// The policy is a bundle whose signed rules add a `[disclosure]` table, published to the
// real origin and picked up by the worker's cron.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as h from "./harness.mjs";

const NY = "THIS PRICE WAS SET BY AN ALGORITHM USING YOUR PERSONAL DATA.";
const EU = "Personalised price: this price was set for you by automated decision-making based on your activity.";
const ELSEWHERE = "Prices on this site may be set for your visit by an automated system.";
let dir, origin, mf;

before(async () => {
  dir = h.tempDir();
  const key = h.keygen(dir, "disclosure-test");
  const rules = `${dir}/rules.toml`;
  writeFileSync(rules, readFileSync(`${h.root}models/rules.toml`, "utf8") + `
[disclosure]
text = "${ELSEWHERE}"

[[disclosure.jurisdictions]]
name = "us-ny"
countries = ["US"]
regions = ["NY"]
text = "${NY}"

[[disclosure.jurisdictions]]
name = "eu-fr"
countries = ["FR"]
personalization = "uniform"

[[disclosure.jurisdictions]]
name = "eu"
countries = ["DE", "IT", "ES"]
text = "${EU}"
`);
  const out = `${dir}/v2.epb`;
  h.cli("bundle", "--model", "models", "--rules", rules, "--page-values", "models/page_values.json",
    "--policy-version", "2", "--key", key.path, "--out", out);
  origin = await h.startOrigin({ dir, trusted: [key.pub] });
  assert.equal((await h.publish(origin.url, new Uint8Array(readFileSync(out)))).status, 201);
  mf = h.startWorker({ ORIGIN: origin.url, POLICY_PUBLIC_KEYS: JSON.stringify([key.public]) });
  await (await mf.getWorker()).scheduled({ cron: "* * * * *" });
  const s = await (await mf.dispatchFetch("http://shop.test/_edgeprice/status")).json();
  assert.equal(s.policy_version, 2);
});

after(async () => {
  await mf?.dispose();
  await origin?.stop();
});

/** A /price answer for a new visitor at `cf`, for the first visitor the policy personalizes. */
async function personalized(cf, path = "/price?sku=sku-1001") {
  for (let i = 0; i < 40; i++) {
    const r = await mf.dispatchFetch(`http://shop.test${path}`, { cf });
    const d = await r.json();
    if (d.personalized) return { r, d };
  }
  throw new Error("no personalized price in 40 visits");
}

test("New York, the EU and elsewhere: the decision and the header carry the right text", async () => {
  for (const [cf, name, text] of [
    [{ country: "US", regionCode: "NY" }, "us-ny", NY],
    [{ country: "DE", regionCode: "BE" }, "eu", EU],
    [{ country: "US", regionCode: "CA" }, "default", ELSEWHERE],
    [{ country: "JP" }, "default", ELSEWHERE],
  ]) {
    const { r, d } = await personalized(cf);
    assert.equal(d.jurisdiction, name);
    assert.equal(d.disclosure, text);
    assert.equal(r.headers.get("edgeprice-disclosure"), text);
    assert.equal(r.headers.get("edgeprice-jurisdiction"), name);
  }
  // An unpersonalized price (the control arm, or a fallback) carries no text.
  for (let i = 0; i < 60; i++) {
    const r = await mf.dispatchFetch("http://shop.test/price?sku=sku-1001", { cf: { country: "US", regionCode: "NY" } });
    const d = await r.json();
    if (!d.personalized) {
      assert.equal(d.disclosure, undefined);
      assert.equal(r.headers.get("edgeprice-disclosure"), null);
      return;
    }
  }
  assert.fail("no unpersonalized price in 60 visits");
});

test("the product page shows the jurisdiction's text", async () => {
  for (let i = 0; i < 40; i++) {
    const r = await mf.dispatchFetch("http://shop.test/products/sku-1001", { cf: { country: "US", regionCode: "NY" } });
    const html = await r.text();
    const shown = html.match(/<p class="edgeprice-disclosure"([^>]*)>([^<]*)<\/p>/);
    assert.ok(shown, "the page has the disclosure element");
    if (!shown[1].includes("hidden")) {
      assert.equal(shown[2], NY);
      assert.equal(r.headers.get("edgeprice-disclosure"), NY);
      return;
    }
  }
  assert.fail("no personalized page in 40 visits");
});

test("personalization off for a region: the uniform price, reason coded, no text", async () => {
  const arms = new Set(); // reasons, over sessions the policy would have put in every arm
  for (let i = 0; i < 30; i++) {
    const r = await mf.dispatchFetch("http://shop.test/price?sku=sku-1001", { cf: { country: "FR", regionCode: "IDF" } });
    const d = await r.json();
    assert.equal(d.jurisdiction, "eu-fr");
    assert.equal(d.personalized, false);
    assert.equal(d.disclosure, undefined);
    assert.equal(d.arm, "fallback", "not the policy's randomized choice");
    arms.add(d.reasons[0]);
    assert.equal(d.price, d.uniform_price);
    assert.equal(d.propensity, 1);
  }
  assert.deepEqual([...arms], ["jurisdiction:eu-fr:uniform"], "every French shopper got the uniform price");
  // The backend API takes the place in its body.
  const c = h.json("tests/golden/cases.json").cases[0];
  const api = await mf.dispatchFetch("http://shop.test/v1/price", {
    method: "POST",
    headers: { Authorization: `Bearer ${h.EDGE_TOKEN}` },
    body: JSON.stringify({ session: c.session, product: c.product, place: { country: "FR" } }),
  });
  const d = await api.json();
  assert.deepEqual([d.jurisdiction, d.reasons], ["eu-fr", ["jurisdiction:eu-fr:uniform"]]);
});
