"""lib/mqttpub.py against a fake umqtt.simple client (CPython and MicroPython): topics, payloads,
retained flags, Home Assistant discovery, back-off, failure handling, secrets, TimedSockets."""
import json

import mqttpub

SECRET = 'pa55-W0rd-xyz'


class MQTTException(Exception):  # same name as umqtt.simple's
    pass


class World:
    """What the fake broker connection does; shared by every client the factory builds."""

    def __init__(self):
        self.clients = []
        self.connect_error = None
        self.publish_error = None
        self.check_error = None
        self.inbox = []
        self.log = []      # (what, ...) in order
        self.connects = 0


class FakeSock:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


def make_factory(world):
    class FakeClient:
        def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0,
                     ssl=False, ssl_params={}):
            self.client_id = client_id
            self.server = server
            self.port = port
            self.user = user
            self.pswd = password
            self.keepalive = keepalive
            self.ssl = ssl
            self.ssl_params = ssl_params
            self.cb = None
            self.lw = None
            self.sock = None
            world.clients.append(self)

        def set_callback(self, f):
            self.cb = f

        def set_last_will(self, topic, msg, retain=False, qos=0):
            self.lw = (topic, msg, retain, qos)

        def connect(self, clean_session=True):
            world.connects += 1
            self.sock = FakeSock()
            if world.connect_error is not None:
                raise world.connect_error
            world.log.append(('connect',))
            return 0

        def subscribe(self, topic, qos=0):
            world.log.append(('subscribe', topic))

        def publish(self, topic, msg, retain=False, qos=0):
            if world.publish_error is not None:
                raise world.publish_error
            world.log.append(('publish', topic, msg, retain))

        def check_msg(self):
            if world.check_error is not None:
                raise world.check_error
            if world.inbox:
                topic, msg = world.inbox.pop(0)
                self.cb(topic, msg)
            return None

        def ping(self):
            world.log.append(('ping',))

        def disconnect(self):
            world.log.append(('disconnect',))

    return FakeClient


class Clock:
    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, d):
        return a + d


CONFIG = {'mqtt': {'host': '192.0.2.10', 'user': 'meter', 'password': SECRET}}

FULL_STATE = {'power_w': 1234, 'current_r_a': 12.34, 'current_t_a': 3.0, 'import_kwh': 4321.5,
              'export_kwh': None, 'period_kwh': 123.456, 'period_yen': 4567.891,
              'period_start': (2026, 11, 5), 'lqi': 90, 'rssi': -60,
              'timestamp': 1795618800}  # 2026-11-25 15:00:00 UTC = 2026-11-26 00:00:00 JST


def make(config=None, **kw):
    world = World()
    clock = Clock()
    lines = []
    pub = mqttpub.MqttPublisher(make_factory(world), CONFIG if config is None else config, clock,
                                log=lines.append, device_id=kw.pop('device_id', 'dev1'), **kw)
    return pub, world, clock, lines


def publishes(world, topic=None):
    out = []
    for entry in world.log:
        if entry[0] == 'publish' and (topic is None or entry[1] == topic):
            out.append(entry)
    return out


def configs(world):
    found = {}
    for entry in publishes(world):
        t = entry[1].decode()
        if t.startswith('homeassistant/sensor/') and t.endswith('/config'):
            found[t.split('/')[3]] = (json.loads(entry[2]), entry[3])
    return found


def close(a, b):
    return abs(a - b) < 1e-6


def test_connect_sets_will_subscribes_and_announces():
    pub, world, clock, _ = make()
    pub.service(0)
    client = world.clients[0]
    assert client.client_id == b'smartmeter-dev1'
    assert client.server == '192.0.2.10' and client.port == 1883
    assert client.user == b'meter' and client.pswd == SECRET.encode()
    assert client.keepalive == 120 and client.ssl is False
    assert client.lw[:3] == (b'smartmeter/dev1/availability', b'offline', True)
    assert ('subscribe', b'homeassistant/status') in world.log
    avail = publishes(world, b'smartmeter/dev1/availability')
    assert avail == [('publish', b'smartmeter/dev1/availability', b'online', True)]
    # discovery first, then availability; no state yet (nothing measured)
    kinds = [e[1].decode().split('/')[0] for e in publishes(world)]
    assert kinds == ['homeassistant'] * 7 + ['smartmeter']
    s = pub.stats()
    assert s['connected'] and s['available'] == 'online' and s['failures'] == 0 and s['reconnects'] == 0


