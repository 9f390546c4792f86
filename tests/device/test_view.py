"""lib/view.py and lib/pages.py: text formatting tables, colours, staleness, redraw-only-on-change,
pages, status screens and backlight, against a tiny fake lcd that records every call (CPython and
MicroPython)."""
import pages
from view import View, fmt, current_color, wrap, fit

# The colours the screen uses (24-bit RGB, as the LoBo API takes them).
BLACK = 0x000000
WHITE = 0xFFFFFF
BLUE = 0x1F77B4
ORANGE = 0xFF7F0E
RED = 0xD62728
GREEN = 0x2CA02C
GREY = 0xA9A9A9
STALE = 0x606060
# main-page regions: the indices of View.update()'s lists and of View.shown
CURRENT, POWER, PERIOD, KWH, YEN = 0, 1, 2, 3, 4
GUTTER = 3
BAR_X, BAR_Y, BAR_W, BAR_H = 4, 68, 152, 10
CHART_TOP, CHART_BASE = 13, 75

# glyph (w, h) per LoBo font number: Default 0, DejaVu18 1, DejaVu24 2, Ubuntu 3, DefaultSmall 8
FAKE_FONTS = {0: (7, 12), 1: (10, 18), 2: (14, 24), 3: (7, 16), 8: (6, 9)}


class FakeLcd:
    """Records calls as tuples; textWidth is glyph width x length in the selected font."""

    def __init__(self):
        self.calls = []
        self.cur = 0

    def orient(self, o):
        self.calls.append(('orient', o))

    def clear(self, color=0):
        self.calls.append(('clear', color))

    def fillRect(self, x, y, w, h, color):
        self.calls.append(('fillRect', x, y, w, h, color))

    def rect(self, x, y, w, h, color=-1, fillcolor=-1):
        self.calls.append(('rect', x, y, w, h, color, fillcolor))

    def line(self, x0, y0, x1, y1, color):
        self.calls.append(('line', x0, y0, x1, y1, color))

    def font(self, f):
        self.cur = f
        self.calls.append(('font', f))

    def print(self, text, x, y, color):
        self.calls.append(('print', text, x, y, color, self.cur))

    def textWidth(self, text):
        return len(text) * FAKE_FONTS[self.cur][0]

    def fontSize(self):
        return FAKE_FONTS[self.cur]

    def prints(self):
        return [c for c in self.calls if c[0] == 'print']

    def printed(self, text):
        """The last print call of exactly this text, or None."""
        found = None
        for c in self.calls:
            if c[0] == 'print' and c[1] == text:
                found = c
        return found

    def take(self):
        calls = self.calls
        self.calls = []
        return calls


NOW = 1000


def readings(power=1234, current=(10.0, 2.0), kwh=123.4, yen=3456, age=0):
    """(values, times) as the app hands them to View.update()."""
    t = NOW - age
    return [current, power, ((2026, 11, 22), (2026, 11, 26)), kwh, yen], [t] * 5


def make(contract=50, **kw):
    lcd = FakeLcd()
    v = View(lcd, contract=contract, **kw)
    return lcd, v


def update(v, r, now=NOW):
    v.update(r[0], r[1], now)


class FakeSession:
    """What lib/pages.py reads of the meter session: units 0.1 kWh per count, 6 digits."""
    digits = 6

    def __init__(self, pan=None, lqi=None, rssi=None):
        self.pan = pan
        self.lqi = lqi
        self.rssi = rssi

    def kwh(self, count):
        return None if count is None else count / 10


class FakeApp:
    """What lib/pages.py reads of the app (view.data)."""

    def __init__(self, today=(), yesterday=(), channel=None, lqi=None, rssi=None, up=60, boots=1,
                 wifi=True, mqtt=None, queue=None, export=None, heap=(20000, 9000), error=None):
        self.chart = [counts(today), counts(yesterday)]
        self.session = FakeSession({'channel': channel} if channel else None, lqi, rssi)
        self.up = up
        self.boots = [boots, 0]
        self.wifi = wifi
        self.mqtt = mqtt
        self.ambient = queue
        self.vals = [None] * 6 + [export]
        self.heap = heap
        self.last_error = error
        self.log = self

    def uptime(self):
        return self.up

    def _wifi_ok(self):
        return self.wifi


