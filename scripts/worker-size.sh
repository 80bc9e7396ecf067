#!/usr/bin/env bash
# The worker's upload size as wrangler reports it (`wrangler deploy --dry-run --outdir`,
# offline): fails past 3 MiB gzip, Cloudflare's limit for a worker on the free plan; with
# `lean`, the worker without tract-onnx (wrangler env `lean`), which must stay under 1 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
BUDGET_KIB=3072
env_args=()
if [ "${1:-}" = lean ]; then
  BUDGET_KIB=1024
  env_args=(--env lean)
fi
out=$(mktemp -d)
report=$(npx wrangler deploy --dry-run --outdir "$out" "${env_args[@]}" 2>&1) || { echo "$report" >&2; exit 1; }
line=$(grep -o 'Total Upload: [0-9.]* KiB / gzip: [0-9.]* KiB' <<<"$report") || { echo "$report" >&2; exit 1; }
gz=$(sed -E 's/.*gzip: ([0-9.]*) KiB/\1/' <<<"$line")
echo "worker${1:+ ($1)} upload (wrangler deploy --dry-run): $line (budget ${BUDGET_KIB} KiB gzip)"
ls -l "$out"
rm -rf "$out"
if awk -v g="$gz" -v b="$BUDGET_KIB" 'BEGIN { exit !(g > b) }'; then
  echo "worker upload over budget: ${gz} KiB > ${BUDGET_KIB} KiB gzip" >&2
  exit 1
fi
