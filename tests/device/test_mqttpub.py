"""lib/mqttpub.py against a fake socket module (bytes in, bytes out) whose sockets answer like a
broker: the MQTT 3.1.1 packets on the wire, CONNACK codes, discovery and state payloads, Home
Assistant's "online", back-off, keepalive, timeouts and partial reads, malformed input, secrets.
Plain asserts; runs under CPython (pytest) and MicroPython."""
try:
    import ujson as json
except ImportError:
    import json

import log
import mqttpub

SECRET = 'pa55-W0rd-xyz'
CONFIG = {'host': '192.0.2.10', 'port': 1883, 'user': 'meter', 'password': SECRET,
          'client_id': None, 'topic_prefix': 'smartmeter', 'discovery_prefix': 'homeassistant',
          'tls': False}
FULL_STATE = {'power_w': 1234, 'current_r_a': 12.34, 'current_t_a': 3.0, 'import_kwh': 4321.5,
              'export_kwh': None, 'period_kwh': 123.456, 'period_yen': 4567.891,
              'period_start': '2026-11-05', 'lqi': 90, 'rssi': -60,
              'timestamp': 1795618800}  # 2026-11-25 15:00:00 UTC = 2026-11-26 00:00:00 JST
OBJECTS = ['current_r', 'current_t', 'energy_import', 'lqi', 'period_cost', 'period_energy', 'power']
AVAIL = 'smartmeter/dev1/availability'
STATE = 'smartmeter/dev1/state'
SUBSCRIBE = b'\x82\x19\x00\x01\x00\x14homeassistant/status\x00'


def values(doc):
    """A state dict as the tuple MqttPublisher.publish_state() takes (mqttpub.STATE's order)."""
    return tuple([doc.get(k) for k in mqttpub.STATE.split()])


# -- MQTT as the spec writes it (independent of the module under test) -------------------------

