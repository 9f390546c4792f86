"""lib/view.py: text formatting tables, colours, staleness, redraw-only-on-change, pages, status
screens and backlight, against a tiny fake lcd that records every call (CPython and MicroPython)."""
import view
from view import (format_power, format_current, format_kwh, format_yen, format_period,
                  format_uptime, current_color, wrap_text, fit_text, diag_lines, View,
                  BLUE, ORANGE, RED, GREEN, GREY, STALE, BLACK)

# glyph (w, h) per LoBo font number: Default 0, DejaVu18 1, DejaVu24 2, Ubuntu 3, DefaultSmall 8
FAKE_FONTS = {0: (7, 12), 1: (10, 18), 2: (14, 24), 3: (7, 16), 8: (6, 9)}


class FakeLcd:
    """Records calls as tuples; textWidth is glyph width x length in the selected font."""

    def __init__(self, with_constants=True):
        self.calls = []
        self.cur = 0
        if with_constants:
            self.FONT_Default = 0
            self.FONT_DejaVu18 = 1
            self.FONT_DejaVu24 = 2
            self.FONT_Ubuntu = 3
            self.FONT_DefaultSmall = 8
            self.LANDSCAPE = 1
            self.LANDSCAPE_FLIP = 3

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
    t = NOW - age
    return {
        'current_a': (current, t),
        'power_w': (power, t),
        'period': (((2026, 11, 22), (2026, 11, 26)), t),
        'monthly_kwh': (kwh, t),
        'fee_yen': (yen, t),
    }


def make(contract=50, **kw):
    lcd = FakeLcd()
    v = View(lcd, contract_a=contract, **kw)
    return lcd, v


# ---- pure formatting ----------------------------------------------------------------------

def test_format_power_table():
    table = [
        (0, ('0', 'W')), (999, ('999', 'W')), (9999, ('9999', 'W')), (10000, ('10.0', 'kW')),
        (-1962, ('-1962', 'W')), (None, ('--', 'W')), (12345, ('12.3', 'kW')),
        (-12345, ('-12.3', 'kW')), (9999.6, ('10.0', 'kW')), (-0.4, ('0', 'W')),
        (10049, ('10.0', 'kW')), (10050, ('10.1', 'kW')), (999.5, ('1000', 'W')),
        ('500', ('--', 'W')), (True, ('--', 'W')), (float('nan'), ('--', 'W')),
    ]
    for w, want in table:
        assert format_power(w) == want, (w, format_power(w), want)


def test_format_current_sums_phases_in_whole_amperes():
    table = [
        (12.0, '12'), (12.5, '13'), (12.4, '12'), ((10.0, 2.0), '12'), ((10.5, None), '11'),
        ((None, 3.0), '3'), ((None, None), '--'), (None, '--'), ((-3.0, -2.0), '-5'),
        ((0.2, 0.1), '0'), ('x', '--'), ((), '--'),
    ]
    for a, want in table:
        assert format_current(a) == want, (a, format_current(a), want)


def test_format_kwh_one_decimal_below_1000_whole_above():
    table = [
        (0, '0.0'), (123.44, '123.4'), (123.45, '123.5'), (999.94, '999.9'), (999.96, '1000'),
        (1000, '1000'), (12345.6, '12346'), (0.05, '0.1'), (-2.5, '-2.5'), (None, '--'),
        ('1', '--'),
    ]
    for kwh, want in table:
        assert format_kwh(kwh) == want, (kwh, format_kwh(kwh), want)


def test_format_yen_plain_digits():
    for yen, want in [(3456, '3456'), (1234567, '1234567'), (0, '0'), (99.5, '100'),
                      (-12, '-12'), (None, '--')]:
        assert format_yen(yen) == want


def test_format_period_never_shows_raw_tuples():
    assert format_period((2026, 11, 22), (2026, 11, 26)) == '11-22~11-26'
    assert format_period((2025, 12, 22), (2026, 1, 5)) == '12-22~01-05'
    assert format_period([2024, 2, 29], (2024, 3, 1)) == '02-29~03-01'
    # the original's January bug produced (2024, 12, 34) and printed "()~01-25"
    assert format_period((2024, 12, 34), (2025, 1, 25)) == '--~01-25'
    assert format_period(None, (2025, 1, 25)) == '--~01-25'
    assert format_period((2025, 4, 31), None) == '--~--'
    assert format_period((2025, 13, 1), (2025, 0, 1)) == '--~--'
    assert format_period(('2025', '1', '2'), (2025, 1, 2)) == '--~01-02'


