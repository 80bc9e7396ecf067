// edgeprice merchant console: hash-routed pages over the origin's admin JSON API, with
// hand-written SVG charts. Built with DOM nodes only (textContent), never innerHTML.

const TOKEN_KEY = "edgeprice.admin";
const BUNDLE = "application/vnd.edgeprice.bundle";
const ARM_COLORS = { model: "#2a9d8f", explore: "#e9c46a", control: "#6c757d", fallback: "#e76f51" };
const PALETTE = ["#2a9d8f", "#264653", "#e76f51", "#e9c46a", "#6c757d", "#8ab17d", "#9c6ade", "#3a86ff"];
const state = { version: "live", bucket: "hour", sku: null, evaluation: null };
let loadSeq = 0;

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY);
const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const fin = (v) => typeof v === "number" && Number.isFinite(v);

// ---- DOM helpers ---------------------------------------------------------------------

function make(el, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of kids.flat(Infinity)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const h = (tag, attrs, ...kids) => make(document.createElement(tag), attrs, kids);
const s = (tag, attrs, ...kids) => make(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs, kids);

// ---- formatting ----------------------------------------------------------------------

const F = {
  int: (v) => Math.round(v).toLocaleString("en-US"),
  money: (v) => v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  mean: (v) => v.toFixed(4),
  pct: (v) => `${(v * 100).toFixed(1)}%`,
  dec1: (v) => v.toFixed(1),
  time: (v) => new Date(v * 1000).toISOString().slice(0, 16).replace("T", " "),
  version: (v) => `v${v}`,
  auto: (v) => (Number.isInteger(v) ? F.int(v) : v.toFixed(4)),
};
const tickNum = (v) => String(Number(v.toPrecision(6)));
const tickPct = (v) => `${Number((v * 100).toPrecision(6))}%`;
const iso = (text) => {
  const t = Date.parse(text);
  return Number.isFinite(t) ? `${F.time(t / 1000)} UTC` : String(text ?? "—");
};

/** One number from the API: `data-key` names its JSON path, `data-value` holds it raw. */
function num(key, value, fmt = F.mean) {
  const v = value === undefined ? null : value;
  let text = "–";
  try { if (fin(v)) text = fmt(v); } catch { text = String(v); }
  return h("span", { class: "num", "data-key": key, "data-value": String(v) }, text);
}

/** An interval estimate as "mean [low, high]", each number its own element. */
function ci(key, e, fmt = F.mean) {
  return h("span", { class: "ci" }, num(`${key}.mean`, e?.mean, fmt),
    h("span", { class: "bounds" }, " [", num(`${key}.ci_low`, e?.ci_low, fmt), ", ", num(`${key}.ci_high`, e?.ci_high, fmt), "]"));
}

const armTag = (arm) => h("span", { class: `arm ${arm}` }, arm);
const section = (title, attrs, ...kids) => h("section", attrs, h("h3", {}, title), ...kids);
const facts = (pairs) => h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
const empty = (text) => h("p", { class: "empty" }, text);

/** rows: arrays of cells, or {attrs, cells}; number cells are right-aligned. */
function table(head, rows, emptyText = "Nothing to show") {
  const isNum = (c) => c instanceof Element && (c.classList.contains("num") || c.classList.contains("ci"));
  const cellsOf = (r) => (Array.isArray(r) ? r : r.cells);
  const body = rows.map((r) => h("tr", Array.isArray(r) ? {} : r.attrs, cellsOf(r).map((c) => h("td", { class: isNum(c) ? "n" : null }, c))));
  if (!rows.length) body.push(h("tr", {}, h("td", { colspan: head.length, class: "empty" }, emptyText)));
  const numCol = (i) => rows.length > 0 && rows.every((r) => isNum(cellsOf(r)[i]));
  return h("table", {}, h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { class: numCol(i) ? "n" : null }, t)))), h("tbody", {}, body));
}

// ---- API -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the origin with the admin token; answers parsed JSON (or a Blob), throws ApiError. */
async function api(path, { method = "GET", body, type, blob = false } = {}) {
  const headers = { Accept: blob ? "text/csv" : "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (type) headers["Content-Type"] = type;
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: "no-store", credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, "network", `the origin could not be reached (${e.message})`);
  }
  if (!res.ok) {
    let code = "http_error";
    let message = res.statusText || "request failed";
    try {
      const j = await res.json();
      if (j && typeof j.code === "string") [code, message] = [j.code, String(j.message ?? message)];
    } catch { /* not a JSON error body */ }
    throw new ApiError(res.status, code, message);
  }
  if (blob) return res.blob();
  try { return await res.json(); } catch { throw new ApiError(res.status, "bad_response", `${path} did not answer JSON`); }
}

const withQuery = (path, params) => {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== "all").map(([k, v]) => [k, String(v)]));
  return q.toString() ? `${path}?${q}` : path;
};

function showError(e) {
  if (!(e instanceof ApiError)) console.error(e);
  const what = `${e.code ?? "error"}: ${e.message}`;
  $("error").textContent = e.status === 401
    ? `The admin token was refused (${what}). Enter the correct token. (HTTP 401)`
    : e.status ? `${what} (HTTP ${e.status})` : what;
  // A refused token is forgotten and the sign-in form comes back.
  if (e.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    authUI();
  }
}
const clearError = () => { $("error").textContent = ""; };
const notice = (text) => { $("notice").textContent = text; };

/** The in-page confirmation dialog; resolves true on Confirm. */
function confirmAction(text, okLabel = "Confirm") {
  const dlg = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  if (dlg.open) dlg.close();
  dlg.returnValue = "";
  dlg.showModal();
  return new Promise((resolve) => dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true }));
}

