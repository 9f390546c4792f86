"""Everything the user sees on the M5StickC's 160 x 80 landscape screen: the main page and the
status screen (progress while connecting, errors in plain words), the backlight and the flip.

It is handed the UIFlow 1.x `lcd` (LoBo display API: orient, clear, fillRect, line, font, print,
textWidth, fontSize; fonts and orientations are the LoBo numbers) and optionally
`backlight(percent)`.  The main page shows five regions, as the original's screen: current
(whole amperes, 'A', '/50A' contract), power ('812W', '12.3kW', green with a minus sign for
export), the billing period ('11-22~11-26'), this period's kWh and its bill in yen.  The app
hands the region values as one list and the times they were read as another (`update`); a
region is redrawn only when its value or its freshness changed, so an unchanged refresh draws
and allocates nothing, and a value older than a minute turns grey.  `shown` keeps the text each
region printed last.  The half-hour chart and the diagnostics page (button B) live in
lib/pages.py, imported the first time one of them is shown.  It never reads a clock (time is
passed in) and never shows anything the caller did not hand it (no secrets reach it).
"""
from util import const

_W = const(160)
_H = const(80)
_BLACK = const(0)
_WHITE = const(0xFFFFFF)
_BLUE = const(0x1F77B4)
_ORANGE = const(0xFF7F0E)
_RED = const(0xD62728)
_GREEN = const(0x2CA02C)
_GREY = const(0xA9A9A9)
_STALE = const(0x606060)
# LoBo font numbers (display.TFT): DejaVu24 2, DejaVu18 1, Ubuntu 3, Default 0, DefaultSmall 8.
_F24 = const(2)
_F18 = const(1)
_FUB = const(3)
_FDEF = const(0)
_FSMALL = const(8)
_BIG = (_F24, _F18, _FUB, _FDEF, _FSMALL)     # largest first: a value steps down until it fits
_LINE = (_FDEF, _FSMALL)
_GUTTER = const(3)          # px kept free at the right of the left column
_STALE_S = const(60)
# Main-page regions, in drawing order: index in update()'s lists -> (x, y, w, h) box.
# The app and the tests use the indices 0-4 in this order.
_CURRENT = const(0)
_POWER = const(1)
_PERIOD = const(2)
_KWH = const(3)
_YEN = const(4)
_BOXES = ((3, 3, 70, 25), (73, 3, 84, 25), (3, 31, 154, 14), (3, 45, 70, 25), (73, 45, 84, 25))
_LABEL_Y = const(70)
# Progress bar along the bottom (outline; the fill is inside it).
_BAR_X = const(4)
_BAR_Y = const(68)
_BAR_W = const(152)
_BAR_H = const(10)
NONE = '--'


def rint(x):
    """Round half away from zero (the same on CPython and MicroPython)."""
    return int(x + 0.5) if x >= 0 else -int(0.5 - x)


def number(x):
    """x when it is a finite int or float (not bool), else None."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != x or x - x != 0:
        return None
    return x


def amps(a):
    """A current: a number, or E8's (R, T) pair where T is None on two-wire -> total or None."""
    if isinstance(a, (tuple, list)):
        total = None
        for p in a[:2]:
            p = number(p)
            if p is not None:
                total = p if total is None else total + p
        return total
    return number(a)