def test_format_uptime():
    assert format_uptime(3 * 86400 + 4 * 3600 + 5 * 60 + 59) == '3d04h05m'
    assert format_uptime(0) == '0d00h00m'
    assert format_uptime(59) == '0d00h00m'
    assert format_uptime(3600) == '0d01h00m'
    assert format_uptime(100 * 86400) == '100d00h00m'
    assert format_uptime(None) == '--'
    assert format_uptime(-5) == '--'


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


def test_wrap_text_fits_width_and_keeps_words():
    width = lambda s: len(s) * 6  # noqa: E731
    lines = wrap_text('id: must be 32 characters (hex digits and capital letters)', 156, width)
    assert len(lines) == 3
    for line in lines:
        assert len(line) * 6 <= 156
    assert ' '.join(lines) == 'id: must be 32 characters (hex digits and capital letters)'
    # a word wider than the line is cut, nothing is lost
    long_word = 'x' * 60
    lines = wrap_text(long_word, 156, width)
    assert ''.join(lines) == long_word and max(len(s) for s in lines) == 26
    assert wrap_text('a\nb c', 156, width) == ['a', 'b c']
    assert wrap_text('', 156, width) == ['']


def test_fit_text_shortens_with_dots():
    width = lambda s: len(s) * 6  # noqa: E731
    assert fit_text('short', 60, width) == 'short'
    cut = fit_text('a much longer line of text', 60, width)
    assert cut.endswith('..') and len(cut) * 6 <= 60 and cut.startswith('a much')


def test_diag_lines_format():
    lines = diag_lines({'channel': 33, 'lqi': 120, 'rssi': -71, 'uptime_s': 3 * 86400 + 4 * 3600 + 300,
                        'resets': 2, 'wifi': 'ok', 'mqtt': 'connected', 'queued': 4, 'dropped': 0,
                        'export_kwh': 12.34, 'free_heap': 23456, 'last_error': 'E7 timeout'})
    assert lines == ['ch 33 LQI 120 -71dBm', 'up 3d04h05m resets 2', 'Wi-Fi ok',
                     'MQTT connected', 'queued 4 dropped 0', 'export 12.3 kWh', 'free heap 23456',
                     'error E7 timeout']
    empty = diag_lines({})
    assert empty[0] == 'ch - LQI - -dBm' and empty[1] == 'up -- resets -'
    assert diag_lines(None) == empty


# ---- the screen ---------------------------------------------------------------------------

def test_constructor_orients_landscape_and_reads_fallback_constants():
    lcd = FakeLcd(with_constants=False)
    v = View(lcd)
    assert lcd.calls[0] == ('orient', 1)                 # documented LANDSCAPE
    assert ('clear', BLACK) in lcd.calls
    assert v.shown['orientation'] == 'landscape'
    v.update(readings(), NOW)
    assert lcd.printed('1234W')[5] == 2                  # FONT_DejaVu24 by its documented number


def test_main_page_texts_colours_and_shown():
    lcd, v = make()
    lcd.take()
    v.update(readings(), NOW)
    assert v.shown['current_a'] == '12'
    assert v.shown['power'] == '1234W'
    assert v.shown['period'] == '11-22~11-26'
    assert v.shown['monthly_kwh'] == '123.4'
    assert v.shown['fee_yen'] == '3456'
    assert v.shown['page'] == 'main'
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


def test_fixed_labels_drawn_once_with_the_page():
    lcd, v = make()
    assert lcd.printed('kWh')[4] == GREY and lcd.printed('Yen')[4] == GREY
    lcd.take()
    v.update(readings(), NOW)
    assert lcd.printed('kWh') is None


def test_current_turns_orange_then_red_near_the_contract():
    lcd, v = make(contract=50)
    v.update(readings(current=(20.0, 20.0)), NOW)
    assert lcd.printed('40')[4] == BLUE               # 20 A per wire of a 50 A contract
    v.update(readings(current=(41.0, 2.0)), NOW)
    assert lcd.printed('43')[4] == ORANGE
    v.update(readings(current=(48.0, 2.0)), NOW)
    assert lcd.printed('50')[4] == RED
    v.update(readings(current=40.0), NOW)              # a plain total is compared as it is
    assert lcd.printed('40')[4] == ORANGE


