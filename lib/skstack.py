"""SKSTACK IP line parser: the bytes a BP35A1 (or a BP35C0/C2-family module) prints -> Items.

It is handed raw UART bytes in any fragmentation (`feed`) and hands back one Item per response
line, event or EPANDESC block (`next`); one byte at a time gives the same items as one big read.
It knows both dialects (BP35A1: `EVENT nn addr [param]`, 9-token ERXUDP; dual-stack BP35C0/C2:
`EVENT nn addr side [param]`, ERXUDP with SIDE and optional RSSI) and both ERXUDP data forms
(hex ASCII, WOPT 01; raw binary, WOPT 00, length-framed by DATALEN even when the bytes hold
spaces, CR or LF), detected line by line.  It never touches the UART, never raises on any input
(unknown text becomes an 'unparsed' Item, a broken ERXUDP an 'erxudp' Item with `error` set) and
never holds more than `max_buffer` bytes (overflow drops the oldest bytes, counted in `dropped`).
Echoes of SKSETPWD / SKSETRBID come back with the secret masked.  Facts: ROHM BP35A1 command
reference 1.3.0 and real captures (shared/vectors V01-V42).
"""

from compat import const, unhex, is_hex

_CR = const(13)
_LF = const(10)
_SPACE = const(32)
# "ERXUDP " + SENDER(39) DEST(39) RPORT LPORT SENDERLLA(16) [RSSI] SECURED SIDE DATALEN and
# their spaces is 127 bytes; a header that has no DATALEN token by here is broken.
_HDR_MAX = const(160)
_MASK = '********'

# Lines a module starts with a keyword; any of these found behind leftover text on the same
# line (an echo whose CRLF never came: "SKSENDTO 1 ... 000EEVENT 21 ...") starts a new item.
_KEYWORDS = (b'ERXUDP ', b'EVENT ', b'EPANDESC', b'EPONG ', b'EINFO ', b'EVER ',
             b'EAPPVER ', b'ESREG ', b'EEDSCAN', b'FAIL ER')
# First words of the commands the module echoes back (SFE=1).
_ECHO_WORDS = ('WOPT', 'ROPT', 'WUART', 'RUART')
# EPANDESC field lines (indented by two spaces in real output) -> (attribute, is hex int).
_PAN_FIELDS = {
    'Channel': ('channel', True),
    'Channel Page': ('channel_page', True),
    'Pan ID': ('pan_id', True),
    'Addr': ('addr', False),
    'LQI': ('lqi', True),
    'Side': ('side', True),
    'PairID': ('pair_id', False),
}
_FIELDS = ('value', 'code', 'version', 'ipv6', 'mac', 'channel', 'pan_id', 'side', 'sender',
           'param', 'channel_page', 'addr', 'lqi', 'pair_id', 'dest', 'rport', 'lport',
           'sender_lla', 'secured', 'rssi', 'length', 'data', 'binary', 'error', 'line',
           'values')


class Item:
    """One parsed unit of module output; `kind` says which attributes mean something
    (see docs/design.md); every other attribute reads None."""
    kind = None
    value = None
    code = None
    version = None
    ipv6 = None
    mac = None
    channel = None
    pan_id = None
    side = None
    sender = None
    param = None
    channel_page = None
    addr = None
    lqi = None
    pair_id = None
    dest = None
    rport = None
    lport = None
    sender_lla = None
    secured = None
    rssi = None
    length = None
    data = None
    binary = None
    error = None
    line = None
    values = None

    def __init__(self, kind, **attrs):
        self.kind = kind
        for name in attrs:
            setattr(self, name, attrs[name])

    def __eq__(self, other):
        if not isinstance(other, Item) or other.kind != self.kind:
            return False
        for name in _FIELDS:
            if getattr(self, name) != getattr(other, name):
                return False
        return True

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        parts = [self.kind]
        for name in _FIELDS:
            v = getattr(self, name)
            if v is not None:
                parts.append('%s=%r' % (name, v))
        return '<Item %s>' % ' '.join(parts)


def _text(raw):
    """bytes -> str; bytes >= 0x80 become '?' (module output is ASCII)."""
    if raw and max(raw) >= 0x80:
        return ''.join([chr(c) if c < 0x80 else '?' for c in raw])
    return raw.decode()


def _is_hex_byte(c):
    return 48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102


def _all_hex(buf, start, end):
    for i in range(start, end):
        if not _is_hex_byte(buf[i]):
            return False
    return True


def _hex(s):
    """int of a hex token, None when it is not one."""
    if is_hex(s):
        return int(s, 16)
    return None