def counts(kwh_per_slot):
    """Cumulative counts at each half hour (49) for half-hour kWh values (None: no count)."""
    cum = [None] * 49
    cum[0] = 100
    for i in range(min(48, len(kwh_per_slot))):
        kwh = kwh_per_slot[i]
        if kwh is not None and cum[i] is not None:
            cum[i + 1] = cum[i] + int(kwh * 10 + 0.5)
    return cum


# ---- pure formatting ----------------------------------------------------------------------

def test_power_text_table():
    table = [
        (0, '0W'), (999, '999W'), (9999, '9999W'), (10000, '10.0kW'), (-1962, '-1962W'),
        (None, '--W'), (12345, '12.3kW'), (-12345, '-12.3kW'), (9999.6, '10.0kW'), (-0.4, '0W'),
        (10049, '10.0kW'), (10050, '10.1kW'), (999.5, '1000W'), ('500', '--W'), (True, '--W'),
        (float('nan'), '--W'), (float('inf'), '--W'),
    ]
    for w, want in table:
        assert fmt(POWER, w) == want, (w, fmt(POWER, w), want)


def test_current_text_sums_phases_in_whole_amperes():
    table = [
        (12.0, '12'), (12.5, '13'), (12.4, '12'), ((10.0, 2.0), '12'), ((10.5, None), '11'),
        ((None, 3.0), '3'), ((None, None), '--'), (None, '--'), ((-3.0, -2.0), '-5'),
        ((0.2, 0.1), '0'), ('x', '--'), ((), '--'),
    ]
    for a, want in table:
        assert fmt(CURRENT, a) == want, (a, fmt(CURRENT, a), want)


def test_kwh_text_one_decimal_below_1000_whole_above():
    table = [
        (0, '0.0'), (123.44, '123.4'), (123.45, '123.5'), (999.94, '999.9'), (999.96, '1000'),
        (1000, '1000'), (12345.6, '12346'), (0.05, '0.1'), (-2.5, '-2.5'), (None, '--'),
        ('1', '--'),
    ]
    for kwh, want in table:
        assert fmt(KWH, kwh) == want, (kwh, fmt(KWH, kwh), want)


def test_yen_text_plain_digits():
    for yen, want in [(3456, '3456'), (1234567, '1234567'), (0, '0'), (99.5, '100'),
                      (-12, '-12'), (None, '--')]:
        assert fmt(YEN, yen) == want


def test_period_text_never_shows_raw_tuples():
    assert fmt(PERIOD, ((2026, 11, 22), (2026, 11, 26))) == '11-22~11-26'
    assert fmt(PERIOD, ((2025, 12, 22), (2026, 1, 5))) == '12-22~01-05'
    assert fmt(PERIOD, ([2024, 2, 29], (2024, 3, 1))) == '02-29~03-01'
    for bad in (None, ((2025, 4, 1),), (None, (2025, 1, 25)), (('2025', '1', '2'), (2025, 1, 2)), 'x'):
        assert fmt(PERIOD, bad) == '--~--', bad


def test_current_colour_thresholds():
    assert current_color(39.9, 50) == BLUE
    assert current_color(40.0, 50) == ORANGE      # 80 %
    assert current_color(47.4, 50) == ORANGE
    assert current_color(47.5, 50) == RED         # 95 %
    assert current_color(60.0, 50) == RED
    assert current_color(40.0, None) == BLUE      # no contract known: no warning
    assert current_color(40.0, 0) == BLUE
    assert current_color(None, 50) == BLUE
    assert current_color(-3.0, 50) == GREEN       # net export
    assert current_color(-45.0, 50) == ORANGE     # the limit applies to either direction


def test_current_colour_uses_the_larger_phase_of_a_pair():
    # single-phase three-wire: each wire is limited to the contract amperage
    assert current_color((30.0, 30.0), 50) == BLUE     # shows 60 A in total, each wire at 60 %
    assert current_color((41.0, 10.0), 50) == ORANGE
    assert current_color((10.0, 48.0), 50) == RED
    assert current_color((None, 40.0), 50) == ORANGE
    assert current_color((-2.0, -1.0), 50) == GREEN


def test_wrap_fits_width_and_keeps_words():
    width = lambda s: len(s) * 6  # noqa: E731
    lines = wrap('id: must be 32 characters (hex digits and capital letters)', 156, width)
    assert len(lines) == 3
    for line in lines:
        assert len(line) * 6 <= 156
    assert ' '.join(lines) == 'id: must be 32 characters (hex digits and capital letters)'
    # a word wider than the line is cut, nothing is lost
    long_word = 'x' * 60
    lines = wrap(long_word, 156, width)
    assert ''.join(lines) == long_word and max(len(s) for s in lines) == 26
    assert wrap('a\nb c', 156, width) == ['a', 'b c']
    assert wrap('', 156, width) == ['']


