"""lib/ambient.py: the queue and its HTTP client over a fake socket module (which also plays the
server), a fake ticks clock and real files.  Plain asserts; runs under CPython (pytest) and
MicroPython."""
try:
    import ujson as json
except ImportError:
    import json
try:
    import uos as os
except ImportError:
    import os

import ambient
from ambient import Ambient
from log import Logger

KEY = 'SeCrEtWrItEkEy42'
WALL0 = 1700000000000          # 2023-11-14 22:13:20 UTC, ms
OK_REPLY = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK'
STORE = '/tmp/smm_ambient_test'

# what service() returns
IDLE, WAIT, OFFLINE, NOTIME, CAP, SENT, FAILED, AMBIGUOUS, REJECTED = range(9)
RAM, FILE, SEG, BATCH, DAY = 30, 1440, 360, 20, 3000      # the module's bounds


# -- fakes ------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self, t=0):
        self.t = t

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, d):
        return a + d


class WrapClock(FakeClock):
    """ticks as on the ESP32: they wrap at 2^30 ms; ticks_diff is right within half of that."""

    def ticks_ms(self):
        return self.t & 0x3FFFFFFF

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def ticks_add(self, a, d):
        return (a + d) & 0x3FFFFFFF


class FakeSock:
    """One connection.  plan: dict with optional keys
    connect_err (errno), send_err_after (bytes accepted before OSError 104), send_chunk (bytes per
    send), send_exc / recv_exc (an exception raised by send / recv), reply (bytes, default 200 OK),
    reply_chunk (bytes per recv), recv_err (errno raised once the reply is used up),
    recv_advance (ms the clock moves per recv), store (the server keeps a complete request:
    default when the reply is 2xx)."""

    def __init__(self, net, plan):
        self.net = net
        self.plan = plan
        self.ops = []          # ('settimeout', v) / ('connect', addr) / ('send', n) / ('recv', n)
        self.sent = b''
        self.replied = 0
        self.closed = False
        self.start = net.clock.t

    def settimeout(self, value):
        self.ops.append(('settimeout', value))

    def connect(self, addr):
        self.ops.append(('connect', addr))
        self.net.connects.append(addr)
        err = self.plan.get('connect_err')
        if err is not None:
            raise OSError(err)

    def send(self, data):
        data = bytes(data)
        if 'send_exc' in self.plan:
            raise self.plan['send_exc']
        limit = self.plan.get('send_err_after')
        if limit is not None and len(self.sent) + len(data) > limit:
            self.sent += data[:limit - len(self.sent)]
            raise OSError(104)
        take = min(self.plan.get('send_chunk', len(data)), len(data))
        self.sent += data[:take]
        self.ops.append(('send', take))
        return take

    def recv(self, n):
        self.ops.append(('recv', n))
        self.net.clock.t += self.plan.get('recv_advance', 0)
        if 'recv_exc' in self.plan:
            raise self.plan['recv_exc']
        reply = self.plan.get('reply', OK_REPLY)
        if self.replied >= len(reply):
            err = self.plan.get('recv_err')
            if err is not None:
                raise OSError(err)
            return b''
        piece = reply[self.replied:self.replied + min(n, self.plan.get('reply_chunk', n))]
        self.replied += len(piece)
        return piece

    def close(self):
        self.closed = True
        if b'\r\n\r\n' not in self.sent:
            return
        request_line, headers, body = split_request(self.sent)
        if int(headers['content-length']) != len(body):
            return                                   # incomplete: a server stores nothing
        recs = json.loads(body)['data']
        self.net.calls.append((self.start, self.net.clock.t, [r['created'] for r in recs]))
        reply = self.plan.get('reply', OK_REPLY)
        if self.plan.get('store', reply[9:10] == b'2'):
            self.net.stored.extend(recs)


class FakeNet:
    """A usocket-like module that also plays the server.  plans: one dict per connection
    (afterwards: answer 200 and store)."""

    def __init__(self, clock, plans=None, dns_err=None):
        self.clock = clock
        self.plans = list(plans or [])
        self.dns_err = dns_err
        self.lookups = []
        self.connects = []
        self.sockets = []
        self.calls = []        # complete requests: (start ticks, end ticks, [created, ...])
        self.stored = []       # records the server kept, in arrival order

    def getaddrinfo(self, host, port, af=0, type=0):
        self.lookups.append((host, port, type))
        if self.dns_err is not None:
            raise OSError(self.dns_err)
        return [(2, 1, 0, '', (host, port))]

    def socket(self, af, type, proto):
        sock = FakeSock(self, self.plans.pop(0) if self.plans else {})
        self.sockets.append(sock)
        return sock


