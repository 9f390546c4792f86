"""Ambient (ambidata.io) upload: a small HTTP client and a queue that keeps what it cannot send yet.

`Ambient(channel_id, write_key, ..., socket_module=usocket)` offers the interface of Ambient's own
Python library (`send(record_or_list)` returns a response with `status_code` and `text`), written
here as a minimal HTTP/1.0 client over the socket module it is handed, with a timeout on every
connect, send and receive.  `AmbientQueue(client, clock, ...)` takes records from the app loop
without blocking, keeps them in RAM and, past a bound, in a few segment files on flash while Wi-Fi
or Ambient is down, and sends them oldest first in small bulk batches within Ambient's limits
(5 s apart, 3,000 records a day).  Neither creates a socket, clock or file path of its own, and
neither ever puts the write key in a log line, an exception or a repr.  Policies: docs/ambient.md.
"""

try:
    import ujson as json
except ImportError:
    import json
try:
    import uerrno as errno
except ImportError:
    import errno
try:
    import uos as os
except ImportError:
    import os

from compat import const

DAY_LIMIT = const(3000)          # records per channel per day (Ambient's quota)
MIN_INTERVAL_MS = const(5000)    # Ambient's libraries refuse sends closer than 5 s
MAX_RESPONSE = const(512)       # bytes of an answer read at most (status line, headers, body)
_MAX_READS = const(12)           # recv calls per answer at most
OUT_CHUNK = const(512)          # request bytes gathered per socket send
_MAX_LINE = const(300)           # a stored record line longer than this is corrupt
_HOUR_MS = const(3600000)
_PROBE_AHEAD = const(8)          # segment numbers probed past a missing head at start-up
# Records stamped before 2017 come from an unset clock (the ESP32 RTC starts in 2000).
OLDEST_CREATED_MS = 1483228800000

_FIELDS = ('d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8', 'lat', 'lng')
_DATA_FIELDS = ('d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8')
_IN_PROGRESS = (115, 119, 11, getattr(errno, 'EINPROGRESS', 115), getattr(errno, 'EAGAIN', 11))


class AmbientError(Exception):
    """A send that got no HTTP status, or bad input.

    `stage`: 'config', 'record', 'dns', 'connect', 'send', 'recv' or 'http' (answer unreadable).
    `sent`: True when the whole request had been handed to the socket before the failure, so the
    server may have stored it (the ambiguous case).  `errno`: the OSError number or None.
    The message holds the stage and an errno or a short reason, never the write key or the body.
    """

    def __init__(self, stage, detail=None, sent=False, err=None):
        if detail is None:
            detail = 'errno %d' % err if isinstance(err, int) else 'error'
        super().__init__('%s: %s' % (stage, detail))
        self.stage = stage
        self.sent = sent
        self.errno = err


def _why(exc):
    """(errno or None, short reason) of a socket exception, without its text."""
    err = None
    args = getattr(exc, 'args', None)
    if args and isinstance(args[0], int):
        err = args[0]
    elif isinstance(getattr(exc, 'errno', None), int):
        err = exc.errno
    if err is None:
        name = type(exc).__name__
        return None, 'timeout' if 'imeout' in name else name
    if err in (110, 116, getattr(errno, 'ETIMEDOUT', 110)):
        return err, 'timeout'
    return err, 'errno %d' % err


def _wrap(stage, exc, sent=False):
    err, reason = _why(exc)
    return AmbientError(stage, reason, sent, err)


