"""SKSTACK IP driver for the ROHM BP35A1 (and the dual-stack BP35C0/C2 family): line parser + commands.

`LineParser(size=2048)` (pure) turns the bytes the module prints, in any fragmentation (`feed`),
into one item per response line, event or EPANDESC block (`next`); one byte at a time gives the
same items as one big read.  Items are tuples, kind first:

    ('OK', value)                        value: the text after OK ('01' for ROPT) or None
    ('fail', code)                       'ER04' .. 'ER10' (None for a bare FAIL)
    ('event', code, sender, side, param) code int; side and param int or None
    ('pan', fields)                      one EPANDESC block as printed: {'Channel': '21',
                                         'Channel Page': '09', 'Pan ID': '8888', 'Addr': ..., 'LQI': ..}
    ('erxudp', sender, dest, rport, lport, sender_lla, secured, side, rssi, length, data, binary, error)
    ('text', line)                       any other line: echoes, EVER, EINFO, the address SKLL64
                                         prints, junk

It knows both dialects (BP35A1: `EVENT nn addr [param]`, 9-token ERXUDP; BP35C0/C2: `EVENT nn addr
side [param]`, ERXUDP with SIDE and optional RSSI) and both ERXUDP data forms (hex ASCII, WOPT 01;
raw binary, WOPT 00, framed by DATALEN even when the bytes hold spaces, CR or LF), line by line.
Keywords glued behind leftover text on one line (an echo whose CRLF never came) start a new item;
a LF at the start of a line is the end of the line before (CR LF) or an empty line: skipped.
It never raises on any input (a broken ERXUDP is an 'erxudp' item with data None and `error`),
never holds more than `size` bytes (overflow drops the oldest, counted in `dropped`) and masks
the secret in SKSET* echoes (SKSETPWD, SKSETRBID).  It waits for more bytes rather than guessing,
so the last line of a stream that has ended stays buffered: `buf[offset:]` (tools/decode.py
completes it).

`Bp35a1(uart, clock, log=None, idle=None)` is handed a UART-like object (`any`, `read`,
`write`), a clock (`ticks_ms`, `ticks_diff`, `ticks_add`, `sleep_ms`) and optionally a logger;
it never builds a UART or reads a wall clock.  Every wait has a deadline; `sleep_ms` is only the
poll interval while waiting for input, and `idle` lets the app keep its screen and buttons alive
during long waits (scan, join).  Items that are not the answer to the running command (ERXUDP,
EVENT) are queued, bounded, in `queue` for the meter session to take with `recv()`.  Wire traces
are built only at debug level and show SKSETPWD/SKSETRBID without their argument.  Commands:
`start(rbid, password)`, `reset()`, `flush()`, `scan(n)`, `join(pan)`, `send(ipv6, data)` (SKSENDTO),
`command(line, data=None)`, `recv(timeout)`; `side` is ' 0' on the BP35C0/C2 (its SKSCAN and
SKSENDTO take a SIDE argument, 0 = B route), '' on the BP35A1.

Bring-up (BP35A1 manual, field logs): flush junk, SKVER (SKRESET if the module is hung), SKINFO
(dialect: last field FFFE = BP35A1), SKTERM (FAIL ER10 = no session), SKSREG SFE 0 (echo off),
ROPT and WOPT 01 only when the mode differs (WOPT writes flash, about 10,000 times in a module's
life; ROPT FAIL ER04 = fixed ASCII), SKSETPWD, SKSETRBID.  Then scan (growing duration), S2/S3
and SKJOIN until EVENT 25 (EVENT 24 = failure); the meter's link-local address is computed from
its MAC the way SKLL64 does (FE80::, U/L bit flipped).  Facts: ROHM BP35A1 command reference
1.3.0 and real captures (V01-V42).
"""

from util import const, unhex, is_hex

_CR = const(13)
_LF = const(10)
# "ERXUDP " + SENDER(39) DEST(39) RPORT LPORT SENDERLLA(16) [RSSI] SECURED SIDE DATALEN and
# their spaces is 127 bytes; a header that has no DATALEN token by here is broken.
_HDR_MAX = const(160)


def decode(data):
    """bytes -> str; bytes >= 0x80 become '?' (module output is ASCII, junk may not be)."""
    if data and max(data) >= 0x80:
        return ''.join([chr(c) if c < 0x80 else '?' for c in data])
    return data.decode()


