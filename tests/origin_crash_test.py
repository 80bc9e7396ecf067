"""Crash test of the origin's durability promise: a client streams feedback batches while
the server is killed with SIGKILL at random moments and restarted on the same database
(a SQLite file; and PostgreSQL, whose batches go in by COPY, when EDGEPRICE_TEST_POSTGRES
names a server). Every event of every acknowledged batch must be in the database
afterwards, none twice; batches that got no answer are re-sent (idempotent by event id).

Run with EDGEPRICE_BIN pointing at the built binary (scripts/test.sh sets it).
"""

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

BIN = os.environ.get("EDGEPRICE_BIN", "edgeprice")
EDGE = "edge-token-crash-test-000"
ADMIN = "admin-token-crash-test-00"
KILLS = 5
BATCH = 50


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db, port, log=None, **extra_env):
    """The origin on `db`: a SQLite file path or a postgres:// URL."""
    env = dict(os.environ, EDGEPRICE_ADMIN_TOKEN=ADMIN, EDGEPRICE_EDGE_TOKEN=EDGE, **extra_env)
    url = db if db.startswith("postgres") else f"sqlite://{db}?mode=rwc"
    proc = subprocess.Popen([BIN, "serve", "--db", url, "--listen", f"127.0.0.1:{port}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("origin did not start")


def batch(n):
    return [{"event_id": f"b{n}-e{i}", "type": "decision", "decision_id": f"b{n}-d{i}", "session_id": f"s{i}",
             "sku": "sku-1", "policy_version": 1, "arm": "model", "price": 9.99, "propensity": 0.5,
             "features": [i, n], "time": 1795867200} for i in range(BATCH)]


def post(port, events):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/feedback", data=json.dumps(events).encode(),
                                 headers={"Authorization": f"Bearer {EDGE}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def sqlite_db(folder):
    db = os.path.join(folder, "origin.db")

    def ids():
        conn = sqlite3.connect(db)
        rows = [r[0] for r in conn.execute("SELECT event_id FROM feedback")]
        conn.close()
        return rows

    return db, ids


def postgres_db():
    server = os.environ.get("EDGEPRICE_TEST_POSTGRES")
    if not server or not shutil.which("psql"):
        if os.environ.get("EDGEPRICE_REQUIRE_POSTGRES"):
            raise RuntimeError("EDGEPRICE_REQUIRE_POSTGRES is set but no PostgreSQL is named")
        pytest.skip("no PostgreSQL (EDGEPRICE_TEST_POSTGRES)")
    name = f"edgeprice_crash_{os.getpid()}"
    psql = lambda url, sql: subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True).stdout
    # Earlier runs' databases first (the origin tests do the same); then a fresh one.
    for old in psql(f"{server}/postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'edgeprice\\_crash\\_%'").split():
        subprocess.run(["psql", f"{server}/postgres", "-Atqc", f"DROP DATABASE IF EXISTS {old}"], capture_output=True)
    psql(f"{server}/postgres", f"CREATE DATABASE {name}")
    url = f"{server}/{name}"
    return url, lambda: psql(url, "SELECT event_id FROM feedback").split()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_acknowledged_feedback_survives_sigkill(backend, tmp_path):
    rng = random.Random(7)
    db, stored_ids = sqlite_db(str(tmp_path)) if backend == "sqlite" else postgres_db()
    port = free_port()
    server = {"proc": start(db, port)}
    killed = threading.Event()

    def killer():
        # SIGKILL at a random moment, usually while a batch is in flight.
        time.sleep(rng.uniform(0.05, 0.4))
        server["proc"].send_signal(signal.SIGKILL)
        killed.set()

    acknowledged = set()
    n = kills = unanswered = 0
    threading.Thread(target=killer, daemon=True).start()
    try:
        while kills < KILLS:
            if killed.is_set():
                server["proc"].wait()
                kills += 1
                killed.clear()
                server["proc"] = start(db, port)
                if kills < KILLS:
                    threading.Thread(target=killer, daemon=True).start()
            events = batch(n)
            try:
                answer = post(port, events)
            except (urllib.error.URLError, ConnectionError, OSError):
                unanswered += 1
                killed.wait(5)
                continue  # no answer: the same batch (same ids) is re-sent after the restart
            assert answer["rejected"] == [], answer
            assert answer["accepted"] + answer["duplicates"] == BATCH, answer
            acknowledged.update(e["event_id"] for e in events)
            n += 1
    finally:
        server["proc"].send_signal(signal.SIGKILL)
        server["proc"].wait()
    rows = stored_ids()
    if backend == "postgres":
        subprocess.run(["psql", f"{os.environ['EDGEPRICE_TEST_POSTGRES']}/postgres", "-Atqc",
                        f"DROP DATABASE IF EXISTS {db.rsplit('/', 1)[1]} WITH (FORCE)"], check=False, capture_output=True)
    stored = set(rows)
    print(f"crash test ({backend}): {kills} SIGKILLs, {n} batches ({len(acknowledged)} events) acknowledged, "
          f"{unanswered} posts cut off by a kill, {len(rows)} rows stored")
    assert len(rows) == len(stored), "an event was stored twice"
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged events lost"
    assert n > 0 and unanswered > 0
