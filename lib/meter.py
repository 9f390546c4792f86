"""The B-route meter session: ECHONET Lite reads over a joined PANA session, and recovery.

It is handed a driver (lib/bp35a1.py), a clock, the B-route credentials, a JsonStore for the
saved scan result, settings and callbacks.  It reads properties by set (E7+E8 in one request),
gives every request a new TID and accepts an answer only when it matches that TID and EPC set
and comes from the joined meter's address, port 0E1A both ways, encrypted (SECURED 1), SEOJ
0288xx; everything else is dropped and counted.  D3, E1 and D7 are read once per meter (MAC).
INF pushes (EA/EB every 30 minutes) go to `on_inf(props)`; an INFC gets its INFC_Res.

Recovery without human help: EVENT 29 (session lifetime) pauses sending until the module's
re-authentication ends with EVENT 25 (EVENT 24 there means rejoin); EVENT 32/33 pause and
resume sending (ARIB transmit-time limit, bounded at 65 min in case EVENT 33 is lost); EVENT
26/27/28 mean the session is gone.  Missed answers escalate: resend with a new TID, then rejoin,
then SKRESET and a fresh scan, then `on_reset` asks the app to reset the device (the app
decides).  It never blocks without a deadline and never logs the credentials.

`MeterSession(driver, clock, rbid, password, cache=None, settings=None, log=None, on_inf=None,
on_reset=None)`: connect(progress=None), read(epcs, timeout=None), read_history(day),
poll(timeout=0), kwh(count), join(pan, n), feed(item); pan {channel, pan_id, addr, lqi}, lqi, rssi,
ipv6, tid, joined, paused, coefficient, unit, digits, units_known, missed, and `stats`: a list of
counters in this order (a list, not a dict: its keys would be interned names):
requests, answers, resends, timeouts, dropped, infs, rejoins, rescans, reauths, txlimits.
"""

from util import const
import echonet
from bp35a1 import SkError, pan_from

# ARIB STD-T108 counts transmit time over one hour: EVENT 33 should come within that.
_TXLIMIT_MAX_MS = const(3900000)
_REAUTH = const(1)      # `paused`: EVENT 29, re-authenticating
_TXLIMIT = const(2)     # `paused`: EVENT 32, transmit-time limit
# Fields of the driver's items (lib/bp35a1.py): ('event', code, ...) and
# ('erxudp', sender, dest, rport, lport, sender_lla, secured, side, rssi, length, data, ...).
_CODE = const(1)
_SENDER = const(1)
_RPORT = const(3)
_LPORT = const(4)
_SECURED = const(6)
_DATA = const(10)
# `stats` indices (a list: its counters cost no interned names, a dict's keys would)
_REQUESTS = const(0)
_ANSWERS = const(1)
_RESENDS = const(2)
_TIMEOUTS = const(3)
_DROPPED = const(4)
_INFS = const(5)
_REJOINS = const(6)
_RESCANS = const(7)
_REAUTHS = const(8)
_TXLIMITS = const(9)

# Defaults for `settings` ("recovery" in SmartMeter.json; README lists them).
DEFAULTS = {
    'request_timeout_ms': 8000,    # one request's answer (real round trips 0.1-0.7 s)
    'history_timeout_ms': 20000,   # E2/E4 history (194-byte answers; AIF allows 60 s)
    'resends': 1,                  # resends with a new TID before a read counts as missed
    'rejoin_after': 2,             # consecutive missed reads -> SKJOIN again
    'rescan_after': 4,             # -> SKRESET, bring-up and a fresh scan
    'reset_after': 6,              # -> on_reset(): ask the app to reset the device
    'reauth_timeout_ms': 30000,    # EVENT 29 -> wait this long for EVENT 25, then rejoin
    'scan_durations': (4, 5, 6, 7, 8),  # growing active-scan durations
    'join_attempts': 3,            # SKJOIN tries on one PAN before scanning again
}


