"""Stand-ins for the M5StickC's hardware inside the MicroPython VM of the heap footprint run
(tools/footprint.mjs): what apps/SMM.py builds on the device, made as small as possible so that
the measured heap is the app's.

Everything behind them lives outside this heap: time is kept in JavaScript (`fpjs.now()`,
`CLOCK.sleep_ms(ms)`), and the UART, Wi-Fi, NTP and TCP peers are the emulator world in a CPython
process (tools/fp_world.py) reached through `rpc(...)`.  This module is imported and the
hardware built before the first device module is imported; the heap it holds is the baseline
that every figure is measured from.  The sockets carry bytes as hex strings across the boundary
(garbage the collector frees, as machine.UART.read() makes on the device).
"""
import sys
import gc
import binascii
import fpjs

_MASK = (1 << 30) - 1
_HALF = 1 << 29
# The ticks wrap (2^30 ms on the ESP32) comes this long into the run.
_WRAP_AT = 2 * 3600 * 1000


class Clock:
    """utime's ticks on virtual time `t` (ms since the run began), kept here in the VM so that
    time costs no call across to JavaScript; ticks wrap at 2^30 as on the ESP32, two hours in.
    `t` stays a small int for the 12 days small ints reach."""

    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return (self.t - _WRAP_AT) & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + _HALF) & _MASK) - _HALF

    def ticks_add(self, a, d):
        return (a + d) & _MASK

    def sleep_ms(self, ms):
        if ms > 0:
            self.t += ms


CLOCK = Clock()


def rpc(method, *args):
    """A call to the world (tools/fp_world.py) at the current virtual time."""
    return fpjs.rpc(method, CLOCK.t, *args)


class Uart:
    def __init__(self):
        self.quiet_until = -1   # the emulator has nothing to say before then (no write since)

    def any(self):
        # any() is asked at every loop pass: while the emulator has nothing due, answer here
        if CLOCK.t < self.quiet_until:
            return 0
        n, due = rpc('uart_any')
        self.quiet_until = (due if due >= 0 else 1 << 62) if n == 0 else -1
        return n

    def read(self, n=-1):
        self.quiet_until = -1
        h = rpc('uart_read', n)
        return binascii.unhexlify(h) if h else None

    def write(self, data):
        self.quiet_until = -1
        return rpc('uart_write', binascii.hexlify(data).decode())


class Lcd:
    """LoBo lcd with the constants views use; every drawing call does nothing."""
    PORTRAIT = 0
    LANDSCAPE = 1
    PORTRAIT_FLIP = 2
    LANDSCAPE_FLIP = 3
    FONT_Default = 0
    FONT_DejaVu18 = 1
    FONT_DejaVu24 = 2
    FONT_Ubuntu = 3
    FONT_DefaultSmall = 8
    CENTER = -9003
    RIGHT = -9004
    LASTX = 7000

    def _nop(self, *a, **k):
        return None
    orient = clear = fillRect = rect = line = font = print = text = setColor = _nop
    fill = pixel = roundrect = circle = _nop

    def textWidth(self, text):
        return 8 * len(text)

    def fontSize(self):
        return (8, 12)


class Button:
    def __init__(self):
        self.cb = {}

    def wasReleased(self, cb=None):
        self.cb['released'] = cb

    def wasPressed(self, cb=None):
        self.cb['pressed'] = cb
        return False

    def pressFor(self, t, cb=None):
        self.cb['long'] = cb


class Wdt:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


# ---- usocket / uselect stand-ins ----------------------------------------------------------------

AF_INET = 2
SOCK_STREAM = 1
SOL_SOCKET = 1
SO_REUSEADDR = 4
POLLIN = 1
POLLOUT = 4
POLLERR = 8
POLLHUP = 16
_EAGAIN = 11
_ETIMEDOUT = 110
_EINPROGRESS = 115


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    if not wifi():
        raise OSError(-202)     # lwIP's "no route"/DNS failure as seen on the ESP32
    return [(AF_INET, SOCK_STREAM, 0, '', ('10.0.0.2', port))]


