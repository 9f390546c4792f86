"""The B-route meter session: ECHONET Lite reads over a joined PANA session, and recovery.

It is handed a driver (lib/bp35a1.py), a clock, the B-route credentials, a JsonStore for the
saved scan result, settings and callbacks.  It reads properties by set (E7+E8 in one request),
gives every request a new TID and accepts an answer only when it matches that TID and EPC set
and comes from the joined meter's address, port 0E1A, encrypted (SECURED 1), SEOJ 028801;
everything else is dropped and counted.  D3, E1 and D7 are read once per join and cached.
INF pushes (EA/EB every 30 minutes) go to `on_inf`; an INFC gets its INFC_Res.

Recovery without human help: EVENT 29 (session lifetime) pauses sending until the module's
re-authentication ends with EVENT 25 (EVENT 24 there means rejoin); EVENT 32/33 pause and
resume sending (ARIB transmit-time limit); EVENT 26/27/28 mean the session is gone.  Missed
answers escalate step by step: resend with a new TID, then rejoin, then SKRESET and a fresh
scan, then `on_reset` asks the app to reset the device (the app decides).  It never blocks
without a deadline and never logs the credentials.
"""

from compat import const
import echonet
from bp35a1 import SkError, Pan, lqi_to_rssi, mac_to_ipv6

_PORT = const(0x0E1A)
# ARIB STD-T108 counts transmit time over one hour: EVENT 33 should come within that.
TXLIMIT_MAX_MS = const(65 * 60 * 1000)

# Defaults for `settings` (documented in README, "recovery" in SmartMeter.json).
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

DEFAULT_UNIT = 0.1   # kWh per count when the meter has no E1 (the most common real value)


class MeterError(Exception):
    """The meter cannot be reached (with a message for the screen and log)."""


class MeterPaused(MeterError):
    """Sending is paused (transmit-time limit or re-authentication): not a missed answer."""


class MeterTimeout(MeterError):
    """No matching answer within the deadline."""