def _number(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AmbientError('record', '%s is not a number' % key)
    if isinstance(value, float):
        if value - value != 0:   # nan and +-inf are not JSON numbers
            raise AmbientError('record', '%s is not finite' % key)
        return repr(value)
    return '%d' % value


def encode_record(record, need_created=False):
    """One record dict -> compact JSON bytes with a fixed key order.

    Keys: `created` (int milliseconds since 1970 UTC, not before 2017), d1..d8, lat, lng (numbers;
    None means "no value" and is left out), cmnt (str).  At least one of d1..d8 must be present.
    Anything else raises AmbientError('record').
    """
    if not isinstance(record, dict):
        raise AmbientError('record', 'not a dict')
    parts = []
    created = record.get('created')
    if created is None:
        if need_created:
            raise AmbientError('record', 'no created time')
    else:
        if isinstance(created, bool) or not isinstance(created, int):
            raise AmbientError('record', 'created must be int milliseconds')
        if created < OLDEST_CREATED_MS:
            raise AmbientError('record', 'created before 2017 (clock not set?)')
        parts.append('"created":%d' % created)
    known = 1 if 'created' in record else 0
    values = 0
    for key in _FIELDS:
        if key in record:
            known += 1
            value = record[key]
            if value is None:
                continue
            parts.append('"%s":%s' % (key, _number(key, value)))
            if key in _DATA_FIELDS:
                values += 1
    if 'cmnt' in record:
        known += 1
        cmnt = record['cmnt']
        if cmnt is not None:
            if not isinstance(cmnt, str):
                raise AmbientError('record', 'cmnt is not a str')
            parts.append('"cmnt":%s' % json.dumps(cmnt))
    if known != len(record):
        raise AmbientError('record', 'unknown key')
    if not values:
        raise AmbientError('record', 'no d1..d8 value')
    return ('{' + ','.join(parts) + '}').encode()


class AmbientResponse:
    """What a send returns: `status_code` (int), `reason` (str), `text` (start of the body)."""

    def __init__(self, status_code, reason, text):
        self.status_code = status_code
        self.reason = reason
        self.text = text

    def json(self):
        return json.loads(self.text)

    def close(self):
        pass


class Ambient:
    """Ambient(channel_id, write_key, read_key=None, user_key=None, url='http://ambidata.io',
    socket_module=None, timeout=5, clock=None, select_module=None)

    `socket_module` is usocket-like (getaddrinfo, socket, and sockets with settimeout, connect,
    send or write, recv or read, close) and must be given.  `timeout` (seconds) is set on every
    socket operation; with a `clock` (ticks_ms/ticks_diff/ticks_add) it also bounds the whole
    exchange (connect + send + receive).  MicroPython 1.11 on the ESP32 ignores the timeout in a
    blocking connect(): hand it `select_module=uselect` and connect() runs non-blocking under
    poll() with the same deadline.  The host name is resolved once and kept until a connect fails.
    read_key and user_key are kept for interface compatibility; only send() is implemented.
    send() does not pace itself: AmbientQueue keeps sends 5 s apart.
    """

    def __init__(self, channel_id, write_key, read_key=None, user_key=None, url='http://ambidata.io',
                 socket_module=None, timeout=5, clock=None, select_module=None):
        if socket_module is None:
            raise AmbientError('config', 'no socket module given')
        if not isinstance(write_key, str) or not write_key:
            raise AmbientError('config', 'write key must be a non-empty str')
        if not isinstance(url, str) or not url.startswith('http://'):
            raise AmbientError('config', 'only http:// URLs are supported')
        rest = url[7:]
        slash = rest.find('/')
        hostport = rest if slash < 0 else rest[:slash]
        prefix = '' if slash < 0 else rest[slash:]
        while prefix.endswith('/'):
            prefix = prefix[:-1]
        port = 80
        colon = hostport.find(':')
        if colon >= 0:
            try:
                port = int(hostport[colon + 1:])
            except ValueError:
                raise AmbientError('config', 'bad port in URL')
            hostport = hostport[:colon]
        if not hostport or port <= 0 or port > 65535:
            raise AmbientError('config', 'bad host in URL')
        self.channel_id = str(channel_id)
        self.read_key = read_key
        self.user_key = user_key
        self.timeout = timeout
        self.host = hostport
        self.port = port
        self._host_header = hostport if port == 80 else '%s:%d' % (hostport, port)
        self._path = '%s/api/v2/channels/%s/dataarray' % (prefix, self.channel_id)
        self._sm = socket_module
        self._sel = select_module
        self._clock = clock
        self._addr = None
        # The only place the key lives: the fixed start of every request body.
        self._prefix = ('{"writeKey":%s,"data":[' % json.dumps(write_key)).encode()

    def __repr__(self):
        return '<Ambient channel %s at %s>' % (self.channel_id, self._host_header)

    def send(self, data, timeout=None):
        """POST one record (dict) or a list of records to /dataarray; -> AmbientResponse.
        Raises AmbientError for a bad record or when no HTTP status came back."""
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, (list, tuple)) or not data:
            raise AmbientError('record', 'need a record or a non-empty list')
        return self.send_encoded([encode_record(r) for r in data], timeout)

    def send_encoded(self, lines, timeout=None):
        """POST records already encoded by encode_record (a list of JSON bytes)."""
        if not lines:
            raise AmbientError('record', 'empty batch')
        t = self.timeout if timeout is None else timeout
        body_len = len(self._prefix) + 2 + len(lines) - 1
        for line in lines:
            body_len += len(line)
        head = ('POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\n'
                'Content-Length: %d\r\nConnection: close\r\n\r\n'
                % (self._path, self._host_header, body_len)).encode()
        deadline = None
        if self._clock is not None:
            deadline = self._clock.ticks_add(self._clock.ticks_ms(), int(t * 1000))
        addr = self._resolve()
        sock = self._connect(addr, t, deadline)
        try:
            self._write_request(sock, head, lines, t, deadline)
            return self._read_response(sock, t, deadline)
        finally:
            try:
                sock.close()
            except Exception:
                pass

    # -- the exchange, one step at a time -------------------------------------------------

    def _resolve(self):
        if self._addr is None:
            sm = self._sm
            try:
                infos = sm.getaddrinfo(self.host, self.port, 0, getattr(sm, 'SOCK_STREAM', 1))
            except Exception as e:
                raise _wrap('dns', e)
            if not infos:
                raise AmbientError('dns', 'no address')
            self._addr = infos[0]
        return self._addr

    def _budget(self, t, deadline, stage, sent=False):
        """Seconds the next socket call may take; AmbientError once the deadline has passed."""
        if deadline is None:
            return t
        left = self._clock.ticks_diff(deadline, self._clock.ticks_ms())
        if left <= 0:
            raise AmbientError(stage, 'timeout', sent, getattr(errno, 'ETIMEDOUT', 110))
        return min(t, left / 1000)

    def _connect(self, addr, t, deadline):
        try:
            sock = self._sm.socket(addr[0], addr[1], addr[2])
        except Exception as e:
            raise _wrap('connect', e)
        try:
            if self._sel is None:
                sock.settimeout(self._budget(t, deadline, 'connect'))
                sock.connect(addr[-1])
            else:
                self._connect_polled(sock, addr[-1], self._budget(t, deadline, 'connect'))
        except Exception as e:
            self._addr = None   # resolve again next time: the address may have moved
            try:
                sock.close()
            except Exception:
                pass
            if isinstance(e, AmbientError):
                raise
            raise _wrap('connect', e)
        return sock

    def _connect_polled(self, sock, where, seconds):
        sel = self._sel
        sock.settimeout(0)
        try:
            sock.connect(where)
        except OSError as e:
            if _why(e)[0] not in _IN_PROGRESS:
                raise
        poller = sel.poll()
        poller.register(sock, sel.POLLOUT)
        events = poller.poll(int(seconds * 1000))
        if not events:
            raise AmbientError('connect', 'timeout', False, getattr(errno, 'ETIMEDOUT', 110))
        flags = events[0][1]
        if flags & (getattr(sel, 'POLLERR', 8) | getattr(sel, 'POLLHUP', 16)):
            raise AmbientError('connect', 'refused', False, getattr(errno, 'ECONNREFUSED', 111))

    def _write_all(self, sock, data, t, deadline):
        write = getattr(sock, 'send', None) or sock.write
        view = memoryview(data)
        off = 0
        stalls = 0
        while off < len(data):
            sock.settimeout(self._budget(t, deadline, 'send'))
            n = write(view[off:])
            if not n:
                stalls += 1      # would block: a blocking socket with a timeout should not
                if stalls > 2:
                    raise AmbientError('send', 'stalled')
                continue
            off += n

    def _write_request(self, sock, head, lines, t, deadline):
        """Send head + body, gathering pieces into sends of about OUT_CHUNK bytes."""
        pending = [head, self._prefix]
        size = len(head) + len(self._prefix)
        try:
            first = True
            for line in lines:
                if not first:
                    pending.append(b',')
                    size += 1
                first = False
                pending.append(line)
                size += len(line)
                if size >= OUT_CHUNK:
                    self._write_all(sock, b''.join(pending), t, deadline)
                    pending = []
                    size = 0
            pending.append(b']}')
            self._write_all(sock, b''.join(pending), t, deadline)
        except AmbientError:
            raise
        except Exception as e:
            raise _wrap('send', e)

    def _read_response(self, sock, t, deadline):
        """Status line first (without it the outcome is unknown: AmbientError with sent=True),
        then a bounded drain of headers and body; failures after the status are ignored."""
        read = getattr(sock, 'recv', None) or sock.read
        buf = b''
        status = None
        reason = ''
        header_end = -1
        length = None
        reads = 0
        while reads < _MAX_READS and len(buf) < MAX_RESPONSE:
            reads += 1
            try:
                sock.settimeout(self._budget(t, deadline, 'recv', True))
                chunk = read(min(256, MAX_RESPONSE - len(buf)))
            except Exception as e:
                if status is not None:
                    break
                if isinstance(e, AmbientError):
                    raise
                raise _wrap('recv', e, True)
            if chunk is None:
                if status is not None:
                    break
                raise AmbientError('recv', 'no data', True)
            if not chunk:
                break
            buf += chunk
            if status is None:
                nl = buf.find(b'\n')
                if nl < 0:
                    continue
                status, reason = _parse_status(buf[:nl])
            if header_end < 0:
                header_end = buf.find(b'\r\n\r\n')
                if header_end >= 0:
                    length = _content_length(buf[:header_end])
            if header_end >= 0 and length is not None and len(buf) - header_end - 4 >= length:
                break
        if status is None:
            raise AmbientError('recv', 'closed without an answer' if buf == b'' else 'short answer', True)
        body = buf[header_end + 4:] if header_end >= 0 else b''
        if length is not None:
            body = body[:length]
        try:
            text = body.decode()
        except Exception:
            text = ''
        return AmbientResponse(status, reason, text)


