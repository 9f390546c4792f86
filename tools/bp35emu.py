"""BP35A1 / BP35C2 Wi-SUN module and low-voltage smart meter emulator (runs under MicroPython too).

A stand-in for the hardware: `Emulator(clock, ...)` speaks SKSTACK IP on an in-process UART
(`emu.uart`: any/read/readline/write) with the timing, line formats and quirks of the real modules
(echo, CR-only product commands, EVENT 21 before OK, two-space EPANDESC, ASCII or binary ERXUDP) and
answers ECHONET Lite requests from a meter *model* (seeded household load, optional solar export,
cumulative counters integrated from the power, half-hourly history, INF pushes).  Named fault
scenarios inject the misbehaviour seen in the field.  Time is taken from the clock it is handed
(`VirtualClock` for tests: sleep_ms moves time; `RealClock` for the PTY front end); the emulator
catches up lazily whenever its UART is touched.  It never opens devices, reads the host clock on
its own or prints; `truth()` tells what the meter served.  Its ECHONET codec is its own, so it can
serve as an independent oracle for lib/echonet.py.
"""

from util import hex_upper, struct
from util import from_epoch, to_epoch

TICKS_PERIOD = 1 << 30
_TICKS_MASK = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD >> 1

DAY = 86400
SLOT = 1800

SCENARIOS = ('drop', 'garbage', 'er09', 'join-fail', 'expire', 'txlimit', 'hang', 'swap',
             'inf-interleave', 'no-d3', 'no-e1', 'rollover', 'solar', 'two-wire', 'no-ropt')

# Tunables of the scenarios (override with Emulator(options={...})).
DEFAULT_OPTIONS = {
    'drop_rate': 35,          # percent of answers lost ('drop')
    'garbage_rate': 30,       # percent of output chunks preceded by junk ('garbage')
    'er09_rate': 35,          # percent of SKSENDTO followed by a stray FAIL ER09 ('er09')
    'join_fail_count': 2,     # joins that end in EVENT 24 ('join-fail')
    'expire_after_s': 120,    # session age after which the next request sees EVENT 29 ('expire')
    'txlimit_after': 3,       # requests after the join before EVENT 32 ('txlimit')
    'txlimit_s': 30,          # seconds until EVENT 33
    'hang_after': 3,          # requests after the join before the module hangs ('hang')
    'swap_after_s': 600,      # seconds after start when the meter is replaced ('swap')
    'interleave_every': 2,    # every n-th request gets an INF before its answer ('inf-interleave')
    'rollover_margin': 5,     # counts below 10**D7 at wall_start ('rollover')
    'join_timeout_ms': 38000,  # EVENT 24 after SKJOIN to an unreachable PAN
    'solar_peak_w': 3600,
    'drop_window_s': None,    # (from, to) seconds after start: every answer lost (any scenario)
}

ESV_SETI = 0x60
ESV_SETC = 0x61
ESV_GET = 0x62
ESV_INF_REQ = 0x63
ESV_SET_RES = 0x71
ESV_GET_RES = 0x72
ESV_INF = 0x73
ESV_INFC_RES = 0x7A
ESV_SETI_SNA = 0x50
ESV_SETC_SNA = 0x51
ESV_GET_SNA = 0x52

EOJ_METER = b'\x02\x88\x01'
EOJ_CONTROLLER = b'\x05\xff\x01'
EOJ_NODE = b'\x0e\xf0\x01'

PORT_ECHONET = 0x0E1A
PORT_PANA = 0x02CC
MULTICAST = 'FF02:0000:0000:0000:0000:0000:0000:0001'
MISSING = 0xFFFFFFFE

# E1 code -> (Joule per count at coefficient 1, multiplier in kWh)
UNITS = {0x00: (3600000, 1), 0x01: (360000, 0.1), 0x02: (36000, 0.01), 0x03: (3600, 0.001),
         0x04: (360, 0.0001), 0x0A: (36000000, 10), 0x0B: (360000000, 100),
         0x0C: (3600000000, 1000), 0x0D: (36000000000, 10000)}

# Household load (W) per local hour, November, heating in the evening.
_LOAD = (300, 260, 240, 230, 230, 260, 450, 900, 820, 560, 430, 400,
         480, 420, 380, 400, 520, 800, 1200, 1400, 1300, 1100, 800, 450)
# Clear-sky PV output per half-hour slot, per mille of peak (November, JST).
_SUN = {13: 40, 14: 110, 15: 220, 16: 360, 17: 500, 18: 640, 19: 760, 20: 860, 21: 930,
        22: 970, 23: 990, 24: 980, 25: 940, 26: 870, 27: 770, 28: 640, 29: 490, 30: 330,
        31: 170, 32: 50}

_GET_EPCS = (0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F,
             0xD3, 0xD7, 0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE7, 0xE8, 0xEA, 0xEB)
_SET_EPCS = (0x81, 0xE5)

_PRODUCT_CMDS = ('WOPT', 'ROPT', 'WUART', 'RUART')
_MAX_LINE = 600
_MAX_DATALEN = 1232

# register -> (kind, default); kinds: f flag, 2/4/8 hex width, s pairing-id text, r read-only flag
_REGS = {0x02: (2, 0x21), 0x03: (4, 0xFFFF), 0x07: (8, 0), 0x0A: ('s', ''), 0x15: ('f', 0),
         0x16: (8, 0x384), 0x17: ('f', 1), 0xA0: ('f', 1), 0xA1: ('f', 1), 0xA2: ('f', 0),
         0xFB: ('r', 0), 0xFD: (8, 0), 0xFE: ('f', 1), 0xFF: ('f', 0)}


# --------------------------------------------------------------------------- small helpers

def _h16(x):
    """A 16-bit bijective mixer that keeps every product below 2**30 (no long ints)."""
    x &= 0xFFFF
    x = (x * 0x3A5D + 0x1B7) & 0xFFFF
    x ^= x >> 7
    x = (x * 0x2C1B + 0x95) & 0xFFFF
    x ^= x >> 9
    x = (x * 0x1D35 + 0x3F) & 0xFFFF
    return x ^ (x >> 8)


def _hash(a, b, c):
    """Deterministic 0..65535 from three ints."""
    return _h16(_h16(_h16(a ^ (a >> 16)) ^ (b & 0xFFFF) ^ (b >> 16)) ^ (c & 0xFFFF))


class _Rng:
    """Tiny deterministic generator (small ints only)."""

    def __init__(self, seed, stream):
        self._a = _h16(seed ^ (seed >> 16) ^ (stream * 0x9E3))
        self._b = _h16(stream + 0x51 + (seed & 0xFF))

    def next16(self):
        self._a = _h16(self._a + 0x9E37)
        self._b = (self._b + 1) & 0xFFFF
        return _h16(self._a ^ self._b)

    def randint(self, lo, hi):
        if hi <= lo:
            return lo
        return lo + self.next16() % (hi - lo + 1)

    def chance(self, percent):
        return self.next16() % 100 < percent

    def bytes(self, n):
        out = bytearray(n)
        for i in range(n):
            out[i] = self.next16() & 0xFF
        return bytes(out)


def ll64(mac_hex):
    """16 hex digits of a MAC -> its FE80 link-local address (U/L bit flipped), as SKLL64 prints."""
    b0 = int(mac_hex[0:2], 16) ^ 0x02
    iid = '%02X' % b0 + mac_hex[2:16].upper()
    return 'FE80:0000:0000:0000:' + ':'.join([iid[i:i + 4] for i in range(0, 16, 4)])


def _norm_ip6(text):
    """Full-colon IPv6 text (8 groups of 1-4 hex digits) -> canonical upper form, else None."""
    parts = text.split(':')
    if len(parts) != 8:
        return None
    out = []
    for p in parts:
        if not 1 <= len(p) <= 4 or not _is_hex(p):
            return None
        out.append(('0000' + p.upper())[-4:])
    return ':'.join(out)


def _is_hex(text):
    if not text:
        return False
    for c in text:
        if c not in '0123456789abcdefABCDEF':
            return False
    return True


def _hexarg(text, maxdigits):
    """'1A' -> 26, None when not 1..maxdigits hex digits."""
    if not _is_hex(text) or len(text) > maxdigits:
        return None
    return int(text, 16)


