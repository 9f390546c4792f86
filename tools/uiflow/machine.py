"""Stand-in for the ESP32 port's `machine` module (MicroPython 1.11), driven by the simulation.

* `UART(id, ...)` asks `machine._sim.uart_factory(id, **kwargs)` for the object the
  simulator wants (the Wi-SUN emulator's UART) and wraps it in a proxy that adds the
  device's init() and its blocking reads (read(n)/readline() wait up to `timeout` ms of
  simulation time, like uart_read_bytes on the ESP32).
* `Timer(n).init(period=, mode=, callback=)`: callback(timer) runs at its due simulation time,
  at tick points (utime.sleep*), in the app's thread.
* `WDT(timeout=ms)`: not fed within timeout -> a bite: WatchdogReset is raised at the next tick
  point (and stays pending until the simulator reboots).  `machine._sim.has_wdt = False` makes
  `hasattr(machine, 'WDT')` False, for firmware without it.
* `RTC()`: datetime()/init() over the shared RTC that utime.time() and ntptime use.
* `reset()` raises uiflow_sim.MachineReset (a BaseException).
"""

import uiflow_sim
from uiflow_sim import MachineReset, WatchdogReset, hub

PWRON_RESET = uiflow_sim.PWRON_RESET
HARD_RESET = uiflow_sim.HARD_RESET
WDT_RESET = uiflow_sim.WDT_RESET
DEEPSLEEP_RESET = uiflow_sim.DEEPSLEEP_RESET
SOFT_RESET = uiflow_sim.SOFT_RESET

PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

_UNIQUE_ID = b'\xd8\xa0\x1d\x5a\x3c\x10'


class _NullUart(object):
    """Used when the simulator installed no uart_factory: nothing ever arrives."""

    def __init__(self):
        self.written = bytearray()

    def any(self):
        return 0

    def read(self, n=-1):
        return None

    def write(self, data):
        self.written.extend(data)
        return len(data)


class MachineSim(object):
    """machine._sim: what the simulator installs and reads back."""

    def __init__(self):
        self.reset(True)

    def reset(self, hard):
        if hard:
            self.uart_factory = None  # callable(id, **kwargs) -> object with any/read/write
            self.uart_blocking = True  # apply the device's read timeouts in the proxy
            self.uart_poll_ms = 5  # simulation-time step while a read waits
            self.has_wdt = True
            self.resets = 0
            self.bites = 0
            self.feeds = 0
            self.cpu_hz = 240000000
            self.uarts = []
            self.pins = {}
        self.timers = {}  # id -> Timer (active only)
        self.wdt_timeout = None  # ms, armed when not None
        self.wdt_last_feed = None
        self.wdt_created_at = None

    # -------------------------------------------------------------- watchdog source
    always = True  # the hub serves the watchdog even inside blocking calls

    def next_due(self, now):
        if self.wdt_timeout is None:
            return None
        return self.wdt_last_feed + self.wdt_timeout + 1

    def run_due(self, now):
        if self.wdt_timeout is not None and now - self.wdt_last_feed > self.wdt_timeout:
            self._bite(now)

    def _bite(self, now):
        self.bites += 1
        late = now - self.wdt_last_feed
        reason = 'watchdog bite: not fed for %d ms (timeout %d ms)' % (late, self.wdt_timeout)
        self.wdt_timeout = None
        hub.event('wdt-bite', reason)
        hub.raise_reset(WatchdogReset(reason))

    def wdt_armed(self):
        return self.wdt_timeout is not None


class _TimerSource(object):
    """Serves every active machine.Timer at its due time (not inside blocking calls)."""

    always = False

    def next_due(self, now):
        due = None
        for t in _sim.timers.values():
            if t._due is not None and (due is None or t._due < due):
                due = t._due
        return due

    def run_due(self, now):
        while True:
            ready = [t for t in _sim.timers.values() if t._due is not None and t._due <= now]
            if not ready:
                return
            ready.sort(key=lambda t: (t._due, t._id))
            timer = ready[0]
            if timer._mode == Timer.PERIODIC:
                timer._due += timer._period
                if timer._due <= now:  # fell behind (real-time clock): skip missed periods
                    timer._due = now + timer._period
            else:
                timer._due = None
                _sim.timers.pop(timer._id, None)
            timer._fired += 1
            if timer._callback is not None:
                timer._callback(timer)


_sim = MachineSim()
hub.add_source(_sim)
hub.add_source(_TimerSource())
hub.on_reset(_sim.reset, order=10)


