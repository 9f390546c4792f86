"""Stand-in for the ESP32 port's `utime` (MicroPython 1.11), on the SIMULATION clock.

ticks_* come from the clock installed in `utime._sim.clock` (the shared hub), wrapping at
2**30 like the device.  sleep/sleep_ms/sleep_us pass simulation time and are the tick points
where timers, button callbacks and the watchdog are served.  time()/localtime()/mktime()
count seconds since 2000-01-01 (the ESP32 epoch) and follow the RTC that machine.RTC and
ntptime set.  Only what the 1.11 ESP32 port has is here (no gmtime, no time_ns): the app
failing in the simulator for a missing name means it would fail on the device too.
"""

import uiflow_sim
from uiflow_sim import TICKS_HALF, TICKS_MASK, hub

_sim = hub  # utime._sim.clock = clock installs the simulation clock


def _int_arg(value, name):
    # MicroPython raises TypeError for a float where an int is needed (sleep_ms(1.5))
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("can't convert %s to int" % type(value).__name__)
    return value


def ticks_ms():
    return hub.ticks_ms()


def ticks_us():
    return hub.ticks_us()


def ticks_cpu():
    return hub.ticks_us()


def ticks_diff(ticks1, ticks2):
    return ((ticks1 - ticks2 + TICKS_HALF) & TICKS_MASK) - TICKS_HALF


def ticks_add(ticks, delta):
    return (ticks + delta) & TICKS_MASK


def sleep_ms(ms):
    hub.sleep_ms(_int_arg(ms, 'ms'))


def sleep_us(us):
    us = _int_arg(us, 'us')
    hub.sleep_ms((us + 999) // 1000 if us > 0 else 0)


def sleep(seconds):
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise TypeError("can't convert %s to float" % type(seconds).__name__)
    hub.sleep_ms(int(round(seconds * 1000)))


def time():
    """Seconds since 2000-01-01 00:00:00 by the RTC (an int, as on the ESP32)."""
    return hub.rtc_ms() // 1000


def localtime(secs=None):
    """-> (year, month, mday, hour, minute, second, weekday 0=Monday, yearday 1..366)."""
    if secs is None:
        secs = time()
    secs = _int_arg(secs, 'secs')
    tu = uiflow_sim._timeutil()
    y, mo, d, h, mi, s, wd = tu.from_epoch(secs + tu.EPOCH_2000)
    yd = tu.days_from_civil(y, mo, d) - tu.days_from_civil(y, 1, 1) + 1
    return (y, mo, d, h, mi, s, wd, yd)


def mktime(tup):
    """(year, month, mday, hour, minute, second, wday, yday) -> seconds since 2000.
    Out-of-range fields are normalised, as MicroPython does."""
    if len(tup) not in (8, 9):
        raise TypeError('mktime needs a tuple of length 8 or 9')
    y, mo, d, h, mi, s = [_int_arg(v, 'field') for v in tup[:6]]
    return uiflow_sim._civil_to_epoch(y, mo, d, h, mi, s) - uiflow_sim.EPOCH_2000