class FakePoller:
    def __init__(self, sel):
        self.sel = sel
        self.registered = []

    def register(self, obj, mask):
        self.registered.append((obj, mask))

    def poll(self, ms):
        self.sel.waits.append(ms)
        result = self.sel.results.pop(0)
        return [(self.registered[0][0], result)] if result else []


class FakeSelect:
    def __init__(self, results):
        self.results = list(results)
        self.waits = []

    def poll(self):
        return FakePoller(self)


_real_open = open


class Files:
    """Stands in for the store's open(): counts opens for writing and, with `budget` set, lets
    that many write() calls through, then writes half of the next one and raises ENOSPC
    (budget 0: the open itself fails)."""

    def __init__(self):
        self.writes = []
        self.budget = None

    def open(self, name, mode='r'):
        if 'r' in mode:
            return _real_open(name, mode)
        self.writes.append(name)
        if self.budget == 0:
            raise OSError(28)
        return _File(self, _real_open(name, mode))

    def segment_writes(self):
        return [n for n in self.writes if not n.endswith('.pos')]


class _File:
    def __init__(self, files, f):
        self.files = files
        self.f = f

    def write(self, data):
        if self.files.budget is not None:
            if self.files.budget <= 0:
                self.f.write(data[:len(data) // 2])
                raise OSError(28)
            self.files.budget -= 1
        return self.f.write(data)

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def clean():
    """Remove the store's files; -> the names that were there."""
    found = []
    for name in os.listdir('/tmp'):
        if ('/tmp/' + name).startswith(STORE):
            found.append(name)
            os.remove('/tmp/' + name)
    return found


def store_files():
    return sorted([n for n in os.listdir('/tmp') if ('/tmp/' + n).startswith(STORE)])


def make(clock=None, plans=None, wifi=None, select=None, timeout=4, url='http://ambidata.io',
         net=None, files=None, fresh=True):
    """-> (queue, net, clock, log lines) on a clean store (fresh=False: keep the files)."""
    if fresh:
        clean()
    clock = clock or FakeClock()
    net = net or FakeNet(clock, plans)
    lines = []
    ambient.open = files.open if files else _real_open
    q = Ambient(12345, KEY, url, net, select, clock, STORE, Logger('ambient', sink=lines.append),
                wifi or (lambda: True), timeout)
    return q, net, clock, lines


def split_request(raw):
    head, body = raw.split(b'\r\n\r\n', 1)
    lines = head.decode().split('\r\n')
    headers = {}
    for line in lines[1:]:
        k, v = line.split(':', 1)
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def rec(i):
    return {'created': WALL0 + i * 30000, 'd1': 10 + i, 'd2': 0.5, 'd3': 100 + i, 'd4': 2000 + i}


def recs(a, b):
    return [rec(i) for i in range(a, b)]


def run(q, clock, seconds, step_ms=1000):
    """Call service() every step_ms for `seconds` of simulated time; -> list of results."""
    out = []
    end = clock.t + seconds * 1000
    while clock.t < end:
        out.append(q.service(WALL0 + clock.t))
        clock.t += step_ms
    return out


def check_books(q):
    assert q.generated == q.sent + q.dropped + q.queued - q.restored


def raises(fn, exc):
    try:
        fn()
    except exc as e:
        return e
    raise AssertionError('no %s raised' % exc.__name__)


# -- records ----------------------------------------------------------------------------------

def test_record_is_compact_json_in_fixed_order_with_created_kept():
    q, net, clock, _ = make()
    assert q.add({'d2': 1.5, 'created': WALL0, 'd1': 3, 'd5': None})
    assert q.service(WALL0) == SENT
    body = split_request(net.sockets[0].sent)[2]
    assert b'"data":[{"created":1700000000000,"d1":3,"d2":1.5}]}' in body
    assert net.stored == [{'created': WALL0, 'd1': 3, 'd2': 1.5}]


def test_invalid_records_are_refused_with_a_warning():
    q, net, clock, lines = make()
    bad = [
        {'created': WALL0, 'd1': float('nan')},
        {'created': WALL0, 'd1': float('inf')},
        {'created': WALL0, 'd1': True},
        {'created': WALL0, 'd1': '3'},
        {'created': WALL0, 'd9': 1},
        {'created': WALL0, 'd1': 1, 'lat': 35.0},
        {'created': WALL0},
        {'created': WALL0, 'd1': None},
        {'d1': 1},                                 # no measurement time
        {'created': 946684800000, 'd1': 1},        # 2000-01-01: an unset ESP32 clock
        {'created': 1.7e12, 'd1': 1},              # a float loses minutes in 32-bit floats
        {'created': True, 'd1': 1},
        {'created': WALL0, 'd1': 10 ** 300},        # too long to be stored and read back
        'not a dict',
        None,
    ]
    for r in bad:
        assert q.add(r) is False, r
    assert q.generated == 0 and q.queued == 0
    assert len(lines) == len(bad) and 'record refused' in lines[0]
    assert q.service(WALL0) == IDLE and net.sockets == []


# -- the HTTP exchange ------------------------------------------------------------------------

def test_request_is_http_post_with_json_body_and_content_length():
    q, net, clock, _ = make()
    q.add(rec(0))
    q.add(rec(1))
    assert q.service(WALL0) == SENT
    sock = net.sockets[0]
    assert sock.closed
    request_line, headers, body = split_request(sock.sent)
    assert request_line == 'POST /api/v2/channels/12345/dataarray HTTP/1.0'
    assert headers['host'] == 'ambidata.io'
    assert headers['content-type'] == 'application/json'
    assert headers['connection'] == 'close'
    assert int(headers['content-length']) == len(body)
    doc = json.loads(body)
    assert doc == {'writeKey': KEY, 'data': recs(0, 2)}
    assert net.lookups == [('ambidata.io', 80, 1)]           # SOCK_STREAM
    assert net.connects == [('ambidata.io', 80)]
    assert q.sent == 2 and q.queued == 0


def test_url_with_port_and_path_prefix():
    q, net, clock, _ = make(url='http://127.0.0.1:8080/amb/')
    q.add(rec(0))
    q.service(WALL0)
    request_line, headers, _ = split_request(net.sockets[0].sent)
    assert request_line == 'POST /amb/api/v2/channels/12345/dataarray HTTP/1.0'
    assert headers['host'] == '127.0.0.1:8080'
    assert net.lookups == [('127.0.0.1', 8080, 1)]


def test_bad_url_or_key_is_a_clear_error_without_the_key():
    clock = FakeClock()
    net = FakeNet(clock)
    log = Logger('ambient', sink=lambda line: None)
    for url, key in (('https://ambidata.io', KEY), ('http://h:x', KEY), ('http://:80', KEY),
                     ('http://h:1:2', KEY), ('http://h:70000', KEY), ('ambidata.io', KEY),
                     ('http://ambidata.io', '')):
        e = raises(lambda: Ambient(1, key, url, net, None, clock, STORE, log, None), ValueError)
        assert 'http://host' in str(e) and KEY not in str(e)


def test_body_goes_out_in_bounded_pieces():
    q, net, clock, _ = make()
    for i in range(BATCH):
        q.add(rec(i))
    q.service(WALL0)
    sends = [op[1] for op in net.sockets[0].ops if op[0] == 'send']
    assert len(sends) == 1 + BATCH                 # head + key, then one per record (+ , or ]})
    assert max(sends) < 300
    _, headers, body = split_request(net.sockets[0].sent)
    assert int(headers['content-length']) == len(body)
    assert json.loads(body)['data'] == recs(0, BATCH)


def test_partial_sends_are_continued():
    q, net, clock, _ = make(plans=[{'send_chunk': 7}])
    q.add(rec(0))
    assert q.service(WALL0) == SENT
    assert net.stored == [rec(0)]


def test_status_line_decides_the_outcome():
    cases = [
        (b'HTTP/1.1 200\r\n\r\n', SENT),
        (b'HTTP/1.0 201 Created\r\n\r\n', SENT),
        (b'HTTP/1.0 500 Internal Server Error\r\n\r\n', FAILED),
        (b'HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n', FAILED),
        (b'HTTP/1.1 302 Found\r\n\r\n', FAILED),
        (b'HTTP/1.1 403 Forbidden\n\n', REJECTED),
        (b'HTTP/1.1 404 Not Found\r\n\r\n', REJECTED),
    ]
    for reply, outcome in cases:
        q, net, clock, _ = make(plans=[{'reply': reply}])
        q.add(rec(0))
        assert q.service(WALL0) == outcome, reply
        assert q.queued == (1 if outcome == FAILED else 0)
        assert q.duplicates_possible == 0
    # three bytes per recv: the status line is still found
    q, net, clock, _ = make(plans=[{'reply': b'HTTP/1.1 201 Created\r\n\r\n', 'reply_chunk': 3}])
    q.add(rec(0))
    assert q.service(WALL0) == SENT


def test_no_status_after_the_request_went_out_is_ambiguous():
    for reply in (b'hello there\r\n', b'HTTP/1.1 abc\r\n', b'HTTP/1.1 999 What\r\n', b'',
                  b'HTTP/1.1 20', b'\r\n'):
        q, net, clock, _ = make(plans=[{'reply': reply, 'store': True}])
        q.add(rec(0))
        assert q.service(WALL0) == AMBIGUOUS, reply
        assert q.last_error == 'recv: no HTTP status'
        assert q.queued == 1 and q.duplicates_possible == 1
        assert net.sockets[0].closed


def test_answer_is_read_within_a_bound():
    q, net, clock, _ = make(plans=[{'reply': b'HTTP/1.1 200 OK' + b'x' * 5000}])
    q.add(rec(0))
    assert q.service(WALL0) == SENT
    assert net.sockets[0].replied < 512 + 128
    q, net, clock, _ = make(plans=[{'reply': OK_REPLY + b'x' * 5000}])
    q.add(rec(0))
    assert q.service(WALL0) == SENT
    assert net.sockets[0].replied <= 128               # only the status line is needed


def test_timeout_is_set_before_every_socket_step():
    q, net, clock, _ = make(timeout=3)
    q.add(rec(0))
    q.add(rec(1))
    q.service(WALL0)
    ops = net.sockets[0].ops
    last = None
    for op in ops:
        if op[0] == 'settimeout':
            last = op[1]
            assert 0 < last <= 3
        else:
            assert last is not None
    assert [op[0] for op in ops if op[0] != 'settimeout'][0] == 'connect'
    assert 'recv' in [op[0] for op in ops]


def test_the_whole_exchange_has_a_deadline():
    # The server dribbles one byte per recv, each taking 1.5 s: the 5 s budget runs out first.
    q, net, clock, _ = make(plans=[{'reply': OK_REPLY, 'reply_chunk': 1, 'recv_advance': 1500}],
                            timeout=5)
    q.add(rec(0))
    assert q.service(WALL0) == AMBIGUOUS
    assert q.last_error == 'recv: errno 110'
    sock = net.sockets[0]
    assert sock.closed
    assert len([op for op in sock.ops if op[0] == 'recv']) == 4
    for op in sock.ops:
        if op[0] == 'settimeout':
            assert op[1] <= 5


def test_connect_refused_is_definite_and_resolves_again():
    q, net, clock, _ = make(plans=[{'connect_err': 111}])
    q.add(rec(0))
    assert q.service(WALL0) == FAILED
    assert q.last_error == 'connect: errno 111' and q.duplicates_possible == 0
    assert net.sockets[0].closed and net.sockets[0].sent == b''
    run(q, clock, 20)
    assert q.sent == 1
    assert len(net.lookups) == 2        # resolved again after the failed connect
    q.add(rec(1))
    run(q, clock, 10)
    assert q.sent == 2
    assert len(net.lookups) == 2        # and kept after a success


def test_dns_failure_is_definite():
    clock = FakeClock()
    q, net, clock, _ = make(clock, net=FakeNet(clock, dns_err=-202))
    q.add(rec(0))
    assert q.service(WALL0) == FAILED
    assert q.last_error == 'dns: errno -202'
    assert net.sockets == [] and q.queued == 1


def test_send_failure_before_the_end_is_definite():
    q, net, clock, _ = make(plans=[{'send_err_after': 30}])
    q.add(rec(0))
    assert q.service(WALL0) == FAILED
    assert q.last_error == 'send: errno 104' and q.duplicates_possible == 0
    assert net.sockets[0].closed


def test_timeout_after_the_request_went_out_is_ambiguous():
    q, net, clock, _ = make(plans=[{'recv_err': 110, 'reply': b''}])
    q.add(rec(0))
    assert q.service(WALL0) == AMBIGUOUS
    assert q.last_error == 'recv: errno 110'


def test_any_error_is_judged_by_how_far_the_request_got():
    q, net, clock, _ = make(plans=[{'recv_exc': MemoryError()}, {'send_exc': MemoryError()}])
    q.add(rec(0))
    assert q.service(WALL0) == AMBIGUOUS and q.last_error == 'recv: MemoryError'
    clock.t += 10000
    assert q.service(WALL0 + clock.t) == FAILED and q.last_error == 'send: MemoryError'
    assert q.queued == 1


def test_polled_connect_for_micropython_1_11():
    # connect() raises EINPROGRESS (119 on the ESP32), poll says writable: connected.
    sel = FakeSelect([4])
    q, net, clock, _ = make(plans=[{'connect_err': 119}], select=sel)
    q.add(rec(0))
    assert q.service(WALL0) == SENT
    ops = net.sockets[0].ops
    assert ops[1] == ('settimeout', 0) and ops[2][0] == 'connect'
    assert sel.waits == [4000]
    assert ops[3][0] == 'settimeout' and ops[3][1] > 0 and ops[4][0] == 'send'
    # poll times out: a definite connect failure, nothing sent
    q, net, clock, _ = make(plans=[{'connect_err': 119}], select=FakeSelect([0]))
    q.add(rec(0))
    assert q.service(WALL0) == FAILED and q.last_error == 'connect: errno 110'
    assert net.sockets[0].sent == b'' and net.sockets[0].closed
    # poll reports an error: refused
    q, net, clock, _ = make(plans=[{'connect_err': 119}], select=FakeSelect([4 | 8]))
    q.add(rec(0))
    assert q.service(WALL0) == FAILED and q.last_error == 'connect: errno 111'
    # any other error from connect() itself
    q, net, clock, _ = make(plans=[{'connect_err': 113}], select=FakeSelect([]))
    q.add(rec(0))
    assert q.service(WALL0) == FAILED and q.last_error == 'connect: errno 113'


def test_write_key_never_in_errors_logs_stats_or_repr():
    plans = [{'connect_err': 111}, {'send_err_after': 10}, {'send_err_after': 60},
             {'recv_err': 110, 'reply': b''}, {'reply': b'garbage\r\n'},
             {'reply': b'HTTP/1.0 403 Forbidden\r\n\r\n'}, {'recv_exc': ValueError('x')}]
    q, net, clock, lines = make(plans=plans)
    for i in range(5):
        q.add(rec(i))
    run(q, clock, 1500)
    assert q.sent == 4 and q.dropped == 1 and lines
    for text in lines + [str(q.stats()), repr(q), str(q.last_error)]:
        assert KEY.lower() not in text.lower()


# -- queue: order, pacing, limits -------------------------------------------------------------

def test_oldest_first_in_bulk_batches_with_created_kept():
    q, net, clock, _ = make()
    for i in range(45):
        assert q.add(rec(i))
    assert q.generated == 45 and q.queued == 45
    run(q, clock, 60)
    assert [len(c[2]) for c in net.calls] == [20, 10, 15]    # 30 spilled to flash, 15 in RAM
    assert net.stored == recs(0, 45)
    assert q.sent == 45 and q.queued == 0 and q.failures == 0
    check_books(q)


def test_attempts_are_5s_apart_from_the_end_of_the_previous_one():
    q, net, clock, _ = make(plans=[{'recv_advance': 1700}] * 10)
    for i in range(25):
        q.add(rec(i))
    results = run(q, clock, 60, step_ms=100)
    assert q.sent == 25 and WAIT in results
    for a, b in zip(net.calls, net.calls[1:]):
        assert b[0] - a[1] >= 5000


def test_nothing_to_send_is_idle_and_cheap():
    q, net, clock, _ = make()
    assert q.service(WALL0) == IDLE
    assert q.service(None) == IDLE
    assert net.sockets == [] and net.lookups == []


def test_daily_cap_holds_in_every_24_hours_and_counts_ambiguous_records():
    # 20 records every 5 s; the third request's answer is lost after the server stored it.
    q, net, clock, _ = make(plans=[{}, {}, {'recv_err': 110, 'reply': b'', 'store': True}])
    n = 0
    while clock.t < 3600 * 1000:
        for _ in range(20):
            q.add(rec(n))
            n += 1
        result = q.service(WALL0 + clock.t)
        clock.t += 5000
        if result == CAP:
            break
    assert result == CAP
    assert q.duplicates_possible == 20
    assert q.sent + q.duplicates_possible == DAY       # what the server may have counted
    check_books(q)
    # 22 hours later: still inside the same 24 hours
    clock.t += 22 * 3600 * 1000
    assert q.service(WALL0 + clock.t) == CAP
    sent = q.sent
    run(q, clock, 2 * 3600, step_ms=5000)
    assert q.sent > sent and q.queued == 0
    # Every 24 hours starting on a whole hour (a calendar day in UTC, JST or any whole-hour
    # zone) holds at most DAY records.
    times = []
    for c in net.calls:
        times.extend([WALL0 + c[0]] * len(c[2]))
    hour = 3600 * 1000
    start = (times[0] // hour - 24) * hour
    while start <= times[-1]:
        assert len([t for t in times if start <= t < start + 24 * hour]) <= DAY
        start += hour
    check_books(q)


def test_wifi_down_means_no_attempt():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    q.add(rec(0))
    assert q.service(WALL0) == OFFLINE
    assert net.sockets == [] and q.failures == 0
    up[0] = True
    assert q.service(WALL0) == SENT


def test_no_wall_time_yet_means_wait_then_ticks_carry_it_while_queued():
    q, net, clock, _ = make()
    q.add(rec(0))
    assert q.service(None) == NOTIME
    assert q.service(WALL0) == SENT
    q.add(rec(1))
    clock.t += 6000
    assert q.service(None) == SENT       # carried on from the last wall time by ticks
    assert q.service(None) == WAIT
    clock.t += 6000
    assert q.service(None) == IDLE       # empty: the carried time is forgotten
    q.add(rec(2))
    assert q.service(None) == NOTIME


def test_a_queue_left_empty_for_days_sends_at_once_after_the_ticks_wrap():
    q, net, clock, _ = make(WrapClock())
    q.add(rec(0))
    assert q.service(WALL0) == SENT
    for _ in range(10):                      # the app calls service every loop
        clock.t += 1000
        q.service(None)
    clock.t += 9 * 86400 * 1000              # nine quiet days: past half the ticks period
    for _ in range(5):
        clock.t += 1000
        q.service(None)
    q.add(rec(1))
    assert q.service(WALL0 + clock.t) == SENT


# -- queue: failures ----------------------------------------------------------------------------

def test_4xx_drops_the_batch_and_429_keeps_it():
    q, net, clock, lines = make(plans=[{'reply': b'HTTP/1.1 400 Bad Request\r\n\r\n'},
                                       {'reply': b'HTTP/1.1 429 Too Many\r\n\r\n'}])
    for i in range(25):
        q.add(rec(i))
    run(q, clock, 200)
    assert q.dropped == 20 and q.sent == 5
    assert net.stored == recs(20, 25)
    assert net.calls[1][2] == net.calls[2][2]          # 429: the same batch again
    assert q.failures == 2
    assert [line for line in lines if 'http 400: 20 records dropped' in line]
    check_books(q)


def test_5xx_and_network_failures_keep_records_and_back_off_exponentially():
    refused = {'connect_err': 111}
    q, net, clock, lines = make(plans=[{'reply': b'HTTP/1.0 500 Oops\r\n\r\n'}, refused,
                                       {'reply': b'HTTP/1.0 503 Busy\r\n\r\n'}, refused, refused,
                                       refused, refused])
    for i in range(3):
        q.add(rec(i))
    run(q, clock, 1500, step_ms=500)
    starts = [s.start for s in net.sockets]
    assert [b - a for a, b in zip(starts, starts[1:])] == [
        10000, 20000, 40000, 80000, 160000, 300000, 300000]
    assert q.failures == 7 and q.sent == 3 and q.duplicates_possible == 0
    assert net.stored == recs(0, 3)
    assert len([line for line in lines if 'WARN' in line]) == 1    # the first of a streak
    assert [line for line in lines if 'delivering again after 7 failures' in line]


def test_ambiguous_failure_resends_with_bounded_duplicates():
    lost = {'recv_err': 110, 'reply': b'', 'store': True}       # stored, the answer lost
    silent = {'recv_err': 110, 'reply': b'', 'store': False}    # not stored, no answer
    q, net, clock, _ = make(plans=[lost, lost, silent])
    for i in range(45):
        q.add(rec(i))
    run(q, clock, 600)
    sizes = [len(c[2]) for c in net.calls]
    assert sizes[:4] == [20, 1, 1, 1]        # after an unknown outcome: one record at a time
    assert sizes[4] == 20                    # back to full batches after a success
    assert q.duplicates_possible == 20 + 1 + 1
    assert q.sent == 45 and q.queued == 0
    created = [r['created'] for r in net.stored]
    distinct = []
    for c in created:
        if c not in distinct:
            distinct.append(c)
    assert distinct == [r['created'] for r in recs(0, 45)]     # nothing lost, in order
    assert len(created) - len(distinct) == 21 <= q.duplicates_possible


def test_stats_have_the_diagnostics_counters():
    q, net, clock, _ = make(plans=[{'connect_err': 111}])
    q.add(rec(0))
    q.service(WALL0)
    assert q.stats() == {'queued': 1, 'dropped': 0, 'sent': 0, 'generated': 1, 'restored': 0,
                         'duplicates_possible': 0, 'failures': 1,
                         'last_error': 'connect: errno 111'}


# -- queue: RAM and flash -----------------------------------------------------------------------

def test_ram_bound_spills_the_oldest_chunk_to_flash_in_one_write():
    files = Files()
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0], files=files)
    for i in range(95):
        q.add(rec(i))
    assert q.queued == 95 and len(q.buffer) == 5
    assert files.segment_writes() == [STORE + '.0'] * 3     # one open/write/close per 30
    with open(STORE + '.0', 'rb') as f:
        assert f.read().count(b'\n') == 90
    up[0] = True
    run(q, clock, 60)
    assert net.stored == recs(0, 95)
    assert q.sent == 95 and q.queued == 0
    assert store_files() == []                # segments and the position file are gone
    check_books(q)


def test_position_file_is_written_only_when_it_moves():
    files = Files()
    q, net, clock, _ = make(plans=[{'connect_err': 111}] * 3, files=files)
    for i in range(31):
        q.add(rec(i))
    run(q, clock, 75)                         # three refused attempts, then one batch from flash
    pos = [n for n in files.writes if n.endswith('.pos')]
    assert q.sent == 20 and len(pos) == 1
    with open(STORE + '.pos') as f:
        assert f.read().split()[0] == '0'
    run(q, clock, 100)
    assert q.sent == 31 and store_files() == []


def test_records_added_while_draining_the_flash_stay_in_order():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    n = 0
    for _ in range(70):
        q.add(rec(n))
        n += 1
    up[0] = True
    for _ in range(60):
        q.add(rec(n))
        n += 1
        run(q, clock, 3)
    run(q, clock, 300)
    assert net.stored == recs(0, n)
    check_books(q)


def test_spilled_records_survive_a_restart_without_resending():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    for i in range(73):
        q.add(rec(i))
    assert q.flush() == 13 and len(q.buffer) == 0 and q.queued == 73
    up[0] = True
    run(q, clock, 10)                         # two batches of 20 go out
    assert len(net.stored) == 40
    # power cut; a new queue on the same flash
    q2, net2, _, _ = make(clock, fresh=False)
    assert q2.restored == 33 and q2.queued == 33
    q2.add(rec(73))
    run(q2, clock, 60)
    assert net.stored + net2.stored == recs(0, 74)
    assert store_files() == []
    check_books(q2)


def test_a_batch_never_spans_two_segment_files():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    for i in range(10):
        q.add(rec(i))
    q.flush()                                 # segment 0 starts with 10, then takes chunks of 30
    for i in range(10, 410):
        q.add(rec(i))
    q.flush()
    assert store_files() == ['smm_ambient_test.0', 'smm_ambient_test.1']
    up[0] = True
    run(q, clock, 200)
    sizes = [len(c[2]) for c in net.calls]
    assert sizes[:20] == [20] * 18 + [10, 20]    # 370 in segment 0, then segment 1
    assert net.stored == recs(0, 410)


def test_power_cut_between_moving_the_position_and_removing_the_old_segment():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    for i in range(SEG + 40):
        q.add(rec(i))
    q.flush()
    with open(STORE + '.0', 'rb') as f:
        old = f.read()
    up[0] = True
    run(q, clock, 5 * (SEG // BATCH))         # segment 0 delivered and removed, .pos says 1
    assert len(net.stored) == SEG and store_files() == ['smm_ambient_test.1', 'smm_ambient_test.pos']
    with open(STORE + '.0', 'wb') as f:       # as if the power went before the removal
        f.write(old)
    q2, net2, _, _ = make(clock, fresh=False)
    assert q2.restored == 40
    assert 'smm_ambient_test.0' not in store_files()
    run(q2, clock, 60)
    assert net.stored + net2.stored == recs(0, SEG + 40)


def test_full_flash_drops_the_oldest_and_counts():
    up = [False]
    q, net, clock, lines = make(wifi=lambda: up[0])
    for i in range(1500):
        q.add(rec(i))
    assert q.queued == 1500 - q.dropped and q.queued - len(q.buffer) <= FILE
    assert q.dropped == 30 and q.queued == FILE + RAM
    assert [line for line in lines if 'store full' in line]
    check_books(q)
    kept = q.queued
    up[0] = True
    run(q, clock, 600)
    assert net.stored == recs(1500 - kept, 1500)
    assert q.sent == kept and store_files() == []
    check_books(q)


def test_flash_write_failure_keeps_ram_bounded():
    files = Files()
    files.budget = 0
    up = [False]
    q, net, clock, lines = make(wifi=lambda: up[0], files=files)
    for i in range(40):
        q.add(rec(i))
    assert q.queued == RAM and q.dropped == 10
    assert q.last_error == 'flash write failed' and store_files() == []
    files.budget = None
    q.add(rec(40))
    assert q.queued == 31 and len(q.buffer) == 1
    up[0] = True
    run(q, clock, 30)
    assert net.stored == recs(10, 41)
    check_books(q)


def test_a_write_that_fails_halfway_leaves_nothing_to_resend():
    files = Files()
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0], files=files)
    for i in range(31):
        q.add(rec(i))                         # 30 on flash in segment 0
    files.budget = 12                         # the next chunk tears after 12 records
    for i in range(31, 61):
        q.add(rec(i))
    assert q.last_error == 'flash write failed' and q.queued == 60 and len(q.buffer) == RAM
    assert q.dropped == 1                     # rec(30): RAM keeps its bound
    files.budget = None
    q.add(rec(61))                            # this chunk goes to a new segment
    assert store_files() == ['smm_ambient_test.0', 'smm_ambient_test.1']
    up[0] = True
    run(q, clock, 60)
    assert net.stored == recs(0, 30) + recs(31, 62)   # the torn copies are never read
    check_books(q)


def test_unreadable_lines_on_flash_are_skipped_and_counted():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    for i in range(61):
        q.add(rec(i))
    with open(STORE + '.0', 'rb') as f:
        lines = f.read().split(b'\n')
    lines[1] = b'{"created":17000'            # torn record
    lines[3] = b'x' * 1000                     # overlong junk
    lines[25] = b''                            # empty line
    with open(STORE + '.0', 'wb') as f:
        f.write(b'\n'.join(lines))
    up[0] = True
    run(q, clock, 60)
    assert net.stored == [r for i, r in enumerate(recs(0, 61)) if i not in (1, 3, 25)]
    assert q.dropped == 3 and q.queued == 0
    check_books(q)


def test_a_torn_last_line_after_a_power_cut_is_counted_and_skipped():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    for i in range(31):
        q.add(rec(i))
    with open(STORE + '.0', 'rb') as f:
        data = f.read()
    with open(STORE + '.0', 'wb') as f:       # the last record half written
        f.write(data[:-30])
    q2, net2, _, _ = make(clock, fresh=False)
    assert q2.restored == 30
    run(q2, clock, 30)
    assert net2.stored == recs(0, 29) and q2.dropped == 1 and q2.queued == 0
    check_books(q2)


def test_a_missing_segment_file_counts_its_records_as_dropped():
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    for i in range(61):
        q.add(rec(i))
    os.remove(STORE + '.0')
    up[0] = True
    run(q, clock, 30)
    assert net.stored == [rec(60)] and q.dropped == 60
    check_books(q)


def test_a_position_file_naming_a_missing_segment_starts_an_empty_store():
    clean()
    with open(STORE + '.pos', 'w') as f:
        f.write('5 100')
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0], fresh=False)
    assert q.restored == 0 and q.queued == 0
    assert store_files() == []                # the stale position file is gone at once
    for i in range(31):
        q.add(rec(i))
    # a restart before anything was sent finds the new segment from its start
    q, net, clock, _ = make(clock, wifi=lambda: up[0], fresh=False)
    assert q.restored == 30                   # (rec(30) was in RAM: lost in the power cut)
    q.add(rec(31))
    up[0] = True
    run(q, clock, 30)
    assert net.stored == recs(0, 30) + [rec(31)] and q.dropped == 0
    assert store_files() == []


