#!/usr/bin/env bash
# Load run of the edge worker under `wrangler dev` (workerd, local mode, offline) on
# loopback with wrk, side by side with a trivial worker on the same runtime (a fixed JSON
# body, and the origin's page passed through), both in front of the real origin binary.
# Prints requests/s, p50 and p99 for /price and /products/{sku} and our cost as a ratio.
# A benchmark, not a test: figures from one run, compare them, do not assert them.
set -euo pipefail
cd "$(dirname "$0")/.."
origin_port=18801; ours=18802; trivial=18803
source scripts/bench/edge.sh
setsid npx wrangler dev --ip 127.0.0.1 --port "$ours" --log-level warn "${vars[@]}" >"$work/ours.log" 2>&1 &
pids+=($!)
setsid npx wrangler dev --config scripts/bench/trivial.wrangler.toml --ip 127.0.0.1 --port "$trivial" --log-level warn \
  --var "ORIGIN:$origin" --var "EDGE_TOKEN:$EDGEPRICE_EDGE_TOKEN" >"$work/trivial.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$ours/_edgeprice/status"
wait_up "http://127.0.0.1:$trivial/price?sku=sku-1001"

# A returning shopper: the cookie of a session with a few page views.
cookie=$(curl -s -o /dev/null -D - -X POST --data '{"events":[{"page":"product","seconds":40,"page_id":"product/sku-1001"},{"page":"product","seconds":25}]}' \
  "http://127.0.0.1:$ours/events" | sed -n 's/^set-cookie: \(ep_visit=[^;]*\);.*/\1/ip')
[ -n "$cookie" ] || { echo "no visit cookie" >&2; exit 1; }

run() {  # run URL -> "requests/s p50 p99 non2xx requests"
  COOKIE="$cookie" wrk -t1 -c1 -d1s -s scripts/bench/get.lua "$1" >/dev/null  # warm-up
  COOKIE="$cookie" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --timeout 10s -s scripts/bench/get.lua "$1" | bench_fields
}

printf "wrk, %s s each, %s connections, wrangler dev (workerd %s) on loopback, origin = edgeprice serve (SQLite)\n" \
  "$SECONDS_EACH" "$CONNECTIONS" "$(node_modules/.bin/workerd --version | awk '{print $2}')"
printf "%-20s %-9s %10s %9s %9s %8s\n" route worker "req/s" "p50 ms" "p99 ms" "errors"
for route in "/price?sku=sku-1001" "/products/sku-1001"; do
  read -r t_rps t_p50 t_p99 t_bad _ <<<"$(run "http://127.0.0.1:$trivial$route")"
  read -r o_rps o_p50 o_p99 o_bad _ <<<"$(run "http://127.0.0.1:$ours$route")"
  printf "%-20s %-9s %10s %9s %9s %8s\n" "$route" trivial "$t_rps" "$t_p50" "$t_p99" "$t_bad"
  printf "%-20s %-9s %10s %9s %9s %8s\n" "$route" edgeprice "$o_rps" "$o_p50" "$o_p99" "$o_bad"
  awk -v a="$o_rps" -v b="$t_rps" -v c="$o_p50" -v d="$t_p50" -v e="$o_p99" -v f="$t_p99" \
    'BEGIN { printf "%-20s %-9s %9.2fx %8.2fx %8.2fx\n", "", "ratio", b / a, c / d, e / f }'
done
echo "(ratio: trivial req/s over ours, and our latency over trivial's; above 1 is our overhead)"
curl -s "http://127.0.0.1:$ours/_edgeprice/status"; echo