def __getattr__(name):
    if name == 'WDT' and _sim.has_wdt:
        return _WDT
    raise AttributeError("module 'machine' has no attribute '%s'" % name)


# ---------------------------------------------------------------------- reset & misc
def reset():
    _sim.resets += 1
    hub.raise_reset(MachineReset('machine.reset()', SOFT_RESET))


def soft_reset():
    _sim.resets += 1
    hub.raise_reset(MachineReset('machine.soft_reset()', SOFT_RESET))


def deepsleep(time_ms=0):
    hub.raise_reset(MachineReset('machine.deepsleep(%d)' % time_ms, DEEPSLEEP_RESET))


def lightsleep(time_ms=0):
    hub.sleep_ms(int(time_ms))


def reset_cause():
    return hub.reset_cause


def wake_reason():
    return 0


def unique_id():
    return _UNIQUE_ID


def freq(hz=None):
    if hz is None:
        return _sim.cpu_hz
    if hz not in (20000000, 40000000, 80000000, 160000000, 240000000):
        raise ValueError('frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz')
    _sim.cpu_hz = hz
    return None


def idle():
    hub.tick()


def disable_irq():
    return 1


def enable_irq(state=1):
    return None


# ---------------------------------------------------------------------- Timer
class Timer(object):
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id, **kwargs):
        self._id = id
        self._mode = Timer.PERIODIC
        self._period = None
        self._callback = None
        self._due = None
        self._fired = 0
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, period=-1, callback=None, freq=None, tick_hz=None):
        if freq is not None:
            period = int(round(1000.0 / freq))
        if period is None or period < 0:
            raise ValueError('period must be given')
        if mode not in (Timer.ONE_SHOT, Timer.PERIODIC):
            raise ValueError('invalid mode')
        old = _sim.timers.get(self._id)
        if old is not None and old is not self:
            old._due = None  # the hardware timer is taken over by the new object
        self._mode = mode
        self._period = max(1, int(period))
        self._callback = callback
        self._due = hub.now_ms() + self._period
        _sim.timers[self._id] = self

    def deinit(self):
        self._due = None
        if _sim.timers.get(self._id) is self:
            del _sim.timers[self._id]

    def value(self):
        if self._due is None:
            return 0
        return max(0, self._period - (self._due - hub.now_ms()))

    def __repr__(self):
        return 'Timer(%r; mode=%s, period=%s)' % (self._id, self._mode, self._period)


# ---------------------------------------------------------------------- WDT
class _WDT(object):
    """machine.WDT(id=0, timeout=5000): once started it cannot be stopped (ESP32)."""

    def __init__(self, id=0, timeout=5000):
        timeout = int(timeout)
        if timeout <= 0:
            raise ValueError('WDT timeout too short')
        _sim.wdt_timeout = timeout
        _sim.wdt_last_feed = hub.now_ms()
        _sim.wdt_created_at = _sim.wdt_last_feed
        hub.event('wdt-armed', '%d ms' % timeout)

    def feed(self):
        now = hub.now_ms()
        hub._check_pending()
        if _sim.wdt_timeout is not None and now - _sim.wdt_last_feed > _sim.wdt_timeout:
            _sim._bite(now)  # fed too late: the chip had already reset
        _sim.feeds += 1
        _sim.wdt_last_feed = now


_WDT.__name__ = 'WDT'