// ---- charts (hand-written SVG) -------------------------------------------------------

const r1 = (v) => Math.round(v * 10) / 10;

/** A nice linear domain with about five ticks covering `values` and `include`. */
function domain(values, include = [], pad = 0, integer = false) {
  const v = [...values, ...include].filter(fin);
  let lo = v.length ? Math.min(...v) : 0;
  let hi = v.length ? Math.max(...v) : 1;
  if (hi - lo < 1e-12) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const p = (hi - lo) * pad;
  lo -= p; hi += p;
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((t) => t >= raw * 0.999);
  if (integer) step = Math.max(1, Math.ceil(step));
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let t = a; t <= b + step / 2; t += step) ticks.push(Number(t.toPrecision(10)));
  return { lo: a, hi: b, ticks };
}

/** The frame every chart shares: svg, axes, ticks, axis titles, a legend along the top. */
function plot({ name, label, w = 600, ht = 300, ml = 60, x, y, legend = [] }) {
  const items = legend.map((it) => ({ ...it, width: 32 + it.label.length * 6.2 }));
  let [lx, row] = [ml, 0];
  for (const it of items) {
    if (lx + it.width > w - 18 && lx > ml) [lx, row] = [ml, row + 1];
    [it.x, it.y, lx] = [lx, 14 + row * 18, lx + it.width];
  }
  const m = { l: ml, r: 36, t: legend.length ? 34 + row * 18 : 14, b: 42 };
  const svg = s("svg", { class: "chart", "data-chart": name, role: "img", "aria-label": label, viewBox: `0 0 ${w} ${ht}`, width: w, height: ht });
  const X = (v) => m.l + ((v - x.lo) / (x.hi - x.lo || 1)) * (w - m.l - m.r);
  const Y = (v) => ht - m.b - ((v - y.lo) / (y.hi - y.lo || 1)) * (ht - m.t - m.b);
  for (const t of y.ticks) {
    svg.append(s("line", { class: "gl", x1: m.l, x2: w - m.r, y1: r1(Y(t)), y2: r1(Y(t)) }),
      s("text", { x: m.l - 6, y: r1(Y(t) + 4), "text-anchor": "end" }, y.fmt(t)));
  }
  for (const t of x.ticks) {
    svg.append(s("line", { class: "tick", x1: r1(X(t)), x2: r1(X(t)), y1: ht - m.b, y2: ht - m.b + 4 }),
      s("text", { x: r1(X(t)), y: ht - m.b + 16, "text-anchor": "middle" }, x.fmt(t)));
  }
  svg.append(
    s("line", { class: "axis", x1: m.l, x2: w - m.r, y1: ht - m.b, y2: ht - m.b }),
    s("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: ht - m.b }),
    s("text", { class: "title", x: (m.l + w - m.r) / 2, y: ht - 8, "text-anchor": "middle" }, x.title),
    s("text", { class: "title", transform: `translate(14 ${(m.t + ht - m.b) / 2}) rotate(-90)`, "text-anchor": "middle" }, y.title));
  for (const { x: lx, y: ly, ...it } of items) {
    const key = it.dash ? s("line", { x1: lx, x2: lx + 14, y1: ly, y2: ly, stroke: it.color, "stroke-width": 2, "stroke-dasharray": "4 3" })
      : it.dot ? s("circle", { cx: lx + 7, cy: ly, r: 4, fill: it.color })
        : s("rect", { x: lx, y: ly - 6, width: 14, height: 12, rx: 2, fill: it.color, "fill-opacity": it.opacity ?? 1 });
    svg.append(key, s("text", { x: lx + 19, y: ly + 4 }, it.label));
  }
  const nodata = () => svg.append(s("text", { class: "nodata", x: (m.l + w - m.r) / 2, y: (m.t + ht - m.b) / 2, "text-anchor": "middle" }, "No data yet"));
  return { svg, X, Y, m, w, ht, nodata };
}

/** A chart mark carrying its number (data-key/data-value) and a tooltip. */
const mark = (tag, attrs, p, tip) => s(tag, { ...attrs, "data-key": p.key, "data-value": p.key ? String(p.y) : null }, s("title", {}, tip));
const tipCi = (p, fmt) => `${fin(p.y) ? fmt(p.y) : "–"}${fin(p.lo) && fin(p.hi) ? ` [${fmt(p.lo)}, ${fmt(p.hi)}]` : ""}`;

/** Lines over x with a shaded interval band per series; `zero` adds a dashed zero line. */
function lineBand({ name, label, series, xFmt, yFmt = tickNum, valueFmt = F.mean, xTitle, yTitle, zero = false }) {
  const all = series.flatMap((sr) => sr.pts);
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const x = xs.length ? { lo: xs[0], hi: xs[xs.length - 1] } : { lo: 0, hi: 1 };
  if (x.lo === x.hi) { x.lo -= 1; x.hi += 1; }
  const every = Math.max(1, Math.ceil(xs.length / 6));
  Object.assign(x, { ticks: xs.filter((_, i) => i % every === 0), fmt: xFmt, title: xTitle });
  const y = { ...domain(all.flatMap((p) => [p.y, p.lo, p.hi]), zero ? [0] : []), fmt: yFmt, title: yTitle };
  const legend = [...series.map((sr) => ({ label: sr.label, color: sr.color })), { label: "95% interval", color: "#6c757d", opacity: 0.25 }];
  const P = plot({ name, label, x, y, legend });
  if (zero) P.svg.append(s("line", { class: "ref", x1: P.m.l, x2: P.w - P.m.r, y1: r1(P.Y(0)), y2: r1(P.Y(0)) }));
  for (const sr of series) {
    const ok = sr.pts.filter((p) => fin(p.lo) && fin(p.hi));
    if (ok.length > 1) {
      const up = ok.map((p) => `${r1(P.X(p.x))},${r1(P.Y(p.hi))}`);
      const down = ok.map((p) => `${r1(P.X(p.x))},${r1(P.Y(p.lo))}`).reverse();
      P.svg.append(s("path", { d: `M${up.join("L")}L${down.join("L")}Z`, fill: sr.color, "fill-opacity": 0.18 }));
    } else if (ok.length === 1) {
      const p = ok[0];
      P.svg.append(s("line", { x1: r1(P.X(p.x)), x2: r1(P.X(p.x)), y1: r1(P.Y(p.lo)), y2: r1(P.Y(p.hi)), stroke: sr.color, "stroke-opacity": 0.4, "stroke-width": 6 }));
    }
  }
  for (const sr of series) {
    const line = sr.pts.filter((p) => fin(p.y));
    if (line.length > 1) P.svg.append(s("path", { d: `M${line.map((p) => `${r1(P.X(p.x))},${r1(P.Y(p.y))}`).join("L")}`, fill: "none", stroke: sr.color, "stroke-width": 2 }));
    for (const p of line) P.svg.append(mark("circle", { cx: r1(P.X(p.x)), cy: r1(P.Y(p.y)), r: 3, fill: sr.color }, p, `${sr.label}, ${xFmt(p.x)}: ${tipCi(p, valueFmt)}`));
  }
  if (!all.length) P.nodata();
  return P.svg;
}

/** Vertical bars per category, one bar per series side by side. values[i] = {y, key} | null. */
function groupedBars({ name, label, cats, series, xTitle, yTitle }) {
  const n = cats.length;
  const k = Math.max(1, series.length);
  const every = Math.max(1, Math.ceil(n / 10));
  const x = { lo: -0.5, hi: n - 0.5, ticks: [...Array(n).keys()].filter((i) => i % every === 0), fmt: (i) => cats[i], title: xTitle };
  const y = { ...domain(series.flatMap((sr) => sr.values.map((v) => v?.y)), [0], 0, true), fmt: tickNum, title: yTitle };
  const P = plot({ name, label, x, y, legend: series.map((sr) => ({ label: sr.label, color: sr.color })) });
  const slot = ((P.X(1) - P.X(0)) * 0.8) / k;
  series.forEach((sr, j) => sr.values.forEach((v, i) => {
    if (!v || !fin(v.y)) return;
    const x0 = P.X(i) - (slot * k) / 2 + j * slot;
    P.svg.append(mark("rect", { x: r1(x0), y: r1(P.Y(v.y)), width: r1(Math.max(1, slot - 1)), height: r1(P.Y(0) - P.Y(v.y)), fill: sr.color }, v, `${sr.label} at ${cats[i]}: ${F.int(v.y)}`));
  }));
  if (!n) P.nodata();
  return P.svg;
}

/** Observed points with interval whiskers per series, and each series' dashed `line`. */
function pointsWithWhiskers({ name, label, series, xFmt, yFmt, valueFmt, xTitle, yTitle, lineLabel }) {
  const all = series.flatMap((sr) => [...sr.pts, ...sr.line]);
  const x = { ...domain(all.map((p) => p.x), [], 0.04), fmt: xFmt, title: xTitle };
  const y = { ...domain(all.flatMap((p) => [p.y, p.lo, p.hi]), [0]), fmt: yFmt, title: yTitle };
  const legend = [...series.map((sr) => ({ label: sr.label, color: sr.color })),
    { label: "observed (95% interval)", color: "#3d4a5c", dot: true }, { label: lineLabel, color: "#3d4a5c", dash: true }];
  const P = plot({ name, label, x, y, legend });
  const clamp = (v) => Math.min(Math.max(v, y.lo), y.hi);
  series.forEach((sr, j) => {
    const off = (j - (series.length - 1) / 2) * 5;
    const line = sr.line.filter((p) => fin(p.y)).sort((a, b) => a.x - b.x);
    if (line.length > 1) P.svg.append(s("path", { d: `M${line.map((p) => `${r1(P.X(p.x))},${r1(P.Y(p.y))}`).join("L")}`, fill: "none", stroke: sr.color, "stroke-width": 1.5, "stroke-dasharray": "5 4" }));
    for (const p of line) P.svg.append(mark("circle", { cx: r1(P.X(p.x)), cy: r1(P.Y(p.y)), r: 2, fill: "#fff", stroke: sr.color }, p, `${sr.label} ${lineLabel} at ${xFmt(p.x)}: ${valueFmt(p.y)}`));
    for (const p of sr.pts.filter((q) => fin(q.y))) {
      const cx = r1(P.X(p.x) + off);
      if (fin(p.lo) && fin(p.hi)) {
        const [a, b] = [r1(P.Y(clamp(p.lo))), r1(P.Y(clamp(p.hi)))];
        P.svg.append(s("path", { d: `M${cx},${a}V${b}M${cx - 3},${a}H${cx + 3}M${cx - 3},${b}H${cx + 3}`, stroke: sr.color, "stroke-width": 1.5, fill: "none" }));
      }
      P.svg.append(mark("circle", { cx, cy: r1(P.Y(p.y)), r: 3.5, fill: sr.color }, p, `${sr.label} at ${xFmt(p.x)}: ${tipCi(p, valueFmt)}`));
    }
  });
  if (!all.length) P.nodata();
  return P.svg;
}

/** Horizontal bars from a reference value to each row's mean, with whiskers; rows may be {heading}. */
function hBars({ name, label, rows, xTitle, ref = 1, valueFmt = F.mean }) {
  const bars = rows.filter((r) => !r.heading);
  const x = { ...domain(bars.flatMap((b) => [b.y, b.lo, b.hi]), [ref], 0.02), fmt: tickNum, title: xTitle };
  const y = { lo: rows.length - 0.5, hi: -0.5, ticks: [], fmt: String, title: "" };
  const legend = [{ label: "above the uniform price", color: "#e76f51" }, { label: "below the uniform price", color: "#2a9d8f" }, { label: "95% interval", color: "#1d232a", dash: true }];
  const P = plot({ name, label, w: 1200, ht: 90 + rows.length * 24, ml: 220, x, y, legend });
  const [top, bottom] = [P.m.t, P.ht - P.m.b];
  for (const t of x.ticks) P.svg.append(s("line", { class: "gl", x1: r1(P.X(t)), x2: r1(P.X(t)), y1: top, y2: bottom }));
  P.svg.append(s("line", { class: "ref", x1: r1(P.X(ref)), x2: r1(P.X(ref)), y1: top, y2: bottom }));
  rows.forEach((row, i) => {
    const cy = r1(P.Y(i));
    if (row.heading) { P.svg.append(s("text", { class: "heading", x: 8, y: cy + 4 }, row.heading)); return; }
    const text = row.label.length > 30 ? `${row.label.slice(0, 29)}…` : row.label;
    P.svg.append(s("text", { x: P.m.l - 8, y: cy + 4, "text-anchor": "end" }, text));
    if (!fin(row.y)) return;
    const [a, b] = [P.X(Math.min(ref, row.y)), P.X(Math.max(ref, row.y))];
    P.svg.append(mark("rect", { x: r1(a), y: cy - 7, width: r1(Math.max(1, b - a)), height: 14, fill: row.y > ref ? "#e76f51" : "#2a9d8f", "fill-opacity": 0.85 }, row, `${row.label}: ${tipCi(row, valueFmt)}`));
    if (fin(row.lo) && fin(row.hi)) {
      const [l, h2] = [r1(P.X(row.lo)), r1(P.X(row.hi))];
      P.svg.append(s("path", { d: `M${l},${cy}H${h2}M${l},${cy - 5}V${cy + 5}M${h2},${cy - 5}V${cy + 5}`, stroke: "#1d232a", "stroke-width": 1.5, fill: "none" }));
    }
  });
  if (!bars.length) P.nodata();
  return P.svg;
}

const figure = (caption, svg) => h("figure", {}, h("figcaption", {}, caption), svg);
const armColor = (arm, i) => ARM_COLORS[arm] ?? PALETTE[i % PALETTE.length];

/** Groups rows with {start, policy_version, arm} into one series per arm (per version when several). */
function seriesOver(rows, base, field) {
  const multi = new Set(rows.map((r) => r.policy_version)).size > 1;
  const by = new Map();
  rows.forEach((r, i) => {
    const id = multi ? `v${r.policy_version} ${r.arm}` : r.arm;
    if (!by.has(id)) by.set(id, { label: id, arm: r.arm, pts: [] });
    const e = r[field];
    by.get(id).pts.push({ x: r.start, y: e?.mean, lo: e?.ci_low, hi: e?.ci_high, key: `${base}.${i}.${field}.mean` });
  });
  return [...by.values()].map((sr, i) => ({ ...sr, pts: sr.pts.sort((a, b) => a.x - b.x), color: multi ? PALETTE[i % PALETTE.length] : armColor(sr.arm, i) }));
}

// ---- shared page parts ---------------------------------------------------------------

const versionsOf = (policy) => [...new Set((policy.history ?? []).map((e) => e.version))].sort((a, b) => b - a);
const chosenVersion = (policy) => String(state.version === "live" ? policy.live ?? "all" : state.version);

const versionOptions = (policy, cur) => versionsOf(policy).map((v) => h("option", { value: v, selected: String(v) === String(cur) }, v === policy.live ? `v${v} (live)` : `v${v}`));

function versionSelect(policy) {
  const cur = chosenVersion(policy);
  return h("label", {}, "Policy version ", h("select", { id: "policy-version", onchange: (e) => { state.version = e.target.value; route(true); } },
    versionOptions(policy, cur), h("option", { value: "all", selected: cur === "all" }, "all versions")));
}

const toolbar = (title, ...controls) => h("div", { class: "toolbar" }, h("h2", {}, title), ...controls);

function historyTable(policy, limit, actions) {
  const rows = (policy.history ?? []).slice(0, limit).map((e, i) => [
    h("span", {}, num(`policy.history.${i}.version`, e.version, F.version), i === 0 && e.version === policy.live ? [" ", h("span", { class: "tag live" }, "live")] : null),
    e.kind,
    num(`policy.history.${i}.at`, e.at, F.time),
    actions ? (e.version !== policy.live ? h("button", { type: "button", class: "rollback", "data-version": e.version, onclick: () => rollback(e.version) }, `Roll back to v${e.version}`) : "") : null,
  ].filter((c) => c !== null));
  return table(actions ? ["Version", "Event", "Time (UTC)", ""] : ["Version", "Event", "Time (UTC)"], rows, "No policy has been published yet");
}

// ---- pages ---------------------------------------------------------------------------

const RULE_LABELS = { control: ["Control group price", String], epsilon: ["Exploration ε", F.pct], control_share: ["Control share", F.pct], cap: ["Personalization cap", F.pct], max_discount: ["Max discount", F.pct], low_stock: ["Low stock at", F.int], overstock: ["Overstock at", F.int] };

function keyValueRows(obj, base, labels = {}) {
  return Object.entries(obj ?? {}).flatMap(([k, v]) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return keyValueRows(v, `${base}.${k}`).map(([l, c]) => [`${k}.${l}`, c]);
    const [label, fmt] = labels[k] ?? [k, F.auto];
    const cell = typeof v === "number" ? num(`${base}.${k}`, v, fmt) : v !== null && typeof v === "object" ? h("code", {}, JSON.stringify(v)) : String(v ?? "—");
    return [[label, cell]];
  });
}

