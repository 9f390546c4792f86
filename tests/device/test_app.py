"""lib/app.py end to end against the in-process emulator, with fake UIFlow hardware.

Runs under CPython and real MicroPython: the app's own modules (schedule, time, billing, view
wiring) on the VM the device runs.
"""
import bp35emu
import config
import timeutil
from app import App, Every
from test_view import FakeLcd

RBID = '0123456789ABCDEF0123456789ABCDEF'
PWD = 'PASSWORD1234'
FLASH = '/tmp/smm_app_test'   # absolute (config wants it); exists on CPython and in the VM


class QuietLcd(FakeLcd):
    """FakeLcd that keeps only the latest text per position (bounded memory)."""

    def __init__(self):
        FakeLcd.__init__(self)
        self.orientation = None
        self.texts = {}

    def orient(self, o):
        self.orientation = o
        self.texts = {}

    def clear(self, color=0):
        self.texts = {}

    def fillRect(self, x, y, w, h, color):
        pass

    def rect(self, x, y, w, h, color=-1, fillcolor=-1):
        pass

    def line(self, x0, y0, x1, y1, color):
        pass

    def print(self, text, x, y, color):
        self.texts[(x, y)] = text


class FakeButton:
    def __init__(self):
        self.released = None
        self.long = None

    def wasReleased(self, cb):
        self.released = cb

    def pressFor(self, t, cb):
        self.long = cb

    def wasPressed(self, cb=None):
        return False


class Wdt:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class Hw:
    pass


def _mkdir(path):
    try:
        import os
        os.mkdir(path)
    except OSError:
        pass


def make(ntp_ok=True, scenario=None, backlight=None, **cfg_over):
    _mkdir(FLASH)
    for name in ('smm_scan.json', 'smm_billing.json', 'smm_boots.json'):
        try:
            import os
            os.remove(FLASH + '/' + name)
        except OSError:
            pass
    clock = bp35emu.VirtualClock()
    start = timeutil.to_epoch(2026, 11, 26, 3, 0, 0)       # 12:00 JST
    emu = bp35emu.Emulator(clock, scenario=scenario, wall_start=start, rbid=RBID, password=PWD)
    doc = {'id': RBID, 'password': PWD, 'contract_amperage': '50', 'collect_date': '22',
           'charge_func': 'tokyo_gas_1', 'scan_cache': FLASH + '/smm_scan.json',
           'baseline_file': FLASH + '/smm_billing.json', 'log_level': 'warning'}
    doc.update(cfg_over)
    cfg = config.load(doc)
    hw = Hw()
    hw.uart = emu.uart
    hw.lcd = QuietLcd()
    hw.btnA = FakeButton()
    hw.btnB = FakeButton()
    hw.ticks = clock
    hw.flash = FLASH
    hw.wifi_connected = lambda: True
    ntp_calls = []

    def ntp():
        ntp_calls.append(clock.now_ms())
        if not ntp_ok:
            raise OSError(110)
        return start + clock.now_ms() // 1000
    hw.ntp = ntp
    wdts = []

    def make_wdt():
        w = Wdt()
        wdts.append((clock.now_ms(), w))
        return w
    hw.make_wdt = make_wdt
    resets = []
    hw.reset = lambda: resets.append(clock.now_ms())
    hw.socket = None
    hw.select = None
    hw.mqtt_simple = None
    hw.mem_free = lambda: 40000
    hw.backlight = backlight
    hw.device_id = 'test'
    lines = []
    import log
    logger = log.Logger('t', sink=lines.append, level='warning')
    app = App(hw, cfg, logger)
    return app, clock, emu, hw, lines, wdts, ntp_calls


def run_for(app, clock, seconds):
    end = clock.now_ms() + seconds * 1000
    while clock.now_ms() < end:
        app.step()


def test_screen_shows_what_the_meter_served():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    run_for(app, clock, 130)
    t = emu.truth()
    shown = app.view.shown
    assert shown['power'] == '%dW' % t['power_w'], (shown, t)
    amps = t['current_r_a'] + (t['current_t_a'] or 0)
    assert abs(int(shown['current_a']) - amps) <= 1
    assert shown['period'].startswith('11-22~')
    kwh = app.readings.period_kwh
    assert shown['monthly_kwh'] == '%.1f' % kwh
    assert shown['fee_yen'] == '%d' % app.cfg.charge(50, kwh)
    assert not [l for l in lines if 'ERROR' in l], lines


def test_one_request_per_refresh_and_period_figure_in_the_same_request():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    run_for(app, clock, 60)
    before = emu.stats['requests']
    run_for(app, clock, 600)
    # 60 refreshes in 600 s, each one request (the minute's E0/E3 ride along)
    assert 59 <= emu.stats['requests'] - before <= 61, emu.stats['requests'] - before


def test_button_a_flips_and_redraws_at_once():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    run_for(app, clock, 30)
    assert app.view.shown['orientation'] == 'landscape'
    hw.btnA.released()
    app.step()
    assert app.view.shown['orientation'] == 'landscape_flip'
    assert hw.lcd.orientation == hw.lcd.LANDSCAPE_FLIP
    assert app.view.shown['power'].endswith('W')       # values drawn again straight away


def test_long_press_toggles_the_backlight_without_flipping():
    levels = []
    app, clock, emu, hw, lines, wdts, ntp_calls = make(backlight=levels.append)
    app.start()
    run_for(app, clock, 20)
    hw.btnA.long()
    app.step()
    assert app.view.shown['orientation'] == 'landscape'
    assert levels and levels[-1] == 0


def test_watchdog_armed_after_start_up_and_fed():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    assert len(wdts) == 1
    armed_at, wdt = wdts[0]
    assert armed_at > 3000          # after the scan and join, not before
    run_for(app, clock, 60)
    assert wdt.feeds >= 60


def test_without_ntp_the_clock_comes_from_the_meter():
    app, clock, emu, hw, lines, wdts, ntp_calls = make(ntp_ok=False)
    app.start()
    run_for(app, clock, 70)
    assert app.wall.source_name == 'meter'
    assert abs(app.wall.utc() - emu.wall()) <= 60
    assert app.readings.period_kwh is not None      # period figures did not wait for NTP
    n = len(ntp_calls)
    run_for(app, clock, 60)
    assert len(ntp_calls) - n <= 2                  # retries back off


def test_every_runs_drift_free():
    clock = bp35emu.VirtualClock()
    e = Every(clock, 10000)
    fired = []
    for _ in range(1000):
        if e.due(clock.ticks_ms()):
            fired.append(clock.now_ms())
        clock.sleep_ms(37)
    assert [t % 10000 < 37 for t in fired] == [True] * len(fired)
    assert len(fired) == 4