def _is_ipv6(word):
    # SKLL64 prints the full colon form: 8 groups of 4 hex digits.
    if len(word) != 39:
        return False
    groups = word.split(':')
    if len(groups) != 8:
        return False
    for g in groups:
        if len(g) != 4 or not is_hex(g):
            return False
    return True


def _event(t):
    # EVENT <NUM> <SENDER> [<SIDE>] [<PARAM>]: a 1-char 3rd token is the dual-stack side,
    # a 2-char one the param (BP35A1 "EVENT 21 addr 00"; BP35C2 "EVENT 21 addr 0 00").
    m = len(t)
    if m < 3 or m > 5:
        return None
    code = _hex(t[1])
    if code is None:
        return None
    side = param = None
    if m == 4:
        x = t[3]
        if len(x) == 1:
            side = _hex(x)
            if side is None:
                return None
        elif len(x) == 2:
            param = _hex(x)
            if param is None:
                return None
        else:
            return None
    elif m == 5:
        side = _hex(t[3])
        param = _hex(t[4])
        if side is None or param is None:
            return None
    return Item('event', code=code, sender=t[2], side=side, param=param)


def _masked_echo(s, t):
    if t[0] == 'SKSETPWD' and len(t) > 2:
        return 'SKSETPWD %s %s' % (t[1], _MASK)
    if t[0] == 'SKSETRBID' and len(t) > 1:
        return 'SKSETRBID ' + _MASK
    return s


