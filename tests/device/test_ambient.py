"""lib/ambient.py: the HTTP client over a fake socket module, and the queue with a fake client,
clock and file system.  Plain asserts; runs under CPython (pytest) and MicroPython."""
try:
    import ujson as json
except ImportError:
    import json

import ambient
from ambient import Ambient, AmbientError, AmbientQueue, encode_record

KEY = 'SeCrEtWrItEkEy42'
WALL0 = 1700000000000          # 2023-11-14 22:13:20 UTC, ms
OK_REPLY = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK'


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

    def sleep_ms(self, ms):
        self.t += ms


class _BaseSock:
    """One connection.  plan: dict with optional keys
    connect_err (errno), send_err_after (bytes accepted before OSError), reply (bytes),
    reply_chunk (bytes per recv), recv_err (errno raised instead of / after the reply),
    recv_advance (ms the clock moves per recv)."""

    def __init__(self, net, plan):
        self.net = net
        self.plan = plan
        self.ops = []          # ('settimeout', v) / ('connect',) / ('send', n) / ('recv', n)
        self.timeout = None
        self.sent = b''
        self.replied = 0
        self.closed = False

    def settimeout(self, value):
        self.timeout = value
        self.ops.append(('settimeout', value))

    def connect(self, addr):
        self.ops.append(('connect', addr))
        self.net.connects.append(addr)
        err = self.plan.get('connect_err')
        if err is not None:
            raise OSError(err)

    def _send(self, data):
        data = bytes(data)
        limit = self.plan.get('send_err_after')
        if limit is not None and len(self.sent) + len(data) > limit:
            take = limit - len(self.sent)
            self.sent += data[:take]
            raise OSError(104)
        take = self.plan.get('send_chunk', len(data))
        self.sent += data[:take]
        self.ops.append(('send', min(take, len(data))))
        return min(take, len(data))

    def _recv(self, n):
        self.ops.append(('recv', n))
        adv = self.plan.get('recv_advance')
        if adv and self.net.clock is not None:
            self.net.clock.t += adv
        reply = self.plan.get('reply', b'')
        if self.replied >= len(reply):
            err = self.plan.get('recv_err')
            if err is not None:
                raise OSError(err)
            return b''
        chunk = self.plan.get('reply_chunk', n)
        piece = reply[self.replied:self.replied + min(n, chunk)]
        self.replied += len(piece)
        return piece

    def close(self):
        self.closed = True


class FakeSock(_BaseSock):
    def send(self, data):
        return self._send(data)

    def recv(self, n):
        return self._recv(n)


class FakeStream(_BaseSock):
    def write(self, data):
        return self._send(data)

    def read(self, n):
        return self._recv(n)


class FakeNet:
    """A usocket-like module.  plans: one dict per connection (default: answer 200)."""
    SOCK_STREAM = 1

    def __init__(self, plans=None, stream=False, dns_err=None, clock=None):
        self.plans = list(plans or [])
        self.stream = stream
        self.dns_err = dns_err
        self.clock = clock
        self.lookups = []
        self.connects = []
        self.sockets = []

    def getaddrinfo(self, host, port, af=0, type=0):
        self.lookups.append((host, port))
        if self.dns_err is not None:
            raise OSError(self.dns_err)
        return [(2, 1, 0, '', (host, port))]

    def socket(self, af=2, type=1, proto=0):
        plan = self.plans.pop(0) if self.plans else {'reply': OK_REPLY}
        sock = (FakeStream if self.stream else FakeSock)(self, plan)
        self.sockets.append(sock)
        return sock


def split_request(raw):
    head, body = raw.split(b'\r\n\r\n', 1)
    lines = head.decode().split('\r\n')
    headers = {}
    for line in lines[1:]:
        k, v = line.split(':', 1)
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def rec(i, **extra):
    r = {'created': WALL0 + i * 30000, 'd1': 10 + i, 'd2': 0.5, 'd3': 100 + i, 'd4': 2000 + i}
    for k in extra:
        r[k] = extra[k]
    return r


def raises(fn, exc=AmbientError):
    try:
        fn()
    except exc as e:
        return e
    raise AssertionError('no %s raised' % exc.__name__)


# -- encode_record ----------------------------------------------------------------------------

def test_encode_record_is_compact_json_in_fixed_order():
    line = encode_record({'d2': 1.5, 'created': WALL0, 'd1': 3, 'd5': None})
    assert line == b'{"created":1700000000000,"d1":3,"d2":1.5}'
    assert json.loads(line) == {'created': WALL0, 'd1': 3, 'd2': 1.5}