class MeterError(Exception):
    """The meter cannot be reached (the message says what to check)."""


class MeterSession:
    def __init__(self, driver, clock, rbid, password, cache=None, settings=None, log=None,
                 on_inf=None, on_reset=None):
        self.driver = driver
        self.clock = clock
        self.secrets = (rbid, password)     # for the driver's bring-up; never logged
        self.cache = cache
        self.settings = dict(DEFAULTS)
        self.settings.update(settings or {})
        self.log = log
        self.on_inf = on_inf
        self.on_reset = on_reset
        self.tid = 0
        self.pan = None             # {channel, pan_id, addr, lqi} of the joined meter
        self.lqi = None
        self.rssi = None            # dBm from the scan's LQI (momonga's formula)
        self.ipv6 = None
        self.joined = False
        self.paused = None          # None, _REAUTH (EVENT 29) or _TXLIMIT (EVENT 32)
        self._paused_at = 0
        self.coefficient = 1        # D3
        self.unit = 0.1             # E1, kWh per count
        self.digits = 8             # D7
        self.units_known = False    # D3/E1/D7 read from the joined meter
        self.missed = 0             # reads missed in a row
        self.stats = [0] * 10       # see the module docstring for the order

    def warning(self, msg, *args):
        """A warning line when the session was given a logger."""
        if self.log is not None:
            self.log.warning(msg, *args)

    def kwh(self, count):
        """Cumulative count -> kWh with the meter's D3 and E1 (None until they are known)."""
        if count is None or not self.units_known:
            return None
        return echonet.to_kwh(count, self.coefficient, self.unit)

    # ---- connection --------------------------------------------------------------------------

    def connect(self, progress=None):
        """Bring-up, join (saved scan result first, else scan) and read D3/E1/D7; progress(pct,
        text) on the way.  Raises MeterError with a message saying what to check."""
        self.joined = False
        self.paused = None
        if progress:
            progress(5, 'Wi-SUN module')
        try:
            self.driver.start(*self.secrets)
        except SkError as e:
            raise MeterError('Wi-SUN module not answering (%s): check the HAT and UART pins'
                             % e.args[0])
        pan = pan_from(self.cache.load()) if self.cache is not None else None
        if pan is not None:
            if progress:
                progress(40, 'joining')
            if not self.join(pan, 1):
                self.warning('saved PAN failed: scanning')
                self.cache.clear()
                pan = None
        durations = self.settings['scan_durations']
        for i in range(len(durations)):
            if pan is not None:
                break
            if progress:
                progress(10 + 50 * i // len(durations), 'scanning (%d)' % durations[i])
            try:
                pan = self.driver.scan(durations[i])
            except SkError as e:
                self.warning('%s failed: %s', 'scan', e)
                continue
            if pan is None:
                continue
            if progress:
                progress(65, 'joining')
            if not self.join(pan, self.settings['join_attempts']):
                raise MeterError('join refused (EVENT 24): check the B-route ID and password')
            if self.cache is not None:
                self.cache.save(pan)
        if pan is None:
            raise MeterError('meter not found: check the B-route ID or move closer')
        if progress:
            progress(85, 'reading meter')
        self._read_units()
        if progress:
            progress(100, 'connected')

    def join(self, pan, n):
        """SKJOIN pan, n tries; True once joined."""
        for _ in range(n):
            try:
                self.ipv6 = self.driver.join(pan)
            except SkError as e:
                self.warning('%s failed: %s', 'join', e)
                if e.args[0] != 'join':
                    # No EVENT 24 yet: the module may still be busy with that PANA attempt
                    # (SKJOIN then answers ER10).  SKRESET and set it up again.
                    self.driver.reset()
                    try:
                        self.driver.start(*self.secrets)
                    except SkError as e2:
                        self.warning('%s failed: %s', 'start', e2)
                continue
            if self.pan is None or self.pan['addr'] != pan['addr']:
                self.units_known = False        # another meter: read its D3/E1/D7
            self.pan = pan
            self.lqi = pan['lqi']
            self.rssi = 0.275 * pan['lqi'] - 104.27
            self.joined = True
            self.paused = None
            return True
        return False

    def _read_units(self):
        """D3 (coefficient), E1 (unit) and D7 (digits), once per meter.  Defaults are used only
        when the meter answers that it has no such property (Get_SNA / PDC 0), never after a
        mere timeout: a wrong unit would be wrong by 10x for months.  -> True when known."""
        if not self.units_known:
            values = self._request((0xD3, 0xE1, 0xD7))
            if values is None:
                self.warning('no D3/E1/D7 yet: no kWh')
                return False
            self.coefficient = values.get(0xD3) or 1
            unit = values.get(0xE1)
            self.unit = 0.1 if unit is None else unit    # no E1: 0.1 kWh, the common value
            self.digits = values.get(0xD7) or 8
            self.units_known = True
        return True

    # ---- events and frames -------------------------------------------------------------------

    def feed(self, item):
        """Process one unsolicited driver item; -> a frame from our meter that may be an answer."""
        st = self.stats
        if item[0] == 'event':
            code = item[_CODE]
            if code == 0x29:                        # session lifetime: module re-authenticates
                st[_REAUTHS] += 1
                self.paused = _REAUTH
                self._paused_at = self.clock.ticks_ms()
            elif code == 0x25:                      # (re-)authentication done
                self.joined = True
                if self.paused == _REAUTH:
                    self.paused = None
            elif code == 0x32:                      # ARIB transmit-time limit engaged
                st[_TXLIMITS] += 1
                self.paused = _TXLIMIT
                self._paused_at = self.clock.ticks_ms()
            elif code == 0x33:
                if self.paused == _TXLIMIT:
                    self.paused = None
            elif code in (0x24, 0x26, 0x27, 0x28):  # re-authentication failed / session gone
                self.joined = False
                self.paused = None
            return None
        # an ERXUDP: from our meter, port 0E1A both ways, encrypted, a well-formed frame
        frame = None
        if item[_RPORT] == 0x0E1A and item[_LPORT] == 0x0E1A and item[_SECURED] and item[_DATA] \
                and (item[_SENDER] == self.ipv6 or item[_SENDER].upper() == self.ipv6):
            try:
                frame = echonet.parse(item[_DATA])
            except echonet.EchonetError:
                pass
        if frame is None or frame[1][0] != 0x02 or frame[1][1] != 0x88:
            st[_DROPPED] += 1                   # PANA, foreign, unsecured, malformed, node profile
            return None
        esv = frame[3]
        if esv == 0x73 or esv == 0x74:          # INF, INFC
            st[_INFS] += 1
            if esv == 0x74:
                try:
                    self.driver.send(self.ipv6, echonet.build_infc_res(frame))
                except SkError:
                    pass
            if self.on_inf is not None:
                self.on_inf(frame[4])
            return None
        return frame

    def poll(self, timeout=0):
        """Handle what arrived between reads (INF pushes, events).  Never blocks past timeout
        (ms)."""
        item = self.driver.recv(timeout)
        while item is not None:
            if self.feed(item) is not None:
                self.stats[_DROPPED] += 1       # a late answer to an abandoned request
            item = self.driver.recv(0)

    # ---- reads -------------------------------------------------------------------------------

    def _request(self, epcs, timeout=None, data=None):
        """Get epcs (or, with data, SetC epcs[0] = data) with resends, each with a new TID: the
        answer's {epc: value} (None for PDC 0 or an EDT that does not decode), or None (no
        session, paused or no answer)."""
        timeout = timeout or self.settings['request_timeout_ms']
        st = self.stats
        clock = self.clock
        for attempt in range(1 + self.settings['resends']):
            # Re-authenticating (EVENT 29): wait, bounded, for EVENT 25.  Under the transmit-time
            # limit (EVENT 32) do not wait: it lasts up to an hour and the app keeps running.
            if self.paused == _TXLIMIT:
                self.poll(0)
                if self.paused == _TXLIMIT and clock.ticks_diff(
                        clock.ticks_ms(), self._paused_at) >= _TXLIMIT_MAX_MS:
                    # An EVENT 33 lost on the UART must not stop reading for ever: try again.
                    self.warning('no EVENT 33 in 65 min')
                    self.paused = None
            while self.paused == _REAUTH:
                left = self.settings['reauth_timeout_ms'] - clock.ticks_diff(
                    clock.ticks_ms(), self._paused_at)
                if left <= 0:
                    self.paused = None
                    self.joined = False
                    break
                item = self.driver.recv(left)
                if item is not None:
                    self.feed(item)
            if not self.joined or self.paused:
                return None
            if attempt:
                st[_RESENDS] += 1
            self.tid = tid = (self.tid + 1) & 0xFFFF
            st[_REQUESTS] += 1
            try:
                sent = self.driver.send(self.ipv6, echonet.build_get(tid, epcs) if data is None
                                        else echonet.build_setc(tid, epcs[0], data))
            except SkError as e:
                self.warning('%s failed: %s', 'send', e)
                continue
            if sent == 1:                           # EVENT 21 01: nothing went out
                self.poll(0)
                continue
            start = clock.ticks_ms()
            while True:
                left = timeout - clock.ticks_diff(clock.ticks_ms(), start)
                item = self.driver.recv(left) if left > 0 else None
                if item is None:
                    break
                frame = self.feed(item)
                if frame is not None:
                    if echonet.is_answer(frame, tid, epcs):
                        st[_ANSWERS] += 1
                        values = {}
                        for epc, edt in frame[4]:
                            try:
                                values[epc] = echonet.decode(epc, edt)
                            except echonet.EchonetError:
                                values[epc] = None
                        return values
                    st[_DROPPED] += 1
                if not self.joined or self.paused == _TXLIMIT:
                    break
        st[_TIMEOUTS] += 1
        return None

    def read(self, epcs, timeout=None):
        """A read that climbs the recovery ladder on misses: {epc: value} or None.  epcs is a
        tuple (E7+E8 in one request); a paused session gives None without counting a miss.
        Ladder: resends (in one read), then rejoin, SKRESET and a fresh scan, on_reset()."""
        s = self.settings
        retry = not self.joined        # no session: the rejoin below may still give a reading
        while True:
            if self.joined:
                values = self._request(epcs, timeout) if self._read_units() else None
                if values is not None:
                    self.missed = 0
                    return values
                if self.paused:
                    return None
            self.missed += 1
            self.warning('missed %d', self.missed)
            if self.missed >= s['reset_after']:
                self.warning('unreachable: asking for a reset')
                self.missed = 0
                if self.on_reset is not None:
                    self.on_reset()
            elif self.missed >= s['rescan_after']:
                self.warning('rescanning')
                self.stats[_RESCANS] += 1
                self.joined = False
                if self.cache is not None:
                    self.cache.clear()
                self.driver.reset()
                try:
                    self.connect()
                except (MeterError, SkError) as e:
                    self.warning('%s failed: %s', 'connect', e)
            elif self.missed >= s['rejoin_after'] or not self.joined:
                self.warning('rejoining')
                self.stats[_REJOINS] += 1
                self.joined = False
                if self.pan is not None:
                    self.join(self.pan, 1)
            if not (retry and self.joined):
                return None
            retry = False

    def read_history(self, day):
        """SetC E5 = day, then Get E2: (day, [48 counts or None]) or None."""
        done = self._request((0xE5,), None, bytes((day,)))
        # Set_Res carries E5 with PDC 0 (None); SetC_SNA gives the refused EDT back
        if done is None or done[0xE5] is not None:
            return None
        values = self.read((0xE2,), self.settings['history_timeout_ms'])
        return values.get(0xE2) if values else None