def varint(n):
    """Remaining length (MQTT 3.1.1, 2.2.3): 7 bits a byte, least significant first."""
    out = bytearray()
    while True:
        digit = n % 128
        n = n // 128
        out.append(digit + 128 if n else digit)
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def utf8(text):
    data = text.encode() if isinstance(text, str) else text
    return bytes([len(data) // 256, len(data) % 256]) + data


def decode(data):
    """bytes -> [(first byte, body, raw packet)]; fails on a truncated stream."""
    out = []
    i = 0
    while i < len(data):
        start = i
        first = data[i]
        n = 0
        mult = 1
        while True:
            i += 1
            n += (data[i] & 127) * mult
            mult *= 128
            if data[i] < 128:
                break
        i += 1
        assert i + n <= len(data), 'truncated packet'
        out.append((first, data[i:i + n], data[start:i + n]))
        i += n
    return out


def take_string(body, i):
    n = body[i] * 256 + body[i + 1]
    return body[i + 2:i + 2 + n], i + 2 + n


def publish_packet(topic, payload, qos=0, retain=False):
    body = utf8(topic) + (b'\x00\x07' if qos else b'') + payload
    return packet(0x30 | qos << 1 | (1 if retain else 0), body)


# -- fakes ------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, d):
        return a + d


class Sock:
    """One TCP connection.  What the client writes is kept in `out` and answered like a broker
    (CONNACK, SUBACK, PINGRESP); `replies` are the bytes still to be read, one item per arrival
    (an exception item is raised, b'' is the end of the stream).  With nothing to read, read()
    returns None when non-blocking (settimeout(0)) and raises ETIMEDOUT otherwise, as on the device."""

    def __init__(self, net):
        self.net = net
        self.out = b''
        self.seen = 0
        self.replies = []
        self.timeout = None
        self.timeouts = []
        self.addr = None
        self.closed = False

    def settimeout(self, t):
        self.timeout = t
        self.timeouts.append(t)

    def connect(self, addr):
        self.addr = addr
        self.timeout_at_connect = self.timeout
        if self.net.connect_error is not None:
            raise self.net.connect_error

    def arrive(self, data):
        step = self.net.chunk or len(data) or 1
        for i in range(0, len(data), step):
            self.replies.append(data[i:i + step])

    def write(self, data):
        assert not self.closed
        if self.net.write_error is not None:
            raise self.net.write_error
        self.out += bytes(data)
        for first, body, raw in decode(self.out[self.seen:]):
            self.seen += len(raw)
            answer = self.net.connack
            if first == 0x10 and answer is not None:
                self.arrive(answer if isinstance(answer, bytes) else bytes([0x20, 2, 0, answer]))
            elif first == 0x82:
                self.arrive(b'\x90\x03' + body[:2] + b'\x00')
            elif first == 0xC0 and self.net.pong:
                self.arrive(b'\xd0\x00')
        return len(data)

    def read(self, n):
        assert not self.closed
        if self.net.advance:
            self.net.clock.t += self.net.advance
        if not self.replies:
            if self.timeout == 0:
                return None
            raise OSError(110)
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        if len(item) > n:
            self.replies.insert(0, item[n:])
        return item[:n]

    def close(self):
        self.closed = True

    def packets(self):
        return decode(self.out)


class Net:
    """A usocket-like module."""

    def __init__(self, clock=None):
        self.clock = clock
        self.sockets = []
        self.lookups = []
        self.connect_error = None
        self.write_error = None
        self.connack = 0        # CONNACK return code, or the raw answer; None: no answer
        self.pong = True
        self.chunk = None       # replies arrive in pieces of this many bytes
        self.advance = 0        # ms the clock moves on every read

    def getaddrinfo(self, host, port):
        self.lookups.append((host, port))
        return [(2, 1, 0, '', (host, port))]

    def socket(self):
        s = Sock(self)
        self.sockets.append(s)
        return s

    @property
    def sock(self):
        return self.sockets[-1]


class Select:
    """A uselect-like module: poll() answers `events` (None: nothing within the timeout)."""
    POLLOUT = 4
    POLLERR = 8
    POLLHUP = 16

    def __init__(self, events):
        self.events = events
        self.waits = []

    def poll(self):
        sel = self

        class Poller:
            def register(self, obj, mask):
                assert mask == Select.POLLOUT
                self.obj = obj

            def poll(self, ms):
                sel.waits.append(ms)
                return [] if sel.events is None else [(self.obj, sel.events)]
        return Poller()


def make(config=None, select=None, ssl=None, **kw):
    clock = Clock()
    net = Net(clock)
    lines = []
    logger = log.Logger('mqtt', sink=lines.append)
    cfg = dict(CONFIG)
    cfg.update(config or {})
    pub = mqttpub.MqttPublisher(cfg, clock, net, select, ssl, logger,
                                kw.pop('device_id', 'dev1'), **kw)
    return pub, net, clock, lines


def publishes(net, topic=None):
    """[(topic, payload, retained)] written on every connection, in order."""
    out = []
    for s in net.sockets:
        for first, body, raw in s.packets():
            if first >> 4 == 3:
                assert first & 6 == 0, 'QoS 0 only'
                name, i = take_string(body, 0)
                if topic is None or name.decode() == topic:
                    out.append((name.decode(), body[i:], bool(first & 1)))
    return out


def configs(net):
    found = {}
    for t, payload, retained in publishes(net):
        if t.startswith('homeassistant/sensor/') and t.endswith('/config'):
            found[t.split('/')[3]] = (json.loads(payload), retained)
    return found


def close_to(a, b):
    return abs(a - b) < 1e-3


def last_state(net):
    return json.loads(publishes(net, STATE)[-1][1])


# -- the packets on the wire -----------------------------------------------------------------

def test_connect_packet_with_will_user_and_password_then_subscribe():
    pub, net, clock, lines = make()
    pub.service(0)
    assert pub.connected and pub.stats()['connects'] == 1
    s = net.sock
    assert net.lookups == [('192.0.2.10', 1883)] and s.addr == ('192.0.2.10', 1883)
    assert s.timeout_at_connect == 3     # no select module: connect() bounded by the socket timeout
    first, body, raw = s.packets()[0]
    assert first == 0x10
    expect = (b'\x00\x04MQTT\x04'        # protocol name and level 4 (3.1.1)
              + bytes([0x80 | 0x40 | 0x20 | 0x04 | 0x02])   # user, password, will retain, will, clean
              + b'\x00\x78'              # keepalive 120 s
              + utf8('smartmeter-dev1') + utf8(AVAIL) + utf8('offline') + utf8('meter') + utf8(SECRET))
    assert body == expect
    assert s.packets()[1][2] == SUBSCRIBE
    assert [p[0] for p in s.packets()[2:]] == [0x31] * 8
    assert ('connected to 192.0.2.10:1883' in lines[0]) and SECRET not in lines[0]


def test_connect_without_user_sends_no_password_and_takes_the_client_id():
    pub, net, clock, _ = make({'user': None, 'client_id': 'cid', 'port': 18830})
    pub.service(0)
    body = net.sock.packets()[0][1]
    assert body == b'\x00\x04MQTT\x04\x26\x00\x78' + utf8('cid') + utf8(AVAIL) + utf8('offline')
    assert net.sock.addr == ('192.0.2.10', 18830)
    pub2, net2, _, _ = make({'password': None})
    pub2.service(0)
    body = net2.sock.packets()[0][1]
    assert body[7] == 0x80 | 0x26 and body.endswith(utf8('meter'))


def test_publish_packets_retained_or_not_and_long_remaining_lengths():
    pub, net, clock, _ = make()
    pub.service(0)
    pkts = net.sock.packets()
    retained = [p for p in pkts if p[0] == 0x31]
    assert len(retained) == 8            # 7 discovery configs and "online"
    big = [p for p in retained if len(p[1]) > 127]
    assert len(big) == 7                 # the configs need two length bytes
    for first, body, raw in big:
        assert raw[1:3] == varint(len(body)) and raw[1] & 128 and len(raw) == 3 + len(body)
    assert retained[-1][2] == packet(0x31, utf8(AVAIL) + b'online')
    # a state past 16383 bytes needs three length bytes
    pub.publish_state(values({'power_w': 5, 'period_start': 'x' * 20000}))
    first, body, raw = net.sock.packets()[-1]
    assert first == 0x30 and raw[1:4] == varint(len(body)) and raw[3] < 128 and raw[2] & 128
    assert json.loads(body[2 + len(STATE):])['period_start'] == 'x' * 20000
    # 127 and 128 bytes: the boundary of the first length byte
    for n in (127, 128):
        pad = n - (2 + len(STATE)) - len('{"period_start": ""}')
        pub.publish_state(values({'period_start': 'y' * pad}))
        first, body, raw = net.sock.packets()[-1]
        assert raw[:len(varint(len(body))) + 1] == bytes([0x30]) + varint(len(body))
        assert len(body) == n and raw[1:] == varint(len(body)) + body


def test_pingreq_every_minute_and_the_back_off_resets_after_a_minute():
    pub, net, clock, _ = make()
    pub.service(0)
    n = len(net.sock.packets())
    pub.service(59999)
    assert len(net.sock.packets()) == n
    pub.service(60000)
    assert net.sock.packets()[-1][2] == b'\xc0\x00'
    pub.service(60001)                  # reads the PINGRESP
    assert pub.connected and not net.sock.replies
    pub.publish_state(values(FULL_STATE))       # traffic does not replace the ping: its answer proves the link
    pub.service(119999)
    assert [p[2] for p in net.sock.packets()].count(b'\xc0\x00') == 1
    pub.service(120000)
    assert [p[2] for p in net.sock.packets()].count(b'\xc0\x00') == 2
    assert pub.connected and pub.stats()['failures'] == 0


def test_no_answer_to_a_ping_drops_the_link():
    pub, net, clock, _ = make()
    pub.service(0)
    net.pong = False
    pub.service(60000)
    assert pub.connected
    pub.service(90000)
    assert pub.connected
    pub.service(120000)
    s = pub.stats()
    assert not s['connected'] and s['last_error'] == 'ping: timeout' and net.sock.closed


def test_close_sends_offline_and_disconnect_and_stops_reconnecting():
    pub, net, clock, _ = make()
    pub.service(0)
    pub.close()
    pkts = net.sock.packets()
    assert pkts[-2][2] == packet(0x31, utf8(AVAIL) + b'offline')
    assert pkts[-1][2] == b'\xe0\x00'
    assert net.sock.closed and not pub.connected
    pub.service(100000)
    assert len(net.sockets) == 1
    pub2, net2, _, _ = make()
    pub2.close()                        # never connected: nothing to say, and no connect later
    pub2.service(0)
    assert net2.sockets == []


# -- CONNACK and the connect path ---------------------------------------------------------------

def test_connack_return_codes_are_described():
    reasons = {1: 'unacceptable protocol version', 2: 'client id rejected', 3: 'server unavailable',
               4: 'bad user name or password', 5: 'not authorised', 9: '9'}
    for code in reasons:
        pub, net, clock, lines = make()
        net.connack = code
        pub.service(0)
        s = pub.stats()
        assert not s['connected'] and s['failures'] == 1 and s['connects'] == 0
        assert s['last_error'] == 'connect: refused: ' + reasons[code], s
        assert net.sock.closed and 'retry in 2 s' in lines[-1]
        assert len(net.sock.packets()) == 1  # CONNECT only: no SUBSCRIBE, nothing published


def test_a_malformed_connack_fails_the_connect():
    for answer in (b'\x30\x02\x00\x00', b'\x20\x03\x00\x00\x00'):
        pub, net, clock, _ = make()
        net.connack = answer
        pub.service(0)
        assert pub.stats()['last_error'] == 'connect: bad CONNACK' and not pub.connected
        assert net.sock.closed


def test_connect_polled_with_select():
    # connected within the timeout
    sel = Select(Select.POLLOUT)
    pub, net, clock, _ = make(select=sel)
    net.connect_error = OSError(115)     # EINPROGRESS
    pub.service(0)
    assert pub.connected and sel.waits == [3000]
    assert net.sock.timeout_at_connect == 0 and net.sock.timeouts[:2] == [0, 3]  # then I/O timeout
    # ESP-IDF's lwIP says 119 for "in progress"
    sel = Select(Select.POLLOUT)
    pub, net, clock, _ = make(select=sel)
    net.connect_error = OSError(119)
    pub.service(0)
    assert pub.connected
    # nothing within the timeout
    sel = Select(None)
    pub, net, clock, _ = make(select=sel)
    net.connect_error = OSError(115)
    pub.service(0)
    assert pub.stats()['last_error'] == 'connect: timeout' and net.sock.closed
    # refused
    pub, net, clock, _ = make(select=Select(Select.POLLOUT | Select.POLLERR | Select.POLLHUP))
    net.connect_error = OSError(115)
    pub.service(0)
    assert pub.stats()['last_error'] == 'connect: errno 111'    # ECONNREFUSED, as without select
    # any other error passes through
    pub, net, clock, _ = make(select=Select(Select.POLLOUT))
    net.connect_error = OSError(113)
    pub.service(0)
    assert pub.stats()['last_error'] == 'connect: errno 113'


def test_connect_without_select_uses_the_socket_timeout():
    pub, net, clock, _ = make()
    net.connect_error = OSError(110)
    pub.service(0)
    assert net.sock.timeouts == [3] and pub.stats()['last_error'] == 'connect: errno 110'


def test_tls_wraps_the_socket_and_keeps_the_timeouts_on_it():
    class Tls:
        """A TLS stream over the fake socket (identity: the bytes pass unchanged)."""

        def __init__(self, raw):
            self.raw = raw

        def read(self, n):
            return self.raw.read(n)

        def write(self, data):
            return self.raw.write(data)

        def close(self):
            self.raw.closed = True

    class Ssl:
        wrapped = []

        def wrap_socket(self, sock, server_hostname=None):
            self.wrapped.append(server_hostname)
            assert sock.addr is not None       # after the TCP connect
            return Tls(sock)

    ssl = Ssl()
    pub, net, clock, _ = make({'tls': True, 'port': 8883}, ssl=ssl)
    pub.service(0)
    assert pub.connected and ssl.wrapped == ['192.0.2.10']
    pub.service(10)                            # peeks through the TLS stream, timeouts on the socket
    assert net.sock.timeouts[-2:] == [0, 3]
    # tls without an ssl module: a failed connect, not a crash
    pub, net, clock, _ = make({'tls': True})
    pub.service(0)
    assert not pub.connected and pub.stats()['failures'] == 1 and net.sock.closed


# -- payloads --------------------------------------------------------------------------------

def test_discovery_configs():
    pub, net, clock, _ = make()
    pub.service(0)
    found = configs(net)
    assert sorted(found) == OBJECTS     # no export until the meter shows it
    expect = {
        'power': ('Power', 'power', 'W', 'measurement', 'power_w'),
        'current_r': ('Current R', 'current', 'A', 'measurement', 'current_r_a'),
        'current_t': ('Current T', 'current', 'A', 'measurement', 'current_t_a'),
        'energy_import': ('Energy import', 'energy', 'kWh', 'total_increasing', 'import_kwh'),
        'period_energy': ('Energy this period', 'energy', 'kWh', 'total', 'period_kwh'),
        'period_cost': ('Cost this period', 'monetary', 'JPY', 'total', 'period_yen'),
        'lqi': ('LQI', None, None, 'measurement', 'lqi'),
    }
    for obj in found:
        cfg, retained = found[obj]
        name, dc, unit, sc, key = expect[obj]
        assert retained is True, obj
        assert cfg['name'] == name
        assert cfg.get('device_class') == dc, obj
        assert cfg.get('unit_of_measurement') == unit, obj
        assert cfg['state_class'] == sc, obj
        assert cfg['unique_id'] == 'dev1_' + obj
        assert cfg['state_topic'] == STATE and cfg['availability_topic'] == AVAIL
        assert cfg['value_template'] == '{{ value_json.%s | default(none) }}' % key
        if sc == 'total':
            assert cfg['last_reset_value_template'] == (
                "{{ value_json.period_start ~ 'T00:00:00+09:00' if value_json.period_start is defined"
                " else none }}")
        else:
            assert 'last_reset_value_template' not in cfg
        assert (cfg.get('entity_category') == 'diagnostic') == (obj == 'lqi')
        assert cfg['device'] == {'identifiers': ['dev1'], 'name': 'SmartMeter', 'manufacturer': 'M5Stack',
                                 'model': 'M5StickC + BP35A1'}
    # the order: discovery, then "online"; no state before the first reading
    topics = [p[0] for p in publishes(net)]
    assert topics[-1] == AVAIL and STATE not in topics


def test_prefixes_and_topics_from_the_config():
    pub, net, clock, _ = make({'topic_prefix': 'home/meter', 'discovery_prefix': 'ha'}, device_id='m-2',
                              tz=-(3 * 3600 + 30 * 60))
    pub.service(0)
    topics = [p[0] for p in publishes(net)]
    assert 'ha/sensor/m-2/power/config' in topics and topics[-1] == 'home/meter/m-2/availability'
    cfg = json.loads(publishes(net, 'ha/sensor/m-2/period_cost/config')[0][1])
    assert cfg['state_topic'] == 'home/meter/m-2/state' and "T00:00:00-03:30'" in cfg['last_reset_value_template']
    pub.publish_state(values({'timestamp': 0}))
    assert json.loads(publishes(net, 'home/meter/m-2/state')[0][1]) == {'timestamp': '1969-12-31T20:30:00-03:30'}


def test_no_discovery_prefix_means_no_discovery_configs():
    # lib/config.py turns "discovery_prefix": "" into None: Home Assistant discovery off.
    pub, net, clock, _ = make({'discovery_prefix': None})
    pub.service(0)
    state = dict(FULL_STATE)
    state['export_kwh'] = 1.5
    assert pub.publish_state(values(state))
    net.sock.arrive(publish_packet('homeassistant/status', b'online'))
    pub.service(100)
    assert configs(net) == {} and [p for p in publishes(net) if 'config' in p[0]] == []
    # connect, the first export reading, Home Assistant's "online": each sends availability and state
    assert [p[1] for p in publishes(net, AVAIL)] == [b'online'] * 3
    assert len(publishes(net, STATE)) == 2 and pub.connected


def test_state_payload():
    pub, net, clock, _ = make()
    pub.service(0)
    assert pub.publish_state(values(FULL_STATE)) is True
    states = publishes(net, STATE)
    assert len(states) == 1 and states[0][2] is False   # not retained
    doc = json.loads(states[0][1])
    assert sorted(doc) == sorted(['power_w', 'current_r_a', 'current_t_a', 'import_kwh', 'period_kwh',
                                  'period_yen', 'period_start', 'lqi', 'rssi', 'timestamp'])
    assert doc['power_w'] == 1234 and doc['lqi'] == 90 and doc['rssi'] == -60
    assert close_to(doc['current_r_a'], 12.3) and close_to(doc['current_t_a'], 3.0)
    assert close_to(doc['import_kwh'], 4321.5) and close_to(doc['period_kwh'], 123.456)
    assert close_to(doc['period_yen'], 4567.89)
    assert doc['period_start'] == '2026-11-05'
    assert doc['timestamp'] == '2026-11-26T00:00:00+09:00'
    assert pub.stats()['published'] == 1


def test_state_drops_bad_and_missing_values():
    pub, net, clock, _ = make()
    pub.service(0)
    pub.publish_state(values({'power_w': 'lots', 'current_r_a': None, 'current_t_a': float('nan'),
                       'import_kwh': 1.0, 'export_kwh': float('inf'), 'lqi': True, 'period_kwh': [1],
                       'period_start': 5, 'timestamp': '2026'}))
    assert last_state(net) == {'import_kwh': 1.0}
    assert 'energy_export' not in configs(net)
    pub.publish_state(values({'power_w': 812.6, 'period_yen': 6543, 'import_kwh': 10234}))
    assert last_state(net) == {'power_w': 813, 'period_yen': 6543, 'import_kwh': 10234}


def test_export_sensor_appears_with_the_first_export_reading():
    pub, net, clock, _ = make()
    pub.service(0)
    state = dict(FULL_STATE)
    state['export_kwh'] = 12.5
    assert pub.publish_state(values(state))
    cfg, retained = configs(net)['energy_export']
    assert retained and cfg['device_class'] == 'energy' and cfg['state_class'] == 'total_increasing'
    assert cfg['unit_of_measurement'] == 'kWh' and cfg['value_template'] == \
        '{{ value_json.export_kwh | default(none) }}'
    assert close_to(last_state(net)['export_kwh'], 12.5)
    n = len(publishes(net))
    pub.publish_state(values(state))
    assert len(publishes(net)) == n + 1 and len(publishes(net, STATE)) == 2
    # seen while disconnected: announced with the next connect
    pub2, net2, _, _ = make()
    assert pub2.publish_state(values(state)) is False and net2.sockets == []
    pub2.service(0)
    assert 'energy_export' in configs(net2) and close_to(last_state(net2)['export_kwh'], 12.5)


def test_home_assistant_online_reannounces():
    pub, net, clock, _ = make()
    pub.service(0)
    pub.publish_state(values(FULL_STATE))
    s = net.sock
    s.arrive(publish_packet('homeassistant/status', b'offline', retain=True))
    s.arrive(publish_packet('other/topic', b'online'))
    s.arrive(publish_packet('homeassistant/statu', b'sonline'))
    pub.service(100)
    assert len(publishes(net, 'homeassistant/sensor/dev1/power/config')) == 1 and not s.replies
    s.arrive(publish_packet('homeassistant/status', b'online'))
    pub.service(200)
    assert len(publishes(net, 'homeassistant/sensor/dev1/power/config')) == 2
    assert [p[1] for p in publishes(net, AVAIL)] == [b'online', b'online']
    assert len(publishes(net, STATE)) == 2          # the last state again
    s.arrive(publish_packet('homeassistant/status', b'online', qos=1))   # a packet id before the payload
    pub.service(300)
    assert len(publishes(net, 'homeassistant/sensor/dev1/power/config')) == 3
    # a retained "online" is what the broker hands every new subscription, right after the
    # connect's own announce: not repeated
    s.arrive(publish_packet('homeassistant/status', b'online', retain=True))
    pub.service(400)
    assert len(publishes(net, 'homeassistant/sensor/dev1/power/config')) == 3 and not s.replies
    assert pub.connected and pub.stats()['failures'] == 0


def test_other_packets_are_skipped_and_at_most_four_are_read_per_call():
    pub, net, clock, _ = make()
    pub.service(0)
    s = net.sock
    s.arrive(publish_packet('big/topic', b'z' * 1000))       # too long to be HA's status: skipped
    s.arrive(packet(0xB0, b'\x00\x05'))                      # UNSUBACK nobody asked for
    s.arrive(packet(0xF0, b'junk'))                          # reserved type
    s.arrive(packet(0xD0, b''))
    s.arrive(publish_packet('homeassistant/status', b'online'))
    pub.service(100)
    assert pub.connected and len(publishes(net, AVAIL)) == 1
    pub.service(200)
    assert pub.connected and len(publishes(net, AVAIL)) == 2 and not s.replies


# -- failures, back-off, timeouts ---------------------------------------------------------------

def test_publish_failure_never_raises_and_the_reconnect_sends_everything_again():
    pub, net, clock, lines = make()
    pub.service(0)
    net.write_error = OSError(104)
    clock.t = 5000
    assert pub.publish_state(values(FULL_STATE)) is False
    s = pub.stats()
    assert not s['connected'] and s['failures'] == 1 and s['published'] == 0
    assert s['last_error'] == 'send: errno 104' and net.sock.closed
    net.write_error = None
    assert pub.publish_state(values(FULL_STATE)) is False       # down: skipped, nothing written
    pub.service(5000 + 1999)
    assert len(net.sockets) == 1
    pub.service(5000 + 2000)
    assert pub.connected and pub.stats()['connects'] == 2 and len(net.sockets) == 2
    second = [p[0] for p in publishes(net)][-9:]
    assert second[-2:] == [AVAIL, STATE] and len(set(second[:7])) == 7


def test_back_off_doubles_to_five_minutes_and_resets_after_a_minute_up():
    pub, net, clock, _ = make()
    net.connect_error = OSError(113)
    attempts = []
    t = 0
    while t <= 1500000:
        before = len(net.sockets)
        pub.service(t)
        if len(net.sockets) != before:
            attempts.append(t)
        t += 500
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert attempts[0] == 0
    assert gaps[:9] == [2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000]
    assert set(gaps[9:]) == {300000}
    assert pub.stats()['failures'] == len(attempts)
    # a connection that dies young keeps the long delay
    net.connect_error = None
    t = attempts[-1] + 300000
    pub.service(t)
    assert pub.connected
    net.sock.replies.append(b'')         # the broker closes the connection
    pub.service(t + 1000)
    assert pub.stats()['last_error'] == 'recv: closed'
    pub.service(t + 1000 + 299999)
    assert not pub.connected
    t = t + 1000 + 300000
    pub.service(t)
    assert pub.connected
    # one that lived a minute retries after 2 s again
    pub.service(t + 60000)               # the first ping: this connection lived a minute
    net.sock.replies.insert(0, OSError(104))
    pub.service(t + 70000)
    assert pub.stats()['last_error'] == 'recv: errno 104'
    pub.service(t + 72000)
    assert pub.connected


def test_one_connect_attempt_per_call():
    pub, net, clock, _ = make()
    net.connect_error = OSError(113)
    pub.service(0)
    pub.service(10 ** 9)
    pub.service(10 ** 9)
    assert len(net.sockets) == 2


def test_connack_timeout_and_partial_reads():
    pub, net, clock, _ = make()
    net.connack = None                   # a broker that accepts TCP and never answers
    pub.service(0)
    assert pub.stats()['last_error'] == 'connect: errno 110' and net.sock.closed
    # everything arriving one byte at a time still works
    pub, net, clock, _ = make()
    net.chunk = 1
    pub.service(0)
    assert pub.connected
    pub.publish_state(values(FULL_STATE))
    net.sock.arrive(publish_packet('homeassistant/status', b'online'))
    for i in range(1, 10):
        pub.service(i)
    assert pub.connected and len(publishes(net, AVAIL)) == 2 and not net.sock.replies
    # a packet cut short: the rest never comes within the timeout
    net.sock.replies.append(packet(0x30, utf8('a/b') + b'xyz')[:4])
    pub.service(20)
    assert pub.stats()['last_error'] == 'recv: errno 110'


def test_a_trickle_slower_than_the_timeout_is_cut_off():
    pub, net, clock, _ = make()
    net.chunk = 1
    net.advance = 1500                  # every byte takes 1.5 s: the CONNACK needs 6 s
    pub.service(0)
    assert pub.stats()['last_error'] == 'connect: timeout'


def test_malformed_packets_drop_the_connection_never_raise():
    bad = [
        (b'\x30\xff\xff\xff\xff\x01', 'recv: bad header'),    # 5 remaining-length bytes
        (packet(0x30, b'\x00\x40ab'), 'recv: bad PUBLISH'),    # topic past the end
        (packet(0x30, b''), 'recv: bad PUBLISH'),              # no topic length
        (packet(0x30, b'\x00'), 'recv: bad PUBLISH'),
        (b'', 'recv: closed'),                                 # the broker hung up
        (OSError(104), 'recv: errno 104'),
    ]
    for data, reason in bad:
        pub, net, clock, lines = make()
        pub.service(0)
        net.sock.replies.append(data)
        pub.service(100)
        s = pub.stats()
        assert not s['connected'] and s['last_error'] == reason, (data, s)
        assert net.sock.closed and s['failures'] == 1
        pub.service(2100)
        assert pub.connected                 # back after the back-off


def test_receive_errors_and_reconnect():
    pub, net, clock, _ = make()
    pub.service(0)
    net.sock.replies.append(OSError(-1))
    pub.service(100)
    assert pub.stats()['last_error'] == 'recv: errno -1'
    pub.service(2100)
    assert pub.connected and pub.stats()['connects'] == 2


def test_secrets_never_logged():
    pub, net, clock, lines = make()
    net.connect_error = ValueError('oops ' + SECRET)
    pub.service(0)
    assert pub.stats()['last_error'] == 'connect: oops ****'
    net.connect_error = None
    net.connack = 4
    pub.service(2000)
    net.connack = 0
    pub.service(6000)
    pub.publish_state(values(FULL_STATE))
    net.sock.arrive(publish_packet('homeassistant/status', b'online'))
    pub.service(6100)
    net.write_error = OSError(32)
    pub.publish_state(values(FULL_STATE))
    pub.close()
    assert len(lines) >= 4
    for text in lines + [repr(pub.stats())]:
        assert SECRET not in text
    assert SECRET.encode() in net.sockets[1].out          # only in CONNECT, to the broker


def test_now_defaults_to_the_clock():
    pub, net, clock, _ = make()
    net.connect_error = OSError(113)
    clock.t = 1000
    pub.service()
    clock.t = 2999
    pub.service()
    assert len(net.sockets) == 1
    clock.t = 3000
    pub.service()
    assert len(net.sockets) == 2
