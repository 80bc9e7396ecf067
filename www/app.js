// The playground: the wasm engine with its built-in default bundle, a session shaped with
// sliders or by browsing (SessionTracker), and the decision drawn live.
import init, { PricingEngine } from "../pkg/web/edgeprice.js";

const PRODUCTS = [
  { sku: "sku-1001", list_price: 49.99, cost: 22.0, currency: "USD", stock: 120, category: "shoes" },
  { sku: "sku-1002", list_price: 120.0, cost: 70.0, currency: "EUR", stock: 40, category: "home" },
  { sku: "sku-1003", list_price: 19.99, cost: 8.0, currency: "USD", stock: 2, category: "books" },
  { sku: "sku-1004", list_price: 80.0, cost: 30.0, currency: "USD", stock: 900, category: "toys" },
];
const SLIDERS = [
  ["ProductRelated", 0, 200, 1, 20],
  ["ProductRelated_Duration", 0, 6000, 10, 600],
  ["Administrative", 0, 20, 1, 1],
  ["Informational", 0, 10, 1, 0],
  ["PageValues", 0, 100, 0.5, 0],
  ["BounceRates", 0, 0.2, 0.005, 0.01],
  ["ExitRates", 0, 0.2, 0.005, 0.03],
  ["SpecialDay", 0, 1, 0.2, 0],
];
const SELECTS = [
  ["VisitorType", ["Returning_Visitor", "New_Visitor", "Other"]],
  ["TrafficType", ["1", "2", "3", "4", "13"]],
  ["Month", ["Nov", "Dec", "Mar", "May", "Oct"]],
];

const $ = (id) => document.getElementById(id);
let engine;
let tracker;
const now = () => Date.now() / 1000;

function buildInputs() {
  PRODUCTS.forEach((p, i) => $("product").add(new Option(`${p.sku} · ${p.category} · ${p.list_price} ${p.currency} · stock ${p.stock}`, i)));
  const box = $("features");
  for (const [name, min, max, step, value] of SLIDERS) {
    box.insertAdjacentHTML("beforeend",
      `<div class="row"><span>${name}</span><input type="range" id="f-${name}" min="${min}" max="${max}" step="${step}" value="${value}"><output id="o-${name}">${value}</output></div>`);
  }
  for (const [name, values] of SELECTS) {
    box.insertAdjacentHTML("beforeend",
      `<div class="row"><span>${name}</span><select id="f-${name}">${values.map((v) => `<option>${v}</option>`).join("")}</select><span></span></div>`);
  }
  box.insertAdjacentHTML("beforeend", `<label><input type="checkbox" id="f-Weekend"> Weekend</label>`);
  document.querySelectorAll("input, select").forEach((el) => el.addEventListener("input", render));
  document.querySelectorAll("input[name=mode]").forEach((el) => el.addEventListener("change", () => {
    document.body.classList.toggle("tracker-mode", el.value === "tracker" && el.checked);
    render();
  }));
  document.querySelectorAll("#browse button[data-page]").forEach((b) => b.addEventListener("click", () => {
    tracker.record({ page: b.dataset.page, seconds: 20 + Math.round(Math.random() * 60), page_id: b.dataset.id || undefined });
    render();
  }));
  $("reset-tracker").addEventListener("click", () => { tracker = engine.tracker(); render(); });
}

function session() {
  const id = $("session-id").value || "playground";
  if (document.body.classList.contains("tracker-mode")) {
    const s = tracker.session(id, $("f-VisitorType").value, $("f-TrafficType").value, now());
    $("tracked").textContent = `${tracker.pages} pages viewed · ProductRelated ${s.features.ProductRelated} · PageValues ${s.features.PageValues.toFixed(1)}`;
    return s;
  }
  const features = {};
  for (const [name] of SLIDERS) {
    features[name] = Number($(`f-${name}`).value);
    $(`o-${name}`).textContent = $(`f-${name}`).value;
  }
  for (const [name] of SELECTS) features[name] = $(`f-${name}`).value;
  features.Weekend = $("f-Weekend").checked;
  features.Administrative_Duration = features.Administrative * 30;
  return { session_id: id, features };
}

