// PricingEngine.price() without JSON text (crates/web/src/objects.rs holds the layouts).
// read_inputs reads a features-form session and a product as JSON.stringify and then serde
// would read them, or answers undefined when it cannot be sure (a value of another type, a
// class instance, toJSON, lone surrogates, an unknown product key...): the caller then takes
// the JSON path, which answers every input. decision_object builds the decision with the
// keys in serde's order; a float that is not finite is null, as serde_json writes it.
// Only `export function` declarations: scripts/build-web.sh rewrites them to CommonJS for
// the Node package.

const PRODUCT_KEYS = new Set(["sku", "list_price", "cost", "currency", "stock", "category", "map_price", "promotion_tags", "name"]);

// A plain data object: what JSON.parse or an object literal makes.
function plain(o) {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return false;
  const proto = Object.getPrototypeOf(o);
  return (proto === Object.prototype || proto === null) && typeof o.toJSON !== "function";
}
// A string serde reads as JSON.stringify wrote it (no lone surrogate) and free of the
// separator; undefined otherwise.
function text(v) {
  return typeof v === "string" && v.isWellFormed() && !v.includes("\0") ? v : undefined;
}
// JSON.stringify and serde read the session's other members too, and reading fails on a
// BigInt, a cycle or a lone surrogate anywhere: true when every member but `skip` is a
// flat JSON value serde reads (keys included).
function flat(o, skip) {
  for (const k in o) {
    const v = o[k];
    if (v === skip) continue;
    const type = typeof v;
    const ok = type === "string" ? v.isWellFormed() : type === "number" || type === "boolean" || type === "undefined" || v === null;
    if (!ok || !k.isWellFormed()) return false;
  }
  return true;
}
// JSON writes NaN and the infinities as null and -0 as 0.
const finiteOrNaN = (v) => (Number.isFinite(v) ? v + 0 : NaN);

// A plain array (JSON.stringify writes its elements, nothing else).
export function plain_array(a) {
  return Array.isArray(a) && Object.getPrototypeOf(a) === Array.prototype && typeof a.toJSON !== "function";
}

export function read_inputs(schema, session, product, numbers) {
  if (!plain(session) || !plain(product)) return undefined;
  const id = text(session.session_id);
  const f = session.features;
  if (id === undefined || !plain(f) || !flat(session, f) || !flat(f, undefined)) return undefined;
  const numeric = schema[0], categorical = schema[1];
  for (let i = 0; i < numeric.length; i++) {
    const v = f[numeric[i]];
    if (typeof v === "number") numbers[i] = finiteOrNaN(v);
    else if (v === undefined || v === null) numbers[i] = NaN;
    else return undefined;
  }
  const texts = [id];
  for (let i = 0; i < categorical.length; i++) {
    const v = f[categorical[i]];
    if (v === undefined || v === null) texts.push("");
    // serde writes an integer as JS does; other numbers are left to the JSON path.
    else if (typeof v === "number" && Number.isSafeInteger(v)) texts.push(String(v));
    else {
      const t = text(v);
      if (t === undefined) return undefined;
      texts.push(t);
    }
  }
  const weekend = f.Weekend;
  if (weekend === undefined || weekend === null) numbers[10] = NaN;
  else if (typeof weekend === "boolean") numbers[10] = weekend ? 1 : 0;
  else return undefined;

  for (const k in product) if (!PRODUCT_KEYS.has(k)) return undefined;
  const { sku, list_price, cost, currency, stock, category, map_price, promotion_tags, name } = product;
  if (text(sku) === undefined || text(currency) === undefined) return undefined;
  if (!Number.isFinite(list_price) || !Number.isFinite(cost)) return undefined;
  numbers[11] = list_price + 0;
  numbers[12] = cost + 0;
  if (stock === undefined || stock === null || (typeof stock === "number" && !Number.isFinite(stock))) numbers[13] = NaN;
  else if (Number.isSafeInteger(stock) && stock >= 0) numbers[13] = stock + 0;
  else return undefined;
  if (map_price === undefined || map_price === null) numbers[14] = NaN;
  else if (typeof map_price === "number") numbers[14] = finiteOrNaN(map_price);
  else return undefined;
  if (category !== undefined && text(category) === undefined) return undefined;
  if (name !== undefined && name !== null && text(name) === undefined) return undefined;
  texts.push(sku, currency, category ?? "");
  if (promotion_tags !== undefined) {
    if (!plain_array(promotion_tags)) return undefined;
    for (let i = 0; i < promotion_tags.length; i++) {
      const t = text(promotion_tags[i]);
      if (t === undefined) return undefined;
      texts.push(t);
    }
    numbers[15] = promotion_tags.length;
  } else {
    numbers[15] = 0;
  }
  return texts.join("\0");
}

const orNull = (v) => (Number.isFinite(v) ? v : null);

function candidates(n) {
  const count = n[14];
  const list = new Array(count);
  for (let i = 0, j = 15; i < count; i++, j += 5) {
    list[i] = {
      price: orNull(n[j]),
      price_minor: n[j + 1],
      purchase_probability: orNull(n[j + 2]),
      expected_profit: orNull(n[j + 3]),
      propensity: orNull(n[j + 4]),
    };
  }
  return list;
}

export function decision_object(n, texts) {
  const t = texts.split("\0");
  let k = 4 + n[11];
  // One literal: one object shape, nothing added later (the common case returns it).
  const d = {
    sku: t[0],
    price: orNull(n[0]),
    price_minor: n[1],
    list_price: orNull(n[2]),
    currency: t[1],
    discount: orNull(n[3]),
    arm: t[2],
    propensity: orNull(n[4]),
    purchase_probability: orNull(n[5]),
    expected_profit: orNull(n[6]),
    uniform_price: orNull(n[7]),
    policy_version: n[8],
    decision_id: t[3],
    reasons: t.slice(4, k),
    personalized: n[9] === 1,
    hash_version: n[10],
    candidates: n[14] > 0 ? candidates(n) : undefined,
  };
  if (n[12] === 0 && n[13] === 0 && n[14] > 0) return d;
  // Otherwise jurisdiction and disclosure go before the candidates, and no candidates key
  // is written when there are none (serde's order and skip rules).
  const { candidates: list, ...rest } = d;
  if (n[12] === 1) rest.jurisdiction = t[k++];
  if (n[13] === 1) rest.disclosure = t[k++];
  if (list !== undefined) rest.candidates = list;
  return rest;
}