class LineParser:
    """Incremental parser: feed(bytes), then call next() until it returns None."""

    def __init__(self, size=2048):
        self.size = size
        self.dropped = 0
        self.reset()

    def feed(self, data):
        if not data:
            return
        if not isinstance(data, bytes):
            data = bytes(data)
        pos = self.offset
        buf = data if pos >= len(self.buf) else self.buf[pos:] + data
        over = len(buf) - self.size
        if over > 0:
            buf = buf[over:]
            self.dropped += over
        self.buf = buf
        self.offset = 0

    def reset(self):
        self.buf = b''
        self.offset = 0
        self.pan = None         # fields of an open EPANDESC block

    def next(self):
        """The next item, or None when more bytes are needed."""
        try:
            while True:
                buf = self.buf
                n = len(buf)
                p = self.offset
                if p >= n:
                    if n:               # all consumed: let the bytes go (an E2 answer is 540)
                        self.buf = b''
                        self.offset = 0
                    return None
                if buf[p] == _LF:       # the LF of a CR LF, or an empty line
                    self.offset = p + 1
                    continue
                pan = self.pan
                if pan is not None and buf[p] != 32:
                    self.pan = None     # field lines all start with spaces
                    return ('pan', pan)
                if buf.startswith(b'ERXUDP', p):
                    # ERXUDP SENDER DEST RPORT LPORT SENDERLLA [RSSI] SECURED [SIDE] DATALEN DATA
                    if buf.find(b'\n', p) < 0:
                        # Both forms end in CR LF (binary data may hold LFs too, but no LF at all
                        # means the line is incomplete): wait instead of tokenising a half line at
                        # every poll.  With a LF somewhere behind, the header is complete or
                        # broken, never still arriving.
                        return None
                    lim = min(self._line_end(p), p + _HDR_MAX)   # the header ends before this
                    item = ('erxudp', None, None, None, None, None, None, None, None, None)
                    error = 'bad header'
                    q = p + 7
                    k = 0                             # header tokens
                    while k < 9:
                        sp = buf.find(b' ', q, lim)
                        if sp < 0:
                            break
                        k += 1
                        start = q
                        q = sp + 1
                        if k > 6 and sp - start == 4:
                            # DATALEN: the first 4-character token after SECURED (RSSI has 2,
                            # SIDE 1).  k: 7 (BP35A1), 8 (+ SIDE) or 9 (+ RSSI and SIDE)
                            t = decode(buf[p + 7:sp]).split(' ')
                            try:
                                item = ('erxudp', t[0], t[1], int(t[2], 16), int(t[3], 16), t[4],
                                        int(t[k - 2 if k == 7 else k - 3], 16) == 1,
                                        int(t[k - 2], 16) if k > 7 else None,
                                        int(t[5], 16) if k == 9 else None, int(t[-1], 16))
                                error = None
                            except ValueError:
                                pass
                            break
                    end = self._line_end(q - 1)   # where the text after the header stops
                    if error is None:
                        length = item[9]
                        x = q + length
                        if end - q == 2 * length:
                            # Hex ASCII (WOPT 01): 2*DATALEN hex digits, then the line end.
                            # Binary payloads start 0x10 (ECHONET) or 0x00 (PANA), never with a
                            # hex digit.
                            try:
                                item += (unhex(buf[q:end]), False, None)
                            except ValueError:
                                pass
                        if len(item) == 10:
                            # Binary (WOPT 00): exactly DATALEN raw bytes, then CRLF.
                            if is_hex(decode(buf[q:end])):   # hex digits, not 2*DATALEN of them
                                error = 'DATALEN mismatch'
                            elif x - p >= self.size:
                                error = 'DATALEN too large'
                            elif x >= n:
                                return None
                            elif buf[x] != _CR and buf[x] != _LF:
                                error = 'DATALEN mismatch'
                            else:
                                end = x
                                item += (buf[q:x], True, None)
                    if error is not None:
                        # broken: skip to where the line stops (its line end or a keyword),
                        # keep what is known
                        if end < 0:
                            end = n
                        item += (None, None, error)
                else:
                    end = self._line_end(p)
                    if end < 0:
                        return None
                    item = None
                # consume buf[:end] and, when buf[end] is a line end, that too
                c = buf[end] if end < n else 0
                self.offset = end + 1 if c == _CR or c == _LF else end
                if item is not None:
                    return item
                s = decode(buf[p:end])
                t = s.split()
                if not t:                      # empty line
                    continue
                w = t[0]
                m = len(t)
                if pan is not None:
                    i = s.find(':')
                    if i < 0:                  # not a field: the block ended before this line
                        self.offset = p
                        self.pan = None
                        return ('pan', pan)
                    pan[s[:i].strip()] = s[i + 1:].strip()
                elif w == 'OK':
                    return ('OK', s[3:].strip() or None)
                elif w == 'FAIL':
                    return ('fail', t[1] if m > 1 else None)
                elif w == 'EPANDESC' and m == 1:
                    self.pan = {}
                else:
                    if w == 'EVENT' and 3 <= m <= 5:
                        # EVENT <NUM> <SENDER> [<SIDE>] [<PARAM>]: a 1-char 4th token is the
                        # dual-stack side, a 2-char one the param (BP35A1 "EVENT 21 addr 00";
                        # BP35C2 "EVENT 21 addr 0 00")
                        side = param = None
                        try:
                            if m == 5:
                                side = int(t[3], 16)
                                param = int(t[4], 16)
                            elif m == 4 and len(t[3]) == 1:
                                side = int(t[3], 16)
                            elif m == 4:
                                if len(t[3]) != 2:
                                    raise ValueError
                                param = int(t[3], 16)
                            return ('event', int(t[1], 16), t[2], side, param)
                        except ValueError:
                            pass
                    elif w[:5] == 'SKSET':      # SKSETPWD, SKSETRBID: the secret never comes out
                        s = w + ' ********'
                    return ('text', s)
        except Exception as e:  # last resort: a parser bug must not stop the device
            p = self.offset
            end = self.buf.find(b'\n', p) + 1 or len(self.buf)
            self.dropped += end - p
            self.offset = end
            self.pan = None
            return ('text', '%s: %s' % ('parser', e))

    def _line_end(self, start):
        """Where the text from start stops: its first CR or LF, or a keyword glued into it
        before that (-1: the line is still arriving)."""
        buf = self.buf
        n = len(buf)
        cr = buf.find(b'\r', start)
        lf = buf.find(b'\n', start, n if cr < 0 else cr)
        e = lf if lf >= 0 else cr
        # Lines a module starts with a keyword; any of these found behind leftover text on the
        # same line (an echo whose CRLF never came: "SKSENDTO 1 ... 000EEVENT 21 ...") starts
        # a new item.
        for kw in (b'ERXUDP ', b'EVENT ', b'EPANDESC', b'EINFO ', b'EVER ', b'FAIL ER'):
            i = buf.find(kw, start + 1, n if e < 0 else e)
            if i >= 0:
                e = i
        return e


