#!/usr/bin/env bash
# Load benchmark of the origin with wrk on loopback (a benchmark, not a test: figures are
# printed side by side from one run; compare them, do not assert them). Feedback events
# per second into SQLite and PostgreSQL with batches of 100 and 1,000 events, and the
# latency of GET /v1/policy/latest with and without ETag. Needs wrk, and PostgreSQL for
# its rows (scripts/test.sh starts one; EDGEPRICE_TEST_POSTGRES names it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --bin edgeprice
BIN="$CARGO_TARGET_DIR/release/edgeprice"
SECONDS_EACH=${SECONDS_EACH:-5}
export EDGEPRICE_ADMIN_TOKEN=bench-admin-token-0000 EDGE_TOKEN=bench-edge-token-00000
export EDGEPRICE_EDGE_TOKEN=$EDGE_TOKEN
# Throughput, not the rate limiter (1,000/s by default for the edge token), is measured here.
export EDGEPRICE_EDGE_RATE=1000000:1000000 EDGEPRICE_ADMIN_RATE=1000000:1000000
work=$(mktemp -d)
port=18791

serve() {  # serve DATABASE_URL
  "$BIN" serve --db "$1" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "origin did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

row() {  # row LABEL BATCH WRK_OUTPUT
  local line; line=$(grep '^BENCH' <<<"$3")
  local req secs p50 p99 bad
  req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line"); secs=$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$line")
  p50=$(sed 's/.*p50_ms=\([0-9.]*\).*/\1/' <<<"$line"); p99=$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line")
  bad=$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$line")
  printf "%-34s %10s %12s %9s %9s %8s\n" "$1" "$req" "$(awk -v r="$req" -v b="$2" -v s="$secs" 'BEGIN{printf "%.0f", r*b/s}')" "$p50" "$p99" "$bad"
}

printf "%-34s %10s %12s %9s %9s %8s\n" "run (${SECONDS_EACH} s, 2 connections)" requests "per second" "p50 ms" "p99 ms" "non-2xx"
backends=("sqlite://$work/bench.db?mode=rwc")
if [ -n "${EDGEPRICE_TEST_POSTGRES:-}" ]; then
  psql "$EDGEPRICE_TEST_POSTGRES/postgres" -q -c "DROP DATABASE IF EXISTS edgeprice_bench" -c "CREATE DATABASE edgeprice_bench"
  backends+=("$EDGEPRICE_TEST_POSTGRES/edgeprice_bench")
fi
for db in "${backends[@]}"; do
  name=${db%%:*}
  serve "$db"
  for batch in 100 1000; do
    out=$(BATCH=$batch wrk -t1 -c2 -d"${SECONDS_EACH}s" --timeout 10s -s scripts/bench/feedback.lua "http://127.0.0.1:$port")
    row "feedback $name, batch $batch (events/s)" "$batch" "$out"
  done
  if [ "$name" = sqlite ]; then
    curl -sf -X PUT --data-binary @models/default.epb -H "Authorization: Bearer $EDGEPRICE_ADMIN_TOKEN" "http://127.0.0.1:$port/v1/policy" >/dev/null
    out=$(wrk -t1 -c2 -d"${SECONDS_EACH}s" -s scripts/bench/latest.lua "http://127.0.0.1:$port")
    row "GET latest, no ETag (requests/s)" 1 "$out"
    out=$(ETAG='"1"' wrk -t1 -c2 -d"${SECONDS_EACH}s" -s scripts/bench/latest.lua "http://127.0.0.1:$port")
    row "GET latest, ETag matches (304/s)" 1 "$out"
  fi
  stop
done
rm -rf "$work"