def _parse_status(line):
    parts = line.strip().split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b'HTTP/'):
        raise AmbientError('http', 'bad status line', True)
    try:
        code = int(parts[1].decode())
    except Exception:
        raise AmbientError('http', 'bad status code', True)
    if code < 100 or code > 599:
        raise AmbientError('http', 'bad status code', True)
    reason = ''
    if len(parts) > 2:
        try:
            reason = parts[2].decode()
        except Exception:
            pass
    return code, reason


def _content_length(headers):
    for line in headers.split(b'\r\n'):
        colon = line.find(b':')
        if colon > 0 and line[:colon].strip().lower() == b'content-length':
            try:
                return int(line[colon + 1:].strip().decode())
            except Exception:
                return None
    return None


def _skip_line(f):
    """Read to the end of the current line in bounded pieces; -> bytes consumed (0 at EOF)."""
    size = 0
    while True:
        piece = f.readline(_MAX_LINE + 1)
        if not piece:
            return size
        size += len(piece)
        if piece.endswith(b'\n'):
            return size


# -- records kept on flash ---------------------------------------------------------------------

class FileOps:
    """The file system calls the spill store makes; tests hand in an in-memory one."""

    def open(self, path, mode):
        return open(path, mode)

    def remove(self, path):
        os.remove(path)


