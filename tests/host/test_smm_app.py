"""apps/SMM.py's own helpers, on the UIFlow stand-ins (tools/uiflow): the NTP time is whole UTC
seconds for any timezone (the ESP32's floats are single precision: a float near 1.7e9 s is
only good to minutes), a firmware whose WDT refuses the timeout runs without a watchdog instead
of stopping the app, and lib/config.py is dropped from memory once SmartMeter.json is read.
The app file is executed without its last line (the call of main(), which never returns)."""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UIFLOW = os.path.join(ROOT, "tools", "uiflow")


@pytest.fixture
def smm():
    """apps/SMM.py's namespace, main() not called; the stand-ins are removed afterwards."""
    before = set(sys.modules)
    sys.path.insert(0, UIFLOW)
    try:
        import uiflow_sim
        uiflow_sim.reset()
        with open(os.path.join(ROOT, "apps", "SMM.py"), encoding="utf-8") as f:
            src = f.read()
        head, tail = src.rstrip().rsplit("\n", 1)
        assert tail == "main()", tail
        ns = {"__name__": "smm_under_test"}
        exec(compile(head, "apps/SMM.py", "exec"), ns)
        yield ns, uiflow_sim
    finally:
        sys.path.remove(UIFLOW)
        sim = sys.modules.get("uiflow_sim")
        if sim is not None:
            sim.uninstall_gc_shims()
        for name in set(sys.modules) - before:
            del sys.modules[name]


class Cfg:
    ntp_host = "ntp.nict.jp"
    timezone = 9.0          # a float, as a JSON "9.0" gives
    tz_offset = 32400


def test_ntp_gives_whole_utc_seconds_for_a_float_timezone(smm):
    ns, sim = smm
    sim.hub.set_world_time(2026, 12, 6, 3, 0, 0)
    import utime
    import wifiCfg
    wifiCfg.autoConnect(lcdShow=False)          # the stand-in's saved network: NTP reachable
    utime.sleep_ms(2000)                        # associated (1.5 s in the stand-in)
    utc = ns["_ntp"](Cfg)
    assert type(utc) is int
    assert abs(utc - sim.hub.world_ms() // 1000) <= 1
    Cfg.timezone, Cfg.tz_offset = 5.5, 19800   # no whole hours: the RTC stays on UTC
    try:
        utc = ns["_ntp"](Cfg)
    finally:
        Cfg.timezone, Cfg.tz_offset = 9.0, 32400
    assert type(utc) is int and abs(utc - sim.hub.world_ms() // 1000) <= 1


class Hw:
    wdt = None


class Log:
    def __init__(self):
        self.lines = []

    def warning(self, fmt, *args):
        self.lines.append(fmt % args)


def test_a_wdt_without_the_timeout_keyword_leaves_the_app_running_without_one(smm):
    ns, sim = smm

    def old_wdt(*args, **kwargs):
        if kwargs:
            raise TypeError("function does not take keyword arguments")
    ns["machine"].WDT = old_wdt
    hw, log = Hw(), Log()
    ns["_arm_wdt"](hw, log)
    assert hw.wdt is None and log.lines == ["no watchdog: function does not take keyword arguments"]


def test_config_is_dropped_once_read(smm, tmp_path):
    ns, sim = smm
    with open(os.path.join(ROOT, "SmartMeter.example.json"), encoding="utf-8") as f:
        doc = json.load(f)
    doc["id"], doc["password"] = "0123456789ABCDEF0123456789ABCDEF", "PASSWORD1234"
    (tmp_path / "SmartMeter.json").write_text(json.dumps(doc), encoding="utf-8")
    ns["FLASH"] = str(tmp_path)
    cfg = ns["_load_config"](Log())
    assert cfg.contract_amperage == int(doc["contract_amperage"])
    assert "config" not in sys.modules           # its code goes back to the heap
