"""lib/ambient.py (the real queue and client) against tools/ambient_server.py (the real local
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

import ambient
from ambient import Ambient
from ambient_server import AmbientServer, SimClock, created_ms
from log import Logger

KEY = "wk-Secret-0123456789"
CHANNEL = "4242"
TIMEOUT_S = 0.5     # real seconds per socket step in these tests
START = 1704067200000 + 3 * 3600 * 1000   # 2024-01-01 03:00 UTC
SENT, FAILED, AMBIGUOUS, REJECTED = 5, 6, 7, 8     # what service() returns


@pytest.fixture(autouse=True)
def real_open():
    ambient.open = open       # tests/device may have left a stand-in there


def queue(clock, port, path, select_module=None, key=KEY, channel=CHANNEL, lines=None):
    log = Logger("ambient", sink=(lines if lines is not None else []).append)
    return Ambient(channel, key, "http://127.0.0.1:%d" % port, socket, select_module, clock,
                   str(path), log, lambda: True, TIMEOUT_S)


def make(tmp_path, schedule=None, **server_kw):
    clock = SimClock(START)
    server = AmbientServer(CHANNEL, KEY, clock=clock, schedule=schedule, **server_kw)
    port = server.start()
    return clock, server, queue(clock, port, tmp_path / "amb")


def record(clock, i):
    return {"created": clock(), "d1": 12.5 + i % 7, "d2": 0.25 * (i % 9), "d3": 100 + i * 0.1,
            "d4": 2500 + i}


def drive(clock, server, q, seconds, every_s=30, step_s=1, start_i=0, generate=True):
    """Run the app loop: a record every `every_s`, service() every `step_s` of simulated time."""
    made = []
    i = start_i
    for step in range(int(seconds / step_s)):
        if generate and step * step_s % every_s == 0:
            r = record(clock, i)
            assert q.add(r)
            made.append(r)
            i += 1
        q.service(clock())
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


def test_delivered_records_equal_generated_in_order_with_created_kept(tmp_path):
    clock, server, q = make(tmp_path)
    try:
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
    # 20 minutes of failure starting 10 minutes in (40 records: 30 of them spill to flash);
    # records every 30 s for an hour.
    clock, server, q = make(tmp_path, schedule=[(600, 1800, mode)])
    try:
        made = drive(clock, server, q, 1790)
        assert os.listdir(str(tmp_path)) == ["amb.0"]     # spilled during the failure
        made += drive(clock, server, q, 3600 - 1790, start_i=len(made))
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
            assert s["duplicates"] <= 20 + s["injected"][mode]
        if mode == "refuse":
            assert s["refusals"] == 1 and q.last_error.startswith("connect")
        if mode in (500, 503):
            assert s["injected"][mode] == q.failures
        assert os.listdir(str(tmp_path)) == []      # the flash store is empty again
    finally:
        server.stop()


def test_long_outage_spills_to_flash_and_survives_a_restart(tmp_path):
    clock, server, q = make(tmp_path, schedule=[(0, 4 * 3600, "refuse")])
    try:
        made = drive(clock, server, q, 3 * 3600, step_s=5)
        assert len(made) == 360 and q.queued == 360
        assert q.flush() > 0
        assert sorted(os.listdir(str(tmp_path))) == ["amb.0"]
        # restart: a new queue on the same files, once the server is back
        clock.advance(3600 * 1000)
        server.sync()
        q2 = queue(clock, server.port, tmp_path / "amb")
        assert q2.restored == len(made)
        drive(clock, server, q2, 3600, step_s=5, generate=False)
        assert server.created_list() == [r["created"] for r in made]
        assert server.stats()["duplicates"] == 0
        check_no_limit_violations(server)
        assert os.listdir(str(tmp_path)) == []
    finally:
        server.stop()


@pytest.mark.parametrize("offset_h", [0, 9])
def test_queue_daily_quota_matches_the_servers_day(offset_h, tmp_path):
    # A record every 10 s for 30 hours (8,640 a day, more than the 3,000 allowed): the server
    # (whose day starts at UTC or JST midnight) never has to refuse; the queue keeps what it may
    # not send yet, and drops the oldest once its flash is full.
    clock, server, q = make(tmp_path, day_offset_s=offset_h * 3600)
    try:
        made = drive(clock, server, q, 30 * 3600, every_s=10, step_s=10)
        check_no_limit_violations(server)
        per_day = server.stats()["per_day"]
        assert all(n <= 3000 for n in per_day.values()) and max(per_day.values()) == 3000
        assert q.sent == len(server.records) and q.dropped > 0
        assert q.generated == q.sent + q.dropped + q.queued
        stored = server.created_list()
        assert stored == sorted(stored) and len(set(stored)) == len(stored)
        assert stored[:3000] == [r["created"] for r in made[:3000]]
    finally:
        server.stop()


def test_write_key_channel_and_5_s_spacing_as_the_server_sees_them(tmp_path):
    clock, server, q = make(tmp_path)
    try:
        lines = []
        bad = queue(clock, server.port, tmp_path / "bad", key="not-the-key", lines=lines)
        bad.add(record(clock, 0))
        assert bad.service(clock()) == REJECTED            # 403: that batch is dropped
        assert bad.last_error == "http 403" and bad.dropped == 1
        assert server.records == [] and server.stats()["rejected_key"] == 1
        other = queue(clock, server.port, tmp_path / "other", channel="999")
        other.add(record(clock, 0))
        assert other.service(clock()) == REJECTED and other.last_error == "http 404"
        q.add(record(clock, 1))
        assert q.service(clock()) == SENT
        # another client 4.999 s later: the server says 429, the queue keeps the record
        clock.advance(4999)
        q3 = queue(clock, server.port, tmp_path / "q3")
        q3.add(record(clock, 2))
        assert q3.service(clock()) == FAILED and q3.last_error == "http 429" and q3.queued == 1
        assert server.stats()["rejected_rate"] == 1
        clock.advance(1)
        assert q.add(record(clock, 3))
        assert q.service(clock()) == SENT
        assert [r["d4"] for r in server.records] == [2501, 2503]
        for line in lines:
            assert KEY not in line
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


def post_array(port, records, key=KEY, channel=CHANNEL):
    return post(port, "/api/v2/channels/%s/dataarray" % channel,
                json.dumps({"writeKey": key, "data": records}))[0]


def test_server_rejects_bad_write_key_and_unknown_channel(tmp_path):
    clock, server, _ = make(tmp_path)
    try:
        assert post_array(server.port, [{"created": clock(), "d1": 1}], key="not-the-key") == 403
        assert server.records == [] and server.stats()["rejected_key"] == 1
        assert post_array(server.port, [{"created": clock(), "d1": 1}], channel="999") == 404
        assert post_array(server.port, [{"created": clock(), "d1": 1}]) == 200
        assert len(server.records) == 1
    finally:
        server.stop()


def test_server_rejects_sends_closer_than_5_s(tmp_path):
    clock, server, _ = make(tmp_path)
    try:
        assert post_array(server.port, [{"created": clock(), "d1": 1}]) == 200
        clock.advance(4999)
        assert post_array(server.port, [{"created": clock(), "d1": 2}]) == 429
        assert server.stats()["rejected_rate"] == 1
        clock.advance(1)
        assert post_array(server.port, [{"created": clock(), "d1": 3}]) == 200
        assert [r["d1"] for r in server.records] == [1, 3]
    finally:
        server.stop()


def test_server_enforces_the_daily_limit_per_utc_day(tmp_path):
    clock, server, _ = make(tmp_path)
    try:
        for _ in range(3):
            assert post_array(server.port, [{"created": clock() - i, "d1": i} for i in range(1000)]) == 200
            clock.advance(5000)
        assert post_array(server.port, [{"created": clock(), "d1": 1}]) == 429
        assert server.stats()["rejected_daily"] == 1
        clock.advance(21 * 3600 * 1000)       # 03:00 + 21 h: next UTC day
        assert post_array(server.port, [{"created": clock(), "d1": 1}]) == 200
    finally:
        server.stop()


def test_server_checks_the_json_shape(tmp_path):
    clock, server, _ = make(tmp_path)
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


def test_server_counts_duplicates_by_created_and_fields(tmp_path):
    clock, server, _ = make(tmp_path)
    try:
        r = {"created": clock(), "d1": 1, "d2": 2}
        assert post_array(server.port, [r, dict(r, d2=3)]) == 200
        clock.advance(5000)
        assert post_array(server.port, [r]) == 200
        s = server.stats()
        assert s["stored"] == 3 and s["distinct"] == 2 and s["duplicates"] == 1
    finally:
        server.stop()


def test_created_string_parsing():
    assert created_ms("1970-01-01 00:00:00") == 0
    assert created_ms("2024-01-01 00:00:01.5") == 1704067201500
    assert created_ms(1704067200000) == 1704067200000


def test_client_outcomes_for_each_server_mode(tmp_path):
    clock, server, q = make(tmp_path)
    lines = []
    q.log = Logger("ambient", sink=lines.append)
    try:
        q.add(record(clock, 0))
        for mode, outcome, error in (("refuse", FAILED, "connect: errno 111"),
                                     ("timeout", AMBIGUOUS, "recv: timed out"),
                                     ("store_drop", AMBIGUOUS, "recv: no HTTP status"),
                                     (500, FAILED, "http 500")):
            server.set_mode(mode)
            assert q.service(clock()) == outcome, mode
            assert q.last_error == error and q.queued == 1
            clock.advance(300 * 1000)
        assert len(server.records) == 1          # store_drop stored it, though the client could not know
        server.set_mode(None)
        assert q.service(clock()) == SENT
        assert len(server.records) == 2 and q.duplicates_possible == 2
        for text in lines + [str(q.stats()), repr(q)]:
            assert KEY not in text
    finally:
        server.stop()


def _service_in_thread(q):
    box = {}

    def run():
        box["result"] = q.service(START)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    return (not t.is_alive()), box


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_connect_to_a_syn_black_hole_returns_an_error(use_select, tmp_path):
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
        q = queue(SimClock(START), hole.getsockname()[1], tmp_path / "amb",
                  select_module=select if use_select else None)
        q.add({"created": START, "d1": 1})
        returned, box = _service_in_thread(q)
        assert returned
        assert box["result"] == FAILED and q.last_error.startswith("connect: ")
        assert q.duplicates_possible == 0
    finally:
        for f in fillers:
            f.close()
        hole.close()


def test_cli_serves_until_terminated(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, os.path.join(root, "tools", "ambient_server.py"),
                             "--channel", "77", "--write-key", KEY, "--fail", "0:1:500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line and KEY not in line
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        q = queue(SimClock(START), port, tmp_path / "amb", channel=77)
        q.add({"created": START, "d1": 1})
        q.timeout = 2000
        assert q.service(START) in (SENT, FAILED)
        assert q.last_error in (None, "http 500")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert KEY not in out and KEY not in err
    stats = json.loads(out.strip().splitlines()[-1].split("ambient-server: ", 1)[1])
    assert stats["requests"] == 1
