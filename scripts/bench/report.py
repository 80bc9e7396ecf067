"""Turns the `BENCH {json}` lines of scripts/bench.sh into markdown tables: latency by
stage and place, the model part against onnxruntime, batch, cold start and update, memory,
sizes, and issues 8's and 18's targets as met or not with the measured figure.
Usage: python3 scripts/bench/report.py build/bench/results.jsonl"""
import gzip
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

rows = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1]) if l.startswith("BENCH ")]


def find(env, stage, **kw):
    for r in rows:
        if r.get("env") == env and r.get("stage") == stage and all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def us(r, k="p50_us"):
    return "-" if r is None or r.get(k) is None else f"{r[k]:,.2f}"


out = []
p = out.append
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
measured = datetime.fromtimestamp(os.path.getmtime(sys.argv[1]), timezone.utc)
p(f"Measured {measured:%Y-%m-%d %H:%M} UTC on {cpu}, {os.cpu_count()} cores, "
  f"Linux {platform.release()}, Node {node}, Python {platform.python_version()}. One run of `scripts/bench.sh`.")
p("")
p("### Decision latency: one session, one product (microseconds, p50 / p99)")
p("| stage | native | Node, tract build | Node, lean build | workerd, tract build | workerd, lean build |")
p("|---|---|---|---|---|---|")
envs = ["native", "node-tract", "node-lean", "workerd-tract", "workerd-lean"]
labels = [
    ("parse", "session + product JSON -> values"),
    ("features", "features"),
    ("model", "model (int8 fast path)"),
    ("rules", "rules, demand curve, exploration"),
    ("all", "all-in, prepared inputs (native `price_session`, JS `quote`, workerd marginal)"),
    ("all_gc", "all-in, `quote` freed by the GC"),
    ("all_json", "all-in, JSON values in and out (`price`)"),
]
for stage, label in labels:
    cells = []
    for e in envs:
        r = find(e, stage, runtime="fast") if stage == "model" and e == "native" else find(e, stage)
        cells.append("-" if r is None else f"{us(r)} / {us(r, 'p99_us')}")
    p(f"| {label} | " + " | ".join(cells) + " |")
p("")
p("Node stages are timed inside the module (batches of 100, median); the all-in rows are timed")
p("call by call from JS (a `performance.now()` pair costs "
  f"{us(find('node', 'timer'))} us, included). workerd freezes clocks inside a request, so its")
p("per-decision figure is (request pricing 100 products - request pricing 1) / 99 from outside;")
p("its p99 column is (p99 of the 100-product request - p50 of the 1-product request) / 99.")
p("")
p("### The model part against onnxruntime (same int8 ONNX model, same 2,000 feature vectors, batch 1)")
ours = find("node-lean", "model_js")
p("| runtime | p50 us | p99 us | vs our wasm fast path (p50) | session/load ms | max rel. diff vs fast path |")
p("|---|---|---|---|---|---|")
model_rows = [
    ("native: int8 fast path", find("native", "model", runtime="fast"), None),
    ("native: tract-onnx", find("native", "model", runtime="tract"), None),
    ("Node, lean build: modelHeads (fast path, from JS)", ours, None),
    ("Node, tract build: modelHeads (fast path, from JS)", find("node-tract", "model_js"), None),
    ("onnxruntime-node, basic graph optimizations (same process)", find("onnxruntime-node-basic", "model_js"), "session_ms"),
    ("onnxruntime-node, all graph optimizations (same process)", find("onnxruntime-node-all", "model_js"), "session_ms"),
    ("onnxruntime-web, wasm backend, 1 thread (same process)", find("onnxruntime-web-all", "model_js"), "session_ms"),
    ("onnxruntime, Python, basic graph optimizations", find("onnxruntime-python-basic", "model_js"), "session_ms"),
    ("onnxruntime, Python, all graph optimizations", find("onnxruntime-python-all", "model_js"), "session_ms"),
]
for label, r, cold in model_rows:
    ratio = "-" if r is None or ours is None else f"{r['p50_us'] / ours['p50_us']:.2f}x"
    diff = "-" if r is None or "max_rel_diff_vs_fast_path" not in r else f"{r['max_rel_diff_vs_fast_path']:.1e}"
    p(f"| {label} | {us(r)} | {us(r, 'p99_us')} | {ratio} | {'-' if not cold or r is None else f'{r[cold]:.1f}'} | {diff} |")