def test_fit_shortens_with_dots():
    width = lambda s: len(s) * 6  # noqa: E731
    assert fit('short', 60, width) == 'short'
    cut = fit('a much longer line of text', 60, width)
    assert cut.endswith('..') and len(cut) * 6 <= 60 and cut.startswith('a much')


def test_diagnostics_lines():
    lines = pages.lines((33, 120, -71.2, 3 * 86400 + 4 * 3600 + 300, 2, True, True, 4, 0, 12.34,
                         23456, 8192, 'meter: no answer'))
    assert lines == ['ch 33 LQI 120 -71dBm', 'up 3d04h05m boot 2', 'Wi-Fi up MQTT up',
                     'Ambient queued 4 lost 0', 'export 12.3 kWh', 'heap 23456 free',
                     'largest block 8192', 'error meter: no answer']
    empty = pages.lines((None,) * 5 + (False,) + (None,) * 7)
    assert empty[:4] == ['ch - LQI - -dBm', 'up - boot -', 'Wi-Fi down MQTT off', 'Ambient off']
    assert empty[4:] == ['export -- kWh', 'heap - free', 'largest block -', 'error -']
    # RSSI = 0.275 * LQI - 104.27 is a float: the page shows whole dBm, not 15 digits
    assert pages.lines((51, 189, 0.275 * 189 - 104.27) + (None,) * 10)[0] == 'ch 51 LQI 189 -52dBm'


# ---- the screen ---------------------------------------------------------------------------

def test_constructor_orients_landscape_and_clears():
    lcd, v = make()
    assert lcd.calls[0] == ('orient', 1)                 # LoBo LANDSCAPE
    assert ('clear', BLACK) in lcd.calls
    assert v.flipped is False and v.page == 0 and v.status is None
    update(v, readings())
    assert lcd.printed('1234W')[5] == 2                  # FONT_DejaVu24 by its LoBo number


def test_main_page_texts_colours_and_shown():
    lcd, v = make()
    lcd.take()
    update(v, readings())
    assert v.shown == ['12', '1234W', '11-22~11-26', '123.4', '3456']
    # each shown text is exactly one print, in its colour and place
    cur = lcd.printed('12')
    assert cur[4] == BLUE and cur[5] == 2 and 3 <= cur[2] < 73 and 3 <= cur[3] < 28
    assert lcd.printed('A')[4] == GREY
    assert lcd.printed('/50A')[4] == GREY and lcd.printed('/50A')[5] == 3
    pw = lcd.printed('1234W')
    assert pw[4] == BLUE and pw[5] == 2
    assert pw[2] + 5 * 14 == 157                        # the right column is flush right
    assert lcd.printed('11-22~11-26')[4] == ORANGE and lcd.printed('11-22~11-26')[3] == 33
    kwh = lcd.printed('123.4')
    assert kwh[4] == ORANGE and kwh[2] == 3
    assert kwh[3] + FAKE_FONTS[kwh[5]][1] == 45 + 24             # on the DejaVu24 baseline
    yen = lcd.printed('3456')
    assert yen[4] == ORANGE and (yen[2] + 4 * 14, yen[3]) == (157, 45)


def test_before_any_reading_every_region_shows_grey_dashes():
    lcd, v = make()
    assert [c[1] for c in lcd.prints() if c[4] == STALE] == ['--', '--W', '--~--', '--', '--']


def test_fixed_labels_drawn_once_with_the_page():
    lcd, v = make()
    assert lcd.printed('kWh')[4] == GREY and lcd.printed('Yen')[4] == GREY
    lcd.take()
    update(v, readings())
    assert lcd.printed('kWh') is None


def test_current_turns_orange_then_red_near_the_contract():
    lcd, v = make(contract=50)
    update(v, readings(current=(20.0, 20.0)))
    assert lcd.printed('40')[4] == BLUE               # 20 A per wire of a 50 A contract
    update(v, readings(current=(41.0, 2.0)))
    assert lcd.printed('43')[4] == ORANGE
    update(v, readings(current=(48.0, 2.0)))
    assert lcd.printed('50')[4] == RED
    update(v, readings(current=40.0))                  # a plain total is compared as it is
    assert lcd.printed('40')[4] == ORANGE


