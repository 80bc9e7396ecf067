#!/usr/bin/env bash
# Feedback throughput at the edge: wrk on `GET /price` (each answer is one shown decision,
# one feedback event) against `wrangler dev` twice, one after the other in front of the same
# origin: with the feedback queue (wrangler.toml: the event is sent to the local queue before
# the answer, the queue consumer posts batches to the origin) and without it (the in-memory
# outbox, posted in the background). Prints events/s answered, p50 and p99, then how long the
# origin took to hold every event. A benchmark, not a test: one run, compare the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
origin_port=18811; port=18812
source scripts/bench/edge.sh
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
  read -r rps p50 p99 bad requests <<<"$(bench_fields <<<"$out")"
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