def fmt(n, v):
    """The text main-page region n prints for value v ('--' when there is none).  Tenths are
    counted in integers, exact whatever the floats' precision."""
    if n == _PERIOD:
        try:
            (y0, m0, d0), (y1, m1, d1) = v
            return '%02d-%02d~%02d-%02d' % (m0, d0, m1, d1)
        except Exception:
            return NONE + '~' + NONE
    v = amps(v) if n == _CURRENT else number(v)
    if v is None:
        return NONE + ('W' if n == _POWER else '')
    if n == _POWER:
        t = rint(v)
        if -10000 < t < 10000:
            return '%dW' % t
        t = rint(v / 100)               # tenths of a kW
    elif n == _KWH and -10000 < rint(v * 10) < 10000:
        t = rint(v * 10)
    else:
        return '%d' % rint(v)
    return '%s%d.%d%s' % ('-' if t < 0 else '', abs(t) // 10, abs(t) % 10, 'kW' if n == _POWER else '')


def current_color(a, c):
    """_BLUE; _ORANGE at >= 80 % and _RED at >= 95 % of the contract, on the larger phase of an
    (R, T) pair (a single-phase three-wire breaker trips on one wire, not on R + T); _GREEN for
    a net export below those."""
    big = None
    for p in a[:2] if isinstance(a, (tuple, list)) else (a,):
        p = number(p)
        if p is not None and (big is None or abs(p) > big):
            big = abs(p)
    if big is not None and c:
        if big >= 0.95 * c:
            return _RED
        if big >= 0.8 * c:
            return _ORANGE
    total = amps(a)
    return _GREEN if total is not None and rint(total) < 0 else _BLUE


def wrap(text, size, width):
    """text split into lines no wider than size px (width(str) -> px): at spaces and '\\n',
    inside a word only when the word alone is too wide."""
    lines = []
    for para in str(text).split('\n'):
        line = ''
        for word in para.split(' '):
            if not word:
                continue
            cand = line + ' ' + word if line else word
            if width(cand) <= size:
                line = cand
                continue
            if line:
                lines.append(line)
            while len(word) > 1 and width(word) > size:
                n = len(word) - 1
                while n > 1 and width(word[:n]) > size:
                    n -= 1
                lines.append(word[:n])
                word = word[n:]
            line = word
        lines.append(line)
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def fit(text, size, width):
    """text, cut and ended with '..' when wider than size px."""
    n = len(text)
    if width(text) <= size:
        return text
    while n and width(text[:n] + '..') > size:
        n -= 1
    return text[:n] + '..'


class View:
    """View(lcd, backlight=None, contract=None, night=20): contract amperage (None: not shown),
    backlight percent at night.

    `page` is 0 main, 1 chart, 2 diag; `status` is None, ('progress', percent, text) or ('error',
    title, hint); `flipped`; `level` is the backlight percent last set; `shown` the five region
    texts last printed; `data` what the chart and diagnostics pages show (the app, handed to
    `set_page`)."""

    def __init__(self, lcd, backlight=None, contract=None, night=20):
        self.lcd = lcd
        # LoBo's numbers when the firmware's lcd does not carry them; rect(..., fillcolor)
        # where it has no fillRect
        self.orient = (getattr(lcd, 'LANDSCAPE', 1), getattr(lcd, 'LANDSCAPE_FLIP', 3))
        self.box = getattr(lcd, 'fillRect', None) or (lambda x, y, w, h, c: lcd.rect(x, y, w, h, c, c))
        self.backlight = backlight
        self.contract = contract
        self.dim = night            # the backlight percent at night
        self.flipped = False
        self.page = 0
        self.status = None
        self.data = None
        self.shown = [None] * 5
        self.raw = [()] * 5         # the values drawn, compared before any formatting
        self.grey = [None] * 5      # whether each was drawn greyed out
        self.vals = self.times = None
        self.now = None
        self.on = True              # backlight on (long press on A switches it off)
        self.night = None
        self.level = None
        self.font = None
        self.set_night(False)
        self.redraw()

    # ---- drawing primitives (also used by lib/pages.py) ---------------------------------------

    def use(self, font):
        if font != self.font:
            self.lcd.font(font)
            self.font = font

    def width(self, text):
        return self.lcd.textWidth(text)

    def height(self, font):
        self.use(font)
        return self.lcd.fontSize()[1]

    def fill(self, x, y, w, h, c=_BLACK):
        if w > 0 and h > 0:
            self.box(x, y, w, h, c)

    def text(self, text, x, y, c, font=None):
        if font is not None:
            self.use(font)
        self.lcd.print(text, x, y, c)

    def fit_font(self, text, size, fonts):
        """The first of fonts in which text fits size px (left selected), else the last."""
        for f in fonts:
            self.use(f)
            if self.width(text) <= size:
                return f
        return f

    # ---- pages and buttons ----------------------------------------------------------------------

    def redraw(self):
        """Orient, clear and draw the current page again."""
        self.lcd.orient(self.orient[1 if self.flipped else 0])
        self.font = None
        self.lcd.clear(_BLACK)
        self.raw = [()] * 5
        st = self.status
        if self.page:
            import pages
            pages.draw(self, True)
        elif st is None:
            self.text('kWh', 3, _LABEL_Y, _GREY, _FSMALL)
            self.text('Yen', 157 - self.width('Yen'), _LABEL_Y, _GREY)
            self._main()
        elif st[0] == 'progress':
            self._progress(None)
        else:                       # an error: the title, then the hint wrapped to the width
            font = self.fit_font(st[1], _W - 4, (_F18, _FUB, _FDEF, _FSMALL))
            self.text(fit(st[1], _W - 4, self.width), 2, 2, _RED)
            y = 4 + self.height(font)
            for f in _LINE:
                h = self.height(f) + 1
                lines = wrap(st[2] or '', _W - 4, self.width)
                if len(lines) * h <= _H - y:
                    break
            n = max(1, (_H - y) // h)
            if len(lines) > n:
                lines = lines[:n]
                lines[-1] = fit(lines[-1] + '..', _W - 4, self.width)
            for line in lines:
                self.text(line, 2, y, _WHITE)
                y += h

    def flip(self):
        """Button A: the picture upside down, redrawn at once."""
        self.flipped = not self.flipped
        self.redraw()

    def set_page(self, page, data=None):
        """Button B: 0 main, 1 chart, 2 diagnostics, with what the page shows (for lib/pages.py:
        the app)."""
        self.page = page
        self.data = data
        self.redraw()

    def show(self):
        """The chart or diagnostics page on screen again, as far as what it shows changed."""
        if self.page:
            import pages
            pages.draw(self, False)

    def toggle_backlight(self):
        """Long press on A: backlight off <-> on (at the day or night level)."""
        self.on = not self.on
        self.set_night(self.night)

    def set_night(self, night):
        """Dim at night; a change of day and night also ends a manual 'off'."""
        if night != self.night:
            self.night = night
            self.on = True
        level = 0 if not self.on else (self.dim if night else 100)
        if level != self.level:
            self.level = level
            if self.backlight is not None:
                self.backlight(level)

    # ---- main page ------------------------------------------------------------------------------

    def update(self, vals, times, now):
        """The main page's values (list: current amps or (R, T), power W, period (start ymd,
        today ymd), kWh, yen; None = no reading) and the times they were read (same clock as
        now, seconds).  Only regions whose value or freshness changed are drawn."""
        self.vals = vals
        self.times = times
        self.now = now
        if not self.page and self.status is None:
            self._main()

    def main(self):
        """Leave the status screen for the main page."""
        if self.status is not None:
            self.status = None
            if not self.page:
                self.redraw()

    def _main(self):
        vals = self.vals
        for i in range(5):
            v = vals[i] if vals else None
            t = self.times[i] if vals else None
            # stale: current and power after a minute without an update (six refreshes), the
            # period figures, read once a minute, after two and a half
            s = _STALE_S if i < 2 else _STALE_S * 5 // 2
            grey = v is None or t is None or not -s <= self.now - t <= s
            if self.raw[i] == v and self.grey[i] == grey:
                continue
            self.raw[i] = v
            self.grey[i] = grey
            text = fmt(i, v)
            x, y, w, h = _BOXES[i]
            self.fill(x, y, w, h)
            if i == _CURRENT:
                # '12' in the largest font that fits, 'A' small, then '/50A' when it still
                # fits (Ubuntu, else the small font, else left out): the value keeps its font
                self.use(_FSMALL)
                a = self.width('A')
                font = self.fit_font(text, w - _GUTTER - a - 1, _BIG)
                y += self.height(_F24)
                self.text(text, x, y - self.height(font), _STALE if grey else current_color(v, self.contract), font)
                x += self.width(text) + 1
                self.text('A', x, y - self.height(_FSMALL), _GREY, _FSMALL)
                if self.contract:
                    text = '/%dA' % self.contract
                    x += a + 2
                    for f in (_FUB, _FSMALL):
                        self.use(f)
                        if x + self.width(text) <= 70:
                            self.text(text, x, y - self.height(f), _GREY)
                            break
                    text = fmt(i, v)
            else:
                if i == _POWER:
                    p = number(v)
                    c = _STALE if grey else (_GREEN if p is not None and p <= -0.5 else _BLUE)
                else:
                    c = _STALE if grey else _ORANGE
                font = self.fit_font(text, w if i in (_POWER, _YEN) else w - _GUTTER,
                                     _LINE if i == _PERIOD else _BIG)
                # bottom-aligned with the largest font's line; the right column flush right
                top = y + 2 if i == _PERIOD else y + self.height(_BIG[0]) - self.height(font)
                self.text(text, x + w - self.width(text) if i in (_POWER, _YEN) else x, top, c, font)
            self.shown[i] = text

    # ---- status screen ----------------------------------------------------------------------------

    def progress(self, n, text):
        """Connecting: a centred status line and a progress bar (n: 0-100 %)."""
        old = self.status
        self.status = ('progress', max(0, min(100, int(n))), text)
        if self.page:
            return
        if old is None or old[0] != 'progress':
            self.redraw()
        else:
            self._progress(old)

    def _progress(self, old):
        _, n, text = self.status
        if old is None:
            self.use(_FSMALL)
            self.text('SmartMeter', 80 - self.width('SmartMeter') // 2, 4, _GREY)
            self.lcd.rect(_BAR_X, _BAR_Y, _BAR_W, _BAR_H, _GREY)
        if old is None or old[2] != text:
            self.fill(0, 22, _W, 20)
            self.fit_font(text, _W - 4, (_FUB, _FDEF, _FSMALL))
            text = fit(text, _W - 4, self.width)
            self.text(text, 80 - self.width(text) // 2, 24, _WHITE)
        if old is None or old[1] != n:
            done = (_BAR_W - 2) * n // 100
            self.fill(_BAR_X + 1, _BAR_Y + 1, done, _BAR_H - 2, _BLUE)
            self.fill(_BAR_X + 1 + done, _BAR_Y + 1, _BAR_W - 2 - done, _BAR_H - 2)
            self.fill(0, 50, _W, 14)
            text = '%d%%' % n
            self.use(_FDEF)
            self.text(text, 80 - self.width(text) // 2, 52, _GREY)

    def error(self, name, text):
        """An error the user can fix, in plain words: its name ('Config error') and a hint
        ('uart.rx: must be 0-39'), wrapped to the screen width."""
        st = ('error', name, text)
        if st != self.status:
            self.status = st
            if not self.page:
                self.redraw()
