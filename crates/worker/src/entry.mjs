// The worker's JavaScript entry: instantiates the Rust module once per isolate and hands
// each event to it. Everything else is in crates/worker/ (Rust). scripts/build-worker.sh copies
// this file next to the wasm-bindgen output in build/worker/.
//
// Two things are done here rather than in Rust, each by a synchronous call into the module:
// the isolate's first read of the policy in KV (`loadPolicy`), and `POST /v1/price`
// (`priceApi`: this file reads the body and sends the answer's bytes). Through Rust's async
// `fetch` an isolate's first request compiled workers-rs's request, KV and future code as
// well; as calls, it answers about 2 ms sooner on workerd (crates/worker/src/api.rs has the
// measurements). Whatever these calls do not answer goes to `fetch`. A bundle found in KV
// has its signature checked here with WebCrypto's Ed25519 (`signatureChecked`).
import { env } from "cloudflare:workers";
import module from "./edgeprice_bg.wasm";
import {
  initSync, prepare, loadPolicy, bundleSigningKey, logPolicyLoaded, maxApiBody, apiTokenOk, priceApi, upkeep,
  fetch as onFetch, scheduled as onScheduled, queue as onQueue,
} from "./edgeprice.js";

initSync({ module });
// Loads the built-in bundle and reads the settings now, at the isolate's start, rather
// than in its first request (crates/worker/src/state.rs, `prepare`, says why).
prepare(env);
const MAX_API_BODY = maxApiBody();

/** After the answer: a zero timer, then `work` (kept alive by `waitUntil`). */
const afterAnswer = (ctx, work) => ctx.waitUntil(new Promise((r) => setTimeout(r, 0)).then(work));

/** The isolate's first policy: KV's bundle (binding POLICY) read here, verified in Rust. */
let firstPolicy;
async function readFirstPolicy(env) {
  if (!env.POLICY) return loadPolicy(undefined, undefined, false, undefined, false);
  try {
    const { value, metadata } = await env.POLICY.getWithMetadata("bundle", { type: "arrayBuffer" });
    const bytes = value ? new Uint8Array(value) : undefined;
    const checked = bytes !== undefined && await signatureChecked(bytes);
    return loadPolicy(bytes, metadata?.confirmed_at, true, undefined, checked);
  } catch (e) {
    return loadPolicy(undefined, undefined, false, String(e), false);
  }
}

/** Whether WebCrypto's Ed25519 (the runtime's native code) verifies the bundle's signature,
 * its last 64 bytes over the bytes before them, with the trusted key Rust names for it. Ours
 * in wasm would be compiled and run by V8's baseline tier on this first request
 * (crates/core/src/bundle/mod.rs, `signing_key`). Any other outcome, an error included,
 * leaves the check to Rust, which then reports why the bundle is refused. */
async function signatureChecked(bytes) {
  const key = bundleSigningKey(bytes);
  if (!key) return false; // no trusted key, or not a bundle (shorter than its signature)
  try {
    const trusted = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify("Ed25519", trusted, bytes.subarray(bytes.length - 64), bytes.subarray(0, bytes.length - 64));
  } catch {
    return false;
  }
}

/** `POST /v1/price`: the body read here (with the edge token, unless declared longer than
 * Rust reads), priced by one call. */
async function priceRoute(request, env, ctx) {
  const length = request.headers.get("Content-Length");
  const authorization = request.headers.get("Authorization") ?? undefined;
  let body;
  if (apiTokenOk(authorization) && !(Number(length) > MAX_API_BODY)) {
    try {
      body = new Uint8Array(await request.arrayBuffer());
    } catch {}
  }
  const answer = priceApi(authorization, length ?? undefined, body);
  const { status, upkeep: due } = answer;
  if (status === 0) {
    answer.free();
    return onFetch(new Request(request.url, { method: "POST", headers: request.headers, body }), env, ctx);
  }
  if (due) afterAnswer(ctx, () => upkeep(env));
  return new Response(answer.intoBody(), {
    status, headers: { "Content-Type": "application/json", "Cache-Control": "private, no-store" },
  });
}

export default {
  async fetch(request, env, ctx) {
    if (!firstPolicy) {
      firstPolicy = readFirstPolicy(env).catch(() => false);
      if (await firstPolicy) afterAnswer(ctx, logPolicyLoaded);
    } else {
      await firstPolicy;
    }
    if (request.method === "POST" && new URL(request.url).pathname === "/v1/price") {
      return priceRoute(request, env, ctx);
    }
    return onFetch(request, env, ctx);
  },
  scheduled: (event, env, ctx) => onScheduled(event, env, ctx),
  queue: (batch, env) => onQueue(batch, env),
};