async function pageOverview() {
  const policy = await api("/v1/policy");
  const [manifest, ov] = await Promise.all([policy.live != null ? api(`/v1/policy/${policy.live}/manifest`) : null, api("/v1/reports/overview")]);
  const fb = ov.feedback ?? {};
  const live = manifest
    ? [facts([
      ["Live version", num("policy.live", policy.live, F.version)],
      ["Highest version", num("policy.max", policy.max, F.version)],
      ["Signing key", h("code", {}, manifest.key_id)],
      ["Valid", `${iso(manifest.created)} → ${iso(manifest.expires)}`],
      ["Reissue of", manifest.reissue_of == null ? "—" : num("manifest.reissue_of", manifest.reissue_of, F.version)],
    ]),
    h("h4", {}, "Rules"), table(["Rule", "Value"], keyValueRows(manifest.rules_summary, "manifest.rules_summary", RULE_LABELS)),
    h("h4", {}, "Training metrics"), table(["Metric", "Value"], keyValueRows(manifest.metrics, "manifest.metrics"), "No metrics in this bundle")]
    : empty("No policy has been published yet.");
  const edges = (ov.edges ?? []).map((e, i) => [h("code", {}, e.edge), num(`overview.edges.${i}.policy_version`, e.policy_version, F.version), e.feedback_path,
    num(`overview.edges.${i}.outbox`, e.outbox, F.int), num(`overview.edges.${i}.failures`, e.failures, F.int), num(`overview.edges.${i}.last_seen`, e.last_seen, F.time)]);
  return h("div", {}, toolbar("Overview", h("span", { class: "note" }, "All times are UTC.")), h("div", { class: "cards" },
    section("Live policy", {}, live),
    h("div", { class: "stack" },
      section("Feedback ingest", {}, facts([
        ["Events", num("overview.feedback.events", fb.events, F.int)],
        ["Decisions", num("overview.feedback.decisions", fb.decisions, F.int)],
        ["Purchases (rolled up)", num("overview.feedback.purchases", fb.purchases, F.int)],
        ["Last minute", num("overview.feedback.last_minute", fb.last_minute, F.int)],
        ["Last hour", num("overview.feedback.last_hour", fb.last_hour, F.int)],
        ["Events per second", num("overview.feedback.per_second", fb.per_second, F.dec1)],
        ["Reports roll up through", num("overview.rollup.through", ov.rollup?.through, F.time)],
        ["Rollup lag", num("overview.rollup.lag_seconds", ov.rollup?.lag_seconds, (v) => `${F.int(v)} s`)],
      ])),
      section("Edges (last hour)", {}, table(["Edge", "Policy", "Feedback path", "Outbox", "Failures", "Last seen"], edges, "No edge has reported in the last hour")),
      section("Recent publishes and rollbacks", {}, historyTable(policy, 10, false)))));
}

