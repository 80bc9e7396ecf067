#!/usr/bin/env bash
# Load run of the edge worker under `wrangler dev` (workerd, local mode, offline) on
# loopback with wrk, side by side with a trivial worker on the same runtime (a fixed JSON
# body, and the origin's page passed through), both in front of the real origin binary.
# Prints requests/s, p50 and p99 for /price and /products/{sku} and our cost as a ratio.
# A benchmark, not a test: figures from one run, compare them, do not assert them.
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
# Each server runs in its own process group (setsid): npx, wrangler, its build watcher and
# workerd all go down together.
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

origin_port=18801; ours=18802; trivial=18803
export EDGEPRICE_ADMIN_TOKEN=bench-admin-token-0000 EDGEPRICE_EDGE_TOKEN=bench-edge-token-00000
setsid "$CARGO_TARGET_DIR/release/edgeprice" serve --db "sqlite://$work/origin.db?mode=rwc" \
  --listen "127.0.0.1:$origin_port" >"$work/origin.log" 2>&1 &
pids+=($!)
origin="http://127.0.0.1:$origin_port"
vars=(--var "ORIGIN:$origin" --var "EDGE_TOKEN:$EDGEPRICE_EDGE_TOKEN" --var "SESSION_SECRET:bench-session-secret-0123456789abcdef")
setsid npx wrangler dev --ip 127.0.0.1 --port "$ours" --log-level warn "${vars[@]}" >"$work/ours.log" 2>&1 &
pids+=($!)
setsid npx wrangler dev --config scripts/bench/trivial.wrangler.toml --ip 127.0.0.1 --port "$trivial" --log-level warn \
  --var "ORIGIN:$origin" >"$work/trivial.log" 2>&1 &
pids+=($!)
wait_up() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return; sleep 0.1; done; echo "not up: $1" >&2; cat "$work"/*.log >&2; exit 1; }
wait_up "$origin/healthz"
wait_up "http://127.0.0.1:$ours/_edgeprice/status"
wait_up "http://127.0.0.1:$trivial/price?sku=sku-1001"

# A returning shopper: the cookie of a session with a few page views.
cookie=$(curl -s -o /dev/null -D - -X POST --data '{"events":[{"page":"product","seconds":40,"page_id":"product/sku-1001"},{"page":"product","seconds":25}]}' \
  "http://127.0.0.1:$ours/events" | sed -n 's/^set-cookie: \(ep_visit=[^;]*\);.*/\1/ip')
[ -n "$cookie" ] || { echo "no visit cookie" >&2; exit 1; }

run() {  # run URL -> "requests/s p50 p99 non2xx"
  COOKIE="$cookie" wrk -t1 -c1 -d1s -s scripts/bench/get.lua "$1" >/dev/null  # warm-up
  local out line
  out=$(COOKIE="$cookie" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --timeout 10s -s scripts/bench/get.lua "$1")
  line=$(grep '^BENCH' <<<"$out")
  awk '{for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%.0f %.3f %.3f %d\n", v["requests"] / v["seconds"], v["p50_ms"], v["p99_ms"], v["non2xx"] + v["errors"]}' <<<"$line"
}

printf "wrk, %s s each, %s connections, wrangler dev (workerd %s) on loopback, origin = edgeprice serve (SQLite)\n" \
  "$SECONDS_EACH" "$CONNECTIONS" "$(node_modules/.bin/workerd --version | awk '{print $2}')"
printf "%-20s %-9s %10s %9s %9s %8s\n" route worker "req/s" "p50 ms" "p99 ms" "errors"
for route in "/price?sku=sku-1001" "/products/sku-1001"; do
  read -r t_rps t_p50 t_p99 t_bad <<<"$(run "http://127.0.0.1:$trivial$route")"
  read -r o_rps o_p50 o_p99 o_bad <<<"$(run "http://127.0.0.1:$ours$route")"
  printf "%-20s %-9s %10s %9s %9s %8s\n" "$route" trivial "$t_rps" "$t_p50" "$t_p99" "$t_bad"
  printf "%-20s %-9s %10s %9s %9s %8s\n" "$route" edgeprice "$o_rps" "$o_p50" "$o_p99" "$o_bad"
  awk -v a="$o_rps" -v b="$t_rps" -v c="$o_p50" -v d="$t_p50" -v e="$o_p99" -v f="$t_p99" \
    'BEGIN { printf "%-20s %-9s %9.2fx %8.2fx %8.2fx\n", "", "ratio", b / a, c / d, e / f }'
done
echo "(ratio: trivial req/s over ours, and our latency over trivial's; above 1 is our overhead)"
curl -s "http://127.0.0.1:$ours/_edgeprice/status"; echo
