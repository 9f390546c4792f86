"""The M5StickC LCD as UIFlow 1.x drives it (LoBo `display.TFT` API), drawn with Pillow.

Coordinates, the text cursor (LASTX/LASTY), CENTER/RIGHT/BOTTOM placement, clipping to the
window, the one-character granularity of text cut at the right edge and the ASCII-only
bitmap fonts follow LoBo's tft.c (facts read from its source, code written here).  Glyphs
are DejaVu TrueType (fonts-dejavu-core) sized to the height of the UIFlow bitmap font, drawn
without anti-aliasing: widths differ a little from the device, positions follow the rules.

The frame buffer is kept in the app's current orientation; `lcd._sim.image()` returns the
PANEL view: always 160 x 80, the way the screen looks with the device held for LANDSCAPE.
A frame drawn in LANDSCAPE_FLIP therefore comes out rotated by 180 degrees (upside down),
PORTRAIT frames come out rotated by 90 degrees.  `image(view='held')` gives the frame the
way the user holding the device for the current orientation sees it.
"""

import collections
import os
import sys
import tempfile

from PIL import Image, ImageDraw, ImageFont

from uiflow_sim import hub

# ------------------------------------------------------------------ constants (LoBo tft.h)
CENTER = -9003
RIGHT = -9004
BOTTOM = -9004
LASTX = 7000
LASTY = 8000

PORTRAIT = 0
LANDSCAPE = 1
PORTRAIT_FLIP = 2
LANDSCAPE_FLIP = 3

FONT_Default = 0
FONT_DejaVu18 = 1
FONT_DejaVu24 = 2
FONT_Ubuntu = 3
FONT_Comic = 4
FONT_Minya = 5
FONT_Tooney = 6
FONT_Small = 7
FONT_DefaultSmall = 8
FONT_7seg = 9
FONT_DejaVu40 = 11
FONT_DejaVu56 = 12
FONT_DejaVu72 = 13
FONT_Arial12 = 14
FONT_Arial16 = 15
FONT_UNICODE = 16

COLORS = {
    'BLACK': 0x000000, 'NAVY': 0x000080, 'DARKGREEN': 0x008000, 'DARKCYAN': 0x008080,
    'MAROON': 0x800000, 'PURPLE': 0x800080, 'OLIVE': 0x808000, 'LIGHTGREY': 0xC0C0C0,
    'DARKGREY': 0x808080, 'BLUE': 0x0000FF, 'GREEN': 0x00FF00, 'CYAN': 0x00FFFF,
    'RED': 0xFC0000, 'MAGENTA': 0xFC00FF, 'YELLOW': 0xFCFC00, 'WHITE': 0xFCFCFC,
    'ORANGE': 0xFCA400, 'GREENYELLOW': 0xACFC2C, 'PINK': 0xFCC0CA,
}

NATIVE_W = 80  # M5StickC ST7735S panel, portrait native
NATIVE_H = 160

FONT_DIR = '/usr/share/fonts/truetype/dejavu'
REGULAR = 'DejaVuSans.ttf'
BOLD = 'DejaVuSans-Bold.ttf'

# id -> (name, ttf file, cell height in px, fixed cell width or 0 for proportional)
# Heights are those of UIFlow's bitmap fonts (LoBo's y_size); 7seg is computed from its
# segment attributes.
FONTS = {
    FONT_Default: ('Default', REGULAR, 11, 0),
    FONT_DejaVu18: ('DejaVu18', REGULAR, 18, 0),
    FONT_DejaVu24: ('DejaVu24', REGULAR, 24, 0),
    FONT_Ubuntu: ('Ubuntu', REGULAR, 16, 0),
    FONT_Comic: ('Comic', BOLD, 24, 0),
    FONT_Minya: ('Minya', BOLD, 24, 0),
    FONT_Tooney: ('Tooney', BOLD, 32, 0),
    FONT_Small: ('Small', REGULAR, 12, 8),
    FONT_DefaultSmall: ('DefaultSmall', REGULAR, 9, 0),
    FONT_7seg: ('7seg', BOLD, 0, 0),
    FONT_DejaVu40: ('DejaVu40', REGULAR, 40, 0),
    FONT_DejaVu56: ('DejaVu56', REGULAR, 56, 0),
    FONT_DejaVu72: ('DejaVu72', REGULAR, 72, 0),
    FONT_Arial12: ('Arial12', REGULAR, 12, 0),
    FONT_Arial16: ('Arial16', REGULAR, 16, 0),
    FONT_UNICODE: ('UNICODE', REGULAR, 24, 0),
}

_TTF_CACHE = {}
_ASCII = ''.join(chr(c) for c in range(0x20, 0x7F))


def _warn(message):
    hub.warn_once(message, message)