# ---- the driver -------------------------------------------------------------------------------

_POLL_MS = const(5)           # poll interval while waiting for UART input (tools/bench.py reads
                              # it on CPython, where const() is int)
_CMD_MS = const(3000)         # an SK command answers within ~100 ms; be generous
_JOIN_MS = const(30000)
_MAX_QUEUE = const(16)        # unsolicited items kept for the session
_READ_CHUNK = const(256)


def pan_from(data):
    """The meter a scan found, as the dict a saved scan result holds ({channel, pan_id, addr,
    lqi}), from an EPANDESC block's fields (as printed: 'Channel', 'Pan ID', ..., hex text) or a
    loaded saved result (ints); keys match in any case, a space as '_'.  None when it is cut
    short or garbled (UART junk at boot can truncate a block; a saved file can be edited).  A
    missing LQI counts as 0."""
    try:
        d = {}
        for key in data:        # 'Pan ID' -> 'pan_id': both forms have the same keys after this
            d[key.lower().replace(' ', '_')] = data[key]
        ch, pan_id, addr, lqi = d['channel'], d['pan_id'], d['addr'].upper(), d.get('lqi')
        if isinstance(ch, str):     # as printed: hex text
            ch, pan_id, lqi = int(ch, 16), int(pan_id, 16), int('0' if lqi is None else lqi, 16)
        lqi = lqi or 0
        ch | pan_id | lqi       # TypeError unless all are ints (an edited file may hold 33.0)
        if 0x21 <= ch <= 0x3C and 0 <= pan_id <= 0xFFFF and 0 <= lqi <= 255 and len(addr) == 16 \
                and is_hex(addr):
            return {'channel': ch, 'pan_id': pan_id, 'addr': addr, 'lqi': lqi}
    except Exception:       # a missing field, a wrong type, not hex, not a dict
        pass
    return None


class SkError(Exception):
    """A command failed: args[0] is 'ER04'..'ER10', 'timeout' or 'join'; args[1] what failed."""


