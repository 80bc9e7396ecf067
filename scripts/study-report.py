"""Summarizes `edgeprice study` output (JSON lines, one per round and seed): per market
family, where the deployed policy ends after the last round against the best uniform price
and the feature oracle, and every gate call against its ground truth.
Usage: python3 scripts/study-report.py STUDY.jsonl [...]"""
import json
import statistics as st
import sys

rows = [json.loads(line) for path in sys.argv[1:] for line in open(path) if line.strip()]
markets = sorted({r["market"] for r in rows}, key=["v1", "logit", "flat"].index)
last = max(r["round"] for r in rows)
all_calls = []
print(f"After round {last} (held-out fifth, 4 visits per session; relative to the best uniform price):")
print("market  seeds  deployed vs uniform: mean [min, max]   seeds with paired CI above 0   "
      "model arm captured of (FO - uniform): median   FO - uniform")
for m in markets:
    final = [r["standing"] for r in rows if r["market"] == m and r["round"] == last]
    rel = [s["deployed_vs_uniform"] for s in final]
    above = sum(s["deployed_minus_uniform"]["ci_low"] > 0 for s in final)
    captured = [s["greedy_captured_share"] for s in final if s["greedy_captured_share"] is not None]
    gap = [s["feature_oracle"]["profit_per_session"] / s["uniform"]["profit_per_session"] - 1 for s in final]
    cap = f"{100 * st.median(captured):.0f}%" if captured else "n/a (oracle = uniform)"
    print(f"{m:6}  {len(final):5}  {100 * st.mean(rel):+.2f}% [{100 * min(rel):+.2f}%, {100 * max(rel):+.2f}%]"
          f"   {above:>2} of {len(final)}   {cap:>8}   {100 * st.mean(gap):+.2f}%")
print("\nGate calls (candidate vs live, judged on held-out logged decisions; truth: the market's expected")
print("profit of both deployed policies on the held-out sessions). The gate promotes when three paired DR")
print("intervals are above zero (explored decisions; all decisions with each of two direct methods); each")
print("alone is shown for comparison.")
rules = {
    "the gate (all three)": lambda c: c["promoted"],
    "explored decisions alone": lambda c: c["uplift_explored"]["ci_low"] > 0,
    "all, cross-fitted DM": lambda c: c["uplift"]["ci_low"] > 0,
    "all, live model as DM": lambda c: c["uplift_live_dm"]["ci_low"] > 0,
}
print("market  rule                       calls  truly better  false promotions / not better   power (promoted / better)")
for m in markets + ["all"]:
    calls = [r["gate"] for r in rows if (m == "all" or r["market"] == m) and r.get("gate")]
    better = [c for c in calls if c["truly_better"]]
    worse = [c for c in calls if not c["truly_better"]]
    for name, rule in rules.items():
        false = sum(rule(c) for c in worse)
        hits = sum(rule(c) for c in better)
        print(f"{m:6}  {name:25}  {len(calls):5}  {len(better):12}  {false:>5} / {len(worse):<4} ({100 * false / max(len(worse), 1):4.1f}%)"
              f"      {hits} / {len(better)} ({100 * hits / max(len(better), 1):.1f}%)")
