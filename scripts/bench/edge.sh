# Shared by scripts/bench-worker.sh and scripts/bench-feedback.sh, sourced from the
# repository root after they set $origin_port: wrk and an offline wrangler, the origin
# binary and the worker built, a scratch folder ($work) and every server's process group
# ($pids) cleaned up on exit, the origin (`edgeprice serve`, SQLite) started on
# $origin_port ($origin, and $vars: the worker's --var arguments), `wait_up URL`, and
# `bench_fields` (wrk's BENCH line -> "requests/s p50 p99 errors requests").
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

wait_up() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return; sleep 0.1; done; echo "not up: $1" >&2; cat "$work"/*.log >&2; exit 1; }

export EDGEPRICE_ADMIN_TOKEN=bench-admin-token-0000 EDGEPRICE_EDGE_TOKEN=bench-edge-token-00000
setsid "$CARGO_TARGET_DIR/release/edgeprice" serve --db "sqlite://$work/origin.db?mode=rwc" \
  --listen "127.0.0.1:$origin_port" >"$work/origin.log" 2>&1 &
pids+=($!)
origin="http://127.0.0.1:$origin_port"
vars=(--var "ORIGIN:$origin" --var "EDGE_TOKEN:$EDGEPRICE_EDGE_TOKEN" --var "SESSION_SECRET:bench-session-secret-0123456789abcdef")
wait_up "$origin/healthz"

bench_fields() {
  awk '/^BENCH/ {for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
       printf "%.0f %.3f %.3f %d %d\n", v["requests"] / v["seconds"], v["p50_ms"], v["p99_ms"], v["non2xx"] + v["errors"], v["requests"]}'
}