def build_frame(tid, seoj, deoj, esv, props):
    """ECHONET Lite format-1 frame (the emulator's own codec)."""
    out = bytearray(b'\x10\x81')
    out += struct.pack('>H', tid & 0xFFFF)
    out += seoj
    out += deoj
    out.append(esv)
    out.append(len(props))
    for epc, edt in props:
        out.append(epc)
        out.append(len(edt))
        out += edt
    return bytes(out)


def parse_frame(data):
    """-> (tid, seoj, deoj, esv, [(epc, edt)]) or None when malformed."""
    n = len(data)
    if n < 12 or data[0] != 0x10 or data[1] != 0x81:
        return None
    tid = (data[2] << 8) | data[3]
    opc = data[11]
    pos = 12
    props = []
    for _ in range(opc):
        if pos + 2 > n:
            return None
        epc = data[pos]
        pdc = data[pos + 1]
        pos += 2
        if pos + pdc > n:
            return None
        props.append((epc, bytes(data[pos:pos + pdc])))
        pos += pdc
    if pos != n:
        return None
    return tid, bytes(data[4:7]), bytes(data[7:10]), data[10], props


def property_map(epcs):
    """Property map EDT: count + list (< 16) or count + 16-byte bitmap."""
    epcs = sorted(epcs)
    if len(epcs) < 16:
        return bytes([len(epcs)] + epcs)
    bitmap = bytearray(17)
    bitmap[0] = len(epcs)
    for epc in epcs:
        low = epc & 0x0F
        bit = (epc >> 4) - 8
        bitmap[1 + low] |= 1 << bit
    return bytes(bitmap)


# --------------------------------------------------------------------------- clocks

