"""lib/app.py end to end against the in-process emulator, with fake UIFlow hardware.

Runs under CPython and real MicroPython: the app's own modules (schedule, time, billing, view
wiring) on the VM the device runs.
"""
import sys
import bp35emu
import config
from util import to_epoch
from app import App, Backoff
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
        self.LANDSCAPE_FLIP = 3

    def orient(self, o):
        self.orientation = o
        self.texts = {}
        self.colours = {}

    def clear(self, color=0):
        self.texts = {}
        self.colours = {}

    def fillRect(self, x, y, w, h, color):
        # a filled box hides the texts that start inside it
        for k in [k for k in self.texts if x <= k[0] < x + w and y <= k[1] < y + h]:
            del self.texts[k]

    def rect(self, x, y, w, h, color=-1, fillcolor=-1):
        pass

    def line(self, x0, y0, x1, y1, color):
        pass

    def print(self, text, x, y, color):
        self.texts[(x, y)] = text
        self.colours[(x, y)] = color

    def texts_in_colour(self, color):
        return sorted([self.texts[k] for k in self.texts if self.colours[k] == color])


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
        start = to_epoch(2026, 11, 26, 3, 0, 0)   # 12:00 JST
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
    hw.ssl = None
    hw.heap = lambda: (40000, 12000)
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
    current, power, period, kwh_text, yen = app.view.shown
    assert power == '%dW' % t['power_w'], (app.view.shown, t)
    amps = t['current_r_a'] + (t['current_t_a'] or 0)
    assert abs(int(current) - amps) <= 1
    assert period == '11-22~11-26'
    kwh = app.vals[3]
    assert kwh_text == '%.1f' % kwh
    assert yen == '%d' % app.cfg.charge(50, kwh)
    assert hw.lcd.texts_in_colour(0x606060) == []   # nothing greyed out: every value is fresh
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
    assert not app.view.flipped
    hw.btnA.released()
    app.step()
    assert app.view.flipped
    assert hw.lcd.orientation == hw.lcd.LANDSCAPE_FLIP
    assert app.view.shown[1] in hw.lcd.texts.values()  # values drawn again straight away


def test_long_press_toggles_the_backlight_without_flipping():
    levels = []
    app, clock, emu, hw, lines, wdts, ntp_calls = make(backlight=levels.append)
    app.start()
    run_for(app, clock, 20)
    hw.btnA.long()
    app.step()
    assert not app.view.flipped
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
    assert app.vals[3] is not None               # period figures did not wait for NTP
    n = len(ntp_calls)
    run_for(app, clock, 60)
    assert len(ntp_calls) - n <= 2                  # retries back off


def test_refreshes_run_drift_free_and_skip_missed_slots():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.t[5] = clock.ticks_ms()                     # t[5]: the next refresh
    fired = []
    for _ in range(1000):
        if app._due(clock.ticks_ms(), 5, 10000):
            fired.append(clock.now_ms())
        clock.sleep_ms(37)
    assert [(t - fired[0]) % 10000 < 37 for t in fired] == [True] * len(fired)
    assert len(fired) == 4
    clock.sleep_ms(95000)                           # a long recovery: missed slots are skipped
    assert app._due(clock.ticks_ms(), 5, 10000)
    assert 0 < clock.ticks_diff(app.t[5], clock.ticks_ms()) <= 10000
    assert not app._due(clock.ticks_ms(), 5, 10000)


def test_backoff_doubles_to_its_cap_and_forgets_a_passed_deadline():
    clock = bp35emu.VirtualClock()
    b = Backoff(clock, 1000, 4000)
    assert b.ready(clock.ticks_ms())
    waits = []
    for _ in range(4):
        b.failed(clock.ticks_ms())
        n = 0
        while not b.ready(clock.ticks_ms()):
            clock.sleep_ms(100)
            n += 100
        waits.append(n)
    assert waits == [1000, 2000, 4000, 4000]
    b.wait(clock.ticks_ms(), 500)
    assert not b.ready(clock.ticks_ms())
    clock.sleep_ms(600)
    assert b.ready(clock.ticks_ms())
    clock.sleep_ms(7 * 86400 * 1000)                # days later, past the ticks wrap: still due
    assert b.ready(clock.ticks_ms())


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
    assert abs(app.vals[3] - truth_period_kwh(emu, (2026, 11, 22))) < 0.05


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
    assert abs(app2.vals[3] - truth_period_kwh(emu2, (2026, 11, 22))) < 0.05