class _Spill:
    """Encoded records on flash, oldest first, in numbered segment files `path.N`.

    A chunk of records is appended with one open/write/close (never one record at a time); a
    segment takes chunks until it holds `seg_cap` records, then the next number starts.  Sent or
    dropped records are skipped by advancing a byte offset in the oldest segment, which is saved
    in `path.pos` ("seq offset"); a segment is removed once it is used up, and when the last one
    goes the numbering restarts at 0 and `path.pos` is removed.  At start-up the segments are
    found from `path.pos` and their complete lines counted.
    """

    def __init__(self, path, ops, seg_cap):
        self.path = path
        self.ops = ops
        self.seg_cap = seg_cap
        self.segs = []        # [[seq, records], ...] oldest first
        self.off = 0          # bytes already used up at the start of segs[0]
        self.count = 0
        self.tail_open = False
        self.appends = 0      # chunk writes (flash wear)
        self.pos_writes = 0
        self.lost = 0         # unreadable lines skipped
        self._lens = []       # byte lengths of the lines peek() returned
        self._load()

    def _name(self, seq):
        return '%s.%d' % (self.path, seq)

    def _load(self):
        head, off = 0, 0
        try:
            f = self.ops.open(self.path + '.pos', 'rb')
            try:
                words = f.read(40).split()
            finally:
                f.close()
            head, off = int(words[0].decode()), int(words[1].decode())
        except Exception:
            head, off = 0, 0
        self._saved = (head, off)
        seq = head
        probes = 0
        ends_nl = True
        while True:
            n, ends = self._scan(seq, off if seq == head else 0)
            if n is None:
                if self.segs or probes >= _PROBE_AHEAD:
                    break
                probes += 1
                seq += 1
                continue
            if not self.segs:
                self.off = off if seq == head else 0
            self.segs.append([seq, n])
            self.count += n
            ends_nl = ends
            seq += 1
        self.tail_open = bool(self.segs) and ends_nl
        # Drop segments with nothing left in them (used up before a restart, or only a torn line).
        while self.segs and self.segs[0][1] == 0:
            self._remove_head()
        self._save_pos()

    def _scan(self, seq, off):
        """(complete lines after off, file ends with a newline) or (None, None) when absent."""
        try:
            f = self.ops.open(self._name(seq), 'rb')
        except OSError:
            return None, None
        n = 0
        last = b'\n'
        try:
            f.seek(off)
            while True:
                block = f.read(256)
                if not block:
                    break
                n += block.count(b'\n')
                last = block[-1:]
        except OSError:
            pass
        finally:
            f.close()
        return n, last == b'\n'

    def _save_pos(self):
        """Record where the oldest unsent record starts (only when that changed: flash wears).
        No segments, or the head at (0, 0): no file."""
        head = (self.segs[0][0], self.off) if self.segs else (0, 0)
        if head == self._saved:
            return
        try:
            if head == (0, 0):
                try:
                    self.ops.remove(self.path + '.pos')
                except OSError:
                    pass
            else:
                f = self.ops.open(self.path + '.pos', 'wb')
                try:
                    f.write(('%d %d\n' % head).encode())
                finally:
                    f.close()
                self.pos_writes += 1
            self._saved = head
        except OSError:
            pass

    def _remove_head(self):
        seq = self.segs.pop(0)[0]
        self.off = 0
        try:
            self.ops.remove(self._name(seq))
        except OSError:
            pass

    def append(self, lines):
        """Write a chunk of encoded records; False (nothing counted) when the write failed."""
        new = not self.segs or not self.tail_open or self.segs[-1][1] >= self.seg_cap
        seq = (self.segs[-1][0] + 1 if self.segs else 0) if new else self.segs[-1][0]
        try:
            f = self.ops.open(self._name(seq), 'wb' if new else 'ab')
            try:
                for line in lines:
                    f.write(line)
                    f.write(b'\n')
            finally:
                f.close()
        except OSError:
            if new:
                try:
                    self.ops.remove(self._name(seq))
                except OSError:
                    pass
            self.tail_open = False   # whatever landed past the count is ignored
            return False
        if new:
            self.segs.append([seq, 0])
        self.segs[-1][1] += len(lines)
        self.count += len(lines)
        self.tail_open = True
        self.appends += 1
        return True

    def peek(self, n):
        """Up to n records from the oldest, without using them up.  Unreadable lines at the
        head are skipped and counted in `lost`; a segment that cannot be read is dropped whole.
        Returns (lines, lost_now)."""
        lost_before = self.lost
        self._lens = []
        while self.segs:
            seq, cnt = self.segs[0]
            lines = []
            skipped = 0
            short = False
            try:
                f = self.ops.open(self._name(seq), 'rb')
                try:
                    f.seek(self.off)
                    while len(lines) < n and len(lines) + skipped < cnt:
                        line = f.readline(_MAX_LINE + 1)
                        if not line:
                            short = True
                            break
                        size = len(line)
                        if not line.endswith(b'\n'):
                            size += _skip_line(f)   # overlong or torn: unusable
                            line = b''
                        rec = line[:-1]
                        if rec.startswith(b'{') and rec.endswith(b'}'):
                            lines.append(rec)
                            self._lens.append(size)
                        elif lines:
                            break        # keep the batch contiguous; skip it next time
                        else:
                            skipped += 1
                            self.off += size
                finally:
                    f.close()
            except OSError:
                self.lost += cnt
                self.count -= cnt
                self._remove_head()
                self._save_pos()
                continue
            if skipped:
                self.lost += skipped
                self.count -= skipped
                self.segs[0][1] -= skipped
            if short:
                # The file holds fewer lines than counted: believe the file.
                have = len(lines)
                self.lost += self.segs[0][1] - have
                self.count -= self.segs[0][1] - have
                self.segs[0][1] = have
            if self.segs[0][1] <= 0:
                self._remove_head()
                self._save_pos()
                continue
            if skipped:
                self._save_pos()
            return lines, self.lost - lost_before
        self.count = 0
        self._save_pos()
        return [], self.lost - lost_before

    def consume(self, k):
        """Use up the first k records returned by the last peek (sent or rejected)."""
        for i in range(k):
            self.off += self._lens[i]
        self._lens = self._lens[k:]
        self.segs[0][1] -= k
        self.count -= k
        if self.segs[0][1] <= 0:
            self._remove_head()
            self._lens = []
        self._save_pos()

    def drop(self, k):
        """Drop the k oldest records (overflow); -> how many went."""
        gone = 0
        self._lens = []
        while k > 0 and self.segs:
            cnt = self.segs[0][1]
            if k >= cnt:
                self._remove_head()
                gone += cnt
                k -= cnt
                self.count -= cnt
                continue
            try:
                f = self.ops.open(self._name(self.segs[0][0]), 'rb')
                try:
                    f.seek(self.off)
                    for _ in range(k):
                        size = _skip_line(f)
                        if not size:
                            break
                        self.off += size
                finally:
                    f.close()
            except OSError:
                pass
            self.segs[0][1] -= k
            self.count -= k
            gone += k
            k = 0
        self._save_pos()
        return gone


