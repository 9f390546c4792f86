"""Shared state of the UIFlow 1.x stand-ins: simulation clock, RTC, event dispatch, resets.

The stand-in modules in this folder (`utime`, `machine`, `m5stack`, `wifiCfg`, `ntptime`,
`urequests`, ...) are CPython code that lets the unmodified `apps/SMM.py` run on a laptop.
They all share the one `hub` defined here:

* time: every stand-in reads the simulation clock installed in `hub.clock` (default: a
  `SimClock` whose `sleep_ms` only advances a counter, so nothing ever really sleeps).
  `hub.now_ms()` is a monotonic millisecond count since power-on that never wraps.
* dispatch: machine.Timer callbacks, button callbacks and `micropython.schedule` run only at
  "tick points" (`utime.sleep*`, `machine.idle()`, `hub.tick()`), in the app's own thread,
  at their due simulation time: a long `sleep_ms` is cut into pieces at each due time.
* watchdog and resets: a bite or `machine.reset()` raises `MachineReset` (a BaseException,
  so the app's `except Exception` cannot swallow it); it stays pending and is raised again
  at every tick point until the simulator calls `hub.reboot()`.

The simulator imports this module (`import uiflow_sim`) to install its clock, drive time
and reboot the app; see README.md in this folder.
"""

import collections
import gc as _gc
import os
import random
import sys
import threading

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms()/ticks_us() wrap here
TICKS_MASK = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD // 2

EPOCH_2000 = 946684800  # seconds from 1970-01-01 to 2000-01-01 (lib/util.EPOCH_2000)

# Module names of the stand-ins: a simulator that re-runs the app after a reset purges the
# app's own modules from sys.modules but keeps these (they hold the simulated hardware).
STANDIN_MODULES = ('uiflow_sim', 'utime', 'machine', 'm5stack', '_tft', 'wifiCfg', 'network',
                   'ntptime', 'urequests', 'uos', 'ujson', 'ubinascii', 'ustruct',
                   'micropython', 'uiflow')

# True UTC time at power-on unless the simulator sets another (hub.set_world_time):
# 2026-11-25 15:00 JST, the start of tools/bp35emu.py's default meter world.
DEFAULT_WORLD_UTC = (2026, 11, 25, 6, 0, 0)

# machine.reset_cause() values of the ESP32 port
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


class MachineReset(BaseException):
    """The device resets: machine.reset(), a watchdog bite, deep sleep or power-off.

    `cause` is the value machine.reset_cause() reports after the reboot."""

    def __init__(self, reason='machine.reset()', cause=SOFT_RESET):
        BaseException.__init__(self, reason)
        self.reason = reason
        self.cause = cause


class WatchdogReset(MachineReset):
    """The hardware watchdog was not fed in time (a bite)."""

    def __init__(self, reason):
        MachineReset.__init__(self, reason, WDT_RESET)


class DeviceHazard(BaseException):
    """The app called something that would hang or break the real device
    (e.g. wifiCfg.autoConnect(lcdShow=True)).  Not catchable by `except Exception`."""


