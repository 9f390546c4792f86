"""lib/view.py drawn by the Pillow lcd stand-in (tools/uiflow/m5stack.py): the 160 x 80 frame has the
expected colours in each region, texts stay inside their boxes and never overlap, flipping turns
the panel picture upside down.  Saves build/test-view.png (main page) and build/test-view-pages.png
(every page) for a look."""
import collections
import importlib
import os
import sys

import pytest

import view

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "device"))
from test_view import FakeApp  # noqa: E402  (the app as lib/pages.py reads it)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UIFLOW = os.path.join(ROOT, "tools", "uiflow")
BUILD = os.path.join(ROOT, "build")
NOW = 1000

# regions of the main page (x, y, w, h), as laid out by lib/view.py (CPython sees its constants)
CURRENT, POWER, PERIOD, KWH, YEN = view._BOXES
LABEL_Y = view._LABEL_Y
BLUE, ORANGE, RED, GREEN, GREY, STALE = (view._BLUE, view._ORANGE, view._RED, view._GREEN,
                                         view._GREY, view._STALE)


@pytest.fixture
def lcd():
    """A fresh stand-in lcd; the stand-in modules (machine, utime, micropython, ...) are removed
    from sys.modules and sys.path again afterwards so they cannot leak into other tests."""
    if not os.path.exists(os.path.join(UIFLOW, "m5stack.py")):
        pytest.skip("tools/uiflow/m5stack.py (the Pillow lcd stand-in) does not exist yet")
    before = set(sys.modules)
    sys.path.insert(0, UIFLOW)
    try:
        m5stack = importlib.import_module("m5stack")
        screen = m5stack.lcd
        screen._sim.reset()
        yield screen
    finally:
        sys.path.remove(UIFLOW)
        sim = sys.modules.get("uiflow_sim")
        if sim is not None:
            sim.uninstall_gc_shims()        # they hold this stand-in's hub: gone with it
        for name in set(sys.modules) - before:
            del sys.modules[name]


def readings(power=1234, current=(10.2, 2.1), kwh=123.4, yen=3456, age=0):
    """(values, times) as the app hands them to View.update()."""
    t = NOW - age
    return [current, power, ((2026, 11, 22), (2026, 11, 26)), kwh, yen], [t] * 5


def update(v, r, now=NOW):
    v.update(r[0], r[1], now)


def colours(img, box):
    x, y, w, h = box
    return collections.Counter({c: n for n, c in img.crop((x, y, x + w, y + h)).getcolors(w * h)})


def rgb(c):
    return ((c >> 16) & 255, (c >> 8) & 255, c & 255)


def check_frame(screen):
    """Every text inside the 160 x 80 screen, not clipped, no character dropped, no overlap."""
    sim = screen._sim
    assert sim.overlaps() == []
    for rec in sim.texts:
        assert 0 <= rec.x0 and rec.x1 <= 160 and 0 <= rec.y0 and rec.y1 <= 80, rec
        assert not rec.clipped and not rec.dropped, rec


def texts_of(screen, box):
    return [rec.text for rec in screen._sim.texts_in(*box)]


def test_main_page_regions_have_their_colours(lcd):
    v = view.View(lcd, contract=50)
    update(v, readings())
    img = lcd._sim.image()
    assert img.size == (160, 80)
    os.makedirs(BUILD, exist_ok=True)
    lcd._sim.save_png(os.path.join(BUILD, "test-view.png"))

    blue, orange, grey = rgb(BLUE), rgb(ORANGE), rgb(GREY)
    cur = colours(img, CURRENT)
    assert cur[blue] > 50 and cur[grey] > 20 and cur[orange] == 0      # value blue, 'A' '/50A' grey
    pw = colours(img, POWER)
    assert pw[blue] > 100 and pw[orange] == 0
    per = colours(img, PERIOD)
    assert per[orange] > 40 and per[blue] == 0
    for box in (KWH, YEN):
        c = colours(img, box)
        assert c[orange] > 100 and c[blue] == 0
    labels = colours(img, (0, LABEL_Y, 160, 80 - LABEL_Y))
    assert labels[grey] > 20 and labels[orange] == 0

    # the texts the stand-in records are the ones view.shown reports
    assert texts_of(lcd, CURRENT) == ["12", "A", "/50A"] and v.shown[0] == "12"
    assert texts_of(lcd, POWER) == ["1234W"] == [v.shown[1]]
    assert texts_of(lcd, PERIOD) == ["11-22~11-26"] == [v.shown[2]]
    assert texts_of(lcd, KWH) == ["123.4"] == [v.shown[3]]
    assert texts_of(lcd, YEN) == ["3456"] == [v.shown[4]]
    check_frame(lcd)