def test_export_power_is_green_with_minus_sign():
    lcd, v = make()
    v.update(readings(power=-1962), NOW)
    p = lcd.printed('-1962W')
    assert p is not None and p[4] == GREEN
    assert v.shown['power'] == '-1962W'


def test_big_power_switches_to_kw():
    lcd, v = make()
    v.update(readings(power=10000), NOW)
    assert v.shown['power'] == '10.0kW'
    assert lcd.printed('10.0kW')[4] == BLUE


def test_text_that_does_not_fit_steps_down_the_font():
    lcd, v = make()
    v.update(readings(power=-12345, kwh=123456.0, yen=1234567), NOW)
    for text, box_w in (('-12.3kW', 84), ('123456', 70 - view.GUTTER), ('1234567', 84)):
        call = lcd.printed(text)
        font = call[5]
        assert font != 2, text                           # DejaVu24 is too wide for these
        assert len(text) * FAKE_FONTS[font][0] <= box_w, text


def test_the_value_keeps_its_font_and_the_contract_gives_way():
    lcd, v = make(contract=100)
    v.update(readings(current=(60.0, 60.0)), NOW)
    assert lcd.printed('120')[5] == 2                   # DejaVu24, as for smaller values
    limit = lcd.printed('/100A')
    assert limit is None or limit[5] == 8               # only in the small font, if at all
    for c in lcd.prints():                              # all inside the box, gutter kept
        if c[3] < 28 and c[2] < 73:
            assert c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 73 - view.GUTTER, c
    lcd, v = make(contract=100)
    v.update(readings(current=(10000.0, 10000.0)), NOW)  # absurd values still fit the box
    call = lcd.printed('20000')
    assert call[5] != 2 and call[2] + 5 * FAKE_FONTS[call[5]][0] <= 73 - view.GUTTER


def test_stale_values_are_greyed_out():
    lcd, v = make()
    v.update(readings(age=61), NOW)
    for text in ('12', '1234W', '11-22~11-26', '123.4', '3456'):
        assert lcd.printed(text)[4] == STALE, text
    lcd.take()
    v.update(readings(age=30), NOW)
    for text in ('12', '1234W', '11-22~11-26', '123.4', '3456'):
        assert lcd.printed(text)[4] != STALE, text


def test_values_grey_out_when_updates_stop():
    lcd, v = make()
    v.update(readings(), NOW)
    lcd.take()
    v.tick(NOW + 30)
    assert lcd.prints() == []
    v.tick(NOW + 61)
    assert lcd.printed('1234W')[4] == STALE
    assert lcd.printed('123.4')[4] == STALE


def test_stale_after_setting_and_missing_timestamps():
    lcd, v = make(stale_after_s=10)
    v.update(readings(age=11), NOW)
    assert lcd.printed('1234W')[4] == STALE
    lcd, v = make()
    v.update({'power_w': 500, 'monthly_kwh': (1.0, None)}, NOW)   # no timestamp: not trusted
    assert lcd.printed('500W')[4] == STALE
    assert lcd.printed('1.0')[4] == STALE
    assert lcd.printed('--')[4] == STALE                           # missing values
    lcd, v = make()
    v.update(readings(age=-3600), NOW)                              # a clock jump is not 'fresh'
    assert lcd.printed('1234W')[4] == STALE


def test_redraw_only_on_change():
    lcd, v = make()
    v.update(readings(), NOW)
    lcd.take()
    v.update(readings(), NOW + 5)
    assert lcd.calls == []                                          # nothing changed: no lcd work
    v.update(readings(power=1300), NOW + 5)
    calls = lcd.take()
    fills = [c for c in calls if c[0] == 'fillRect']
    prints = [c for c in calls if c[0] == 'print']
    assert fills == [('fillRect', 73, 3, 84, 25, BLACK)]
    assert [p[1] for p in prints] == ['1300W']
    assert calls.index(fills[0]) < calls.index(prints[0])           # black box first, then text
    v.update(readings(power=1300.0), NOW + 6)                       # same value, new timestamp
    assert lcd.calls == []


def test_unchanged_refresh_allocates_nothing():
    import gc
    lcd, v = make()
    r = readings(power=1234, current=(10.5, 2.25), kwh=123.4, yen=3456)
    v.update(r, NOW)
    lcd.take()
    mem_alloc = getattr(gc, 'mem_alloc', None)        # MicroPython only
    gc.collect()
    before = mem_alloc() if mem_alloc else 0
    for i in range(100):
        v.update(r, NOW + 1)
        v.tick(NOW + 2)
    after = mem_alloc() if mem_alloc else 0
    assert lcd.calls == []
    assert after - before == 0, after - before


