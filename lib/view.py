"""Everything the user sees on the M5StickC's 160 x 80 landscape screen.

It is handed the UIFlow 1.x `lcd` object (LoBo display API: orient, clear, fillRect or rect,
line, font, print, textWidth, fontSize) and optionally a `backlight(level)` callable taking a
brightness in percent (0 = off).  It draws four pages: the main page (current, power, billing
period, this period's kWh and bill, as the original's screen), a half-hour usage chart, a
diagnostics page and a status screen (progress while connecting, errors in plain words).
Each main-page region is redrawn only when its text or colour changed, values older than
`stale_after_s` are greyed out, and `shown` records the texts each region last printed.
It never reads a clock (time is passed in), never imports UIFlow modules, and never shows
anything the caller did not hand it (the caller passes safe text, no secrets).
Pure formatting helpers (format_power, format_current, ...) are table-tested without an lcd.
"""

# Screen and colours (24-bit RGB as the LoBo API takes them).
WIDTH = 160
HEIGHT = 80
BLACK = 0x000000
WHITE = 0xffffff
BLUE = 0x1f77b4
ORANGE = 0xff7f0e
RED = 0xd62728
GREEN = 0x2ca02c
GREY = 0xa9a9a9
STALE = 0x606060
DARK = 0x303030

WARN_FRACTION = 0.80    # current at or above 80 % of the contract: orange
ALARM_FRACTION = 0.95   # at or above 95 %: red

PAGES = ('main', 'chart', 'diag')
NONE_TEXT = '--'

# Main-page layout: (x, y, w, h) boxes that are filled black before a region is printed.
BOX_CURRENT = (3, 3, 70, 25)
BOX_POWER = (73, 3, 84, 25)
BOX_PERIOD = (3, 31, 154, 14)
PERIOD_Y = 33
BOX_KWH = (3, 45, 70, 25)
BOX_YEN = (73, 45, 84, 25)
LABEL_Y = 70
GUTTER = 3             # px kept free at the right of the left column's texts

# Chart page: 48 half-hour slots of 3 px (2 px bar, 1 px gap), centred.
CHART_SLOTS = 48
CHART_X0 = 8
CHART_PITCH = 3
CHART_TOP = 13
CHART_BASE = 75         # lowest row of a bar; the axis is drawn one row below

# Progress bar along the bottom (outline rect; the fill is inside it).
BAR_X = 4
BAR_Y = 68
BAR_W = 152
BAR_H = 10

# The documented LoBo values, used when the lcd object lacks the attribute.
_FALLBACK = {
    'FONT_Default': 0, 'FONT_DejaVu18': 1, 'FONT_DejaVu24': 2, 'FONT_Ubuntu': 3,
    'FONT_DefaultSmall': 8, 'CENTER': -9003, 'RIGHT': -9004, 'LASTX': 7000,
    'PORTRAIT': 0, 'LANDSCAPE': 1, 'PORTRAIT_FLIP': 2, 'LANDSCAPE_FLIP': 3,
}
# Approximate glyph box (w, h) per font number when the lcd has no fontSize()/textWidth().
_FONT_BOX = {0: (8, 12), 1: (11, 18), 2: (14, 24), 3: (9, 16), 8: (6, 9)}

_UNSET = object()
_NUMBER = (int, float)
_SEQ = (tuple, list)
_INF = float('inf')
_NINF = float('-inf')
# Main-page regions in drawing order; the readings dict uses these keys.
_MAIN_KEYS = ('current_a', 'power_w', 'period', 'monthly_kwh', 'fee_yen')
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class ViewError(ValueError):
    pass


def lcd_const(lcd, name):
    """lcd.NAME, or the documented LoBo number when the object does not carry it."""
    return getattr(lcd, name, _FALLBACK[name])


# ---------------------------------------------------------------------------------------------
# Pure formatting helpers (no lcd): every one returns NONE_TEXT for None or a non-number.

def _rint(x):
    """Round half away from zero to an int (the same on CPython and MicroPython)."""
    if x >= 0:
        return int(x + 0.5)
    return -int(-x + 0.5)


def _number(x):
    """x as a finite number, else None (None, bool, str, NaN and infinities are not numbers)."""
    if x is None or isinstance(x, bool) or not isinstance(x, _NUMBER):
        return None
    if x != x or x == _INF or x == _NINF:
        return None
    return x


