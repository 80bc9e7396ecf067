// The reference for the worker runs: the least a worker on the same runtime can do.
// GET /price answers a fixed JSON body (the cold-start reference until 2026-12-03);
// a product page is the origin's page passed through (fetched with the edge token, like
// the real worker);
// POST /v1/price does the platform work ours does for the same request, and no pricing: an
// isolate's first request reads the policy's key in KV (binding POLICY) as entry.mjs does,
// then the body is read and parsed; one product (`product`) is answered with one fixed
// decision, a page with 100 (the memory reference of scripts/bench/workerd.mjs).
const candidate = { price: 44.99, price_minor: 4499, purchase_probability: 0.4215, expected_profit: 9.6944, propensity: 0.00625 };
const decision = {
  sku: "sku-1001", price: 44.99, price_minor: 4499, list_price: 49.99, currency: "USD", discount: 0.1, arm: "model",
  propensity: 0.86625, purchase_probability: 0.4215, expected_profit: 9.6944, uniform_price: 44.99, policy_version: 1,
  decision_id: "28c55a3da31d1c1a", reasons: ["price_ending", "max_discount", "model_optimum"], personalized: true,
  hash_version: 1, candidates: Array(8).fill(candidate),
};
const one = JSON.stringify(decision);
const page = JSON.stringify({ decisions: Array(100).fill(decision) });
const json = { "Content-Type": "application/json" };

/** The isolate's one read of the policy's key, as entry.mjs's `readFirstPolicy`. */
let policyRead;
const readPolicy = (env) => env.POLICY?.getWithMetadata("bundle", { type: "arrayBuffer" }).catch(() => null);

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/price") {
      return Response.json({ sku: url.searchParams.get("sku"), price: 59.99 });
    }
    if (url.pathname === "/v1/price" && request.method === "POST") {
      await (policyRead ??= readPolicy(env));
      const body = JSON.parse(await request.text());
      return new Response(body.product ? one : page, { headers: json });
    }
    // With the edge token, as the real worker asks: the origin limits tokenless reads per address.
    return fetch(`${env.ORIGIN}${url.pathname}`, { headers: { Authorization: `Bearer ${env.EDGE_TOKEN ?? ""}` } });
  },
};