def test_without_a_contract_no_limit_is_shown():
    lcd, v = make(contract=None)
    lcd.take()
    update(v, readings(current=(41.0, 0.0)))
    assert [c[1] for c in lcd.prints() if c[3] < 28 and c[2] < 73] == ['41', 'A']
    assert lcd.printed('41')[4] == BLUE


def test_export_power_is_green_with_minus_sign():
    lcd, v = make()
    update(v, readings(power=-1962))
    p = lcd.printed('-1962W')
    assert p is not None and p[4] == GREEN
    assert v.shown[POWER] == '-1962W'


def test_big_power_switches_to_kw():
    lcd, v = make()
    update(v, readings(power=10000))
    assert v.shown[POWER] == '10.0kW'
    assert lcd.printed('10.0kW')[4] == BLUE


def test_text_that_does_not_fit_steps_down_the_font():
    lcd, v = make()
    update(v, readings(power=-12345, kwh=123456.0, yen=1234567))
    for text, box_w in (('-12.3kW', 84), ('123456', 70 - GUTTER), ('1234567', 84)):
        call = lcd.printed(text)
        font = call[5]
        assert font != 2, text                           # DejaVu24 is too wide for these
        assert len(text) * FAKE_FONTS[font][0] <= box_w, text


def test_the_value_keeps_its_font_and_the_contract_gives_way():
    lcd, v = make(contract=100)
    update(v, readings(current=(60.0, 60.0)))
    assert lcd.printed('120')[5] == 2                   # DejaVu24, as for smaller values
    limit = lcd.printed('/100A')
    assert limit is None or limit[5] == 8               # only in the small font, if at all
    for c in lcd.prints():                              # all inside the box, gutter kept
        if c[3] < 28 and c[2] < 73:
            assert c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 73 - GUTTER, c
    lcd, v = make(contract=100)
    update(v, readings(current=(10000.0, 10000.0)))     # absurd values still fit the box
    call = lcd.printed('20000')
    assert call[5] != 2 and call[2] + 5 * FAKE_FONTS[call[5]][0] <= 73 - GUTTER


def test_stale_values_are_greyed_out():
    # current and power (read every 10 s) after a minute; the period figures (read once a
    # minute) after two and a half, so a read that comes a second late does not flicker them
    lcd, v = make()
    update(v, readings(age=61))
    for text in ('12', '1234W'):
        assert lcd.printed(text)[4] == STALE, text
    for text in ('11-22~11-26', '123.4', '3456'):
        assert lcd.printed(text)[4] == ORANGE, text
    lcd.take()
    update(v, readings(age=151))
    for text in ('11-22~11-26', '123.4', '3456'):
        assert lcd.printed(text)[4] == STALE, text
    lcd.take()
    update(v, readings(age=30))
    for text in ('12', '1234W', '11-22~11-26', '123.4', '3456'):
        assert lcd.printed(text)[4] != STALE, text


def test_values_grey_out_when_updates_stop():
    lcd, v = make()
    r = readings()
    update(v, r)
    lcd.take()
    update(v, r, NOW + 30)
    assert lcd.prints() == []
    update(v, r, NOW + 61)
    assert lcd.printed('1234W')[4] == STALE and lcd.printed('123.4') is None
    update(v, r, NOW + 151)
    assert lcd.printed('123.4')[4] == STALE


def test_missing_times_and_clock_jumps_are_not_fresh():
    lcd, v = make()
    vals, times = readings()
    times[POWER] = None                                  # no time: not trusted
    update(v, (vals, times))
    assert lcd.printed('1234W')[4] == STALE and lcd.printed('3456')[4] == ORANGE
    lcd, v = make()
    update(v, readings(age=-3600))                       # a clock jump is not 'fresh'
    assert lcd.printed('1234W')[4] == STALE


def test_redraw_only_on_change():
    lcd, v = make()
    update(v, readings())
    lcd.take()
    update(v, readings(), NOW + 5)
    assert lcd.calls == []                                          # nothing changed: no lcd work
    update(v, readings(power=1300), NOW + 5)
    calls = lcd.take()
    fills = [c for c in calls if c[0] == 'fillRect']
    prints = [c for c in calls if c[0] == 'print']
    assert fills == [('fillRect', 73, 3, 84, 25, BLACK)]
    assert [p[1] for p in prints] == ['1300W']
    assert calls.index(fills[0]) < calls.index(prints[0])           # black box first, then text
    update(v, readings(power=1300.0), NOW + 6)                      # same value, new time
    assert lcd.calls == []


