#!/usr/bin/env python3
"""Who may import whom (README, "Layout"), checked on `cargo metadata`'s resolved graph:
normal (non-dev) dependencies between workspace crates must be in ALLOWED. The compiler
already refuses an import that is not a dependency; this keeps the dependencies themselves
from growing a forbidden edge (core importing an adapter, edge importing the worker)."""
import json
import subprocess
import sys

ALLOWED = {
    "edgeprice-core": set(),
    "edgeprice-edge": {"edgeprice-core"},
    "edgeprice-web": {"edgeprice-core"},
    "edgeprice-worker": {"edgeprice-core", "edgeprice-edge"},
    "edgeprice-origin": {"edgeprice-core"},
    "edgeprice-learn": {"edgeprice-core"},
    "edgeprice-cli": {"edgeprice-core", "edgeprice-origin", "edgeprice-learn"},
    "edgeprice-testkit": {"edgeprice-core"},
}

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--no-deps"]))
members = {p["name"]: p for p in meta["packages"]}
bad = []
for name, package in sorted(members.items()):
    if name not in ALLOWED:
        bad.append(f"{name}: not in the layering table (scripts/layers-check.py, README)")
        continue
    uses = {d["name"] for d in package["dependencies"] if d["name"] in members and d.get("kind") is None}
    for dep in sorted(uses - ALLOWED[name]):
        bad.append(f"{name} depends on {dep}, which it may not import")
    print(f"{name}: {', '.join(sorted(uses)) or '(no workspace crate)'}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
