"""Desktop simulator: the real, unmodified apps/SMM.py against the emulated BP35A1 + meter.

`make sim` (or `python tools/sim.py`) lays out a temporary /flash like `make deploy` does
(lib/, SmartMeter.json), puts the UIFlow stand-ins (tools/uiflow) first on sys.path,
wires machine.UART to the in-process emulator (tools/bp35emu.py), points Ambient at the local
Ambient-compatible server (tools/ambient_server.py) and MQTT at a local mosquitto when one is
installed (tools/broker.py), and runs apps/SMM.py.  Everything runs on one simulation clock.

Interactive (a terminal): the LCD is drawn live in 24-bit colour half blocks; keys `a`/`b` press
the buttons (`A`: long press), `q` quits.  `--seconds N` runs N simulated seconds as fast as
possible, non-interactively, and exits 0.  build/sim/lcd.png is kept up to date either way.

usage: python tools/sim.py [--seconds N] [--speed X] [--scenario NAME] [--seed N]
                           [--press a@T,b@T] [--config PATH] [--png PATH] [--report PATH]
"""

import argparse
import json
import os
import runpy
import shutil
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
sys.path[0:0] = [os.path.join(TOOLS, "uiflow"), TOOLS, os.path.join(ROOT, "lib")]

import uiflow_sim  # noqa: E402
import utime  # noqa: E402  (stand-in)
import machine  # noqa: E402
import m5stack  # noqa: E402
import wifiCfg  # noqa: E402
import ntptime  # noqa: E402
import usocket  # noqa: E402  (tools/usocket.py)
import bp35emu  # noqa: E402
import util as timeutil  # noqa: E402
import charge  # noqa: E402
import config as configmod  # noqa: E402
from ambient_server import AmbientServer  # noqa: E402

SIM_RBID = "00000000000000000000000000ABCDEF"
SIM_PASSWORD = "SIMPASSWORD1"
SIM_CHANNEL = "12345"
SIM_WRITE_KEY = "0123456789abcdef"
# 2026-11-26 12:00 JST: daylight for the solar scenario, half a day in the chart.
START_UTC = (2026, 11, 26, 3, 0, 0)

# Emulator scenarios plus the simulator's own.
SIM_SCENARIOS = ("outage",)
# outage: Wi-Fi down 300-900 s, Ambient answering 500 from 900-1200 s, MQTT broker stopped at
# 1500 s and restarted at 1560 s (simulated seconds).
OUTAGE = {"wifi_down": (300, 900), "ambient_500": (900, 1200), "broker_stop": 1500, "broker_start": 1560}

REGIONS = {  # the original's screen layout (lib/view.py draws into these boxes)
    "current_a": (3, 3, 70, 25),
    "power": (73, 3, 84, 25),
    "period": (0, 31, 160, 13),
    "monthly_kwh": (3, 45, 70, 22),
    "fee_yen": (73, 45, 84, 22),
}

# Modules the app imports afresh after a simulated reset (everything but the stand-ins).
_KEEP = set(sys.modules)


class SimulationEnd(BaseException):
    """Raised from the clock when the run is over (passes through the app's `except Exception`)."""


class SimClock(bp35emu.VirtualClock):
    """The virtual clock, with an end-of-run check and (interactive) real-time pacing."""

    def __init__(self, sim):
        bp35emu.VirtualClock.__init__(self)
        self.sim = sim

    def sleep_ms(self, ms):
        self.sim.before_sleep(ms)
        bp35emu.VirtualClock.sleep_ms(self, ms)


