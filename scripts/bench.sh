#!/usr/bin/env bash
# Benchmarks printed side by side from one run (issue 8 collects more here): the model run
# native (tract-onnx vs the int8 fast path, and a whole decision), the wasm package in Node
# (cold start and per-decision latency), and the sizes of the web, worker and lean worker
# builds. Figures from one run on a shared machine: compare ratios, quote medians.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
echo "== native (cargo bench --bench model)"
cargo bench --bench model 2>/dev/null | grep -v '^$'
echo "== wasm in Node (pkg/node)"
[ -f pkg/node/edgeprice_bg.wasm ] || bash scripts/build-web.sh >/dev/null
node scripts/bench/node-engine.cjs
echo "== sizes (gzip -9 of the final wasm)"
for f in pkg/web/edgeprice_bg.wasm build/worker/edgeprice_bg.wasm build/worker-lean/edgeprice_bg.wasm; do
  [ -f "$f" ] && printf "  %-40s %10s B raw %10s B gzip\n" "$f" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
