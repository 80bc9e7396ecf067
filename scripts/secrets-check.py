"""No secret in the logs of a test run: greps the run's whole output (scripts/test.sh tees it
to a file, worker logs included) and the logs it keeps (cargo test, learning loop) for every
token and session secret the tests and scripts use, and for the secret half of every signing
key made during the run (the worker tests' and the benchmark's `edgeprice keygen` files) or
present on this machine. Usage: secrets-check.py MARKER LOG [LOG ...] (keys newer than MARKER)."""
import glob
import json
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
marker = os.path.getmtime(sys.argv[1])
logs = [p for p in sys.argv[2:] if os.path.exists(p)]

secrets = set()
pattern = re.compile(r"[a-z]+-token-[a-zA-Z0-9-]{6,}|session-secret-[a-zA-Z0-9-]{8,}")
for base in ("tests", "scripts"):
    for path in glob.glob(os.path.join(root, base, "**", "*"), recursive=True):
        if os.path.isfile(path) and not path.endswith("secrets-check.py"):
            with open(path, errors="ignore") as f:
                secrets.update(pattern.findall(f.read()))
tmp = os.environ.get("TMPDIR", "/tmp")
keys = [p for p in glob.glob(os.path.join(tmp, "edgeprice-*", "**", "*.key"), recursive=True) if os.path.getmtime(p) >= marker]
keys += glob.glob(os.path.join(root, "build", "bench", "*.key")) + glob.glob(os.path.expanduser("~/.config/edgeprice/*.key"))
private = set()
for path in keys:
    try:
        private.add(json.load(open(path))["secret_key"].lower())
    except (OSError, ValueError, KeyError):
        pass
found = []
for log in logs:
    text = open(log, errors="ignore").read()
    lower = text.lower()
    found += [(log, "token " + s[:12] + "...") for s in secrets if s in text]
    found += [(log, "private key " + k[:8] + "...") for k in private if k in lower]
print(f"secrets check: {len(secrets)} tokens and secrets, {len(private)} private keys, "
      f"{len(logs)} logs ({sum(os.path.getsize(p) for p in logs):,} bytes): {len(found)} found")
for log, what in found:
    print(f"  {what} in {log}")
sys.exit(1 if found or not logs or not private else 0)
