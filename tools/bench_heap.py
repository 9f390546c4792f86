"""Heap benchmark of the refresh path, run inside real MicroPython by tools/bench_mp.mjs.

`setup(total)` joins a meter on the emulator (tools/bp35emu.py), records one real exchange of
each kind the app sends (E7+E8, and E7+E8+E0+E3 every 6th refresh), pre-builds the answers for
the next `total` TIDs the session will use and then hands the driver and session a replay UART
and clock (tools/replay.py); the emulator is dropped, so none of its allocations fall into the
measured windows.  `cycles(n)` runs n refreshes (session.read + session.poll(0), the app's
cadence); `per_cycle(n)` does the same with the collector disabled and adds up gc.mem_alloc()
deltas per refresh kind; `harness(n)` measures the loop without the session (subtracted).
The JS side calls gc.collect() and gc.mem_alloc() in separate runPython calls around these.
Written to the device-code rules (mpy-cross -c 1.11), though it only runs in the test VM.
"""
import gc
import json
import time

import bp35a1
import bp35emu
import meter
import replay

RBID = '0123456789ABCDEF0123456789ABCDEF'
PWD = 'PASSWORD1234'
INSTANT = (0xE7, 0xE8)
WITH_PERIOD = (0xE7, 0xE8, 0xE0, 0xE3)
PERIOD_EVERY = 6
REFRESH_MS = 10000


class _Recorder:
    """Pass-through to the emulator's UART that keeps what each request's reads returned."""

    def __init__(self, uart, clock):
        self.uart = uart
        self.clock = clock
        self.reads = None
        self.t0 = 0
        self.log = []

    def any(self):
        return self.uart.any()

    def read(self, n=-1):
        data = self.uart.read(n)
        if data and self.reads is not None:
            self.reads.append((self.clock.now_ms() - self.t0, bytes(data)))
        return data

    def readline(self):
        data = self.uart.readline()
        if data and self.reads is not None:
            self.reads.append((self.clock.now_ms() - self.t0, bytes(data)))
        return data

    def write(self, data):
        if len(data) >= 4 and data[0] == 0x10 and data[1] == 0x81:
            self.reads = []
            self.t0 = self.clock.now_ms()
            self.log.append((data[2] << 8 | data[3], self.reads))
        return self.uart.write(data)


class State:
    def __init__(self):
        self.session = None
        self.clock = None
        self.uart = None
        self.k = 0              # refreshes so far (picks the request kind)
        self.missed = 0         # refreshes that gave no reading
        self.wrong = 0          # readings that differ from the recorded answer
        self.expect = (None, None)   # E7 of the replayed answers (instant, with period)
        self.acc = [0, 0, 0, 0]  # per_cycle: bytes instant, count instant, bytes period, count period
        self.deltas = []
        self.kinds = []
        self.info = {}
        self.us = 0
        self.breakdown = None
        self.us_n = 0


S = State()


def _clean(log, want):
    """A recorded exchange with exactly one ERXUDP and nothing else unsolicited."""
    for tid, reads in log:
        blob, cuts, delays = replay.record(reads)
        if blob.count(b'ERXUDP') != 1 or blob.count(b'EVENT') != 1:
            continue
        at = replay.tid_offset(blob)
        if at < 0 or blob[at:at + 4] != ('%04X' % tid).encode():
            continue
        n = int(blob[at + 18:at + 20], 16)     # OPC after TID, SEOJ, DEOJ, ESV (hex digits)
        if n == len(want):
            # the replay of this exchange for its own TID must give back the recorded bytes
            if b''.join([c[1] for c in replay.retid(blob, cuts, delays, tid)]) != blob:
                raise RuntimeError('replay.retid does not reproduce the recording')
            return blob, cuts, delays
    raise RuntimeError('no clean exchange recorded for %d EPCs' % len(want))


def _e7(blob):
    """The E7 value (W) in the ASCII ERXUDP answer of a recorded exchange."""
    at = replay.tid_offset(blob)
    # 1081 TTTT SEOJ DEOJ ESV OPC (hex digits), then EPC PDC EDT...; E7 is asked first
    p = at + 4 + 6 + 6 + 2 + 2
    if at < 0 or blob[p:p + 4] != b'E704':
        raise RuntimeError('E7 is not the first property of the recorded answer')
    v = int(blob[p + 4:p + 12], 16)
    return v - (1 << 32) if v & 0x80000000 else v