# -- the queue ----------------------------------------------------------------------------------

class AmbientQueue:
    """AmbientQueue(client, clock, store_path=None, ram_limit=30, file_limit=1440, log=None,
    file_ops=None, batch_max=20, daily_limit=3000, min_interval_ms=5000, backoff_min_ms=10000,
    backoff_max_ms=300000, wifi_ok=None, spill_chunk=None, segments=4)

    `client` offers send_encoded(lines) -> response with status_code (an Ambient);
    `clock` offers ticks_ms/ticks_diff/ticks_add.  add(record) never blocks on the network;
    service(now_ms) sends at most one batch when allowed.  add() and service() must be called
    from the same loop (not re-entrant).  See docs/ambient.md for every bound and policy.
    """

    def __init__(self, client, clock, store_path=None, ram_limit=30, file_limit=1440, log=None,
                 file_ops=None, batch_max=20, daily_limit=DAY_LIMIT, min_interval_ms=MIN_INTERVAL_MS,
                 backoff_min_ms=10000, backoff_max_ms=300000, wifi_ok=None, spill_chunk=None,
                 segments=4):
        self.client = client
        self.clock = clock
        self.ram_limit = max(1, ram_limit)
        self.file_limit = max(0, file_limit)
        self.batch_max = max(1, batch_max)
        self.daily_limit = daily_limit
        self.min_interval_ms = max(MIN_INTERVAL_MS, min_interval_ms)
        self.backoff_min_ms = max(self.min_interval_ms, backoff_min_ms)
        self.backoff_max_ms = max(self.backoff_min_ms, backoff_max_ms)
        self.wifi_ok = wifi_ok
        self.spill_chunk = max(1, min(spill_chunk or self.ram_limit, self.ram_limit))
        self._log = log
        self.generated = 0            # records accepted by add()
        self.sent = 0                 # records the server answered 2xx for
        self.dropped = 0              # records lost: overflow, 4xx rejection, unreadable on flash
        self.rejected = 0             # of dropped: batches answered 4xx (not 429)
        self.invalid = 0              # records add() refused (not counted in generated)
        self.restored = 0             # records found on flash at start-up
        self.duplicates_possible = 0  # records in batches whose outcome was unknown
        self.failures = 0             # attempts that did not deliver
        self.last_error = None        # short text for the diagnostics page
        self.last_status = None       # HTTP status of the last answer
        self._ram = []                # encoded records, oldest first, all newer than the file's
        self._spill = None
        if store_path and self.file_limit:
            seg_cap = (self.file_limit + max(1, segments) - 1) // max(1, segments)
            self._spill = _Spill(store_path, file_ops or FileOps(), max(1, seg_cap))
            self.restored = self._spill.count
        self._next = None             # ticks before which no attempt is made
        self._streak = 0              # failed attempts in a row
        self._probe = False           # after an ambiguous failure: next batch is one record
        self._hours = [0] * 24        # records sent per wall-clock hour, last 24 hours
        self._hour = None
        self._wall = None             # last wall time seen (ms) and the ticks it was seen at
        self._wall_ticks = 0

    # -- counters -----------------------------------------------------------------------------

    @property
    def queued(self):
        return len(self._ram) + (self._spill.count if self._spill else 0)

    @property
    def in_ram(self):
        return len(self._ram)

    @property
    def in_file(self):
        return self._spill.count if self._spill else 0

    @property
    def spill_writes(self):
        return self._spill.appends if self._spill else 0

    def sent_last_24h(self):
        return sum(self._hours)

    def stats(self):
        return {'generated': self.generated, 'sent': self.sent, 'queued': self.queued,
                'in_ram': self.in_ram, 'in_file': self.in_file, 'dropped': self.dropped,
                'rejected': self.rejected, 'invalid': self.invalid, 'restored': self.restored,
                'duplicates_possible': self.duplicates_possible, 'failures': self.failures,
                'last_error': self.last_error, 'last_status': self.last_status,
                'sent_24h': self.sent_last_24h(), 'spill_writes': self.spill_writes,
                'backoff_ms': self._backoff_ms() if self._streak else 0}

    def _note(self, level, fmt, *args):
        log = self._log
        if log is None:
            return
        try:
            fn = getattr(log, level, None)
            if fn is not None:
                fn(fmt, *args)
            else:
                log(fmt % args if args else fmt)
        except Exception:
            pass

    # -- taking records -----------------------------------------------------------------------

    def add(self, record):
        """Queue one record (dict with int `created` ms and d1..d8).  Never touches the network;
        may append one chunk to flash.  -> False when the record is invalid (counted)."""
        try:
            line = encode_record(record, True)
        except AmbientError as e:
            self.invalid += 1
            self._note('warning', 'ambient: record refused (%s)', e)
            return False
        self.generated += 1
        self._ram.append(line)
        if len(self._ram) > self.ram_limit:
            self._overflow()
        return True

    def _overflow(self):
        ram = self._ram
        spill = self._spill
        if spill is not None:
            n = min(self.spill_chunk, len(ram))
            room = self.file_limit - spill.count
            if n > room:
                gone = spill.drop(min(n - room, spill.count))
                if gone:
                    self.dropped += gone
                    self._note('warning', 'ambient: store full, %d oldest records dropped', gone)
            if spill.append(ram[:n]):
                del ram[:n]
                return
            self.last_error = 'flash write failed'
            self._note('warning', 'ambient: cannot write %s, keeping records in RAM only', spill.path)
        while len(ram) > self.ram_limit:
            ram.pop(0)
            self.dropped += 1

    def flush(self):
        """Move every record in RAM to flash (before a planned restart).  -> records moved."""
        if self._spill is None or not self._ram:
            return 0
        n = len(self._ram)
        room = self.file_limit - self._spill.count
        if n > room:
            self.dropped += self._spill.drop(min(n - room, self._spill.count))
        if n > self.file_limit:
            self.dropped += n - self.file_limit
            del self._ram[:n - self.file_limit]
            n = self.file_limit
        if not self._spill.append(self._ram):
            self.last_error = 'flash write failed'
            return 0
        self._ram = []
        return n

    # -- sending ------------------------------------------------------------------------------

    def _backoff_ms(self):
        delay = self.backoff_min_ms << min(self._streak - 1, 16)
        return min(delay, self.backoff_max_ms)

    def _hour_of(self, now_ms, ticks):
        """The wall-clock hour (ms // 3600000) for the daily window, or None while unknown."""
        if now_ms is not None:
            self._wall = now_ms
            self._wall_ticks = ticks
            return now_ms // _HOUR_MS
        if self._wall is None:
            return None
        return (self._wall + self.clock.ticks_diff(ticks, self._wall_ticks)) // _HOUR_MS

    def _roll(self, hour):
        if self._hour is None:
            self._hour = hour
        elif hour > self._hour:
            steps = hour - self._hour
            if steps >= 24:
                for i in range(24):
                    self._hours[i] = 0
            else:
                for i in range(1, steps + 1):
                    self._hours[(self._hour + i) % 24] = 0
            self._hour = hour
        # a clock stepped back keeps counting into the current hour

    def service(self, now_ms=None):
        """Send at most one batch if one is due.  now_ms: wall time, ms since 1970 UTC (None:
        carried on from the last value by the ticks clock).  Returns what happened: 'idle',
        'wait' (spacing or back-off), 'offline' (wifi_ok said no), 'notime', 'cap' (daily
        limit), 'sent', 'failed', 'ambiguous' or 'rejected'."""
        clock = self.clock
        now = clock.ticks_ms()
        if self._next is not None:
            if clock.ticks_diff(self._next, now) > 0:
                if self.queued:
                    return 'wait'
            else:
                # Passed: forget it, so a queue left empty for days cannot meet a deadline
                # that the ticks wrap (2^30 ms) has turned into one far in the future.
                self._next = None
        if not self.queued:
            return 'idle'
        if self.wifi_ok is not None:
            try:
                up = self.wifi_ok()
            except Exception:
                up = False
            if not up:
                return 'offline'
        hour = self._hour_of(now_ms, now)
        if hour is None:
            return 'notime'
        self._roll(hour)
        room = self.daily_limit - sum(self._hours)
        if room <= 0:
            return 'cap'
        n = min(1 if self._probe else self.batch_max, room)
        spill = self._spill
        from_file = spill is not None and spill.count > 0
        if from_file:
            lines, lost = spill.peek(n)
            if lost:
                self.dropped += lost
                self._note('warning', 'ambient: %d unreadable records skipped on flash', lost)
            if not lines:
                if spill.count:
                    return 'idle'
                from_file = False
        if not from_file:
            lines = self._ram[:n]
            if not lines:
                return 'idle'
        n = len(lines)
        outcome, status, why = self._attempt(lines)
        end = clock.ticks_ms()
        self._next = clock.ticks_add(end, self.min_interval_ms)
        if outcome == 'sent' or outcome == 'ambiguous':
            self._hours[self._hour % 24] += n   # the server may have counted them
        if outcome == 'sent' or outcome == 'rejected':
            if from_file:
                spill.consume(n)
            else:
                del self._ram[:n]
        if outcome == 'sent':
            self.sent += n
            if self._streak:
                self._note('info', 'ambient: delivering again after %d failures', self._streak)
            self._streak = 0
            self._probe = False
            return outcome
        self.failures += 1
        self._streak += 1
        self.last_error = why
        self._next = clock.ticks_add(end, max(self.min_interval_ms, self._backoff_ms()))
        if outcome == 'rejected':
            self.rejected += n
            self.dropped += n
            self._note('warning', 'ambient: HTTP %d, %d records dropped', status, n)
        elif outcome == 'ambiguous':
            self.duplicates_possible += n
            self._probe = True
            self._note('warning', 'ambient: %s after the request went out; %d records will be resent',
                       why, n)
        elif self._streak == 1:
            self._note('warning', 'ambient: %s; keeping %d records', why, self.queued)
        return outcome

    def _attempt(self, lines):
        """-> (outcome, status or None, short reason)."""
        try:
            resp = self.client.send_encoded(lines)
        except AmbientError as e:
            return ('ambiguous' if e.sent else 'failed'), None, str(e)
        except Exception as e:
            # Not the client's own error: whether the server stored the batch is unknown.
            return 'ambiguous', None, 'error %s' % type(e).__name__
        status = getattr(resp, 'status_code', None)
        self.last_status = status
        if not isinstance(status, int):
            return 'ambiguous', None, 'no status'
        if 200 <= status < 300:
            return 'sent', status, None
        if 400 <= status < 500 and status != 429:
            return 'rejected', status, 'http %d' % status
        return 'failed', status, 'http %d' % status