class Simulator:
    def __init__(self, args):
        self.args = args
        self.seconds = args.seconds
        self.interactive = args.seconds is None and sys.stdin.isatty() and sys.stdout.isatty()
        self.scenario = [s for s in (args.scenario or "").replace(",", " ").split() if s]
        self.outage = "outage" in self.scenario
        emu_scen = [s for s in self.scenario if s not in SIM_SCENARIOS]
        self.presses = parse_presses(args.press)
        self.errors = []
        self.resets = 0
        self.reset_reasons = []
        self.png = args.png or os.path.join(ROOT, "build", "sim", "lcd.png")
        self.flash = tempfile.mkdtemp(prefix="smm-flash-")
        self._ended = False
        self._last_png = 0
        self._last_frame = -1
        self._quit = False
        self._real_start = time.time()
        self.broker = None

        uiflow_sim.reset()
        self.clock = SimClock(self)
        utime._sim.clock = self.clock
        self.hub = uiflow_sim.hub
        self.hub.set_world_time(*START_UTC)
        self.start_utc = timeutil.to_epoch(*START_UTC)
        self.emu = bp35emu.Emulator(self.clock, scenario=emu_scen or None, seed=args.seed,
                                    wall_start=self.start_utc, rbid=SIM_RBID, password=SIM_PASSWORD)
        machine._sim.uart_factory = lambda *a, **kw: self.emu.uart
        machine._sim.uart_blocking = False
        wifiCfg._sim.saved = ("sim-ap", "sim-pass")
        if self.outage:
            lo, hi = OUTAGE["wifi_down"]
            wifiCfg._sim.up = lambda now_ms: not (lo * 1000 <= now_ms < hi * 1000)
        self._patch_sockets()

        self.server = AmbientServer(SIM_CHANNEL, SIM_WRITE_KEY, clock=self.hub.world_ms,
                                    t0_ms=self.hub.world_ms(),
                                    schedule=[(OUTAGE["ambient_500"][0], OUTAGE["ambient_500"][1], 500)]
                                    if self.outage else None)
        self.ambient_port = self.server.start()
        self._start_broker()
        self.cfg_doc = self._config()
        self._layout_flash()
        uiflow_sim.install_flash(self.flash)

    # ---- set-up ---------------------------------------------------------------------------

    def _patch_sockets(self):
        """No Wi-Fi, no sockets: the stand-in's Wi-Fi state governs the host sockets too."""
        real_socket = usocket.socket
        real_getaddrinfo = usocket.getaddrinfo
        hub = uiflow_sim.hub

        def guarded(fn):
            def call(*a, **kw):
                if not hub.network_connected():
                    raise OSError(113, "EHOSTUNREACH (simulated Wi-Fi down)")
                return fn(*a, **kw)
            return call

        def socket(*a, **kw):
            s = real_socket(*a, **kw)
            for name in ("connect", "send", "sendall", "write"):
                if hasattr(s, name):
                    setattr(s, name, guarded(getattr(s, name)))
            return s

        def getaddrinfo(*a, **kw):
            if not hub.network_connected():
                raise OSError(-202, "DNS: no network (simulated Wi-Fi down)")
            return real_getaddrinfo(*a, **kw)
        usocket.socket = socket
        usocket.getaddrinfo = getaddrinfo

    def _start_broker(self):
        try:
            from broker import Broker, find_mosquitto
        except ImportError:
            return
        if not find_mosquitto():
            log("mosquitto not installed: MQTT is off in the simulator (make setup installs it as root)")
            return
        try:
            self.broker = Broker()
            self.broker.start()
            log("MQTT broker (mosquitto) on 127.0.0.1:%d" % self.broker.port)
        except Exception as e:
            log("MQTT broker did not start: %s" % e)
            self.broker = None

    def _config(self):
        if self.args.config:
            with open(self.args.config, encoding="utf-8") as fh:
                doc = json.load(fh)
            log("using %s (Ambient and MQTT are pointed at the local servers)" % self.args.config)
        else:
            with open(os.path.join(ROOT, "SmartMeter.example.json"), encoding="utf-8") as fh:
                doc = json.load(fh)
            doc["id"] = SIM_RBID
            doc["password"] = SIM_PASSWORD
        doc["ambient"] = dict(doc.get("ambient") or {})
        doc["ambient"].update({"channel_id": SIM_CHANNEL, "write_key": SIM_WRITE_KEY,
                               "url": "http://127.0.0.1:%d" % self.ambient_port})
        fields = doc["ambient"].get("fields") or {}
        if "d5" not in fields and "solar" in self.scenario:
            fields["d5"] = "export_kwh"
        doc["ambient"]["fields"] = fields
        doc.pop("mqtt", None)
        if self.broker is not None:
            doc["mqtt"] = {"host": "127.0.0.1", "port": self.broker.port, "topic_prefix": "smartmeter"}
        if not self.args.config:
            self.emu_credentials = (SIM_RBID, SIM_PASSWORD)
        configmod.load(doc)   # fail early with the config's own message
        return doc

    def _layout_flash(self):
        """What `make deploy` puts on the device."""
        lib = os.path.join(self.flash, "lib")
        os.makedirs(lib)
        os.makedirs(os.path.join(self.flash, "apps"))
        for name in os.listdir(os.path.join(ROOT, "lib")):
            if name.endswith(".py"):
                shutil.copy(os.path.join(ROOT, "lib", name), lib)
        shutil.copy(os.path.join(ROOT, "apps", "SMM.py"), os.path.join(self.flash, "apps"))
        with open(os.path.join(self.flash, "SmartMeter.json"), "w", encoding="utf-8") as fh:
            json.dump(self.cfg_doc, fh, indent=1)
        sys.path.insert(0, lib)

    # ---- the clock hook -------------------------------------------------------------------

    def now_s(self):
        return self.clock.now_ms() / 1000.0

    def before_sleep(self, ms):
        now = self.clock.now_ms()
        while self.presses and self.presses[0][1] * 1000 <= now:
            name, _t, long_press = self.presses.pop(0)
            m5stack._sim.press(name, long=long_press)
        if self.outage and self.broker is not None:
            self._outage_broker(now)
        if now - self._last_png >= 1000:
            self._last_png = now
            self._frame()
        if self.interactive:
            self._pace(ms)
            if self._quit:
                raise SimulationEnd()
        elif self.seconds is not None and now >= self.seconds * 1000 and self._emulator_idle(now):
            raise SimulationEnd()

    def _emulator_idle(self, now):
        """No answer in flight and the app's last read succeeded: it has handled the last
        answer it asked for (so the screen and the emulator's truth belong together)."""
        if self.emu.uart.any():
            return False
        if _APP:
            session = _APP[-1].session
            if getattr(session, "sim_reading", False) or session.missed or not session.joined:
                return False
        due = self.emu.next_due_ms()
        return due is None or due > now + 1000

    def _outage_broker(self, now):
        if OUTAGE["broker_stop"] * 1000 <= now < OUTAGE["broker_start"] * 1000:
            if self.broker.running:
                log("outage: MQTT broker stopped at %.0f s" % (now / 1000.0))
                self.broker.stop()
        elif now >= OUTAGE["broker_start"] * 1000 and not self.broker.running:
            log("outage: MQTT broker restarted at %.0f s" % (now / 1000.0))
            self.broker.start()

    def _pace(self, ms):
        """Interactive: keep simulated time at --speed times real time."""
        speed = self.args.speed or 1.0
        target = self._real_start + self.clock.now_ms() / 1000.0 / speed
        delay = target - time.time()
        if delay > 0:
            time.sleep(min(delay, 0.05))

    def _frame(self):
        lcd = m5stack.lcd
        if lcd._sim.version != self._last_frame:
            self._last_frame = lcd._sim.version
            try:
                lcd._sim.save_png(self.png, lit=True)
            except OSError as e:
                log("cannot write %s: %s" % (self.png, e))
        if self.interactive:
            out = self.terminal
            out.write("\x1b[H" + lcd._sim.ansi(lit=True) + "\x1b[0m\n")
            out.write("t=%7.0f s   a: flip   A: backlight   b: next page   q: quit\x1b[K\n" % self.now_s())
            for line in LOG_LINES:
                out.write(line[:158] + "\x1b[K\n")
            out.flush()

    # ---- running ---------------------------------------------------------------------------

    def run(self):
        if self.interactive:
            keys = threading.Thread(target=self._keys, daemon=True)
            keys.start()
            # The app's serial log goes under the picture instead of scrolling over it.
            self.terminal = sys.stdout
            sys.stdout = sys.stderr = LogCatcher()
            self.terminal.write("\x1b[2J")
        cwd = os.getcwd()
        os.chdir(self.flash)
        try:
            while True:
                try:
                    runpy.run_path(os.path.join(self.flash, "apps", "SMM.py"), run_name="__main__")
                    self.errors.append("apps/SMM.py returned")
                    break
                except SimulationEnd:
                    break
                except uiflow_sim.MachineReset as exc:
                    self.resets += 1
                    self.reset_reasons.append(exc.reason)
                    log("device reset at %.0f s: %s" % (self.now_s(), exc.reason))
                    uiflow_sim.reboot(exc)
                    for name in list(sys.modules):
                        if name not in _KEEP:
                            del sys.modules[name]
                    _capture_app()
                except Exception as e:  # the app must never get here
                    self.errors.append("%s: %s" % (type(e).__name__, e))
                    log("app crashed: %r" % e)
                    raise
        finally:
            os.chdir(cwd)
            if self.interactive:
                sys.stdout, sys.stderr = self.terminal, sys.__stderr__
        self._frame()

    def _keys(self):
        import termios
        import tty
        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while not self._quit:
                ch = sys.stdin.read(1)
                if ch == "q":
                    self._quit = True
                elif ch in ("a", "b"):
                    m5stack._sim.press(ch)
                elif ch == "A":
                    m5stack._sim.press("a", long=True)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)

    def close(self):
        try:
            self.server.stop()
        except Exception:
            pass
        if self.broker is not None:
            try:
                self.broker.close()
            except Exception:
                pass
        uiflow_sim.uninstall_flash()
        shutil.rmtree(self.flash, ignore_errors=True)

    # ---- report ----------------------------------------------------------------------------

    def report(self):
        truth = self.emu.truth()
        cfg = configmod.load(self.cfg_doc)
        served_at = truth.get("time") or self.emu.wall()
        now_local = served_at + 9 * 3600
        start = charge.period_start(now_local, cfg.collect_date)
        start_count = self.emu.meter.count_at_local(start[0], start[1], start[2], 0, 0)
        digits = truth["digits"]
        count = truth["cumulative_count"]
        import echonet
        tariff = cfg.charge
        if start_count is None or count is None:
            # The meter has no history for the period start (a replaced meter): no truth.
            monthly_kwh = None
        else:
            monthly_count = (count - start_count) % (10 ** digits)
            monthly_kwh = echonet.to_kwh(monthly_count, truth["coefficient"], truth["unit"])
        amps = (truth["current_r_a"] or 0) + (truth["current_t_a"] or 0)
        meter = {
            "power_w": truth["power_w"], "current_a": round(amps, 1),
            "cumulative_kwh": truth["cumulative_kwh"], "period_start": charge.ymd_text(start),
            "monthly_kwh": monthly_kwh,
            "monthly_yen": None if monthly_kwh is None else tariff(cfg.contract_amperage, monthly_kwh),
            "export_kwh": truth.get("export_kwh"),
        }
        screen = {}
        lcd = m5stack.lcd
        for key, box in REGIONS.items():
            texts = lcd._sim.texts_in(*box)
            texts = [t for t in texts if t.text.strip()]
            if texts:
                main = max(texts, key=lambda t: (t.h, len(t.text)))
                screen[key] = main.text
            else:
                screen[key] = None
        screen["orientation"] = "landscape_flip" if lcd._orient == lcd.LANDSCAPE_FLIP else "landscape"
        st = self.server.stats()
        records = self.server.records
        created = [r.get("created") for r in records]
        ambient = {
            "generated": None, "delivered": st.get("distinct"), "duplicates": st.get("duplicates"),
            "queued": None, "dropped": None, "in_order": created == sorted(created),
        }
        qstats = _app_ambient_stats()
        if qstats:
            ambient.update({"generated": qstats.get("generated"), "queued": qstats.get("queued"),
                            "dropped": qstats.get("dropped")})
        rep = {
            "seconds": round(self.now_s(), 1), "meter": meter, "screen": screen, "ambient": ambient,
            "errors": self.errors + _app_errors(), "resets": self.resets,
            "real_seconds": round(time.time() - self._real_start, 1),
        }
        mstats = _app_mqtt_stats()
        if mstats is not None:
            rep["mqtt"] = {"published": mstats.get("published"), "connects": mstats.get("connects"),
                           "connected": mstats.get("connected")}
        return rep