def test_discovery_configs():
    pub, world, clock, _ = make()
    pub.service(0)
    found = configs(world)
    assert sorted(found) == sorted(['power', 'current_r', 'current_t', 'energy_import',
                                    'period_energy', 'period_cost', 'lqi'])  # no export yet
    expect = {
        'power': ('power', 'W', 'measurement', 'power_w'),
        'current_r': ('current', 'A', 'measurement', 'current_r_a'),
        'current_t': ('current', 'A', 'measurement', 'current_t_a'),
        'energy_import': ('energy', 'kWh', 'total_increasing', 'import_kwh'),
        'period_energy': ('energy', 'kWh', 'total', 'period_kwh'),
        'period_cost': ('monetary', 'JPY', 'total', 'period_yen'),
        'lqi': (None, None, 'measurement', 'lqi'),
    }
    device = None
    for obj, (cfg, retained) in found.items():
        assert retained is True, obj
        dc, unit, sc, key = expect[obj]
        assert cfg.get('device_class') == dc, obj
        assert cfg.get('unit_of_measurement') == unit, obj
        assert cfg['state_class'] == sc, obj
        assert cfg['unique_id'] == 'dev1_' + obj
        assert cfg['state_topic'] == 'smartmeter/dev1/state'
        assert cfg['availability_topic'] == 'smartmeter/dev1/availability'
        assert ('value_json.' + key + ' ') in cfg['value_template']
        assert cfg['name']
        if device is None:
            device = cfg['device']
        assert cfg['device'] == device
        if obj.startswith('period_'):
            assert 'period_start' in cfg['last_reset_value_template']
            assert "T00:00:00+09:00" in cfg['last_reset_value_template']
        else:
            assert 'last_reset_value_template' not in cfg
        assert (cfg.get('entity_category') == 'diagnostic') == (obj == 'lqi')
    assert device == {'identifiers': ['dev1'], 'name': 'SmartMeter', 'manufacturer': 'M5Stack',
                      'model': 'M5StickC + BP35A1'}


def test_state_payload():
    pub, world, clock, _ = make()
    pub.service(0)
    assert pub.publish_state(FULL_STATE) is True
    states = publishes(world, b'smartmeter/dev1/state')
    assert len(states) == 1 and states[0][3] is False  # state is not retained
    doc = json.loads(states[0][2])
    assert doc['power_w'] == 1234
    assert close(doc['current_r_a'], 12.3) and close(doc['current_t_a'], 3.0)
    assert close(doc['import_kwh'], 4321.5)
    assert 'export_kwh' not in doc
    assert close(doc['period_kwh'], 123.456) and close(doc['period_yen'], 4567.89)
    assert doc['period_start'] == '2026-11-05'
    assert doc['lqi'] == 90 and doc['rssi'] == -60
    assert doc['timestamp'] == '2026-11-26T00:00:00+09:00'
    assert pub.stats()['published'] == 1


def test_state_drops_bad_and_missing_values():
    pub, world, clock, _ = make()
    pub.service(0)
    pub.publish_state({'power_w': 'lots', 'current_r_a': None, 'lqi': True, 'import_kwh': 1.0,
                       'period_start': '2026-10-05', 'timestamp': '2026-10-05T01:02:03+09:00'})
    doc = json.loads(publishes(world, b'smartmeter/dev1/state')[0][2])
    assert doc == {'import_kwh': 1.0, 'period_start': '2026-10-05',
                   'timestamp': '2026-10-05T01:02:03+09:00'}