def contract_amps(value):
    """The contract amperage from the config (50, 50.0 or '50') -> number, else None."""
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isdigit() else None
    return _number(value)


def _tenths(t):
    """An int count of tenths -> '12.3' / '-0.5'."""
    sign = ''
    if t < 0:
        sign = '-'
        t = -t
    return '%s%d.%d' % (sign, t // 10, t % 10)


def format_power(w):
    """Instantaneous power in W -> (text, unit): |P| < 10 kW in whole watts ('1234', 'W'),
    above in kW with one decimal ('12.3', 'kW'); a minus sign for export; (NONE_TEXT, 'W')
    when unknown."""
    w = _number(w)
    if w is None:
        return NONE_TEXT, 'W'
    whole = _rint(w)
    if -10000 < whole < 10000:
        return '%d' % whole, 'W'
    return _tenths(_rint(w / 100.0)), 'kW'


def total_current(a):
    """A current reading -> total amperes or None.  `a` is a number (already the total) or an
    (R, T) pair from E8 where either phase may be None (a single-phase two-wire meter has no T)."""
    if isinstance(a, _SEQ):
        total = None
        for phase in a[:2]:
            phase = _number(phase)
            if phase is not None:
                total = phase if total is None else total + phase
        return total
    return _number(a)


def format_current(a):
    """Current (total, or an (R, T) pair) -> whole amperes '12' (rounded), NONE_TEXT unknown."""
    total = total_current(a)
    if total is None:
        return NONE_TEXT
    return '%d' % _rint(total)


def format_kwh(kwh):
    """kWh -> one decimal below 1000 kWh ('123.4'), whole from 1000 up ('1234')."""
    kwh = _number(kwh)
    if kwh is None:
        return NONE_TEXT
    t = _rint(kwh * 10)
    if -10000 < t < 10000:
        return _tenths(t)
    return '%d' % _rint(kwh)


def format_yen(yen):
    """Yen -> whole yen without separators ('3456'); NONE_TEXT when unknown."""
    yen = _number(yen)
    if yen is None:
        return NONE_TEXT
    return '%d' % _rint(yen)


def _month_day(ymd):
    """(y, m, d) -> 'MM-DD', or NONE_TEXT for anything that is not a real month and day."""
    if not isinstance(ymd, _SEQ) or len(ymd) < 3:
        return NONE_TEXT
    m = ymd[1]
    d = ymd[2]
    if isinstance(m, bool) or isinstance(d, bool) or not isinstance(m, int) or not isinstance(d, int):
        return NONE_TEXT
    if m < 1 or m > 12 or d < 1 or d > _MONTH_DAYS[m - 1]:
        return NONE_TEXT
    return '%02d-%02d' % (m, d)


def format_period(start_ymd, end_ymd):
    """Billing period -> 'MM-DD~MM-DD' (from the last reading day to the last update).
    A missing or impossible date shows as '--' on its side, never as a raw tuple."""
    return '%s~%s' % (_month_day(start_ymd), _month_day(end_ymd))


def format_uptime(seconds):
    """Seconds -> '3d04h05m' (always days, hours and minutes); NONE_TEXT when unknown."""
    s = _number(seconds)
    if s is None or s < 0:
        return NONE_TEXT
    s = int(s)
    return '%dd%02dh%02dm' % (s // 86400, (s // 3600) % 24, (s // 60) % 60)


def current_color(a, contract_a):
    """Colour of the current value: BLUE, ORANGE at >= 80 % of the contract, RED at >= 95 %,
    GREEN for a net export (negative total) below the thresholds.

    Given an (R, T) pair the thresholds apply to the larger phase: on a single-phase three-wire
    service (most Japanese homes) the contract amperage limits each wire, so the breaker trips
    when one phase passes it, not when R + T does.  A plain number is compared as it is."""
    if isinstance(a, _SEQ):
        basis = None
        for phase in a[:2]:
            phase = _number(phase)
            if phase is not None:
                phase = abs(phase)
                if basis is None or phase > basis:
                    basis = phase
    else:
        basis = _number(a)
        if basis is not None:
            basis = abs(basis)
    limit = _number(contract_a)
    if basis is not None and limit is not None and limit > 0:
        if basis >= ALARM_FRACTION * limit:
            return RED
        if basis >= WARN_FRACTION * limit:
            return ORANGE
    total = total_current(a)
    if total is not None and _rint(total) < 0:
        return GREEN
    return BLUE


def wrap_text(text, max_w, width_of):
    """Split text into lines no wider than max_w px (width_of(str) -> px): at spaces, at '\\n',
    and inside a word only when the word alone is too wide."""
    lines = []
    for para in str(text).split('\n'):
        line = ''
        for word in para.split(' '):
            if not word:
                continue
            cand = word if not line else line + ' ' + word
            if width_of(cand) <= max_w:
                line = cand
                continue
            if line:
                lines.append(line)
                line = ''
            while len(word) > 1 and width_of(word) > max_w:
                n = len(word) - 1
                while n > 1 and width_of(word[:n]) > max_w:
                    n -= 1
                lines.append(word[:n])
                word = word[n:]
            line = word
        lines.append(line)
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def fit_text(text, max_w, width_of):
    """text, shortened with '..' when it is wider than max_w px."""
    if width_of(text) <= max_w:
        return text
    n = len(text)
    while n > 0 and width_of(text[:n] + '..') > max_w:
        n -= 1
    return text[:n] + '..'


def diag_lines(d):
    """The diagnostics dict -> the 8 lines of the diagnostics page (missing keys show '-')."""
    if not isinstance(d, dict):
        d = {}

    def g(key):
        v = d.get(key)
        return '-' if v is None else v
    rssi = d.get('rssi')
    if isinstance(rssi, (int, float)):
        rssi = '%d' % round(rssi)
    return [
        'ch %s LQI %s %sdBm' % (g('channel'), g('lqi'), '-' if rssi is None else rssi),
        'up %s resets %s' % (format_uptime(d.get('uptime_s')), g('resets')),
        'Wi-Fi %s' % (g('wifi'),),
        'MQTT %s' % (g('mqtt'),),
        'queued %s dropped %s' % (g('queued'), g('dropped')),
        'export %s kWh' % (format_kwh(d.get('export_kwh')),),
        'free heap %s' % (g('free_heap'),),
        'error %s' % (g('last_error'),),
    ]


def _value(item):
    """A readings entry (value, timestamp_s) -> value; a bare value is returned as it is."""
    if isinstance(item, tuple) and len(item) == 2:
        return item[0]
    return item


# ---------------------------------------------------------------------------------------------

class View:
    """The screen.  `lcd` is the UIFlow lcd object, `backlight(level_percent)` optional.

    `update(readings, now_s)` takes a dict whose entries are (value, timestamp_s) pairs, the
    timestamp on the same clock as now_s (int seconds keep the refresh free of allocation);
    an entry without a timestamp counts as stale:
        'current_a':   total amperes, or the E8 pair (r_amps, t_amps), either may be None
        'power_w':     instantaneous power in W (negative = export)
        'period':      ((y, m, d) of the last reading day, (y, m, d) of the last update)
        'monthly_kwh': this period's kWh
        'fee_yen':     this period's bill in yen
    A missing key or a None value shows '--' greyed out.

    `shown` holds exactly the texts printed last (value text without a unit drawn apart):
        'current_a' '12' (the 'A' and '/50A' are separate, smaller texts), 'power' '1234W' or
        '12.3kW' (value and unit are one text), 'period' '11-22~11-26', 'monthly_kwh' '123.4'
        ('kWh' is a fixed label), 'fee_yen' '3456' ('Yen' is a fixed label), 'orientation'
        'landscape' / 'landscape_flip', 'page' 'main' / 'chart' / 'diag' / 'progress' / 'error';
        the status screen adds 'status' (its line or error title), 'progress' (int percent) and
        'hint' (the wrapped hint lines joined by '\n'); the chart 'chart_today' and
        'chart_yesterday' ('12.3'); the diagnostics page 'diag' (list of its 8 lines).
    Main-page entries keep the last main-page texts while another page is up.
    """

    def __init__(self, lcd, backlight=None, contract_a=None, stale_after_s=60, flipped=False,
                 day_level=100, night_level=20):
        self._lcd = lcd
        self._backlight = backlight
        self.contract_a = contract_amps(contract_a)
        self.stale_after_s = stale_after_s
        self.flipped = bool(flipped)
        self.day_level = day_level
        self.night_level = night_level
        self._f24 = lcd_const(lcd, 'FONT_DejaVu24')
        self._f18 = lcd_const(lcd, 'FONT_DejaVu18')
        self._fub = lcd_const(lcd, 'FONT_Ubuntu')
        self._fdef = lcd_const(lcd, 'FONT_Default')
        self._fsmall = lcd_const(lcd, 'FONT_DefaultSmall')
        self._big_fonts = (self._f24, self._f18, self._fub, self._fdef, self._fsmall)
        self._line_fonts = (self._fdef, self._fsmall)
        self._fill_rect = getattr(lcd, 'fillRect', None)
        self._font = None
        self._heights = {}
        self.page = 'main'
        self._status = None         # None, ('progress', pct, text) or ('error', title, hint)
        self._readings = None
        self._now = None
        self._today = None
        self._yesterday = None
        self._diag = None
        self._raw = {}              # region -> raw value last drawn (compared before formatting)
        self._was_stale = {}        # region -> whether it was drawn greyed out
        self.shown = {}
        self._bl_on = True
        self._night = False
        self.backlight_level = None
        self._apply_backlight()
        self.redraw()

    # -- low-level drawing ------------------------------------------------------------------

    def _fill(self, x, y, w, h, color):
        if w <= 0 or h <= 0:
            return
        if self._fill_rect is not None:
            self._fill_rect(x, y, w, h, color)
        else:
            self._lcd.rect(x, y, w, h, color, color)

    def _use(self, font):
        if font != self._font:
            self._lcd.font(font)
            self._font = font

    def _width(self, text):
        """Width of text in px in the current font."""
        tw = getattr(self._lcd, 'textWidth', None)
        if tw is not None:
            return tw(text)
        return len(text) * _FONT_BOX.get(self._font, (8, 12))[0]

    def _height(self, font):
        h = self._heights.get(font)
        if h is None:
            h = _FONT_BOX.get(font, (8, 12))[1]
            size = getattr(self._lcd, 'fontSize', None)
            if size is not None:
                self._use(font)
                try:
                    h = size()[1]
                except Exception:
                    pass
            self._heights[font] = h
        return h

    def _fit_font(self, text, max_w, fonts):
        """The first font in which text fits max_w (left selected); the last one otherwise."""
        for font in fonts:
            self._use(font)
            if self._width(text) <= max_w:
                return font
        return fonts[-1]

    def _print(self, text, x, y, color):
        self._lcd.print(text, x, y, color)

    def _put(self, box, top, text, color, fonts, right=False):
        """Fill box black, print text in the largest font that fits, at the box's left (with a
        gutter before the right column) or flush right, bottom-aligned with the largest font's
        line that starts at row `top`."""
        x, y, w, h = box
        self._fill(x, y, w, h, BLACK)
        room = w if right else w - GUTTER
        font = self._fit_font(text, room, fonts)
        drop = self._height(fonts[0]) - self._height(font)
        if right:
            x = x + w - self._width(text)
        self._use(font)
        self._print(text, x, top + (drop if drop > 0 else 0), color)

    def _forget(self):
        self._raw.clear()
        self._was_stale.clear()

    def _stale(self, item, now):
        """True when the entry has no timestamp or it is further than stale_after_s from now."""
        if not isinstance(item, tuple) or len(item) != 2:
            return True
        ts = item[1]
        if ts is None or now is None:
            return True
        try:
            age = now - ts
            return age > self.stale_after_s or age < -self.stale_after_s
        except TypeError:
            return True

    # -- public entry points ----------------------------------------------------------------

    def redraw(self):
        """Orient, clear and draw the current page from cached state."""
        self._lcd.orient(lcd_const(self._lcd, 'LANDSCAPE_FLIP' if self.flipped else 'LANDSCAPE'))
        self.shown['orientation'] = 'landscape_flip' if self.flipped else 'landscape'
        self._font = None
        self._lcd.clear(BLACK)
        self._forget()
        self._draw_page()

    def flip(self):
        """Button A: turn the picture upside down and redraw at once."""
        self.flipped = not self.flipped
        self.redraw()

    def next_page(self):
        """Button B: main -> chart -> diag -> main."""
        i = PAGES.index(self.page) if self.page in PAGES else 0
        self.page = PAGES[(i + 1) % len(PAGES)]
        self.redraw()
        return self.page

    def show_page(self, page):
        """Go to 'main', 'chart' or 'diag' (ViewError for anything else)."""
        if page not in PAGES:
            raise ViewError('unknown page')
        if page != self.page:
            self.page = page
            self.redraw()

    def set_contract(self, contract_a):
        """A new contract amperage (number or decimal string; None hides it)."""
        contract_a = contract_amps(contract_a)
        if contract_a != self.contract_a:
            self.contract_a = contract_a
            self._raw.pop('current_a', None)
            self._refresh_main()

    def update(self, readings, now_s):
        """New readings (see the class docstring) at time now_s.  Leaves a progress or error
        screen.  Cheap when nothing changed (no formatting, no drawing): call it every second or
        so, also without new data (or call tick), so values that stop updating grey out."""
        self._readings = readings
        self._now = now_s
        if self._status is not None:
            self._status = None
            if self.page == 'main':
                self.redraw()
            return
        self._refresh_main()

    def tick(self, now_s):
        """Re-check staleness of the cached readings at time now_s (keeps a status screen)."""
        self._now = now_s
        self._refresh_main()

    def progress(self, percent, text):
        """Connecting: a centred status line and a progress bar (0-100 %) on the main page slot."""
        try:
            pct = _rint(percent)
        except (TypeError, ValueError, OverflowError):
            pct = 0
        pct = 0 if pct < 0 else (100 if pct > 100 else pct)
        previous = self._status
        self._status = ('progress', pct, text)
        if self.page != 'main':
            return
        if previous is None or previous[0] != 'progress':
            self.redraw()
        else:
            self._draw_progress(previous)

    def error(self, title, hint):
        """An error the user can fix, in plain words: title ('Config error') and hint
        ('id: must be 32 characters'), wrapped to the screen width."""
        status = ('error', title, hint)
        if status == self._status:
            return
        self._status = status
        if self.page == 'main':
            self.redraw()

    def set_chart(self, today_kwh, yesterday_kwh):
        """48 half-hour kWh values each (None for missing or future slots)."""
        if today_kwh == self._today and yesterday_kwh == self._yesterday:
            return
        self._today = list(today_kwh) if today_kwh else []
        self._yesterday = list(yesterday_kwh) if yesterday_kwh else []
        if self.page == 'chart':
            self.redraw()

    def set_diag(self, diag):
        """Diagnostics dict: channel, lqi, rssi, uptime_s, last_error, resets, queued, dropped,
        mqtt, export_kwh, free_heap, wifi.  Redraws only the lines that changed."""
        self._diag = diag
        if self.page == 'diag':
            self._draw_diag(False)

    # -- backlight ----------------------------------------------------------------------------

    def _apply_backlight(self):
        if not self._bl_on:
            level = 0
        elif self._night:
            level = self.night_level
        else:
            level = self.day_level
        if level != self.backlight_level:
            self.backlight_level = level
            if self._backlight is not None:
                self._backlight(level)

    def toggle_backlight(self):
        """Long press on A: backlight off <-> on (at the day or night level)."""
        self._bl_on = not self._bl_on
        self._apply_backlight()
        return self._bl_on

    def set_night(self, is_night):
        """The app's schedule: dim at night.  A change of day/night also ends a manual 'off'."""
        is_night = bool(is_night)
        if is_night != self._night:
            self._night = is_night
            self._bl_on = True
        self._apply_backlight()

    # -- pages --------------------------------------------------------------------------------

    def _draw_page(self):
        self.shown['page'] = self.page
        if self.page == 'chart':
            self._draw_chart()
        elif self.page == 'diag':
            self._draw_diag(True)
        elif self._status is not None:
            self.shown['page'] = self._status[0]
            if self._status[0] == 'progress':
                self._draw_progress(None)
            else:
                self._draw_error()
        else:
            self._draw_labels()
            self._refresh_main()

    def _draw_labels(self):
        self._use(self._fsmall)
        self._print('kWh', BOX_KWH[0], LABEL_Y, GREY)
        self._print('Yen', BOX_YEN[0] + BOX_YEN[2] - self._width('Yen'), LABEL_Y, GREY)

    def _refresh_main(self):
        if self.page != 'main' or self._status is not None:
            return
        readings = self._readings
        now = self._now
        for key in _MAIN_KEYS:
            item = readings.get(key) if isinstance(readings, dict) else None
            value = _value(item)
            stale = value is None or self._stale(item, now)
            if self._raw.get(key, _UNSET) == value and self._was_stale.get(key) is stale:
                continue
            self._raw[key] = value
            self._was_stale[key] = stale
            if key == 'current_a':
                self._draw_current(value, stale)
            elif key == 'power_w':
                self._draw_power(value, stale)
            elif key == 'period':
                if isinstance(value, _SEQ) and len(value) == 2:
                    text = format_period(value[0], value[1])
                else:
                    text = NONE_TEXT
                self._put(BOX_PERIOD, PERIOD_Y, text, STALE if stale else ORANGE, self._line_fonts)
                self.shown['period'] = text
            elif key == 'monthly_kwh':
                text = format_kwh(value)
                self._put(BOX_KWH, BOX_KWH[1], text, STALE if stale else ORANGE, self._big_fonts)
                self.shown['monthly_kwh'] = text
            else:
                text = format_yen(value)
                self._put(BOX_YEN, BOX_YEN[1], text, STALE if stale else ORANGE, self._big_fonts, True)
                self.shown['fee_yen'] = text

    def _draw_current(self, value, stale):
        """'12' large, 'A' small grey, then '/50A' grey when the contract is known and fits:
        the value gets the largest font that fits, the contract takes what room is left
        (FONT_Ubuntu, else the small font, else it is left out)."""
        color = STALE if stale else current_color(value, self.contract_a)
        text = format_current(value)
        x, y, w, h = BOX_CURRENT
        self._fill(x, y, w, h, BLACK)
        self._use(self._fsmall)
        unit_w = self._width('A')
        room = w - GUTTER - unit_w - 1
        font = self._fit_font(text, room, self._big_fonts)
        value_w = self._width(text)
        big_h = self._height(self._f24)
        self._use(font)
        self._print(text, x, y + big_h - self._height(font), color)
        ux = x + value_w + 1
        self._use(self._fsmall)
        self._print('A', ux, y + big_h - self._height(self._fsmall), GREY)
        contract = _number(self.contract_a)
        if contract is not None:
            limit = '/%dA' % _rint(contract)
            lx = ux + unit_w + 2
            for lf in (self._fub, self._fsmall):
                self._use(lf)
                if lx + self._width(limit) <= x + w - GUTTER:
                    self._print(limit, lx, y + big_h - self._height(lf), GREY)
                    break
        self.shown['current_a'] = text

    def _draw_power(self, value, stale):
        """'1234W' / '12.3kW' as one text, green with a minus sign for export."""
        number = _number(value)
        if stale or number is None:
            color = STALE
        elif number <= -0.5:
            color = GREEN
        else:
            color = BLUE
        text, unit = format_power(value)
        text = text + unit
        self._put(BOX_POWER, BOX_POWER[1], text, color, self._big_fonts, True)
        self.shown['power'] = text

    def _draw_progress(self, previous):
        """Status screen while connecting; with `previous` only what changed is redrawn."""
        pct = self._status[1]
        text = str(self._status[2])
        if previous is None:
            self._use(self._fsmall)
            title = 'SmartMeter'
            self._print(title, (WIDTH - self._width(title)) // 2, 4, GREY)
            self._lcd.rect(BAR_X, BAR_Y, BAR_W, BAR_H, GREY)
        if previous is None or previous[2] != self._status[2]:
            self._fill(0, 22, WIDTH, 20, BLACK)
            font = self._fit_font(text, WIDTH - 4, (self._fub, self._fdef, self._fsmall))
            line = fit_text(text, WIDTH - 4, self._width)
            self._use(font)
            self._print(line, (WIDTH - self._width(line)) // 2, 24, WHITE)
            self.shown['status'] = line
        if previous is None or previous[1] != pct:
            inner = BAR_W - 2
            done = inner * pct // 100
            self._fill(BAR_X + 1, BAR_Y + 1, done, BAR_H - 2, BLUE)
            self._fill(BAR_X + 1 + done, BAR_Y + 1, inner - done, BAR_H - 2, BLACK)
            self._fill(0, 50, WIDTH, 14, BLACK)
            label = '%d%%' % pct
            self._use(self._fdef)
            self._print(label, (WIDTH - self._width(label)) // 2, 52, GREY)
            self.shown['progress'] = pct

    def _draw_error(self):
        title = str(self._status[1])
        hint = self._status[2]
        font = self._fit_font(title, WIDTH - 4, (self._f18, self._fub, self._fdef, self._fsmall))
        title = fit_text(title, WIDTH - 4, self._width)
        self._use(font)
        self._print(title, 2, 2, RED)
        self.shown['status'] = title
        top = 4 + self._height(font)
        lines = []
        pitch = 10
        for small in self._line_fonts:
            self._use(small)
            pitch = self._height(small) + 1
            lines = wrap_text('' if hint is None else hint, WIDTH - 4, self._width)
            if len(lines) * pitch <= HEIGHT - top:
                break
        room = (HEIGHT - top) // pitch
        if room < 1:
            room = 1
        if len(lines) > room:
            lines = lines[:room]
            lines[-1] = fit_text(lines[-1] + '..', WIDTH - 4, self._width)
        y = top
        for line in lines:
            self._print(line, 2, y, WHITE)
            y += pitch
        self.shown['hint'] = '\n'.join(lines)

    def _draw_chart(self):
        today = self._today or []
        yesterday = self._yesterday or []
        today_total = None
        yest_total = None
        peak = 0.1
        for v in today[:CHART_SLOTS]:
            v = _number(v)
            if v is not None:
                today_total = v if today_total is None else today_total + v
                if v > peak:
                    peak = v
        for v in yesterday[:CHART_SLOTS]:
            v = _number(v)
            if v is not None:
                yest_total = v if yest_total is None else yest_total + v
                if v > peak:
                    peak = v
        t_text = format_kwh(today_total)
        y_text = format_kwh(yest_total)
        self.shown['chart_today'] = t_text
        self.shown['chart_yesterday'] = y_text
        self._use(self._fsmall)
        left = 'Today %skWh' % t_text
        right = 'Yday %s' % y_text
        if self._width(left) + self._width(right) + 6 > WIDTH - 4:
            left = '%skWh' % t_text
        self._print(left, 2, 1, BLUE)
        self._print(right, WIDTH - 2 - self._width(right), 1, GREY)
        span = CHART_BASE - CHART_TOP + 1
        line = self._lcd.line
        # axis and 6-hour ticks first, so yesterday's zero level stays visible on top
        line(CHART_X0, CHART_BASE + 1, CHART_X0 + CHART_SLOTS * CHART_PITCH - 1, CHART_BASE + 1, DARK)
        for i in range(0, CHART_SLOTS + 1, 12):
            x = CHART_X0 + i * CHART_PITCH - (1 if i == CHART_SLOTS else 0)
            line(x, CHART_BASE + 2, x, HEIGHT - 1, GREY)
        # today's bars
        for i in range(min(len(today), CHART_SLOTS)):
            v = _number(today[i])
            if v is None or v <= 0:
                continue
            h = _rint(v * span / peak)
            h = 1 if h < 1 else (span if h > span else h)
            self._fill(CHART_X0 + i * CHART_PITCH, CHART_BASE - h + 1, CHART_PITCH - 1, h, BLUE)
        # yesterday as a grey step line over the bars
        prev = None
        for i in range(min(len(yesterday), CHART_SLOTS)):
            v = _number(yesterday[i])
            if v is None or v < 0:
                prev = None
                continue
            h = _rint(v * span / peak)
            h = 0 if h < 0 else (span if h > span else h)
            y = CHART_BASE - h + 1 if h > 0 else CHART_BASE + 1
            x = CHART_X0 + i * CHART_PITCH
            if prev is not None and prev != y:
                line(x, prev, x, y, GREY)
            line(x, y, x + CHART_PITCH - 1, y, GREY)
            prev = y

    def _draw_diag(self, full):
        lines = diag_lines(self._diag or {})
        old = self.shown.get('diag')
        if full or not isinstance(old, list) or len(old) != len(lines):
            old = [None] * len(lines)
        self._use(self._fsmall)
        pitch = HEIGHT // len(lines)
        for i in range(len(lines)):
            text = fit_text(lines[i], WIDTH - 4, self._width)
            if text == old[i]:
                continue
            self._fill(0, i * pitch, WIDTH, pitch, BLACK)
            self._print(text, 2, i * pitch + 1, GREY if i % 2 else WHITE)
            old[i] = text
        self.shown['diag'] = old