class Socket:
    def __init__(self, *args):
        self.id = None
        self.timeout = None
        self.pending = None     # a non-blocking connect in progress: its result
        self.quiet = False      # nothing to read until the next send

    def settimeout(self, t):
        self.timeout = t

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def setsockopt(self, *args):
        pass

    def connect(self, addr):
        r = rpc('connect', addr[1])
        if self.timeout == 0:
            self.pending = r
            raise OSError(_EINPROGRESS)
        self._take(r)

    def _take(self, r):
        if r < 0:
            raise OSError(-r)
        self.id = r

    def _wait(self):
        """Nothing to read: a blocking or timed socket waits out its timeout."""
        if self.timeout == 0:
            raise OSError(_EAGAIN)
        CLOCK.sleep_ms(int((self.timeout or 30) * 1000))
        raise OSError(_ETIMEDOUT)

    def send(self, data, n=None):
        if self.id is None:
            raise OSError(128)          # ENOTCONN
        if n is not None:
            data = data[:n]
        self.quiet = False
        r = rpc('send', self.id, binascii.hexlify(data).decode())
        if r < 0:
            raise OSError(-r)
        return r
    write = send

    def sendall(self, data):
        self.send(data)

    def _recv(self, n):
        """Hex of what arrived, '' at EOF, None when nothing has.  The peers of tools/fp_world.py
        only ever answer what was sent: after a None nothing comes before the next send, so the
        polls in between are answered here."""
        if self.quiet:
            return None
        h = rpc('recv', self.id, n)
        self.quiet = h is None
        return h

    def recv(self, n):
        if self.id is None:
            raise OSError(128)
        h = self._recv(n)
        if h is None:
            self._wait()
        return binascii.unhexlify(h)

    def read(self, n):
        # MicroPython's stream read() on a non-blocking socket with nothing to read gives None
        if self.timeout == 0 and self.id is not None:
            h = self._recv(n)
            return None if h is None else binascii.unhexlify(h)
        return self.recv(n)

    def readinto(self, buf, n=None):
        data = self.recv(n or len(buf))
        buf[:len(data)] = data
        return len(data)

    def readline(self):
        out = b''
        while not out.endswith(b'\n'):
            c = self.recv(1)
            if not c:
                break
            out += c
        return out

    def close(self):
        if self.id is not None:
            rpc('close', self.id)
            self.id = None

    def fileno(self):
        return -1


def socket(*args):
    return Socket(*args)


class Poll:
    def __init__(self):
        self.socks = []

    def register(self, sock, mask=POLLIN | POLLOUT):
        self.socks.append((sock, mask))

    def unregister(self, sock):
        self.socks = [p for p in self.socks if p[0] is not sock]

    def modify(self, sock, mask):
        self.unregister(sock)
        self.register(sock, mask)

    def poll(self, timeout=-1):
        out = []
        for sock, mask in self.socks:
            if sock.pending is not None:
                r = sock.pending
                sock.pending = None
                if r < 0:
                    out.append((sock, POLLERR | POLLHUP))
                else:
                    sock.id = r
                    out.append((sock, POLLOUT & mask))
            elif mask & POLLOUT:
                out.append((sock, POLLOUT))
        if not out and timeout and timeout > 0:
            CLOCK.sleep_ms(timeout)
        return out

    def ipoll(self, timeout=-1):
        return self.poll(timeout)


def poll():
    return Poll()


# ---- the hardware bundle ----------------------------------------------------------------------

class Hw:
    pass


STATE = {'app': None, 'hw': None, 'seen': [], 'resets': 0, 'wdt': None, 'lines': 0, 'errors': 0, 'last_error': None}


def _sink(line):
    STATE['lines'] += 1
    if 'ERROR' in line:
        STATE['errors'] += 1
        STATE['last_error'] = line
    if VERBOSE[0]:
        print(line)