function renderEvaluation(r) {
  const est = [["IPS", "ips"], ["SNIPS", "snips"], ["DR", "dr"]].map(([label, k]) => [label, ci(`evaluate.candidate.${k}`, r.candidate?.[k]), ci(`evaluate.live.${k}`, r.live?.[k])]);
  est.push(["Effective sample size", num("evaluate.candidate.effective_sample_size", r.candidate?.effective_sample_size, F.dec1), num("evaluate.live.effective_sample_size", r.live?.effective_sample_size, F.dec1)]);
  return h("div", {},
    facts([["Logged decisions", h("span", {}, num("evaluate.decisions", r.decisions, F.int), r.sku ? [" for ", h("code", {}, r.sku)] : null)]]),
    table(["Estimator (profit per session)", h("span", {}, "Candidate ", num("evaluate.candidate.policy_version", r.candidate?.policy_version, F.version)), h("span", {}, "Live ", num("evaluate.live.policy_version", r.live?.policy_version, F.version))], est),
    r.warnings?.length ? h("ul", { class: "warnings" }, [...new Set(r.warnings)].map((w) => h("li", {}, w))) : null);
}

function evaluatePanel() {
  const out = h("div", { id: "evaluation" }, state.evaluation ? renderEvaluation(state.evaluation) : null);
  const file = h("input", { type: "file", id: "candidate", accept: ".epb,application/vnd.edgeprice.bundle,application/octet-stream" });
  const run = async (e) => {
    const btn = e.currentTarget;
    const f = file.files[0];
    if (!f) { out.replaceChildren(empty("Choose a candidate bundle (.epb) first.")); return; }
    btn.disabled = true;
    out.replaceChildren(empty("Evaluating…"));
    try {
      state.evaluation = await api("/v1/reports/evaluate", { method: "POST", body: await f.arrayBuffer(), type: BUNDLE });
      clearError();
      out.replaceChildren(renderEvaluation(state.evaluation));
    } catch (err) {
      state.evaluation = null;
      showError(err);
      out.replaceChildren();
    } finally { btn.disabled = false; }
  };
  return section("Off-policy estimate of a candidate bundle", { class: "wide" },
    h("p", { class: "note" }, "Replays the logged decisions under a candidate policy: what it would have earned per session, against the live policy."),
    h("div", { class: "inline" }, file, h("button", { type: "button", id: "evaluate", class: "primary", onclick: run }, "Evaluate")), out);
}

