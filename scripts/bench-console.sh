#!/usr/bin/env bash
# Do the merchant console's pages load in under 1 s with 1,000,000 feedback events? For
# SQLite (a file in a scratch folder) and PostgreSQL (when EDGEPRICE_BENCH_POSTGRES names a
# server, e.g. postgres://postgres:edgeprice-test@127.0.0.1:5432; the database
# edgeprice_bench_console is made afresh there and dropped after): starts `edgeprice
# serve`, posts 500,000 seeded decisions spread over the last 7 days and their 500,000
# outcomes (~7 % purchased) as NDJSON batches of 1,000 on 3 connections (events/s), waits
# until GET /v1/reports/overview counts every decision (seconds after the last POST: the
# rollups run every 2 s during the load, so this is mostly their safety lag,
# EDGEPRICE_REQUEST_TIMEOUT_SECONDS + 1), loads each console page 20 times as console.js
# does (GET /v1/policy, then the page's reports in parallel, policy_version=3), times each
# endpoint alone, then the CSV export of version 3 once. Prints median and max ms per page
# and endpoint, per backend; exits 1 if a page's median is >= 1000 ms or a request failed.
# Uses the release binary as built (cargo build --release --bin edgeprice); DECISIONS=5000
# for a quick trial; scripts/bench/console_load.py makes the events and does the HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
BIN=${EDGEPRICE_BIN:-$CARGO_TARGET_DIR/release/edgeprice}
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release --bin edgeprice first" >&2; exit 1; }
export EDGEPRICE_ADMIN_TOKEN=bench-admin-token-0000 EDGEPRICE_EDGE_TOKEN=bench-edge-token-00000
# The loader and the 20 repeats are not to be rate-limited (admin: 10/s by default; the
# console's static files count against the tokenless per-client rate, 20/s).
export EDGEPRICE_EDGE_RATE=100000:100000 EDGEPRICE_ADMIN_RATE=100000:100000 EDGEPRICE_CLIENT_RATE=100000:100000
export EDGEPRICE_ROLLUP_SECONDS=2 EDGEPRICE_REQUEST_TIMEOUT_SECONDS=10 EDGEPRICE_CATALOG=www/catalog.json
PG=${EDGEPRICE_BENCH_POSTGRES:-}
PGDB=edgeprice_bench_console
export PGOPTIONS="-c client_min_messages=warning"
started=$SECONDS
work=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true
  [ -z "$PG" ] || psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $PGDB" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "generating $((2 * ${DECISIONS:-500000})) events"
python3 scripts/bench/console_load.py gen "$work/events.ndjson"
backends=("sqlite://$work/console.db?mode=rwc")
if [ -n "$PG" ]; then
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $PGDB" -c "CREATE DATABASE $PGDB"
  backends+=("$PG/$PGDB")
fi
for db in "${backends[@]}"; do
  name=${db%%:*}
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$name: edgeprice serve on 127.0.0.1:$port"
  EDGEPRICE_DATABASE_URL=$db EDGEPRICE_LISTEN=127.0.0.1:$port "$BIN" serve >"$work/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" || { echo "origin did not start" >&2; cat "$work/$name.log" >&2; exit 1; }
  python3 scripts/bench/console_load.py run "http://127.0.0.1:$port" "$work/events.ndjson" "$work/$name.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
status=0
python3 scripts/bench/console_load.py table "$work"/*.json || status=$?
echo "total $((SECONDS - started)) s"
exit $status