def _truetype(filename, size):
    key = (filename, size)
    font = _TTF_CACHE.get(key)
    if font is None:
        path = os.path.join(FONT_DIR, filename)
        try:
            font = ImageFont.truetype(path, size)
        except (OSError, IOError):
            _warn('font %s not found (install fonts-dejavu-core); using Pillow default font' % path)
            try:
                font = ImageFont.load_default(size=size)
            except TypeError:  # very old Pillow
                font = ImageFont.load_default()
        _TTF_CACHE[key] = font
    return font


def _fit(filename, height, max_width=0):
    """Largest TrueType size whose ascent+descent fits `height` (and whose widest ASCII
    glyph fits max_width, for fixed-width fonts)."""
    best = _truetype(filename, 4)
    for size in range(4, 200):
        font = _truetype(filename, size)
        try:
            ascent, descent = font.getmetrics()
        except AttributeError:
            return font
        if ascent + descent > height:
            break
        if max_width and font.getlength('W') > max_width:
            break
        best = font
    return best


class _Font(object):
    """One selected UIFlow font: metrics and per-character advances."""

    def __init__(self, fid, seg_dist=8, seg_width=2):
        if fid not in FONTS:
            fid = FONT_Default
        self.id = fid
        name, filename, height, fixed = FONTS[fid]
        self.name = name
        self.seg = fid == FONT_7seg
        if self.seg:
            # LoBo 7-segment: char width 2*(2w+1)+l, height 3*(2w+1)+2l, advance width+2
            fixed = 2 * (2 * seg_width + 1) + seg_dist
            height = 3 * (2 * seg_width + 1) + 2 * seg_dist
            self.advance_fixed = fixed + 2
        else:
            self.advance_fixed = fixed
        self.height = height
        self.fixed = fixed
        self.unicode = fid == FONT_UNICODE
        self.ttf = _fit(filename, height, fixed)
        self._adv = {}
        self.max_x = max(self.advance(c) for c in _ASCII) if not fixed else fixed

    def advance(self, ch):
        if self.fixed:
            return self.advance_fixed
        adv = self._adv.get(ch)
        if adv is None:
            adv = max(1, int(round(self.ttf.getlength(ch))))
            self._adv[ch] = adv
        return adv

    def chars(self, text):
        """-> (drawable characters with control chars kept, dropped characters).

        The bitmap fonts hold only ASCII 0x20..0x7E and LoBo walks the UTF-8 bytes: a
        proportional font skips every other byte, a fixed font prints a blank for it."""
        if self.unicode:
            return list(text), ''
        out = []
        dropped = []
        for ch in text:
            if ch in '\r\n' or ' ' <= ch <= '~':
                out.append(ch)
                continue
            dropped.append(ch)
            if self.fixed:
                out.extend(' ' * len(ch.encode('utf-8')))
        return out, ''.join(dropped)


_TextBase = collections.namedtuple('TextRecord', 'x y text color font')


_FONT_CACHE = {}


def _get_font(fid, dist=8, width=2):
    if fid not in FONTS:
        fid = FONT_Default
    key = (fid, dist, width) if fid == FONT_7seg else fid
    font = _FONT_CACHE.get(key)
    if font is None:
        font = _FONT_CACHE[key] = _Font(fid, dist, width)
    return font


class TextRecord(_TextBase):
    """(x, y, text, color, font) of one text on the current frame, plus attributes:
    x0, y0, x1, y1 / .bbox / .w / .h (the box it covers, x1/y1 exclusive), .requested (the
    string the app passed), .dropped (characters the device's font cannot show), .clipped
    (cut at the window edge), .transparent, .bg, .orient, .t_ms (simulation time)."""

    def __new__(cls, x, y, text, color, font, **extra):
        rec = _TextBase.__new__(cls, x, y, text, color, font)
        rec.__dict__.update(extra)
        return rec

    @property
    def bbox(self):
        return (self.x0, self.y0, self.x1, self.y1)

    @property
    def w(self):
        return self.x1 - self.x0

    @property
    def h(self):
        return self.y1 - self.y0

    def __repr__(self):
        return 'TextRecord(x=%d, y=%d, text=%r, color=0x%06X, font=%d)' % (
            self.x, self.y, self.text, self.color, self.font)


