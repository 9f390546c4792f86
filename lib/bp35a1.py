"""SKSTACK IP driver for the ROHM BP35A1 (and the dual-stack BP35C0/C2 family).

It is handed a UART-like object (`any`, `read`, `write`), a clock (`ticks_ms`, `ticks_diff`,
`ticks_add`, `sleep_ms`) and optionally a logger; it never builds a UART or reads a wall
clock.  It speaks commands and turns the module's output into items with lib/skstack.py.
Every wait has a deadline; `sleep_ms` is only the poll interval while waiting for input, and
an `idle` hook lets the app keep its screen, buttons and uploads alive during long waits
(scan, join).  Items that are not the answer to the running command (ERXUDP, EVENT, EPONG)
are queued, bounded, for the meter session (lib/meter.py) to take with `recv()`.
It never prints or logs the B-route ID or password: wire traces mask them.

Bring-up order (protocol facts: BP35A1 manual, field logs): flush junk, SKVER (SKRESET if the
module is hung), SKINFO (dialect: last field FFFE = BP35A1), SKTERM (FAIL ER10 = no session),
SKSREG SFE 0 (echo off), ROPT and WOPT 01 only when the mode differs (WOPT writes flash,
about 10,000 times in a module's life; ROPT FAIL ER04 = fixed ASCII), SKSETPWD, SKSETRBID.
Then scan (growing duration), SKLL64, S2/S3 and SKJOIN until EVENT 25 (EVENT 24 = failure).
"""

from compat import const, is_hex
import skstack

POLL_MS = const(5)            # poll interval while waiting for UART input
CMD_TIMEOUT_MS = const(3000)  # an SK command answers within ~100 ms; be generous
JOIN_TIMEOUT_MS = const(30000)
MAX_QUEUE = const(16)         # unsolicited items kept for the session
READ_CHUNK = const(256)

# One scan = 28 channels x (2^duration + 1) x 9.6 ms (BP35A1 manual p.27; real log: 18.0 s at 6)
_CHANNELS = const(28)


def scan_time_ms(duration):
    return _CHANNELS * ((1 << duration) + 1) * 96 // 10


def mac_to_ipv6(mac):
    """'001C640003DD6393' -> 'FE80:0000:0000:0000:021C:6400:03DD:6393' (U/L bit flipped)."""
    first = int(mac[0:2], 16) ^ 0x02
    iid = '%02X' % first + mac[2:]
    return 'FE80:0000:0000:0000:' + ':'.join(iid[i:i + 4] for i in range(0, 16, 4))


def lqi_to_rssi(lqi):
    """RSSI in dBm from the LQI a scan reports (formula used by momonga): 0.275 * LQI - 104.27."""
    return 0.275 * lqi - 104.27


def _glued_ok(text, command):
    """'SKINFOOK', 'ROOK 00': leftover echo text with the answer glued behind it (seen after
    UART junk).  Returns an 'ok' item when text is a prefix of `command` followed by OK."""
    i = text.find('OK')
    while i >= 0:
        rest = text[i + 2:]
        if command.startswith(text[:i]) and (not rest or rest[0] == ' '):
            item = skstack.Item('ok')
            item.value = rest[1:] if rest else None
            return item
        i = text.find('OK', i + 1)
    return None


def _pan_from(item):
    """A Pan from a scan's EPANDESC item, or None when the block was cut short or garbled
    (UART junk at boot can truncate it)."""
    ch, pan_id, lqi, addr = item.channel, item.pan_id, item.lqi, item.addr
    if not (isinstance(ch, int) and isinstance(pan_id, int) and isinstance(lqi, int)):
        return None
    if not isinstance(addr, str) or len(addr) != 16 or not is_hex(addr):
        return None
    if not (0x21 <= ch <= 0x3C and 0 <= pan_id <= 0xFFFF):
        return None
    page = item.channel_page if isinstance(item.channel_page, int) else 9
    return Pan(ch, pan_id, addr.upper(), lqi, page)