class LineParser:
    """Incremental parser: feed(bytes), then call next() until it returns None."""

    def __init__(self, max_buffer=2048):
        self.max_buffer = max_buffer
        self.dropped = 0
        self._buf = b''
        self._pos = 0
        self._skip_lf = False   # a line ended in CR: a LF right after it belongs to it
        self._pan = None        # fields of an open EPANDESC block
        self._edscan = False    # EEDSCAN seen, its value line not yet
        self._eof = False

    def feed(self, data):
        if not data:
            return
        if not isinstance(data, bytes):
            data = bytes(data)
        pos = self._pos
        if pos >= len(self._buf):
            buf = data
        elif pos:
            buf = self._buf[pos:] + data
        else:
            buf = self._buf + data
        over = len(buf) - self.max_buffer
        if over > 0:
            buf = buf[over:]
            self.dropped += over
            self._skip_lf = False
        self._buf = buf
        self._pos = 0

    def reset(self):
        self._buf = b''
        self._pos = 0
        self._skip_lf = False
        self._pan = None
        self._edscan = False

    def flush(self):
        """Items left when the input has ended (a partial line comes back as 'unparsed')."""
        items = []
        self._eof = True
        try:
            while True:
                item = self.next()
                if item is None:
                    break
                items.append(item)
        finally:
            self._eof = False
        self.reset()
        return items

    def next(self):
        """The next Item, or None when more bytes are needed."""
        try:
            return self._next()
        except Exception as e:  # last resort: a parser bug must not stop the device
            return self._give_up(e)

    # ------------------------------------------------------------ internals

    def _give_up(self, exc):
        buf = self._buf
        p = self._pos
        e = self._eol(p, len(buf))
        end = e + 1 if e >= 0 else len(buf)
        if end <= p:
            end = p + 1
        self.dropped += end - p
        line = _text(buf[p:end])
        self._pos = end
        self._pan = None
        self._edscan = False
        return Item('unparsed', line=line, error='parser: %r' % (exc,))

    def _eol(self, start, end):
        """Index of the first CR or LF in buf[start:end], -1 when there is none."""
        buf = self._buf
        cr = buf.find(b'\r', start, end)
        if cr >= 0:
            end = cr
        lf = buf.find(b'\n', start, end)
        return lf if lf >= 0 else cr

    def _keyword(self, start, end):
        """Index of the earliest keyword lying wholly inside buf[start:end], -1 for none."""
        buf = self._buf
        best = -1
        for kw in _KEYWORDS:
            stop = end if best < 0 else min(end, best + len(kw) - 1)
            i = buf.find(kw, start, stop)
            if i >= 0 and (best < 0 or i < best):
                best = i
        return best

    def _span_end(self, start):
        """Where a broken line that began before `start` stops: the first line end or keyword
        at/after start; -1 when neither has arrived."""
        n = len(self._buf)
        e = self._eol(start, n)
        k = self._keyword(start, e if e >= 0 else n)
        if k >= 0:
            return k
        return e

    def _consume_to(self, end):
        """Move past buf[:end] and, when buf[end] is a line end, past it too."""
        buf = self._buf
        if end < len(buf):
            c = buf[end]
            if c == _CR:
                self._pos = end + 1
                self._skip_lf = True
                return
            if c == _LF:
                self._pos = end + 1
                return
        self._pos = end

    def _emit_pan(self):
        f = self._pan
        self._pan = None
        return Item('pan', channel=f.get('channel'), channel_page=f.get('channel_page'),
                    pan_id=f.get('pan_id'), addr=f.get('addr'), lqi=f.get('lqi'),
                    side=f.get('side'), pair_id=f.get('pair_id'))

    def _emit_edscan(self, values):
        self._edscan = False
        return Item('edscan', values=values)

    def _close_blocks(self):
        if self._pan is not None:
            return self._emit_pan()
        if self._edscan:
            return self._emit_edscan([])
        return None

    def _next(self):
        while True:
            buf = self._buf
            n = len(buf)
            p = self._pos
            if self._skip_lf and p < n:
                self._skip_lf = False
                if buf[p] == _LF:
                    p += 1
                    self._pos = p
            if p >= n:
                if self._eof:
                    return self._close_blocks()
                return None
            if self._pan is not None and buf[p] != _SPACE:
                return self._emit_pan()   # field lines all start with spaces
            if buf.find(b'ERXUDP ', p, p + 7) == p:
                if self._edscan:
                    return self._emit_edscan([])
                return self._erxudp(p)

            # one line: up to its line end or up to a keyword glued behind it
            e = self._eol(p, n)
            k = self._keyword(p + 1, e if e >= 0 else n)
            if k >= 0:
                end = k
            elif e >= 0:
                end = e
            elif self._eof:
                item = self._close_blocks()
                if item is not None:
                    return item
                self._pos = n
                return Item('unparsed', line=_text(buf[p:n]))
            else:
                return None
            s = _text(buf[p:end])
            t = s.split()
            if not t:                      # empty line (also the extra ones after EEDSCAN)
                self._consume_to(end)
                continue
            if self._pan is not None:
                if not self._pan_field(s):
                    return self._emit_pan()
                self._consume_to(end)
                if 'pair_id' in self._pan:
                    return self._emit_pan()
                continue
            if self._edscan:
                values = self._edscan_values(t)
                if values is None:
                    return self._emit_edscan([])
                self._consume_to(end)
                return self._emit_edscan(values)
            self._consume_to(end)
            item = self._classify(s, t)
            if item is not None:
                return item

    def _pan_field(self, s):
        if s[:1] != ' ':
            return False
        s = s.strip()
        i = s.find(':')
        if i < 0:
            return False
        spec = _PAN_FIELDS.get(s[:i].strip())
        if spec is None:
            return False
        v = s[i + 1:].strip()
        self._pan[spec[0]] = _hex(v) if spec[1] else v
        return True

    def _edscan_values(self, t):
        if len(t) % 2:
            return None
        values = []
        for i in range(0, len(t), 2):
            ch = _hex(t[i])
            rssi = _hex(t[i + 1])
            if ch is None or rssi is None:
                return None
            values.append((ch, rssi))
        return values

    def _classify(self, s, t):
        """Item for one complete line s (t = its words); None for a block start."""
        w = t[0]
        m = len(t)
        if w == 'OK':
            return Item('ok', value=' '.join(t[1:]) if m > 1 else None)
        if w == 'FAIL':
            return Item('fail', code=t[1] if m > 1 else None)
        if w == 'EVENT':
            item = _event(t)
            if item is not None:
                return item
        elif w == 'EVER' and m == 2:
            return Item('version', version=t[1])
        elif w == 'EAPPVER' and m == 2:
            return Item('appver', version=t[1])
        elif w == 'ESREG' and m == 2:
            return Item('esreg', value=t[1])
        elif w == 'EINFO' and m == 6:
            channel = _hex(t[3])
            pan_id = _hex(t[4])
            if channel is not None and pan_id is not None:
                return Item('info', ipv6=t[1], mac=t[2], channel=channel, pan_id=pan_id,
                            side=t[5])
        elif w == 'EPONG' and m == 2:
            return Item('pong', sender=t[1])
        elif w == 'EPANDESC' and m == 1:
            self._pan = {}
            return None
        elif w == 'EEDSCAN' and m == 1:
            self._edscan = True
            return None
        elif w == 'ERXUDP':
            return Item('erxudp', error='too few fields', binary=False)
        elif w[:2] == 'SK' or w in _ECHO_WORDS:
            return Item('echo', line=_masked_echo(s, t))
        elif m == 1 and _is_ipv6(w):
            return Item('ipv6', addr=w)
        return Item('unparsed', line=s)

    def _bad_rx(self, start, error, fields):
        """An 'erxudp' Item with `error`, consuming up to where the broken line stops."""
        end = self._span_end(start)
        if end < 0:
            if not self._eof:
                return None
            end = len(self._buf)
        self._consume_to(end)
        fields['error'] = error
        return Item('erxudp', **fields)

    def _erxudp(self, p):
        # ERXUDP SENDER DEST RPORT LPORT SENDERLLA [RSSI] SECURED [SIDE] DATALEN DATA
        buf = self._buf
        n = len(buf)
        eof = self._eof
        if not eof and buf.find(b'\n', p) < 0:
            # Both forms end in CR LF (binary data may hold LFs too, but no LF at all means the
            # line is incomplete): wait instead of tokenising a half line at every poll.
            return None
        q = p + 7
        toks = []
        limit = min(n, p + _HDR_MAX)
        while True:
            sp = buf.find(b' ', q, limit)
            e = self._eol(q, sp if sp >= 0 else limit)
            if e >= 0:
                return self._bad_rx(q, 'too few fields', {'binary': False})
            if sp < 0:
                if limit == n and not eof:
                    return None           # header still arriving
                return self._bad_rx(q, 'truncated' if limit == n else 'bad header',
                                    {'binary': False})
            tok = buf[q:sp]
            toks.append(tok)
            q = sp + 1
            if len(toks) > 5 and len(tok) == 4 and _all_hex(tok, 0, 4):
                break                     # DATALEN: first 4-hex-digit token after SENDERLLA
            if len(toks) >= 9:
                return self._bad_rx(q, 'no DATALEN', {'binary': False})

        fields = {'binary': False}
        words = [_text(x) for x in toks]
        extra = words[5:-1]
        rssi = side = None
        if not extra:
            return self._bad_rx(q, 'no SECURED', fields)
        if len(extra) == 3:
            rssi = _hex(extra[0])
            if rssi is None or len(extra[0]) != 2:
                return self._bad_rx(q, 'bad RSSI', fields)
            extra = extra[1:]
        secured = _hex(extra[0])
        if secured is None or len(extra[0]) != 1:
            return self._bad_rx(q, 'bad SECURED', fields)
        if len(extra) == 2:
            side = _hex(extra[1])
            if side is None or len(extra[1]) != 1:
                return self._bad_rx(q, 'bad SIDE', fields)
        rport = _hex(words[2])
        lport = _hex(words[3])
        if rport is None or lport is None:
            return self._bad_rx(q, 'bad port', fields)
        length = int(words[-1], 16)
        fields = {'sender': words[0], 'dest': words[1], 'rport': rport, 'lport': lport,
                  'sender_lla': words[4], 'secured': secured != 0, 'side': side,
                  'rssi': rssi, 'length': length, 'binary': False}

        d = q                             # first data byte
        if d >= n:
            if not eof:
                return None
            return self._bad_rx(d, 'truncated', fields)
        if length == 0:
            if buf[d] == _CR or buf[d] == _LF:
                self._consume_to(d)
                fields['data'] = b''
                return Item('erxudp', **fields)
            return self._bad_rx(d, 'DATALEN mismatch', fields)

        if _is_hex_byte(buf[d]):
            # Hex ASCII (WOPT 01): 2*DATALEN hex digits, then the line end.  Binary payloads
            # start 0x10 (ECHONET) or 0x00 (PANA), so a hex digit here means ASCII unless a
            # non-hex byte turns up before the line end.
            e = self._eol(d, n)
            if e < 0:
                if not eof:
                    return None
                e = n
            if e - d == 2 * length:
                try:
                    fields['data'] = unhex(buf[d:e])
                except ValueError:
                    pass
                else:
                    self._consume_to(e)
                    return Item('erxudp', **fields)
            elif _all_hex(buf, d, e):
                if e == n:
                    return self._bad_rx(d, 'truncated', fields)
                return self._bad_rx(d, 'DATALEN mismatch', fields)

        # Binary (WOPT 00): exactly DATALEN raw bytes, then CRLF.
        fields['binary'] = True
        x = d + length
        if x - p + 1 > self.max_buffer:
            return self._bad_rx(d, 'DATALEN too large', fields)
        if x >= n:
            if not eof:
                return None
            return self._bad_rx(d, 'truncated', fields)
        c = buf[x]
        if c != _CR and c != _LF:
            return self._bad_rx(d, 'DATALEN mismatch', fields)
        fields['data'] = buf[d:x]
        self._consume_to(x)
        return Item('erxudp', **fields)