def test_unchanged_refresh_allocates_nothing():
    import gc
    lcd, v = make()
    vals, times = readings(power=1234, current=(10.5, 2.25), kwh=123.4, yen=3456)
    v.update(vals, times, NOW)
    lcd.take()
    mem_alloc = getattr(gc, 'mem_alloc', None)        # MicroPython only
    gc.collect()
    before = mem_alloc() if mem_alloc else 0
    for i in range(100):
        v.update(vals, times, NOW + 1)
        v.update(vals, times, NOW + 2)
    after = mem_alloc() if mem_alloc else 0
    assert lcd.calls == []
    assert after - before == 0, after - before


def test_flip_redraws_everything_at_once():
    lcd, v = make()
    update(v, readings())
    lcd.take()
    v.flip()
    calls = lcd.take()
    assert calls[0] == ('orient', 3)
    assert ('clear', BLACK) in calls
    texts = [c[1] for c in calls if c[0] == 'print']
    for text in ('12', 'A', '/50A', '1234W', '11-22~11-26', '123.4', '3456', 'kWh', 'Yen'):
        assert text in texts, text
    assert v.flipped
    v.flip()
    assert lcd.calls[0] == ('orient', 1) and not v.flipped


def test_pages_and_back_to_main_with_the_latest_values():
    lcd, v = make()
    update(v, readings())
    v.set_page(1, FakeApp([0.1] * 48, [0.2] * 48))
    assert v.page == 1
    lcd.take()
    update(v, readings(power=2000))                    # the main page is not up: nothing drawn
    assert lcd.calls == []
    v.set_page(2, FakeApp(channel=1, lqi=2, rssi=-90.0))
    assert lcd.printed('ch 1 LQI 2 -90dBm') is not None
    v.set_page(0)
    assert lcd.printed('2000W') is not None            # back on main with the latest values
    assert v.shown[POWER] == '2000W'


