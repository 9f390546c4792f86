"""lib/ambient.py (the real client and queue) against tools/ambient_server.py (the real local
server) over loopback, on one simulated clock: everything generated is delivered in order with its
created time, through every failure mode the server can play, within Ambient's limits; and the
server itself refuses bad write keys, bad JSON and sends closer than 5 s."""
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import threading

import pytest

from ambient import Ambient, AmbientError, AmbientQueue
from ambient_server import AmbientServer, SimClock, created_ms

KEY = "wk-Secret-0123456789"
CHANNEL = "4242"
TIMEOUT_S = 0.5     # real seconds per socket operation in these tests
START = 1704067200000 + 3 * 3600 * 1000   # 2024-01-01 03:00 UTC


def make(schedule=None, **server_kw):
    clock = SimClock(START)
    server = AmbientServer(CHANNEL, KEY, clock=clock, schedule=schedule, **server_kw)
    port = server.start()
    client = Ambient(CHANNEL, KEY, url="http://127.0.0.1:%d" % port, socket_module=socket,
                     timeout=TIMEOUT_S)
    return clock, server, client


def record(clock, i):
    return {"created": clock(), "d1": 12.5 + i % 7, "d2": 0.25 * (i % 9), "d3": 100 + i * 0.1,
            "d4": 2500 + i}


def drive(clock, server, queue, seconds, every_s=30, step_s=1, start_i=0, generate=True):
    """Run the app loop: a record every `every_s`, service() every `step_s` of simulated time."""
    made = []
    i = start_i
    for step in range(int(seconds / step_s)):
        if generate and step * step_s % every_s == 0:
            r = record(clock, i)
            queue.add(r)
            made.append(r)
            i += 1
        queue.service(clock())
        clock.advance(step_s * 1000)
        server.sync()
    return made


def first_seen(created):
    seen = set()
    out = []
    for c in created:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def check_no_limit_violations(server):
    s = server.stats()
    assert s["rejected_rate"] == 0 and s["rejected_daily"] == 0
    assert s["rejected_key"] == 0 and s["rejected_shape"] == 0


def test_delivered_records_equal_generated_in_order_with_created_kept():
    clock, server, client = make()
    try:
        q = AmbientQueue(client, clock)
        made = drive(clock, server, q, 3600)
        drive(clock, server, q, 60, generate=False)
        assert len(made) == 120
        assert q.sent == 120 and q.queued == 0 and q.failures == 0
        assert server.records == made          # same fields, same created, same order
        s = server.stats()
        assert s["stored"] == 120 and s["distinct"] == 120 and s["duplicates"] == 0
        check_no_limit_violations(server)
        times = [t for t, kind, outcome, n in server.requests]
        assert all(b - a >= 5000 for a, b in zip(times, times[1:]))
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["refuse", "timeout", 500, 503, 429, "drop", "store_drop", "store_hold"])
def test_failure_window_then_the_queue_drains(mode, tmp_path):
    # 20 minutes of failure starting 10 minutes in; records every 30 s for an hour.
    clock, server, client = make(schedule=[(600, 1800, mode)])
    try:
        q = AmbientQueue(client, clock, store_path=str(tmp_path / "amb"), ram_limit=10,
                         file_limit=500, backoff_min_ms=10000, backoff_max_ms=300000)
        made = drive(clock, server, q, 3600)
        drive(clock, server, q, 600, generate=False)
        assert q.queued == 0
        assert q.failures > 0
        stored = server.created_list()
        assert first_seen(stored) == [r["created"] for r in made]   # nothing lost, in order
        s = server.stats()
        assert s["duplicates"] <= q.duplicates_possible
        assert s["duplicates"] == len(stored) - len(made)
        check_no_limit_violations(server)
        if mode in ("refuse", 500, 503, 429):
            assert q.duplicates_possible == 0 and s["duplicates"] == 0
        if mode in ("timeout", "drop"):
            assert q.duplicates_possible > 0 and s["duplicates"] == 0
        if mode in ("store_drop", "store_hold"):
            assert s["duplicates"] > 0
            # the first ambiguous batch may repeat whole; every later one is a single record
            assert s["duplicates"] <= q.batch_max + s["injected"][mode]
        if mode == "refuse":
            assert s["refusals"] == 1 and q.last_error.startswith("connect")
        if mode in (500, 503):
            assert s["injected"][mode] == q.failures
        assert q.in_file == 0 and not any(p.name.startswith("amb") for p in tmp_path.iterdir())
    finally:
        server.stop()