def test_encode_record_refuses_what_json_or_ambient_cannot_take():
    bad = [
        {'created': WALL0, 'd1': float('nan')},
        {'created': WALL0, 'd1': float('inf')},
        {'created': WALL0, 'd1': True},
        {'created': WALL0, 'd1': '3'},
        {'created': WALL0, 'd9': 1},
        {'created': WALL0},
        {'created': WALL0, 'lat': 35.0},
        {'created': 946684800000, 'd1': 1},      # 2000-01-01: an unset ESP32 clock
        {'created': 1.7e12, 'd1': 1},
        'not a dict',
    ]
    for r in bad:
        e = raises(lambda: encode_record(r, True))
        assert e.stage == 'record'
    assert raises(lambda: encode_record({'d1': 1}, True)).stage == 'record'
    assert encode_record({'d1': 1}) == b'{"d1":1}'
    assert json.loads(encode_record({'created': WALL0, 'd1': 1, 'cmnt': 'a"b'}))['cmnt'] == 'a"b'


# -- the HTTP client --------------------------------------------------------------------------

def test_request_is_http_post_with_json_body_and_content_length():
    net = FakeNet()
    amb = Ambient(12345, KEY, socket_module=net)
    resp = amb.send([rec(0), rec(1)])
    assert resp.status_code == 200
    assert resp.text == 'OK'
    sock = net.sockets[0]
    assert sock.closed
    request_line, headers, body = split_request(sock.sent)
    assert request_line == 'POST /api/v2/channels/12345/dataarray HTTP/1.0'
    assert headers['host'] == 'ambidata.io'
    assert headers['content-type'] == 'application/json'
    assert int(headers['content-length']) == len(body)
    doc = json.loads(body)
    assert doc['writeKey'] == KEY
    assert doc['data'] == [rec(0), rec(1)]
    assert net.lookups == [('ambidata.io', 80)]
    assert net.connects == [('ambidata.io', 80)]


def test_a_single_record_is_sent_as_a_one_element_array():
    net = FakeNet()
    Ambient('7', KEY, socket_module=net).send(rec(3))
    _, headers, body = split_request(net.sockets[0].sent)
    assert json.loads(body) == {'writeKey': KEY, 'data': [rec(3)]}


def test_url_with_port_and_path_prefix():
    net = FakeNet()
    Ambient(9, KEY, url='http://127.0.0.1:8080/amb/', socket_module=net).send(rec(0))
    request_line, headers, _ = split_request(net.sockets[0].sent)
    assert request_line == 'POST /amb/api/v2/channels/9/dataarray HTTP/1.0'
    assert headers['host'] == '127.0.0.1:8080'
    assert net.lookups == [('127.0.0.1', 8080)]


def test_bad_configuration_raises_own_error():
    net = FakeNet()
    assert raises(lambda: Ambient(1, KEY)).stage == 'config'
    assert raises(lambda: Ambient(1, KEY, url='https://ambidata.io', socket_module=net)).stage == 'config'
    assert raises(lambda: Ambient(1, KEY, url='http://h:x', socket_module=net)).stage == 'config'
    assert raises(lambda: Ambient(1, '', socket_module=net)).stage == 'config'


def test_large_batch_is_sent_in_bounded_pieces():
    net = FakeNet()
    amb = Ambient(1, KEY, socket_module=net)
    amb.send([rec(i) for i in range(40)])
    sends = [op[1] for op in net.sockets[0].ops if op[0] == 'send']
    assert len(sends) > 1
    for n in sends:
        assert n < ambient.OUT_CHUNK + 100
    _, headers, body = split_request(net.sockets[0].sent)
    assert int(headers['content-length']) == len(body)
    assert [r['created'] for r in json.loads(body)['data']] == [rec(i)['created'] for i in range(40)]


def test_partial_sends_are_continued():
    net = FakeNet([{'reply': OK_REPLY, 'send_chunk': 7}])
    assert Ambient(1, KEY, socket_module=net).send(rec(0)).status_code == 200
    _, headers, body = split_request(net.sockets[0].sent)
    assert json.loads(body)['data'] == [rec(0)]


def test_status_line_parsing():
    cases = [
        (b'HTTP/1.0 500 Internal Server Error\r\n\r\n', 500, 'Internal Server Error'),
        (b'HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n', 429, 'Too Many Requests'),
        (b'HTTP/1.1 200\r\n\r\n', 200, ''),
        (b'HTTP/1.1 403 Forbidden\n\n', 403, 'Forbidden'),
    ]
    for reply, code, reason in cases:
        net = FakeNet([{'reply': reply}])
        resp = Ambient(1, KEY, socket_module=net).send(rec(0))
        assert resp.status_code == code
        assert resp.reason == reason
    # one byte per recv: the status line is still found (recv calls are bounded, so short)
    net = FakeNet([{'reply': b'HTTP/1.1 201 Created\r\n\r\n', 'reply_chunk': 3}])
    assert Ambient(1, KEY, socket_module=net).send(rec(0)).status_code == 201