def test_progress_bar_width():
    inner = BAR_W - 2
    for pct, want in ((0, 0), (50, inner // 2), (100, inner), (150, inner), (-5, 0)):
        lcd, v = make()
        lcd.take()
        v.progress(pct, 'Scanning channels')
        bars = [c for c in lcd.calls if c[0] == 'fillRect' and c[5] == BLUE]
        width = bars[0][3] if bars else 0
        assert width == want, (pct, width, want)
        assert v.status[0] == 'progress'


def test_progress_text_centred_and_partial_redraw():
    lcd, v = make()
    v.progress(10, 'Scanning')
    call = lcd.printed('Scanning')
    w = len('Scanning') * FAKE_FONTS[call[5]][0]
    assert abs(call[2] - (160 - w) // 2) <= 1
    assert v.status == ('progress', 10, 'Scanning') and lcd.printed('10%') is not None
    lcd.take()
    v.progress(40, 'Scanning')
    assert ('clear', BLACK) not in lcd.calls and lcd.printed('Scanning') is None
    assert lcd.printed('40%') is not None
    lcd.take()
    update(v, readings())                                 # the status screen stays up ...
    assert lcd.calls == []
    v.main()                                              # ... until the app leaves it
    assert v.status is None and lcd.printed('1234W') is not None


def test_error_is_wrapped_to_the_screen_width():
    lcd, v = make()
    lcd.take()
    v.error('Config error', 'id: must be 32 characters; fix SmartMeter.json and restart')
    assert v.status[0] == 'error'
    assert lcd.printed('Config error')[4] == RED
    hint_prints = [c for c in lcd.prints() if c[1] != 'Config error']
    assert len(hint_prints) >= 2
    words = []
    for c in hint_prints:
        assert c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 160, c
        assert c[3] + FAKE_FONTS[c[5]][1] <= 80, c
        words.extend(c[1].split(' '))
    assert ' '.join(words) == 'id: must be 32 characters; fix SmartMeter.json and restart'
    lcd.take()
    v.error('Config error', 'id: must be 32 characters; fix SmartMeter.json and restart')
    assert lcd.calls == []                                # the same error is not drawn again


def test_error_too_long_is_cut_not_overflowing():
    lcd, v = make()
    v.error('Meter not found', 'word ' * 80)
    for c in lcd.prints():
        assert c[3] + FAKE_FONTS[c[5]][1] <= 80 and c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 160, c
    assert lcd.prints()[-1][1].endswith('..')


def test_chart_page_bars_and_totals():
    lcd, v = make()
    today = [0.2] * 20 + [None] * 28
    yesterday = [0.3] * 48
    app = FakeApp(today, yesterday)
    v.set_page(1, app)
    assert lcd.printed('Today 4.0kWh')[4] == BLUE and lcd.printed('Yday 14.4')[4] == GREY
    bars = [c for c in lcd.calls if c[0] == 'fillRect' and c[5] == BLUE]
    assert len(bars) == 20
    for c in bars:
        assert 0 <= c[1] and c[1] + c[3] <= 160 and CHART_TOP <= c[2] and c[2] + c[4] <= 80
    steps = [c for c in lcd.calls if c[0] == 'line' and c[5] == GREY and c[2] == c[4] and c[2] < CHART_BASE]
    assert len(steps) == 48                                # yesterday: one grey step per slot
    lcd.take()
    v.show()                                               # nothing new: nothing drawn
    assert lcd.calls == []
    app.chart[0][21] = app.chart[0][20] + 5                # the next half hour came in
    v.show()
    assert lcd.printed('Today 4.5kWh') is not None


def test_chart_counts_across_the_counter_rollover_and_gaps():
    import pages
    app = FakeApp()
    app.chart[0] = [999998, 1000001 % 10 ** 6, None, 4, 9] + [None] * 44
    today, yday = pages.chart(app)
    assert today[:4] == [0.3, None, None, 0.5] and today[4:] == [None] * 44
    assert yday == [None] * 48


def test_diag_page_redraws_changed_lines_only():
    lcd, v = make()
    app = FakeApp(channel=33, lqi=120, rssi=-71.0, up=60)
    v.set_page(2, app)
    assert lcd.printed('ch 33 LQI 120 -71dBm') is not None
    assert lcd.printed('heap 20000 free') is not None and lcd.printed('largest block 9000')
    lcd.take()
    app.up = 120
    v.show()
    assert [c[1] for c in lcd.prints()] == ['up 0d00h02m boot 1']
    app.last_error = 'x' * 80
    v.show()
    for c in lcd.prints():
        assert c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 160


def test_backlight_toggle_and_night():
    levels = []
    lcd = FakeLcd()
    v = View(lcd, backlight=levels.append, night=20)
    assert levels == [100]
    v.toggle_backlight()
    assert levels[-1] == 0
    v.toggle_backlight()
    assert levels[-1] == 100
    v.set_night(True)
    assert levels[-1] == 20
    v.set_night(True)
    assert levels == [100, 0, 100, 20]                 # no repeated calls
    v.toggle_backlight()
    assert levels[-1] == 0
    v.set_night(True)
    assert levels[-1] == 0                             # the manual 'off' holds through the night
    v.set_night(False)
    assert levels[-1] == 100                           # morning: the schedule takes over again


def test_update_keeps_the_status_screen():
    lcd, v = make()
    v.progress(30, 'Joining')
    lcd.take()
    update(v, readings(), NOW + 100)
    assert lcd.calls == [] and v.status[0] == 'progress'


def test_bad_values_never_crash():
    lcd, v = make()
    v.update(['x', float('inf'), (1, 2), [], {}], [NOW] * 5, NOW)
    assert v.shown == ['--', '--W', '--~--', '--', '--']
    v.update(None, None, NOW)
    assert v.shown[POWER] == '--W'


def test_an_lcd_without_fill_rect_gets_filled_rects_and_its_own_orientation_numbers():
    class OldLcd:
        """An lcd with rect(..., fillcolor) but no fillRect, and orientation numbers of its own."""
        LANDSCAPE = 5
        LANDSCAPE_FLIP = 7

        def __init__(self):
            self.fake = FakeLcd()
            self.calls = self.fake.calls
            for name in ('orient', 'clear', 'rect', 'line', 'font', 'print', 'textWidth', 'fontSize',
                         'printed', 'take'):
                setattr(self, name, getattr(self.fake, name))
    lcd = OldLcd()
    v = View(lcd, contract=50)
    assert lcd.calls[0] == ('orient', 5)
    lcd.fake.take()
    update(v, readings(power=1300))
    assert ('rect', 73, 3, 84, 25, BLACK, BLACK) in lcd.fake.calls and lcd.printed('1300W')
    v.flip()
    assert ('orient', 7) in lcd.fake.calls