# ---------------------------------------------------------------------- RTC
class RTC(object):
    """datetime() -> (year, month, day, weekday 0=Mon, hour, minute, second, microsecond)."""

    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            ms = hub.rtc_ms()
            import utime
            y, mo, d, h, mi, s, wd, _yd = utime.localtime(ms // 1000)
            return (y, mo, d, wd, h, mi, s, (ms % 1000) * 1000)
        if len(dt) < 7:
            raise ValueError('datetime needs (year, month, day, weekday, hour, minute, second[, us])')
        y, mo, d, _wd, h, mi, s = [int(v) for v in dt[:7]]
        us = int(dt[7]) if len(dt) > 7 else 0
        secs = uiflow_sim._civil_to_epoch(y, mo, d, h, mi, s) - uiflow_sim.EPOCH_2000
        hub.rtc_set_ms(secs * 1000 + us // 1000)
        return None

    def init(self, dt):
        return self.datetime(dt)

    def memory(self, data=None):
        if data is None:
            return bytes(_rtc_memory)
        _rtc_memory[:] = bytes(data)[:2048]
        return None


_rtc_memory = bytearray()


# ---------------------------------------------------------------------- UART
class UART(object):
    """Proxy around the simulator's UART with the ESP32 port's API and read timeouts."""

    INV_TX = 1
    INV_RX = 2
    INV_RTS = 4
    INV_CTS = 8

    def __init__(self, id, baudrate=115200, **kwargs):
        self.id = id
        factory = _sim.uart_factory
        kw = dict(kwargs)
        kw['baudrate'] = baudrate
        self.inner = factory(id, **kw) if factory is not None else _NullUart()
        self.config = {'baudrate': 115200, 'bits': 8, 'parity': None, 'stop': 1,
                       'tx': None, 'rx': None, 'timeout': 0, 'timeout_char': 0}
        self.deinited = False
        self.init(baudrate, **kwargs)
        _sim.uarts.append(self)
        hub.event('uart', 'UART(%r, tx=%r, rx=%r)' % (id, self.config['tx'], self.config['rx']))

    def init(self, baudrate=None, bits=None, parity=None, stop=None, **kwargs):
        if baudrate is not None:
            if not isinstance(baudrate, int) or baudrate <= 0:
                raise ValueError('invalid baudrate')
            self.config['baudrate'] = baudrate
        if bits is not None:
            if bits not in (5, 6, 7, 8):
                raise ValueError('invalid data bits')
            self.config['bits'] = bits
        if parity is not None:
            if parity not in (0, 1):
                raise ValueError('invalid parity')
        self.config['parity'] = parity if parity is not None else self.config['parity']
        if stop is not None:
            if stop not in (1, 2):
                raise ValueError('invalid stop bits')
            self.config['stop'] = stop
        allowed = ('tx', 'rx', 'rts', 'cts', 'txbuf', 'rxbuf', 'timeout', 'timeout_char', 'invert')
        for key, value in kwargs.items():
            if key not in allowed:
                raise TypeError("unexpected keyword argument '%s'" % key)
            self.config[key] = value
        inner_init = getattr(self.inner, 'init', None)
        if callable(inner_init) and baudrate is not None:
            try:
                inner_init(baudrate)
            except TypeError:
                pass
        self.deinited = False

    def deinit(self):
        self.deinited = True

    # -- reading
    def _available(self):
        return self.inner.any() or 0

    def any(self):
        return self._available()

    def _wait_for(self, n, timeout):
        """Pass simulation time (no callbacks) until n bytes are buffered or timeout ends."""
        if not _sim.uart_blocking or timeout <= 0:
            return
        waited = 0
        while self._available() < n and waited < timeout:
            step = min(_sim.uart_poll_ms, timeout - waited)
            hub.block_ms(step)
            waited += step

    def _take(self, n):
        got = self.inner.read(n)
        return bytes(got) if got else b''

    def read(self, nbytes=None):
        if nbytes is None or nbytes < 0:
            # stream read-all: keeps reading until a read times out with nothing new
            out = bytearray()
            while True:
                self._wait_for(1, self.config['timeout'])
                avail = self._available()
                if not avail:
                    break
                out.extend(self._take(avail))
                if not _sim.uart_blocking:
                    break
            return bytes(out) if out else None
        if nbytes == 0:
            return b''
        self._wait_for(nbytes, self.config['timeout'])
        avail = self._available()
        if not avail:
            return None
        return self._take(min(nbytes, avail))

    def readinto(self, buf, nbytes=None):
        n = len(buf) if nbytes is None else min(nbytes, len(buf))
        data = self.read(n)
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)

    def readline(self):
        line = bytearray()
        while True:
            self._wait_for(1, self.config['timeout'])
            if not self._available():
                break
            b = self._take(1)
            if not b:
                break
            line.extend(b)
            if b == b'\n':
                break
        return bytes(line) if line else None

    # -- writing
    def write(self, buf):
        if isinstance(buf, str):
            buf = buf.encode()
        n = self.inner.write(bytes(buf))
        return len(buf) if n is None else n

    def sendbreak(self):
        return None

    def __repr__(self):
        return 'UART(%r, baudrate=%d, tx=%r, rx=%r, timeout=%r)' % (
            self.id, self.config['baudrate'], self.config['tx'], self.config['rx'], self.config['timeout'])


# ---------------------------------------------------------------------- Pin (minimal)
class Pin(object):
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 1
    PULL_DOWN = 2
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        if value is not None:
            _sim.pins[id] = 1 if value else 0
        _sim.pins.setdefault(id, 1 if pull == Pin.PULL_UP else 0)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        if value is not None:
            _sim.pins[self.id] = 1 if value else 0

    def value(self, v=None):
        if v is None:
            return _sim.pins.get(self.id, 0)
        _sim.pins[self.id] = 1 if v else 0
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, wake=None):
        return None

    __call__ = value