_APP = []   # the running App, captured for the report


def _capture_app():
    """Record each App instance the device code creates (for the report's counters)."""
    import app as appmod
    orig = appmod.App.__init__

    def init(self, *a, **kw):
        orig(self, *a, **kw)
        _APP.append(self)
        # The simulation may end only between reads (the screen then shows the last answer):
        # mark the session while a read is under way.
        session = self.session
        read = session.read

        def tracked(*args, **kwargs):
            session.sim_reading = True
            try:
                return read(*args, **kwargs)
            finally:
                session.sim_reading = False
        session.read = tracked
    appmod.App.__init__ = init


def _app_ambient_stats():
    if _APP and _APP[-1].ambient is not None:
        return _APP[-1].ambient.stats()
    return None


def _app_mqtt_stats():
    if _APP and _APP[-1].mqtt is not None:
        return _APP[-1].mqtt.stats()
    return None


def _app_errors():
    out = []
    for a in _APP:
        if a.log.errors:
            out.append("%d ERROR lines in the log, the last: %s" % (a.log.errors, a.log.last_error))
    return out


def parse_presses(text):
    out = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, t = item.partition("@")
        long_press = name.isupper()
        name = name.lower()
        if name not in ("a", "b") or not t:
            raise SystemExit("--press: expected a@SECONDS or b@SECONDS (A@T: long press), got %r" % item)
        out.append((name, float(t), long_press))
    out.sort(key=lambda p: p[1])
    return out


