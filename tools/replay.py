"""Replay UART and clock: feed the meter session pre-built module output (runs under MicroPython too).

For allocation measurements (tools/bench.py, tools/bench_heap.py) the emulator's own allocations
must stay out of the measured window.  `ReplayClock` is a counter: `sleep_ms` advances it and the
ticks functions do small-int arithmetic only.  `ReplayUart(clock, exchanges)` hands back output
that was built BEFORE the measurement: every time the host writes an ECHONET frame (the payload
of SKSENDTO) it arms the next exchange, a list of `(delay_ms, chunk)`; a chunk becomes readable
once the clock has moved `delay_ms` past that write, and `read(n)` returns the pre-built bytes
object itself whenever n covers the rest of the chunk (no copy).  `record()` cuts a recorded
exchange into chunks and `retid()` makes copies of it for other TIDs.  It opens no devices, reads
no host clock and prints nothing; it counts what did not match (`mismatches`, `unexpected`).
"""

TICKS_PERIOD = 1 << 30
_TICKS_MASK = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD >> 1


class ReplayClock:
    """ticks_ms/ticks_diff/ticks_add/sleep_ms on an integer counter (ms).  The arithmetic stays
    within MicroPython's small ints, so it allocates nothing while the counter stays below 2**29."""

    def __init__(self, start_ms=0):
        self.now = start_ms

    def now_ms(self):
        return self.now

    def ticks_ms(self):
        return self.now & _TICKS_MASK

    def ticks_diff(self, a, b):
        d = a - b
        if d >= _TICKS_HALF:
            d -= TICKS_PERIOD
        elif d < -_TICKS_HALF:
            d += TICKS_PERIOD
        return d

    def ticks_add(self, a, d):
        a += d
        if a >= TICKS_PERIOD:
            a -= TICKS_PERIOD
        elif a < 0:
            a += TICKS_PERIOD
        return a

    def sleep_ms(self, ms):
        if ms > 0:
            self.now += ms


def _hex4(n):
    return ('%04X' % n).encode()


def tid_offset(blob):
    """Offset of the TID's 4 hex digits in the ASCII ERXUDP line of blob, -1 when there is none.
    (The data field is the last token of the line; an ECHONET frame starts 1081 TTTT.)"""
    i = blob.find(b'ERXUDP ')
    if i < 0:
        return -1
    end = blob.find(b'\r\n', i)
    if end < 0:
        return -1
    sp = blob.rfind(b' ', i, end)
    if sp < 0 or end - sp < 9 or blob[sp + 1:sp + 5] != b'1081':
        return -1
    return sp + 5


def record(reads):
    """Recorded reads [(delay_ms, bytes), ...] -> (blob, cuts, delays): the whole output, where
    each read ended in it and when each became readable (ms after the request was written)."""
    blob = b''
    cuts = []
    delays = []
    for delay, data in reads:
        blob += data
        cuts.append(len(blob))
        delays.append(delay)
    return blob, cuts, delays


def retid(blob, cuts, delays, tid):
    """A copy of a recorded exchange answering `tid`: [(delay_ms, chunk), ...]."""
    at = tid_offset(blob)
    if at >= 0:
        blob = blob[:at] + _hex4(tid) + blob[at + 4:]
    out = []
    start = 0
    for i in range(len(cuts)):
        out.append((delays[i], blob[start:cuts[i]]))
        start = cuts[i]
    return out


class ReplayUart:
    """The host side of the serial line (any/read/readline/write) fed from pre-built exchanges.

    `exchanges` is a list (one entry per request the session will send, in order) of
    `(tid, [(delay_ms, chunk), ...])`; tid None skips the TID check.  Everything is built
    before it is handed in; reading allocates nothing when n covers the chunk."""

    def __init__(self, clock, exchanges):
        self.clock = clock
        self.exchanges = exchanges
        self.index = 0              # next exchange to arm
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.mismatches = 0         # a request whose TID was not the one the exchange answers
        self.unexpected = 0         # a request after the last exchange
        self._chunks = None
        self._ci = 0
        self._pos = 0
        self._t0 = 0

    def _ready(self):
        """The chunk being read (or None when nothing is readable yet)."""
        chunks = self._chunks
        if chunks is None:
            return None
        if self._ci >= len(chunks):
            self._chunks = None
            return None
        c = chunks[self._ci]
        if self.clock.ticks_diff(self.clock.ticks_ms(), self._t0) < c[0]:
            return None
        return c[1]

    def any(self):
        c = self._ready()
        if c is None:
            return 0
        return len(c) - self._pos

    def read(self, n=-1):
        c = self._ready()
        if c is None:
            return None
        pos = self._pos
        left = len(c) - pos
        if n is None or n < 0 or n >= left:
            self._ci += 1
            self._pos = 0
            self.rx_bytes += left
            return c if pos == 0 else c[pos:]
        self._pos = pos + n
        self.rx_bytes += n
        return c[pos:pos + n]

    def readline(self):
        c = self._ready()
        if c is None:
            return None
        e = c.find(b'\n', self._pos)
        return self.read(-1 if e < 0 else e + 1 - self._pos)

    def write(self, data):
        n = len(data)
        self.tx_bytes += n
        # An ECHONET Lite frame (EHD 10 81) is the payload of SKSENDTO: arm the next answer.
        if n >= 4 and data[0] == 0x10 and data[1] == 0x81:
            if self.index >= len(self.exchanges):
                self.unexpected += 1
                return n
            ex = self.exchanges[self.index]
            self.index += 1
            tid = ex[0]
            if tid is not None and (data[2] != tid >> 8 or data[3] != tid & 0xFF):
                self.mismatches += 1
            self._chunks = ex[1]
            self._ci = 0
            self._pos = 0
            self._t0 = self.clock.ticks_ms()
        return n
