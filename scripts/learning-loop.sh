#!/usr/bin/env bash
# The learning loop on loopback, end to end: an origin (`edgeprice serve`, SQLite), simulated
# edge traffic priced by the live bundle (`edgeprice simulate --origin`: the engine, the
# market deciding purchases), feedback ingested by the origin, off-policy evaluation from the
# origin's database, retraining with a promotion gate that publishes only a better policy,
# and the next round. The data set's train CSV is split: four rows in five are the traffic
# the loop learns from, the fifth is held out and only ever priced, never trained on.
# Prints one table row per round: profit per held-out session of the live policy, list
# price, the best uniform price, the feature oracle and the oracle, and the share of
# (feature oracle - uniform) the live policy's model arm captures. MARKET=markets/NAME.toml
# runs the loop in another market family (default: market version 1); only `train` (the
# exploring log) and `simulate` (the traffic) read it, never the learner.
# Usage: scripts/learning-loop.sh [ROUNDS] [CSV]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ROUNDS=${1:-3}
VISITS=${VISITS:-4}               # simulated visits per learning session and round
DATA=${2:-$EDGEPRICE_DATA}
NOW=2026-12-05T12:00:00Z          # simulated time (no promotion running for the demo product)
market=()
[ -n "${MARKET:-}" ] && market=(--market "$MARKET")
CREATED=2026-11-01T00:00:00Z      # bundles' creation time, so that they are valid at NOW
cargo build --release --bin edgeprice >&2
BIN="$CARGO_TARGET_DIR/release/edgeprice"
work=$(mktemp -d)
port=18811
origin="http://127.0.0.1:$port"
export EDGEPRICE_ADMIN_TOKEN=loop-admin-token-000000 EDGEPRICE_EDGE_TOKEN=loop-edge-token-0000000
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

awk -v out="$work" 'NR == 1 { print > out "/learn.csv"; print > out "/holdout.csv"; next }
  { print > (out ((NR - 2) % 5 == 4 ? "/holdout.csv" : "/learn.csv")) }' "$DATA"
echo "traffic: $(($(wc -l < "$work/learn.csv") - 1)) sessions; held out: $(($(wc -l < "$work/holdout.csv") - 1)) sessions" >&2

"$BIN" keygen --out "$work/loop.key" --key-id loop-signing >/dev/null
"$BIN" train --data "$work/learn.csv" --out "$work/model0" "${market[@]}" >/dev/null 2>&1
"$BIN" bundle --model "$work/model0" --rules models/rules.toml --page-values models/page_values.json \
  --policy-version 2 --key "$work/loop.key" --created "$CREATED" --valid-days 3650 --out "$work/v2.epb" >/dev/null 2>&1
"$BIN" serve --db "sqlite://$work/origin.db?mode=rwc" --listen "127.0.0.1:$port" \
  --trusted-key "$work/loop.key.pub.json" >"$work/origin.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "$origin/healthz" >/dev/null && break; sleep 0.1; done
curl -sf -X PUT --data-binary @"$work/v2.epb" -H "Authorization: Bearer $EDGEPRICE_ADMIN_TOKEN" "$origin/v1/policy" >/dev/null
keys=(--trusted-key "$work/loop.key.pub.json")

sim() {  # sim NAME POLICY SEED [FLAGS...]: one JSON summary of the held-out sessions in $work/NAME.json
  local name=$1 policy=$2 seed=$3; shift 3
  "$BIN" simulate --data "$work/holdout.csv" --policy "$policy" --seed "$seed" --visits "$VISITS" --now "$NOW" \
    "${keys[@]}" "${market[@]}" --json "$@" \
    > "$work/$name.json"
}

echo "Profit per held-out session (95% CI), $VISITS simulated visits per session; 'greedy' is the live bundle's"
echo "model arm alone, 'deployed' adds its control group (10%, the policy's uniform price) and 2% exploration."
echo "Differences are paired (same sessions, same valuations). Captured: (greedy - uniform) / (feature oracle - uniform)."
gate="initial model, trained on the market's exploring log"
for round in $(seq 0 "$ROUNDS"); do
  curl -sf "$origin/v1/policy/latest" -o "$work/live.epb"
  seed=1000   # the same held-out shoppers and valuations every round: rows differ only by policy
  sim deployed "$work/live.epb" "$seed" --baseline uniform
  sim greedy "$work/live.epb" "$seed" --greedy --baseline uniform
  sim greedy_list "$work/live.epb" "$seed" --greedy --baseline list
  sim list list "$seed"
  sim uniform uniform "$seed"
  sim oracle oracle "$seed"
  "$BIN" inspect --bundle "$work/live.epb" > "$work/live.inspect.json"
  python3 - "$work" "$round" "$gate" <<'PY'
