"""Helper of scripts/bench-console.sh (standard library only).
gen FILE: 1,000,000 seeded feedback events as NDJSON, 1,000 a batch (500 decisions over
the last 7 days, then their 500 outcomes); run URL FILE OUT: loads them, waits for the
rollups, times the console's pages, endpoints and CSV export, writes OUT (JSON);
table OUT...: the summary, exit 1 if a page's median is >= 1 s or a request failed."""
import csv, io, json, os, random, statistics, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from urllib.parse import urlsplit

DECISIONS, BATCH, CONNECTIONS, REPEAT = int(os.environ.get("DECISIONS", 500_000)), 1_000, 3, 20
PV = "policy_version=3"
# Each page's requests in the order console.js makes them: a stage starts when the one
# before it has answered; the requests of a stage run in parallel (the browser's fetches).
PAGES = {
    "console shell": [["/console"], ["/console/console.js", "/console/console.css"]],
    "overview": [["/v1/policy"], ["/v1/reports/overview"]],  # + manifest when a policy is live
    "experiment": [["/v1/policy"], [f"/v1/reports/summary?{PV}", f"/v1/reports/timeseries?bucket=hour&{PV}"]],
    "prices": [["/v1/policy"], [f"/v1/reports/prices?{PV}"]],
    "fairness": [["/v1/policy"], [f"/v1/reports/fairness?{PV}"]],
    "policies": [["/v1/policy", "/v1/push/deliveries?limit=20"]],
}
# Also timed alone: the reports over all versions (the console's query when no policy is live).
ALL_VERSIONS = ["/v1/reports/summary", "/v1/reports/timeseries?bucket=hour", "/v1/reports/prices", "/v1/reports/fairness"]