def test_export_sensor_appears_with_export_reading():
    pub, world, clock, _ = make()
    pub.service(0)
    assert 'energy_export' not in configs(world)
    state = dict(FULL_STATE)
    state['export_kwh'] = 12.5
    pub.publish_state(state)
    pub.publish_state(state)
    cfg, retained = configs(world)['energy_export']
    assert retained and cfg['device_class'] == 'energy' and cfg['state_class'] == 'total_increasing'
    assert cfg['unit_of_measurement'] == 'kWh' and 'export_kwh' in cfg['value_template']
    assert len(publishes(world, b'homeassistant/sensor/dev1/energy_export/config')) == 1
    doc = json.loads(publishes(world, b'smartmeter/dev1/state')[-1][2])
    assert close(doc['export_kwh'], 12.5)


def test_has_export_announces_from_the_start():
    pub, world, clock, _ = make(has_export=True)
    pub.service(0)
    assert 'energy_export' in configs(world)


def test_publish_failure_never_raises_and_schedules_reconnect():
    pub, world, clock, lines = make()
    pub.service(0)
    world.publish_error = OSError(104)
    clock.t = 5000
    assert pub.publish_state(FULL_STATE) is False
    s = pub.stats()
    assert not s['connected'] and s['failures'] == 1 and s['published'] == 0
    assert s['last_error'] == 'publish: OSError 104'
    assert world.clients[0].sock.closed
    world.publish_error = None
    assert pub.publish_state(FULL_STATE) is False  # still down: counted, not sent
    assert pub.stats()['dropped'] == 1
    pub.service(5000 + 1999)
    assert world.connects == 1
    pub.service(5000 + 2000)
    assert world.connects == 2 and pub.stats()['connected'] and pub.stats()['reconnects'] == 1
    # the reconnect re-announced everything, including the last state
    assert len(publishes(world, b'smartmeter/dev1/availability')) == 2
    assert len(configs(world)) == 7
    assert len(publishes(world, b'smartmeter/dev1/state')) == 1
    assert len(publishes(world, b'homeassistant/sensor/dev1/power/config')) == 2


def test_backoff_schedule_doubles_to_a_cap():
    pub, world, clock, _ = make()
    world.connect_error = OSError(113)
    attempts = []
    t = 0
    while t <= 1500000:
        before = world.connects
        pub.service(t)
        if world.connects != before:
            attempts.append(t)
        t += 500
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert attempts[0] == 0
    assert gaps[:9] == [2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000]
    assert set(gaps[9:]) == {300000}
    s = pub.stats()
    assert s['failures'] == len(attempts) and not s['connected']
    assert s['last_error'] == 'connect: OSError 113'
    # a connect that works resets nothing by itself, but once it has been stable the next drop
    # retries after the minimum again
    world.connect_error = None
    t = attempts[-1] + 300000
    pub.service(t)
    assert pub.stats()['connected']
    world.publish_error = OSError(32)
    clock.t = t + 120000
    pub.publish_state(FULL_STATE)
    world.publish_error = None
    n = world.connects
    pub.service(t + 120000 + 2000)
    assert world.connects == n + 1


def test_connect_failures_are_described_without_secrets():
    pub, world, clock, lines = make()
    world.connect_error = MQTTException(5)
    pub.service(0)
    assert pub.stats()['last_error'] == 'connect: refused: not authorised'
    world.connect_error = ValueError('oops ' + SECRET)
    pub.service(100000)
    assert SECRET not in pub.stats()['last_error']
    assert pub.stats()['failures'] == 2
    for line in lines:
        assert SECRET not in line
    assert SECRET not in repr(pub.stats())
    assert lines and 'retry in' in lines[-1]


def test_password_never_logged_on_success_either():
    pub, world, clock, lines = make()
    pub.service(0)
    pub.publish_state(FULL_STATE)
    world.inbox.append((b'homeassistant/status', b'online'))
    pub.service(100)
    pub.close()
    assert lines
    for line in lines:
        assert SECRET not in line
    assert SECRET not in repr(pub.stats())


def test_home_assistant_online_triggers_announce():
    pub, world, clock, _ = make()
    pub.service(0)
    pub.publish_state(FULL_STATE)
    world.inbox.append((b'homeassistant/status', b'offline'))
    world.inbox.append((b'other/topic', b'online'))
    pub.service(100)
    assert len(publishes(world, b'homeassistant/sensor/dev1/power/config')) == 1
    world.inbox.append((b'homeassistant/status', b'online'))
    pub.service(200)
    assert len(publishes(world, b'homeassistant/sensor/dev1/power/config')) == 2
    assert len(publishes(world, b'smartmeter/dev1/availability')) == 2
    assert len(publishes(world, b'smartmeter/dev1/state')) == 2
    assert pub.stats()['announces'] == 2


