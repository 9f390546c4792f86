"""The UIFlow 1.x stand-ins in tools/uiflow (CPython only: Pillow, threads, hypothesis).

They let the real apps/SMM.py run in the desktop simulator, so these tests pin the device
behaviour they copy: LoBo text placement, orientation, the button timing of UIFlow's button
module, the watchdog, the ESP32's 2000 epoch and NTP setting local time.
"""

import gc
import os
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UIFLOW = os.path.join(ROOT, 'tools', 'uiflow')
STANDINS = ('uiflow_sim', 'utime', 'machine', 'm5stack', '_tft', 'wifiCfg', 'network', 'ntptime',
            'urequests', 'uos', 'ujson', 'ubinascii', 'ustruct', 'micropython', 'uiflow')


@pytest.fixture(scope='module')
def mods():
    saved = {name: sys.modules.pop(name) for name in STANDINS if name in sys.modules}
    sys.path.insert(0, UIFLOW)
    try:
        import importlib
        loaded = {name: importlib.import_module(name) for name in STANDINS}
        yield loaded
    finally:
        sys.path.remove(UIFLOW)
        uiflow_sim = sys.modules.get('uiflow_sim')
        if uiflow_sim is not None:
            uiflow_sim.uninstall_gc_shims()
        for name in STANDINS:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


@pytest.fixture
def sim(mods):
    mods['uiflow_sim'].reset()
    return mods


def _ink_bbox(img, bg=(0, 0, 0)):
    """Box (x0, y0, x1, y1), exclusive ends, of every pixel that is not the background."""
    px = img.load()
    xs, ys = [], []
    for y in range(img.height):
        for x in range(img.width):
            if px[x, y] != bg:
                xs.append(x)
                ys.append(y)
    if not xs:
        return None
    return (min(xs), min(ys), max(xs) + 1, max(ys) + 1)


# ---------------------------------------------------------------------------------- lcd

def test_landscape_screen_is_160_by_80_and_png_too(sim, tmp_path):
    lcd = sim['m5stack'].lcd
    assert lcd.screensize() == (80, 160)  # M5StickC boots in portrait
    lcd.orient(lcd.LANDSCAPE)
    assert lcd.screensize() == (160, 80)
    assert lcd.winsize() == (160, 80)
    lcd.print('x', 0, 0)
    path = lcd._sim.save_png(str(tmp_path / 'frame.png'))
    from PIL import Image
    with Image.open(path) as img:
        assert img.size == (160, 80)
        assert img.mode == 'RGB'
    assert os.listdir(str(tmp_path)) == ['frame.png']  # the temp file was renamed, not left


