#!/usr/bin/env bash
# Publish -> first price with it at the worker: pushed policies against polling alone
# (scripts/bench/push.mjs; RUNS, TTL and EDGEPRICE_WORKER_BUILD as there). Builds what it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --bin edgeprice
bash scripts/build-worker.sh ${EDGEPRICE_WORKER_BUILD:+lean} >/dev/null
node scripts/bench/push.mjs 2>&1 | grep -v '^{"'
