"""Stand-in for `ntptime` on the simulated network.

UIFlow 1.x (>= 1.6.2) ships its own module [confirmed API, behaviour inferred]:
    ntp = ntptime.client(host='jp.pool.ntp.org', timezone=9)
asks the server once when constructed and sets the RTC to LOCAL time (UTC + timezone hours),
as the firmware does; ntp.getTimestamp() asks again and returns UTC seconds since
2000-01-01 [inferred: UIFlow's client subtracts the 1900->2000 offset]; formatDatetime /
formatTime / formatDate format the RTC (local time).

micropython-lib's ntptime is a different module: settime() sets the RTC to UTC, time()
returns UTC seconds since 2000.  Choose which one the "firmware" has with
`ntptime._sim.variant = 'uiflow' | 'micropython-lib' | 'both'` (default 'uiflow'); the
other variant's names then do not exist (AttributeError, hasattr() False).

The answer is the simulator's world time (uiflow_sim.hub.world_ms()) plus `_sim.offset_s`.
`_sim.ok = False` (or a callable(now_ms) -> bool) makes queries time out: OSError(110)
after `_sim.timeout_ms`.  Without Wi-Fi the name lookup fails: OSError(-202).
"""

from uiflow_sim import EPOCH_2000, hub

import network

_UIFLOW_NAMES = ('client',)
_MPLIB_NAMES = ('settime', 'time')


class NtpSim(object):
    def __init__(self):
        self.reset(True)

    def reset(self, hard):
        if hard:
            self.variant = 'uiflow'
            self.ok = True
            self.offset_s = 0  # how wrong the server is
            self.latency_ms = 40
            self.timeout_ms = 1000
            self.queries = 0
            self.failures = 0
            self.hosts = []

    def _query(self, host):
        """One NTP exchange -> UTC seconds since 2000, or OSError like the device."""
        self.queries += 1
        self.hosts.append(host)
        if not network._sim.connected():
            self.failures += 1
            hub.event('ntp', 'no network')
            raise OSError(-202)
        ok = self.ok(hub.now_ms()) if callable(self.ok) else self.ok
        if not ok:
            self.failures += 1
            hub.block_ms(self.timeout_ms)
            hub.event('ntp', 'timeout')
            raise OSError(110)
        hub.block_ms(self.latency_ms)
        secs = hub.world_ms() // 1000 + int(self.offset_s) - EPOCH_2000
        hub.event('ntp', 'ok %s' % host)
        return secs


_sim = NtpSim()
hub.on_reset(_sim.reset, order=45)


def __getattr__(name):
    variant = _sim.variant
    if name in _UIFLOW_NAMES and variant in ('uiflow', 'both'):
        return _Client
    if name in _MPLIB_NAMES and variant in ('micropython-lib', 'both'):
        return _settime if name == 'settime' else _time
    raise AttributeError("module 'ntptime' has no attribute '%s'" % name)


def _set_rtc(secs2000):
    hub.rtc_set_ms(int(secs2000) * 1000)


def _localtime():
    import utime
    return utime.localtime()


class _Client(object):
    """ntptime.client(host='cn.pool.ntp.org', timezone=8) of UIFlow 1.x."""

    def __init__(self, host='cn.pool.ntp.org', timezone=8):
        self.host = host
        self.timezone = timezone
        utc = _sim._query(host)
        _set_rtc(utc + int(round(timezone * 3600)))

    def getTimestamp(self):
        return _sim._query(self.host)

    def formatDatetime(self, dateSep='-', timeSep=':'):
        t = _localtime()
        return '%04d%s%02d%s%02d %02d%s%02d%s%02d' % (
            t[0], dateSep, t[1], dateSep, t[2], t[3], timeSep, t[4], timeSep, t[5])

    def formatTime(self, timeSep=':'):
        t = _localtime()
        return '%02d%s%02d%s%02d' % (t[3], timeSep, t[4], timeSep, t[5])

    def formatDate(self, dateSep='-'):
        t = _localtime()
        return '%04d%s%02d%s%02d' % (t[0], dateSep, t[1], dateSep, t[2])


_Client.__name__ = 'client'

# micropython-lib names
host = 'pool.ntp.org'
timeout = 1


def _time():
    return _sim._query(host)


def _settime():
    _set_rtc(_time())