def test_region_is_redrawn_when_only_its_colour_changes():
    lcd, v = make()
    v.update(readings(current=(39.0, 0.0)), NOW)
    lcd.take()
    v.update(readings(current=(39.0, 0.0)), NOW)
    assert lcd.prints() == []
    v.set_contract(40)
    assert lcd.printed('39')[4] == RED and lcd.printed('/40A') is not None


def test_flip_redraws_everything_at_once():
    lcd, v = make()
    v.update(readings(), NOW)
    lcd.take()
    v.flip()
    calls = lcd.take()
    assert calls[0] == ('orient', 3)
    assert ('clear', BLACK) in calls
    texts = [c[1] for c in calls if c[0] == 'print']
    for text in ('12', 'A', '/50A', '1234W', '11-22~11-26', '123.4', '3456', 'kWh', 'Yen'):
        assert text in texts, text
    assert v.shown['orientation'] == 'landscape_flip'
    v.flip()
    assert lcd.calls[0] == ('orient', 1) and v.shown['orientation'] == 'landscape'


def test_page_cycling():
    lcd, v = make()
    v.update(readings(), NOW)
    assert v.page == 'main'
    assert v.next_page() == 'chart' and v.shown['page'] == 'chart'
    lcd.take()
    v.update(readings(power=2000), NOW)                # the main page is not up: nothing drawn
    assert lcd.calls == []
    assert v.next_page() == 'diag' and v.shown['page'] == 'diag'
    lcd.take()
    assert v.next_page() == 'main' and v.shown['page'] == 'main'
    assert lcd.printed('2000W') is not None            # back on main with the latest readings
    assert v.shown['power'] == '2000W'


