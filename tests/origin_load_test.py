"""Abuse load at the origin: 10,000 feedback requests from 4 clients mixing valid batches,
batches with malformed events among valid ones, re-sent events, bodies that are not JSON or
not UTF-8, bodies over the 1 MiB limit and requests without or with a wrong token. Every
valid event must be stored exactly once, no invalid one at all, every request must get the
status its body calls for, and the server must stay responsive (p50/p99 printed; a health
check during the load must answer within a second). The server's log must hold neither
token. Run with EDGEPRICE_BIN pointing at the built binary (scripts/test.sh sets it).
"""

import http.client
import json
import os
import random
import sqlite3
import tempfile
import threading
import time
import urllib.request

from origin_crash_test import ADMIN, EDGE, free_port, start

REQUESTS = 10_000
CLIENTS = 4


def event(eid, **over):
    e = {"event_id": eid, "type": "decision", "decision_id": f"dec-{eid}", "session_id": "s", "sku": "sku-1",
         "policy_version": 1, "arm": "model", "price": 9.99, "propensity": 0.5, "features": [1, 2], "time": 1795867200}
    e.update(over)
    return e


def plan(client, rng):
    """The client's requests: (body bytes, headers, expected status, ids of the valid events in it)."""
    out = []
    sent = []
    for n in range(REQUESTS // CLIENTS):
        kind = rng.random()
        auth = {"Authorization": f"Bearer {EDGE}"}
        if kind < 0.55:  # a valid batch, sometimes re-sending earlier events (idempotent)
            ids = [f"c{client}-r{n}-e{i}" for i in range(rng.randint(1, 5))]
            events = [event(i) for i in ids]
            if sent and rng.random() < 0.3:
                again = rng.choice(sent)
                events.append(event(again))
                ids.append(again)
            sent.extend(ids)
            out.append((json.dumps(events).encode(), auth, 200, ids))
        elif kind < 0.80:  # NDJSON: valid events and malformed lines mixed
            ids = [f"c{client}-m{n}-e{i}" for i in range(3)]
            lines = [json.dumps(event(i)) for i in ids]
            lines.insert(1, '{"event_id": "broken", ')
            lines.append(json.dumps(event(f"c{client}-m{n}-neg", price=-1)))
            lines.append(json.dumps(event(f"c{client}-m{n}-nan", propensity=2.0)))
            lines.append(json.dumps({"event_id": f"c{client}-m{n}-what", "type": "nonsense"}))
            sent.extend(ids)
            out.append(("\n".join(lines).encode(), dict(auth, **{"Content-Type": "application/x-ndjson"}), 200, ids))
        elif kind < 0.90:  # not JSON, or not UTF-8
            body = b"[{\"event_id\": " if rng.random() < 0.5 else b"\xff\xfe\x00garbage"
            out.append((body, auth, 400, []))
        elif kind < 0.97:  # no token, or a wrong one
            headers = {} if rng.random() < 0.5 else {"Authorization": "Bearer not-the-token"}
            out.append((json.dumps([event(f"c{client}-x{n}")]).encode(), headers, 401, []))
        elif kind < 0.98:  # the admin token may not post feedback
            out.append((json.dumps([event(f"c{client}-a{n}")]).encode(), {"Authorization": f"Bearer {ADMIN}"}, 403, []))
        else:  # over the 1 MiB limit
            out.append((b"[" + b" " * (1 << 20) + b"]", auth, 413, []))
    return out


def test_mixed_feedback_load_stores_each_valid_event_once():
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "origin.db")
        log_path = os.path.join(d, "serve.log")
        with open(log_path, "w") as log:
            # The rate limiter is tested on its own (tests/origin_test.rs); here it must not
            # turn valid batches away, so the edge token's rate is set above the load.
            proc = start(db, port, log, EDGEPRICE_EDGE_RATE="100000:100000")
            try:
                plans = [plan(c, random.Random(1000 + c)) for c in range(CLIENTS)]
                latencies, failures, lock = [], [], threading.Lock()

                def client(requests):
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    mine = []
                    for body, headers, want, _ in requests:
                        t = time.perf_counter()
                        try:
                            conn.request("POST", "/v1/feedback", body=body, headers=headers)
                            resp = conn.getresponse()
                            resp.read()
                            got = resp.status
                            if resp.getheader("Connection", "").lower() == "close":
                                conn.close()
                                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        except (OSError, http.client.HTTPException) as e:
                            got = repr(e)
                            conn.close()
                            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        mine.append(time.perf_counter() - t)
                        if got != want:
                            with lock:
                                failures.append((want, got, body[:80]))
                    with lock:
                        latencies.extend(mine)

                threads = [threading.Thread(target=client, args=(p,)) for p in plans]
                start_t = time.perf_counter()
                for t in threads:
                    t.start()
                health = []
                while any(t.is_alive() for t in threads):
                    t0 = time.perf_counter()
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                    health.append(time.perf_counter() - t0)
                    time.sleep(0.2)
                for t in threads:
                    t.join()
                elapsed = time.perf_counter() - start_t
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        latencies.sort()
        p50, p99 = latencies[len(latencies) // 2] * 1e3, latencies[len(latencies) * 99 // 100] * 1e3
        print(f"{len(latencies)} feedback requests from {CLIENTS} clients in {elapsed:.1f} s: "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms; health checks during the load: {len(health)}, "
              f"slowest {max(health, default=0) * 1e3:.1f} ms")
        assert len(latencies) == REQUESTS
        assert not failures, f"{len(failures)} unexpected statuses, first: {failures[:3]}"
        assert health and max(health) < 1.0
        valid = {i for p in plans for (_, _, _, ids) in p for i in ids}
        rows = sqlite3.connect(db).execute("SELECT event_id, COUNT(*) FROM feedback GROUP BY event_id").fetchall()
        stored = dict(rows)
        assert set(stored) == valid, f"missing {len(valid - set(stored))}, unexpected {len(set(stored) - valid)}"
        assert all(n == 1 for n in stored.values())
        print(f"{len(valid)} distinct valid events stored exactly once; no malformed event stored")
        text = open(log_path).read()
        assert EDGE not in text and ADMIN not in text, "a token reached the log"


def test_slow_clients_are_cut_off_and_others_served():
    """Slowloris: a client that sends half its headers, and one that sends half its body,
    each hold a connection only until their deadline (1 s each here), while other clients
    are served meanwhile."""
    import socket

    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = start(os.path.join(d, "origin.db"), port, EDGEPRICE_HEADER_TIMEOUT_SECONDS="1",
                     EDGEPRICE_REQUEST_TIMEOUT_SECONDS="1")
        try:
            def slow(first_bytes):
                s = socket.create_connection(("127.0.0.1", port))
                s.settimeout(10)
                s.sendall(first_bytes)
                return s

            half_headers = slow(b"POST /v1/feedback HTTP/1.1\r\nHost: origin\r\nAuthorization: Bearer ")
            half_body = slow(f"POST /v1/feedback HTTP/1.1\r\nHost: origin\r\nAuthorization: Bearer {EDGE}\r\n"
                             f"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"event_id\":".encode())
            t0 = time.perf_counter()
            for _ in range(5):  # others are served while both slow clients hang on
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            answers = {}
            for name, s in [("headers", half_headers), ("body", half_body)]:
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    if name == "body" and b"\r\n\r\n" in data:
                        break
                answers[name] = (data, time.perf_counter() - t0)
                s.close()
            print(f"slow headers: connection closed after {answers['headers'][1]:.2f} s "
                  f"({answers['headers'][0][:12]!r}); slow body: {answers['body'][0][:12]!r} after {answers['body'][1]:.2f} s")
            assert answers["headers"][1] < 5, "a client sending half its headers is cut off"
            assert not answers["headers"][0].startswith(b"HTTP/1.1 2"), answers["headers"][0][:40]
            assert answers["body"][0].startswith(b"HTTP/1.1 408"), answers["body"][0][:60]
            assert answers["body"][1] < 5
        finally:
            proc.terminate()
            proc.wait(timeout=10)