def gen(path):
    rng = random.Random(20240601)
    products = json.load(open("www/catalog.json"))["products"]
    now = int(time.time())
    levels = {"Month": ["Feb", "Mar", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
              "OperatingSystems": ["1", "2", "3", "4"], "Browser": ["1", "2", "4", "5"],
              "Region": [str(r) for r in range(1, 10)], "TrafficType": ["1", "2", "3", "4", "13"],
              "VisitorType": ["Returning_Visitor", "New_Visitor", "Other"]}
    purchases, dumps = 0, json.JSONEncoder(separators=(",", ":")).encode
    with open(path, "w") as out:
        for b in range(DECISIONS * 2 // BATCH):
            decisions, outcomes = [], []
            for i in range(b * BATCH // 2, (b + 1) * BATCH // 2):
                s = i // 2  # two decisions a session, same features
                srng = random.Random(s)
                features = {k: srng.choice(v) for k, v in levels.items()}
                features.update(Weekend=srng.random() < 0.25, ProductRelated=srng.randint(1, 120),
                                ProductRelated_Duration=round(srng.uniform(10, 4000), 1), PageValues=round(srng.expovariate(0.2), 2))
                p = rng.choice(products)
                arm = rng.choices(["model", "explore", "control"], [0.8, 0.1, 0.1])[0]
                price = p["list_price"] if arm == "control" else round(p["list_price"] * rng.choice([0.85, 0.9, 0.95, 1.0, 1.05]), 2)
                uniform = round(p["list_price"] * 0.95, 2)
                prob = round(rng.uniform(0.01, 0.13), 4)
                at = rng.randint(now - 7 * 86400, now - 120)
                d = {"event_id": f"d{i}", "type": "decision", "decision_id": f"dec{i}", "session_id": f"s{s}",
                     "sku": p["sku"], "policy_version": rng.choice([1, 2, 3]), "arm": arm, "price": price,
                     "cost": p["cost"], "propensity": {"model": 0.8, "explore": 0.1, "control": 0.1}[arm],
                     "features": features, "list_price": p["list_price"], "uniform_price": uniform,
                     "purchase_probability": prob, "personalized": arm == "model" and price != uniform,
                     "reasons": ["model"] + (["personalization_cap"] if rng.random() < 0.05 else []), "time": at}
                j = rng.random()
                if j < 0.15:
                    d["jurisdiction"] = "US-NY" if j < 0.05 else "EU"
                d["disclosed"] = "jurisdiction" in d or rng.random() < 0.3
                bought = rng.random() < prob
                purchases += bought
                o = {"event_id": f"o{i}", "type": "outcome", "decision_id": f"dec{i}", "purchased": bought,
                     "time": min(now - 60, at + rng.randint(5, 1800)), **({"revenue": price} if bought else {})}
                decisions.append(dumps(d))
                outcomes.append(dumps(o))
            out.write("\n".join(decisions + outcomes) + "\n")
    json.dump({"purchases": purchases}, open(path + ".meta", "w"))


def get(base, path, admin, sink=None):
    """GET with the admin token; (seconds, status, body or rows when sink)."""
    c = HTTPConnection(base.hostname, base.port, timeout=60)
    t = time.perf_counter()
    c.request("GET", path, headers={} if path.startswith("/console") else {"Authorization": f"Bearer {admin}"})
    r = c.getresponse()
    body = sink(r) if sink and r.status == 200 else r.read()
    s = time.perf_counter() - t
    c.close()
    return s, r.status, body


def run(url, path, out):
    base, edge, admin = urlsplit(url), os.environ["EDGEPRICE_EDGE_TOKEN"], os.environ["EDGEPRICE_ADMIN_TOKEN"]
    res, lock, lines, failures = {"accepted": 0}, threading.Lock(), open(path, "rb"), []

    def poster():
        c = HTTPConnection(base.hostname, base.port, timeout=60)
        while True:
            with lock:
                body = b"".join(lines.readline() for _ in range(BATCH))
            if not body:
                return
            c.request("POST", "/v1/feedback", body, {"Authorization": f"Bearer {edge}", "Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            a = json.loads(r.read())
            with lock:
                if r.status != 200 or a.get("rejected") or a.get("duplicates"):
                    failures.append(f"POST /v1/feedback: {r.status} {str(a)[:200]}")
                res["accepted"] += a.get("accepted", 0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONNECTIONS) as ex:
        list(ex.map(lambda _: poster(), range(CONNECTIONS)))
    loaded = time.perf_counter()
    res.update(load_s=loaded - t0, events_per_s=res["accepted"] / (loaded - t0))
    if res["accepted"] != 2 * DECISIONS:
        failures.append(f"accepted {res['accepted']} events, not {2 * DECISIONS}")
    print(f"  loaded {res['accepted']} events in {res['load_s']:.1f} s: {res['events_per_s']:.0f} events/s", flush=True)
    want = json.load(open(path + ".meta"))["purchases"]
    while True:  # the rollups take in what was received up to EDGEPRICE_REQUEST_TIMEOUT_SECONDS + 1 ago
        fb = json.loads(get(base, "/v1/reports/overview", admin)[2])["feedback"]
        if fb["decisions"] >= DECISIONS or time.perf_counter() - loaded > 900:
            break
        time.sleep(0.25)
    res["catchup_s"] = time.perf_counter() - loaded
    if (fb["decisions"], fb["purchases"]) != (DECISIONS, want):
        failures.append(f"rollups: {fb['decisions']} decisions, {fb['purchases']} purchases; want {DECISIONS}, {want}")
    print(f"  rollups caught up {res['catchup_s']:.1f} s after the last POST ({fb['purchases']} purchases)", flush=True)

    pool = ThreadPoolExecutor(6)  # a browser's connections per host

    def timed(p):
        s, status, body = get(base, p, admin)
        if status != 200:
            failures.append(f"GET {p}: {status} {body[:200]!r}")
        return s

    live = json.loads(get(base, "/v1/policy", admin)[2]).get("live")
    if live is not None:
        PAGES["overview"][1].append(f"/v1/policy/{live}/manifest")
    def page(stages):
        t = time.perf_counter()
        for stage in stages:
            list(pool.map(timed, stage))
        return (time.perf_counter() - t) * 1e3

    res["pages"] = {name: [page(stages) for _ in range(REPEAT)] for name, stages in PAGES.items()}
    endpoints = list(dict.fromkeys(p for stages in PAGES.values() for s in stages for p in s)) + ALL_VERSIONS
    res["endpoints"] = {p: [timed(p) * 1e3 for _ in range(REPEAT)] for p in endpoints}
    rows = lambda r: sum(1 for _ in csv.reader(io.TextIOWrapper(r, "utf-8", newline=""))) - 1
    s, status, n = get(base, f"/v1/export/decisions.csv?{PV}", admin, sink=rows)
    if status != 200:
        failures.append(f"GET /v1/export/decisions.csv?{PV}: {status} {n[:200]!r}")
    res.update(export_s=s, export_rows=n if status == 200 else 0, failures=failures)
    json.dump(res, open(out, "w"))


def table(outs):
    runs = {os.path.basename(o).split(".")[0]: json.load(open(o)) for o in outs}
    heads = [f"{n} {m} ms" for n in ("sqlite", "postgres") for m in ("median", "max")]
    bad = [f"{n}: {p} median {statistics.median(v):.0f} ms" for n, r in runs.items() for p, v in r["pages"].items()
           if statistics.median(v) >= 1000] + [f"{n}: {f}" for n, r in runs.items() for f in r["failures"]]
    for key, title in (("pages", "page"), ("endpoints", "endpoint, alone")):
        print(f"\n{title:<52}" + "".join(f" | {h}" for h in heads))
        for p in dict.fromkeys(p for r in runs.values() for p in r[key]):
            v = [runs.get(n, {}).get(key, {}).get(p) for n in ("sqlite", "postgres")]
            cells = [f"{f(x):.1f}" if x else "-" for x in v for f in (statistics.median, max)]
            print(f"{p:<52}" + "".join(f" | {c:>{len(h)}}" for c, h in zip(cells, heads)))
    print()
    for n in sorted(runs, key=lambda n: n != "sqlite"):
        r = runs[n]
        print(f"{n}: load {r['events_per_s']:.0f} events/s ({r['load_s']:.1f} s), rollup catch-up {r['catchup_s']:.1f} s, "
              f"CSV export ({PV}) {r['export_s']:.2f} s for {r['export_rows']} rows")
    for b in bad:
        print("FAIL", b)
    return 1 if bad else 0


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    sys.exit(gen(*args) if cmd == "gen" else run(*args) if cmd == "run" else table(args))
