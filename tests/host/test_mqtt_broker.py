"""lib/mqttpub.py with the real umqtt.simple (from .deps/, run by `make setup`) against a real Mosquitto
on 127.0.0.1, watched by a real mosquitto_sub: discovery, availability and last will, state JSON,
re-announcing after a broker restart and on Home Assistant's "online", and connects to a dead or
black-holed address that return with an error instead of hanging.

Without mosquitto (Debian: mosquitto, mosquitto-clients) the tests are skipped, except under CI=true
or as root (where `make setup` installs it), where they fail."""
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest

import mqttpub
from broker import Broker, find_mosquitto, free_port

SECRET = "s3cret-Pw-91"
TIMEOUT_S = 1.0  # socket timeout for the tests (the app uses a few seconds)
DEVICE = "t1"


def _missing(reason):
    if os.environ.get("CI") == "true" or os.geteuid() == 0:
        pytest.fail(reason + " (CI=true or root: `make setup` installs it)")
    pytest.skip(reason)


MOSQ_SUB = shutil.which("mosquitto_sub")
MOSQ_PUB = shutil.which("mosquitto_pub")


@pytest.fixture()
def simple(monkeypatch):
    if find_mosquitto() is None or MOSQ_SUB is None or MOSQ_PUB is None:
        _missing("mosquitto / mosquitto_sub / mosquitto_pub not installed "
                 "(Debian: apt-get install -y mosquitto mosquitto-clients)")
    try:
        from umqtt import simple as mod
    except ImportError:
        _missing("umqtt.simple not fetched into .deps/ (run `make setup`)")
    import usocket
    monkeypatch.setattr(mod, "socket", mqttpub.TimedSockets(usocket, TIMEOUT_S, select))
    return mod


@pytest.fixture()
def broker(simple):
    b = Broker().start()
    yield b
    b.close()


class Clock:
    """Virtual ticks: the back-off runs on this, the sockets on real time."""

    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, d):
        return a + d