class MeterSession:
    def __init__(self, driver, clock, rbid, password, cache=None, settings=None, log=None,
                 on_inf=None, on_reset=None):
        self.drv = driver
        self.clock = clock
        self._rbid = rbid
        self._password = password
        self.cache = cache
        self.settings = dict(DEFAULTS)
        if settings:
            for k in settings:
                if k in DEFAULTS:
                    self.settings[k] = settings[k]
        self.log = log
        self.on_inf = on_inf
        self.on_reset = on_reset
        self.tid = echonet.Tid()
        self.pan = None
        self.ipv6 = None
        self.joined = False
        self.paused = None          # None, 'reauth' (EVENT 29) or 'txlimit' (EVENT 32)
        self._paused_at = 0
        self.coefficient = 1
        self.unit = DEFAULT_UNIT
        self.digits = 8
        self.units_for = None       # the meter (MAC) whose D3/E1/D7 are known
        self.missed = 0
        self.waiting = False        # a request is out and its answer not yet in
        self.stats = {
            'requests': 0, 'answers': 0, 'timeouts': 0, 'resends': 0, 'send_failures': 0,
            'foreign': 0, 'unsecured': 0, 'malformed': 0, 'ignored': 0, 'infs': 0,
            'joins': 0, 'rejoins': 0, 'rescans': 0, 'resets_requested': 0, 'scans': 0,
            'session_lost': 0, 'reauths': 0, 'txlimits': 0,
        }

    # ---- helpers -----------------------------------------------------------------------------

    def _info(self, fmt, *args):
        if self.log is not None:
            self.log.info(fmt, *args)

    def _warn(self, fmt, *args):
        if self.log is not None:
            self.log.warning(fmt, *args)

    @property
    def lqi(self):
        return self.pan.lqi if self.pan is not None else None

    @property
    def rssi(self):
        return lqi_to_rssi(self.pan.lqi) if self.pan is not None else None

    def _elapsed(self, since):
        return self.clock.ticks_diff(self.clock.ticks_ms(), since)

    # ---- connection --------------------------------------------------------------------------

    def connect(self, progress=None):
        """Bring-up, join (saved scan result first, else scan) and read D3/E1/D7.
        Raises MeterError with a message saying what to check."""
        self.joined = False
        self.paused = None
        if progress:
            progress(5, 'Wi-SUN module')
        try:
            self.drv.start(self._rbid, self._password)
        except SkError as e:
            raise MeterError('Wi-SUN module not answering (%s): check the HAT and UART pins' % e.code)
        saved = Pan.from_dict(self.cache.load()) if self.cache is not None else None
        if saved is not None:
            if progress:
                progress(40, 'joining (saved)')
            if self._join(saved, attempts=1):
                self._after_join(progress)
                return
            self._warn('join with the saved scan result failed: scanning again')
            self.cache.clear()
        self._scan_and_join(progress)
        self._after_join(progress)

    def _scan_and_join(self, progress=None):
        durations = self.settings['scan_durations']
        for i, duration in enumerate(durations):
            if progress:
                progress(10 + 50 * i // len(durations), 'scanning (%d)' % duration)
            self.stats['scans'] += 1
            try:
                pan = self.drv.scan(duration)
            except SkError as e:
                self._warn('scan failed: %s', e)
                pan = None
            if pan is None:
                continue
            self._info('meter found: channel %d (0x%02X) PAN %04X LQI %d (%.1f dBm)',
                       pan.channel, pan.channel, pan.pan_id, pan.lqi, lqi_to_rssi(pan.lqi))
            if progress:
                progress(65, 'joining')
            if self._join(pan, attempts=self.settings['join_attempts']):
                if self.cache is not None:
                    self.cache.save(pan.to_dict())
                return
            raise MeterError('join refused (EVENT 24): check the B-route ID and password')
        raise MeterError('meter not found: check the B-route ID (the scan pairs on it) and move the device closer to the meter')

    def _join(self, pan, attempts):
        for _ in range(attempts):
            try:
                self.ipv6 = self.drv.join(pan)
            except SkError as e:
                self._warn('join failed: %s', e)
                if e.code != 'join':
                    # No EVENT 24 yet: the module may still be busy with that PANA attempt
                    # (SKJOIN then answers ER10).  SKRESET and set it up again.
                    self._restart_module()
                continue
            self.pan = pan
            self.joined = True
            self.paused = None
            self.stats['joins'] += 1
            return True
        return False

    def _restart_module(self):
        self.drv.reset()
        try:
            self.drv.start(self._rbid, self._password)
        except SkError as e:
            self._warn('module restart failed: %s', e)

    def _after_join(self, progress=None):
        if progress:
            progress(85, 'reading meter')
        try:
            self.read_units()
        except MeterPaused:
            pass
        if progress:
            progress(100, 'connected')

    def read_units(self):
        """D3 (coefficient), E1 (unit) and D7 (digits), once per join.  Defaults are used only
        when the meter answers that it has no such property (Get_SNA / PDC 0), never after a
        mere timeout: a wrong unit would be wrong by 10x for months.  Returns True when known."""
        if self.units_for == self.pan.addr:
            return True
        try:
            values = self.get((0xD3, 0xE1, 0xD7))
        except MeterPaused:
            raise
        except MeterError as e:
            self._warn('D3/E1/D7 not answered (%s): kWh waits until they are', e)
            return False
        d3 = values.get(0xD3)
        e1 = values.get(0xE1)
        d7 = values.get(0xD7)
        if d3 is None:
            self._info('meter has no coefficient (D3): using 1')
        if e1 is None:
            self._info('meter has no unit (E1): using %s kWh', DEFAULT_UNIT)
        self.coefficient = d3 if d3 else 1
        self.unit = e1 if e1 is not None else DEFAULT_UNIT
        self.digits = d7 if d7 else 8
        self.units_for = self.pan.addr
        return True

    def rejoin(self):
        self.stats['rejoins'] += 1
        self.joined = False
        if self.pan is not None and self._join(self.pan, attempts=1):
            return True
        return False

    def rescan(self):
        self.stats['rescans'] += 1
        self.joined = False
        if self.cache is not None:
            self.cache.clear()
        self.drv.reset()
        try:
            self.connect()
        except (MeterError, SkError) as e:
            self._warn('rescan failed: %s', e)
            return False
        return True

    # ---- events and frames -------------------------------------------------------------------

    def _on_event(self, item):
        code = item.code
        if code == 0x29:                        # session lifetime: module re-authenticates
            self.stats['reauths'] += 1
            self.paused = 'reauth'
            self._paused_at = self.clock.ticks_ms()
        elif code == 0x25:                      # (re-)authentication done
            self.joined = True
            if self.paused == 'reauth':
                self.paused = None
        elif code == 0x24:                      # re-authentication failed
            self.joined = False
            self.paused = None
        elif code == 0x32:                      # ARIB transmit-time limit engaged
            self.stats['txlimits'] += 1
            self.paused = 'txlimit'
            self._paused_at = self.clock.ticks_ms()
        elif code == 0x33:
            if self.paused == 'txlimit':
                self.paused = None
        elif code in (0x26, 0x27, 0x28):        # the session is gone
            self.stats['session_lost'] += 1
            self.joined = False
            self.paused = None

    def _frame_from(self, item):
        """The ECHONET frame of an ERXUDP item when it is from our meter, else None (counted)."""
        if item.rport != _PORT or item.lport != _PORT:
            self.stats['ignored'] += 1
            return None
        if self.ipv6 is None or (item.sender != self.ipv6 and item.sender.upper() != self.ipv6):
            self.stats['foreign'] += 1
            return None
        if not item.secured:
            self.stats['unsecured'] += 1
            return None
        if item.data is None:
            self.stats['malformed'] += 1
            return None
        try:
            frame = echonet.parse(item.data)
        except echonet.EchonetError:
            self.stats['malformed'] += 1
            return None
        if frame.seoj[0] != 0x02 or frame.seoj[1] != 0x88:
            self.stats['ignored'] += 1      # node profile INF and the like
            return None
        if frame.esv == echonet.ESV_INF or frame.esv == echonet.ESV_INFC:
            self.stats['infs'] += 1
            if frame.esv == echonet.ESV_INFC:
                try:
                    self.drv.sendto(self.ipv6, echonet.build_infc_res(frame))
                except SkError:
                    pass
            if self.on_inf is not None:
                self.on_inf(frame)
            return None
        return frame

    def _handle(self, item):
        """Process one unsolicited item; returns a frame from our meter that may be an answer."""
        if item.kind == 'event':
            self._on_event(item)
            return None
        if item.kind == 'erxudp':
            return self._frame_from(item)
        return None

    def poll(self, timeout_ms=0):
        """Handle what arrived between reads (INF pushes, events).  Never blocks past timeout."""
        while True:
            item = self.drv.recv(timeout_ms)
            if item is None:
                return
            frame = self._handle(item)
            if frame is not None:
                self.stats['ignored'] += 1      # a late answer to an abandoned request
            timeout_ms = 0

    def _wait_resume(self):
        """While re-authenticating, wait (bounded) for EVENT 25; under the transmit limit,
        raise MeterPaused at once (it lasts up to an hour; the app keeps running)."""
        if self.paused == 'txlimit':
            self.poll(0)
            if self.paused == 'txlimit':
                if self._elapsed(self._paused_at) < TXLIMIT_MAX_MS:
                    raise MeterPaused('transmit-time limit (EVENT 32): waiting for EVENT 33')
                # The limit works over one hour: an EVENT 33 lost on the UART must not stop
                # reading for ever.  Try again; misses then climb the ladder as usual.
                self._warn('no EVENT 33 after %d min: sending again', TXLIMIT_MAX_MS // 60000)
                self.paused = None
        if self.paused == 'reauth':
            limit = self.settings['reauth_timeout_ms']
            while self.paused == 'reauth':
                left = limit - self._elapsed(self._paused_at)
                if left <= 0:
                    self.paused = None
                    self.joined = False
                    break
                item = self.drv.recv(left)
                if item is not None:
                    self._handle(item)

    # ---- reads -------------------------------------------------------------------------------

    def get(self, epcs, timeout_ms=None):
        """One property-set read with resends; {epc: value}.  Raises MeterTimeout, MeterPaused,
        or MeterError when there is no session."""
        if timeout_ms is None:
            timeout_ms = self.settings['request_timeout_ms']
        for attempt in range(1 + self.settings['resends']):
            self._wait_resume()
            if not self.joined:
                raise MeterError('no session')
            if attempt:
                self.stats['resends'] += 1
            tid = self.tid.next()
            self.stats['requests'] += 1
            try:
                sent = self.drv.sendto(self.ipv6, echonet.build_get(tid, epcs))
            except SkError as e:
                self.stats['send_failures'] += 1
                self._warn('send failed: %s', e)
                continue
            if sent == 1:
                self.stats['send_failures'] += 1
                # EVENT 21 01: nothing went out; the meter will not answer this TID.
                self.poll(0)
                continue
            frame = self._await(tid, epcs, timeout_ms)
            if frame is not None:
                self.stats['answers'] += 1
                return self._decode(frame)
        self.stats['timeouts'] += 1
        raise MeterTimeout('no answer for %s' % ','.join('%02X' % e for e in epcs))

    def _await(self, tid, epcs, timeout_ms):
        self.waiting = True
        try:
            return self._await_answer(tid, epcs, timeout_ms)
        finally:
            self.waiting = False

    def _await_answer(self, tid, epcs, timeout_ms):
        start = self.clock.ticks_ms()
        while True:
            left = timeout_ms - self._elapsed(start)
            if left <= 0:
                return None
            item = self.drv.recv(left)
            if item is None:
                return None
            frame = self._handle(item)
            if frame is not None and echonet.is_answer(frame, tid, epcs):
                return frame
            if frame is not None:
                self.stats['ignored'] += 1
            if not self.joined or self.paused == 'txlimit':
                return None

    def _decode(self, frame):
        values = {}
        for epc, edt in frame.props:
            try:
                values[epc] = echonet.decode(epc, edt)
            except echonet.EchonetError:
                self.stats['malformed'] += 1
                values[epc] = None
        return values

    def read(self, epcs, timeout_ms=None):
        """A read that climbs the recovery ladder on misses.  {epc: value} or None."""
        if not self.joined:
            self.missed += 1
            self._escalate()
            if not self.joined:
                return None
        try:
            if not self.units_known and not self.read_units():
                raise MeterTimeout('D3/E1/D7 not answered')
            values = self.get(epcs, timeout_ms)
        except MeterPaused:
            return None
        except MeterError as e:
            self.missed += 1
            self._warn('read missed (%d in a row): %s', self.missed, e)
            self._escalate()
            return None
        self.missed = 0
        return values

    def _escalate(self):
        s = self.settings
        if self.missed >= s['reset_after']:
            self.stats['resets_requested'] += 1
            self._warn('meter unreachable after %d tries: asking for a device reset', self.missed)
            self.missed = 0
            if self.on_reset is not None:
                self.on_reset()
        elif self.missed >= s['rescan_after']:
            self._warn('SKRESET and scanning again')
            self.rescan()
        elif self.missed >= s['rejoin_after'] or not self.joined:
            self._warn('joining again')
            self.rejoin()

    def read_instant(self):
        """E7 + E8 in one request: {'power_w', 'current_r_a', 'current_t_a'} or None."""
        values = self.read((0xE7, 0xE8))
        if values is None:
            return None
        amps = values.get(0xE8) or (None, None)
        return {'power_w': values.get(0xE7), 'current_r_a': amps[0], 'current_t_a': amps[1]}

    def read_history(self, day, reverse=False):
        """SetC E5 = day, then Get E2 (or E4): (day, [48 counts|None]) or None."""
        tid = None
        try:
            self._wait_resume()
            if not self.joined:
                return None
            tid = self.tid.next()
            self.stats['requests'] += 1
            if self.drv.sendto(self.ipv6, echonet.build_setc(tid, [(0xE5, bytes((day,)))])) == 1:
                return None         # EVENT 21 01: nothing went out, no answer will come
            frame = self._await(tid, (0xE5,), self.settings['request_timeout_ms'])
        except (SkError, MeterError):
            frame = None
        if frame is None or frame.esv != echonet.ESV_SET_RES:
            return None
        values = self.read((0xE4 if reverse else 0xE2,), self.settings['history_timeout_ms'])
        if values is None:
            return None
        return values.get(0xE4 if reverse else 0xE2)

    @property
    def units_known(self):
        return self.pan is not None and self.units_for == self.pan.addr

    def kwh(self, count):
        """Cumulative count -> kWh with the cached D3 and E1 (None until they are known)."""
        if count is None or not self.units_known:
            return None
        return echonet.to_kwh(count, self.coefficient, self.unit)


__all__ = ('MeterSession', 'MeterError', 'MeterPaused', 'MeterTimeout', 'DEFAULTS', 'mac_to_ipv6')