def test_a_record_with_all_eight_values_goes_through_the_flash():
    big = {'created': WALL0}
    for i in range(1, 9):
        big['d%d' % i] = -1.2345678e-10 * i
    up = [False]
    q, net, clock, _ = make(wifi=lambda: up[0])
    for i in range(31):
        r = dict(big)
        r['created'] = WALL0 + i
        assert q.add(r)
    up[0] = True
    run(q, clock, 30)
    assert len(net.stored) == 31 and q.dropped == 0
    assert net.stored[0]['d8'] == big['d8'] or abs(net.stored[0]['d8'] - big['d8']) < 1e-15


def test_a_reading_goes_into_the_configured_slots():
    q, net, clock, lines = make()
    fields = {'current': 'd1', 'power': 'd2', 'period_kwh': 'd3', 'period_yen': 'd4',
              'export_kwh': 'd6'}
    vals = [(10.5, None), 1234, ((2026, 11, 22), (2026, 11, 26)), 64.4, 2954, 7531.3, 12.5]
    assert q.reading(vals, WALL0, fields)
    assert json.loads(q.buffer[-1]) == {'created': WALL0, 'd1': 10.5, 'd2': 1.234, 'd3': 64.4,
                                        'd4': 2954, 'd6': 12.5}
    # no reading yet, or no wall time: nothing queued
    assert not q.reading([None] * 7, WALL0, fields) and not q.reading(vals, None, fields)
    # a value the meter did not give is left out, not sent as zero
    assert q.reading([(None, None), 800, None, None, None, None, None], WALL0 + 30000, fields)
    assert json.loads(q.buffer[-1]) == {'created': WALL0 + 30000, 'd2': 0.8}
    assert q.queued == 2
