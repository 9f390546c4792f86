"""Ambient (ambidata.io) upload: a queue of records and the small HTTP/1.0 client that drains it.

It is handed the channel id and write key from the config, a usocket-like module (and uselect,
or None), the ticks clock, a flash path prefix, a logger and a wifi() callable.  add(record)
takes one record from the app loop and never touches the network; records wait in RAM (30)
and, past that, in a few segment files on flash (1,440); service(now) sends at most one
batch, oldest first, within Ambient's limits (5 s apart, 3,000 records a day) and backs off
while Wi-Fi or Ambient is down.  It creates no socket, clock or file path of its own, never
waits without a deadline, and never puts the write key in a log line, an exception or a repr.
Every policy and bound: docs/ambient.md.
"""

from util import const, json, os

_RAM = const(30)             # records in RAM; one more spills the oldest 30 to flash in one write
_FILE = const(1440)          # records on flash at most (12 h at one record per 30 s)
_SEG = const(360)            # records written to one segment file before the next one starts
_BATCH = const(20)           # records per request (a body of about 1.6 KB)
_DAY = const(3000)           # Ambient's quota: records per channel per day
_SPACING = const(5000)       # ms from the end of one attempt to the next (Ambient: 5 s)
_BACKOFF = const(10000)      # ms after the first failure, doubling ...
_BACKOFF_MAX = const(300000)  # ... up to this
_ANSWER = const(512)         # bytes of the answer read at most (only its status line is used)
_LINE = const(300)           # bytes a stored record line may take (8 doubles and created: < 270)
_HOUR = const(3600000)
_H2017 = const(412008)       # 2017-01-01 in hours since 1970: older `created` = RTC never set

# service() results
_IDLE = const(0)
_WAIT = const(1)             # spacing or back-off
_OFFLINE = const(2)          # wifi() said no
_NOTIME = const(3)           # no wall time yet
_CAP = const(4)              # daily quota used up
_SENT = const(5)
_FAILED = const(6)           # records kept
_AMBIGUOUS = const(7)        # no answer after the whole request went out: kept, maybe stored
_REJECTED = const(8)         # 4xx (not 429): that batch dropped


def remove(name):
    """os.remove() that ignores a file that is not there (or cannot go)."""
    try:
        os.remove(name)
    except OSError:
        pass