def test_warning_export_and_wide_numbers_fit(lcd):
    v = view.View(lcd, contract=50)
    update(v, readings(power=-12345, current=(48.0, 50.0), kwh=12345, yen=1234567))
    img = lcd._sim.image()
    assert colours(img, CURRENT)[rgb(RED)] > 50
    pw = colours(img, POWER)
    assert pw[rgb(GREEN)] > 50 and pw[rgb(BLUE)] == 0
    assert v.shown[1] == "-12.3kW" and v.shown[4] == "1234567"
    check_frame(lcd)
    for box, key in ((POWER, 1), (KWH, 3), (YEN, 4)):
        rec = [r for r in lcd._sim.texts if r.text == v.shown[key]][0]
        x, y, w, h = box
        assert x <= rec.x0 and rec.x1 <= x + w and y <= rec.y0 and rec.y1 <= y + h, rec


def test_stale_values_show_no_live_colour(lcd):
    v = view.View(lcd, contract=50)
    r = readings()
    update(v, r)
    update(v, r, NOW + 160)              # past every region's limit (the period figures: 150 s)
    img = lcd._sim.image()
    counts = colours(img, (0, 0, 160, 80))
    for live in (BLUE, ORANGE, RED, GREEN):
        assert counts[rgb(live)] == 0
    assert counts[rgb(STALE)] > 300
    check_frame(lcd)


def test_redraw_on_change_leaves_other_regions_untouched(lcd):
    v = view.View(lcd, contract=50)
    update(v, readings())
    before = lcd._sim.image()
    version = lcd._sim.version
    update(v, readings(), NOW + 1)
    assert lcd._sim.version == version                      # nothing drawn at all
    update(v, readings(power=987), NOW + 2)
    after = lcd._sim.image()
    for box in (CURRENT, PERIOD, KWH, YEN):
        x, y, w, h = box
        assert before.crop((x, y, x + w, y + h)).tobytes() == after.crop((x, y, x + w, y + h)).tobytes()
    assert texts_of(lcd, POWER) == ["987W"]


def test_flip_turns_the_panel_picture_upside_down(lcd):
    v = view.View(lcd, contract=50)
    update(v, readings())
    upright = lcd._sim.image()
    v.flip()
    assert v.flipped
    flipped_panel = lcd._sim.image()
    held = lcd._sim.image(view="held")
    assert held.tobytes() == upright.tobytes()               # the user sees the same picture
    assert flipped_panel.rotate(180).tobytes() == upright.tobytes()


def test_every_page_renders_inside_the_screen(lcd):
    from PIL import Image

    v = view.View(lcd, contract=50)
    shots = []
    update(v, readings())
    shots.append(lcd._sim.image())
    v.set_page(1, FakeApp([0.1 + 0.02 * i for i in range(30)] + [None] * 18,
                          [0.3 + 0.1 * ((i % 12) / 6.0) for i in range(48)]))
    check_frame(lcd)
    chart = lcd._sim.image()
    assert colours(chart, (0, 13, 160, 75 - 13 + 1))[rgb(BLUE)] > 100
    shots.append(chart)
    app = FakeApp(channel=33, lqi=120, rssi=-71.0, up=273905, boots=2, export=12.3,
                  heap=(23456, 9000), error="meter: no answer after 3 tries")
    v.set_page(2, app)
    check_frame(lcd)
    import pages
    assert [r.text for r in lcd._sim.texts] == [view.fit(t, 156, v.width) for t in pages.lines(pages.diag(app))]
    shots.append(lcd._sim.image())
    v.set_page(0)
    v.progress(45, "Scanning channels")
    check_frame(lcd)
    prog = lcd._sim.image()
    bar = colours(prog, (view._BAR_X, view._BAR_Y, view._BAR_W, view._BAR_H))
    assert bar[rgb(BLUE)] == (view._BAR_W - 2) * 45 // 100 * (view._BAR_H - 2)
    shots.append(prog)
    v.error("Config error", "id: must be 32 characters (check SmartMeter.json)")
    check_frame(lcd)
    assert len(lcd._sim.texts) >= 3                        # title and a wrapped hint
    shots.append(lcd._sim.image())

    sheet = Image.new("RGB", (2 * 164, 3 * 84), (64, 64, 64))
    for i, shot in enumerate(shots):
        sheet.paste(shot, ((i % 2) * 164 + 2, (i // 2) * 84 + 2))
    os.makedirs(BUILD, exist_ok=True)
    sheet.resize((sheet.width * 2, sheet.height * 2), Image.NEAREST).save(
        os.path.join(BUILD, "test-view-pages.png"))