def test_the_chart_rolls_over_at_midnight():
    # Start 23:50 JST: ten minutes later today's chart is a new day.
    start = to_epoch(2026, 11, 26, 14, 50, 0)
    app, clock, emu, hw, lines, wdts, ntp_calls = make(start=start)
    app.start()
    run_for(app, clock, 30)
    assert app.chart is None                        # not read before the chart is first shown
    hw.btnB.released()
    run_for(app, clock, 30)
    assert app.today == (2026, 11, 26) and app.view.page == 1
    assert app.chart[0][46] is not None             # 23:00 slot of the old day
    assert [t for t in hw.lcd.texts.values() if t.startswith('Today ') and t != 'Today --kWh']
    run_for(app, clock, 900)
    assert app.today == (2026, 11, 27)
    assert app.chart[1][46] is not None             # yesterday now holds the old day
    assert app.chart[0][46] is None                 # nothing measured yet at 23:00 today
    assert app.chart[0][0] is not None


def test_no_endless_resets_when_the_meter_is_gone():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    resets = []
    hw.reset = lambda: resets.append(clock.now_ms())
    app.boots[1] = 3                               # three resets already brought nothing
    app.t[0] = 3600                                # uptime: well past the 15-minute guard
    app._on_reset()
    assert resets == []
    app.boots[1] = 1
    app._on_reset()
    assert len(resets) == 1 and app.boots[1] == 2
    app.t[0] = 600                                 # within 15 minutes of boot: never
    app.boots[1] = 0
    app._on_reset()
    assert len(resets) == 1


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
    assert app.t[8] is None                         # t[8]: Wi-Fi down since


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
    assert app.view.status[0] == 'error'


def test_optional_features_cost_nothing_when_not_configured():
    for name in ('ambient', 'mqttpub', 'pages'):
        sys.modules.pop(name, None)
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    run_for(app, clock, 60)
    assert app.ambient is None and app.mqtt is None
    for name in ('ambient', 'mqttpub', 'pages'):
        assert name not in sys.modules, name          # never imported: no heap spent on them


def test_button_b_shows_the_chart_then_the_diagnostics_with_the_heap():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    run_for(app, clock, 70)
    hw.btnB.released()
    run_for(app, clock, 1)
    assert app.view.page == 1
    texts = list(hw.lcd.texts.values())
    assert [t for t in texts if t.startswith('Today ') and t.endswith('kWh')], texts
    hw.btnB.released()
    run_for(app, clock, 1)
    assert app.view.page == 2
    texts = list(hw.lcd.texts.values())
    assert 'heap 40000 free' in texts and 'largest block 12000' in texts, texts
    assert [t for t in texts if t.startswith('ch ') and 'LQI' in t], texts
    hw.btnB.released()
    run_for(app, clock, 1)
    assert app.view.page == 0 and app.view.shown[1] in hw.lcd.texts.values()


def test_free_heap_and_largest_block_are_logged_at_start_and_hourly():
    app, clock, emu, hw, lines, wdts, ntp_calls = make(log_level='info')
    app.log.set_level('info')
    app.start()
    assert [l for l in lines if 'heap: 40000 bytes free, largest block 12000' in l]
    n = len([l for l in lines if 'heap:' in l])
    run_for(app, clock, 3610)
    assert len([l for l in lines if 'heap:' in l]) == n + 1


class NoNetwork:
    """A usocket stand-in for an unreachable network: every lookup fails."""

    @staticmethod
    def getaddrinfo(*args):
        raise OSError(-202)


