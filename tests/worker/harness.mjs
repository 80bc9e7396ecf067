// Shared pieces of the worker tests: the real origin binary on loopback (SQLite in a temp
// folder), keys and bundles made with the CLI, and the built worker on workerd (miniflare).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Miniflare } from "miniflare";

export const root = new URL("../../", import.meta.url).pathname;
const target = process.env.CARGO_TARGET_DIR ?? `${process.env.HOME}/.cache/edgeprice/target`;
export const bin = `${target}/release/edgeprice`;
export const ADMIN_TOKEN = "admin-token-for-worker-tests";
export const EDGE_TOKEN = "edge-token-for-worker-tests";
export const SESSION_SECRET = "session-secret-of-the-worker-tests-0123456789";
export const json = (path) => JSON.parse(readFileSync(`${root}${path}`, "utf8"));

/** A temporary folder, removed when the test process exits (EDGEPRICE_KEEP_TEMP=1 keeps
 * them, to look at an origin's database or logs after a failure). */
const tempDirs = [];
if (!process.env.EDGEPRICE_KEEP_TEMP) {
  process.on("exit", () => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
}
export function tempDir() {
  const dir = mkdtempSync(`${tmpdir()}/edgeprice-worker-`);
  tempDirs.push(dir);
  return dir;
}

export function cli(...args) {
  return execFileSync(bin, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A signing key made by `edgeprice keygen`; returns its secret path and public file. */
export function keygen(dir, keyId) {
  cli("keygen", "--out", `${dir}/${keyId}.key`, "--key-id", keyId);
  return { path: `${dir}/${keyId}.key`, pub: `${dir}/${keyId}.key.pub.json`, public: json_abs(`${dir}/${keyId}.key.pub.json`) };
}
const json_abs = (p) => JSON.parse(readFileSync(p, "utf8"));

/** A bundle of the shipped model and rules, signed with `key` as `version`. */
export function bundle(dir, key, version) {
  const out = `${dir}/v${version}-${key.public.key_id}.epb`;
  cli("bundle", "--model", "models", "--rules", "models/rules.toml", "--page-values", "models/page_values.json",
    "--policy-version", String(version), "--key", key.path, "--out", out);
  return new Uint8Array(readFileSync(out));
}

/** Starts `edgeprice serve`; resolves when it listens. `log` collects its JSON log lines. */
export function startOrigin({ dir, port = 0, trusted, env = {} }) {
  const child = spawn(bin, ["serve"], {
    cwd: root,
    env: {
      ...process.env,
      EDGEPRICE_DATABASE_URL: `sqlite://${dir}/origin.db?mode=rwc`,
      EDGEPRICE_LISTEN: `127.0.0.1:${port}`,
      EDGEPRICE_TRUSTED_KEYS: trusted.join(","),
      EDGEPRICE_CATALOG: `${root}www/catalog.json`,
      EDGEPRICE_ADMIN_TOKEN: ADMIN_TOKEN,
      EDGEPRICE_EDGE_TOKEN: EDGE_TOKEN,
      RUST_LOG: "info",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const log = [];
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line);
          log.push(entry);
          if (entry.fields?.address) {
            const url = `http://${entry.fields.address}`;
            resolve({ url, port: Number(entry.fields.address.split(":")[1]), log, child, stop: () => stop(child) });
          }
        } catch {
          log.push({ raw: line });
        }
      }
    });
    child.on("exit", (code) => reject(new Error(`origin exited with ${code}: ${JSON.stringify(log)}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.on("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

export async function publish(origin, bytes) {
  const r = await fetch(`${origin}/v1/policy`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/vnd.edgeprice.bundle" },
    body: bytes,
  });
  return { status: r.status, body: await r.json() };
}

/** Miniflare options of the built worker (scripts/build-worker.sh), `vars` over the defaults. */
export function workerOptions(vars = {}, extra = {}) {
  return {
    modules: true,
    scriptPath: `${root}${process.env.EDGEPRICE_WORKER_BUILD ?? "build/worker"}/entry.mjs`,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-04-20",
    bindings: { SESSION_SECRET, EDGE_TOKEN, ORIGIN: "", ...vars },
    kvNamespaces: ["POLICY", "CATALOG"],
    ...extra,
  };
}

/** The built worker on workerd, with `vars` over the test defaults. */
export function startWorker(vars = {}, extra = {}) {
  return new Miniflare(workerOptions(vars, extra));
}

/** The origin's stored feedback (its SQLite database in `dir`): one object per row. */
export function feedbackRows(dir) {
  return JSON.parse(execFileSync("python3", ["-c", `
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select event_id, decision_id, kind, session_id from feedback").fetchall()
print(json.dumps([dict(zip(["event_id", "decision_id", "kind", "session_id"], r)) for r in rows]))`,
  `${dir}/origin.db`], { encoding: "utf8" }));
}

/** A loopback port that was free a moment ago (for servers that must know each other's URL). */
export async function freePort() {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function until(check, ms = 10_000, what = "condition") {
  const start = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const cookieOf = (response) =>
  (response.headers.getSetCookie?.() ?? [response.headers.get("set-cookie")]).map((c) => c.split(";")[0]).find((c) => c?.startsWith("ep_visit="));