function drawChart(d) {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, pad = 40;
  ctx.clearRect(0, 0, W, H);
  const cands = [...d.candidates].sort((a, b) => a.price - b.price);
  if (!cands.length || cands[0].purchase_probability === null) {
    ctx.fillText("no model outputs (fallback)", pad, H / 2);
    return;
  }
  const maxProfit = Math.max(...cands.map((c) => c.expected_profit), 1e-9);
  const step = (W - 2 * pad) / cands.length;
  ctx.font = "11px system-ui";
  cands.forEach((c, i) => {
    const x = pad + i * step;
    const hp = (H - 2 * pad) * c.purchase_probability;
    const he = (H - 2 * pad) * (c.expected_profit / maxProfit);
    ctx.fillStyle = c.price_minor === d.price_minor ? "#2a9d8f" : "#264653";
    ctx.fillRect(x + step * 0.1, H - pad - hp, step * 0.35, hp);
    ctx.fillStyle = "#e76f51";
    ctx.fillRect(x + step * 0.5, H - pad - he, step * 0.35, he);
    ctx.fillStyle = "#1d232a";
    ctx.fillText(c.price.toFixed(2), x + step * 0.1, H - pad + 14);
    ctx.fillText(`${(c.propensity * 100).toFixed(1)}%`, x + step * 0.1, H - pad + 28);
    if (c.price_minor === d.price_minor) {
      ctx.strokeStyle = "#2a9d8f";
      ctx.lineWidth = 3;
      ctx.strokeRect(x + 2, pad - 10, step - 4, H - 2 * pad + 10);
    }
  });
  ctx.fillText("P(buy) 100%", 4, pad);
  ctx.fillText(`profit ${maxProfit.toFixed(2)}`, W - 90, pad - 16);
}

function render() {
  if (!engine) return;
  const product = PRODUCTS[$("product").value || 0];
  const d = engine.price(session(), product, now());
  const money = (v) => `${v.toFixed(2)} ${d.currency}`;
  $("decision").innerHTML = `
    <div><span class="price" id="shown-price">${money(d.price)}</span>${d.price !== d.list_price ? `<span class="list">${money(d.list_price)}</span>` : ""}</div>
    <div><span class="arm ${d.arm}" id="arm">${d.arm}</span>${d.personalized ? "personalized price (disclosed to the shopper)" : "not personalized"}</div>
    <div>P(buy) ${d.purchase_probability === null ? "–" : (d.purchase_probability * 100).toFixed(1) + "%"} ·
      expected profit ${d.expected_profit === null ? "–" : money(d.expected_profit)} ·
      propensity ${d.propensity.toFixed(4)} · uniform price ${d.uniform_price === null ? "–" : money(d.uniform_price)}</div>
    <div class="reasons">${d.reasons.map((r) => `<span>${r}</span>`).join("")}</div>`;
  $("json").textContent = JSON.stringify(d, null, 2);
  drawChart(d);
}

function measureSpeed() {
  const product = PRODUCTS[0];
  const s = session();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 300) {
    engine.price({ ...s, session_id: `bench-${n}` }, product, now());
    n++;
  }
  const perSec = n / ((performance.now() - t0) / 1000);
  $("speed").textContent = `${Math.round(perSec).toLocaleString("en")} decisions per second in this page`;
  $("speed").dataset.perSecond = String(perSec);
}

function showPolicy() {
  const m = engine.manifest();
  $("policy").textContent = `policy v${m.policy_version} · key ${m.key_id} · expires ${m.expires.slice(0, 10)}`;
}

async function loadBundle(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const status = $("bundle-status");
  try {
    const v = engine.update(bytes, now());
    status.className = "ok";
    status.textContent = `bundle accepted: policy v${v}`;
    tracker = engine.tracker();
    showPolicy();
    render();
  } catch (e) {
    status.className = "error";
    status.textContent = `bundle rejected (${e.code}): ${e.message}; policy v${engine.policyVersion} stays live`;
  }
}

async function main() {
  await init();
  engine = PricingEngine.withDefault(now());
  tracker = engine.tracker();
  buildInputs();
  showPolicy();
  render();
  measureSpeed();
  $("bundle-file").addEventListener("change", (e) => e.target.files[0] && loadBundle(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); loadBundle(e.dataTransfer.files[0]); });
  document.body.dataset.ready = "true";
}

main().catch((e) => { $("policy").textContent = `engine failed to load: ${e}`; });