def test_long_outage_spills_to_flash_and_survives_a_restart(tmp_path):
    clock, server, client = make(schedule=[(0, 4 * 3600, "refuse")])
    path = str(tmp_path / "amb")
    try:
        q = AmbientQueue(client, clock, store_path=path, ram_limit=20, file_limit=2000, batch_max=20)
        made = drive(clock, server, q, 3 * 3600, step_s=5)
        assert q.in_file > 0 and q.spill_writes == q.in_file // 20
        assert q.flush() > 0
        # restart: a new queue on the same files, once the server is back
        clock.advance(3600 * 1000)
        server.sync()
        q2 = AmbientQueue(client, clock, store_path=path, ram_limit=20, file_limit=2000, batch_max=20)
        assert q2.restored == len(made)
        drive(clock, server, q2, 3600, step_s=5, generate=False)
        assert server.created_list() == [r["created"] for r in made]
        assert server.stats()["duplicates"] == 0
        check_no_limit_violations(server)
        assert os.listdir(str(tmp_path)) == []
    finally:
        server.stop()


@pytest.mark.parametrize("offset_h", [0, 9])
def test_queue_daily_cap_matches_the_servers_day(offset_h):
    # Small quota on both sides, records every 30 s over 30 hours: the server (whose day starts
    # at UTC or JST midnight) never has to refuse, and the queue keeps what it may not send yet.
    clock, server, client = make(daily_limit=200, day_offset_s=offset_h * 3600)
    try:
        q = AmbientQueue(client, clock, daily_limit=200, ram_limit=5000)
        made = drive(clock, server, q, 30 * 3600, step_s=10)
        check_no_limit_violations(server)
        assert all(n <= 200 for n in server.stats()["per_day"].values())
        assert q.sent == len(server.records) and q.sent < len(made)
        assert server.created_list() == [r["created"] for r in made[:q.sent]]
    finally:
        server.stop()


def test_server_rejects_bad_write_key():
    clock, server, client = make()
    try:
        bad = Ambient(CHANNEL, "not-the-key", url="http://127.0.0.1:%d" % server.port,
                      socket_module=socket, timeout=TIMEOUT_S)
        assert bad.send({"created": clock(), "d1": 1}).status_code == 403
        assert server.records == [] and server.stats()["rejected_key"] == 1
        other = Ambient("999", KEY, url="http://127.0.0.1:%d" % server.port, socket_module=socket,
                        timeout=TIMEOUT_S)
        assert other.send({"created": clock(), "d1": 1}).status_code == 404
        assert client.send({"created": clock(), "d1": 1}).status_code == 200
        assert len(server.records) == 1
    finally:
        server.stop()


def test_server_rejects_sends_closer_than_5_s():
    clock, server, client = make()
    try:
        assert client.send({"created": clock(), "d1": 1}).status_code == 200
        clock.advance(4999)
        r = client.send({"created": clock(), "d1": 2})
        assert r.status_code == 429
        assert server.stats()["rejected_rate"] == 1
        clock.advance(1)
        assert client.send({"created": clock(), "d1": 3}).status_code == 200
        assert [r["d1"] for r in server.records] == [1, 3]
    finally:
        server.stop()


def test_server_enforces_the_daily_limit_per_utc_day():
    clock, server, client = make()
    try:
        for _ in range(3):
            batch = [{"created": clock() - i, "d1": i} for i in range(1000)]
            assert client.send(batch).status_code == 200
            clock.advance(5000)
        assert client.send({"created": clock(), "d1": 1}).status_code == 429
        assert server.stats()["rejected_daily"] == 1
        clock.advance(21 * 3600 * 1000)       # 03:00 + 21 h: next UTC day
        assert client.send({"created": clock(), "d1": 1}).status_code == 200
    finally:
        server.stop()