class SimClock(object):
    """Default simulation clock: sleep_ms() advances a counter, nothing really sleeps."""

    def __init__(self, start_ms=0):
        self._us = int(start_ms) * 1000

    def now_ms(self):
        return self._us // 1000

    def ticks_ms(self):
        return (self._us // 1000) & TICKS_MASK

    def ticks_us(self):
        return self._us & TICKS_MASK

    def ticks_diff(self, a, b):
        return ((a - b + TICKS_HALF) & TICKS_MASK) - TICKS_HALF

    def ticks_add(self, t, delta):
        return (t + delta) & TICKS_MASK

    def sleep_ms(self, ms):
        if ms > 0:
            self._us += int(ms) * 1000

    def advance(self, ms):
        self.sleep_ms(ms)


class Hub(object):
    """The one shared simulation state.  See the module docstring."""

    def __init__(self):
        self._lock = threading.RLock()
        self._reset_hooks = []  # (order, fn(hard)) run by reset()/reboot()
        self._sources = []  # objects with next_due(now) and run_due(now)
        self.log = collections.deque(maxlen=2000)  # (t_ms, kind, detail)
        self.warned = set()
        self._clock = None
        self.reset_count = 0
        self._power_on()

    # ------------------------------------------------------------------ state
    def _power_on(self):
        self._clock = SimClock()
        self._last_raw = self._raw()
        self._elapsed = 0
        self.pending_reset = None
        self.reset_cause = PWRON_RESET
        self.reboots = 0
        self._dispatching = False
        self._sched = collections.deque()  # micropython.schedule queue
        self.sched_depth = 8
        # Longest single clock.sleep_ms() step (None: as long as nothing is due).  With a
        # real-time clock set e.g. 20 so presses from the UI thread are served promptly.
        self.max_step_ms = None
        # World (true) UTC time at power-on, milliseconds since 1970.  What NTP answers.
        self.world_epoch_ms = _civil_to_epoch(*DEFAULT_WORLD_UTC) * 1000
        # The ESP32 RTC counts from 2000-01-01 00:00:00 at a cold boot.
        self.rtc_drift_ppm = 0
        self._rtc_base_ms = 0  # RTC reading (ms since 2000) at _rtc_base_elapsed
        self._rtc_base_elapsed = 0
        self.mem_free = 48000  # what gc.mem_free() reports (int or callable)
        self.mem_alloc = 52000
        self.rng = random.Random(1)
        self.flash_root = None  # host folder that stands for /flash (uos, install_flash)
        self.sd_root = None
        self.log.clear()

    def on_reset(self, fn, order=50):
        """Register fn(hard) to run on reset() (hard=True) and reboot() (hard=False)."""
        self._reset_hooks.append((order, fn))
        self._reset_hooks.sort(key=lambda item: item[0])

    def add_source(self, source):
        """Register an event source: source.next_due(now_ms) -> ms or None, source.run_due(now_ms)."""
        if source not in self._sources:
            self._sources.append(source)

    def reset(self):
        """Power-on state for everything (fresh SimClock, RTC at 2000-01-01, no Wi-Fi...).
        Tests call this before each case; the simulator before a run."""
        self._power_on()
        self.reset_count += 1
        for _order, fn in self._reset_hooks:
            fn(True)

    def reboot(self, cause=None):
        """The device restarted after `MachineReset` (pass the exception or its cause).

        Keeps the clock, the world time and the RTC (the ESP32 RTC survives a reset);
        drops timers, the watchdog, button callbacks, the Wi-Fi association and the screen.
        The simulator then re-imports and re-runs the app."""
        if isinstance(cause, MachineReset):
            cause = cause.cause
        self.reset_cause = cause if cause is not None else SOFT_RESET
        self.pending_reset = None
        self._sched.clear()
        self._dispatching = False
        self.reboots += 1
        self.event('reboot', 'cause=%d' % self.reset_cause)
        for _order, fn in self._reset_hooks:
            fn(False)

    # ------------------------------------------------------------------ log
    def event(self, kind, detail=''):
        self.log.append((self._elapsed, kind, detail))

    def warn_once(self, key, message):
        if key not in self.warned:
            self.warned.add(key)
            self.event('warning', message)
            sys.stderr.write('uiflow stand-in: %s\n' % message)

    # ------------------------------------------------------------------ clock
    @property
    def clock(self):
        return self._clock

    @clock.setter
    def clock(self, clock):
        """Install the simulation clock: an object with ticks_ms() and sleep_ms(ms)
        (now_ms() -- a monotonic ms count like bp35emu.VirtualClock's -- ticks_diff and
        ticks_us optional).  hub.now_ms() keeps counting from where it was."""
        if clock is None:
            clock = SimClock()
        for name in ('ticks_ms', 'sleep_ms'):
            if not callable(getattr(clock, name, None)):
                raise TypeError('clock needs %s()' % name)
        self._observe()
        self._clock = clock
        self._last_raw = self._raw()

    def _raw(self):
        clock = self._clock
        now_ms = getattr(clock, 'now_ms', None)
        return now_ms() if callable(now_ms) else clock.ticks_ms()

    def _observe(self):
        clock = self._clock
        raw = self._raw()
        diff = getattr(clock, 'ticks_diff', None)
        if diff is not None and not callable(getattr(clock, 'now_ms', None)):
            d = diff(raw, self._last_raw)
        else:
            d = raw - self._last_raw
        if d > 0:
            self._elapsed += d
        self._last_raw = raw
        return self._elapsed

    def now_ms(self):
        """Monotonic ms since power-on (never wraps)."""
        return self._observe()

    def ticks_ms(self):
        return self._observe() & TICKS_MASK

    def ticks_us(self):
        clock = self._clock
        if callable(getattr(clock, 'ticks_us', None)):
            return clock.ticks_us() & TICKS_MASK
        return (self._observe() * 1000) & TICKS_MASK

    # ------------------------------------------------------------------ RTC / world time
    def rtc_ms(self):
        """The RTC reading in ms since 2000-01-01 (the zone is whatever the app set)."""
        dt = self._observe() - self._rtc_base_elapsed
        if self.rtc_drift_ppm:
            dt = dt + dt * self.rtc_drift_ppm // 1000000
        return self._rtc_base_ms + dt

    def rtc_set_ms(self, ms2000):
        self._rtc_base_ms = int(ms2000)
        self._rtc_base_elapsed = self._observe()
        self.event('rtc-set', '%d' % (self._rtc_base_ms // 1000))

    def world_ms(self):
        """True UTC now, ms since 1970 (what an NTP server answers)."""
        return self.world_epoch_ms + self._observe()

    def set_world_time(self, year, month, day, hour=0, minute=0, second=0):
        """Set the true UTC time *now* (moves the world clock, not the RTC)."""
        secs = _civil_to_epoch(year, month, day, hour, minute, second)
        self.world_epoch_ms = secs * 1000 - self._observe()

    def sync_rtc_to_world(self, tz_hours=0):
        """Set the RTC to world time + tz (as if NTP had run before the app started)."""
        self.rtc_set_ms(self.world_ms() - EPOCH_2000 * 1000 + int(tz_hours * 3600000))

    # ------------------------------------------------------------------ dispatch
    def _check_pending(self):
        if self.pending_reset is not None:
            raise self.pending_reset

    def raise_reset(self, exc):
        """Record and raise a reset; it stays pending until reboot()."""
        self.pending_reset = exc
        self.event('reset', exc.reason)
        raise exc

    def _next_due(self, now, include_all=True):
        due = None
        for src in self._sources:
            if not include_all and not getattr(src, 'always', False):
                continue
            t = src.next_due(now)
            if t is not None and (due is None or t < due):
                due = t
        return due

    def run_due(self):
        """Run everything that is due now (watchdog first).  No time passes."""
        self._check_pending()
        now = self._observe()
        for src in self._sources:
            if getattr(src, 'always', False):
                src.run_due(now)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._sched:
                fn, arg = self._sched.popleft()
                fn(arg)
            for src in self._sources:
                if not getattr(src, 'always', False):
                    src.run_due(now)
        finally:
            self._dispatching = False

    def tick(self):
        """A tick point without passing time (machine.idle(), or the simulator's own loop)."""
        self.run_due()

    def sleep_ms(self, ms):
        """utime.sleep_ms: pass `ms` of simulation time, running due events on the way."""
        self._advance(ms, dispatch=True)

    def block_ms(self, ms):
        """Pass time inside a blocking C call (UART timeout, Wi-Fi connect, HTTP): only the
        watchdog is served, no Python callbacks run (as on the device)."""
        self._advance(ms, dispatch=False)

    def _advance(self, ms, dispatch):
        ms = int(ms)
        if dispatch:
            self.run_due()
        else:
            self._serve_always()
        start = self._observe()
        target = start + max(0, ms)
        stalls = 0
        while True:
            now = self._observe()
            remaining = target - now
            if remaining <= 0:
                break
            due = self._next_due(now, include_all=dispatch and not self._dispatching)
            step = remaining
            if due is not None:
                step = min(remaining, max(1, due - now))
            if self.max_step_ms:
                step = min(step, self.max_step_ms)
            self._clock.sleep_ms(step)
            after = self._observe()
            if after == now:
                stalls += 1
                if stalls > 3:
                    raise RuntimeError('simulation clock does not advance on sleep_ms()')
            else:
                stalls = 0
            if dispatch:
                self.run_due()
            else:
                self._serve_always()
        if dispatch:
            self.run_due()
        else:
            self._serve_always()

    def _serve_always(self):
        self._check_pending()
        now = self._observe()
        for src in self._sources:
            if getattr(src, 'always', False):
                src.run_due(now)

    def schedule(self, fn, arg):
        """micropython.schedule: run fn(arg) at the next tick point."""
        if len(self._sched) >= self.sched_depth:
            raise RuntimeError('schedule queue full')
        self._sched.append((fn, arg))

    # ------------------------------------------------------------------ network
    def network_connected(self):
        """Is the simulated Wi-Fi station associated now?  (For socket stand-ins.)"""
        import network
        return network._sim.connected()

    # ------------------------------------------------------------------ memory
    def mem_free_value(self):
        v = self.mem_free
        return int(v() if callable(v) else v)

    def mem_alloc_value(self):
        v = self.mem_alloc
        return int(v() if callable(v) else v)

    # ------------------------------------------------------------------ files
    def map_path(self, path):
        """'/flash/x' -> <flash_root>/x when a flash root is installed; other paths unchanged."""
        if not isinstance(path, str):
            return path
        for prefix, root in (('/flash', self.flash_root), ('/sd', self.sd_root)):
            if root is not None and (path == prefix or path.startswith(prefix + '/')):
                rest = path[len(prefix):].lstrip('/')
                return os.path.join(root, rest) if rest else root
        return path


def _timeutil():
    try:
        import util as timeutil
    except ImportError:  # lib/ not on sys.path yet: it sits two folders up
        lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'lib')
        if lib not in sys.path:
            sys.path.append(lib)
        import util as timeutil
    return timeutil


def _civil_to_epoch(year, month, day, hour=0, minute=0, second=0):
    # lib/timeutil.to_epoch, normalising month overflow like MicroPython's mktime
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    timeutil = _timeutil()
    return timeutil.to_epoch(year, month, 1) + (day - 1) * 86400 + hour * 3600 + minute * 60 + second


hub = Hub()


def reset():
    """Power-on reset of every stand-in (see Hub.reset)."""
    hub.reset()


def reboot(cause=None):
    """Reboot after a MachineReset (see Hub.reboot)."""
    hub.reboot(cause)


# ---------------------------------------------------------------------- gc shims
# CPython's gc cannot be shadowed by a file on sys.path (it is built in), and it has no
# mem_free()/mem_alloc()/threshold().  The stand-ins add those three names to CPython's gc
# module so that the app can call gc.mem_free() exactly as on the device.
_GC_ADDED = []


def install_gc_shims():
    def mem_free():
        return hub.mem_free_value()

    def mem_alloc():
        return hub.mem_alloc_value()

    def threshold(amount=None):
        if amount is None:
            return -1
        return None

    for name, fn in (('mem_free', mem_free), ('mem_alloc', mem_alloc), ('threshold', threshold)):
        if not hasattr(_gc, name):
            setattr(_gc, name, fn)
            _GC_ADDED.append(name)


def uninstall_gc_shims():
    while _GC_ADDED:
        name = _GC_ADDED.pop()
        try:
            delattr(_gc, name)
        except AttributeError:
            pass


install_gc_shims()


# ---------------------------------------------------------------------- /flash mapping
_open_saved = []


def install_flash(root, sd_root=None, patch_open=True):
    """Make the device paths '/flash/...' (and '/sd/...') point into host folders.

    uos always honours the mapping; with patch_open=True builtins.open does too (the
    simulator runs the app in its own process, so patching open there is fine).
    Returns a function that undoes the open() patch."""
    import builtins
    hub.flash_root = os.path.abspath(root) if root else None
    hub.sd_root = os.path.abspath(sd_root) if sd_root else None
    if not patch_open or _open_saved:
        return uninstall_flash
    original = builtins.open

    def mapped_open(file, *args, **kwargs):
        return original(hub.map_path(file), *args, **kwargs)

    _open_saved.append(original)
    builtins.open = mapped_open
    return uninstall_flash


def uninstall_flash():
    import builtins
    if _open_saved:
        builtins.open = _open_saved.pop()
    hub.flash_root = None
    hub.sd_root = None


def hide_names(module_globals, hidden, name):
    """Helper for module __getattr__: names listed in `hidden` behave as missing."""
    if name in hidden:
        raise AttributeError("module '%s' has no attribute '%s'" % (module_globals['__name__'], name))
