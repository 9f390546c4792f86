"""The two pages behind button B: today's half-hour usage against yesterday's, and diagnostics.

Imported by lib/view.py the first time one of them is shown, so a user who never presses B
never pays for them.  `draw(view, new)` draws the page `view.page` with the view's primitives,
reading what it shows from `view.data`, the app (lib/app.py): the chart's cumulative counts at
each half hour of today and yesterday (`app.chart`, turned into kWh per half hour with the
session's units), and the diagnostics (channel, LQI, RSSI, uptime, boots, Wi-Fi, MQTT, the
Ambient queue, export kWh, free heap and the largest free block as measured at start and hourly,
the last error).  `new` is True after the screen was cleared; otherwise only what changed is
drawn again.  It only reads the app, never changes it.
"""
from util import const
from view import fmt, fit, rint

_BLUE = const(0x1F77B4)
_GREY = const(0xA9A9A9)
_WHITE = const(0xFFFFFF)
_DARK = const(0x303030)
_FSMALL = const(8)
# Chart: 48 half-hour slots of 3 px (2 px bar, 1 px gap) from x 8; bars from row 13 to 75,
# the axis one row below, a tick every 6 hours.
_X0 = const(8)
_TOP = const(13)
_BASE = const(75)
_SPAN = const(63)          # _BASE - _TOP + 1

# what is on screen: the chart's two lists of half-hour kWh, the 8 diagnostics lines
_shown = [None, [None] * 8]


def draw(view, new):
    """Draw page view.page for the app in view.data; new: the screen was just cleared."""
    app = view.data
    if view.page == 1:
        data = chart(app)
        if new or data != _shown[0]:
            if not new:
                view.fill(0, 0, 160, 80)
            _shown[0] = data
            _chart(view, data)
        return
    if new:
        _shown[1] = [None] * 8
    view.use(_FSMALL)
    old = _shown[1]
    d = lines(diag(app))
    for i in range(8):
        text = fit(d[i], 156, view.width)
        if text != old[i]:
            view.fill(0, i * 10, 160, 10)
            view.text(text, 2, i * 10 + 1, _GREY if i % 2 else _WHITE)
            old[i] = text


def chart(app):
    """(today, yesterday): 48 half-hour kWh values each, None where a count is missing."""
    s = app.session
    out = []
    for cum in app.chart or ((None,) * 49, (None,) * 49):
        kwh = [None] * 48
        for i in range(48):
            if cum[i] is not None and cum[i + 1] is not None:
                kwh[i] = s.kwh((cum[i + 1] - cum[i]) % 10 ** s.digits)
        out.append(kwh)
    return out


def diag(app):
    """The diagnostics as the tuple lines() formats."""
    s = app.session
    q = app.ambient.stats() if app.ambient else {}
    free, largest = app.heap
    return (s.pan['channel'] if s.pan else None, s.lqi, s.rssi, app.uptime(), app.boots[0],
            app._wifi_ok(), app.mqtt.connected if app.mqtt else None, q.get('queued'),
            q.get('dropped'), app.vals[6], free, largest, app.last_error or app.log.last_error)


def _chart(view, data):
    today, yday = data
    peak = 0.1
    sums = [None, None]
    for k in (0, 1):
        for v in data[k]:
            if v is not None:
                sums[k] = v if sums[k] is None else sums[k] + v
                peak = v if v > peak else peak
    t = fmt(3, sums[0])
    y = 'Yday ' + fmt(3, sums[1])
    left = 'Today %skWh' % t
    view.use(_FSMALL)
    if view.width(left) + view.width(y) + 6 > 156:
        left = t + 'kWh'
    view.text(left, 2, 1, _BLUE)
    view.text(y, 158 - view.width(y), 1, _GREY)
    line = view.lcd.line
    # axis and 6-hour ticks first, so yesterday's zero level stays visible on top
    line(_X0, _BASE + 1, _X0 + 143, _BASE + 1, _DARK)
    for i in range(0, 49, 12):
        x = _X0 + i * 3 - (i == 48)
        line(x, _BASE + 2, x, 79, _GREY)
    for i in range(48):
        v = today[i]
        if v is not None and v > 0:
            h = max(1, min(_SPAN, rint(v * _SPAN / peak)))
            view.fill(_X0 + i * 3, _BASE - h + 1, 2, h, _BLUE)
    # yesterday as a grey step line over the bars
    prev = None
    for i in range(48):
        v = yday[i]
        if v is None or v < 0:
            prev = None
            continue
        h = min(_SPAN, rint(v * _SPAN / peak))
        row = _BASE - h + 1 if h > 0 else _BASE + 1
        x = _X0 + i * 3
        if prev is not None and prev != row:
            line(x, prev, x, row, _GREY)
        line(x, row, x + 2, row, _GREY)
        prev = row


def lines(d):
    """(channel, LQI, RSSI dBm, uptime s, boots, Wi-Fi up, MQTT connected or None when off,
    queued, dropped or None when Ambient is off, export kWh, free heap, largest free block, last
    error) -> the page's 8 lines."""
    ch, lqi, rssi, up, boots, wifi, mqtt, queued, dropped, export, free, largest, err = d

    def s(v):
        return '-' if v is None else v
    up = '-' if up is None else '%dd%02dh%02dm' % (up // 86400, up // 3600 % 24, up // 60 % 60)
    return ['ch %s LQI %s %sdBm' % (s(ch), s(lqi), '-' if rssi is None else rint(rssi)),
            'up %s boot %s' % (up, s(boots)),
            'Wi-Fi %s MQTT %s' % ('up' if wifi else 'down', 'off' if mqtt is None else ('up' if mqtt else 'down')),
            'Ambient %s' % ('off' if dropped is None else 'queued %s lost %s' % (queued, dropped)),
            'export %s kWh' % fmt(3, export),
            'heap %s free' % s(free),
            'largest block %s' % s(largest),
            'error %s' % s(err)]