def post(port, path, body, ctype="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_server_checks_the_json_shape():
    clock, server, _ = make()
    try:
        base = "/api/v2/channels/%s/" % CHANNEL
        bad = [
            (base + "dataarray", "not json"),
            (base + "dataarray", json.dumps({"writeKey": KEY})),
            (base + "dataarray", json.dumps({"writeKey": KEY, "data": []})),
            (base + "dataarray", json.dumps({"writeKey": KEY, "data": [{"d1": "x"}]})),
            (base + "dataarray", json.dumps({"writeKey": KEY, "data": [{"d9": 1}]})),
            (base + "dataarray", json.dumps({"writeKey": KEY, "data": [{"created": 1}]})),
            (base + "dataarray", json.dumps({"writeKey": KEY, "data": [{"d1": True}]})),
            (base + "dataarray", json.dumps({"writeKey": KEY, "data": [{"d1": 1, "created": "yesterday"}]})),
            (base + "data", json.dumps({"writeKey": KEY, "data": [{"d1": 1}]})),
        ]
        for path, body in bad:
            status, _ = post(server.port, path, body)
            assert status == 400, body
        assert post(server.port, base + "data", json.dumps({"writeKey": KEY, "d1": 1}), "text/plain")[0] == 400
        assert post(server.port, "/api/v2/channels/1/data", json.dumps({"writeKey": KEY, "d1": 1}))[0] == 404
        assert server.records == []
        # the single-record endpoint, with a created string and without created
        status, text = post(server.port, base + "data",
                            json.dumps({"writeKey": KEY, "d1": 1.5, "created": "2024-01-01 03:00:00.250"}))
        assert (status, text) == (200, "OK")
        clock.advance(5000)
        assert post(server.port, base + "data", json.dumps({"writeKey": KEY, "d2": 7}))[0] == 200
        assert server.records == [{"d1": 1.5, "created": START + 250}, {"d2": 7, "created": clock()}]
    finally:
        server.stop()


def test_server_counts_duplicates_by_created_and_fields():
    clock, server, client = make()
    try:
        r = {"created": clock(), "d1": 1, "d2": 2}
        client.send([r, dict(r, d2=3)])
        clock.advance(5000)
        client.send([r])
        s = server.stats()
        assert s["stored"] == 3 and s["distinct"] == 2 and s["duplicates"] == 1
    finally:
        server.stop()


def test_created_string_parsing():
    assert created_ms("1970-01-01 00:00:00") == 0
    assert created_ms("2024-01-01 00:00:01.5") == 1704067201500
    assert created_ms(1704067200000) == 1704067200000


def test_client_error_modes_against_the_server():
    clock, server, client = make()
    try:
        server.set_mode("refuse")
        e = pytest.raises(AmbientError, client.send, {"created": clock(), "d1": 1}).value
        assert e.stage == "connect" and not e.sent
        server.set_mode("timeout")
        e = pytest.raises(AmbientError, client.send, {"created": clock(), "d1": 1}).value
        assert e.stage == "recv" and e.sent and "timeout" in str(e)
        server.set_mode("store_drop")
        e = pytest.raises(AmbientError, client.send, {"created": clock(), "d1": 1}).value
        assert e.stage == "recv" and e.sent
        assert len(server.records) == 1          # stored, though the client could not know
        server.set_mode(500)
        clock.advance(5000)
        assert client.send({"created": clock(), "d1": 1}).status_code == 500
        server.set_mode(None)
        assert client.send({"created": clock(), "d1": 1}).status_code == 200
        for text in (str(e), repr(e), repr(client)):
            assert KEY not in text
    finally:
        server.stop()


def _send_in_thread(client):
    box = {}

    def run():
        try:
            box["resp"] = client.send({"created": START, "d1": 1})
        except AmbientError as e:
            box["err"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    return (not t.is_alive()), box


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_connect_to_a_syn_black_hole_returns_an_error(use_select):
    """A listener whose accept queue is full: Linux drops the SYN, so connect never completes
    (what an unreachable host looks like).  The client must come back with a connect error."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    fillers = []
    try:
        for _ in range(2):
            f = socket.socket()
            f.settimeout(0.5)
            try:
                f.connect(hole.getsockname())
            except OSError:
                pass
            fillers.append(f)
        client = Ambient(CHANNEL, KEY, url="http://127.0.0.1:%d" % hole.getsockname()[1],
                         socket_module=socket, timeout=TIMEOUT_S,
                         select_module=select if use_select else None)
        returned, box = _send_in_thread(client)
        assert returned
        assert box["err"].stage == "connect" and not box["err"].sent
    finally:
        for f in fillers:
            f.close()
        hole.close()


def test_cli_serves_until_terminated():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, os.path.join(root, "tools", "ambient_server.py"),
                             "--channel", "77", "--write-key", KEY, "--fail", "0:1:500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line and KEY not in line
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        client = Ambient(77, KEY, url="http://127.0.0.1:%d" % port, socket_module=socket, timeout=2)
        status = client.send({"created": START, "d1": 1}).status_code
        assert status in (200, 500)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert KEY not in out and KEY not in err
    stats = json.loads(out.strip().splitlines()[-1].split("ambient-server: ", 1)[1])
    assert stats["requests"] == 1