LOG_LINES = []   # interactive: the last lines of the app's serial log, shown under the LCD


class LogCatcher:
    """Interactive mode's stdout/stderr: keeps the last lines for the screen."""

    def __init__(self):
        self._part = ""

    def write(self, text):
        self._part += text
        while "\n" in self._part:
            line, self._part = self._part.split("\n", 1)
            LOG_LINES.append(line)
            del LOG_LINES[:-8]
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


def log(msg):
    sys.stderr.write("sim: %s\n" % msg)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, help="run N simulated seconds as fast as possible, then exit")
    ap.add_argument("--speed", type=float, default=1.0, help="real-time multiple when interactive")
    ap.add_argument("--scenario", help="emulator fault scenario (%s) or 'outage'" % ", ".join(bp35emu.SCENARIOS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--press", help="button presses at simulated seconds: a@100,b@200 (A@T = long press)")
    ap.add_argument("--config", help="a SmartMeter.json to run (default: built-in simulation config)")
    ap.add_argument("--png", help="where to keep the LCD picture (default build/sim/lcd.png)")
    ap.add_argument("--report", help="write a JSON report here at the end")
    args = ap.parse_args(argv)
    # The app runs with the temporary /flash as its working folder: fix relative paths now.
    for name in ("png", "report", "config"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    for s in (args.scenario or "").replace(",", " ").split():
        if s not in bp35emu.SCENARIOS and s not in SIM_SCENARIOS:
            ap.error("unknown scenario %r" % s)
    if args.seconds is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        log("no terminal: running 600 simulated seconds (use --seconds N)")
        args.seconds = 600
    os.makedirs(os.path.dirname(os.path.abspath(args.png or os.path.join(ROOT, "build", "sim", "lcd.png"))),
                exist_ok=True)
    sim = Simulator(args)
    try:
        sys.modules.pop("app", None)
        sys.path.insert(0, os.path.join(sim.flash, "lib"))
        _capture_app()
        sim.run()
        rep = sim.report()
    finally:
        sim.close()
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump(rep, fh, indent=1)
    log("done: %.0f simulated s in %.1f real s; screen %s; Ambient %s delivered; resets %d"
        % (rep["seconds"], rep["real_seconds"], json.dumps(rep["screen"], ensure_ascii=False),
           rep["ambient"]["delivered"], rep["resets"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