def test_receive_error_drops_the_connection():
    pub, world, clock, _ = make()
    pub.service(0)
    world.check_error = OSError(-1)
    pub.service(100)
    s = pub.stats()
    assert not s['connected'] and s['last_error'] == 'receive: OSError -1'
    world.check_error = None
    pub.service(100 + 2000)
    assert pub.stats()['connected'] and pub.stats()['reconnects'] == 1


def test_ping_keeps_the_session_alive():
    pub, world, clock, _ = make({'host': 'broker', 'keepalive_s': 60})
    pub.service(0)
    pub.service(29999)
    assert ('ping',) not in world.log
    pub.service(30000)
    assert world.log.count(('ping',)) == 1
    pub.service(30001)
    assert world.log.count(('ping',)) == 1
    clock.t = 50000
    pub.publish_state(FULL_STATE)  # traffic counts as keep-alive
    pub.service(70000)
    assert world.log.count(('ping',)) == 1
    pub.service(80000)
    assert world.log.count(('ping',)) == 2


def test_close_says_offline_and_stops_reconnecting():
    pub, world, clock, _ = make()
    pub.service(0)
    pub.close()
    assert publishes(world)[-1] == ('publish', b'smartmeter/dev1/availability', b'offline', True)
    assert world.log[-1] == ('disconnect',)
    assert pub.stats()['available'] == 'offline' and not pub.stats()['connected']
    pub.service(100000)
    assert world.connects == 1
    pub.resume()
    pub.service(100001)
    assert world.connects == 2 and pub.stats()['available'] == 'online'


def test_disabled_without_host():
    pub, world, clock, _ = make({'mqtt': {'host': ''}})
    assert not pub.enabled
    pub.service(0)
    assert pub.publish_state(FULL_STATE) is False
    assert world.clients == []


def test_config_defaults_prefixes_and_ids():
    pub, world, clock, _ = make({'host': 'h', 'port': 18830, 'client_id': 'cid', 'topic_prefix': 'home/meter/',
                                 'discovery_prefix': 'ha', 'ha_status_topic': 'hass/status'},
                                device_id='AA:BB/CC+#')
    assert pub.device_id == 'AA_BB_CC__'
    pub.service(0)
    c = world.clients[0]
    assert c.client_id == b'cid' and c.port == 18830 and c.user is None
    assert ('subscribe', b'hass/status') in world.log
    assert pub.state_topic == 'home/meter/AA_BB_CC__/state'
    ids = [json.loads(e[2])['unique_id'] for e in publishes(world) if e[1].startswith(b'ha/sensor/AA_BB_CC__/')]
    assert len(ids) == 7 and 'AA_BB_CC___power' in ids
    pub2, world2, _, _ = make({'host': 'h', 'tls': True})
    pub2.service(0)
    assert world2.clients[0].port == 8883 and world2.clients[0].ssl is True
    assert world2.clients[0].ssl_params == {'server_hostname': 'h'}
    assert world.clients[0].ssl_params == {}


def test_bad_config_raises_module_error():
    for bad in ({'host': 'h', 'port': 'x'}, {'host': 'h', 'port': 70000}, {'host': 'h', 'topic_prefix': 'a/#'},
                {'host': 'h', 'retry_min_s': 0}, {'host': 'h', 'keepalive_s': -1},
                {'host': 'h', 'retry_max_s': 'soon'}, {'host': 'h', 'retry_min_s': 10, 'retry_max_s': 5}):
        try:
            make(bad)
        except mqttpub.MqttPubError:
            continue
        raise AssertionError('accepted %r' % (bad,))


def test_offset_text():
    pub, world, clock, _ = make(utc_offset_s=-(3 * 3600 + 30 * 60))
    pub.service(0)
    pub.publish_state({'timestamp': 0})
    doc = json.loads(publishes(world, b'smartmeter/dev1/state')[0][2])
    assert doc['timestamp'] == '1969-12-31T20:30:00-03:30'