class Sub:
    """mosquitto_sub on '#', one JSON line per message (-F %j), collected by a reader thread."""

    def __init__(self, port, topic="#"):
        self.port = port
        self.proc = subprocess.Popen([MOSQ_SUB, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-F", "%j"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.msgs = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self._ready()

    def _read(self):
        for line in self.proc.stdout:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.msgs.append(m)
                self.cond.notify_all()

    def _ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pub(self.port, "smtest/ready", "x")
            with self.cond:
                self.cond.wait_for(lambda: any(m["topic"] == "smtest/ready" for m in self.msgs), 0.5)
                if any(m["topic"] == "smtest/ready" for m in self.msgs):
                    return
        raise AssertionError("mosquitto_sub did not start")

    def wait(self, topic, payload=None, count=1, timeout=10):
        def found():
            return [m for m in self.msgs if m["topic"] == topic and (payload is None or m["payload"] == payload)]
        with self.cond:
            self.cond.wait_for(lambda: len(found()) >= count, timeout)
            got = found()
        assert len(got) >= count, "%d x %s %s not seen; got %s" % (count, topic, payload, self.topics())
        return got

    def topics(self):
        with self.cond:
            return [m["topic"] for m in self.msgs]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def pub(port, topic, payload, retain=False):
    cmd = [MOSQ_PUB, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", payload]
    if retain:
        cmd.append("-r")
    subprocess.run(cmd, check=True, timeout=10)


def retained(port):
    """Every retained message the broker holds now: {topic: payload}."""
    res = subprocess.run([MOSQ_SUB, "-h", "127.0.0.1", "-p", str(port), "-t", "#", "-F", "%j",
                          "--retained-only", "-W", "1"], capture_output=True, text=True, timeout=20)
    out = {}
    for line in res.stdout.splitlines():
        m = json.loads(line)
        assert m["retain"] == 1
        out[m["topic"]] = m["payload"]
    return out


def payload_json(m):
    p = m["payload"]
    return json.loads(p) if isinstance(p, str) else p


def make_pub(simple, port, clock, lines=None, **cfg):
    config = {"host": "127.0.0.1", "port": port}
    config.update(cfg)
    return mqttpub.MqttPublisher(simple.MQTTClient, {"mqtt": config}, clock,
                                 log=(lines.append if lines is not None else None), device_id=DEVICE)


STATE = {"power_w": 812, "current_r_a": 6.5, "current_t_a": 2.0, "import_kwh": 10234.5,
         "export_kwh": None, "period_kwh": 211.3, "period_yen": 6543.21, "period_start": "2026-11-05",
         "lqi": 120, "rssi": -55, "timestamp": 1795618800}

OBJECTS = ["power", "current_r", "current_t", "energy_import", "period_energy", "period_cost", "lqi"]
AVAIL = "smartmeter/%s/availability" % DEVICE
STATE_T = "smartmeter/%s/state" % DEVICE


def config_topic(obj):
    return "homeassistant/sensor/%s/%s/config" % (DEVICE, obj)


def test_discovery_availability_and_state(broker, simple):
    sub = Sub(broker.port)
    try:
        clock = Clock()
        p = make_pub(simple, broker.port, clock)
        p.service(0)
        assert p.stats()["connected"], p.stats()
        assert p.publish_state(STATE)
        got = payload_json(sub.wait(STATE_T)[0])
        assert got == {"power_w": 812, "current_r_a": 6.5, "current_t_a": 2.0, "import_kwh": 10234.5,
                       "period_kwh": 211.3, "period_yen": 6543.21, "period_start": "2026-11-05",
                       "lqi": 120, "rssi": -55, "timestamp": "2026-11-26T00:00:00+09:00"}
        assert sub.wait(AVAIL)[0]["payload"] == "online"
        held = retained(broker.port)
        assert held[AVAIL] == "online"
        assert STATE_T not in held  # the state is not retained
        configs = {t.split("/")[3]: json.loads(v) for t, v in held.items() if t.startswith("homeassistant/")}
        assert sorted(configs) == sorted(OBJECTS)
        device = configs["power"]["device"]
        assert device["name"] == "SmartMeter" and device["model"] == "M5StickC + BP35A1"
        assert device["identifiers"] == [DEVICE]
        for obj, cfg in configs.items():
            assert cfg["unique_id"] == "%s_%s" % (DEVICE, obj)
            assert cfg["state_topic"] == STATE_T and cfg["availability_topic"] == AVAIL
            assert cfg["value_template"].startswith("{{ value_json.")
            assert cfg["device"] == device
        assert (configs["power"]["device_class"], configs["power"]["unit_of_measurement"],
                configs["power"]["state_class"]) == ("power", "W", "measurement")
        for obj in ("current_r", "current_t"):
            assert (configs[obj]["device_class"], configs[obj]["unit_of_measurement"]) == ("current", "A")
        assert (configs["energy_import"]["device_class"], configs["energy_import"]["state_class"],
                configs["energy_import"]["unit_of_measurement"]) == ("energy", "total_increasing", "kWh")
        assert (configs["period_energy"]["state_class"], configs["period_cost"]["state_class"]) == ("total", "total")
        assert (configs["period_cost"]["device_class"], configs["period_cost"]["unit_of_measurement"]) == \
            ("monetary", "JPY")
        assert configs["lqi"]["entity_category"] == "diagnostic"
        # a meter with export: the export sensor appears, retained, and the state carries it
        state = dict(STATE, export_kwh=55.5)
        assert p.publish_state(state)
        assert payload_json(sub.wait(STATE_T, count=2)[1])["export_kwh"] == 55.5
        cfg = json.loads(sub.wait(config_topic("energy_export"))[0]["payload"])
        assert (cfg["device_class"], cfg["state_class"]) == ("energy", "total_increasing")
        assert config_topic("energy_export") in retained(broker.port)
        p.close()
        assert sub.wait(AVAIL, "offline")
        assert retained(broker.port)[AVAIL] == "offline"
    finally:
        sub.close()


def test_last_will_when_the_socket_dies(broker, simple):
    sub = Sub(broker.port)
    try:
        clock = Clock()
        p = make_pub(simple, broker.port, clock)
        p.service(0)
        assert sub.wait(AVAIL, "online")
        p._client.sock.close()  # like kill -9: the TCP connection ends without DISCONNECT
        assert sub.wait(AVAIL, "offline")
        assert retained(broker.port)[AVAIL] == "offline"
        # the publisher notices on its next service() and comes back after the back-off
        p.service(10)
        s = p.stats()
        assert not s["connected"] and s["failures"] == 1 and s["last_error"].startswith("receive:")
        p.service(10 + 2000)
        assert p.stats()["connected"] and p.stats()["reconnects"] == 1
        assert sub.wait(AVAIL, "online", count=2)
        assert retained(broker.port)[AVAIL] == "online"
    finally:
        sub.close()


def test_broker_restart_reannounces(broker, simple):
    clock = Clock()
    lines = []
    p = make_pub(simple, broker.port, clock, lines)
    p.service(0)
    assert p.publish_state(STATE)
    broker.stop()
    # the broker is gone: within a few service() calls the publisher notices, and never raises
    for i in range(50):
        clock.t += 100
        p.service(clock.t)
        if not p.stats()["connected"]:
            break
        time.sleep(0.05)
    assert not p.stats()["connected"]
    assert p.publish_state(STATE) is False
    failures = p.stats()["failures"]
    # a connect attempt to the stopped broker returns with an error (refused)
    clock.t += 2000
    p.service(clock.t)
    s = p.stats()
    assert s["failures"] == failures + 1 and s["last_error"].startswith("connect: ")
    broker.start()  # same port; no persistence: the retained configs are gone
    assert retained(broker.port) == {}
    sub = Sub(broker.port)
    try:
        clock.t += 300000
        p.service(clock.t)
        s = p.stats()
        assert s["connected"] and s["reconnects"] == 1, s
        for obj in OBJECTS:
            sub.wait(config_topic(obj))
        assert sub.wait(AVAIL, "online")
        assert payload_json(sub.wait(STATE_T)[0])["power_w"] == 812  # the last state, again
        held = retained(broker.port)
        assert held[AVAIL] == "online" and all(config_topic(o) in held for o in OBJECTS)
    finally:
        sub.close()
    assert lines and not any(SECRET in line for line in lines)


def test_home_assistant_online_reannounces(broker, simple):
    sub = Sub(broker.port)
    try:
        clock = Clock()
        p = make_pub(simple, broker.port, clock)
        p.service(0)
        p.publish_state(STATE)
        sub.wait(config_topic("power"))
        pub(broker.port, "homeassistant/status", "offline")
        pub(broker.port, "homeassistant/status", "online")
        deadline = time.monotonic() + 10
        while p.stats()["announces"] < 2 and time.monotonic() < deadline:
            clock.t += 50
            p.service(clock.t)
            time.sleep(0.02)
        assert p.stats()["announces"] == 2
        sub.wait(config_topic("power"), count=2)
        sub.wait(AVAIL, "online", count=2)
        sub.wait(STATE_T, count=2)
        assert p.stats()["connected"] and p.stats()["failures"] == 0
    finally:
        sub.close()


def test_user_and_password(simple):
    with Broker(users={"meter": SECRET}) as b:
        clock = Clock()
        lines = []
        good = make_pub(simple, b.port, clock, lines, user="meter", password=SECRET)
        good.service(0)
        assert good.stats()["connected"], good.stats()
        bad = make_pub(simple, b.port, clock, lines, user="meter", password=SECRET + "x")
        bad.service(0)
        s = bad.stats()
        assert not s["connected"] and s["last_error"].startswith("connect: refused: ")
        for text in lines + [repr(good.stats()), repr(s)]:
            assert SECRET not in text


def _connect_in_thread(p):
    """service() in a thread: returns (returned?, elapsed seconds).  The join bound only stops a
    hanging test; nothing asserts how long the call took."""
    done = {}

    def run():
        t0 = time.monotonic()
        p.service(0)
        done["elapsed"] = time.monotonic() - t0
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(120)
    return not th.is_alive(), done.get("elapsed")


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_refused_connect_returns_an_error(simple, monkeypatch, use_select):
    import usocket
    monkeypatch.setattr(simple, "socket", mqttpub.TimedSockets(usocket, TIMEOUT_S, select if use_select else None))
    p = make_pub(simple, free_port(), Clock())
    returned, elapsed = _connect_in_thread(p)
    assert returned
    s = p.stats()
    assert not s["connected"] and s["failures"] == 1
    assert s["last_error"] == "connect: OSError 111", s
    print("refused connect returned after %.3f s" % elapsed)


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_black_hole_broker_returns_an_error(simple, monkeypatch, use_select):
    """A listening socket that accepts TCP but never answers MQTT: CONNACK never comes."""
    import usocket
    monkeypatch.setattr(simple, "socket", mqttpub.TimedSockets(usocket, TIMEOUT_S, select if use_select else None))
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    try:
        p = make_pub(simple, hole.getsockname()[1], Clock())
        returned, elapsed = _connect_in_thread(p)
        assert returned
        s = p.stats()
        assert not s["connected"] and s["failures"] == 1 and s["last_error"].startswith("connect: OSError")
        print("black-hole connect returned after %.3f s: %s" % (elapsed, s["last_error"]))
    finally:
        hole.close()


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_syn_black_hole_returns_an_error(simple, monkeypatch, use_select):
    """A listener whose accept queue is full: Linux drops the SYN, so TCP connect itself never
    completes (what an unreachable host looks like)."""
    import usocket
    monkeypatch.setattr(simple, "socket", mqttpub.TimedSockets(usocket, TIMEOUT_S, select if use_select else None))
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
        p = make_pub(simple, hole.getsockname()[1], Clock())
        returned, elapsed = _connect_in_thread(p)
        assert returned
        s = p.stats()
        assert not s["connected"] and s["failures"] == 1 and s["last_error"].startswith("connect: OSError")
        print("SYN black-hole connect returned after %.3f s: %s" % (elapsed, s["last_error"]))
    finally:
        for f in fillers:
            f.close()
        hole.close()


def test_broker_helper_start_stop_restart(simple):
    b = Broker()
    try:
        assert b.pid is None and not b.running
        b.start()
        pid, port = b.pid, b.port
        assert b.running and pid > 0
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        b.stop()
        assert b.pid is None
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        b.start()
        assert b.port == port and b.pid != pid
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        b.close()
    assert b.dir is None


def test_tls_on_the_host(simple):
    """TLS through tools/ussl.py (CPython only: untested on the device, where TLS needs more heap
    than UIFlow leaves and ussl wants a native socket)."""
    if shutil.which("openssl") is None:
        _missing("openssl not installed")
    with Broker(tls=True) as b:
        sub = Sub(b.port)
        try:
            clock = Clock()
            p = make_pub(simple, b.tls_port, clock, tls=True)
            p.service(0)
            assert p.stats()["connected"], p.stats()
            assert p.publish_state(STATE)
            assert payload_json(sub.wait(STATE_T)[0])["power_w"] == 812
            assert sub.wait(AVAIL, "online")
            # receiving over TLS (non-blocking check_msg) works too
            pub(b.port, "homeassistant/status", "online")
            deadline = time.monotonic() + 10
            while p.stats()["announces"] < 2 and time.monotonic() < deadline:
                clock.t += 50
                p.service(clock.t)
                time.sleep(0.02)
            assert p.stats()["announces"] == 2 and p.stats()["connected"]
        finally:
            sub.close()