def test_unreadable_or_missing_answer_is_an_ambiguous_error():
    for plan in ({'reply': b'hello there\r\n'}, {'reply': b'HTTP/1.1 abc\r\n'},
                 {'reply': b'HTTP/1.1 999 What\r\n'}, {'reply': b''},
                 {'reply': b'HTTP/1.1 20'}):
        net = FakeNet([plan])
        e = raises(lambda: Ambient(1, KEY, socket_module=net).send(rec(0)))
        assert e.sent, plan
        assert e.stage in ('http', 'recv')
        assert net.sockets[0].closed


def test_answer_is_read_within_a_bound():
    big = b'HTTP/1.1 200 OK\r\n\r\n' + b'x' * 5000
    net = FakeNet([{'reply': big}])
    resp = Ambient(1, KEY, socket_module=net).send(rec(0))
    assert resp.status_code == 200
    received = sum(op[1] for op in net.sockets[0].ops if op[0] == 'recv')
    assert net.sockets[0].replied <= ambient.MAX_RESPONSE
    assert received <= ambient.MAX_RESPONSE + 256
    assert len(resp.text) < ambient.MAX_RESPONSE


def test_timeout_is_set_before_every_socket_operation():
    for stream in (False, True):
        net = FakeNet(stream=stream)
        Ambient(1, KEY, socket_module=net, timeout=3).send([rec(0), rec(1)])
        ops = net.sockets[0].ops
        assert ops[0][0] == 'settimeout'
        last = None
        for op in ops:
            if op[0] == 'settimeout':
                last = op[1]
                assert 0 < last <= 3
            else:
                assert last is not None
        assert [op[0] for op in ops if op[0] != 'settimeout'][0] == 'connect'
        assert 'recv' in [op[0] for op in ops]


def test_stream_sockets_with_write_and_read_work():
    net = FakeNet(stream=True)
    resp = Ambient(1, KEY, socket_module=net).send(rec(0))
    assert resp.status_code == 200
    assert json.loads(split_request(net.sockets[0].sent)[2])['data'] == [rec(0)]


def test_clock_deadline_bounds_the_whole_exchange():
    clock = FakeClock(1000)
    # The server dribbles one byte per recv, each taking 1.5 s: the 5 s budget runs out first.
    net = FakeNet([{'reply': b'HTTP/1.1 200 OK\r\n\r\n', 'reply_chunk': 1, 'recv_advance': 1500}],
                  clock=clock)
    e = raises(lambda: Ambient(1, KEY, socket_module=net, timeout=5, clock=clock).send(rec(0)))
    assert e.stage == 'recv' and e.sent
    sock = net.sockets[0]
    assert sock.closed
    assert len([op for op in sock.ops if op[0] == 'recv']) <= 4
    # each settimeout never exceeded what was left of the budget
    for op in sock.ops:
        if op[0] == 'settimeout':
            assert op[1] <= 5


def test_connect_refused_is_definite_and_forgets_the_address():
    net = FakeNet([{'connect_err': 111}, {'reply': OK_REPLY}])
    amb = Ambient(1, KEY, socket_module=net)
    e = raises(lambda: amb.send(rec(0)))
    assert e.stage == 'connect' and not e.sent and e.errno == 111
    assert net.sockets[0].closed
    assert amb.send(rec(0)).status_code == 200
    assert len(net.lookups) == 2        # resolved again after the failed connect
    amb.send(rec(1))
    assert len(net.lookups) == 2        # and kept after a success


def test_dns_failure():
    net = FakeNet(dns_err=-202)
    e = raises(lambda: Ambient(1, KEY, socket_module=net).send(rec(0)))
    assert e.stage == 'dns' and not e.sent
    assert net.sockets == []


def test_send_failure_before_the_end_is_not_ambiguous():
    net = FakeNet([{'send_err_after': 30}])
    e = raises(lambda: Ambient(1, KEY, socket_module=net).send(rec(0)))
    assert e.stage == 'send' and not e.sent
    assert net.sockets[0].closed


def test_timeout_after_the_request_went_out_is_ambiguous():
    net = FakeNet([{'recv_err': 110}])
    e = raises(lambda: Ambient(1, KEY, socket_module=net).send(rec(0)))
    assert e.stage == 'recv' and e.sent and e.errno == 110
    assert 'timeout' in str(e)


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
    POLLIN = 1
    POLLOUT = 4
    POLLERR = 8
    POLLHUP = 16

    def __init__(self, results):
        self.results = list(results)
        self.waits = []

    def poll(self):
        return FakePoller(self)