p("")
p("Batch of 50 (the same 50 vectors in one call, per vector; ratio against our lean wasm's batched run):")
p("")
p("| runtime | p50 us per vector | p99 us per vector | vs ours, Node lean (p50) |")
p("|---|---|---|---|")
ours50 = find("node-lean", "model_batch50")
for label, r in [("native: `heads_batch`", find("native", "model_batch50")),
                 ("Node, lean build: modelHeadsBatch", ours50),
                 ("onnxruntime-web, wasm backend, 1 thread, [50, width] (same process)", find("onnxruntime-web-all", "model_batch50"))]:
    ratio = "-" if r is None or ours50 is None else f"{r['p50_us'] / ours50['p50_us']:.2f}x"
    p(f"| {label} | {us(r)} | {us(r, 'p99_us')} | {ratio} |")
agree = find("native", "agreement")
if agree:
    p(f"\nFast path against tract-onnx on all {agree['vectors']:,} data set sessions: largest relative "
      f"difference of a head {agree['max_rel_diff']:.1e} (tolerance {agree['tolerance']:.0e}).")
p("")
p("### Batch pricing (decisions per second)")
p("| what | native | Node, tract build | Node, lean build | workerd, tract | workerd, lean |")
p("|---|---|---|---|---|---|")
for stage, label in [("batch50", "category page: 1 session x 50 products"), ("batch10k", "10,000 sessions x 1 product")]:
    p(f"| {label} | " + " | ".join("-" if find(e, stage) is None else f"{find(e, stage)['per_second']:,.0f}" for e in envs) + " |")
cli = find("native", "batch10k")
if cli:
    p(f"\nNative 10,000 x 1 is the CLI (`edgeprice price --sessions`, {cli['total_ms']:,.0f} ms wall clock including process "
      "start, JSON parsing and writing); Node is `priceMany`; workerd prices pages through `POST /v1/price`.")
p("")
p("### Cold start (bytes to first decision) and bundle update")
p("| where | total ms | parts |")
p("|---|---|---|")
for e, label, stage in [
        ("native", "native: built-in bundle + first decision", "cold"), ("node-tract", "Node, tract build", "cold"),
        ("node-lean", "Node, lean build", "cold"),
        ("node-lean-signed", "Node, lean build, a bundle from bytes (signature checked)", "cold"),
        ("chromium-lean", "Chromium, lean build (fresh context, streaming compilation)", "cold"),
        ("chromium-tract", "Chromium, tract build (fresh context, streaming compilation)", "cold"),
        ("workerd-trivial", "workerd: a trivial worker (reference)", "cold"), ("workerd-tract", "workerd, tract build", "cold"),
        ("workerd-lean", "workerd, lean build", "cold"),
        ("workerd-lean", "workerd, lean build, modules found by miniflare's import scan (the method until 2026-12-03; "
         "against a trivial worker started the same way)", "cold-scanned"),
        ("workerd-lean", "workerd, lean build, miniflare's KV simulator answering before the first request (a read from Node, "
         "untimed, for both workers; scripts/bench/workerd.mjs, `kvWarmed`)", "cold-kv-warm"),
        ("workerd-trivial", "workerd: the trivial worker answering our first request (POST /v1/price) with the same platform "
         "work (the policy's key read from KV, the body read and parsed) and no pricing (`sameIo`)", "cold-same-io"),
        ("workerd-lean", "workerd, lean build, against that trivial worker (what edgeprice's code adds)", "cold-same-io"),
        ("workerd-trivial", "workerd: that trivial worker, a pushed bundle in KV (put from Node before the first request; `pushed`)",
         "cold-pushed"),
        ("workerd-lean", "workerd, lean build, a pushed bundle in KV (verified and loaded by the first request), against that "
         "trivial worker", "cold-pushed"),
        ("workerd-lean", "workerd, lean build, no KV namespace bound for either worker (no first read of KV: the built-in "
         "bundle; `noKv`)", "cold-no-kv")]:
    r = find(e, stage)
    if r is None:
        continue
    total = r.get("total_ms", (r.get("p50_us") or 0) / 1e3)
    parts = ""
    if "module_ms" in r:
        load = "fetch + compile + instantiate" if e.startswith("chromium") else "read + compile + instantiate"
        parts = f"{load} {r['module_ms']:.1f}, bundle + model {r['verify_load_ms']:.1f}, first decision {r['first_decision_ms']:.2f}"
    if "ready_ms" in r:
        parts = f"start + script load (wasm compile) {r['ready_ms']:.1f}, first request {r['first_ms']:.1f}"
    if "over_trivial_ms" in r:
        parts += f"; {r['over_trivial_ms']:+.1f} ms against the trivial worker, first request {r['first_over_trivial_ms']:+.1f} ms"
    p(f"| {label} | {total:,.1f} | {parts} |")