# ---- TimedSockets -----------------------------------------------------------------------------


class FakeRawSocket:
    def __init__(self, connect_error=None):
        self.calls = []
        self.connect_error = connect_error

    def settimeout(self, t):
        self.calls.append(('settimeout', t))

    def setblocking(self, flag):
        self.calls.append(('setblocking', flag))

    def connect(self, addr):
        self.calls.append(('connect', addr))
        if self.connect_error is not None:
            raise self.connect_error

    def read(self, n=None):
        return b'x' * (n or 1)

    def write(self, buf, n=None):
        return len(buf) if n is None else n

    def close(self):
        self.calls.append(('close',))


class FakeSocketModule:
    def __init__(self, connect_error=None):
        self.made = []
        self.connect_error = connect_error

    def socket(self, *args):
        s = FakeRawSocket(self.connect_error)
        self.made.append(s)
        return s

    def getaddrinfo(self, host, port, *args):
        return [(2, 1, 0, '', (host, port))]


class FakeSelect:
    POLLOUT = 4
    POLLERR = 8
    POLLHUP = 16

    def __init__(self, result):
        self.result = result
        self.timeouts = []

    def poll(self):
        sel = self

        class Poller:
            def register(self, obj, mask):
                pass

            def poll(self, timeout_ms):
                sel.timeouts.append(timeout_ms)
                return sel.result
        return Poller()


def test_timed_socket_keeps_its_timeout_across_setblocking():
    mod = FakeSocketModule()
    ts = mqttpub.TimedSockets(mod, 2.5)
    s = ts.socket()
    raw = mod.made[0]
    assert raw.calls == [('settimeout', 2.5)]
    assert ts.getaddrinfo('h', 1) == [(2, 1, 0, '', ('h', 1))]
    s.connect(('h', 1))
    s.setblocking(False)
    s.setblocking(True)  # umqtt.simple's check_msg() does this: the timeout must come back
    assert raw.calls[1:] == [('connect', ('h', 1)), ('setblocking', False), ('settimeout', 2.5)]
    assert s.read(3) == b'xxx' and s.write(b'abcd', 2) == 2 and s.write(b'abc') == 3
    s.close()
    assert raw.calls[-1] == ('close',)


def test_timed_connect_with_poll():
    # connected in time
    mod = FakeSocketModule(OSError(mqttpub._EINPROGRESS))
    sel = FakeSelect([(None, 4)])
    mqttpub.TimedSockets(mod, 1.5, sel).socket().connect(('h', 1))
    assert sel.timeouts == [1500] and mod.made[0].calls[-1] == ('settimeout', 1.5)
    # nothing within the timeout
    sel = FakeSelect([])
    try:
        mqttpub.TimedSockets(mod, 1.5, sel).socket().connect(('h', 1))
        raise AssertionError('no timeout')
    except OSError as e:
        assert e.args[0] == mqttpub._ETIMEDOUT
    # refused
    sel = FakeSelect([(None, 4 | 8 | 16)])
    try:
        mqttpub.TimedSockets(mod, 1.5, sel).socket().connect(('h', 1))
        raise AssertionError('no error')
    except OSError as e:
        assert e.args[0] == mqttpub._ECONNREFUSED
    # an immediate error other than "in progress" passes through
    mod = FakeSocketModule(OSError(113))
    try:
        mqttpub.TimedSockets(mod, 1.5, FakeSelect([])).socket().connect(('h', 1))
        raise AssertionError('no error')
    except OSError as e:
        assert e.args[0] == 113


def test_install_sockets_swaps_the_module_global():
    class Simple:
        socket = 'usocket'
    ts = mqttpub.TimedSockets(FakeSocketModule(), 3)
    assert mqttpub.install_sockets(Simple, ts) == 'usocket'
    assert Simple.socket is ts


def test_state_that_is_not_a_dict_raises_module_error():
    pub, world, clock, _ = make()
    pub.service(0)
    try:
        pub.publish_state([1, 2])
        raise AssertionError('accepted a list')
    except mqttpub.MqttPubError:
        pass
    assert pub.stats()['connected'] and publishes(world, b'smartmeter/dev1/state') == []