def test_polled_connect_for_micropython_1_11():
    # connect() raises EINPROGRESS (119 on the ESP32), poll says writable: connected.
    net = FakeNet([{'connect_err': 119, 'reply': OK_REPLY}])
    sel = FakeSelect([4])
    resp = Ambient(1, KEY, socket_module=net, select_module=sel, timeout=4).send(rec(0))
    assert resp.status_code == 200
    ops = net.sockets[0].ops
    assert ops[0] == ('settimeout', 0)
    assert sel.waits == [4000]
    assert ops[2][0] == 'settimeout' and ops[2][1] > 0
    # poll times out: a definite connect failure, nothing sent
    net = FakeNet([{'connect_err': 119}])
    e = raises(lambda: Ambient(1, KEY, socket_module=net, select_module=FakeSelect([0])).send(rec(0)))
    assert e.stage == 'connect' and not e.sent and 'timeout' in str(e)
    assert net.sockets[0].sent == b'' and net.sockets[0].closed
    # poll reports an error: refused
    net = FakeNet([{'connect_err': 119}])
    e = raises(lambda: Ambient(1, KEY, socket_module=net, select_module=FakeSelect([4 | 8])).send(rec(0)))
    assert e.stage == 'connect' and not e.sent


def test_write_key_never_in_errors_or_repr():
    plans = [{'connect_err': 111}, {'send_err_after': 10}, {'send_err_after': 60},
             {'recv_err': 110}, {'reply': b'garbage\r\n'}, {'reply': b''}]
    for plan in plans:
        net = FakeNet([plan])
        amb = Ambient(1, KEY, socket_module=net)
        e = raises(lambda: amb.send(rec(0)))
        for text in (str(e), repr(e), repr(amb), str(e.args)):
            assert KEY not in text
            assert KEY.lower() not in text.lower()
    e = raises(lambda: Ambient(1, KEY, socket_module=FakeNet(dns_err=-2)).send(rec(0)))
    assert KEY not in str(e) and KEY not in repr(e)
    e = raises(lambda: Ambient(1, KEY, url='https://x', socket_module=FakeNet()))
    assert KEY not in str(e)


# -- the queue ----------------------------------------------------------------------------------

class Resp:
    def __init__(self, code):
        self.status_code = code
        self.text = ''


class FakeClient:
    """Plays the server.  outcomes: a list, one per call (default 200):
    int status (2xx stores), 'refused' (nothing stored, definite), 'lost' (stored, then the
    answer is lost: ambiguous), 'silent' (not stored, ambiguous), 'boom' (a non-Ambient error).
    `took`: ms the clock moves during each call."""

    def __init__(self, clock, outcomes=None, took=0):
        self.clock = clock
        self.outcomes = list(outcomes or [])
        self.took = took
        self.calls = []        # (start ticks, end ticks, [created, ...])
        self.stored = []       # records the server kept, in arrival order

    def send_encoded(self, lines):
        start = self.clock.t
        self.clock.t += self.took
        recs = [json.loads(line) for line in lines]
        self.calls.append((start, self.clock.t, [r['created'] for r in recs]))
        outcome = self.outcomes.pop(0) if self.outcomes else 200
        if outcome == 'refused':
            raise AmbientError('connect', 'errno 111', False, 111)
        if outcome == 'lost':
            self.stored.extend(recs)
            raise AmbientError('recv', 'timeout', True, 110)
        if outcome == 'silent':
            raise AmbientError('recv', 'timeout', True, 110)
        if outcome == 'boom':
            raise OSError(12)
        if 200 <= outcome < 300:
            self.stored.extend(recs)
        return Resp(outcome)


class FakeFile:
    def __init__(self, fs, name, data, writable):
        self.fs = fs
        self.name = name
        self.data = data
        self.pos = 0
        self.writable = writable

    def read(self, n=-1):
        end = len(self.data) if n is None or n < 0 else min(len(self.data), self.pos + n)
        out = bytes(self.data[self.pos:end])
        self.pos = end
        return out

    def readline(self, n=-1):
        nl = self.data.find(b'\n', self.pos)
        end = len(self.data) if nl < 0 else nl + 1
        if n is not None and n >= 0:
            end = min(end, self.pos + n)
        out = bytes(self.data[self.pos:end])
        self.pos = end
        return out

    def seek(self, off):
        self.pos = off

    def write(self, b):
        if self.fs.fail_writes:
            raise OSError(28)
        self.fs.write_calls += 1
        self.data.extend(b)
        return len(b)

    def close(self):
        pass