def test_center_text_lands_in_the_middle_of_the_screen_width(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.font(lcd.FONT_DejaVu18)
    w = lcd.textWidth('1234 W')
    lcd.print('1234 W', lcd.CENTER, 20, lcd.WHITE)
    rec = lcd._sim.texts[-1]
    assert rec.x == (160 - w) // 2
    assert (rec.y, rec.text, rec.color, rec.font) == (20, '1234 W', lcd.WHITE, lcd.FONT_DejaVu18)
    x0, y0, x1, y1 = _ink_bbox(lcd._sim.image())
    assert rec.x <= x0 and x1 <= rec.x + w
    assert 20 <= y0 and y1 <= 20 + lcd.fontSize()[1]
    # the ink is centred too (within the glyphs' side bearings)
    assert abs((x0 + x1) - 160) <= 4


def test_right_and_bottom_follow_lobo_rules(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.font(lcd.FONT_Default)
    w = lcd.textWidth('kWh')
    fh = lcd.fontSize()[1]
    lcd.print('kWh', lcd.RIGHT, lcd.BOTTOM, lcd.YELLOW)
    rec = lcd._sim.texts[-1]
    assert rec.x == 159 - w  # LoBo: dispWin.x2 - width
    assert rec.y == 79 - fh  # LoBo: dispWin.y2 - font height
    img = lcd._sim.image()
    x0, y0, x1, y1 = _ink_bbox(img)
    assert x1 <= 159 and y1 <= 79
    inks = set(img.getpixel((x, y)) for x in range(x0, x1) for y in range(y0, y1))
    assert inks == {(0, 0, 0), (0xFC, 0xFC, 0)}  # yellow glyphs, no anti-aliasing
    assert lcd.RIGHT == lcd.BOTTOM == -9004 and lcd.CENTER == -9003


def test_lastx_continues_after_the_previous_text(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.font(lcd.FONT_Ubuntu)
    lcd.print('12.5', 4, 30, lcd.WHITE)
    lcd.print('A', lcd.LASTX, 30, lcd.RED)
    lcd.print('!', lcd.LASTX + 3, lcd.LASTY, lcd.RED)
    first, second, third = lcd._sim.texts
    assert second.x == 4 + lcd.textWidth('12.5')
    assert third.x == second.x + lcd.textWidth('A') + 3
    assert second.y == third.y == 30
    # print() without a position also continues where the last text ended
    lcd.print('x')
    assert lcd._sim.texts[-1].x == third.x + lcd.textWidth('!')


def test_print_position_counts_only_when_positional(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.print('ab', 5, 5)
    lcd.print('cd', x=0, y=50)  # the firmware ignores keyword-only x/y and continues
    assert lcd._sim.texts[-1][:2] == (5 + lcd.textWidth('ab'), 5)


def test_text_too_wide_is_cut_at_a_whole_character(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.font(lcd.FONT_DejaVu24)
    text = '888888888888888'
    assert lcd.textWidth(text) > 160
    lcd.print(text, lcd.CENTER, 0)
    rec = lcd._sim.texts[-1]
    assert rec.x == 0  # a negative CENTER position is clamped to the window
    assert rec.clipped
    assert text.startswith(rec.text) and len(rec.text) < len(text)
    assert rec.x + lcd.textWidth(rec.text) <= 159


def test_non_ascii_is_dropped_by_bitmap_fonts(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.print('123\u5186', 0, 0)
    rec = lcd._sim.texts[-1]
    assert rec.text == '123'
    assert rec.dropped == '\u5186'
    assert lcd.textWidth('123\u5186') == lcd.textWidth('123')


def test_print_formats_numbers_like_the_firmware(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.print(42, 0, 0)
    lcd.print(1.5, 0, 20)
    assert [r.text for r in lcd._sim.texts] == ['42', '1.500000']
    with pytest.raises(TypeError):
        lcd.text(0, 40, 42)


def test_flip_rotates_the_saved_image_by_180_degrees(sim, tmp_path):
    from PIL import Image, ImageChops
    lcd = sim['m5stack'].lcd

    def scene(orientation, name):
        lcd.orient(orientation)
        lcd.font(lcd.FONT_DejaVu18)
        lcd.print('12.3A', 2, 2, lcd.WHITE)
        lcd.rect(100, 50, 30, 10, lcd.RED, lcd.BLUE)
        lcd.line(0, 79, 50, 60, lcd.GREEN)
        return Image.open(lcd._sim.save_png(str(tmp_path / name))).convert('RGB')

    upright = scene(lcd.LANDSCAPE, 'up.png')
    flipped = scene(lcd.LANDSCAPE_FLIP, 'flip.png')
    assert upright.size == flipped.size == (160, 80)
    assert ImageChops.difference(upright, flipped).getbbox() is not None
    rotated = upright.transpose(Image.Transpose.ROTATE_180)
    assert ImageChops.difference(rotated, flipped).getbbox() is None
    # the user holding the flipped device sees it the right way up
    assert ImageChops.difference(lcd._sim.image(view='held'), upright).getbbox() is None


def test_portrait_frames_come_out_rotated_on_the_landscape_panel(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.PORTRAIT)
    lcd.pixel(0, 0, lcd.RED)
    panel = lcd._sim.image()
    assert panel.size == (160, 80)
    assert panel.getpixel((0, 79)) == (0xFC, 0, 0)
    assert lcd._sim.image(view='held').size == (80, 160)


def test_orient_clears_the_screen_and_the_texts(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.print('A', 0, 0)
    assert lcd._sim.texts
    lcd.orient(lcd.LANDSCAPE_FLIP)
    assert lcd._sim.texts == []
    assert _ink_bbox(lcd._sim.image()) is None


def test_texts_registry_per_region(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.font(lcd.FONT_DejaVu18)
    lcd.print('1.2kW', 3, 3, lcd.WHITE)
    lcd.print('10A', 100, 3, lcd.WHITE)
    lcd.print('35kWh', 3, 50, lcd.WHITE)
    assert [r.text for r in lcd._sim.texts_in(0, 0, 80, 30)] == ['1.2kW']
    assert [r.text for r in lcd._sim.texts_in(0, 0, 160, 30)] == ['1.2kW', '10A']
    # a filled rectangle that covers a text removes it from the current frame
    lcd.rect(0, 0, 90, 28, lcd.BLACK, lcd.BLACK)
    assert [r.text for r in lcd._sim.texts] == ['10A', '35kWh']
    # one that covers it only partly does not
    lcd.fillRect(100, 3, 5, 5, lcd.BLACK)
    assert [r.text for r in lcd._sim.texts] == ['10A', '35kWh']
    lcd.print('2.0kW', 3, 3, lcd.WHITE)
    assert [r.text for r in lcd._sim.texts_in(0, 0, 80, 30)] == ['2.0kW']
    # an opaque text drawn over an older, smaller one replaces it
    lcd.print('8', 3, 50)
    lcd.print('99.9kWh', 3, 50)
    assert [r.text for r in lcd._sim.texts_in(0, 45, 160, 35)] == ['99.9kWh']
    lcd.clear()
    assert lcd._sim.texts == []
    # every draw stays in the log with its simulation time
    assert [entry[3] for entry in lcd._sim.log][:3] == ['1.2kW', '10A', '35kWh']


def test_transparent_overprint_is_reported_as_overlap(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.font(lcd.FONT_Default, transparent=True)
    lcd.print('100', 10, 10)
    lcd.print('99', 10, 10)
    assert len(lcd._sim.overlaps()) == 1


def test_opaque_text_paints_its_background(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.clear(lcd.BLUE)
    lcd.setColor(lcd.WHITE, lcd.BLACK)
    lcd.print('i', 10, 10)
    rec = lcd._sim.texts[-1]
    assert lcd._sim.pixel(rec.x0, rec.y1 - 1) == lcd.BLACK
    lcd.font(lcd.FONT_Default, transparent=True)
    lcd.print('i', 40, 10)
    rec = lcd._sim.texts[-1]
    assert lcd._sim.pixel(rec.x0, rec.y1 - 1) == lcd.BLUE


def test_ansi_half_blocks_are_40_rows_of_160_cells(sim):
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.pixel(0, 0, 0xFF0000)
    lcd.pixel(0, 1, 0x0000FF)
    out = lcd._sim.ansi()
    rows = out.split('\n')
    assert len(rows) == 40
    assert all(row.count('\u2580') == 160 for row in rows)
    assert rows[0].startswith('\x1b[38;2;255;0;0m\x1b[48;2;0;0;255m\u2580')
    assert all(row.endswith('\x1b[0m') for row in rows)
    small = lcd._sim.ansi(scale=2).split('\n')
    assert len(small) == 20
    assert all(row.count('\u2580') == 80 for row in small)


def test_backlight_off_blanks_the_lit_picture(sim):
    m5 = sim['m5stack']
    lcd = m5.lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.clear(lcd.WHITE)
    assert lcd._sim.image(lit=True).getpixel((5, 5)) == (0xFC, 0xFC, 0xFC)
    m5.axp.setLcdBrightness(0)
    assert lcd._sim.image(lit=True).getpixel((5, 5))[0] < 0xFC
    m5.axp.setLDO2State(False)
    assert lcd._sim.image(lit=True).getpixel((5, 5)) == (0, 0, 0)
    assert lcd._sim.image().getpixel((5, 5)) == (0xFC, 0xFC, 0xFC)  # the frame is kept


def test_missing_font_file_falls_back_with_a_warning(sim, monkeypatch, capsys):
    tft = sim['_tft']
    monkeypatch.setattr(tft, 'FONT_DIR', '/nonexistent/fonts')
    # (Pillow also searches the system font folders for the bare file name)
    fonts = dict((k, (v[0], 'NoSuchFont.ttf') + v[2:]) for k, v in tft.FONTS.items())
    monkeypatch.setattr(tft, 'FONTS', fonts)
    monkeypatch.setattr(tft, '_TTF_CACHE', {})
    monkeypatch.setattr(tft, '_FONT_CACHE', {})
    lcd = sim['m5stack'].lcd
    lcd.orient(lcd.LANDSCAPE)
    lcd.font(lcd.FONT_DejaVu24)
    lcd.print('OK', lcd.CENTER, lcd.CENTER)
    assert lcd._sim.texts[-1].text == 'OK'
    assert 'not found' in capsys.readouterr().err


# ---------------------------------------------------------------------------------- buttons

def test_button_callback_runs_at_the_next_tick_in_the_app_thread(sim):
    m5, utime = sim['m5stack'], sim['utime']
    calls = []
    m5.btnA.wasPressed(lambda: calls.append(('A', threading.current_thread().name)))
    m5.btnB.wasPressed(lambda: calls.append(('B', threading.current_thread().name)))
    presser = threading.Thread(target=m5._sim.press, args=('a',), name='ui')
    presser.start()
    presser.join()
    assert calls == []  # nothing happens outside a tick point
    utime.sleep_ms(10)
    assert calls == [('A', threading.current_thread().name)]
    m5._sim.press('b')
    utime.sleep_ms(200)
    assert [c[0] for c in calls] == ['A', 'B']


def test_release_and_long_press(sim):
    m5, utime = sim['m5stack'], sim['utime']
    events = []
    m5.btnA.wasPressed(lambda: events.append('press'))
    m5.btnA.wasReleased(lambda: events.append('release'))
    m5.btnA.pressFor(0.8, lambda: events.append('long'))
    m5._sim.press('a')
    utime.sleep_ms(500)
    assert events == ['press', 'release']
    m5._sim.press('a', long=True)
    utime.sleep_ms(500)
    assert events == ['press', 'release', 'press']  # still held: the long press fires on release
    assert m5.btnA.isPressed()
    utime.sleep_ms(1000)
    assert events == ['press', 'release', 'press', 'long']
    assert not m5.btnA.isPressed()


def test_long_press_right_at_power_on(sim):
    m5, utime = sim['m5stack'], sim['utime']
    events = []
    m5.btnA.pressFor(0.5, lambda: events.append('long'))
    m5.btnA.wasReleased(lambda: events.append('release'))
    assert sim['uiflow_sim'].hub.now_ms() == 0
    m5._sim.press('a', long=True)
    utime.sleep_ms(2000)
    assert events == ['long']


def test_double_press_replaces_two_single_presses(sim):
    m5, utime = sim['m5stack'], sim['utime']
    events = []
    m5.btnB.wasPressed(lambda: events.append('press'))
    m5.btnB.wasDoublePress(lambda: events.append('double'))
    m5._sim.press('b', double=True)
    utime.sleep_ms(1000)
    assert events == ['double']
    m5._sim.press('b')
    utime.sleep_ms(100)
    assert events == ['double']  # a single press waits out the double-press window
    utime.sleep_ms(200)
    assert events == ['double', 'press']


def test_polled_press_is_true_once_and_expires(sim):
    m5, utime = sim['m5stack'], sim['utime']
    m5._sim.press('a')
    utime.sleep_ms(50)
    assert m5.btnA.wasPressed() is True
    assert m5.btnA.wasPressed() is False
    m5._sim.press('a')
    utime.sleep_ms(1000)
    assert m5.btnA.wasPressed() is False  # UIFlow forgets an unpolled press after ~0.4 s


# ---------------------------------------------------------------------------------- machine

def test_watchdog_not_fed_bites_and_stays_pending_until_reboot(sim):
    machine, utime, uiflow_sim = sim['machine'], sim['utime'], sim['uiflow_sim']
    assert hasattr(machine, 'WDT')
    wdt = machine.WDT(timeout=1000)
    for _ in range(5):
        utime.sleep_ms(900)
        wdt.feed()
    assert machine._sim.bites == 0
    with pytest.raises(uiflow_sim.WatchdogReset) as info:
        utime.sleep_ms(5000)
    assert not isinstance(info.value, Exception)  # `except Exception` cannot swallow it
    assert machine._sim.bites == 1
    # it bit as soon as the timeout passed, in the middle of the long sleep
    assert uiflow_sim.hub.now_ms() == 5 * 900 + 1001
    assert [e[1] for e in uiflow_sim.hub.log].count('wdt-bite') == 1
    with pytest.raises(uiflow_sim.MachineReset):
        utime.sleep_ms(1)
    uiflow_sim.reboot(info.value)
    assert machine.reset_cause() == machine.WDT_RESET
    utime.sleep_ms(10000)  # the watchdog is gone after the reboot


def test_feeding_too_late_bites_at_the_feed(sim):
    machine, uiflow_sim = sim['machine'], sim['uiflow_sim']
    wdt = machine.WDT(timeout=500)
    uiflow_sim.hub.clock.advance(800)  # time passed without a tick point (e.g. a blocking call)
    with pytest.raises(uiflow_sim.WatchdogReset):
        wdt.feed()


def test_firmware_without_wdt(sim):
    machine = sim['machine']
    machine._sim.has_wdt = False
    assert not hasattr(machine, 'WDT')
    with pytest.raises(ImportError):
        exec('from machine import WDT', {})


def test_machine_reset_raises_machine_reset(sim):
    machine, utime, uiflow_sim = sim['machine'], sim['utime'], sim['uiflow_sim']
    swallowed = False
    with pytest.raises(uiflow_sim.MachineReset) as info:
        try:
            machine.reset()
        except Exception:
            swallowed = True
    assert not swallowed
    assert machine._sim.resets == 1
    with pytest.raises(uiflow_sim.MachineReset):
        utime.sleep_ms(10)  # a swallowed reset comes back at the next tick point
    uiflow_sim.reboot(info.value)
    assert machine.reset_cause() == machine.SOFT_RESET
    utime.sleep_ms(10)


def test_timers_fire_at_their_simulation_times(sim):
    machine, utime = sim['machine'], sim['utime']
    fired = []
    t0 = utime.ticks_ms()
    tim = machine.Timer(0)
    tim.init(period=100, mode=machine.Timer.PERIODIC,
             callback=lambda t: fired.append(utime.ticks_diff(utime.ticks_ms(), t0)))
    once = []
    machine.Timer(1).init(period=250, mode=machine.Timer.ONE_SHOT, callback=lambda t: once.append(t))
    utime.sleep_ms(1000)
    assert fired == [100 * i for i in range(1, 11)]
    assert len(once) == 1
    tim.deinit()
    utime.sleep(1)
    assert len(fired) == 10


def test_standin_module_list_is_complete(sim):
    names = set(n[:-3] for n in os.listdir(UIFLOW) if n.endswith('.py'))
    assert names == set(sim['uiflow_sim'].STANDIN_MODULES) == set(STANDINS)


def test_timer_init_takes_keywords_only(sim):
    machine = sim['machine']
    with pytest.raises(TypeError):
        machine.Timer(0).init(machine.Timer.PERIODIC, 100)


def test_micropython_schedule_runs_at_the_next_tick(sim):
    micropython, utime = sim['micropython'], sim['utime']
    seen = []
    micropython.schedule(seen.append, 7)
    assert seen == []
    utime.sleep_ms(0)
    assert seen == [7]
    assert micropython.const(5) == 5


def test_uart_proxy_gives_the_emulator_uart_device_timeouts(sim):
    machine, uiflow_sim = sim['machine'], sim['uiflow_sim']
    hub = uiflow_sim.hub

    class FakeUart(object):
        """Delivers scheduled bytes once simulation time reaches them."""

        def __init__(self):
            self.plan = [(30, b'OK\r\n'), (60, b'EVENT 2')]
            self.rx = bytearray()
            self.tx = bytearray()

        def _pump(self):
            while self.plan and hub.now_ms() >= self.plan[0][0]:
                self.rx.extend(self.plan.pop(0)[1])

        def any(self):
            self._pump()
            return len(self.rx)

        def read(self, n=-1):
            self._pump()
            n = len(self.rx) if n < 0 else n
            out, self.rx[:] = bytes(self.rx[:n]), self.rx[n:]
            return out

        def write(self, data):
            self.tx.extend(data)
            return len(data)

    fake = FakeUart()
    made = []
    machine._sim.uart_factory = lambda *a, **k: made.append((a, k)) or fake
    uart = machine.UART(1, tx=0, rx=26)
    uart.init(115200, bits=8, parity=None, stop=1, timeout=2000)
    assert made == [((1,), {'baudrate': 115200, 'tx': 0, 'rx': 26})]
    assert uart.inner is fake and uart.config['rx'] == 26
    assert uart.write(b'SKVER\r\n') == 7 and bytes(fake.tx) == b'SKVER\r\n'
    assert uart.readline() == b'OK\r\n'  # waited until the line arrived
    assert 30 <= hub.now_ms() < 40
    t = hub.now_ms()
    assert uart.readline() == b'EVENT 2'  # no newline: the device returns it after the timeout
    assert hub.now_ms() - t >= 2000
    t = hub.now_ms()
    assert uart.read(5) is None
    assert hub.now_ms() - t == 2000
    with pytest.raises(ValueError):
        uart.init(115200, bits=9)


# ---------------------------------------------------------------------------------- time

def test_fresh_boot_rtc_starts_at_2000(sim):
    utime = sim['utime']
    assert utime.time() == 0
    assert utime.localtime() == (2000, 1, 1, 0, 0, 0, 5, 1)  # a Saturday
    utime.sleep(61)
    assert utime.time() == 61


def test_time_is_seconds_since_2000_and_agrees_with_timeutil(sim):
    machine, utime = sim['machine'], sim['utime']
    import util as timeutil
    machine.RTC().datetime((2026, 11, 25, 2, 15, 0, 0, 0))
    expected = timeutil.to_epoch(2026, 11, 25, 15, 0, 0) - timeutil.EPOCH_2000
    assert utime.time() == expected
    y, mo, d, h, mi, s, wd = timeutil.from_epoch(expected + timeutil.EPOCH_2000)
    assert utime.localtime() == (y, mo, d, h, mi, s, wd, 329)
    assert machine.RTC().datetime()[:7] == (2026, 11, 25, wd, 15, 0, 0)
    assert utime.mktime(utime.localtime()) == expected
    assert utime.mktime((2026, 13, 1, 0, 0, 0, 0, 0)) == utime.mktime((2027, 1, 1, 0, 0, 0, 0, 0))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=4102444800 - 946684800))
def test_localtime_and_mktime_round_trip(mods, secs):
    utime = mods['utime']
    import util as timeutil
    t = utime.localtime(secs)
    assert t[:7] == timeutil.from_epoch(secs + timeutil.EPOCH_2000)
    assert utime.mktime(t) == secs


def test_ticks_wrap_like_micropython(sim):
    utime = sim['utime']
    top = (1 << 30) - 10
    assert utime.ticks_add(top, 20) == 10
    assert utime.ticks_diff(10, top) == 20
    assert utime.ticks_diff(top, 10) == -20
    with pytest.raises(TypeError):
        utime.sleep_ms(1.5)
    assert not hasattr(utime, 'gmtime')  # not in MicroPython 1.11's utime


def test_installed_clock_drives_utime(sim):
    utime, uiflow_sim = sim['utime'], sim['uiflow_sim']
    from bp35emu import VirtualClock
    clock = VirtualClock(start_ms=123456)
    utime._sim.clock = clock
    t0 = utime.ticks_ms()
    utime.sleep_ms(250)
    assert clock.now_ms() == 123456 + 250
    assert utime.ticks_diff(utime.ticks_ms(), t0) == 250
    clock.advance(50)  # the simulator moves time on its own
    assert uiflow_sim.hub.now_ms() == 300


def test_reboot_keeps_the_rtc(sim):
    machine, utime, uiflow_sim = sim['machine'], sim['utime'], sim['uiflow_sim']
    machine.RTC().datetime((2026, 1, 2, 0, 3, 4, 5, 0))
    before = utime.time()
    try:
        machine.reset()
    except uiflow_sim.MachineReset as exc:
        uiflow_sim.reboot(exc)
    assert utime.time() == before


# ---------------------------------------------------------------------------------- network

def test_ntptime_client_sets_local_time_with_the_timezone(sim):
    ntptime, wifiCfg, utime, hub = sim['ntptime'], sim['wifiCfg'], sim['utime'], sim['uiflow_sim'].hub
    wifiCfg.connect('ap', 'pw', 5000, block=True)
    assert wifiCfg.isconnected()
    hub.set_world_time(2026, 1, 31, 15, 30, 0)  # UTC
    ntp = ntptime.client(host='jp.pool.ntp.org', timezone=9)
    assert utime.localtime()[:6] == (2026, 2, 1, 0, 30, 0)
    assert ntp.formatDatetime('-', ':') == '2026-02-01 00:30:00'
    assert ntp.formatDate('/') == '2026/02/01'
    assert ntp.formatTime() == '00:30:00'
    import util as timeutil
    utc2000 = timeutil.to_epoch(2026, 1, 31, 15, 30, 0) - timeutil.EPOCH_2000
    assert 0 <= ntp.getTimestamp() - utc2000 <= 1
    assert ntptime._sim.hosts == ['jp.pool.ntp.org', 'jp.pool.ntp.org']


def test_ntptime_failures_raise_oserror(sim):
    ntptime, wifiCfg = sim['ntptime'], sim['wifiCfg']
    with pytest.raises(OSError) as info:
        ntptime.client(host='jp.pool.ntp.org', timezone=9)  # no Wi-Fi yet
    assert info.value.args[0] == -202
    wifiCfg.connect('ap', 'pw', 5000, block=True)
    ntptime._sim.ok = False
    with pytest.raises(OSError) as info:
        ntptime.client(host='jp.pool.ntp.org', timezone=9)
    assert info.value.args[0] == 110
    assert sim['utime'].time() < 60  # the RTC was not touched


def test_micropython_lib_ntptime_variant(sim):
    ntptime, wifiCfg, utime, hub = sim['ntptime'], sim['wifiCfg'], sim['utime'], sim['uiflow_sim'].hub
    assert hasattr(ntptime, 'client') and not hasattr(ntptime, 'settime')
    ntptime._sim.variant = 'micropython-lib'
    assert not hasattr(ntptime, 'client') and hasattr(ntptime, 'settime')
    wifiCfg.connect('ap', 'pw', 5000, block=True)
    hub.set_world_time(2026, 1, 31, 15, 30, 0)
    ntptime.settime()
    assert utime.localtime()[:6] == (2026, 1, 31, 15, 30, 0)  # UTC, no zone


def test_wifi_connects_after_connect_time_and_follows_the_access_point(sim):
    wifiCfg, utime = sim['wifiCfg'], sim['utime']
    assert not wifiCfg.isconnected()
    wifiCfg.connect('ap', 'pw', 10000, block=False)
    assert not wifiCfg.is_connected()
    utime.sleep_ms(wifiCfg._sim.connect_ms)
    assert wifiCfg.isconnected() and wifiCfg.wlan_sta.isconnected()
    assert wifiCfg.wlan_sta.ifconfig()[0] != '0.0.0.0'
    wifiCfg._sim.up = lambda now: now < 5000
    utime.sleep_ms(5000)
    assert not wifiCfg.isconnected()
    assert wifiCfg.wlan_sta.ifconfig() == ('0.0.0.0',) * 4
    wifiCfg._sim.hidden = {'is_connected'}
    assert not hasattr(wifiCfg, 'is_connected') and hasattr(wifiCfg, 'isconnected')


def test_autoconnect_with_lcdshow_is_refused(sim):
    wifiCfg, uiflow_sim = sim['wifiCfg'], sim['uiflow_sim']
    with pytest.raises(uiflow_sim.DeviceHazard) as info:
        try:
            wifiCfg.autoConnect(lcdShow=True)
        except Exception:
            pass
    assert 'never use it' in str(info.value)
    wifiCfg.autoConnect(lcdShow=False)
    assert wifiCfg.isconnected()


def test_urequests_through_the_handler(sim):
    urequests, wifiCfg = sim['urequests'], sim['wifiCfg']
    seen = []

    def handler(method, url, body, headers):
        seen.append((method, url, body, headers.get('Content-Type')))
        return 200, b'{"ok": true}'

    urequests._sim.handler = handler
    with pytest.raises(OSError) as info:
        urequests.post('http://ambidata.io/api/v2/channels/1/data', json={'d1': 1})
    assert info.value.args[0] == -202  # no Wi-Fi: the name lookup fails
    wifiCfg.connect('ap', 'pw', 5000, block=True)
    r = urequests.post('http://ambidata.io/api/v2/channels/1/data', json={'d1': 1.5})
    assert (r.status_code, r.reason, r.json()) == (200, b'OK', {'ok': True})
    r.close()
    assert seen == [('POST', 'http://ambidata.io/api/v2/channels/1/data', b'{"d1": 1.5}',
                     'application/json')]
    with pytest.raises(TypeError):
        urequests.get('http://ambidata.io/', timeout=5)  # FW 1.12's urequests has no timeout


def test_urequests_over_http_to_a_local_server(sim):
    import http.server
    urequests, wifiCfg = sim['urequests'], sim['wifiCfg']
    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers['Content-Length'])
            got.append((self.path, self.headers['Host'], self.rfile.read(n)))
            self.send_response(200)
            self.send_header('Content-Length', '2')
            self.end_headers()
            self.wfile.write(b'ok')

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        wifiCfg.connect('ap', 'pw', 5000, block=True)
        urequests._sim.host_map = {'ambidata.io': ('127.0.0.1', server.server_address[1])}
        r = urequests.post('http://ambidata.io/api/v2/channels/7/data', data='{"d1": 2}')
        assert (r.status_code, r.text) == (200, 'ok')
    finally:
        thread.join(5)
        server.server_close()
    assert got == [('/api/v2/channels/7/data', 'ambidata.io', b'{"d1": 2}')]


# ---------------------------------------------------------------------------------- misc

def test_gc_mem_free_is_available_like_on_the_device(sim):
    hub = sim['uiflow_sim'].hub
    hub.mem_free = 31000
    assert gc.mem_free() == 31000
    assert gc.mem_alloc() == hub.mem_alloc
    gc.collect()


def test_flash_paths_map_to_a_host_folder(sim, tmp_path):
    uos, uiflow_sim, ujson = sim['uos'], sim['uiflow_sim'], sim['ujson']
    uiflow_sim.install_flash(str(tmp_path))
    try:
        with open('/flash/smm.json', 'w') as fh:
            fh.write(ujson.dumps({'name': '\u96fb\u6c17'}))
        assert uos.listdir('/flash') == ['smm.json']
        with open('/flash/new.json', 'w') as fh:
            fh.write('{}')
        with pytest.raises(OSError):
            uos.rename('/flash/new.json', '/flash/smm.json')  # FAT does not replace
        uos.remove('/flash/smm.json')
        uos.rename('/flash/new.json', '/flash/smm.json')
        assert ujson.loads(open('/flash/smm.json').read()) == {}
    finally:
        uiflow_sim.uninstall_flash()
    assert (tmp_path / 'smm.json').exists()
    assert uos.uname().sysname == 'esp32'
    with pytest.raises(ValueError):
        ujson.loads('{bad')


# ---------------------------------------------------------------------------------- with the other tools

def test_uart_proxy_talks_to_the_bp35a1_emulator(sim):
    machine, utime = sim['machine'], sim['utime']
    from bp35emu import Emulator, VirtualClock
    clock = VirtualClock()
    utime._sim.clock = clock
    emu = Emulator(clock)
    machine._sim.uart_factory = lambda *a, **k: emu.uart
    uart = machine.UART(1, tx=0, rx=26)
    uart.init(115200, bits=8, parity=None, stop=1, timeout=2000)
    uart.write(b'SKVER\r\n')
    lines = []
    while True:
        line = uart.readline()
        assert line is not None, lines
        lines.append(line)
        if line.startswith(b'OK'):
            break
    assert any(line.startswith(b'EVER ') for line in lines)
    assert clock.now_ms() < 2000  # answered well inside the timeout


def test_lib_view_draws_on_the_standin_lcd(sim):
    lcd, axp = sim['m5stack'].lcd, sim['m5stack'].axp
    import view
    v = view.View(lcd, backlight=axp.setLcdBrightness, contract=40)
    v.update([12.5, 1234, ((2026, 11, 24), (2026, 11, 25)), 123.4, 3456], [100] * 5, 100)
    assert lcd.screensize() == (160, 80)
    texts = [r.text for r in lcd._sim.texts]
    assert v.shown[1] == '1234W' and v.shown[1] in texts
    assert not [r for r in lcd._sim.texts if r.clipped or r.dropped]
    v.flip()
    assert lcd._sim.image().size == (160, 80)
    assert v.shown[1] in [r.text for r in lcd._sim.texts]


def test_max_step_caps_each_clock_step(sim):
    utime, uiflow_sim = sim['utime'], sim['uiflow_sim']
    steps = []

    class CountingClock(uiflow_sim.SimClock):
        def sleep_ms(self, ms):
            steps.append(ms)
            uiflow_sim.SimClock.sleep_ms(self, ms)

    utime._sim.clock = CountingClock()
    utime.sleep_ms(100)
    assert steps == [100]
    uiflow_sim.hub.max_step_ms = 20
    utime.sleep_ms(100)
    assert steps[1:] == [20] * 5


APP = '''
from m5stack import *
import gc
import machine
import ntptime
import utime
import wifiCfg

RESULT['boots'].append(machine.reset_cause())
if machine.reset_cause() == machine.WDT_RESET:
    raise SystemExit
lcd.orient(lcd.LANDSCAPE)
flipped = [False]


def on_a():
    flipped[0] = not flipped[0]
    lcd.orient(lcd.LANDSCAPE_FLIP if flipped[0] else lcd.LANDSCAPE)


btnA.wasPressed(on_a)
wifiCfg.connect('ap', 'pw', 10000, block=True)
ntp = ntptime.client(host='jp.pool.ntp.org', timezone=9)
RESULT['clock'] = ntp.formatDatetime('-', ':')
wdt = machine.WDT(timeout=5000)
for i in range(5):
    lcd.print('%d' % gc.mem_free(), 0, 0)
    wdt.feed()
    utime.sleep_ms(1000)
RESULT['flipped'] = flipped[0]
utime.sleep_ms(60000)
'''


def test_a_uiflow_style_app_runs_until_the_watchdog_and_reboots(sim, tmp_path):
    import runpy
    uiflow_sim, m5 = sim['uiflow_sim'], sim['m5stack']
    uiflow_sim.hub.set_world_time(2026, 11, 25, 6, 0, 0)
    uiflow_sim.hub.mem_free = 40960
    app = tmp_path / 'SMM.py'
    app.write_text(APP)
    result = {'boots': []}
    m5._sim.press('a')
    for _ in range(3):
        try:
            runpy.run_path(str(app), init_globals={'RESULT': result}, run_name='__main__')
        except SystemExit:
            break
        except uiflow_sim.MachineReset as exc:
            result.setdefault('resets', []).append(exc.reason)
            uiflow_sim.reboot(exc)
    assert result['boots'] == [uiflow_sim.PWRON_RESET, uiflow_sim.WDT_RESET]
    assert result['clock'].startswith('2026-11-25 15:00:0')
    assert result['flipped'] is True
    assert len(result['resets']) == 1 and 'watchdog' in result['resets'][0]
    assert [t.text for t in m5.lcd._sim.texts] == []  # the screen was re-initialised
