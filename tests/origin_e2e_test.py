"""End to end on a real port: `edgeprice serve`, then `edgeprice publish` and
`edgeprice rollback` as an operator runs them, and an edge's conditional poll.

Run with EDGEPRICE_BIN pointing at the built binary (scripts/test.sh sets it).
"""

import os
import pathlib
import subprocess
import urllib.error
import urllib.request

import json

from origin_crash_test import ADMIN, BIN, EDGE, free_port, start

REPO = pathlib.Path(__file__).resolve().parent.parent


def cli(*args, port):
    env = dict(os.environ, EDGEPRICE_ADMIN_TOKEN=ADMIN, EDGEPRICE_ORIGIN=f"http://127.0.0.1:{port}")
    return subprocess.run([BIN, *args], env=env, capture_output=True, text=True)


def get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_publish_poll_and_roll_back_on_a_real_port(tmp_path):
    # pytest keeps the last three runs' tmp_path folders and removes older ones.
    port = free_port()
    workdir = str(tmp_path)
    db = os.path.join(workdir, "origin.db")
    log_path = os.path.join(workdir, "serve.log")
    log = open(log_path, "w")
    proc = start(db, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        # Before anything is published the edge gets the built-in default bundle.
        status, headers, body = get(f"{base}/v1/policy/latest")
        assert status == 200 and headers["etag"] == '"1"'
        assert body == (REPO / "models/default.epb").read_bytes()

        out = cli("publish", "--bundle", str(REPO / "models/default.epb"), port=port)
        assert out.returncode == 0, out.stderr
        assert '"policy_version":1' in out.stdout

        again = cli("publish", "--bundle", str(REPO / "models/default.epb"), port=port)
        assert again.returncode != 0 and "bundle_downgrade" in again.stdout

        status, _, body = get(f"{base}/v1/policy/latest", {"If-None-Match": '"1"'})
        assert status == 304 and body == b""

        assert cli("rollback", "--to", "1", port=port).returncode == 0
        missing = cli("rollback", "--to", "9", port=port)
        assert missing.returncode != 0 and "unknown_version" in missing.stdout

        status, headers, body = get(f"{base}/products/sku-1001")
        assert status == 200 and b'data-edgeprice-sku="sku-1001"' in body
        feedback = urllib.request.Request(f"{base}/v1/feedback", data=b"[]", method="POST",
                                          headers={"Authorization": f"Bearer {EDGE}"})
        assert urllib.request.urlopen(feedback, timeout=5).status == 200
    finally:
        proc.kill()
        proc.wait()
        log.close()
    # Structured logs: one JSON object per line, a line per request, and no secret anywhere.
    text = open(log_path).read()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [l for l in lines if l.get("fields", {}).get("message") == "request"]
    assert any(l["fields"]["path"] == "/v1/policy" and l["fields"]["status"] == 201 for l in requests), lines[:5]
    assert ADMIN not in text and EDGE not in text