import json, sys
work, rnd, gate = sys.argv[1:]
j = lambda n: json.load(open(f"{work}/{n}.json"))
d, g, gl, l, u, o = (j(n) for n in ["deployed", "greedy", "greedy_list", "list", "uniform", "oracle"])
version = j("live.inspect")["manifest"]["policy_version"]
f = lambda x: f"{x['profit_per_session']:.3f} [{x['profit_ci_low']:.3f}, {x['profit_ci_high']:.3f}]"
p = lambda e: f"{e['mean']:+.3f} [{e['ci_low']:+.3f}, {e['ci_high']:+.3f}]"
fo = g["feature_oracle"]
print(f"\nround {rnd}: live policy v{version}; {gate}")
print(f"  deployed {f(d)}   greedy {f(g)}   list {f(l)}   best uniform {f(u)}   feature oracle {fo['profit_per_session']:.3f}   oracle {f(o)}")
print(f"  deployed - uniform {p(d['uplift_vs_baseline'])}   greedy - uniform {p(g['uplift_vs_baseline'])}   greedy - list {p(gl['uplift_vs_baseline'])}")
print(f"  captured {fo['captured_share']:.1%} of (feature oracle - uniform)   cap binds {g['fairness']['cap_binds_share']:.1%}")
open(f"{work}/last_round.txt", "w").write(
    f"{g['uplift_vs_baseline']['ci_low']} {gl['uplift_vs_baseline']['ci_low']} {d['uplift_vs_baseline']['ci_low']}\n")
PY
  [ "$round" -eq "$ROUNDS" ] && break
  # This round's traffic: every learning session once, priced by the live bundle; the
  # feedback goes to the origin like the edge's would.
  "$BIN" simulate --data "$work/learn.csv" --policy "$work/live.epb" --seed "$round" --now "$NOW" "${keys[@]}" \
    "${market[@]}" --visits "$VISITS" --origin "$origin" >&2
  "$BIN" evaluate --db "sqlite://$work/origin.db" --policy "$work/live.epb" --now "$NOW" "${keys[@]}" >&2
  "$BIN" evaluate --db "sqlite://$work/origin.db" --policy list --dm "$work/live.epb" --now "$NOW" "${keys[@]}" >&2
  report=$("$BIN" retrain --db "sqlite://$work/origin.db" --live "$work/live.epb" --key "$work/loop.key" \
    --out "$work/next.epb" --origin "$origin" --seed "$((42 + round))" --now "$NOW" --created "$CREATED" \
    --valid-days 3650 "${keys[@]}" --json)
  # Ground truth of the gate's call: the candidate's model arm against the live one's.
  sim candidate "$work/next.epb" "$seed" --greedy --baseline "$work/live.epb"
  truth=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["uplift_vs_baseline"]; print("held-out truth, candidate greedy - live greedy: %+.3f [%+.3f, %+.3f]" % (e["mean"], e["ci_low"], e["ci_high"]))' "$work/candidate.json")
  verdict=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(("v%d promoted: " if d["published"] else "candidate v%d held: ") % d["policy_version"] + d["reason"])' "$(tail -1 <<<"$report")")
  gate="$verdict; $truth"
done
# With CHECK=1 (the test suite): the last live policy's model arm must beat both the list
# price and the best uniform price, and the deployed policy (control and exploration
# included) the best uniform price, on the held-out sessions, paired 95% intervals above zero.
if [ "${CHECK:-0}" = 1 ]; then
  read -r vs_uniform vs_list deployed_vs_uniform < "$work/last_round.txt"
  python3 -c 'import sys; sys.exit(0 if all(float(x) > 0 for x in sys.argv[1:]) else 1)' \
    "$vs_uniform" "$vs_list" "$deployed_vs_uniform" ||
    { echo "the learned policy does not beat list and uniform outside the intervals" >&2; exit 1; }
  echo "check: the learned policy's model arm beats the best uniform price (paired CI low $vs_uniform) and list" \
    "(CI low $vs_list); deployed, it beats the best uniform price (CI low $deployed_vs_uniform)"
fi