class Ambient:
    """Ambient(channel_id, key, url, socket, select, ticks, path, log, wifi, timeout=4)

    channel_id and key: the channel's id and write key.  url: 'http://host[:port][/path]'
    (config default 'http://ambidata.io'; no TLS).
    socket: usocket-like (getaddrinfo, socket() with settimeout/connect/send/recv/close).
    select: uselect-like (poll) or None; with it connect() runs non-blocking under poll(),
    because MicroPython 1.11 on the ESP32 ignores the socket timeout in a blocking connect().
    ticks: ticks_ms/ticks_diff/ticks_add.  path: flash path prefix of the store files.
    log: lib/log.py Logger.  wifi(): False means no attempt.  timeout: seconds for every
    socket step, and for the whole exchange (DNS aside).  ValueError for a bad url or key.

    add(record) -> bool, service(now) -> int, flush(n=all) -> int, stats() -> dict;
    counters: queued, generated, sent, dropped, restored, duplicates_possible, failures,
    last_error.  Bookkeeping: generated == sent + dropped + queued - restored.
    """

    def __init__(self, channel_id, key, url, socket, select, ticks, path, log, wifi, timeout=4):
        try:
            end = (url + '/').find('/', 7)
            host = url[7:end].split(':')
            port = int(host[1]) if len(host) > 1 else 80
            if url[:7] != 'http://' or not host[0] or len(host) > 2 or not 0 < port < 65536 \
                    or not key:
                raise ValueError
        except Exception:
            raise ValueError('ambient: need a write key and an http://host[:port][/path] url')
        self.addr = (host[0], port)      # resolved to a getaddrinfo() entry when first used
        self.head = ('POST %s/api/v2/channels/%s/dataarray HTTP/1.0\r\nHost: %s\r\n'
                     'Content-Type: application/json\r\nContent-Length: %%d\r\n'
                     'Connection: close\r\n\r\n' % (url[end:].rstrip('/'), channel_id, url[7:end]))
        # The only place the key lives: the fixed start of every request body.
        self.key = ('{"writeKey":%s,"data":[' % json.dumps(key)).encode()
        self.socket = socket
        self.select = select
        self.ticks = ticks
        self.path = path
        self.log = log
        self.wifi = wifi
        self.timeout = int(timeout * 1000)   # ms
        self.generated = 0
        self.sent = 0                 # records answered 2xx
        self.dropped = 0              # overflow, 4xx, unreadable on flash
        self.duplicates_possible = 0  # records of attempts whose outcome was unknown
        self.failures = 0             # attempts that did not deliver
        self.last_error = None
        self.buffer = []              # records in RAM, encoded, oldest first, all newer than flash's
        self.next = None              # ticks before which no attempt is made
        self.errors = 0               # failed attempts in a row
        self.single = False           # after an ambiguous attempt: one record per request
        self.hours = [0] * 24         # records sent per wall-clock hour, last 24 hours
        self.hour = 0
        self.time = None              # (wall ms, ticks) last given to service()
        # Flash: segment files path.N, oldest first, each [N, records left, offset of the next
        # record, records written (_SEG: full, never appended to)]; path.pos holds "N offset" of
        # the oldest unsent record (no file: "0 0").
        flash = self.flash = []
        try:
            with open(path + '.pos') as f:
                p = f.read().split()
            seq = int(p[0])
            off = int(p[1])
        except Exception:
            seq = off = 0
        if seq:
            remove('%s.%d' % (path, seq - 1))   # left by a power cut between moving .pos and removing
        n = 0
        while True:
            try:
                f = open('%s.%d' % (path, seq), 'rb')
            except OSError:
                break
            k = 0
            last = b'\n'
            with f:
                f.seek(off)
                while True:
                    b = f.read(256)
                    if not b:
                        break
                    k += b.count(b'\n')
                    last = b[-1:]
            k += last != b'\n'        # a torn last line counts: it is skipped and counted later
            flash.append([seq, k, off, _SEG])
            n += k
            off = 0
            seq += 1
        if not flash:
            remove(path + '.pos')     # it names a file that is gone: an empty store, from 0
        self.restored = self.queued = n

    def stats(self):
        return {'queued': self.queued, 'dropped': self.dropped, 'sent': self.sent,
                'generated': self.generated, 'restored': self.restored,
                'duplicates_possible': self.duplicates_possible, 'failures': self.failures,
                'last_error': self.last_error}

    # -- taking records -------------------------------------------------------------------------

    def reading(self, vals, t, fields):
        """Queue the app's latest readings (lib/app.py's vals: (R, T) A, W, period, period kWh,
        period yen, import kWh, export kWh) measured at t (ms since 1970 UTC), each value in the
        slot the config's ambient fields give it (name -> 'dN'): current in A (R + T), power in
        kW.  Nothing before the first reading or without a wall time."""
        a, w, _, kwh, yen, imp, exp = vals
        if t is None or w is None:
            return False
        rec = {'created': t}
        a = None if not a or a[0] is None and a[1] is None else (a[0] or 0) + (a[1] or 0)
        for name, value in (('current', a), ('power', w / 1000), ('period_kwh', kwh),
                            ('period_yen', yen), ('export_kwh', exp), ('import_kwh', imp)):
            slot = fields.get(name)
            if slot and value is not None:
                rec[slot] = value
        return self.add(rec)

    def add(self, record):
        """Queue one record: {'created': int ms since 1970 UTC (2017 or later), 'd1'..'d8':
        numbers (None: no value)}.  Never touches the network; may write one chunk to flash.
        -> False (and a warning) for a record that cannot be sent."""
        try:
            t = record['created']
            s = '{"created":%d' % t
            n = 1
            values = 0
            for i in range(1, 9):
                k = 'd' + str(i)
                if k in record:
                    n += 1
                    v = record[k]
                    if v is not None:
                        if type(v) not in (int, float) or v - v:   # bool, str, nan, inf
                            raise ValueError
                        s += ',"%s":%r' % (k, v)
                        values += 1
            if type(t) is not int or t // _HOUR < _H2017 or n != len(record) or not values \
                    or len(s) > _LINE - 3:           # a line the store could not read back
                raise ValueError
        except Exception:
            self.log.warning('record refused: need int created (ms, 2017 on) and d1..d8 numbers')
            return False
        self.generated += 1
        self.queued += 1
        ram = self.buffer
        ram.append(s.encode() + b'}')
        if len(ram) > _RAM and not self.flush(_RAM):
            del ram[0]
            self.queued -= 1
            self.dropped += 1
        return True

    # -- flash ----------------------------------------------------------------------------------

    def flush(self, n=0):
        """Move the n oldest records in RAM (all: before a planned reset) to flash in one
        open/write/close, after dropping the oldest on flash to make room -> records moved
        (0 when the write failed: they stay in RAM)."""
        ram = self.buffer
        flash = self.flash
        n = n or len(ram)
        if not n:
            return 0
        while True:
            over = self.queued - len(ram) + n - _FILE
            if over <= 0:
                break
            lines, end, skip = self.read(over)
            self.pop(len(lines), end, skip)
            self.queued -= len(lines)
            self.dropped += len(lines)
            self.log.warning('store full: %d oldest records dropped', len(lines) + skip)
        new = not flash or flash[-1][3] >= _SEG
        seq = (flash[-1][0] + new) if flash else 0     # new: the next number (0 when empty)
        name = '%s.%d' % (self.path, seq)
        try:
            with open(name, 'wb' if new else 'ab') as f:
                for line in ram[:n]:
                    f.write(line + b'\n')
        except OSError:
            if new:
                remove(name)
            else:
                flash[-1][3] = _SEG   # whatever landed is past the count: never appended to
            self.last_error = 'flash write failed'
            self.log.warning(self.last_error)
            return 0
        if new:
            flash.append([seq, 0, 0, 0])
        flash[-1][1] += n
        flash[-1][3] += n
        del ram[:n]
        return n

    def read(self, n):
        """Up to n records from the oldest segment (a batch never spans two files), nothing
        used up yet -> (lines, offset after them, unusable records met on the way)."""
        seg = self.flash[0]
        lines = []
        skip = 0
        end = seg[2]
        try:
            with open('%s.%d' % (self.path, seg[0]), 'rb') as f:
                f.seek(end)
                while len(lines) < n and len(lines) + skip < seg[1]:
                    line = f.readline(_LINE)
                    if not line:
                        skip = seg[1] - len(lines)    # shorter than counted: believe the file
                        break
                    end += len(line)
                    ok = line[:1] == b'{' and line[-2:] == b'}\n'
                    while line[-1:] != b'\n':        # torn or overlong: skip to the line end
                        line = f.readline(_LINE)
                        if not line:
                            break
                        end += len(line)
                    if ok:
                        lines.append(line[:-1])
                    else:
                        skip += 1
        except OSError:
            lines = []
            skip = seg[1]                             # unreadable: the whole file is lost
        return lines, end, skip

    def pop(self, n, end, skip):
        """Use up the n records of the last read() and the `skip` unusable ones it met: the
        oldest segment moves on to `end` and path.pos with it (every call moves it, so .pos is
        written only when it moves: flash wears); a used-up segment goes."""
        flash = self.flash
        seg = flash[0]
        seg[1] -= n + skip
        seg[2] = end
        self.queued -= skip
        self.dropped += skip
        name = '%s.%d' % (self.path, seg[0])
        if seg[1] <= 0:
            flash.pop(0)
            if not flash:
                remove(name)          # the last one: its file first, then .pos
        pos = self.path + '.pos'
        if flash:
            try:
                with open(pos, 'w') as f:
                    f.write('%d %d' % (flash[0][0], flash[0][2]))
            except OSError:
                pass
            if flash[0] is not seg:
                remove(name)          # .pos has moved on past it
        else:
            remove(pos)               # empty: no files, numbering restarts at 0

    # -- sending --------------------------------------------------------------------------------

    def service(self, now=None):
        """Send at most one batch if one is due.  now: wall time, ms since 1970 UTC, or None
        (carried on by the ticks from the last value while records stay queued).  -> what
        happened: 0 idle, 1 wait (spacing, back-off), 2 offline, 3 no wall time yet, 4 daily
        quota used up, 5 sent, 6 failed, 7 ambiguous, 8 rejected."""
        ticks = self.ticks
        t = ticks.ticks_ms()
        if self.next is not None:
            if ticks.ticks_diff(self.next, t) > 0:
                return _WAIT
            # Passed: forget it, so that after days without records the ticks wrap (2^30 ms)
            # cannot turn it into a deadline far in the future.
            self.next = None
        if not self.queued:
            self.time = None
            return _IDLE
        if not self.wifi():
            return _OFFLINE
        if now is None:
            if self.time is None:
                return _NOTIME
            now = self.time[0] + ticks.ticks_diff(t, self.time[1])
        else:
            self.time = (now, t)
        hours = self.hours
        hour = now // _HOUR
        if hour > self.hour:          # a clock stepped back keeps counting into the newest hour
            for i in range(min(hour - self.hour, 24)):
                hours[(hour - i) % 24] = 0
            self.hour = hour
        n = _DAY - sum(hours)
        if n <= 0:
            return _CAP
        n = min(n, 1 if self.single else _BATCH)
        from_file = self.queued - len(self.buffer)
        if from_file:
            lines, end, skip = self.read(n)
            if not lines:
                self.pop(0, end, skip)
                return _IDLE
        else:
            lines = self.buffer[:n]
        n = len(lines)
        # POST the records: every socket call under a timeout (the step timeout or what is left
        # of the whole exchange, ETIMEDOUT once that has run out); the request goes out in
        # pieces of one record each (no big concatenation).  `stage` says how far it got when
        # it fails ('recv': the whole request went out, the server may have it).
        stage = 'dns'
        status = 0
        deadline = ticks.ticks_add(ticks.ticks_ms(), self.timeout)
        try:
            a = self.addr
            if len(a) == 2:           # (host, port): not resolved yet
                a = self.addr = self.socket.getaddrinfo(a[0], a[1], 0, 1)[0] + (a,)
            stage = 'connect'
            sock = self.socket.socket(a[0], a[1], a[2])
            try:
                i = 0
                while True:
                    ms = min(self.timeout, ticks.ticks_diff(deadline, ticks.ticks_ms()))
                    if ms <= 0:
                        raise OSError(110)
                    sock.settimeout(ms / 1000)
                    if stage == 'connect':
                        if self.select:
                            sock.settimeout(0)
                            try:
                                sock.connect(a[4])
                            except OSError as e:
                                if e.args[0] not in (11, 115, 119):   # EAGAIN, EINPROGRESS
                                    raise
                            poller = self.select.poll()
                            poller.register(sock, 4)                  # POLLOUT
                            r = poller.poll(ms)
                            if not r:
                                raise OSError(110)
                            if r[0][1] & 24:                          # POLLERR, POLLHUP
                                raise OSError(111)
                        else:
                            sock.connect(a[4])
                        stage = 'send'
                        k = len(self.key) + n + 1
                        for line in lines:
                            k += len(line)
                        data = (self.head % k).encode() + self.key
                    elif stage == 'send':
                        data = data[sock.send(data):]
                        if not data:
                            if i < n:
                                data = lines[i] + (b',' if i < n - 1 else b']}')
                                i += 1
                            else:
                                stage = 'recv'
                    else:                 # the status line: b'HTTP/1.1 200 OK'
                        b = sock.recv(128)
                        data += b
                        if not b or b'\n' in data or len(data) >= _ANSWER:
                            break
            finally:
                sock.close()
            p = data.split(b'\n')[0].split()
            if len(p) < 2 or p[0][:5] != b'HTTP/' or not p[1].isdigit() or not 99 < int(p[1]) < 600:
                raise ValueError('no HTTP status')
            status = int(p[1])
            why = 'http %d' % status
        except Exception as e:
            x = e.args[0] if e.args else type(e).__name__
            why = ('%s: errno %d' if type(x) is int else '%s: %s') % (stage, x)
            if stage == 'connect':
                self.addr = self.addr[-1]    # resolve again next time: the address may move
        t = ticks.ticks_ms()
        self.next = ticks.ticks_add(t, _SPACING)
        ambiguous = not status and stage == 'recv'
        rejected = 399 < status < 500 and status != 429
        if ambiguous or 199 < status < 300:
            hours[self.hour % 24] += n         # the server may have counted them
        if rejected or 199 < status < 300:
            self.queued -= n
            if from_file:
                self.pop(n, end, skip)
            else:
                del self.buffer[:n]
            if not rejected:
                self.sent += n
                if self.errors:
                    self.log.info('delivering again after %d failures', self.errors)
                self.errors = 0
                self.single = False
                return _SENT
            self.dropped += n
        self.failures += 1
        self.errors += 1
        self.last_error = why
        self.next = ticks.ticks_add(t, min(_BACKOFF << min(self.errors - 1, 5), _BACKOFF_MAX))
        if rejected:
            self.log.warning('%s: %d records dropped', why, n)
            return _REJECTED
        if ambiguous:
            self.duplicates_possible += n
            self.single = True
        if ambiguous or self.errors == 1:
            self.log.warning('%s: %d records kept', why, self.queued)
        return _AMBIGUOUS if ambiguous else _FAILED
