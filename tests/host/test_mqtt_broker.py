"""lib/mqttpub.py, its own MQTT client, against a real Mosquitto on 127.0.0.1 (tools/broker.py), watched
by a real mosquitto_sub: discovery, availability and last will, state JSON, re-announcing after a broker
restart and on Home Assistant's "online", user/password against a password file, TLS through
tools/ussl.py, and connects to a refused, dead or black-holed address that return with an error instead
of hanging.  The publisher gets tools/usocket.py (CPython sockets with MicroPython's read/write) and the
host's `select` module.

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

import log
import mqttpub
import usocket
import ussl
from broker import Broker, find_mosquitto, free_port

SECRET = "s3cret-Pw-91"
DEVICE = "t1"
MOSQ_SUB = shutil.which("mosquitto_sub")
MOSQ_PUB = shutil.which("mosquitto_pub")


def values(doc):
    """A state dict as the tuple MqttPublisher.publish_state() takes (mqttpub.STATE's order)."""
    return tuple([doc.get(k) for k in mqttpub.STATE.split()])


def _missing(reason):
    if os.environ.get("CI") == "true" or os.geteuid() == 0:
        pytest.fail(reason + " (CI=true or root: `make setup` installs it)")
    pytest.skip(reason)


@pytest.fixture()
def mosquitto():
    if find_mosquitto() is None or MOSQ_SUB is None or MOSQ_PUB is None:
        _missing("mosquitto / mosquitto_sub / mosquitto_pub not installed "
                 "(Debian: apt-get install -y mosquitto mosquitto-clients)")


@pytest.fixture()
def broker(mosquitto):
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


class Sockets:
    """tools/usocket.py as the publisher's socket module, keeping the sockets it opens."""

    def __init__(self):
        self.made = []

    def getaddrinfo(self, host, port):
        return usocket.getaddrinfo(host, port)

    def socket(self):
        s = usocket.socket()
        self.made.append(s)
        return s


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


def make_pub(port, clock, lines=None, sockets=None, use_select=True, **cfg):
    """A publisher as the app builds it: the checked `mqtt` config (lib/config.py's defaults)."""
    config = {"host": "127.0.0.1", "port": port, "user": None, "password": None, "client_id": None,
              "topic_prefix": "smartmeter", "discovery_prefix": "homeassistant", "tls": False}
    config.update(cfg)
    logger = log.Logger("mqtt", sink=lines.append if lines is not None else (lambda line: None))
    return mqttpub.MqttPublisher(config, clock, sockets or Sockets(), select if use_select else None,
                                 ussl, logger, DEVICE)


def serve_until(p, clock, done, timeout=10):
    """service() every 20 ms (virtual clock +50 ms) until done() or the timeout."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        clock.t += 50
        p.service(clock.t)
        time.sleep(0.02)
    return done()


STATE = {"power_w": 812, "current_r_a": 6.5, "current_t_a": 2.0, "import_kwh": 10234.5,
         "export_kwh": None, "period_kwh": 211.3, "period_yen": 6543.21, "period_start": "2026-11-05",
         "lqi": 120, "timestamp": 1795618800}

OBJECTS = ["power", "current_r", "current_t", "energy_import", "period_energy", "period_cost", "lqi"]
AVAIL = "smartmeter/%s/availability" % DEVICE
STATE_T = "smartmeter/%s/state" % DEVICE


def config_topic(obj):
    return "homeassistant/sensor/%s/%s/config" % (DEVICE, obj)


def test_discovery_availability_and_state(broker):
    sub = Sub(broker.port)
    try:
        clock = Clock()
        p = make_pub(broker.port, clock)
        p.service(0)
        assert p.connected, p.stats()
        assert p.publish_state(values(STATE))
        got = payload_json(sub.wait(STATE_T)[0])
        assert got == {"power_w": 812, "current_r_a": 6.5, "current_t_a": 2.0, "import_kwh": 10234.5,
                       "period_kwh": 211.3, "period_yen": 6543.21, "period_start": "2026-11-05",
                       "lqi": 120, "timestamp": "2026-11-26T00:00:00+09:00"}
        assert sub.wait(AVAIL)[0]["payload"] == "online"
        held = retained(broker.port)
        assert held[AVAIL] == "online"
        assert STATE_T not in held  # the state is not retained
        configs = {t.split("/")[3]: json.loads(v) for t, v in held.items() if t.startswith("homeassistant/")}
        assert sorted(configs) == sorted(OBJECTS)
        device = configs["power"]["device"]
        assert device == {"identifiers": [DEVICE], "name": "SmartMeter", "manufacturer": "M5Stack",
                          "model": "M5StickC + BP35A1"}
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
        assert "period_start" in configs["period_energy"]["last_reset_value_template"]
        assert (configs["period_cost"]["device_class"], configs["period_cost"]["unit_of_measurement"]) == \
            ("monetary", "JPY")
        assert configs["lqi"]["entity_category"] == "diagnostic"
        # a meter with export: the export sensor appears, retained, and the state carries it
        assert p.publish_state(values(dict(STATE, export_kwh=55.5)))
        assert payload_json(sub.wait(STATE_T, count=2)[1])["export_kwh"] == 55.5
        cfg = json.loads(sub.wait(config_topic("energy_export"))[0]["payload"])
        assert (cfg["device_class"], cfg["state_class"]) == ("energy", "total_increasing")
        assert config_topic("energy_export") in retained(broker.port)
        # keepalive: the broker's PINGRESP to each PINGREQ keeps the session up
        for t in (60000, 120000, 180000):
            p.service(t)
            time.sleep(0.2)
            p.service(t + 200)
            assert p.connected, p.stats()
        assert p.stats()["failures"] == 0
        p.close()
        assert sub.wait(AVAIL, "offline")
        assert retained(broker.port)[AVAIL] == "offline"
    finally:
        sub.close()


def test_last_will_when_the_socket_dies(broker):
    sub = Sub(broker.port)
    try:
        clock = Clock()
        sockets = Sockets()
        p = make_pub(broker.port, clock, sockets=sockets)
        p.service(0)
        assert sub.wait(AVAIL, "online")
        sockets.made[-1].shutdown(socket.SHUT_RDWR)  # like a crash: the TCP connection ends, no DISCONNECT
        assert sub.wait(AVAIL, "offline")
        assert retained(broker.port)[AVAIL] == "offline"
        # the publisher notices on its next service() and comes back after the back-off
        p.service(10)
        s = p.stats()
        assert not s["connected"] and s["failures"] == 1 and s["last_error"] == "recv: closed", s
        p.service(10 + 1999)
        assert not p.connected
        p.service(10 + 2000)
        assert p.connected and p.stats()["connects"] == 2
        assert sub.wait(AVAIL, "online", count=2)
        assert retained(broker.port)[AVAIL] == "online"
    finally:
        sub.close()


def test_broker_restart_reannounces(broker):
    clock = Clock()
    lines = []
    p = make_pub(broker.port, clock, lines)
    p.service(0)
    assert p.publish_state(values(STATE))
    broker.stop()
    # the broker is gone: within a few service() calls the publisher notices, and never raises
    assert serve_until(p, clock, lambda: not p.connected)
    assert p.publish_state(values(STATE)) is False
    failures = p.stats()["failures"]
    # a connect attempt to the stopped broker returns with an error (refused)
    clock.t += 2000
    p.service(clock.t)
    s = p.stats()
    assert s["failures"] == failures + 1 and s["last_error"] == "connect: errno 111", s
    broker.start()  # same port; no persistence: the retained configs are gone
    assert retained(broker.port) == {}
    sub = Sub(broker.port)
    try:
        clock.t += 300000
        p.service(clock.t)
        s = p.stats()
        assert s["connected"] and s["connects"] == 2, s
        for obj in OBJECTS:
            sub.wait(config_topic(obj))
        assert sub.wait(AVAIL, "online")
        assert payload_json(sub.wait(STATE_T)[0])["power_w"] == 812  # the last state, again
        held = retained(broker.port)
        assert held[AVAIL] == "online" and all(config_topic(o) in held for o in OBJECTS)
    finally:
        sub.close()
    assert any("retry in" in line for line in lines)


def test_home_assistant_online_reannounces(broker):
    sub = Sub(broker.port)
    try:
        clock = Clock()
        p = make_pub(broker.port, clock)
        p.service(0)
        p.publish_state(values(STATE))
        sub.wait(config_topic("power"))
        pub(broker.port, "homeassistant/status", "offline")
        pub(broker.port, "homeassistant/status", "online", retain=True)
        assert serve_until(p, clock, lambda: sub.topics().count(config_topic("power")) >= 2)
        sub.wait(AVAIL, "online", count=2)
        sub.wait(STATE_T, count=2)
        # after a reconnect the retained "online" comes again, flagged as retained: the connect's
        # own announce is enough, so it is not repeated
        clock.t += 1000
        p.close()
        p = make_pub(broker.port, clock)
        p.service(clock.t)
        serve_until(p, clock, lambda: False, timeout=1)
        assert sub.topics().count(config_topic("power")) == 3
        assert p.connected and p.stats()["failures"] == 0
    finally:
        sub.close()


def test_user_and_password(mosquitto):
    with Broker(users={"meter": SECRET}) as b:
        clock = Clock()
        lines = []
        good = make_pub(b.port, clock, lines, user="meter", password=SECRET)
        good.service(0)
        assert good.connected, good.stats()
        bad = make_pub(b.port, clock, lines, user="meter", password=SECRET + "x", client_id="other")
        bad.service(0)
        s = bad.stats()
        assert not s["connected"] and s["last_error"] in ("connect: refused: not authorised",
                                                          "connect: refused: bad user name or password"), s
        anonymous = make_pub(b.port, clock, lines, client_id="anon")
        anonymous.service(0)
        assert anonymous.stats()["last_error"].startswith("connect: refused: ")
        assert good.connected
        good.close()
        assert lines
        for text in lines + [repr(good.stats()), repr(s)]:
            assert SECRET not in text


def _connect_in_thread(p):
    """service() in a thread: returns (returned?, elapsed seconds).  The join bound only stops a
    hanging test; the socket timeout (3 s) bounds the call itself."""
    done = {}

    def run():
        t0 = time.monotonic()
        p.service(0)
        done["elapsed"] = time.monotonic() - t0
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(60)
    return not th.is_alive(), done.get("elapsed")


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_refused_connect_returns_an_error(use_select):
    p = make_pub(free_port(), Clock(), use_select=use_select)
    returned, elapsed = _connect_in_thread(p)
    assert returned
    s = p.stats()
    assert not s["connected"] and s["failures"] == 1
    assert s["last_error"] == "connect: errno 111", s      # the same with and without select
    assert elapsed < 2.5


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_black_hole_broker_returns_an_error(use_select):
    """A listening socket that accepts TCP but never answers MQTT: CONNACK never comes."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    try:
        p = make_pub(hole.getsockname()[1], Clock(), use_select=use_select)
        returned, elapsed = _connect_in_thread(p)
        assert returned
        s = p.stats()
        assert not s["connected"] and s["failures"] == 1 and s["last_error"] == "connect: timed out", s
        assert 2.5 < elapsed < 6
    finally:
        hole.close()


@pytest.mark.parametrize("use_select", [True, False], ids=["poll-connect", "timeout-connect"])
def test_syn_black_hole_returns_an_error(use_select):
    """A listener whose accept queue is full: Linux drops the SYN, so TCP connect itself never
    completes (what an unreachable host looks like)."""
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
        p = make_pub(hole.getsockname()[1], Clock(), use_select=use_select)
        returned, elapsed = _connect_in_thread(p)
        assert returned
        s = p.stats()
        assert not s["connected"] and s["failures"] == 1
        assert s["last_error"] in ("connect: timeout", "connect: timed out"), s
        assert elapsed < 6
    finally:
        for f in fillers:
            f.close()
        hole.close()


def test_broker_helper_start_stop_restart(mosquitto):
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


def test_tls_on_the_host(mosquitto):
    """TLS through tools/ussl.py (CPython only: untested on the device, where TLS needs more heap
    than UIFlow leaves)."""
    if shutil.which("openssl") is None:
        _missing("openssl not installed")
    with Broker(tls=True) as b:
        sub = Sub(b.port)
        try:
            clock = Clock()
            p = make_pub(b.tls_port, clock, tls=True)
            p.service(0)
            assert p.connected, p.stats()
            assert p.publish_state(values(STATE))
            assert payload_json(sub.wait(STATE_T)[0])["power_w"] == 812
            assert sub.wait(AVAIL, "online")
            # receiving over TLS (peeking with the socket non-blocking) works too
            pub(b.port, "homeassistant/status", "online")
            assert serve_until(p, clock, lambda: sub.topics().count(AVAIL) >= 2)
            assert p.connected and p.stats()["failures"] == 0
            # a plain-TCP listener does not speak TLS: the handshake fails within the timeout
            q = make_pub(b.port, clock, tls=True)
            t0 = time.monotonic()
            q.service(clock.t)
            assert not q.connected and q.stats()["failures"] == 1 and time.monotonic() - t0 < 6, q.stats()
            print("TLS to a plain listener: %s" % q.stats()["last_error"])
        finally:
            sub.close()