class SkError(Exception):
    """A command failed: `code` is 'ER04'..'ER10', or 'timeout', or 'join'."""

    def __init__(self, code, message=''):
        super().__init__('%s %s' % (code, message) if message else code)
        self.code = code


class Pan:
    """The meter found by a scan: what a saved scan result holds."""

    def __init__(self, channel, pan_id, addr, lqi=0, channel_page=9):
        self.channel = channel
        self.pan_id = pan_id
        self.addr = addr
        self.lqi = lqi
        self.channel_page = channel_page

    def to_dict(self):
        return {'channel': self.channel, 'pan_id': self.pan_id, 'addr': self.addr, 'lqi': self.lqi}

    @staticmethod
    def from_dict(d):
        try:
            ch, pan, addr = int(d['channel']), int(d['pan_id']), str(d['addr']).upper()
        except (KeyError, TypeError, ValueError):
            return None
        if not (0x21 <= ch <= 0x3C and 0 <= pan <= 0xFFFF and len(addr) == 16):
            return None
        return Pan(ch, pan, addr, int(d.get('lqi', 0) or 0))


class Bp35a1:
    def __init__(self, uart, clock, log=None, idle=None):
        self.uart = uart
        self.clock = clock
        self.log = log
        # Wire traces are built only when they will be printed (no allocation otherwise).
        self.debug = log is not None and (not hasattr(log, 'enabled') or log.enabled(10))
        self.idle = idle            # called while waiting; must not call back into the driver
        self.parser = skstack.LineParser()
        self.dialect = None         # 'bp35a1' or 'bp35c2', from SKINFO
        self.version = None
        self.ascii_mode = None      # True: ERXUDP data in hex ASCII (WOPT 01)
        self.wopt_writes = 0
        self.queue = []
        self.queue_dropped = 0
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.fails = 0              # FAIL lines that answered nothing (stray ER09 and the like)
        self._secrets = ()
        self._heads = {}            # SKSENDTO headers by (address, port, length)
        self._starved = False       # the parser needs bytes it has not been given yet

    # ---- low level -------------------------------------------------------------------------

    def _trace(self, direction, text):
        if not self.debug:
            return
        for s in self._secrets:
            if s and s in text:
                text = text.replace(s, '*' * 4)
        self.log.debug('%s %s', direction, text)

    def _write(self, data):
        self.tx_bytes += len(data)
        self.uart.write(data)

    def _send_line(self, line, cr_only=False):
        self._trace('>', line)
        self._write((line + ('\r' if cr_only else '\r\n')).encode())

    def _pump(self):
        """Move what the UART has into the parser (bounded chunks)."""
        n = self.uart.any()
        while n:
            data = self.uart.read(n if n < READ_CHUNK else READ_CHUNK)
            if not data:
                break
            self.rx_bytes += len(data)
            self.parser.feed(data)
            n = self.uart.any()

    def _next(self):
        # The parser is asked again only when bytes arrived since it last said "need more":
        # re-parsing a half-received ERXUDP line every 5-ms poll would allocate for nothing.
        if not self._starved:
            item = self.parser.next()
            if item is not None:
                return item
            self._starved = True
        n = self.rx_bytes
        self._pump()
        if self.rx_bytes == n:
            return None
        item = self.parser.next()
        self._starved = item is None
        return item

    def _enqueue(self, item):
        if len(self.queue) >= MAX_QUEUE:
            self.queue.pop(0)
            self.queue_dropped += 1
        self.queue.append(item)

    def _wait(self, deadline):
        """One poll interval; False once the deadline has passed."""
        if self.clock.ticks_diff(deadline, self.clock.ticks_ms()) <= 0:
            return False
        if self.idle is not None:
            self.idle()
        self.clock.sleep_ms(POLL_MS)
        return True

    def _take(self, deadline, what=None):
        """The next item before the deadline.  After it: SkError('timeout', what), or None
        when `what` is None (the caller treats silence as an answer)."""
        while True:
            item = self._next()
            if item is not None:
                return item
            if not self._wait(deadline):
                if what is None:
                    return None
                raise SkError('timeout', what.split(' ')[0])

    def _deadline(self, timeout_ms):
        return self.clock.ticks_add(self.clock.ticks_ms(), timeout_ms)

    def flush(self, quiet_ms=100, max_ms=1000):
        """Drop junk: read until the line has been quiet for quiet_ms (at most max_ms)."""
        end = self._deadline(max_ms)
        quiet = self._deadline(quiet_ms)
        while True:
            if self.uart.any():
                self._pump()
                quiet = self._deadline(quiet_ms)
            if self.clock.ticks_diff(quiet, self.clock.ticks_ms()) <= 0:
                break
            if not self._wait(end):
                break
        self.parser.reset()
        self._starved = False
        self.queue = []

    # ---- commands ----------------------------------------------------------------------------

    def command(self, line, timeout_ms=CMD_TIMEOUT_MS, cr_only=False, want=None):
        """Send one command; return its OK item (or the first item of kind `want`, e.g. 'ipv6').

        FAIL ERxx raises SkError(code).  A stray FAIL ER09 (UART input error: bytes the module
        received while busy) is counted and the command is sent once more.  Echo lines are
        skipped, unsolicited items are queued for the session.
        """
        retried = False
        self._send_line(line, cr_only)
        deadline = self._deadline(timeout_ms)
        result = None
        while True:
            item = self._take(deadline, line)
            kind = item.kind
            if kind == 'ok':
                return result if result is not None else item
            if kind == 'fail':
                if item.code == 'ER09' and not retried:
                    self.fails += 1
                    retried = True
                    self._send_line(line, cr_only)
                    deadline = self._deadline(timeout_ms)
                    continue
                raise SkError(item.code, line.split(' ')[0])
            if want is not None and kind == want:
                if want == 'ipv6':      # SKLL64 answers with the bare address and no OK
                    return item
                result = item
                continue
            if kind == 'echo' or kind == 'unparsed':
                glued = _glued_ok(item.line, line)
                if glued is not None:
                    return result if result is not None else glued
            if kind in ('echo', 'unparsed'):
                continue
            self._enqueue(item)

    def register(self, name, value):
        self.command('SKSREG %s %s' % (name, value))

    def start(self, rbid, password, want_ascii=True):
        """Bring the module to a known state (no session, echo off, output mode, credentials)."""
        self._secrets = (rbid, password)
        self.flush()
        try:
            self.version = self.command('SKVER', want='version').version
        except SkError:
            # A hung module ignores everything until SKRESET (field logs; the 'hang' scenario).
            self._send_line('SKRESET')
            self.flush(quiet_ms=300, max_ms=3000)
            self.version = self.command('SKVER', want='version').version
        info = self.command('SKINFO', want='info')
        self.dialect = 'bp35a1' if info.side.upper() == 'FFFE' else 'bp35c2'
        self.terminate()
        self.register('SFE', '0')
        try:
            mode = self.command('ROPT', cr_only=True).value
        except SkError as e:
            if e.code != 'ER04':
                raise
            mode = None                  # no ROPT: output fixed to ASCII (momonga README)
        if mode is None:
            self.ascii_mode = True
        else:
            try:
                current = int(mode, 16) & 1 == 1
            except ValueError:
                current = None
            if current != want_ascii:
                self.command('WOPT %s' % ('01' if want_ascii else '00'), cr_only=True)
                self.wopt_writes += 1
            self.ascii_mode = want_ascii
        self.command('SKSETPWD %X %s' % (len(password), password))
        self.command('SKSETRBID %s' % rbid)

    def reset(self):
        """SKRESET: back to the module's defaults (credentials and registers must be set again)."""
        try:
            self.command('SKRESET')
        except SkError:
            pass
        self.flush()

    def terminate(self, timeout_ms=3000):
        """End a PANA session if there is one.  True when one was ended."""
        try:
            self.command('SKTERM')
        except SkError as e:
            if e.code == 'ER10':        # no session
                return False
            raise
        deadline = self._deadline(timeout_ms)
        while True:
            item = self._take(deadline)
            if item is None:
                return True
            if item.kind == 'event' and item.code in (0x27, 0x28):
                return True
            if item.kind not in ('echo', 'unparsed', 'ok', 'fail'):
                self._enqueue(item)

    def scan(self, duration):
        """Active scan with the Pairing-ID IE; the best PAN found (highest LQI) or None."""
        if self.dialect == 'bp35c2':
            self.command('SKSCAN 2 FFFFFFFF %d 0' % duration)
        else:
            self.command('SKSCAN 2 FFFFFFFF %d' % duration)
        deadline = self._deadline(scan_time_ms(duration) * 3 // 2 + 5000)
        best = None
        while True:
            item = self._take(deadline, 'SKSCAN')
            if item.kind == 'pan':
                pan = _pan_from(item)
                if pan is not None and (best is None or pan.lqi > best.lqi):
                    best = pan
            elif item.kind == 'event' and item.code == 0x22:
                return best
            elif item.kind == 'event' and item.code == 0x20:
                continue
            elif item.kind in ('erxudp', 'event', 'pong'):
                self._enqueue(item)

    def join(self, pan, timeout_ms=JOIN_TIMEOUT_MS):
        """SKLL64, S2, S3, SKJOIN; returns the meter's IPv6 address once EVENT 25 arrives.
        Raises SkError('join') on EVENT 24, SkError('timeout') when neither arrives."""
        ipv6 = self.command('SKLL64 %s' % pan.addr, want='ipv6').addr
        self.register('S2', '%X' % pan.channel)
        self.register('S3', '%X' % pan.pan_id)
        self.command('SKJOIN %s' % ipv6)
        deadline = self._deadline(timeout_ms)
        while True:
            item = self._take(deadline, 'SKJOIN')
            if item.kind == 'event':
                if item.code == 0x25:
                    return ipv6
                if item.code == 0x24:
                    raise SkError('join', 'EVENT 24')
                continue            # 21/02 during PANA
            if item.kind == 'erxudp':
                if item.rport == 0x0E1A:
                    self._enqueue(item)     # the node-profile INF may come right away
                continue                    # PANA on 02CC

    def sendto(self, ipv6, data, port=0x0E1A, timeout_ms=CMD_TIMEOUT_MS):
        """SKSENDTO with encryption (SEC 1).  Returns the EVENT 21 parameter (0 = sent,
        1 = failed, 2 = address resolution first) or None when the module printed none."""
        key = (ipv6, port, len(data))
        head = self._heads.get(key)
        if head is None:
            # A refresh sends the same few headers again and again: build each once.
            if len(self._heads) >= 8:
                self._heads = {}
            side = ' 0' if self.dialect == 'bp35c2' else ''
            head = ('SKSENDTO 1 %s %04X 1%s %04X ' % (ipv6, port, side, len(data))).encode()
            self._heads[key] = head
        if self.debug:
            self._trace('>', '%s<%d bytes>' % (head.decode(), len(data)))
        self._write(head)
        self._write(data)
        deadline = self._deadline(timeout_ms)
        result = None
        while True:
            item = self._take(deadline, 'SKSENDTO')
            kind = item.kind
            if kind == 'ok':
                return result
            if kind == 'fail':
                raise SkError(item.code, 'SKSENDTO')
            if kind == 'event' and item.code == 0x21:
                result = item.param
                continue
            if kind == 'echo' or kind == 'unparsed':
                if _glued_ok(item.line, head.decode()) is not None:
                    return result
                continue
            self._enqueue(item)

    def recv(self, timeout_ms):
        """The next unsolicited item (ERXUDP, EVENT, EPONG) within timeout_ms, else None.
        Stray OK/FAIL lines that answer no command are counted and dropped."""
        deadline = self._deadline(timeout_ms)
        while True:
            if self.queue:
                return self.queue.pop(0)
            item = self._take(deadline)
            if item is None:
                return None
            if item.kind in ('erxudp', 'event', 'pong', 'pan'):
                return item
            if item.kind == 'fail':
                self.fails += 1