def test_ambient_records_and_mqtt_states_carry_the_readings():
    import mqttpub
    published = []

    class FakePublisher:
        connected = False

        def __init__(self, *args):
            self.args = args

        def publish_state(self, values):
            published.append(values)

        def service(self, now_ms=None):
            pass

        def close(self):
            pass

    real = mqttpub.MqttPublisher
    mqttpub.MqttPublisher = FakePublisher
    try:
        app, clock, emu, hw, lines, wdts, ntp_calls = make(
            ambient={'channel_id': '123', 'write_key': 'KEY4567890123456',
                     'fields': {'d1': 'current', 'd2': 'power', 'd3': 'period_kwh',
                                'd4': 'period_yen', 'd5': 'import_kwh'}},
            mqtt={'host': 'broker.local'})
        hw.socket = NoNetwork
        app = App(hw, app.cfg, app.log)
        app.start()
        run_for(app, clock, 75)
    finally:
        mqttpub.MqttPublisher = real
    assert isinstance(app.mqtt, FakePublisher) and app.mqtt.args[0]['host'] == 'broker.local'
    t = emu.truth()
    names = mqttpub.STATE.split()
    state = dict(zip(names, published[-1]))
    assert state['power_w'] == t['power_w'] and state['current_r_a'] == t['current_r_a']
    assert abs(state['import_kwh'] - t['cumulative_kwh']) < 0.2
    assert state['period_kwh'] == app.vals[3] and state['period_yen'] == app.vals[4]
    assert state['period_start'] == '2026-11-22' and state['lqi'] == app.session.lqi
    assert 0 <= emu.wall() - state['timestamp'] <= 10  # the time of the last refresh
    assert len(published) >= 7                        # every refresh
    assert app.ambient.queued >= 2                    # no network: kept, none lost
    # the next record: what the app read then, in the configured slots
    taken = []
    reading = app.ambient.reading
    app.ambient.reading = lambda vals, t, fields: taken.append((list(vals), t)) or reading(vals, t, fields)
    run_for(app, clock, 30)
    import json
    rec = json.loads(app.ambient.buffer[-1])           # as it will be sent
    vals, t = taken[-1]
    assert set(rec) == {'created', 'd1', 'd2', 'd3', 'd4', 'd5'} and rec['created'] == t
    assert abs(rec['d1'] - (vals[0][0] + (vals[0][1] or 0))) < 1e-6     # A, R + T
    assert abs(rec['d2'] - vals[1] / 1000) < 1e-6                        # kW
    assert rec['d3'] == vals[3] and rec['d4'] == vals[4]                 # period kWh and yen
    assert abs(rec['d5'] - vals[5]) < 1e-6                               # import kWh
    assert abs(t // 1000 - emu.wall()) <= 30           # measured then, kept with the record


def test_boots_are_counted_across_restarts_and_a_strange_file_starts_again():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    assert app.boots == [1, 0]
    app2 = make(keep_flash=True)[0]
    assert app2.boots == [2, 0]
    with open(FLASH + '/smm_boots.json', 'w') as f:
        f.write('{"boots": 7, "resets_without_data": 1}')      # an older format: not trusted
    app3 = make(keep_flash=True)[0]
    assert app3.boots == [1, 0]


def test_a_watchdog_that_cannot_be_armed_does_not_stop_the_app():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()

    def no_watchdog():
        raise TypeError('function does not take keyword arguments')
    hw.arm_wdt = no_watchdog
    app.start()
    run_for(app, clock, 30)
    assert app.view.shown[1].endswith('W') and app.view.shown[1] != '--W'   # readings go on
    assert 'watchdog' in app.last_error


def test_refused_ambient_settings_leave_the_meter_running():
    app, clock, emu, hw, lines, wdts, ntp_calls = make(
        ambient={'channel_id': '123', 'write_key': 'KEY4567890123456'})
    hw.socket = NoNetwork
    import ambient
    real = ambient.Ambient

    def refuse(*args):
        raise ValueError('ambient: need an http:// url')
    ambient.Ambient = refuse
    try:
        app = App(hw, app.cfg, app.log)
    finally:
        ambient.Ambient = real
    assert app.ambient is None and [l for l in lines if 'Ambient off' in l]
    app.start()
    run_for(app, clock, 30)
    assert app.vals[1] is not None


def test_the_diagnostics_page_does_not_probe_the_heap_every_refresh():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    probes = []
    hw.heap = lambda: probes.append(clock.now_ms()) or (30000, 9000)
    app.start()
    hw.btnB.released()
    run_for(app, clock, 1)
    hw.btnB.released()
    run_for(app, clock, 120)
    assert app.view.page == 2 and 'heap 30000 free' in hw.lcd.texts.values()
    assert len(probes) == 1                         # at start only (then hourly), not per refresh


def test_idle_is_usable_again_after_an_interrupt():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()

    def interrupted():
        raise KeyboardInterrupt
    app.view.flip = interrupted
    app.pressed = 1
    clock.sleep_ms(300)
    try:
        app.idle()
    except KeyboardInterrupt:
        pass
    assert app.busy is False                        # a stuck flag would stop watchdog and screen


def test_pages_refresh_after_days_on_the_main_page():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    app.start()
    shown = []
    app.view.show = lambda: shown.append(clock.now_ms())
    # t[3], the last page refresh, left behind for a week: ticks_diff sees it in the future
    app.t[3] = clock.ticks_add(clock.ticks_ms(), 300000000)
    hw.btnB.released()
    run_for(app, clock, 30)
    assert len(shown) >= 4                          # every 5 s while the page is up


def test_the_history_back_off_starts_again_after_a_success():
    app, clock, emu, hw, lines, wdts, ntp_calls = make()
    read = app.session.read_history
    answers = [None, None]                          # the first two asks go unanswered
    app.session.read_history = lambda day: answers.pop(0) if answers else read(day)
    app.start()
    run_for(app, clock, 600)
    assert app.billing.source == 'history'
    assert app.retry[3].delay == app.retry[3].first  # the next period's first retry: a minute