async function pageExperiment() {
  const policy = await api("/v1/policy");
  const pv = chosenVersion(policy);
  const [sum, ts] = await Promise.all([
    api(withQuery("/v1/reports/summary", { policy_version: pv })),
    api(withQuery("/v1/reports/timeseries", { bucket: state.bucket, policy_version: pv })),
  ]);
  const arms = (sum.arms ?? []).map((a, i) => [num(`summary.arms.${i}.policy_version`, a.policy_version, F.version), armTag(a.arm),
    num(`summary.arms.${i}.decisions`, a.decisions, F.int), num(`summary.arms.${i}.purchases`, a.purchases, F.int),
    ci(`summary.arms.${i}.conversion`, a.conversion, F.pct), ci(`summary.arms.${i}.revenue_per_decision`, a.revenue_per_decision), ci(`summary.arms.${i}.profit_per_decision`, a.profit_per_decision)]);
  const ab = (sum.ab ?? []).map((d, i) => [num(`summary.ab.${i}.policy_version`, d.policy_version, F.version), armTag(d.arm), d.against, d.control_price,
    ci(`summary.ab.${i}.conversion`, d.conversion, F.pct), ci(`summary.ab.${i}.revenue_per_decision`, d.revenue_per_decision), ci(`summary.ab.${i}.profit_per_decision`, d.profit_per_decision)]);
  const xFmt = ts.bucket === "day" ? (v) => F.time(v).slice(0, 10) : (v) => F.time(v).slice(5);
  const bucket = h("label", {}, "Bucket ", h("select", { id: "bucket", onchange: (e) => { state.bucket = e.target.value; route(true); } },
    ["hour", "day"].map((b) => h("option", { value: b, selected: b === state.bucket }, b))));
  return h("div", {}, toolbar("Experiment", versionSelect(policy), bucket), h("div", { class: "cards" },
    section("Arms", { class: "wide" }, table(["Policy", "Arm", "Decisions", "Purchases", "Conversion", "Revenue / decision", "Profit / decision"], arms, "No decisions for this policy version yet")),
    section("Uplift over control", { class: "wide" },
      h("p", { class: "note" }, "Each arm minus the control group of the same policy version, with 95% intervals."),
      table(["Policy", "Arm", "Against", "Control price", "Δ conversion", "Δ revenue / decision", "Δ profit / decision"], ab, "No control group to compare against yet")),
    section("Over time", { class: "wide" }, h("div", { class: "charts" },
      figure("Profit per decision, per arm (95% band)", lineBand({ name: "profit-over-time", label: `Profit per decision per ${ts.bucket} and arm, with 95% intervals`,
        series: seriesOver(ts.points ?? [], "timeseries.points", "profit_per_decision"), xFmt, xTitle: `${ts.bucket} (UTC)`, yTitle: "profit per decision" })),
      figure("Uplift of profit per decision over control", lineBand({ name: "uplift-over-time", label: `Profit per decision uplift over control per ${ts.bucket}, with 95% intervals and a zero line`,
        series: seriesOver(ts.uplift ?? [], "timeseries.uplift", "profit_per_decision"), xFmt, xTitle: `${ts.bucket} (UTC)`, yTitle: "uplift per decision", zero: true })))),
    evaluatePanel()));
}

