#!/usr/bin/env bash
# Issue 8's benchmarks in one run, side by side: native (cargo bench -p edgeprice-learn --bench native), the
# CLI batch, the wasm packages in Node next to onnxruntime-node and onnxruntime-web,
# onnxruntime in Python, the worker on workerd (cold start, per decision, memory), and the
# sizes. Each part prints `BENCH {json}` lines into build/bench/results.jsonl;
# scripts/bench/report.py turns them into the tables (build/bench/report.md), with the
# ratios and issue 8's targets. Figures from one run on a shared machine: compare ratios,
# quote medians. `bench.sh quick`: fewer iterations (CI runs it so the scripts keep working).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
QUICK="${1:-}"
OUT=build/bench
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
BIN="$CARGO_TARGET_DIR/release/edgeprice"

# Builds: the binary always (incremental); the wasm packages and workers when missing or
# older than the sources.
cargo build --release --bin edgeprice 2>/dev/null
stale() { [ ! -f "$1" ] || [ -n "$(find crates models Cargo.toml Cargo.lock -newer "$1" -print -quit)" ]; }
stale pkg/node/edgeprice_bg.wasm && bash scripts/build-web.sh >/dev/null
stale pkg/node-lean/edgeprice_bg.wasm && bash scripts/build-web.sh lean >/dev/null
stale build/worker/edgeprice_bg.wasm && bash scripts/build-worker.sh >/dev/null
stale build/worker-lean/edgeprice_bg.wasm && bash scripts/build-worker.sh lean >/dev/null

# Inputs: the data set's feature vectors, 10,000 sessions (features form, rows cycled),
# a bench signing key and 30 bundles of increasing version (update timing).
"$BIN" features --model models --data "$EDGEPRICE_DATA" > "$OUT/features.csv"
python3 - "$EDGEPRICE_DATA" "$OUT/sessions.ndjson" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w") as out:
    for i in range(10_000):
        r = dict(rows[i % len(rows)])
        r.pop("Revenue", None)
        f = {k: (v if k in ("Month", "VisitorType") else v.upper() == "TRUE" if k == "Weekend" else float(v)) for k, v in r.items()}
        out.write(json.dumps({"session_id": f"s-{i}", "features": f}) + "\n")
PY
rm -f "$OUT"/*.epb "$OUT"/bench.key*
"$BIN" keygen --out "$OUT/bench.key" --key-id bench >"$OUT/setup.log" 2>&1
for v in $(seq 101 130); do
  "$BIN" bundle --model models --rules models/rules.toml --page-values models/page_values.json \
    --policy-version "$v" --key "$OUT/bench.key" --created 2026-11-28T00:00:00Z --out "$OUT/v$v.epb" >>"$OUT/setup.log" 2>&1
done

echo "== native (cargo bench --profile release --bench native)"
# The release profile (bench's settings are release's) and the whole workspace's features
# (no -p): `cargo test --release --all-targets` has built this very target already. The
# bench profile, or -p edgeprice-learn's narrower feature set, compiled the dependencies
# again: 437 s of a fresh machine's CI run (2026-12-02), against 54 s with a warm cache.
cargo bench --profile release --bench native -- ${QUICK:+--quick} 2>/dev/null | grep '^BENCH' | tee -a "$RESULTS" | cut -c1-150

echo "== CLI batch: edgeprice price --sessions (10,000 sessions, 1 product, JSON in and out)"
t0=$(date +%s.%N)
"$BIN" price --sessions "$OUT/sessions.ndjson" --product models/demo_product.json --now 2026-11-28T12:00:00Z > "$OUT/decisions.ndjson"
t1=$(date +%s.%N)
n=$(wc -l < "$OUT/decisions.ndjson")
python3 -c "import json,sys; ms=($t1-$t0)*1e3; print('BENCH '+json.dumps({'env':'native','name':'CLI: edgeprice price --sessions, $n sessions (process start, read, price, write)','stage':'batch10k','total_ms':ms,'per_second':$n/ms*1e3}))" | tee -a "$RESULTS"

echo "== Node: cold starts (fresh processes), then the packages next to onnxruntime-node/-web"
for build in node node-lean; do
  for _ in $(seq 1 "$([ -n "$QUICK" ] && echo 2 || echo 7)"); do node scripts/bench/node-cold.cjs "pkg/$build"; done > "$OUT/cold-$build.jsonl"
  python3 - "$OUT/cold-$build.jsonl" "$build" <<'PY' | tee -a "$RESULTS"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
env = "node-tract" if sys.argv[2] == "node" else "node-lean"
print("BENCH " + json.dumps({"env": env, "name": f"cold start: bytes to first decision (median of {len(runs)} processes)", "stage": "cold", **med}))
PY
done
# The lean package with a bundle from bytes, its signature checked (the built-in one's was
# checked when the module was built): what a shop's own bundle costs a cold start.
for _ in $(seq 1 "$([ -n "$QUICK" ] && echo 2 || echo 7)"); do node scripts/bench/node-cold.cjs pkg/node-lean models/default.epb models/default.pub.json; done > "$OUT/cold-node-lean-signed.jsonl"
python3 - "$OUT/cold-node-lean-signed.jsonl" <<'PY' | tee -a "$RESULTS"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
print("BENCH " + json.dumps({"env": "node-lean-signed", "name": f"cold start: bytes to first decision, a bundle whose signature is checked (median of {len(runs)} processes)", "stage": "cold", **med}))
PY
for build in tract lean; do
  NODE_BENCH_BUILD=$build node scripts/bench/node.cjs "$OUT/features.csv" "$OUT" $QUICK | tee -a "$RESULTS" | cut -c1-150
done

echo "== onnxruntime in Python"
python3 scripts/bench/ort.py "$OUT/features.csv" $QUICK | tee -a "$RESULTS"

echo "== workerd (miniflare): cold start, per decision, memory"
node scripts/bench/workerd.mjs $QUICK | tee -a "$RESULTS" | cut -c1-150

if [ -z "$QUICK" ]; then
  # About 6.5 minutes: six runs of 1,000,000 decisions (ours and the trivial worker; with
  # V8 heap statistics and forced GCs, with the statistics only, and without the inspector).
  echo "== workerd memory over 1,000,000 decisions, with V8 heap statistics"
  node scripts/bench/workerd-memory.mjs | tee -a "$RESULTS" | cut -c1-150
fi

if [ -z "$QUICK" ]; then
  # Headless Chromium: fresh contexts, streaming compilation, repeat visits (code cache).
  echo "== Chromium: cold starts of the web packages"
  for pkg in pkg/web-lean pkg/web; do node scripts/bench/chromium-cold.mjs "$pkg" | tee -a "$RESULTS" | cut -c1-150; done
fi

echo "== sizes"
# Quick mode (CI) leaves them out: test.sh measured both uploads against their budgets
# minutes before, and each dry run costs wrangler's start-up.
builds=("" lean)
[ -z "$QUICK" ] || builds=()
for lean in "${builds[@]}"; do
  line=$(bash scripts/worker-size.sh $lean | grep -o 'Total Upload: [0-9.]* KiB / gzip: [0-9.]* KiB')
  python3 -c "import json,re,sys; a,b=map(float,re.findall(r'([0-9.]+) KiB','$line')); print('BENCH '+json.dumps({'env':'size','name':'worker upload${lean:+ (lean)} (wrangler deploy --dry-run)','raw_kib':a,'gzip_kib':b}))" | tee -a "$RESULTS"
done
python3 scripts/bench/report.py "$RESULTS" | tee "$OUT/report.md"