class _Ticks:
    """MicroPython's ticks arithmetic (they wrap at 2^30) over a subclass's now_ms()."""

    def ticks_ms(self):
        return self.now_ms() & _TICKS_MASK

    def ticks_diff(self, a, b):
        return ((a - b + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF

    def ticks_add(self, a, d):
        return (a + d) & _TICKS_MASK


class VirtualClock(_Ticks):
    """Virtual time for tests: sleep_ms moves time, nothing else does.  ticks wrap like MicroPython's."""

    def __init__(self, start_ms=0):
        self._now = start_ms

    def now_ms(self):
        return self._now

    def sleep_ms(self, ms):
        if ms > 0:
            self._now += int(ms)

    def sleep(self, s):
        self.sleep_ms(int(s * 1000))

    def advance(self, ms):
        self.sleep_ms(ms)


class RealClock(_Ticks):
    """Host time with the same interface; `scale` > 1 runs the emulated world faster than real time."""

    def __init__(self, scale=1.0):
        import time
        self._time = time
        self._scale = scale
        self._t0 = self._raw()

    def _raw(self):
        t = self._time
        if hasattr(t, 'monotonic'):
            return t.monotonic() * 1000.0
        return t.ticks_ms()

    def now_ms(self):
        return int((self._raw() - self._t0) * self._scale)

    def sleep_ms(self, ms):
        if ms > 0:
            self._time.sleep(ms / 1000.0 / self._scale)


# --------------------------------------------------------------------------- meter model

class Meter:
    """Low-voltage smart meter model: power is a pure function of unix time; counters integrate it.

    Within each local half-hour slot the net power is a seeded average plus a symmetric jitter in
    15-second steps (so the slot energy is exactly average x 1800 s and a slot never changes sign);
    counters are (offset + integral) // joule_per_count, wrapped at 10**digits.
    """

    def __init__(self, seed=1, tz_offset=9 * 3600, origin=0, coefficient=1, unit_code=0x01,
                 digits=6, export=False, two_wire=False, start_time=0, start_wh=7531300,
                 export_start_wh=0, installed_at=None, mac='001C6400030C12A4', channel=0x3B,
                 pan_id=None, solar_peak_w=3600, lqi=0xB2):
        self.seed = seed & 0xFFFF
        self.tz = tz_offset
        self.coefficient = coefficient if coefficient else 1
        if unit_code not in UNITS:
            unit_code = 0x01
        self.unit_code = unit_code
        self.multiplier = UNITS[unit_code][1]
        self.count_j = UNITS[unit_code][0] * self.coefficient
        self.digits = digits
        self.modulo = 10 ** digits
        self.export = export
        self.two_wire = two_wire
        self.solar_peak_w = solar_peak_w
        self.mac = mac.upper()
        self.ipv6 = ll64(self.mac)
        self.channel = channel
        self.pan_id = pan_id if pan_id is not None else int(self.mac[12:16], 16)
        self.lqi = lqi
        self.installed_at = installed_at
        # integration origin: local midnight of the day `origin` falls in
        self._d0 = (origin + tz_offset) // DAY
        self._pre_imp = [0]
        self._pre_exp = [0]
        self._memo_t = None
        self._memo_v = None
        self._start_time = start_time
        self._off_imp = 0
        self._off_exp = 0
        base = installed_at if installed_at is not None else start_time
        self._off_imp = (start_wh * 3600) - self.import_j(base)
        self._off_exp = (export_start_wh * 3600) - self.export_j(base)
        self.alive = True

    # -- slot model
    def _slot_avg(self, day, slot):
        """Average net power (W, int) of a local half-hour slot; negative = export."""
        h = slot >> 1
        base = _LOAD[h] if not slot & 1 else (_LOAD[h] + _LOAD[(h + 1) % 24]) // 2
        weekday = (day + 3) % 7
        f = 85 + _hash(self.seed, day, 977) % 30 + (12 if weekday >= 5 else 0)
        n = _hash(self.seed, day * 48 + slot, 31) % 41 - 20
        load = base * f * (100 + n) // 10000
        if self.export:
            sun = _SUN.get(slot, 0)
            if sun:
                cloud = 35 + _hash(self.seed, day, 555) % 66
                gust = 90 + _hash(self.seed, day * 48 + slot, 77) % 21
                load -= self.solar_peak_w * sun * cloud * gust // 10000000
        return load

    def _jitter(self, day, slot, j, avg):
        """Jitter (W) of the 15-s segment j (0..59; j + 60 carries the opposite sign) of a slot."""
        amp = abs(avg) * 30 // 100
        if amp == 0:
            return 0
        return (_hash(self.seed ^ 0x5A5A, day * 48 + slot, j) % (2 * amp + 1)) - amp

    def _split(self, t):
        lt = t + self.tz
        day = lt // DAY
        rem = lt - day * DAY
        return day, rem // SLOT, rem % SLOT

    def _day_energy(self, day):
        imp = 0
        exp = 0
        for s in range(48):
            a = self._slot_avg(day, s)
            if a > 0:
                imp += a * SLOT
            else:
                exp -= a * SLOT
        return imp, exp

    def _prefix(self, day):
        k = day - self._d0
        if k < 0:
            return None, None
        while len(self._pre_imp) <= k:
            imp, exp = self._day_energy(self._d0 + len(self._pre_imp) - 1)
            self._pre_imp.append(self._pre_imp[-1] + imp)
            self._pre_exp.append(self._pre_exp[-1] + exp)
        return self._pre_imp[k], self._pre_exp[k]

    def _integral(self, t):
        """(import J, export J) from the origin to unix time t, or (None, None) before the origin."""
        if t == self._memo_t:
            return self._memo_v
        v = self._integral2(t)
        self._memo_t = t
        self._memo_v = v
        return v

    def _integral2(self, t):
        day, slot, tau = self._split(t)
        imp, exp = self._prefix(day)
        if imp is None:
            return None, None
        for s in range(slot):
            a = self._slot_avg(day, s)
            if a > 0:
                imp += a * SLOT
            else:
                exp -= a * SLOT
        a = self._slot_avg(day, slot)
        if a != 0 and tau:
            seg = tau // 15
            part = a * tau
            for j in range(min(seg, 60)):
                part += 15 * self._jitter(day, slot, j, a)
            for j in range(seg - 60):
                part -= 15 * self._jitter(day, slot, j, a)
            rem = tau - seg * 15
            if rem:
                part += rem * (self._jitter(day, slot, seg, a) if seg < 60
                               else -self._jitter(day, slot, seg - 60, a))
            if a > 0:
                imp += part
            else:
                exp -= part
        return imp, exp

    def import_j(self, t):
        return self._integral(t)[0]

    def export_j(self, t):
        return self._integral(t)[1]

    # -- public model
    def power_at(self, t):
        """Instantaneous net power (W, negative when exporting) at unix time t."""
        day, slot, tau = self._split(t)
        a = self._slot_avg(day, slot)
        seg = tau // 15
        if seg < 60:
            return a + self._jitter(day, slot, seg, a)
        return a - self._jitter(day, slot, seg - 60, a)

    def currents_at(self, t):
        """(R, T) in units of 0.1 A (T None on two-wire), consistent with power_at (~100 V/phase)."""
        w = self.power_at(t)
        if self.two_wire:
            return _clamp16((w + (5 if w >= 0 else -5)) // 10), None
        day, slot, _ = self._split(t)
        share = 52 + _hash(self.seed, day * 48 + slot, 4242) % 21
        r = (w * share + (500 if w >= 0 else -500)) // 1000
        total = (w + (5 if w >= 0 else -5)) // 10
        return _clamp16(r), _clamp16(total - r)

    def _count(self, joules, offset, t):
        if joules is None:
            return None
        if self.installed_at is not None and t < self.installed_at:
            return None
        raw = (offset + joules) // self.count_j
        if raw < 0:
            raw = 0
        return raw % self.modulo

    def count_at(self, t):
        """E0 count (wrapped at 10**digits) at unix time t; None when not measured."""
        return self._count(self.import_j(t), self._off_imp, t)

    def export_count_at(self, t):
        """E3 count at unix time t; None when not measured."""
        return self._count(self.export_j(t), self._off_exp, t)

    def kwh(self, count):
        return None if count is None else count * self.coefficient * self.multiplier

    def local_time(self, y, mo, d, h=0, mi=0, s=0):
        """Unix time of a local (meter zone) civil time."""
        return to_epoch(y, mo, d, h, mi, s) - self.tz

    def count_at_local(self, y, mo, d, h=0, mi=0):
        """E0 count at a local civil time, e.g. 00:00 of a billing day."""
        return self.count_at(self.local_time(y, mo, d, h, mi))

    def last_slot(self, t):
        """Unix time of the latest :00/:30 measurement at or before t."""
        lt = t + self.tz
        return lt - lt % SLOT - self.tz

    def history(self, day_back, now, reverse=False):
        """E2/E4 content: (day_back, [48 counts or None]) for the local day `day_back` days ago."""
        lt = now + self.tz
        day = lt // DAY - day_back
        start = day * DAY - self.tz
        imp, exp = self._prefix(day)
        off = self._off_exp if reverse else self._off_imp
        vals = []
        for i in range(48):
            ts = start + i * SLOT
            if ts > now or imp is None:
                vals.append(None)
            else:
                vals.append(self._count(exp if reverse else imp, off, ts))
                a = self._slot_avg(day, i)
                if a > 0:
                    imp += a * SLOT
                else:
                    exp -= a * SLOT
        return day_back, vals

    def snapshot(self, t):
        r, tt = self.currents_at(t)
        count = self.count_at(t)
        exp = self.export_count_at(t)
        slot = self.last_slot(t)
        return {
            'time': t,
            'power_w': self.power_at(t),
            'current_r_a': r / 10.0,
            'current_t_a': None if tt is None else tt / 10.0,
            'current_r_da': r,
            'current_t_da': tt,
            'cumulative_count': count,
            'cumulative_kwh': self.kwh(count),
            'export_count': exp,
            'export_kwh': self.kwh(exp),
            'fixed_time': slot,
            'fixed_count': self.count_at(slot),
            'fixed_export_count': self.export_count_at(slot),
            'coefficient': self.coefficient,
            'unit': self.multiplier,
            'unit_code': self.unit_code,
            'digits': self.digits,
            'channel': self.channel,
            'pan_id': self.pan_id,
            'mac': self.mac,
            'ipv6': self.ipv6,
        }


def _clamp16(v):
    if v > 0x7FFD:
        return 0x7FFD
    if v < -0x7FFF:
        return -0x7FFF
    return v


# --------------------------------------------------------------------------- UART

class EmuUart:
    """The host side of the module's serial line: what machine.UART offers."""

    def __init__(self, emu):
        self._emu = emu

    def __call__(self):
        return self

    def any(self):
        self._emu.poll()
        return self._emu._rx_len()

    def read(self, n=-1):
        self._emu.poll()
        return self._emu._rx_take(n, False)

    def readline(self):
        self._emu.poll()
        return self._emu._rx_take(-1, True)

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self._emu.poll()
        self._emu._feed(bytes(data))
        return len(data)


# --------------------------------------------------------------------------- emulator

class Emulator:
    """BP35A1 (or BP35C2) + smart meter.  See the module docstring; `emu.uart` is the serial line."""

    def __init__(self, clock, dialect='bp35a1', scenario=None, seed=1, wall_start=None,
                 tz_offset=9 * 3600, rbid=None, password=None, d3=1, e1=0x01, d7=6,
                 session_lifetime=86400, start_wh=None, export_start_wh=None, export=None,
                 two_wire=None, rxbuf=4096, baud=115200, options=None, lqi=None):
        if dialect not in ('bp35a1', 'bp35c2'):
            raise ValueError('dialect')
        if scenario is None:
            scenario = ()
        elif isinstance(scenario, str):
            scenario = tuple([s for s in scenario.replace(',', ' ').split() if s])
        for s in scenario:
            if s not in SCENARIOS:
                raise ValueError('unknown scenario %s' % s)
        self.scenarios = tuple(scenario)
        self.clock = clock
        self.dialect = dialect
        self.c2 = dialect == 'bp35c2'
        self.seed = seed
        self.opts = dict(DEFAULT_OPTIONS)
        if options:
            self.opts.update(options)
        if wall_start is None:
            wall_start = to_epoch(2026, 11, 25, 15, 0, 0)
        self.wall_start = wall_start
        self.tz = tz_offset
        self._rbid = rbid
        self._password = password
        self.session_lifetime = session_lifetime
        self.rxbuf = rxbuf
        self.baud = baud
        self._t0 = clock.now_ms()
        self._t = self._t0

        self.has_d3 = d3 is not None and not self._sc('no-d3')
        self.has_e1 = e1 is not None and not self._sc('no-e1')
        if export is None:
            export = self._sc('solar')
        if two_wire is None:
            two_wire = self._sc('two-wire')
        self.export = export
        self._rng_time = _Rng(seed, 1)
        self._rng_fault = _Rng(seed, 2)
        self._rng_misc = _Rng(seed, 3)
        unit_code = e1 if e1 is not None else 0x01
        coef = d3 if d3 else 1
        unit_j = UNITS.get(unit_code, UNITS[0x01])[0] * coef
        if start_wh is None:
            start_wh = 7531300
        if self._sc('rollover'):
            modulo = 10 ** d7
            start_wh = ((modulo - self.opts['rollover_margin']) * unit_j + unit_j // 2) // 3600
        if export_start_wh is None:
            export_start_wh = 1234500 if export else 0
        r = self._rng_misc
        channels = (0x31, 0x33, 0x37, 0x39, 0x3B, 0x21, 0x2D, 0x3C)
        mac = '001C6400%04X%04X' % (r.next16(), r.next16())
        self._meter_args = {
            'seed': seed, 'tz_offset': tz_offset, 'origin': wall_start - 121 * DAY,
            'coefficient': coef, 'unit_code': unit_code, 'digits': d7, 'export': export,
            'two_wire': two_wire, 'solar_peak_w': self.opts['solar_peak_w'],
        }
        self.meter = Meter(start_time=wall_start, start_wh=start_wh,
                           export_start_wh=export_start_wh, mac=mac,
                           channel=channels[seed % len(channels)],
                           lqi=lqi if lqi is not None else 0x90 + r.randint(0, 0x38),
                           **self._meter_args)
        self.meters = [self.meter]
        self.coefficient_served = d3 if d3 is not None else 1
        self.e1_code = unit_code
        self.d7 = d7
        self.own_mac = '001D1291%04X%04X' % (r.next16(), r.next16())
        self.own_ip = ll64(self.own_mac)
        self.meter_tid = r.next16()
        self.serial_number = ('SMEMU%07d' % (seed % 10000000)).encode()

        self.stats = {'requests': 0, 'answers': 0, 'tx_bytes': 0, 'rx_bytes': 0, 'joins': 0,
                      'sessions': 0, 'scans': 0, 'wopt_writes': 0, 'flash_writes': 0, 'resets': 0,
                      'dropped': 0, 'lost_answers': 0, 'infs': 0, 'commands': 0, 'fails': 0,
                      'sends': 0, 'ignored': 0, 'bad_frames': 0, 'garbage': 0, 'reauths': 0,
                      'expired': 0, 'swaps': 0}
        self.wopt = 0x00            # factory default: binary ERXUDP data (flash: survives SKRESET)
        self.wuart = 0x00
        self._truth = None
        self.truth_seq = 0
        self.trace = None           # optional callable(str) for the front end

        self._q = []                # [t, seq, fn, arg, epoch]
        self._seq = 0
        self._wire = []             # [start_ms, bytes, delivered]
        self._wire_free = self._t
        self._rx = bytearray()
        self._rxpos = 0

        self._line = bytearray()
        self._mode = 0              # 0 line, 1 SKSENDTO data
        self._send_hdr = None
        self._payload = bytearray()
        self._busy_until = self._t
        self._last_cmd = ''

        self._join_failures = 0
        self._requests_since_join = 0
        self._txlimit_done = False
        self._hang_done = False
        self.hung = False
        self._epoch = 0
        self._e5 = 0
        self._location = 0
        self._pending_node_inf = False
        self._sess_id = 0
        self._sess_counter = 0
        self._now = self._t
        self.uart = EmuUart(self)
        self._reset_state()
        if self._sc('swap'):
            self._at(self._t + self.opts['swap_after_s'] * 1000, self._swap, None, False)
        self._schedule_inf()

    # ---------------------------------------------------------------- public helpers
    def wall_ms(self, t=None):
        """Unix time (ms) of the emulated world at clock time t (default: now)."""
        if t is None:
            t = self._t
        return self.wall_start * 1000 + (t - self._t0)

    def wall(self, t=None):
        return self.wall_ms(t) // 1000

    def truth(self):
        """What the meter last served (model values at that moment, overridden by the served ones)."""
        if self._truth is None:
            d = self.meter.snapshot(self.wall())
            d['served'] = []
            d['tid'] = None
            return d
        return dict(self._truth)

    def session_active(self):
        return self._session

    def poll(self):
        """Catch up with the clock: run everything due and deliver the bytes that have arrived."""
        now = self.clock.now_ms()
        if now > self._now:
            self._now = now
        self._run(now)

    def next_due_ms(self):
        """Clock time of the next scheduled happening (None when idle), for real-time drivers."""
        best = None
        if self._q:
            best = self._q[0][0]
        if self._wire:
            w = self._wire[0]
            left = len(w[1]) - w[2]
            t = w[0] + self._dur(w[2] + 1) if left else w[0]
            if best is None or t < best:
                best = t
        return best

    # ---------------------------------------------------------------- state
    def _sc(self, name):
        return name in self.scenarios

    def _reset_state(self):
        self.regs = {}
        for k in _REGS:
            self.regs[k] = _REGS[k][1]
        self._pwd = None
        self._id = None
        self._session = False
        self._session_peer = None
        self._session_start = 0
        self._joining = False
        self._scanning = False
        self._txlimit = False
        self._reauth_due = None

    def _at(self, t, fn, arg=None, module=True):
        """Schedule fn(arg) at clock time t; module actions are cancelled by SKRESET."""
        self._seq += 1
        ev = [t, self._seq, fn, arg, self._epoch if module else None]
        q = self._q
        i = len(q)
        while i > 0 and (q[i - 1][0] > t):
            i -= 1
        q.insert(i, ev)

    def _run(self, upto):
        """Process the timeline up to upto (may run ahead of the clock while the module is busy);
        bytes reach the host's receive buffer only when the clock has reached them."""
        q = self._q
        while q and q[0][0] <= upto:
            ev = q.pop(0)
            if ev[0] > self._t:
                self._t = ev[0]
            self._deliver(self._t if self._t < self._now else self._now)
            if ev[4] is not None and ev[4] != self._epoch:
                continue
            ev[2](ev[3])
        if upto > self._t:
            self._t = upto
        self._deliver(self._now)

    # ---------------------------------------------------------------- output path
    def _dur(self, nbytes):
        if not self.baud:
            return 0
        return (nbytes * 10000 + self.baud - 1) // self.baud

    def _emit(self, data, junkable=True):
        if self.hung or not data:
            return
        if isinstance(data, str):
            data = data.encode()
        if junkable and self._sc('garbage') and self._rng_fault.chance(self.opts['garbage_rate']):
            data = self._junk() + data
        start = self._t if self._t > self._wire_free else self._wire_free
        self._wire.append([start, data, 0])
        self._wire_free = start + self._dur(len(data))
        if self.trace:
            self.trace(data)

    def _junk(self):
        r = self._rng_fault
        self.stats['garbage'] += 1
        kind = r.randint(0, 9)
        if kind < 4:
            n = r.randint(2, 10)
            raw = bytearray(r.bytes(n))
            for i in range(n):
                if raw[i] in (10, 13):
                    raw[i] = 0xFF
            return bytes(raw) + b'\r\n'
        if kind < 6:
            return b'\r\n' * r.randint(2, 12)
        if kind < 8:
            text = self._last_cmd
            if not text or text.startswith('SKSET'):
                text = 'SKSENDTO 1'      # never replay a secret
            cut = r.randint(1, len(text))
            return text[:cut].encode()
        return b'S\r\n'

    def _deliver(self, upto):
        wire = self._wire
        while wire:
            w = wire[0]
            start, data, done = w
            if upto < start:
                return
            if self.baud:
                can = (upto - start) * self.baud // 10000
                if can > len(data):
                    can = len(data)
            else:
                can = len(data)
            if can > done:
                self._rx_put(data[done:can])
                w[2] = can
            if can < len(data):
                return
            wire.pop(0)

    def _rx_put(self, chunk):
        room = self.rxbuf - (len(self._rx) - self._rxpos)
        if room < len(chunk):
            self.stats['dropped'] += len(chunk) - max(room, 0)
            chunk = chunk[:max(room, 0)]
        if chunk:
            self._rx += chunk

    def _rx_len(self):
        return len(self._rx) - self._rxpos

    def _rx_take(self, n, line):
        avail = len(self._rx) - self._rxpos
        if avail <= 0:
            return None
        pos = self._rxpos
        if line:
            end = self._rx.find(b'\n', pos)
            end = len(self._rx) if end < 0 else end + 1
        else:
            end = len(self._rx) if n is None or n < 0 else min(len(self._rx), pos + n)
        out = bytes(self._rx[pos:end])
        self._rxpos = end
        if self._rxpos >= len(self._rx):
            self._rx = bytearray()
            self._rxpos = 0
        elif self._rxpos > 2048:
            self._rx = self._rx[self._rxpos:]
            self._rxpos = 0
        self.stats['rx_bytes'] += len(out)
        return out

    # ---------------------------------------------------------------- line formats
    def _event(self, num, sender, param=None):
        s = 'EVENT %02X %s' % (num, sender)
        if self.c2:
            s += ' 0'
        if param is not None:
            s += ' %02X' % param
        return s + '\r\n'

    def _erxudp(self, sender, rport, lport, lla, secured, data, dest=None, lqi=0xB0):
        if dest is None:
            dest = self.own_ip
        head = 'ERXUDP %s %s %04X %04X %s ' % (sender, dest, rport, lport, lla)
        if self.c2 and self.regs[0xA2]:
            head += '%02X ' % (lqi & 0xFF)
        head += '1' if secured else '0'
        if self.c2:
            head += ' 0'
        head += ' %04X ' % len(data)
        if self._ascii():
            return (head + hex_upper(data) + '\r\n').encode()
        return head.encode() + data + b'\r\n'

    def _ascii(self):
        return self._sc('no-ropt') or (self.wopt & 1) == 1

    # ---------------------------------------------------------------- input path
    def _feed(self, data):
        self.stats['tx_bytes'] += len(data)
        for b in data:
            if self._mode == 1:
                self._payload.append(b)
                if len(self._payload) >= self._send_hdr[-1]:
                    self._mode = 0
                    self._exec_send(bytes(self._payload))
                continue
            if b == 13:
                if self._line_starts_product():
                    self._dispatch(True)
                continue
            if b == 10:
                self._dispatch(False)
                continue
            if len(self._line) >= _MAX_LINE:
                self._line = bytearray()
                self._exec_at(self._fail_er09, None)
                continue
            self._line.append(b)
            if b == 32 and len(self._line) > 9 and bytes(self._line[:9]) == b'SKSENDTO ':
                self._check_send_header()

    def _line_starts_product(self):
        ln = self._line
        for c in _PRODUCT_CMDS:
            n = len(c)
            if len(ln) >= n and bytes(ln[:n]) == c.encode() and (len(ln) == n or ln[n] == 32):
                return True
        return False

    def _fail_er09(self, _):
        self._emit('FAIL ER09\r\n')

    def _exec_at(self, fn, arg):
        """Run a command handler when the module gets to it (after the one it is busy with)."""
        t = self._busy_until if self._busy_until > self._t else self._t
        if t > self._t:
            self._run(t)
        fn(arg)

    def _dispatch(self, product):
        raw = bytes(self._line)
        self._line = bytearray()
        try:
            text = raw.decode()
        except Exception:
            text = None
        self._exec_at(self._command, (text, raw, product))

    def _command(self, arg):
        text, raw, product = arg
        if text is None:
            if not self.hung:
                self._echo(raw)
                self._fail('ER04')
            return
        text = text.strip()
        if not text:
            return
        toks = text.split(' ')
        toks = [t for t in toks if t != '']
        name = toks[0]
        args = toks[1:]
        if self.hung:
            if name == 'SKRESET':
                self.hung = False
                self._echo(raw)
                self._skreset(args)
            return
        self.stats['commands'] += 1
        self._last_cmd = text
        self._echo(raw, product)
        h = _HANDLERS.get(name)
        if h is None:
            self._fail('ER04', product)
            return
        getattr(self, h)(args)

    def _echo(self, raw, product=False):
        if self.regs[0xFE]:
            self._emit(raw + b'\r\n', False)

    def _ok(self, value=None, product=False):
        if product:
            self._emit('OK\r' if value is None else 'OK %s\r' % value)
        else:
            self._emit('OK\r\n')

    def _fail(self, code, product=False):
        self.stats['fails'] += 1
        self._emit('FAIL %s\r\n' % code)

    # ---------------------------------------------------------------- product configuration commands
    def _wopt(self, args):
        if self._sc('no-ropt'):
            return self._fail('ER04', True)
        if len(args) != 1:
            return self._fail('ER05', True)
        v = _hexarg(args[0], 2)
        if v is None:
            return self._fail('ER06', True)
        self.wopt = v
        self.stats['wopt_writes'] += 1
        self.stats['flash_writes'] += 1
        self._ok(None, True)

    def _ropt(self, args):
        if self._sc('no-ropt'):
            return self._fail('ER04', True)
        if args:
            return self._fail('ER05', True)
        self._ok('%02X' % self.wopt, True)

    def _wuart(self, args):
        if len(args) != 1:
            return self._fail('ER05', True)
        v = _hexarg(args[0], 2)
        if v is None:
            return self._fail('ER06', True)
        self.wuart = v
        self.stats['flash_writes'] += 1
        self._ok(None, True)

    def _ruart(self, args):
        if args:
            return self._fail('ER05', True)
        self._ok('%02X' % self.wuart, True)

    # ---------------------------------------------------------------- simple SK commands
    def _skver(self, args):
        if args:
            return self._fail('ER05')
        self._emit('EVER %s\r\n' % ('1.5.2' if self.c2 else '1.2.10'))
        self._ok()

    def _skappver(self, args):
        if args:
            return self._fail('ER05')
        self._emit('EAPPVER %s\r\n' % ('rev31a' if self.c2 else 'rev26e'))
        self._ok()

    def _skinfo(self, args):
        if args:
            return self._fail('ER05')
        self._emit('EINFO %s %s %02X %04X %s\r\n' % (self.own_ip, self.own_mac, self.regs[0x02],
                                                     self.regs[0x03], '0' if self.c2 else 'FFFE'))
        self._ok()

    def _skreset(self, args):
        if args:
            return self._fail('ER05')
        self.stats['resets'] += 1
        self._epoch += 1
        self._reset_state()
        self._mode = 0
        self._ok()

    def _sksreg(self, args):
        if not 1 <= len(args) <= 2:
            return self._fail('ER05')
        name = args[0].upper()
        reg = _hexarg(name[1:], 2) if name[:1] == 'S' else None
        if reg is None or reg not in _REGS:
            return self._fail('ER06')
        kind = _REGS[reg][0]
        if len(args) == 1:
            v = self.regs[reg]
            if reg == 0xFB:
                v = 1 if self._txlimit else 0
            if kind == 's':
                text = v
            elif kind in ('f', 'r'):
                text = '%X' % v
            else:
                text = ('%0' + str(kind) + 'X') % v
            self._emit('ESREG %s\r\n' % text)
            return self._ok()
        val = args[1]
        if kind == 'r':
            return self._fail('ER06')
        if kind == 's':
            if len(val) != 8:
                return self._fail('ER06')
            self.regs[reg] = val
            return self._ok()
        width = 1 if kind == 'f' else kind
        v = _hexarg(val, width)
        if v is None or (kind == 'f' and v > 1):
            return self._fail('ER06')
        if reg == 0x02 and not 0x21 <= v <= 0x3C:
            return self._fail('ER06')
        if reg == 0x16 and v < 0x3C:
            return self._fail('ER06')
        self.regs[reg] = v
        self._ok()

    def _sksetpwd(self, args):
        if len(args) != 2:
            return self._fail('ER05')
        n = _hexarg(args[0], 2)
        if n is None or not 1 <= n <= 32:
            return self._fail('ER06')
        pwd = args[1]
        if len(pwd) < n:
            pwd = pwd + '\x00'    # too short: the module takes undefined bytes
        self._pwd = pwd[:n]
        self._ok()

    def _sksetrbid(self, args):
        if len(args) != 1:
            return self._fail('ER05')
        if len(args[0]) != 32:
            return self._fail('ER06')
        self._id = args[0]
        self.regs[0x0A] = args[0][-8:]
        self._ok()

    def _skll64(self, args):
        if len(args) != 1:
            return self._fail('ER05')
        if len(args[0]) != 16 or not _is_hex(args[0]):
            return self._fail('ER06')
        self._emit(ll64(args[0]) + '\r\n')

    def _sksave(self, args):
        self.stats['flash_writes'] += 1
        self._ok()

    def _sknop(self, args):
        self._ok()

    def _skping(self, args):
        if len(args) != 1 and not (self.c2 and len(args) == 2):
            return self._fail('ER05')
        ip = _norm_ip6(args[0])
        if ip is None:
            return self._fail('ER06')
        self._ok()
        if self._reachable(ip):
            self._at(self._t + self._rng_time.randint(60, 200), self._emit_line,
                     'EPONG %s%s\r\n' % (ip, ' 0' if self.c2 else ''))

    def _emit_line(self, line):
        self._emit(line)

    # ---------------------------------------------------------------- scan
    def _skscan(self, args):
        want = 4 if self.c2 else 3
        if len(args) != want:
            return self._fail('ER05')
        mode = _hexarg(args[0], 1)
        mask = _hexarg(args[1], 8)
        dur = _hexarg(args[2], 2)
        side = _hexarg(args[3], 1) if self.c2 else 0
        if mode not in (0, 2, 3) or mask is None or dur is None or dur > 14 or side not in (0, 1):
            return self._fail('ER06')
        if self._scanning:
            return self._fail('ER10')
        self.stats['scans'] += 1
        self._scanning = True
        self._ok()
        per10 = ((1 << dur) + 1) * 96     # tenths of a ms per channel (9.6 ms x (2^D + 1))
        t0 = self._t
        chans = [i for i in range(28) if mask >> i & 1]
        m = self.meter
        found = None
        if mode == 2 and side == 0 and m.alive:
            pair = self.regs[0x0A]
            want_pair = self._rbid[-8:] if self._rbid else pair
            if pair and pair == want_pair and (m.channel - 0x21) in chans:
                found = chans.index(m.channel - 0x21)
        if found is not None:
            at = t0 + (found * per10 + per10 // 2) // 10
            self._at(at, self._scan_found, (m, self.regs[0x0A]))
        end = t0 + (len(chans) * per10) // 10
        self._at(end, self._scan_end, (mode, chans))

    def _scan_found(self, arg):
        m, pair = arg
        lqi = (m.lqi + self._rng_time.randint(0, 6) - 3) & 0xFF
        s = self._event(0x20, self.own_ip)
        s += 'EPANDESC\r\n  Channel:%02X\r\n  Channel Page:09\r\n  Pan ID:%04X\r\n  Addr:%s\r\n  LQI:%02X\r\n' % (
            m.channel, m.pan_id, m.mac, lqi)
        if self.c2:
            s += '  Side:0\r\n'
        s += '  PairID:%s\r\n' % pair
        self._emit(s)

    def _scan_end(self, arg):
        mode, chans = arg
        self._scanning = False
        if mode == 0:
            s = self._event(0x1F, self.own_ip) + 'EEDSCAN\r\n'
            vals = []
            for i in chans:
                rssi = 0x20 + self._rng_time.randint(0, 0x18)
                if i == self.meter.channel - 0x21 and self.meter.alive:
                    rssi = self.meter.lqi
                vals.append('%02X %02X' % (0x21 + i, rssi))
            self._emit(s + ' '.join(vals) + '\r\n')
        else:
            self._emit(self._event(0x22, self.own_ip))

    # ---------------------------------------------------------------- join / PANA
    def _reachable(self, ip, meter=None):
        m = meter or self.meter
        if ip == MULTICAST:
            return m.alive and self.regs[0x02] == m.channel
        return (m.alive and ip == m.ipv6 and self.regs[0x02] == m.channel
                and self.regs[0x03] == m.pan_id)

    def _skjoin(self, args):
        if len(args) != 1:
            return self._fail('ER05')
        ip = _norm_ip6(args[0])
        if ip is None:
            return self._fail('ER06')
        if self._session or self._joining or self._pwd is None or self._id is None:
            return self._fail('ER10')
        self.stats['joins'] += 1
        self._joining = True
        self._ok()
        r = self._rng_time
        t = self._t
        m = self.meter
        ep = self._epoch
        if not self._reachable(ip):
            self._at(t + r.randint(30, 60), self._emit_line, self._event(0x21, ip, 0x02))
            self._at(t + self.opts['join_timeout_ms'], self._join_done, (ip, False, ep))
            return
        good = True
        if self._rbid is not None and self._id != self._rbid:
            good = False
        if self._password is not None and self._pwd != self._password:
            good = False
        if self._rbid is None and len(self._id) != 32:
            good = False
        if self._password is None and len(self._pwd) != 12:
            good = False
        if good and self._sc('join-fail') and self._join_failures < self.opts['join_fail_count']:
            good = False
            self._join_failures += 1
        self._at(t + r.randint(30, 60), self._emit_line, self._event(0x21, ip, 0x02))
        self._at(t + r.randint(80, 110), self._emit_line, self._event(0x02, ip))
        end = self._pana_exchange(t + 120, m, 4 if good else 3, good)
        if good:
            self._at(end + r.randint(80, 120), self._join_done, (ip, True, ep))
        else:
            self._at(end + r.randint(300, 500), self._join_done, (ip, False, ep))

    def _pana_exchange(self, t, m, steps, good, lifetime=None):
        """Schedule PANA ERXUDP/EVENT 21 pairs from t; returns the time of the last one."""
        r = self._rng_time
        sid = r.next16() << 16 | r.next16()
        sizes = (0x28, 0x68, 0x54, 0x58)
        for i in range(steps):
            t += r.randint(250, 300) if i == 0 else r.randint(620, 820)
            final = (i == 3)
            payload = self._pana_msg(sizes[i], i, sid, final, good, lifetime)
            self._at(t, self._emit_pana, (m, payload))
            t += r.randint(30, 60)
            self._at(t, self._emit_line, self._event(0x21, m.ipv6, 0x00))
        return t

    def _pana_msg(self, size, i, sid, final, good, lifetime):
        flags = (0xC000, 0x8000, 0x8000, 0xA000)[i]
        out = bytearray(struct.pack('>HHHHII', 0, size, flags, 2, sid, 0x136F0BFE + i))

        def avp(code, value):
            return struct.pack('>HHHH', code, 0, len(value), 0) + value

        if i == 0:
            out += avp(6, struct.pack('>I', 5)) + avp(5, struct.pack('>I', 12))
        elif final:
            if lifetime is None:
                lifetime = self._lifetime_s()
            out += avp(7, struct.pack('>I', 0 if good else 1))
            out += avp(2, b'\x03\xe4\x00\x04' if good else b'\x04\xe4\x00\x04')
            out += avp(4, struct.pack('>I', 1))
            out += avp(8, struct.pack('>I', lifetime))
        while len(out) < size:
            out += self._rng_time.bytes(min(16, size - len(out)))
        return bytes(out[:size])

    def _emit_pana(self, arg):
        m, payload = arg
        self._emit(self._erxudp(m.ipv6, PORT_PANA, PORT_PANA, m.mac, False, payload, lqi=m.lqi))

    def _lifetime_s(self):
        """Session-Lifetime the meter hands out (short in 'expire', where it is never re-authenticated
        in time: the lapse hits the first request after it)."""
        if self._sc('expire'):
            return self.opts['expire_after_s']
        return self.session_lifetime

    def _join_done(self, arg):
        ip, ok, ep = arg
        if ep != self._epoch:
            return
        self._joining = False
        if not ok:
            self._emit(self._event(0x24, ip))
            return
        self._establish(self.meter)
        self._emit(self._event(0x25, ip))
        # the meter's node-profile instance list to FF02::1 (V15, V24)
        delay = self._rng_time.randint(300, 900)
        if self._sc('inf-interleave'):
            self._pending_node_inf = True
        else:
            self._at(self._t + delay, self._node_inf, self.meter)

    def _establish(self, m):
        self._session = True
        self._session_peer = m
        self._session_start = self._t
        self._requests_since_join = 0
        self.stats['sessions'] += 1
        self._sess_counter += 1
        self._sess_id = self._sess_counter
        life_ms = self._lifetime_s() * 1000
        if self._sc('expire'):
            return
        if self.regs[0x17]:
            self._at(self._t + life_ms * 8 // 10, self._reauth, self._sess_id)
        else:
            self._at(self._t + life_ms, self._lapse, self._sess_id)

    def _reauth(self, sid):
        if not self._session or sid != self._sess_id:
            return
        m = self._session_peer
        if not m.alive:
            life_ms = self._lifetime_s() * 1000
            self._at(self._session_start + life_ms, self._lapse, sid)
            return
        end = self._pana_exchange(self._t, m, 4, True)
        self._at(end + 80, self._reauth_done, sid)

    def _reauth_done(self, sid):
        if not self._session or sid != self._sess_id:
            return
        self.stats['reauths'] += 1
        m = self._session_peer
        self._emit(self._event(0x25, m.ipv6))
        self._session_start = self._t
        self._sess_counter += 1
        self._sess_id = self._sess_counter
        life_ms = self._lifetime_s() * 1000
        self._at(self._t + life_ms * 8 // 10, self._reauth, self._sess_id)

    def _lapse(self, sid):
        if not self._session or sid != self._sess_id:
            return
        self._session = False
        self.stats['expired'] += 1
        self._emit(self._event(0x29, self._session_peer.ipv6))

    def _skrejoin(self, args):
        if args:
            return self._fail('ER05')
        if not self._session:
            return self._fail('ER10')
        self._ok()
        self._reauth(self._sess_id)

    def _skterm(self, args):
        if args:
            return self._fail('ER05')
        if not self._session:
            return self._fail('ER10')
        self._ok()
        m = self._session_peer
        self._session = False
        self._sess_id = -1
        r = self._rng_time
        if m.alive:
            t = self._t + r.randint(150, 250)
            self._at(t, self._emit_line, self._event(0x21, m.ipv6, 0x00))
            t += r.randint(200, 400)
            self._at(t, self._emit_pana, (m, self._pana_msg(0x10, 1, 0, False, True, None)))
            self._at(t + r.randint(20, 60), self._emit_line, self._event(0x27, m.ipv6))
        else:
            self._at(self._t + r.randint(150, 250), self._emit_line, self._event(0x21, m.ipv6, 0x01))
            self._at(self._t + 4000 + r.randint(0, 800), self._emit_line, self._event(0x28, m.ipv6))

    # ---------------------------------------------------------------- SKSENDTO
    def _check_send_header(self):
        try:
            text = bytes(self._line).decode()
        except Exception:
            return
        toks = [t for t in text.split(' ') if t]
        need = 7 if self.c2 else 6
        if len(toks) != need:
            return
        n = _hexarg(toks[-1], 4)
        if n is None or len(toks[-1]) != 4:
            return      # not a DATALEN: let the line end decide (ER06 / ER05)
        hdr = list(toks[1:-1]) + [n]
        raw = bytes(self._line)
        self._line = bytearray()
        if n == 0 or n > _MAX_DATALEN:
            self._exec_at(self._send_bad, raw)
            return
        self._mode = 1
        self._send_hdr = [raw] + hdr
        self._payload = bytearray()
        self._exec_at(self._send_begin, self._send_hdr)

    def _send_begin(self, hdr):
        """The header is in: echo it (no CRLF yet), or swallow the whole command when hung."""
        if not self.hung and self._session and self._sc('hang') and not self._hang_done and \
                self._requests_since_join >= self.opts['hang_after']:
            self._hang_done = True
            self.hung = True
        if self.hung:
            hdr.append(True)
            return
        if self.regs[0xFE]:
            self._emit(hdr[0], False)

    def _send_bad(self, raw):
        if self.hung:
            return
        self._echo(raw)
        self._fail('ER06')

    def _sksendto(self, args):
        # reached only when the line ended before a DATALEN header was complete
        return self._fail('ER05' if len(args) < (6 if self.c2 else 5) else 'ER06')

    def _exec_send(self, payload):
        hdr = self._send_hdr
        self._send_hdr = None
        self._exec_at(self._send, (hdr, payload))

    def _send(self, arg):
        hdr, payload = arg
        if hdr[-1] is True or self.hung:
            return
        raw = hdr[0]
        handle, ip, port, sec = hdr[1], hdr[2], hdr[3], hdr[4]
        side = hdr[5] if self.c2 else '0'
        self.stats['commands'] += 1
        self.stats['sends'] += 1
        self._last_cmd = raw.decode().strip()
        if self.regs[0xFE]:
            self._emit('\r\n', False)
        h = _hexarg(handle, 1)
        ipn = _norm_ip6(ip)
        p = _hexarg(port, 4)
        sv = _hexarg(sec, 1)
        sd = _hexarg(side, 1)
        if h is None or ipn is None or p is None or len(port) != 4 or sv not in (0, 1, 2) or \
                sd not in (0, 1) or not 1 <= h <= 6:
            return self._fail('ER06')
        if h not in (1, 2):
            return self._fail('ER10')
        secured = self._session and sv in (1, 2)
        if sv == 1 and not self._session:
            return self._fail('ER10')
        r = self._rng_time
        t = self._t
        t21 = t + r.randint(100, 300)
        self._busy_until = t21 + 2
        m = self.meter
        peer = self._session_peer if self._session else m
        deliver = (sd == 0 and self._reachable(ipn, peer) and (not self._session or peer is m))
        if self._session:
            self._requests_since_join += 1
        if (deliver and self._session and self._sc('txlimit') and not self._txlimit_done and
                self._requests_since_join >= self.opts['txlimit_after']):
            self._txlimit_done = True
            self._txlimit = True
            self._emit(self._event(0x32, self.own_ip))
            self._at(t + self.opts['txlimit_s'] * 1000, self._txlimit_end, None)
        ok_param = 0x00 if deliver and not self._txlimit else 0x01
        self._at(t21, self._emit_line, self._event(0x21, ipn, ok_param))
        self._at(t21 + 1, self._send_ok, None)
        if ok_param != 0x00:
            return
        if p != PORT_ECHONET or h != 1 or not secured:
            self.stats['ignored'] += 1
            return
        frame = parse_frame(payload)
        if frame is None:
            self.stats['bad_frames'] += 1
            return
        tid, seoj, deoj, esv, props = frame
        if deoj[0:2] != EOJ_METER[0:2] or deoj[2] not in (0, 1):
            self.stats['ignored'] += 1
            return
        self.stats['requests'] += 1
        # scenario: session lifetime lapses while this request is in flight
        if self._sc('expire') and self._t - self._session_start >= self.opts['expire_after_s'] * 1000:
            self._at(t21 + r.randint(120, 200), self._expire_mid, self._sess_id)
            return
        wall = self.wall(t21)
        answer = self._answer(tid, seoj, esv, props, wall)
        if answer is None:
            return
        t_ans = t21 + r.randint(150, 450) + len(answer) // 2
        if self._sc('drop') and self._rng_fault.chance(self.opts['drop_rate']):
            self.stats['lost_answers'] += 1
            return
        window = self.opts.get('drop_window_s')
        if window and window[0] * 1000 <= t21 - self._t0 < window[1] * 1000:
            self.stats['lost_answers'] += 1     # every answer in this window is lost
            return
        if self._sc('er09') and self._rng_fault.chance(self.opts['er09_rate']):
            if self._rng_fault.chance(50):
                self._at(t21 + 3, self._emit_line, 'S\r\n')
            self._at(t21 + 4, self._emit_line, 'FAIL ER09\r\n')
        if self._sc('inf-interleave') and (self.stats['requests'] - 1) % self.opts['interleave_every'] == 0:
            if self._pending_node_inf:
                self._pending_node_inf = False
                self._at(t_ans - 20, self._node_inf, m)
            else:
                self._at(t_ans - 20, self._push_inf, (m, False))
        self._at(t_ans, self._emit_answer, (m, answer))

    def _send_ok(self, _):
        self._emit('OK\r\n')

    def _txlimit_end(self, _):
        self._txlimit = False
        self._emit(self._event(0x33, self.own_ip))

    def _expire_mid(self, sid):
        if not self._session or sid != self._sess_id:
            return
        m = self._session_peer
        self._session = False
        self.stats['expired'] += 1
        self._emit(self._event(0x29, m.ipv6))
        # the module re-authenticates on its own
        end = self._pana_exchange(self._t, m, 4, True)
        self._at(end + 80, self._reestablish, m)

    def _reestablish(self, m):
        if self._session or not m.alive:
            return
        self._establish(m)
        self.stats['reauths'] += 1
        self._emit(self._event(0x25, m.ipv6))

    def _emit_answer(self, arg):
        m, data = arg
        if not m.alive:
            return
        self.stats['answers'] += 1
        self._emit(self._erxudp(m.ipv6, PORT_ECHONET, PORT_ECHONET, m.mac, True, data, lqi=m.lqi))

    # ---------------------------------------------------------------- meter side (ECHONET Lite)
    def _props_get(self):
        epcs = list(_GET_EPCS)
        if not self.has_d3:
            epcs.remove(0xD3)
        if not self.has_e1:
            epcs.remove(0xE1)
        return epcs

    def _inf_epcs(self):
        return [0x80, 0x81, 0x88, 0xEA, 0xEB] if self.export else [0x80, 0x81, 0x88, 0xEA]

    def _edt(self, epc, wall, snap, served):
        """EDT bytes of a property at unix time wall, or None when not served."""
        m = self.meter
        lt = wall + self.tz
        if epc == 0x80:
            return b'\x30'
        if epc == 0x81:
            return bytes([self._location])
        if epc == 0x82:
            return b'\x00\x00F\x00'
        if epc == 0x88:
            return b'\x42'
        if epc == 0x8A:
            return b'\x00\x00\x16'
        if epc == 0x8D:
            return self.serial_number
        if epc == 0x97:
            tm = from_epoch(lt)
            return bytes([tm[3], tm[4]])
        if epc == 0x98:
            tm = from_epoch(lt)
            return struct.pack('>HBB', tm[0], tm[1], tm[2])
        if epc == 0x9D:
            return property_map(self._inf_epcs())
        if epc == 0x9E:
            return property_map(_SET_EPCS)
        if epc == 0x9F:
            return property_map(self._props_get())
        if epc == 0xD3:
            return struct.pack('>I', self.coefficient_served) if self.has_d3 else None
        if epc == 0xD7:
            return bytes([self.d7])
        if epc == 0xE1:
            return bytes([self.e1_code]) if self.has_e1 else None
        if epc == 0xE5:
            return bytes([self._e5])
        if epc == 0xE0:
            c = snap['cumulative_count']
            served['cumulative_count'] = c
            return struct.pack('>I', MISSING if c is None else c)
        if epc == 0xE3:
            c = snap['export_count']
            served['export_count'] = c
            return struct.pack('>I', MISSING if c is None else c)
        if epc == 0xE7:
            served['power_w'] = snap['power_w']
            return struct.pack('>i', snap['power_w'])
        if epc == 0xE8:
            r = snap['current_r_da']
            t = snap['current_t_da']
            served['current_r_a'] = snap['current_r_a']
            served['current_t_a'] = snap['current_t_a']
            if t is None:
                return struct.pack('>hH', r, 0x7FFE)
            return struct.pack('>hh', r, t)
        if epc in (0xE2, 0xE4):
            day, vals = m.history(self._e5, wall, epc == 0xE4)
            out = bytearray(struct.pack('>H', day))
            for v in vals:
                out += struct.pack('>I', MISSING if v is None else v)
            served['history_day'] = day
            return bytes(out)
        if epc in (0xEA, 0xEB):
            slot = m.last_slot(wall)
            c = m.count_at(slot) if epc == 0xEA else m.export_count_at(slot)
            tm = from_epoch(slot + self.tz)
            served['fixed_time'] = slot
            served['fixed_count' if epc == 0xEA else 'fixed_export_count'] = c
            return struct.pack('>HBBBBBI', tm[0], tm[1], tm[2], tm[3], tm[4], tm[5],
                               MISSING if c is None else c)
        return None

    def _answer(self, tid, seoj, esv, props, wall):
        """The meter's reply frame to a request (None when it says nothing)."""
        if esv in (ESV_GET, ESV_INF_REQ):
            if not props:
                return None
            snap = self.meter.snapshot(wall)
            served = {}
            out = []
            ok = True
            for epc, _ in props:
                edt = self._edt(epc, wall, snap, served) if epc in _GET_EPCS else None
                if edt is None:
                    ok = False
                    out.append((epc, b''))
                else:
                    out.append((epc, edt))
            self._record(snap, served, tid, [p[0] for p in props])
            if esv == ESV_INF_REQ:
                if not ok:
                    return None
                return build_frame(tid, EOJ_METER, seoj, ESV_INF, out)
            return build_frame(tid, EOJ_METER, seoj, ESV_GET_RES if ok else ESV_GET_SNA, out)
        if esv in (ESV_SETC, ESV_SETI):
            if not props:
                return None
            out = []
            ok = True
            for epc, edt in props:
                if epc == 0xE5 and len(edt) == 1 and edt[0] <= 99:
                    self._e5 = edt[0]
                    out.append((epc, b''))
                elif epc == 0x81 and len(edt) == 1:
                    self._location = edt[0]
                    out.append((epc, b''))
                else:
                    ok = False
                    out.append((epc, edt))
            if esv == ESV_SETI:
                if ok:
                    return None
                return build_frame(tid, EOJ_METER, seoj, ESV_SETI_SNA, out)
            return build_frame(tid, EOJ_METER, seoj, ESV_SET_RES if ok else ESV_SETC_SNA, out)
        if esv == ESV_INFC_RES:
            return None
        self.stats['ignored'] += 1
        return None

    def _record(self, snap, served, tid, epcs):
        d = dict(snap)
        d.update(served)
        d['served'] = epcs
        d['tid'] = tid
        self._truth = d
        self.truth_seq += 1

    def _next_meter_tid(self):
        self.meter_tid = (self.meter_tid + 1) & 0xFFFF
        return self.meter_tid

    def _node_inf(self, m):
        if not m.alive or not self._session or self._session_peer is not m:
            return
        data = build_frame(self._next_meter_tid(), EOJ_NODE, EOJ_NODE, ESV_INF,
                           [(0xD5, b'\x01\x02\x88\x01')])
        self.stats['infs'] += 1
        self._emit(self._erxudp(m.ipv6, PORT_ECHONET, PORT_ECHONET, m.mac, True, data,
                                dest=MULTICAST, lqi=m.lqi))

    def _push_inf(self, arg):
        m, periodic = arg
        if not m.alive or not self._session or self._session_peer is not m:
            return
        wall = self.wall()
        snap = m.snapshot(wall)
        served = {}
        props = [(0xEA, self._edt(0xEA, wall, snap, served))]
        if self.export:
            props.append((0xEB, self._edt(0xEB, wall, snap, served)))
        data = build_frame(self._next_meter_tid(), EOJ_METER, EOJ_CONTROLLER, ESV_INF, props)
        self.stats['infs'] += 1
        self._emit(self._erxudp(m.ipv6, PORT_ECHONET, PORT_ECHONET, m.mac, True, data, lqi=m.lqi))

    def _schedule_inf(self):
        """The meter's own half-hourly INF of EA (EB) to the controller, a little after :00/:30."""
        wall_ms = self.wall_ms(self._t)
        lt = wall_ms // 1000 + self.tz
        nxt = (lt // SLOT + 1) * SLOT - self.tz          # next boundary, unix s
        delay = 5 + self._rng_time.randint(0, 40)
        at = self._t + (nxt + delay) * 1000 - wall_ms
        self._at(at, self._inf_tick, None, False)

    def _inf_tick(self, _):
        if not self.hung:
            self._push_inf((self.meter, True))
        self._schedule_inf()

    # ---------------------------------------------------------------- swap scenario
    def _swap(self, _):
        old = self.meter
        old.alive = False
        r = self._rng_misc
        mac = '001C6400%04X%04X' % (r.next16(), r.next16())
        channels = [c for c in (0x35, 0x2F, 0x3A, 0x24, 0x33) if c != old.channel]
        args = dict(self._meter_args)
        args['seed'] = (self.seed + 101) & 0xFFFF
        new = Meter(start_time=self.wall(), start_wh=0, export_start_wh=0,
                    installed_at=self.wall(), mac=mac, channel=channels[self.seed % len(channels)],
                    lqi=0x90 + r.randint(0, 0x38), **args)
        self.meter = new
        self.meters.append(new)
        self.stats['swaps'] += 1


_HANDLERS = {
    'WOPT': '_wopt', 'ROPT': '_ropt', 'WUART': '_wuart', 'RUART': '_ruart',
    'SKVER': '_skver', 'SKAPPVER': '_skappver', 'SKINFO': '_skinfo', 'SKRESET': '_skreset',
    'SKSREG': '_sksreg', 'SKSETPWD': '_sksetpwd', 'SKSETRBID': '_sksetrbid', 'SKLL64': '_skll64',
    'SKSCAN': '_skscan', 'SKJOIN': '_skjoin', 'SKREJOIN': '_skrejoin', 'SKTERM': '_skterm',
    'SKSENDTO': '_sksendto', 'SKPING': '_skping', 'SKSAVE': '_sksave', 'SKLOAD': '_sknop',
    'SKERASE': '_sknop', 'SKADDNBR': '_sknop', 'SKUDPPORT': '_sknop',
}