def setup(total):
    clock = bp35emu.VirtualClock()
    emu = bp35emu.Emulator(clock, seed=1)
    rec = _Recorder(emu.uart, clock)
    drv = bp35a1.Bp35a1(rec, clock)
    session = meter.MeterSession(drv, clock, RBID, PWD, cache=None)
    session.connect()
    rec.log = []
    for k in range(2 * PERIOD_EVERY):
        values = session.read(WITH_PERIOD if k % PERIOD_EVERY == 0 else INSTANT)
        if values is None:
            raise RuntimeError('the emulator gave no reading during setup')
        session.poll(0)
        clock.sleep_ms(REFRESH_MS)
    rec.reads = None
    session.poll(0)
    if drv.queue or drv.parser.offset < len(drv.parser.buf):
        raise RuntimeError('driver not idle after setup')
    small = _clean(rec.log, INSTANT)
    big = _clean(rec.log, WITH_PERIOD)
    tid0 = session.tid
    exchanges = []
    for k in range(total):
        tid = (tid0 + 1 + k) & 0xFFFF
        blob, cuts, delays = big if k % PERIOD_EVERY == 0 else small
        exchanges.append((tid, replay.retid(blob, cuts, delays, tid)))
    rclock = replay.ReplayClock(REFRESH_MS)
    ruart = replay.ReplayUart(rclock, exchanges)
    drv.uart = ruart
    drv.clock = rclock
    session.clock = rclock
    S.session = session
    S.clock = rclock
    S.uart = ruart
    S.info = {
        'instant_exchange_bytes': len(small[0]), 'instant_exchange_reads': len(small[1]),
        'period_exchange_bytes': len(big[0]), 'period_exchange_reads': len(big[1]),
        'prebuilt_exchanges': total, 'first_tid': (tid0 + 1) & 0xFFFF,
        'uart_read_alloc_estimate': {
            'instant': uart_read_estimate(exchanges[1][1]),
            'with_period': uart_read_estimate(exchanges[0][1])},
    }
    S.expect = (_e7(small[0]), _e7(big[0]))
    del emu, rec, clock, big, small, exchanges
    gc.collect()


def _refresh():
    s = S
    k = s.k
    s.k = k + 1
    period = k % PERIOD_EVERY == 0
    values = s.session.read(WITH_PERIOD if period else INSTANT)
    s.session.poll(0)
    s.clock.sleep_ms(REFRESH_MS)
    if values is None:
        s.missed += 1
    elif values.get(0xE7) != s.expect[1 if period else 0]:
        s.wrong += 1


def cycles(n):
    for _ in range(n):
        _refresh()


def _nothing():
    s = S
    k = s.k
    s.k = k
    s.clock.sleep_ms(0)


def harness(n):
    """Bytes the measuring loop itself allocates over n empty iterations (gc disabled)."""
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(n):
        _nothing()
    b = gc.mem_alloc()
    gc.enable()
    S.acc[0] = b - a


def per_cycle(n):
    """gc disabled; the gc.mem_alloc() delta of each refresh, summed per kind into S.acc
    (bytes instant, count instant, bytes with period, count with period) and kept in S.deltas."""
    acc = S.acc
    acc[0] = acc[1] = acc[2] = acc[3] = 0
    deltas = [0] * n
    kinds = [False] * n
    gc.disable()
    for i in range(n):
        period = S.k % PERIOD_EVERY == 0
        a = gc.mem_alloc()
        _refresh()
        d = gc.mem_alloc() - a
        deltas[i] = d
        kinds[i] = period
        if period:
            acc[2] += d
            acc[3] += 1
        else:
            acc[0] += d
            acc[1] += 1
    gc.enable()
    S.deltas = deltas
    S.kinds = kinds


def spread():
    """(min, max) of the per-refresh deltas of each kind: equal when every refresh of a kind
    allocated the same (the replay makes them identical)."""
    out = {}
    for i in range(len(S.deltas)):
        key = 'with_period' if S.kinds[i] else 'instant'
        d = S.deltas[i]
        if key not in out:
            out[key] = [d, d]
        elif d < out[key][0]:
            out[key][0] = d
        elif d > out[key][1]:
            out[key][1] = d
    return out