def _rgb(color):
    color = int(color) & 0xFFFFFF
    return ((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF)


def _cdiv(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class _Clip(object):
    """Draw through this to clip to the window (Pillow clips to the image by itself)."""

    def __init__(self, tft):
        self.tft = tft

    def __enter__(self):
        t = self.tft
        self.full = (t._win == (0, 0, t._w - 1, t._h - 1))
        self.target = t._img if self.full else t._img.copy()
        draw = ImageDraw.Draw(self.target)
        draw.fontmode = '1'  # bitmap fonts: no anti-aliasing
        draw.target = self.target
        return draw

    def __exit__(self, *exc):
        t = self.tft
        if not self.full:
            x1, y1, x2, y2 = t._win
            box = (x1, y1, x2 + 1, y2 + 1)
            t._img.paste(self.target.crop(box), box)
        t._sim.version += 1
        return False


class LcdSim(object):
    """lcd._sim: what the simulator reads from the screen."""

    def __init__(self, tft):
        self._tft = tft
        self.texts = []  # TextRecord of the current frame
        self.log = []  # every text draw: (t_ms, x, y, text, color, font), newest last (bounded)
        self.log_max = 1000
        self.version = 0  # bumps on every drawing operation
        self.backlight = True  # AXP LDO2 on (axp.setLDO2State)
        self.brightness = None  # axp.setLcdBrightness value 0..100, None = never set
        self.initial_transparent = False  # LoBo init: text is drawn on the background colour

    # -- frame access
    def image(self, view='panel', lit=False):
        """A copy of the frame as a PIL RGB image.

        view='panel': 160 x 80, as the screen looks with the device held for LANDSCAPE
        (LANDSCAPE_FLIP frames come out upside down).  view='held': the frame as the user
        holding the device for the current orientation sees it (80 x 160 in portrait).
        lit=True applies the backlight (off -> black, brightness dims)."""
        t = self._tft
        img = t._img.copy()
        if view == 'panel':
            op = {LANDSCAPE: None, LANDSCAPE_FLIP: Image.Transpose.ROTATE_180,
                  PORTRAIT: Image.Transpose.ROTATE_90, PORTRAIT_FLIP: Image.Transpose.ROTATE_270}[t._orient]
            if op is not None:
                img = img.transpose(op)
        elif view != 'held':
            raise ValueError("view must be 'panel' or 'held'")
        if lit:
            img = self._light(img)
        return img

    def _light(self, img):
        if not self.backlight:
            return Image.new('RGB', img.size, (0, 0, 0))
        if self.brightness is None:
            return img
        level = max(0, min(100, self.brightness))
        factor = 0.3 + 0.7 * level / 100.0
        return img.point(lambda v: int(v * factor))

    def visible_image(self, view='panel'):
        return self.image(view, lit=True)

    def save_png(self, path, view='panel', lit=False):
        """Write the frame as PNG atomically (temp file + rename in the same folder)."""
        img = self.image(view, lit)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix='.lcd-', suffix='.png', dir=folder)
        try:
            with os.fdopen(fd, 'wb') as fh:
                img.save(fh, 'PNG')
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path

    def ansi(self, scale=1, lit=False, view='panel'):
        """The frame as 24-bit colour half blocks: each cell is '▀' with fg = upper pixel,
        bg = lower pixel.  scale=1: 160 columns x 40 rows; scale=2: 80 x 20."""
        img = self.image(view, lit)
        if scale and scale > 1:
            img = img.reduce(int(scale))
        w, h = img.size
        px = img.load()
        lines = []
        for row in range(0, h - 1, 2):
            parts = []
            last = None
            for col in range(w):
                top = px[col, row]
                bottom = px[col, row + 1]
                if (top, bottom) != last:
                    parts.append('\x1b[38;2;%d;%d;%dm\x1b[48;2;%d;%d;%dm' % (top + bottom))
                    last = (top, bottom)
                parts.append('\u2580')
            parts.append('\x1b[0m')
            lines.append(''.join(parts))
        return '\n'.join(lines)

    def pixel(self, x, y):
        """Colour (24-bit int) at logical (x, y) of the current orientation."""
        r, g, b = self._tft._img.getpixel((x, y))
        return (r << 16) | (g << 8) | b

    # -- texts
    def texts_in(self, x, y, w, h):
        """Texts of the current frame whose box intersects the region."""
        out = []
        for rec in self.texts:
            if rec.x0 < x + w and rec.x1 > x and rec.y0 < y + h and rec.y1 > y:
                out.append(rec)
        return out

    def overlaps(self):
        """Pairs of texts of the current frame drawn over each other (garbled on the device
        when the later one is transparent)."""
        out = []
        texts = self.texts
        for i in range(len(texts)):
            a = texts[i]
            for b in texts[i + 1:]:
                if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1:
                    out.append((a, b))
        return out

    def _covered(self, x0, y0, x1, y1):
        self.texts = [rec for rec in self.texts
                      if not (x0 <= rec.x0 and y0 <= rec.y0 and rec.x1 <= x1 and rec.y1 <= y1)]

    def _clear_texts(self):
        self.texts = []

    def _add_text(self, rec):
        self.texts.append(rec)
        self.log.append((rec.t_ms, rec.x, rec.y, rec.text, rec.color, rec.font))
        if len(self.log) > self.log_max:
            del self.log[:len(self.log) - self.log_max]

    def reset(self):
        """Power-on: black screen, PORTRAIT, default font, white on black."""
        self._tft._power_on()


class TFT(object):
    """The `lcd` object of UIFlow 1.x on the M5StickC."""

    CENTER = CENTER
    RIGHT = RIGHT
    BOTTOM = BOTTOM
    LASTX = LASTX
    LASTY = LASTY
    PORTRAIT = PORTRAIT
    LANDSCAPE = LANDSCAPE
    PORTRAIT_FLIP = PORTRAIT_FLIP
    LANDSCAPE_FLIP = LANDSCAPE_FLIP
    FONT_Default = FONT_Default
    FONT_DejaVu18 = FONT_DejaVu18
    FONT_DejaVu24 = FONT_DejaVu24
    FONT_Ubuntu = FONT_Ubuntu
    FONT_Comic = FONT_Comic
    FONT_Minya = FONT_Minya
    FONT_Tooney = FONT_Tooney
    FONT_Small = FONT_Small
    FONT_DefaultSmall = FONT_DefaultSmall
    FONT_7seg = FONT_7seg
    FONT_DejaVu40 = FONT_DejaVu40
    FONT_DejaVu56 = FONT_DejaVu56
    FONT_DejaVu72 = FONT_DejaVu72
    FONT_Arial12 = FONT_Arial12
    FONT_Arial16 = FONT_Arial16
    FONT_UNICODE = FONT_UNICODE
    JPG = 1
    BMP = 2

    def __init__(self):
        self._sim = LcdSim(self)
        self._power_on()

    def _power_on(self):
        self._orient = PORTRAIT
        self._w, self._h = NATIVE_W, NATIVE_H
        self._fg = COLORS['WHITE']
        self._bg = COLORS['BLACK']
        self._img = Image.new('RGB', (self._w, self._h), (0, 0, 0))
        self._win = (0, 0, self._w - 1, self._h - 1)
        self._saved_win = self._win
        self._x = 0  # LoBo TFT_X / TFT_Y: where the last text ended
        self._y = 0
        self._rotate = 0
        self._transparent = bool(self._sim.initial_transparent)
        self._force_fixed = False
        self._wrap = False
        self._seg = (8, 2, False, 0)
        self._font = _get_font(FONT_Default)
        self._sim._clear_texts()
        self._sim.log = []
        self._sim.backlight = True
        self._sim.brightness = None
        self._sim.version += 1

    # ------------------------------------------------------------------ helpers
    def _color(self, color, default):
        if color is None or color < 0:
            return default
        return int(color) & 0xFFFFFF

    def _fill_abs(self, draw, x, y, w, h, color):
        """LoBo _fillRect on absolute coordinates, with its clipping quirks."""
        x1, y1, x2, y2 = self._win
        if x >= x2 or y > y2:
            return None
        if x < x1:
            w -= x1 - x
            x = x1
        if y < y1:
            h -= y1 - y
            y = y1
        w = max(0, w)
        h = max(0, h)
        if x + w > x2 + 1:
            w = x2 - x + 1
        if y + h > y2 + 1:
            h = y2 - y + 1
        w = w or 1
        h = h or 1
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=_rgb(color))
        self._sim._covered(x, y, x + w, y + h)
        return (x, y, w, h)

    def _hline_abs(self, draw, x, y, w, color):
        x1, y1, x2, y2 = self._win
        if y < y1 or x > x2 or y > y2:
            return
        if x < x1:
            w -= x1 - x
            x = x1
        w = max(0, w)
        if x + w > x2 + 1:
            w = x2 - x + 1
        w = w or 1
        draw.line((x, y, x + w - 1, y), fill=_rgb(color))

    def _vline_abs(self, draw, x, y, h, color):
        x1, y1, x2, y2 = self._win
        if x < x1 or x > x2 or y > y2:
            return
        if y < y1:
            h -= y1 - y
            y = y1
        h = max(0, h)
        if y + h > y2 + 1:
            h = y2 - y + 1
        h = h or 1
        draw.line((x, y, x, y + h - 1), fill=_rgb(color))

    def _rect_outline(self, draw, x, y, w, h, color):
        self._hline_abs(draw, x, y, w, color)
        self._vline_abs(draw, x + w - 1, y, h, color)
        self._hline_abs(draw, x, y + h - 1, w, color)
        self._vline_abs(draw, x, y, h, color)

    # ------------------------------------------------------------------ screen
    def init(self, *args, **kwargs):
        return None

    def deinit(self):
        return None

    def orient(self, rot):
        """Set the orientation; like LoBo this fills the screen with the background colour."""
        rot = int(rot)
        if rot < 0 or rot > 3:
            rot = 0
        self._orient = rot
        if rot in (LANDSCAPE, LANDSCAPE_FLIP):
            self._w, self._h = NATIVE_H, NATIVE_W
        else:
            self._w, self._h = NATIVE_W, NATIVE_H
        self._img = Image.new('RGB', (self._w, self._h), _rgb(self._bg))
        self._win = (0, 0, self._w - 1, self._h - 1)
        self._sim._clear_texts()
        self._sim.version += 1

    setRotation = orient

    def screensize(self):
        return (self._w, self._h)

    def winsize(self):
        x1, y1, x2, y2 = self._win
        return (x2 - x1 + 1, y2 - y1 + 1)

    def clear(self, color=-1):
        color = self._color(color, self._bg)
        self._img.paste(_rgb(color), (0, 0, self._w, self._h))
        self._sim._clear_texts()
        self._sim.version += 1

    fillScreen = clear

    def clearwin(self, color=-1):
        color = self._color(color, self._bg)
        x1, y1, x2, y2 = self._win
        with _Clip(self) as draw:
            draw.rectangle((x1, y1, x2, y2), fill=_rgb(color))
        self._sim._covered(x1, y1, x2 + 1, y2 + 1)

    def setwin(self, x, y, x1, y1):
        w, h = self._w, self._h
        x2 = min(int(x1), w - 1)
        y2 = min(int(y1), h - 1)
        x = min(int(x), x2)
        y = min(int(y), y2)
        self._win = (max(0, x), max(0, y), x2, y2)

    setclipwin = setwin

    def resetwin(self):
        self._win = (0, 0, self._w - 1, self._h - 1)

    resetclipwin = resetwin

    def savewin(self):
        self._saved_win = self._win

    saveclipwin = savewin

    def restorewin(self):
        self._win = self._saved_win

    restoreclipwin = restorewin

    # ------------------------------------------------------------------ colours
    def setColor(self, color, bcolor=-1):
        if color is not None and color >= 0:
            self._fg = int(color) & 0xFFFFFF
        if bcolor is not None and bcolor >= 0:
            self._bg = int(bcolor) & 0xFFFFFF

    setTextColor = setColor

    def get_fg(self):
        return self._fg

    def get_bg(self):
        return self._bg

    def set_fg(self, color):
        self._fg = int(color) & 0xFFFFFF

    def set_bg(self, color):
        self._bg = int(color) & 0xFFFFFF

    def hsb2rgb(self, hue, saturation, brightness):
        import colorsys
        r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360.0, saturation, brightness)
        return ((int(r * 255) & 0xFC) << 16) | ((int(g * 255) & 0xFC) << 8) | (int(b * 255) & 0xFC)

    # ------------------------------------------------------------------ shapes
    def pixel(self, x, y, color=-1):
        color = self._color(color, self._fg)
        x1, y1, x2, y2 = self._win
        x += x1
        y += y1
        if x1 <= x <= x2 and y1 <= y <= y2:
            self._img.putpixel((x, y), _rgb(color))
            self._sim.version += 1

    drawPixel = pixel

    def readPixel(self, x, y):
        x1, y1, x2, y2 = self._win
        if not (x1 <= x <= x2 and y1 <= y <= y2):
            return 0
        return self._sim.pixel(x, y)

    def line(self, x, y, x1, y1, color=-1):
        color = self._color(color, self._fg)
        ox, oy = self._win[0], self._win[1]
        with _Clip(self) as draw:
            draw.line((x + ox, y + oy, x1 + ox, y1 + oy), fill=_rgb(color))

    drawLine = line

    def lineByAngle(self, x, y, start, length, angle, color=-1):
        import math
        a = math.radians(angle - 90)
        x0 = x + start * math.cos(a)
        y0 = y + start * math.sin(a)
        xe = x + (start + length) * math.cos(a)
        ye = y + (start + length) * math.sin(a)
        self.line(int(round(x0)), int(round(y0)), int(round(xe)), int(round(ye)), color)

    def rect(self, x, y, width, height, color=-1, fillcolor=-1):
        color = self._color(color, self._fg)
        ox, oy = self._win[0], self._win[1]
        with _Clip(self) as draw:
            if fillcolor is not None and fillcolor >= 0:
                self._fill_abs(draw, x + ox, y + oy, width, height, int(fillcolor) & 0xFFFFFF)
            self._rect_outline(draw, x + ox, y + oy, width, height, color)

    drawRect = rect

    def fillRect(self, x, y, width, height, color=-1):
        color = self._color(color, self._fg)
        ox, oy = self._win[0], self._win[1]
        with _Clip(self) as draw:
            self._fill_abs(draw, x + ox, y + oy, width, height, color)

    def roundrect(self, x, y, width, height, r, color=-1, fillcolor=-1):
        color = self._color(color, self._fg)
        ox, oy = self._win[0], self._win[1]
        box = (x + ox, y + oy, x + ox + width - 1, y + oy + height - 1)
        if box[2] < box[0] or box[3] < box[1]:
            return
        radius = max(0, min(int(r), width // 2, height // 2))
        with _Clip(self) as draw:
            fill = None
            if fillcolor is not None and fillcolor >= 0:
                fill = _rgb(fillcolor)
            draw.rounded_rectangle(box, radius=radius, outline=_rgb(color), fill=fill)
        if fill is not None:
            # the fill covers texts inside the straight part of the box
            self._sim._covered(box[0], box[1] + radius, box[2] + 1, box[3] + 1 - radius)

    drawRoundRect = roundrect

    def fillRoundRect(self, x, y, width, height, r, color=-1):
        color = self._color(color, self._fg)
        self.roundrect(x, y, width, height, r, color, color)

    def circle(self, x, y, r, color=-1, fillcolor=-1):
        color = self._color(color, self._fg)
        ox, oy = self._win[0], self._win[1]
        box = (x + ox - r, y + oy - r, x + ox + r, y + oy + r)
        fill = _rgb(fillcolor) if fillcolor is not None and fillcolor >= 0 else None
        with _Clip(self) as draw:
            draw.ellipse(box, outline=_rgb(color), fill=fill)

    drawCircle = circle

    def fillCircle(self, x, y, r, color=-1):
        color = self._color(color, self._fg)
        self.circle(x, y, r, color, color)

    def ellipse(self, x, y, rx, ry, opt=15, color=-1, fillcolor=-1):
        color = self._color(color, self._fg)
        ox, oy = self._win[0], self._win[1]
        box = (x + ox - rx, y + oy - ry, x + ox + rx, y + oy + ry)
        fill = _rgb(fillcolor) if fillcolor is not None and fillcolor >= 0 else None
        with _Clip(self) as draw:
            draw.ellipse(box, outline=_rgb(color), fill=fill)

    def triangle(self, x, y, x1, y1, x2, y2, color=-1, fillcolor=-1):
        color = self._color(color, self._fg)
        ox, oy = self._win[0], self._win[1]
        pts = [(x + ox, y + oy), (x1 + ox, y1 + oy), (x2 + ox, y2 + oy)]
        fill = _rgb(fillcolor) if fillcolor is not None and fillcolor >= 0 else None
        with _Clip(self) as draw:
            draw.polygon(pts, outline=_rgb(color), fill=fill)

    drawTriangle = triangle

    def fillTriangle(self, x, y, x1, y1, x2, y2, color=-1):
        color = self._color(color, self._fg)
        self.triangle(x, y, x1, y1, x2, y2, color, color)

    def image(self, x, y, file, scale=0, type=-1, **kwargs):
        path = hub.map_path(file) if isinstance(file, str) else None
        try:
            if path is not None:
                src = Image.open(path)
            else:
                import io
                src = Image.open(io.BytesIO(bytes(file)))
            src = src.convert('RGB')
        except (OSError, ValueError) as exc:
            raise OSError('Error opening image file') from exc
        if scale and 0 < scale <= 3:
            src = src.resize((max(1, src.width >> scale), max(1, src.height >> scale)))
        ox, oy = self._win[0], self._win[1]
        with _Clip(self) as draw:
            draw.target.paste(src, (x + ox, y + oy))

    # ------------------------------------------------------------------ fonts & text
    def font(self, font, rotate=-1, transparent=-1, fixedwidth=-1, dist=8, width=2,
             outline=False, color=0, **kwargs):
        if isinstance(font, str):
            _warn('lcd.font(%r): user font files are not simulated; using FONT_Default' % font)
            fid = FONT_Default
        else:
            fid = int(font)
        if fid == FONT_7seg:
            dist, width = _seg_limits(dist, width)
            self._seg = (dist, width, bool(outline), color)
            self._font = _get_font(fid, dist, width)
        else:
            self._font = _get_font(fid)
        if rotate is not None and rotate >= 0:
            self._rotate = int(rotate)
        self._transparent = _flag(transparent, self._transparent)
        self._force_fixed = _flag(fixedwidth, self._force_fixed)
        return None

    setFont = font

    def attrib7seg(self, dist, width, outline, color):
        if self._font.id != FONT_7seg:
            return None
        dist, width = _seg_limits(dist, width)
        self._seg = (dist, width, bool(outline), color)
        self._font = _get_font(FONT_7seg, dist, width)
        return None

    def fontSize(self):
        f = self._font
        return (f.fixed or f.max_x, f.height)

    def _advance(self, ch, force_fixed):
        f = self._font
        if force_fixed and not f.fixed:
            return f.max_x
        return f.advance(ch)

    def _string_width(self, text, force_fixed):
        chars, _dropped = self._font.chars(text)
        return sum(self._advance(c, force_fixed) for c in chars if c not in '\r\n')

    def textWidth(self, text):
        if not isinstance(text, str):
            raise TypeError("can't convert '%s' object to str implicitly" % type(text).__name__)
        return self._string_width(text, self._force_fixed)

    stringWidth = textWidth

    def text_x(self):
        return self._x

    def text_y(self):
        return self._y

    def setCursor(self, x, y):
        self._x = int(x)
        self._y = int(y)

    def getCursor(self):
        return (self._x, self._y)

    def text(self, x, y, text, color=-1, rotate=-1, transparent=-1, fixedwidth=-1, wrap=-1,
             bgcolor=-1):
        """lcd.text(x, y, text, color): all options apply to this call only."""
        if not isinstance(text, str):
            raise TypeError("can't convert '%s' object to str implicitly" % type(text).__name__)
        self._draw_text(text, x, y, self._color(color, self._fg), self._color(bgcolor, self._bg),
                        _opt(rotate, self._rotate), _flag(transparent, self._transparent),
                        _flag(fixedwidth, self._force_fixed), _flag(wrap, self._wrap))

    def print(self, text, *args, **kwargs):
        """lcd.print(text[, x, y[, color]]): without a position it continues at the end of
        the previous text.  int/float are formatted with %d / %f as the firmware does."""
        names = ('x', 'y', 'color')
        if len(args) > len(names):
            raise TypeError('function takes at most 4 positional arguments')
        params = {'x': 0, 'y': 0, 'color': -1}
        for name, value in zip(names, args, strict=False):
            params[name] = value
        for key, value in kwargs.items():
            if key in params:
                params[key] = value
            elif key not in ('rotate', 'transparent', 'fixedwidth', 'wrap'):
                raise TypeError("unexpected keyword argument '%s'" % key)
        if args:  # the firmware uses x/y only when passed positionally
            x, y = params['x'], params['y']
        else:
            x, y = self._x, self._y
        if isinstance(text, str):
            s = text
        elif isinstance(text, int):
            s = '%d' % text
        elif isinstance(text, float):
            s = '%f' % text
        else:
            raise TypeError("can't convert '%s' object to str implicitly" % type(text).__name__)
        fg = self._color(params['color'], self._fg)
        # rotate/transparent/fixedwidth/wrap given to print() stay set afterwards (firmware)
        if kwargs.get('rotate', -1) >= 0:
            self._rotate = int(kwargs['rotate'])
        self._transparent = _flag(kwargs.get('transparent'), self._transparent)
        self._force_fixed = _flag(kwargs.get('fixedwidth'), self._force_fixed)
        self._wrap = _flag(kwargs.get('wrap'), self._wrap)
        self._draw_text(s, x, y, fg, self._bg, self._rotate, self._transparent,
                        self._force_fixed, self._wrap)

    def println(self, text, *args, **kwargs):
        self.print(text, *args, **kwargs)
        self._draw_text('\r\n', self._x, self._y, self._fg, self._bg, self._rotate,
                        self._transparent, self._force_fixed, self._wrap)

    def textClear(self, x, y, text, color=-1):
        """Fill the box `text` would occupy at (x, y) with the background (or `color`)."""
        bg = self._color(color, self._bg)
        x1, y1 = self._win[0], self._win[1]
        w = self._string_width(text, self._force_fixed)
        with _Clip(self) as draw:
            self._fill_abs(draw, x + x1, y + y1, w, self._font.height, bg)

    clearStringRect = textClear

    def _draw_text(self, text, x, y, fg, bg, rotate, transparent, force_fixed, wrap):
        font = self._font
        x1, y1, x2, y2 = self._win
        if rotate and (x <= CENTER or y <= CENTER):
            return  # LoBo: rotated strings cannot be aligned
        if LASTX <= x < LASTY:
            x = self._x + (x - LASTX)
        elif x > CENTER:
            x += x1
        if y >= LASTY:
            y = self._y + (y - LASTY)
        elif y > CENTER:
            y += y1
        chars, dropped = font.chars(text)
        tmpw = sum(self._advance(c, force_fixed) for c in chars if c not in '\r\n')
        fh = font.height
        if x == RIGHT:
            x = x2 - tmpw + x1
        elif x == CENTER:
            x = _cdiv((x2 - x1 + 1) - tmpw, 2) + x1
        if y == BOTTOM:
            y = y2 - fh + y1
        elif y == CENTER:
            y = _cdiv((y2 - y1 + 1) - fh // 2, 2) + y1
        if x < x1:
            x = x1
        if y < y1:
            y = y1
        if x > x2 or y > y2:
            return
        self._x = x
        self._y = y
        if y + fh - 1 > y2:
            return
        if rotate:
            self._draw_rotated(chars, x, y, fg, bg, rotate, transparent, force_fixed, text, dropped)
            return
        placed = []  # (ch, cx, cy, advance)
        clipped = False
        cx, cy = x, y
        fills = []
        for ch in chars:
            if ch == '\r':
                if not transparent:
                    fills.append((cx, cy, x2 + 1 - cx, fh))
                continue
            if ch == '\n':
                cy += fh
                if cy > y2 - fh:
                    break
                cx = x1
                continue
            adv = self._advance(ch, force_fixed)
            if cx + adv > x2:
                if not wrap:
                    clipped = True
                    break
                cy += fh
                if cy > y2 - fh:
                    clipped = True
                    break
                cx = x1
            placed.append((ch, cx, cy, adv))
            cx += adv
        self._x = cx
        self._y = cy
        with _Clip(self) as draw:
            for fx, fy, fw, fhh in fills:
                self._fill_abs(draw, fx, fy, fw, fhh, bg)
            if not transparent:
                for _ch, px, py, adv in placed:
                    draw.rectangle((px, py, px + adv - 1, py + fh - 1), fill=_rgb(bg))
            for ch, px, py, adv in placed:
                if ch == ' ':
                    continue
                offset = 0
                if force_fixed or font.fixed:
                    offset = max(0, (adv - int(round(font.ttf.getlength(ch)))) // 2)
                    if font.seg:
                        offset = max(0, (font.fixed - int(round(font.ttf.getlength(ch)))) // 2)
                draw.text((px + offset, py), ch, font=font.ttf, fill=_rgb(fg), anchor='la')
        if not placed:
            return
        x0 = min(p[1] for p in placed)
        y0 = min(p[2] for p in placed)
        xe = max(p[1] + p[3] for p in placed)
        ye = max(p[2] for p in placed) + fh
        if not transparent:
            self._sim._covered(x0, y0, xe, ye)
        shown = []
        row = placed[0][2]
        for ch, _px, py, _adv in placed:
            if py != row:
                shown.append('\n')
                row = py
            shown.append(ch)
        self._sim._add_text(TextRecord(
            placed[0][1], placed[0][2], ''.join(shown), fg, font.id,
            x0=x0, y0=y0, x1=xe, y1=ye, requested=text, dropped=dropped, clipped=clipped,
            orient=self._orient, t_ms=hub.now_ms(), transparent=transparent, bg=bg))

    def _draw_rotated(self, chars, x, y, fg, bg, rotate, transparent, force_fixed, text, dropped):
        font = self._font
        s = ''.join(c for c in chars if c not in '\r\n')
        if not s:
            return
        w = sum(self._advance(c, force_fixed) for c in s)
        layer = Image.new('RGBA', (w, font.height), _rgb(bg) + ((0,) if transparent else (255,)))
        d = ImageDraw.Draw(layer)
        d.fontmode = '1'
        cx = 0
        for c in s:
            d.text((cx, 0), c, font=font.ttf, fill=_rgb(fg) + (255,), anchor='la')
            cx += self._advance(c, force_fixed)
        layer = layer.rotate(-rotate, expand=True, resample=Image.Resampling.NEAREST)
        with _Clip(self) as draw:
            draw.target.paste(layer, (x, y), layer)
        self._sim._add_text(TextRecord(
            x, y, s, fg, font.id, x0=x, y0=y, x1=x + layer.width, y1=y + layer.height,
            requested=text, dropped=dropped, clipped=False, orient=self._orient,
            t_ms=hub.now_ms(), transparent=transparent, bg=bg, rotate=rotate))


for _name, _value in COLORS.items():
    setattr(TFT, _name, _value)


def _flag(value, current):
    """A firmware int/bool option: None or negative keeps the current setting."""
    if value is None:
        return current
    if value is True or value is False:
        return value
    if value < 0:
        return current
    return bool(value & 1)


def _opt(value, default):
    if value is None or value is True or value is False:
        return default if value is None else value
    return default if value < 0 else value


def _seg_limits(dist, width):
    dist = max(6, min(40, int(dist)))
    width = max(1, int(width))
    width = min(width, dist // 2, 12)
    return dist, width


if sys.version_info[0] < 3:  # pragma: no cover
    raise ImportError('the UIFlow stand-ins need Python 3')
