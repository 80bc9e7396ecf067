#!/usr/bin/env bash
# Feedback throughput at the edge: wrk on `GET /price` (each answer is one shown decision,
# one feedback event) against `wrangler dev` twice, one after the other in front of the same
# origin: with the feedback queue (wrangler.toml: the event is sent to the local queue before
# the answer, the queue consumer posts batches to the origin) and without it (the in-memory
# outbox, posted in the background). Prints events/s answered, p50 and p99, then how long the
# origin took to hold every event. A benchmark, not a test: one run, compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
SECONDS_EACH=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-2}
cargo build --release --bin edgeprice
bash scripts/build-worker.sh >/dev/null
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

origin_port=18811; port=18812
export EDGEPRICE_ADMIN_TOKEN=bench-admin-token-0000 EDGEPRICE_EDGE_TOKEN=bench-edge-token-00000
setsid "$CARGO_TARGET_DIR/release/edgeprice" serve --db "sqlite://$work/origin.db?mode=rwc" \
  --listen "127.0.0.1:$origin_port" >"$work/origin.log" 2>&1 &
pids+=($!)
origin="http://127.0.0.1:$origin_port"
vars=(--var "ORIGIN:$origin" --var "EDGE_TOKEN:$EDGEPRICE_EDGE_TOKEN" --var "SESSION_SECRET:bench-session-secret-0123456789abcdef")
wait_up() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return; sleep 0.1; done; echo "not up: $1" >&2; cat "$work"/*.log >&2; exit 1; }
wait_up "$origin/healthz"
stored() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from feedback").fetchone()[0])' "$work/origin.db"; }

printf "wrk, %s s each, %s connections, wrangler dev (workerd %s) on loopback, origin = edgeprice serve (SQLite)\n" \
  "$SECONDS_EACH" "$CONNECTIONS" "$(node_modules/.bin/workerd --version | awk '{print $2}')"
printf "%-8s %10s %9s %9s %8s %12s\n" path "events/s" "p50 ms" "p99 ms" errors "all stored"
for path in memory queue; do
  config=()
  [ "$path" = memory ] && config=(--config scripts/bench/memory.wrangler.toml)
  setsid npx wrangler dev "${config[@]}" --ip 127.0.0.1 --port "$port" --log-level warn "${vars[@]}" >"$work/$path.log" 2>&1 &
  pid=$!
  pids+=($pid)
  wait_up "http://127.0.0.1:$port/_edgeprice/status"
  live=$(curl -s "http://127.0.0.1:$port/_edgeprice/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)["feedback_path"])')
  [ "$live" = "$path" ] || { echo "expected the $path path, the status says $live" >&2; exit 1; }
  url="http://127.0.0.1:$port/price?sku=sku-1001"
  wrk -t1 -c1 -d1s -s scripts/bench/get.lua "$url" >/dev/null  # warm-up
  before=$(stored)
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --timeout 10s -s scripts/bench/get.lua "$url")
  done_at=$(date +%s.%N)
  line=$(grep '^BENCH' <<<"$out")
  read -r rps p50 p99 bad requests <<<"$(awk '{for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%.0f %.3f %.3f %d %d\n", v["requests"] / v["seconds"], v["p50_ms"], v["p99_ms"], v["non2xx"] + v["errors"], v["requests"]}' <<<"$line")"
  # Every answered request is one decision event: wait until the origin holds them all (the
  # memory path's background upload and the queue consumer both batch, up to 5 s).
  want=$((before + requests))
  for _ in $(seq 1 600); do [ "$(stored)" -ge "$want" ] && break; sleep 0.1; done
  got=$(stored)
  drained=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f} s after')" "$done_at")
  [ "$got" -ge "$want" ] || drained="only $((got - before)) of $requests"
  printf "%-8s %10s %9s %9s %8s %12s\n" "$path" "$rps" "$p50" "$p99" "$bad" "$drained"
  eval "${path}_rps=$rps"
  kill -- "-$pid" 2>/dev/null || true
  sleep 1
done
awk -v m="$memory_rps" -v q="$queue_rps" 'BEGIN { printf "queue path: %.2fx the events/s of the memory path\n", q / m }'