class FakeFS:
    """file_ops: in-memory files; counts opens for writing per file."""

    def __init__(self):
        self.files = {}
        self.write_opens = []      # names opened with 'wb' / 'ab', in order
        self.write_calls = 0
        self.fail_writes = False

    def open(self, name, mode):
        if 'r' in mode:
            if name not in self.files:
                raise OSError(2)
            return FakeFile(self, name, self.files[name], False)
        if self.fail_writes:
            raise OSError(28)
        self.write_opens.append(name)
        if 'w' in mode or name not in self.files:
            self.files[name] = bytearray()
        return FakeFile(self, name, self.files[name], True)

    def remove(self, name):
        if name not in self.files:
            raise OSError(2)
        del self.files[name]

    def segment_opens(self):
        return [n for n in self.write_opens if not n.endswith('.pos')]


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


def test_queue_sends_oldest_first_in_bulk_batches_with_created_kept():
    clock = FakeClock()
    client = FakeClient(clock)
    q = AmbientQueue(client, clock, batch_max=20, ram_limit=50)
    for i in range(45):
        assert q.add(rec(i))
    assert q.generated == 45 and q.queued == 45
    run(q, clock, 60)
    assert [len(c[2]) for c in client.calls] == [20, 20, 5]
    assert [r['created'] for r in client.stored] == [rec(i)['created'] for i in range(45)]
    assert client.stored == [rec(i) for i in range(45)]
    assert q.sent == 45 and q.queued == 0 and q.failures == 0
    check_books(q)


def test_sends_are_at_least_5s_apart_even_when_slow_or_configured_faster():
    clock = FakeClock()
    client = FakeClient(clock, took=1700)
    q = AmbientQueue(client, clock, batch_max=2, min_interval_ms=1000)
    for i in range(20):
        q.add(rec(i))
    results = run(q, clock, 120, step_ms=100)
    assert q.sent == 20
    assert 'wait' in results
    for a, b in zip(client.calls, client.calls[1:]):
        assert b[0] - a[1] >= 5000        # from the end of one request to the start of the next


def test_nothing_to_send_is_idle_and_cheap():
    clock = FakeClock()
    client = FakeClient(clock)
    q = AmbientQueue(client, clock)
    assert q.service(WALL0) == 'idle'
    assert client.calls == []


