#!/usr/bin/env bash
# Does personalized pricing pay, and is the promotion gate right when it says yes? Figures
# for README's "Pricing that pays" section, all measured in one run:
#  1. the personalization cap: a model trained on four fifths of the train file, bundled
#     with caps 0 .. 1, its model arm on the held-out fifth against the best uniform price
#     and the feature oracle, in market version 1 (where the model is right) and in the
#     flat and logit markets (where this model is wrong: what the cap protects);
#  2. seeded learning loops from a cold start (`edgeprice study`), SEEDS per market family
#     (markets/*.toml), 3 rounds each: where the deployed policy ends against the best
#     uniform price, and every gate call against its ground truth (false promotions, power).
# Usage: scripts/pricing-study.sh [SEEDS] [CSV]   (SEEDS=20: about 12 minutes here)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
SEEDS=${1:-20}
DATA=${2:-$EDGEPRICE_DATA}
NOW=2026-12-05T12:00:00Z
cargo build --release --bin edgeprice >&2
BIN="$CARGO_TARGET_DIR/release/edgeprice"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk -v out="$work" 'NR == 1 { print > out "/learn.csv"; print > out "/holdout.csv"; next }
  { print > (out ((NR - 2) % 5 == 4 ? "/holdout.csv" : "/learn.csv")) }' "$DATA"

echo "== 1. The personalization cap (model trained on the learning four fifths, market version 1's log)"
"$BIN" keygen --out "$work/k.key" --key-id study >/dev/null
"$BIN" train --data "$work/learn.csv" --out "$work/model" >/dev/null 2>&1
for cap in 0.00 0.05 0.10 0.15 1.00; do
  sed "s/^cap = [0-9.]*/cap = $cap/" models/rules.toml > "$work/rules.toml"
  "$BIN" bundle --model "$work/model" --rules "$work/rules.toml" --page-values models/page_values.json \
    --policy-version 2 --key "$work/k.key" --created 2026-11-01T00:00:00Z --valid-days 3650 --out "$work/cap.epb" >/dev/null 2>&1
  for market in v1 logit flat; do
    "$BIN" simulate --data "$work/holdout.csv" --policy "$work/cap.epb" --greedy --baseline uniform --seed 1000 \
      --visits 4 --now "$NOW" --trusted-key "$work/k.key.pub.json" --market "markets/$market.toml" --json \
      > "$work/cap-$cap-$market.json"
  done
done
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
print("cap   market  model arm - uniform (paired 95% CI)   captured of (feature oracle - uniform)   cap binds")
for cap in ["0.00", "0.05", "0.10", "0.15", "1.00"]:
    for market in ["v1", "logit", "flat"]:
        d = json.load(open(f"{work}/cap-{cap}-{market}.json"))
        u, f = d["uplift_vs_baseline"], d["feature_oracle"]
        gap = f["feature_oracle_minus_uniform"]["mean"]
        share = f"{100 * f['captured_share']:.0f}%" if abs(gap) > 1e-9 else "n/a (oracle = uniform)"
        print(f"{cap}  {market:6}  {u['mean']:+.3f} [{u['ci_low']:+.3f}, {u['ci_high']:+.3f}]  "
              f"({100 * u['mean'] / f['uniform_profit_per_session']:+.2f}%)   {share:>22}   {100 * d['fairness']['cap_binds_share']:.1f}%")
PY

echo "== 2. Learning loops from a cold start: $SEEDS seeds x 3 rounds per market family"
for market in v1 logit flat; do
  "$BIN" study --data "$DATA" --market "markets/$market.toml" --seeds "$SEEDS" --rounds 3 > "$work/study-$market.jsonl"
done
python3 scripts/study-report.py "$work"/study-*.jsonl