const share = (v) => (fin(v) ? Math.min(1, Math.max(0, v)) : v);

function renderProduct(p, pi) {
  const base = `prices.products.${pi}`;
  const arms = p.arms ?? [];
  const prices = [...new Set(arms.flatMap((a) => (a.points ?? []).map((q) => q.price)))].sort((a, b) => a - b);
  const at = (a, price) => (a.points ?? []).findIndex((q) => q.price === price);
  const bars = arms.map((a, ai) => ({ label: a.arm, color: armColor(a.arm, ai), values: prices.map((price) => {
    const j = at(a, price);
    return j < 0 ? null : { y: a.points[j].decisions };
  }) }));
  const conv = arms.map((a, ai) => ({ label: a.arm, color: armColor(a.arm, ai),
    pts: (a.points ?? []).map((q) => ({ x: q.price, y: q.conversion?.mean, lo: share(q.conversion?.ci_low), hi: share(q.conversion?.ci_high) })),
    line: (a.points ?? []).filter((q) => q.believed != null).map((q) => ({ x: q.price, y: q.believed })) }));
  const armRows = arms.map((a, ai) => [armTag(a.arm), num(`${base}.arms.${ai}.decisions`, a.decisions, F.int), num(`${base}.arms.${ai}.mean_discount`, a.mean_discount, F.pct)]);
  return h("div", { class: "cards" },
    section(`${p.sku}`, { class: "wide" }, facts([["List price", num(`${base}.list_price`, p.list_price, F.money)]]),
      table(["Arm", "Decisions", "Mean discount"], armRows, "No decisions for this product")),
    section("Shown prices", { class: "wide" }, h("div", { class: "charts" },
      figure("Decisions per shown price and arm", groupedBars({ name: "price-distribution", label: `Decisions per shown price and arm for ${p.sku}`,
        cats: prices.map(F.money), series: bars, xTitle: "shown price", yTitle: "decisions" })),
      figure("Conversion per shown price: observed vs believed", pointsWithWhiskers({ name: "price-conversion", label: `Observed conversion with 95% intervals and the policy's believed purchase probability per shown price for ${p.sku}`,
        series: conv, xFmt: F.money, yFmt: tickPct, valueFmt: F.pct, xTitle: "shown price", yTitle: "conversion", lineLabel: "believed" })))),
    ...arms.map((a, ai) => section(`Arm ${a.arm}`, {}, table(["Price", "Decisions", "Purchases", "Conversion", "Believed"], (a.points ?? []).map((q, j) => {
      const k = `${base}.arms.${ai}.points.${j}`;
      return [num(`${k}.price`, q.price, F.money), num(`${k}.decisions`, q.decisions, F.int), num(`${k}.purchases`, q.purchases, F.int),
        ci(`${k}.conversion`, q.conversion, F.pct), num(`${k}.believed`, q.believed, F.pct)];
    }), "No prices shown"))));
}