def test_progress_bar_width():
    inner = view.BAR_W - 2
    for pct, want in ((0, 0), (50, inner // 2), (100, inner), (150, inner), (-5, 0), (None, 0)):
        lcd, v = make()
        lcd.take()
        v.progress(pct, 'Scanning channels')
        bars = [c for c in lcd.calls if c[0] == 'fillRect' and c[5] == BLUE]
        width = bars[0][3] if bars else 0
        assert width == want, (pct, width, want)
        assert v.shown['page'] == 'progress'


def test_progress_text_centred_and_partial_redraw():
    lcd, v = make()
    v.progress(10, 'Scanning')
    call = lcd.printed('Scanning')
    w = len('Scanning') * FAKE_FONTS[call[5]][0]
    assert abs(call[2] - (160 - w) // 2) <= 1
    assert v.shown['status'] == 'Scanning' and v.shown['progress'] == 10
    lcd.take()
    v.progress(40, 'Scanning')
    assert ('clear', BLACK) not in lcd.calls and lcd.printed('Scanning') is None
    assert lcd.printed('40%') is not None
    lcd.take()
    v.update(readings(), NOW)                             # data arrived: back to the main page
    assert v.shown['page'] == 'main' and lcd.printed('1234W') is not None


def test_error_is_wrapped_to_the_screen_width():
    lcd, v = make()
    lcd.take()
    v.error('Config error', 'id: must be 32 characters; fix SmartMeter.json and restart')
    assert v.shown['page'] == 'error'
    assert lcd.printed('Config error')[4] == RED
    hint_prints = [c for c in lcd.prints() if c[1] != 'Config error']
    assert len(hint_prints) >= 2
    words = []
    for c in hint_prints:
        assert c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 160, c
        assert c[3] + FAKE_FONTS[c[5]][1] <= 80, c
        words.extend(c[1].split(' '))
    assert ' '.join(words) == 'id: must be 32 characters; fix SmartMeter.json and restart'
    assert v.shown['hint'] == '\n'.join(c[1] for c in hint_prints)


def test_error_too_long_is_cut_not_overflowing():
    lcd, v = make()
    v.error('Meter not found', 'word ' * 80)
    for c in lcd.prints():
        assert c[3] + FAKE_FONTS[c[5]][1] <= 80 and c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 160, c
    assert v.shown['hint'].endswith('..')


def test_chart_page_bars_and_totals():
    lcd, v = make()
    today = [0.2] * 20 + [None] * 28
    yesterday = [0.3] * 48
    v.set_chart(today, yesterday)
    v.next_page()
    assert v.shown['chart_today'] == '4.0' and v.shown['chart_yesterday'] == '14.4'
    bars = [c for c in lcd.calls if c[0] == 'fillRect' and c[5] == BLUE]
    assert len(bars) == 20
    for c in bars:
        assert 0 <= c[1] and c[1] + c[3] <= 160 and view.CHART_TOP <= c[2] and c[2] + c[4] <= 80
    steps = [c for c in lcd.calls if c[0] == 'line' and c[5] == GREY and c[2] == c[4] and c[2] < view.CHART_BASE]
    assert len(steps) == 48                                # yesterday: one grey step per slot
    lcd.take()
    v.set_chart(list(today), list(yesterday))              # same data: no redraw
    assert lcd.calls == []
    today[20] = 0.5
    v.set_chart(today, yesterday)
    assert v.shown['chart_today'] == '4.5'


def test_chart_tolerates_bad_lists():
    lcd, v = make()
    v.set_chart([None, 'x', -1, 0.1] + [0.2] * 60, None)
    v.next_page()
    assert v.shown['chart_yesterday'] == '--'
    bars = [c for c in lcd.calls if c[0] == 'fillRect' and c[5] == BLUE]
    assert len(bars) == 1 + 44


def test_diag_page_redraws_changed_lines_only():
    lcd, v = make()
    d = {'channel': 33, 'lqi': 120, 'rssi': -71, 'uptime_s': 60, 'wifi': 'ok'}
    v.set_diag(d)
    v.next_page()
    v.next_page()
    assert v.shown['page'] == 'diag'
    assert v.shown['diag'][0] == 'ch 33 LQI 120 -71dBm'
    lcd.take()
    v.set_diag({'channel': 33, 'lqi': 120, 'rssi': -71, 'uptime_s': 120, 'wifi': 'ok'})
    assert [c[1] for c in lcd.prints()] == ['up 0d00h02m resets -']
    for c in lcd.prints():
        assert c[2] + len(c[1]) * FAKE_FONTS[c[5]][0] <= 160


def test_backlight_toggle_and_night():
    levels = []
    lcd = FakeLcd()
    v = View(lcd, backlight=levels.append, day_level=100, night_level=20)
    assert levels == [100]
    assert v.toggle_backlight() is False and levels[-1] == 0
    assert v.toggle_backlight() is True and levels[-1] == 100
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


def test_tick_keeps_the_status_screen():
    lcd, v = make()
    v.progress(30, 'Joining')
    lcd.take()
    v.tick(NOW + 100)
    assert lcd.calls == [] and v.shown['page'] == 'progress'


def test_contract_from_config_string_and_bad_page():
    lcd, v = make(contract='50')
    v.update(readings(current=(41.0, 0.0)), NOW)
    assert lcd.printed('/50A') is not None and lcd.printed('41')[4] == ORANGE
    lcd.take()
    v.set_contract('fifty')                              # unusable: the contract is hidden
    assert v.contract_a is None
    assert [c[1] for c in lcd.prints()] == ['41', 'A'] and lcd.printed('41')[4] == BLUE
    assert view.contract_amps(' 60 ') == 60 and view.contract_amps(True) is None
    try:
        v.show_page('settings')
        raised = False
    except view.ViewError:
        raised = True
    assert raised and v.page == 'main'


def test_bad_readings_never_crash():
    lcd, v = make()
    v.update({'current_a': ('x', NOW), 'power_w': (float('inf'), NOW), 'period': ((1, 2), NOW),
              'monthly_kwh': ([], NOW), 'fee_yen': ({}, 'later')}, NOW)
    assert v.shown['current_a'] == '--' and v.shown['power'] == '--W'
    assert v.shown['period'] == '--~--' and v.shown['monthly_kwh'] == '--' and v.shown['fee_yen'] == '--'
    v.update(None, NOW)
    v.update('junk', NOW)
    assert v.shown['power'] == '--W'


def test_diagnostics_rssi_is_whole_dbm():
    # RSSI = 0.275 * LQI - 104.27 is a float: the page shows whole dBm, not 15 digits.
    lines = view.diag_lines({'channel': 51, 'lqi': 189, 'rssi': 0.275 * 189 - 104.27})
    assert lines[0] == 'ch 51 LQI 189 -52dBm', lines[0]
