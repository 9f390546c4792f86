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


def make(ntp_ok=True, scenario=None, backlight=None, seed=1, keep_flash=False, start=None,
         **cfg_over):
    _mkdir(FLASH)
    for name in () if keep_flash else ('smm_scan.json', 'smm_billing.json', 'smm_boots.json'):
        try:
            import os
            os.remove(FLASH + '/' + name)
        except OSError:
            pass
    clock = bp35emu.VirtualClock()
    if start is None:
        start = timeutil.to_epoch(2026, 11, 26, 3, 0, 0)   # 12:00 JST
    emu = bp35emu.Emulator(clock, scenario=scenario, wall_start=start, rbid=RBID, password=PWD,
                           seed=seed)
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
    ntp_calls = []

    def ntp():
        ntp_calls.append(clock.now_ms())
        if not ntp_ok:
            raise OSError(110)
        return start + clock.now_ms() // 1000
    hw.ntp = ntp
    wdts = []
    hw.wdt = None

    def arm_wdt():
        if hw.wdt is None:
            hw.wdt = Wdt()
            wdts.append((clock.now_ms(), hw.wdt))
    hw.arm_wdt = arm_wdt
    hw.wifi_reconnect = None
    hw.wifi_up = [True]
    hw.wifi_connected = lambda: hw.wifi_up[0]
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


def truth_period_kwh(emu, start_ymd):
    t = emu.truth()
    y, m, d = start_ymd
    c0 = emu.meter.count_at_local(y, m, d, 0, 0)
    return ((t['cumulative_count'] - c0) % (10 ** t['digits'])) * t['unit'] * t['coefficient']


def test_period_kwh_is_since_00_00_of_the_reading_day():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    run_for(app, clock, 70)
    assert app.billing.start == (2026, 11, 22) and app.billing.source == 'history'
    assert abs(app.readings.period_kwh - truth_period_kwh(emu, (2026, 11, 22))) < 0.05


def test_a_meter_replaced_while_the_device_was_off_does_not_inherit_the_period_start():
    app, clock, emu, hw, lines, wdts, ntp_calls = make(seed=1)
    app.start()
    run_for(app, clock, 70)
    first_meter = app.meter_id
    assert app.billing.source == 'history'
    # Reboot with a different meter on the wall (new MAC, its own counter).
    app2, clock2, emu2, hw2, lines2, _, _ = make(seed=7, keep_flash=True)
    app2.start()
    run_for(app2, clock2, 70)
    assert app2.meter_id != first_meter
    assert abs(app2.readings.period_kwh - truth_period_kwh(emu2, (2026, 11, 22))) < 0.05


def test_the_chart_rolls_over_at_midnight():
    # Start 23:50 JST: ten minutes later today's chart is a new day.
    start = timeutil.to_epoch(2026, 11, 26, 14, 50, 0)
    app, clock, emu, hw, lines, wdts, ntp_calls = make(start=start)
    app.start()
    run_for(app, clock, 60)
    assert app.today == (2026, 11, 26)
    assert app.chart_today[46] is not None          # 23:00 slot of the old day
    run_for(app, clock, 900)
    assert app.today == (2026, 11, 27)
    assert app.chart_yesterday[46] is not None      # yesterday now holds the old day
    assert app.chart_today[46] is None              # nothing measured yet at 23:00 today
    assert app.chart_today[0] is not None


def test_no_endless_resets_when_the_meter_is_gone():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    resets = []
    hw.reset = lambda: resets.append(clock.now_ms())
    app.resets_without_data = 3                    # three resets already brought nothing
    app.mono._ms = 3600 * 1000                     # well past the 15-minute guard
    app._on_reset_request()
    assert resets == []
    app.resets_without_data = 1
    app._on_reset_request()
    assert len(resets) == 1 and app.resets_without_data == 2


def test_wifi_down_for_two_minutes_asks_the_firmware_to_reconnect():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    calls = []
    hw.wifi_reconnect = lambda: calls.append(clock.now_ms())
    app.start()
    run_for(app, clock, 30)
    hw.wifi_up[0] = False
    run_for(app, clock, 100)
    assert calls == []                              # a short drop heals by itself
    run_for(app, clock, 60)
    assert len(calls) == 1
    run_for(app, clock, 60)
    assert len(calls) == 1                          # then backing off
    hw.wifi_up[0] = True
    run_for(app, clock, 20)
    assert app.wifi_down_since is None


def test_an_unexpected_error_while_connecting_backs_off():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    calls = []

    def broken(progress=None):
        calls.append(clock.now_ms())
        raise OSError(28, 'no space left on flash')
    app.session.connect = broken
    app.start()
    run_for(app, clock, 60)
    assert len(calls) <= 3, len(calls)          # not a tight retry loop
    assert app.view.shown.get('page') == 'error'