class Bp35a1:
    def __init__(self, uart, clock, log=None, idle=None):
        self.uart = uart
        self.clock = clock
        # Wire traces are built only when they will be printed (no allocation otherwise).
        self.log = log if log is not None and log.enabled(10) else None
        self.idle = idle            # called while waiting; must not call back into the driver
        self.parser = LineParser()
        self.side = ''              # ' 0' on the BP35C0/C2 (from SKINFO): the SIDE argument
        self.queue = []             # unsolicited ERXUDP and EVENT items for the session

    # ---- low level -------------------------------------------------------------------------

    def push(self, value):
        """Keep an item, when it is an ERXUDP or EVENT, for recv() (the oldest goes when the
        queue is full); anything else (a stray OK, FAIL, text line) is dropped."""
        if value[0] == 'erxudp' or value[0] == 'event':
            if len(self.queue) >= _MAX_QUEUE:
                self.queue.pop(0)
            self.queue.append(value)

    def _take(self, end, name=None):
        """The next item before the ticks deadline `end`.  After it: SkError('timeout', name),
        or None when `name` (what is awaited) is None: the caller treats silence as an answer.
        `idle` runs and the clock sleeps one poll interval between looks at the UART.

        The parser is asked once on entry (earlier reads may hold more items), then only when
        bytes arrived: re-parsing a half-received ERXUDP line every 5-ms poll would allocate
        for nothing."""
        parser = self.parser
        clock = self.clock
        item = parser.next()
        while item is None:
            n = self.uart.any()
            if n:
                while n:
                    data = self.uart.read(n if n < _READ_CHUNK else _READ_CHUNK)
                    if not data:
                        break
                    parser.feed(data)
                    n = self.uart.any()
                item = parser.next()
                if item is not None:
                    break
            if clock.ticks_diff(end, clock.ticks_ms()) <= 0:
                if name is None:
                    return None
                raise SkError('timeout', name)
            if self.idle is not None:
                self.idle()
            clock.sleep_ms(_POLL_MS)
        return item

    def flush(self):
        """Drop junk: read until the line has been quiet for 300 ms (at most 3 s)."""
        clock = self.clock
        end = clock.ticks_add(clock.ticks_ms(), 3000)
        quiet = clock.ticks_add(clock.ticks_ms(), 300)
        while clock.ticks_diff(quiet, clock.ticks_ms()) > 0 \
                and clock.ticks_diff(end, clock.ticks_ms()) > 0:
            if self.uart.any():
                self.uart.read(self.uart.any())
                quiet = clock.ticks_add(clock.ticks_ms(), 300)
            clock.sleep_ms(_POLL_MS)
        self.parser.reset()
        self.queue = []

    # ---- commands ----------------------------------------------------------------------------

    def command(self, line, data=None):
        """Send one command line (SKSENDTO: its header, then `data` raw) and wait for its OK.

        -> the EVENT 21 parameter for SKSENDTO (0 sent, 1 failed, 2 neighbour solicitation
        first; None when none came), else the text on the OK line ('01' for ROPT), else the
        last other line before OK (SKINFO: its EINFO line), else None.  FAIL ERxx raises
        SkError(code).  A stray FAIL ER09 (UART input error: bytes the module received while
        busy) is answered by sending the command once more.  Unsolicited items are queued for
        the session.  SK commands end in CR LF, the product commands (ROPT, WOPT) in CR only.
        """
        i = line.find(' ')
        word = line[:i] if i > 0 else line
        out = line.encode()
        if data is None:
            out += b'\r\n' if out[:2] == b'SK' else b'\r'
        retried = False
        seen = None
        while True:
            if self.log is not None:    # SKSETPWD, SKSETRBID: the secret never reaches the log
                self.log.debug(word + ' ********' if out[:5] == b'SKSET' else line)
            self.uart.write(out)
            if data is not None:
                self.uart.write(data)
            end = self.clock.ticks_add(self.clock.ticks_ms(), _CMD_MS)
            while True:
                item = self._take(end, word)
                kind, value = item[0], item[1]
                if kind == 'text':
                    # 'SKINFOOK', 'ROOK 00': leftover echo text with the answer glued behind
                    # it (seen after UART junk): a prefix of the command, then OK
                    i = value.find('OK')
                    while i >= 0 and not (line.startswith(value[:i])
                                          and value[i + 2:i + 3] in ('', ' ')):
                        i = value.find('OK', i + 1)
                    if i < 0:
                        if data is None:
                            seen = value
                        continue
                    kind, value = 'OK', value[i + 3:] or None
                if kind == 'OK':
                    return seen if data is not None else value or seen
                if kind == 'fail':
                    if value == 'ER09' and not retried:
                        break
                    raise SkError(value, word)
                if kind == 'event' and value == 0x21 and data is not None:
                    seen = item[4]
                else:
                    self.push(item)
            retried = True

    def start(self, rbid, password):
        """Bring the module to a known state: no session, echo off, ASCII output, credentials."""
        # the bring-up commands in one string: as separate literals each would be a name
        ver, skinfo, term, ropt, wopt = 'SKVER,SKINFO,SKTERM,ROPT,WOPT 01'.split(',')
        self.flush()
        try:
            self.command(ver)
        except SkError:
            # A hung module ignores everything until SKRESET (field logs; the 'hang' scenario).
            self.reset()
            self.command(ver)
        info = self.command(skinfo)
        # the BP35C0/C2 (dual stack) answer EINFO with a side, the BP35A1 with FFFE; no EINFO
        # line at all (lost to junk) keeps the BP35A1's commands, the module this app is for
        self.side = ' 0' if info and not info.upper().endswith('FFFE') else ''
        try:
            self.command(term)
            # a session was ended: its EVENT 27/28 comes within a few seconds
            end = self.clock.ticks_add(self.clock.ticks_ms(), _CMD_MS)
            item = self._take(end)
            while item is not None and not (item[0] == 'event' and item[1] in (0x27, 0x28)):
                self.push(item)
                item = self._take(end)
        except SkError as e:
            if e.args[0] != 'ER10':     # ER10: there was no session
                raise
        self.command('SKSREG SFE 0')
        try:
            mode = self.command(ropt)
        except SkError as e:
            if e.args[0] != 'ER04':
                raise
            mode = '01'                  # no ROPT: output fixed to ASCII (momonga README)
        try:
            hexed = int(mode, 16) & 1   # bit 0: ERXUDP data printed in hex ASCII
        except (TypeError, ValueError):
            hexed = 0
        if not hexed:
            self.command(wopt)          # flash write (about 10,000 in a module's life): only when needed
        self.command('SKSETPWD %X %s' % (len(password), password))
        self.command('SKSETRBID %s' % rbid)

    def reset(self):
        """SKRESET: back to the module's defaults (credentials and registers must be set again)."""
        try:
            self.command('SKRESET')
        except SkError:
            pass
        self.flush()

    def scan(self, n):
        """Active scan with the Pairing-ID IE, SKSCAN duration n; the best PAN found (highest
        LQI) or None."""
        self.command('SKSCAN 2 FFFFFFFF %d%s' % (n, self.side))
        # one scan = 28 channels x (2^n + 1) x 9.6 ms (BP35A1 manual p.27; real: 18.0 s at 6);
        # wait 1.5 times that and 5 s more
        end = self.clock.ticks_add(self.clock.ticks_ms(), 403 * ((1 << n) + 1) + 5000)
        best = None
        while True:
            item = self._take(end, 'scan')
            if item[0] == 'pan':
                pan = pan_from(item[1])
                if pan is not None and (best is None or pan['lqi'] > best['lqi']):
                    best = pan
            elif item[0] != 'event' or item[1] != 0x20:     # EVENT 20: a beacon came
                if item[0] == 'event' and item[1] == 0x22:  # the scan has ended
                    return best
                self.push(item)

    def join(self, pan):
        """S2, S3, SKJOIN; the meter's IPv6 address once EVENT 25 arrives.
        SkError('join') on EVENT 24, SkError('timeout') when neither arrives."""
        mac = pan['addr']
        ipv6 = 'FE80:0000:0000:0000:%04X:%s:%s:%s' % (int(mac[:4], 16) ^ 0x0200, mac[4:8],
                                                      mac[8:12], mac[12:])
        word = 'SKJOIN'
        self.command('SKSREG S2 %X' % pan['channel'])
        self.command('SKSREG S3 %X' % pan['pan_id'])
        self.command(word + ' ' + ipv6)
        end = self.clock.ticks_add(self.clock.ticks_ms(), _JOIN_MS)
        while True:
            item = self._take(end, word)
            if item[0] == 'event':
                if item[1] == 0x25:
                    return ipv6
                if item[1] == 0x24:
                    raise SkError('join', word)
            elif item[0] == 'erxudp' and item[3] == 0x0E1A:
                self.push(item)         # the node-profile INF may come right away; PANA is 02CC

    def send(self, ipv6, data):
        """SKSENDTO to port 0E1A with encryption (SEC 1).  The EVENT 21 parameter (0 = sent,
        1 = failed, 2 = address resolution first), or None when the module printed none."""
        return self.command('SKSENDTO 1 %s 0E1A 1%s %04X ' % (ipv6, self.side, len(data)), data)

    def recv(self, timeout):
        """The next unsolicited item (ERXUDP, EVENT) within timeout ms, else None.  Stray
        OK/FAIL lines that answer no command are dropped."""
        end = self.clock.ticks_add(self.clock.ticks_ms(), timeout)
        while True:
            if self.queue:
                return self.queue.pop(0)
            item = self._take(end)
            if item is None or item[0] == 'erxudp' or item[0] == 'event':
                return item