def test_daily_cap_holds_in_every_24_hours():
    clock = FakeClock()
    client = FakeClient(clock)
    q = AmbientQueue(client, clock, batch_max=4, daily_limit=10)
    for i in range(30):
        q.add(rec(i))
    results = run(q, clock, 3600, step_ms=5000)
    assert q.sent == 10
    assert [len(c[2]) for c in client.calls] == [4, 4, 2]
    assert results[-1] == 'cap'
    # 23 hours later: still inside the same 24 hours
    clock.t += 22 * 3600 * 1000
    assert q.service(WALL0 + clock.t) == 'cap'
    run(q, clock, 3600 * 2, step_ms=5000)
    assert q.sent == 20
    # Every 24 hours starting on a whole hour (a calendar day in UTC, JST or any whole-hour
    # zone) holds at most daily_limit records.
    times = []
    for c in client.calls:
        times.extend([WALL0 + c[0]] * len(c[2]))
    hour = 3600 * 1000
    first = (times[0] // hour - 24) * hour
    start = first
    while start <= times[-1]:
        assert len([t for t in times if start <= t < start + 24 * hour]) <= 10
        start += hour


def test_ambiguous_records_count_against_the_daily_cap():
    clock = FakeClock()
    client = FakeClient(clock, outcomes=['lost'])
    q = AmbientQueue(client, clock, batch_max=5, daily_limit=6, backoff_min_ms=5000)
    for i in range(10):
        q.add(rec(i))
    run(q, clock, 600, step_ms=1000)
    assert q.duplicates_possible == 5
    assert q.sent == 1                   # 5 possibly stored + 1 probe = 6 = the cap
    assert q.sent_last_24h() == 6


def test_wifi_down_means_no_attempt():
    clock = FakeClock()
    client = FakeClient(clock)
    up = [False]
    q = AmbientQueue(client, clock, wifi_ok=lambda: up[0])
    q.add(rec(0))
    assert q.service(WALL0) == 'offline'
    assert client.calls == [] and q.failures == 0
    up[0] = True
    assert q.service(WALL0) == 'sent'


def test_no_wall_time_yet_means_wait():
    clock = FakeClock()
    client = FakeClient(clock)
    q = AmbientQueue(client, clock)
    q.add(rec(0))
    assert q.service(None) == 'notime'
    assert q.service(WALL0) == 'sent'
    q.add(rec(1))
    clock.t += 6000
    assert q.service(None) == 'sent'     # carried on from the last wall time by ticks


def test_ram_bound_spills_to_flash_in_chunks_and_reads_back_in_order():
    clock = FakeClock()
    client = FakeClient(clock)
    fs = FakeFS()
    q = AmbientQueue(client, clock, store_path='/flash/amb', ram_limit=10, file_limit=200,
                     file_ops=fs, wifi_ok=lambda: False)
    for i in range(55):
        q.add(rec(i))
    assert q.in_ram == 5 and q.in_file == 50 and q.queued == 55
    assert len(fs.segment_opens()) == 5          # one write per chunk of 10, not per record
    assert q.spill_writes == 5
    assert fs.write_calls == 5 * 10 * 2          # (a record line and its newline) x 10, per chunk
    q.wifi_ok = None
    run(q, clock, 60)
    assert client.stored == [rec(i) for i in range(55)]
    assert q.sent == 55 and q.queued == 0
    assert fs.files == {}                        # segments and the position file are gone
    check_books(q)


def test_records_added_while_draining_the_file_stay_in_order():
    clock = FakeClock()
    client = FakeClient(clock)
    fs = FakeFS()
    q = AmbientQueue(client, clock, store_path='s', ram_limit=4, file_limit=100, file_ops=fs,
                     batch_max=3, wifi_ok=lambda: False)
    n = 0
    for _ in range(13):
        q.add(rec(n))
        n += 1
    q.wifi_ok = None
    for _ in range(40):
        q.add(rec(n))
        n += 1
        run(q, clock, 5)
    run(q, clock, 300)
    assert [r['created'] for r in client.stored] == [rec(i)['created'] for i in range(n)]
    check_books(q)


def test_spilled_records_survive_a_restart_without_resending():
    clock = FakeClock()
    fs = FakeFS()
    client = FakeClient(clock)
    q = AmbientQueue(client, clock, store_path='s', ram_limit=5, file_limit=100, file_ops=fs,
                     batch_max=4, wifi_ok=lambda: False)
    for i in range(23):
        q.add(rec(i))
    assert q.flush() == 3 and q.in_ram == 0 and q.in_file == 23
    q.wifi_ok = None
    run(q, clock, 10)                            # two batches of 4 go out
    assert len(client.stored) == 8
    # power cut; a new queue on the same flash
    client2 = FakeClient(clock)
    q2 = AmbientQueue(client2, clock, store_path='s', ram_limit=5, file_limit=100, file_ops=fs,
                      batch_max=4)
    assert q2.restored == 15 and q2.queued == 15
    q2.add(rec(23))
    run(q2, clock, 60)
    assert client.stored + client2.stored == [rec(i) for i in range(24)]
    assert fs.files == {}


def test_restart_finds_segments_after_a_removed_head():
    clock = FakeClock()
    fs = FakeFS()
    q = AmbientQueue(FakeClient(clock), clock, store_path='s', ram_limit=2, file_limit=8,
                     segments=4, file_ops=fs, wifi_ok=lambda: False)
    for i in range(9):
        q.add(rec(i))
    # 8 spilled in segments of 2, then RAM holds one.  Lose segment 0 by hand, keep no .pos
    del fs.files['s.0']
    client = FakeClient(clock)
    q2 = AmbientQueue(client, clock, store_path='s', ram_limit=2, file_limit=8, file_ops=fs)
    assert q2.restored == 6
    run(q2, clock, 60)
    assert client.stored == [rec(i) for i in range(2, 8)]


def test_overflow_of_the_file_drops_the_oldest_and_counts():
    clock = FakeClock()
    client = FakeClient(clock)
    fs = FakeFS()
    q = AmbientQueue(client, clock, store_path='s', ram_limit=5, file_limit=20, file_ops=fs,
                     wifi_ok=lambda: False)
    for i in range(60):
        q.add(rec(i))
    assert q.in_file <= 20 and q.in_ram <= 5
    assert q.dropped == 60 - q.queued
    check_books(q)
    kept = q.queued
    q.wifi_ok = None
    run(q, clock, 120)
    assert client.stored == [rec(i) for i in range(60 - kept, 60)]
    assert q.sent == kept


def test_without_a_store_ram_overflow_drops_the_oldest():
    clock = FakeClock()
    client = FakeClient(clock)
    q = AmbientQueue(client, clock, ram_limit=10, wifi_ok=lambda: False)
    for i in range(25):
        q.add(rec(i))
    assert q.queued == 10 and q.dropped == 15
    q.wifi_ok = None
    run(q, clock, 30)
    assert client.stored == [rec(i) for i in range(15, 25)]
    check_books(q)


def test_flash_write_failure_keeps_ram_bounded():
    clock = FakeClock()
    client = FakeClient(clock)
    fs = FakeFS()
    fs.fail_writes = True
    q = AmbientQueue(client, clock, store_path='s', ram_limit=6, file_ops=fs, wifi_ok=lambda: False)
    for i in range(20):
        q.add(rec(i))
    assert q.in_ram == 6 and q.in_file == 0 and q.dropped == 14
    assert q.last_error == 'flash write failed'
    fs.fail_writes = False
    q.wifi_ok = None
    run(q, clock, 30)
    assert client.stored == [rec(i) for i in range(14, 20)]


def test_unreadable_lines_on_flash_are_skipped_and_counted():
    clock = FakeClock()
    client = FakeClient(clock)
    fs = FakeFS()
    q = AmbientQueue(client, clock, store_path='s', ram_limit=5, file_limit=50, file_ops=fs,
                     wifi_ok=lambda: False)
    for i in range(11):
        q.add(rec(i))
    seg = fs.files['s.0']
    lines = bytes(seg).split(b'\n')
    lines[1] = b'{"created":17000'             # torn record
    lines[3] = b'x' * 1000                      # overlong junk
    fs.files['s.0'] = bytearray(b'\n'.join(lines))
    q.wifi_ok = None
    run(q, clock, 60)
    expect = [rec(i) for i in range(11) if i not in (1, 3)]
    assert client.stored == expect
    assert q.dropped == 2
    check_books(q)


def test_4xx_drops_the_batch_and_429_keeps_it():
    clock = FakeClock()
    logs = []
    client = FakeClient(clock, outcomes=[400, 429, 200])
    q = AmbientQueue(client, clock, batch_max=3, log=logs.append)
    for i in range(6):
        q.add(rec(i))
    run(q, clock, 200)
    assert q.rejected == 3 and q.dropped == 3
    assert client.stored == [rec(i) for i in range(3, 6)]
    assert [c[2] for c in client.calls][1] == [c[2] for c in client.calls][2]   # 429: same batch again
    assert q.failures == 2 and q.last_status == 200
    assert [line for line in logs if 'HTTP 400' in line]
    check_books(q)


def test_5xx_and_network_failures_keep_records_and_back_off_exponentially():
    clock = FakeClock()
    client = FakeClient(clock, outcomes=[500, 'refused', 503, 'refused', 'refused', 'refused', 200])
    q = AmbientQueue(client, clock, backoff_min_ms=10000, backoff_max_ms=60000)
    for i in range(3):
        q.add(rec(i))
    run(q, clock, 600, step_ms=500)
    starts = [c[0] for c in client.calls]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == [10000, 20000, 40000, 60000, 60000, 60000]
    assert q.failures == 6 and q.sent == 3 and q.duplicates_possible == 0
    assert client.stored == [rec(i) for i in range(3)]
    assert q.stats()['backoff_ms'] == 0


def test_ambiguous_failure_resends_with_bounded_duplicates():
    clock = FakeClock()
    client = FakeClient(clock, outcomes=['lost', 'lost', 'silent', 200, 200, 200])
    q = AmbientQueue(client, clock, batch_max=10, backoff_min_ms=5000)
    for i in range(25):
        q.add(rec(i))
    run(q, clock, 600)
    sizes = [len(c[2]) for c in client.calls]
    assert sizes[:4] == [10, 1, 1, 1]         # after an unknown outcome: one record at a time
    assert sizes[4] == 10                     # back to full batches after a success
    assert q.duplicates_possible == 10 + 1 + 1
    assert q.sent == 25 and q.queued == 0
    created = [r['created'] for r in client.stored]
    distinct = []
    for c in created:
        if c not in distinct:
            distinct.append(c)
    assert distinct == [rec(i)['created'] for i in range(25)]       # nothing lost, in order
    assert len(created) - len(distinct) <= q.duplicates_possible   # duplicates within the bound
    assert len(created) - len(distinct) == 11


def test_unexpected_client_error_is_treated_as_ambiguous():
    clock = FakeClock()
    client = FakeClient(clock, outcomes=['boom'])
    q = AmbientQueue(client, clock)
    q.add(rec(0))
    assert q.service(WALL0) == 'ambiguous'
    assert q.queued == 1 and q.duplicates_possible == 1
    run(q, clock, 60)
    assert q.sent == 1


def test_invalid_records_are_counted_not_queued():
    clock = FakeClock()
    q = AmbientQueue(FakeClient(clock), clock)
    assert not q.add({'d1': 1})
    assert not q.add({'created': WALL0, 'd1': float('nan')})
    assert q.invalid == 2 and q.generated == 0 and q.queued == 0


def test_stats_have_the_diagnostics_counters():
    clock = FakeClock()
    q = AmbientQueue(FakeClient(clock, outcomes=['refused']), clock)
    q.add(rec(0))
    q.service(WALL0)
    s = q.stats()
    for k in ('generated', 'sent', 'queued', 'dropped', 'duplicates_possible', 'failures',
              'last_error'):
        assert k in s
    assert s['failures'] == 1 and s['queued'] == 1 and s['last_error'] == 'connect: errno 111'
    assert s['backoff_ms'] == 10000


def test_queue_with_real_client_over_fake_network_keeps_key_out_of_logs():
    clock = FakeClock()
    net = FakeNet([{'connect_err': 111}, {'recv_err': 110}, {'reply': b'HTTP/1.0 500 Oops\r\n\r\n'},
                   {'reply': b'HTTP/1.0 403 Forbidden\r\n\r\n'}], clock=clock)
    logs = []
    amb = Ambient(5, KEY, socket_module=net, clock=clock)
    q = AmbientQueue(amb, clock, batch_max=2, log=logs.append, backoff_min_ms=5000)
    for i in range(5):
        q.add(rec(i))
    run(q, clock, 600)
    # [0,1] refused; [0,1] timed out after sending (ambiguous); then one at a time:
    # [0] 500, [0] 403 (dropped), [1] ok, then [2,3], [4]
    assert q.sent == 4 and q.rejected == 1 and q.duplicates_possible == 2
    assert q.failures == 4
    assert logs
    for line in logs:
        assert KEY not in line
    assert KEY not in str(q.stats())
    for sock in net.sockets:
        assert sock.closed
        assert sock.ops[0][0] == 'settimeout'


def _clean(prefix):
    try:
        import uos as os_
    except ImportError:
        import os as os_
    for suffix in ('.pos', '.0', '.1', '.2', '.3', '.4', '.5', '.6', '.7', '.8'):
        try:
            os_.remove(prefix + suffix)
        except OSError:
            pass
    names = []
    for name in os_.listdir('/tmp'):
        if ('/tmp/' + name).startswith(prefix):
            names.append(name)
    return names


def test_real_files_spill_restart_and_drain():
    # The default FileOps on the interpreter's own files (MicroPython's 'ab', seek, readline(n)).
    prefix = '/tmp/smartmeter_ambient_test'
    _clean(prefix)
    clock = FakeClock()
    q = AmbientQueue(FakeClient(clock), clock, store_path=prefix, ram_limit=4, file_limit=12,
                     segments=3, wifi_ok=lambda: False)
    for i in range(15):
        q.add(rec(i))
    q.flush()
    assert q.in_file == 12 and q.dropped == 3
    client = FakeClient(clock)
    q2 = AmbientQueue(client, clock, store_path=prefix, ram_limit=4, file_limit=12, segments=3,
                      batch_max=5)
    assert q2.restored == 12
    # flush() made room by dropping 3 of segment 0's 4 records: the first batch is the one left
    # there (a batch never spans two segment files), the next a full one from segment 1.
    run(q2, clock, 6)
    assert [len(c[2]) for c in client.calls] == [1, 4]
    client2 = FakeClient(clock)
    q3 = AmbientQueue(client2, clock, store_path=prefix, ram_limit=4, file_limit=12, segments=3,
                      batch_max=5)
    assert q3.restored == 7
    run(q3, clock, 60)
    assert client.stored + client2.stored == [rec(i) for i in range(3, 15)]
    assert _clean(prefix) == []


class WrapClock(FakeClock):
    """ticks as on the ESP32: they wrap at 2^30 ms; ticks_diff is right within half of that."""

    def ticks_ms(self):
        return self.t & 0x3FFFFFFF

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def ticks_add(self, a, d):
        return (a + d) & 0x3FFFFFFF


def test_a_queue_left_empty_for_days_sends_at_once_after_the_ticks_wrap():
    clock = WrapClock()
    client = FakeClient(clock)
    q = AmbientQueue(client, clock)
    q.add(rec(0))
    assert q.service(WALL0) == 'sent'
    for _ in range(10):                      # the app calls service every loop
        clock.t += 1000
        q.service(None)
    clock.t += 9 * 86400 * 1000              # nine quiet days: past half the ticks period
    for _ in range(5):
        clock.t += 1000
        q.service(None)
    q.add(rec(1))
    assert q.service(WALL0 + clock.t) == 'sent'
