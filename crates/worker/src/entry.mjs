// The worker's JavaScript entry: instantiates the Rust module once per isolate and hands
// each event to it. Everything else is in crates/worker/ (Rust). scripts/build-worker.sh copies
// this file next to the wasm-bindgen output in build/worker/.
import { env } from "cloudflare:workers";
import module from "./edgeprice_bg.wasm";
import { initSync, prepare, fetch as onFetch, scheduled as onScheduled, queue as onQueue } from "./edgeprice.js";

initSync({ module });
// Loads the built-in bundle and reads the settings now, at the isolate's start, rather
// than in its first request (crates/worker/src/state.rs, `prepare`, says why).
prepare(env);

export default {
  fetch: (request, env, ctx) => onFetch(request, env, ctx),
  scheduled: (event, env, ctx) => onScheduled(event, env, ctx),
  queue: (batch, env) => onQueue(batch, env),
};