for e in ["chromium-lean", "chromium-tract"]:
    for r in rows:
        if r.get("env") == e and r.get("stage") == "cold-visit":
            p(f"| {e}, {r['context']} context, visit {r['visit']} | {r['total_ms']:,.1f} | fetch + compile + instantiate {r['module_ms']:.1f}, "
              f"bundle + model {r['verify_load_ms']:.1f}, first decision {r['first_decision_ms']:.2f} |")
for e in ["native", "node-tract", "node-lean"]:
    r = find(e, "update")
    if r:
        p(f"| {e}: bundle update (verify + swap) | {r['p50_us'] / 1e3:.2f} (p99 {r['p99_us'] / 1e3:.2f}) | |")
p("")
p("### Memory")
for e in ["workerd-trivial", "workerd-tract", "workerd-lean"]:
    r = find(e, "memory")
    if r:
        line = (f"- {e}, after " + ", ".join(f"{s['decisions']:,}" for s in r["samples"]) + " decisions: workerd resident memory "
                + ", ".join(f"{s['rss_mib']:.1f}" for s in r["samples"]) + " MiB")
        if r["samples"][0].get("wasm_mib") is not None:
            line += "; the module's linear memory " + ", ".join(f"{s['wasm_mib']:.2f}" for s in r["samples"]) + " MiB"
        p(line + ".")
for e in ["node-tract", "node-lean"]:
    r = find(e, "memory")
    if r:
        p(f"- {e}: process RSS {r['rss_before_mb']:.1f} -> {r['rss_after_mb']:.1f} MiB, external (wasm memory) "
          f"{r['external_before_mb']:.1f} -> {r['external_after_mb']:.1f} MiB over 100,000 `quote` calls.")
p("")
p("### Sizes (bytes; gzip -9)")
p("| file | raw | gzip |")
p("|---|---|---|")
files = ["pkg/web/edgeprice_bg.wasm", "pkg/web/edgeprice.js", "pkg/web-lean/edgeprice_bg.wasm", "pkg/web-lean/edgeprice.js",
         "build/worker/edgeprice_bg.wasm", "build/worker-lean/edgeprice_bg.wasm",
         "models/behaviour.onnx", "models/behaviour.int8.onnx", "models/default.epb"]
for f in files:
    if os.path.exists(f):
        data = open(f, "rb").read()
        p(f"| `{f}` | {len(data):,} | {len(gzip.compress(data, 9)):,} |")
for r in rows:
    if r.get("env") == "size":
        p(f"| {r['name']} | {r['raw_kib']:,.2f} KiB | {r['gzip_kib']:,.2f} KiB |")
p("")
p("### Issue 8's targets")


def target(label, value, ok, figure):
    p(f"- {'MET' if ok else 'NOT MET'}: {label}: {figure}" if value is not None else f"- NOT MEASURED: {label}")


for e in ["node-lean", "node-tract"]:
    r = find(e, "all")
    target(f"wasm decision p50 in Node, all-in, <= 5 us ({e})", r, r and r["p50_us"] <= 5, r and f"{r['p50_us']:.2f} us")
web = find("onnxruntime-web-all", "model_js")
target("model part >= 3x faster than onnxruntime-web in the same Node process", web and ours,
       web and ours and web["p50_us"] / ours["p50_us"] >= 3, web and ours and f"{web['p50_us'] / ours['p50_us']:.1f}x ({ours['p50_us']:.2f} vs {web['p50_us']:.2f} us)")
for e, limit in [("node-lean", 10), ("node-tract", 80)]:
    r = find(e, "cold")
    target(f"cold start in Node under {limit} ms ({e})", r, r and r["total_ms"] < limit, r and f"{r['total_ms']:.1f} ms")
for name, limit in [("worker upload (lean)", 1024), ("worker upload", 3072)]:
    r = next((x for x in rows if x.get("env") == "size" and x["name"].startswith(name + " (wrangler") ), None)
    target(f"{name} under {limit // 1024} MiB gzip", r, r and r["gzip_kib"] < limit, r and f"{r['gzip_kib']:,.2f} KiB gzip")
target("fast path and tract-onnx agree within the int8 tolerance on every test vector", agree,
       agree and agree["max_rel_diff"] <= agree["tolerance"], agree and f"{agree['max_rel_diff']:.1e} <= {agree['tolerance']:.0e} on {agree['vectors']:,} vectors")
reference = find("workerd-trivial", "memory")
for e in ["workerd-tract", "workerd-lean"]:
    r = find(e, "memory")
    if r:
        s = r["samples"]
        wasm = s[-1]["wasm_mib"] - s[1]["wasm_mib"]
        target(f"no memory growth of the module ({e}: its linear memory from {s[1]['decisions']:,} to {s[-1]['decisions']:,} decisions)",
               r, wasm == 0, f"{wasm:+.2f} MiB ({s[-1]['wasm_mib']:.2f} MiB)")
        rss = s[-1]["rss_mib"] - s[1]["rss_mib"]
        ref = reference["samples"][-1]["rss_mib"] - reference["samples"][1]["rss_mib"] if reference else float("nan")
        target(f"no growth of workerd's resident memory beyond the trivial worker's + 2 MiB under the same requests ({e})", r,
               rss <= ref + 2, f"{rss:+.1f} MiB against the trivial worker's {ref:+.1f} MiB")