SCHEDULE = {}
VERBOSE = [False]


def wifi():
    """Wi-Fi per the scenario's schedule (asked at every loop pass: answered here)."""
    s = CLOCK.t // 1000
    for a, b in SCHEDULE.get('wifi_down', ()):
        if a <= s < b:
            return False
    return True


def make_hw(flash, schedule):
    """The hardware apps/SMM.py hands the app, as stand-ins."""
    SCHEDULE.update(schedule)
    hw = Hw()
    hw.uart = Uart()
    hw.lcd = Lcd()
    hw.btnA = Button()
    hw.btnB = Button()
    hw.ticks = CLOCK
    hw.flash = flash
    hw.wifi_connected = wifi
    hw.wifi_reconnect = lambda: None

    def ntp():
        t = rpc('ntp')
        if t is None:
            raise OSError(_ETIMEDOUT)
        return t
    hw.ntp = ntp
    hw.wdt = None

    def arm_wdt():
        if hw.wdt is None:
            hw.wdt = STATE['wdt'] = Wdt()
    hw.arm_wdt = arm_wdt

    def reset():
        STATE['resets'] += 1
    hw.reset = reset
    hw.socket = sys.modules['fp_device']
    hw.select = sys.modules['fp_device']
    hw.ssl = None
    hw.heap = lambda: (gc.mem_free(), gc.mem_free())   # no trial allocations here: they would
    # show up in the peak; apps/SMM.py finds the largest block by halving allocations
    hw.backlight = lambda percent: None
    hw.device_id = 'smm_footprint'
    STATE['hw'] = hw
    return hw


def press(which):
    """A button as the firmware reports it: 'a', 'b' released, 'A' held (long press)."""
    hw = STATE['hw']
    btn = hw.btnB if which == 'b' else hw.btnA
    cb = btn.cb.get('long' if which == 'A' else 'released')
    if cb is not None:
        cb()


# The app is handed this module as its socket and select modules.
sys.modules['usocket'] = sys.modules[__name__]
sys.modules['uselect'] = sys.modules[__name__]


def run(app, ms):
    """Step the app until the virtual clock has moved on by ms."""
    end = CLOCK.t + ms
    while CLOCK.t < end:
        app.step()


def _config(doc):
    import config
    try:
        return config.load(doc)
    finally:
        STATE['seen'] = list(sys.modules)
        del sys.modules['config']


def build(hw, doc):
    """The app as apps/SMM.py builds it (config, logger, App), on the stand-in hardware; like
    apps/SMM.py it drops lib/config.py once the file is read."""
    import log
    cfg = _config(doc)
    logger = log.Logger('smm', sink=_sink, clock=hw.ticks)
    logger.set_secrets(cfg.secrets())
    logger.set_level(cfg.log_level)
    from app import App
    app = STATE['app'] = App(hw, cfg, logger)
    return app


def summary():
    """What the run did, for the report: enough to tell a live app from a dead one."""
    app = STATE['app']
    out = {'log_lines': STATE['lines'], 'log_errors': STATE['errors'],
           'last_error': STATE['last_error'], 'device_resets': STATE['resets'],
           'wdt_feeds': STATE['wdt'].feeds if STATE['wdt'] else 0}
    q = getattr(app, 'ambient', None)
    if q is not None and hasattr(q, 'stats'):
        st = q.stats()
        for k in ('generated', 'sent', 'queued', 'dropped', 'spill_writes', 'in_file', 'restored'):
            if k in st:
                out['ambient_' + k] = st[k]
    return out


def imported():
    """The device modules imported so far, including config (dropped after build())."""
    return [k for k in set(list(sys.modules) + STATE['seen'])
            if k not in ('fp_device', 'fpjs', 'usocket', 'uselect', '__main__', 'micropython', 'gc',
                         'sys', 'json', 'os', 'binascii')]