async function pagePrices() {
  const policy = await api("/v1/policy");
  const data = await api(withQuery("/v1/reports/prices", { policy_version: chosenVersion(policy) }));
  const products = data.products ?? [];
  const idx = Math.max(0, products.findIndex((p) => p.sku === state.sku));
  const body = h("div", {}, products.length ? renderProduct(products[idx], idx) : section("Products", {}, empty("No priced decisions for this policy version yet.")));
  const sku = h("select", { id: "sku", onchange: (e) => {
    const i = Number(e.target.value);
    state.sku = products[i].sku;
    body.replaceChildren(renderProduct(products[i], i));
  } }, products.map((p, i) => h("option", { value: i, selected: i === idx }, `${p.sku} (list ${F.money(p.list_price)})`)));
  return h("div", {}, toolbar("Prices", versionSelect(policy), h("label", {}, "Product ", sku)), body);
}

async function pageFairness() {
  const policy = await api("/v1/policy");
  const data = await api(withQuery("/v1/reports/fairness", { policy_version: chosenVersion(policy) }));
  const groups = (data.groups ?? []).map((g, i) => ({ ...g, i }));
  // Values in natural order (Browser 1, 2, …, 10 rather than 1, 10, 11, 2).
  const inColumn = (c) => groups.filter((g) => g.column === c).sort((a, b) => String(a.value).localeCompare(String(b.value), "en", { numeric: true }));
  const columns = [...new Set(groups.map((g) => g.column))];
  const rows = columns.flatMap((c) => [{ heading: c }, ...inColumn(c).map((g) => ({
    label: g.value, y: g.relative_price?.mean, lo: g.relative_price?.ci_low, hi: g.relative_price?.ci_high }))]);
  const table1 = columns.flatMap((c) => inColumn(c)).map((g) => [g.column, g.value, num(`fairness.groups.${g.i}.decisions`, g.decisions, F.int),
    ci(`fairness.groups.${g.i}.relative_price`, g.relative_price), num(`fairness.groups.${g.i}.personalized_share`, g.personalized_share, F.pct),
    num(`fairness.groups.${g.i}.cap_binds_share`, g.cap_binds_share, F.pct)]);
  const disc = (data.disclosure ?? []).map((d, i) => [d.jurisdiction, num(`fairness.disclosure.${i}.decisions`, d.decisions, F.int), num(`fairness.disclosure.${i}.disclosed`, d.disclosed, F.int)]);
  return h("div", {}, toolbar("Fairness", versionSelect(policy)), h("div", { class: "cards" },
    section("Relative price by shopper group", { class: "wide" },
      h("p", { class: "note" }, "Relative price = the shown price / the policy's uniform price for that product: 1 means the shopper saw the uniform price, above 1 more, below 1 less."),
      hBars({ name: "fairness-relative-price", label: "Mean relative price with 95% intervals per shopper group, grouped by column", rows, xTitle: "relative price (shown / uniform)" })),
    section("Groups", { class: "wide" }, table(["Column", "Value", "Decisions", "Relative price", "Personalized", "Cap binds"], table1, "No decisions for this policy version yet")),
    section("Disclosure by jurisdiction", {}, table(["Jurisdiction", "Decisions", "Disclosed"], disc, "No decisions for this policy version yet"))));
}

function flatten(v, prefix = "", out = Object.create(null)) {
  if (v !== null && typeof v === "object" && Object.keys(v).length) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = v;
  return out;
}

async function compareRules(a, b, out) {
  out.replaceChildren(empty("Loading…"));
  try {
    const [ma, mb] = await Promise.all([a, b].map((v) => api(`/v1/policy/${v}/manifest`)));
    clearError();
    const [fa, fb] = [flatten(ma.rules ?? {}), flatten(mb.rules ?? {})];
    const shown = (v) => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));
    const rows = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort().flatMap((k) => {
      const change = !own(fa, k) ? "added" : !own(fb, k) ? "removed" : JSON.stringify(fa[k]) !== JSON.stringify(fb[k]) ? "changed" : null;
      return change ? [{ attrs: { "data-diff-key": k, class: change }, cells: [h("code", {}, k), change, shown(fa[k]), shown(fb[k])] }] : [];
    });
    const count = (c) => rows.filter((r) => r.attrs.class === c).length;
    out.replaceChildren(h("p", { class: "note" }, `v${a} → v${b}: ${count("changed")} changed, ${count("added")} added, ${count("removed")} removed.`),
      table(["Rule", "Change", `v${a}`, `v${b}`], rows, `The rules of v${a} and v${b} are identical.`));
  } catch (e) {
    showError(e);
    out.replaceChildren();
  }
}

async function publish(input, btn) {
  const f = input.files[0];
  if (!f) { notice("Choose a policy bundle (.epb) to publish first."); return; }
  if (!(await confirmAction(`Publish “${f.name}” (${F.int(f.size)} bytes)? It becomes the live policy on every edge.`, "Publish"))) return;
  btn.disabled = true;
  try {
    const r = await api("/v1/policy", { method: "PUT", body: await f.arrayBuffer(), type: BUNDLE });
    notice(`Policy v${r.policy_version} is live`);
    await route(true);
  } catch (e) { showError(e); btn.disabled = false; }
}