p("")
p("### Issue 18's targets")
for e in ["node-lean"]:
    r = find(e, "cold")
    target(f"cold start in Node <= 10 ms ({e}, bytes to first decision)", r, r and r["total_ms"] <= 10, r and f"{r['total_ms']:.1f} ms")
r = find("workerd-lean", "cold")
target("workerd lean worker's start over a trivial worker <= 30 ms", r, r and r["over_trivial_ms"] - r["first_over_trivial_ms"] <= 30,
       r and f"{r['over_trivial_ms'] - r['first_over_trivial_ms']:+.1f} ms")
target("workerd lean worker's first request over a trivial worker's <= 10 ms", r, r and r["first_over_trivial_ms"] <= 10,
       r and f"{r['first_over_trivial_ms']:+.1f} ms")
# The same first request split (scripts/bench/workerd.mjs, `sameIo` and `pushed`): the
# platform's part (the trivial worker answering it with the same KV read and body), what
# edgeprice's code adds to it, and that with a pushed bundle in KV, as after a shop's first push.
t, ts, tp = find("workerd-trivial", "cold"), find("workerd-trivial", "cold-same-io"), find("workerd-trivial", "cold-pushed")
same, sp = find("workerd-lean", "cold-same-io"), find("workerd-lean", "cold-pushed")
if t and ts:
    p(f"  (the platform's part: the trivial worker's first request with the same KV read and body is {ts['first_ms'] - t['first_ms']:+.1f} ms "
      "over its GET /price)")
if same:
    p(f"  (what edgeprice's code adds over that trivial worker, KV empty: {same['first_over_trivial_ms']:+.1f} ms)")
if sp and tp:
    p(f"  (with a pushed bundle in KV, verified and loaded by the first request, KV put from Node first: {sp['first_over_trivial_ms']:+.1f} ms "
      "over the trivial worker reading it)")
w = find("workerd-lean", "cold-kv-warm")
if w:
    p(f"  (with miniflare's KV simulator answering before the first request, for both workers: {w['first_over_trivial_ms']:+.1f} ms)")
n = find("workerd-lean", "cold-no-kv")
if n:
    p(f"  (with no KV namespace bound for either worker, so no first read of KV: {n['first_over_trivial_ms']:+.1f} ms; "
      "the target is judged on the first line)")
for e in ["workerd-lean", "workerd-tract"]:
    r, sent = find(e, "page_sku"), find(e, "all")
    target(f"marginal cost per product of a category page on workerd <= 6 us ({e}, by SKU)", r, r and r["p50_us"] <= 6,
           r and f"{r['p50_us']:.2f} us (products sent in the request: {us(sent)} us)"
           + (f"; the same answer's bytes from a worker that does not price: {r['replay_p50_us']:.2f} us, ours over it {r['over_replay_us']:.2f} us"
              if r and "replay_p50_us" in r else ""))
r = find("node-lean", "all_json")
target("Node `price()` (JSON objects) <= 8 us p50 (node-lean)", r, r and r["p50_us"] <= 8, r and f"{r['p50_us']:.2f} us")
mine, theirs = find("node-lean", "model_batch50"), find("onnxruntime-web-all", "model_batch50")
target("batched model at batch 50 >= 3x faster per vector than onnxruntime-web's batched run", mine and theirs,
       mine and theirs and theirs["p50_us"] / mine["p50_us"] >= 3,
       mine and theirs and f"{theirs['p50_us'] / mine['p50_us']:.2f}x ({mine['p50_us']:.2f} vs {theirs['p50_us']:.2f} us per vector)")
for name in ["workerd-memory-ours-observed", "workerd-memory-ours-inspected", "workerd-memory-trivial-observed", "workerd-memory-trivial-inspected"]:
    r = find(name, "memory")
    if r:
        gc = "with a forced full GC at each sample" if r["forced_gc"] else "V8 collecting on its own"
        target(f"workerd resident memory level over {r['decisions']:,} decisions ({name[15:]}, {gc}): last half's growth <= 5% of the first's",
               r, r["level"], f"{r['rss_first_half_mib']:+.1f} then {r['rss_second_half_mib']:+.1f} MiB ({100 * r['second_over_first']:.1f}%)")
print("\n".join(out))