def timed(n):
    """Real time (us, time.ticks_us in the VM) of n refreshes on the replay: device code only."""
    t0 = time.ticks_us()
    cycles(n)
    S.us = time.ticks_diff(time.ticks_us(), t0)
    S.us_n = n


def uart_read_estimate(chunks):
    """Bytes machine.UART.read() would allocate on the device for these reads: a bytes object
    (16-byte header block) and its data (len + 1, in 16-byte blocks) per read."""
    total = 0
    for _d, c in chunks:
        total += 16 + (len(c) + 1 + 15) // 16 * 16
    return total


def breakdown(n):
    """Where the bytes of n refreshes go (gc disabled): gc.mem_alloc() deltas inside wrappers of
    the parser's feed()/next(), echonet.build_get/parse/decode; the rest is driver and session
    glue.  Runs last: it patches and then restores those functions.  -> {part: bytes per refresh}"""
    import echonet
    parser = S.session.driver.parser
    acc = {}
    orig_next = parser.next
    orig_feed = parser.feed
    orig = {}

    def add(key, d):
        acc[key] = acc.get(key, 0) + d

    def nxt():
        if parser.offset >= len(parser.buf):
            # Empty buffer: next() returns None at once (allocation-free: checked by the
            # per_cycle total).  Not measured: gc.mem_alloc() walks the whole heap each time.
            return orig_next()
        a = gc.mem_alloc()
        r = orig_next()
        d = gc.mem_alloc() - a
        if r is None:
            add('parser next() -> None, partial line buffered', d)
        else:
            add('parser next() -> %s item' % r[0], d)
        return r

    def feed(data):
        a = gc.mem_alloc()
        orig_feed(data)
        add('parser feed()', gc.mem_alloc() - a)

    def wrap(name, nargs):
        f = getattr(echonet, name)
        orig[name] = f
        key = 'echonet.%s()' % name

        # fixed arity: a *args call would allocate inside the measured window
        def w1(x):
            a = gc.mem_alloc()
            r = f(x)
            add(key, gc.mem_alloc() - a)
            return r

        def w2(x, y):
            a = gc.mem_alloc()
            r = f(x, y)
            add(key, gc.mem_alloc() - a)
            return r
        setattr(echonet, name, w1 if nargs == 1 else w2)

    parser.next = nxt
    parser.feed = feed
    wrap('build_get', 2)     # meter: echonet.build_get(tid, epcs)
    wrap('parse', 1)         # echonet.parse(item.data)
    wrap('decode', 2)        # echonet.decode(epc, edt)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    cycles(n)
    total = gc.mem_alloc() - a
    gc.enable()
    del parser.next
    del parser.feed
    for name, f in orig.items():
        setattr(echonet, name, f)
    out = {}
    for k, v in acc.items():
        out[k] = v / n
    out['total with the wrappers (not per_cycle)'] = total / n
    S.breakdown = out
    return out


_sink = [None]


def control(n):
    """The same measuring procedure over a loop that makes garbage like a refresh (about 5 KB of
    bytes, lists and dicts from the pre-built chunks) without any device code: the noise floor of
    the growth figure."""
    ex = S.uart.exchanges
    for i in range(n):
        for _d, c in ex[i % len(ex)][1]:
            x = c[1:] + c
            y = x.split()
            _sink[0] = {'x': x, 'y': y, 'n': len(y)}
    _sink[0] = None


def report(extra):
    st = S.session.stats       # requests, answers, resends, timeouts, ... (lib/meter.py)
    d = dict(S.info)
    d.update(extra)
    d.update({
        'per_refresh_spread': spread(),
        'breakdown': S.breakdown,
        'us_per_refresh': S.us / S.us_n if S.us_n else None,
        'refreshes': S.k, 'missed': S.missed, 'wrong_values': S.wrong,
        'tid_mismatches': S.uart.mismatches, 'unexpected_requests': S.uart.unexpected,
        'replayed': S.uart.index, 'session_requests': st[0],
        'session_answers': st[1], 'session_resends': st[2],
        'session_timeouts': st[3],
    })
    print('@@BENCH ' + json.dumps(d))