async function rollback(v) {
  if (!(await confirmAction(`Roll back to policy v${v}? It becomes the live policy on every edge.`, `Roll back to v${v}`))) return;
  try {
    const r = await api("/v1/policy/rollback", { method: "POST", body: JSON.stringify({ version: v }), type: "application/json" });
    notice(`Policy v${r.policy_version} is live (rollback)`);
    await route(true);
  } catch (e) { showError(e); }
}

async function exportCsv(v, btn) {
  btn.disabled = true;
  try {
    const blob = await api(withQuery("/v1/export/decisions.csv", { policy_version: v }), { blob: true });
    clearError();
    const url = URL.createObjectURL(blob);
    const name = `decisions-v${v}.csv`;
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
    notice(`Saved ${name} (${F.int(blob.size)} bytes)`);
  } catch (e) { showError(e); } finally { btn.disabled = false; }
}

async function pagePolicies() {
  const [policy, push] = await Promise.all([api("/v1/policy"), api("/v1/push/deliveries?limit=20")]);
  const versions = versionsOf(policy);
  const pick = (id, v) => h("select", { id }, versionOptions(policy, v));
  const [diffA, diffB] = [pick("diff-a", versions[1] ?? versions[0]), pick("diff-b", versions[0])];
  const diffOut = h("div", { id: "diff" });
  const file = h("input", { type: "file", id: "publish-file", accept: ".epb,application/vnd.edgeprice.bundle,application/octet-stream" });
  const pub = h("button", { type: "button", id: "publish", class: "primary", onclick: () => publish(file, pub) }, "Publish…");
  const exportSel = pick("export-version", policy.live);
  const exp = h("button", { type: "button", id: "export", onclick: () => exportCsv(exportSel.value, exp), disabled: !versions.length }, "Download CSV");
  const deliveries = (push.deliveries ?? []).map((d, i) => [num(`deliveries.deliveries.${i}.at`, d.at, F.time), d.event, num(`deliveries.deliveries.${i}.policy_version`, d.policy_version, F.version),
    h("code", {}, d.url), num(`deliveries.deliveries.${i}.attempt`, d.attempt, F.int), num(`deliveries.deliveries.${i}.status`, d.status, String),
    d.delivered ? h("span", { class: "tag live" }, "delivered") : h("span", { class: "tag bad" }, d.error ?? "failed")]);
  return h("div", {}, toolbar("Policies"), h("div", { class: "cards" },
    section("History", {}, historyTable(policy, Infinity, true)),
    h("div", { class: "stack" },
      section("Publish a policy bundle", {}, h("p", { class: "note" }, "A signed .epb bundle; the origin verifies it before it goes live."), h("div", { class: "inline" }, file, pub)),
      section("Compare rules", {}, h("div", { class: "inline" }, "From ", diffA, " to ", diffB,
        h("button", { type: "button", id: "compare", onclick: () => compareRules(diffA.value, diffB.value, diffOut), disabled: !versions.length }, "Compare rules")), diffOut),
      section("Decisions with outcomes (CSV)", {}, h("div", { class: "inline" }, h("label", {}, "Policy version ", exportSel), exp))),
    section("Push deliveries", { class: "wide" },
      h("p", { class: "note" }, "Endpoints configured: ", num("deliveries.configured", push.configured, F.int), ". The latest 20 attempts, newest first."),
      push.configured === 0 && !deliveries.length ? empty("No push endpoint configured")
        : table(["Time (UTC)", "Event", "Policy", "URL", "Attempt", "Status", "Result"], deliveries, "No deliveries yet"))));
}

// ---- router, sign-in -----------------------------------------------------------------

const PAGES = { overview: pageOverview, experiment: pageExperiment, prices: pagePrices, fairness: pageFairness, policies: pagePolicies };

function signInPrompt() {
  return section("Sign in", { class: "prompt" }, h("p", {}, "Enter the admin token in the “Admin token” field at the top and press Sign in."),
    h("p", { class: "note" }, "The token stays in this browser tab only (sessionStorage) and is sent as an Authorization header, never in a URL."));
}

function failed(e) {
  return section("This page could not be loaded", {}, h("p", {}, e.status === 401
    ? "The origin refused the admin token. Sign out, then sign in with the correct token." : "See the message above."),
  h("button", { type: "button", onclick: () => route(true) }, "Retry"));
}

async function route(keepNotice = false) {
  const name = own(PAGES, location.hash.slice(1)) ? location.hash.slice(1) : "overview";
  const seq = ++loadSeq;
  document.body.dataset.ready = "false";
  authUI();
  if (!keepNotice) notice("");
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.getAttribute("href") === `#${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · edgeprice console`;
  let content;
  if (!token()) content = signInPrompt();
  else {
    try {
      content = await PAGES[name]();
      if (seq === loadSeq) clearError();
    } catch (e) {
      if (seq !== loadSeq) return;
      showError(e);
      content = failed(e);
    }
  }
  if (seq !== loadSeq) return;
  $("page").replaceChildren(content);
  document.body.dataset.page = name;
  document.body.dataset.ready = "true";
  if (!token()) $("token").focus();
}

function authUI() {
  const signedIn = Boolean(token());
  $("sign-in-form").hidden = signedIn;
  $("signed-in").hidden = !signedIn;
}

$("sign-in-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  authUI();
  route();
});
$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  clearError();
  authUI();
  route();
});
window.addEventListener("hashchange", () => route());
authUI();
route();
