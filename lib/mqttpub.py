"""MQTT publisher with Home Assistant discovery, on top of umqtt.simple.

Publishes each refresh as one JSON state message (`<topic_prefix>/<device_id>/state`, not retained;
timestamp as ISO 8601 local time with its offset, e.g. "2026-11-26T00:00:00+09:00"), keeps a retained
availability topic (`.../availability`: last will "offline", "online" after each connect) and retained
Home Assistant discovery configs (`<discovery_prefix>/sensor/<device_id>/<object>/config`), and sends
all of them again after every reconnect and whenever Home Assistant publishes "online" on its status
topic.  It is handed the MQTT client class (umqtt.simple's MQTTClient or a fake), the `mqtt` config
dict, a clock (ticks_ms/ticks_diff/ticks_add) and an optional log callable `log(text)`.  It never
raises on network errors (it counts them and retries with an exponential back-off, no jitter), makes
at most one connect attempt per call, and never logs the password.  TimedSockets gives umqtt.simple's
sockets the timeout umqtt.simple lacks.
"""

import timeutil
from compat import const

try:
    import ujson as json
except ImportError:  # CPython
    import json

try:
    import uerrno as errno
except ImportError:
    import errno

_EINPROGRESS = getattr(errno, 'EINPROGRESS', 115)
_EAGAIN = getattr(errno, 'EAGAIN', 11)
_ETIMEDOUT = getattr(errno, 'ETIMEDOUT', 110)
_ECONNREFUSED = getattr(errno, 'ECONNREFUSED', 111)

DEFAULT_PORT = const(1883)
DEFAULT_TLS_PORT = const(8883)
DEFAULT_KEEPALIVE_S = const(120)  # generous: a Wi-SUN rescan can keep the main loop busy for a minute
DEFAULT_RETRY_MIN_S = const(2)
DEFAULT_RETRY_MAX_S = const(300)
_MAX_MSGS_PER_SERVICE = const(4)
_STABLE_MS = const(60000)  # a connection that lived this long resets the back-off

# CONNACK return codes (MQTT 3.1.1, 3.2.2.3).
_CONNACK = {1: 'unacceptable protocol version', 2: 'client id rejected', 3: 'server unavailable',
            4: 'bad user name or password', 5: 'not authorised'}

# Home Assistant sensors: (object id, name, state key, device_class, unit, state_class, kind).
# kind: '' plain, 'x' only when the meter reports export (E3), 'p' billing-period total (last_reset
# follows period_start), 'd' diagnostic.
SENSORS = (
    ('power', 'Power', 'power_w', 'power', 'W', 'measurement', ''),
    ('current_r', 'Current R', 'current_r_a', 'current', 'A', 'measurement', ''),
    ('current_t', 'Current T', 'current_t_a', 'current', 'A', 'measurement', ''),
    ('energy_import', 'Energy import', 'import_kwh', 'energy', 'kWh', 'total_increasing', ''),
    ('energy_export', 'Energy export', 'export_kwh', 'energy', 'kWh', 'total_increasing', 'x'),
    ('period_energy', 'Energy this period', 'period_kwh', 'energy', 'kWh', 'total', 'p'),
    ('period_cost', 'Cost this period', 'period_yen', 'monetary', 'JPY', 'total', 'p'),
    ('lqi', 'LQI', 'lqi', None, None, 'measurement', 'd'),
)

# State keys with the number of decimals kept (None: integer).
_NUMBERS = (('power_w', None), ('current_r_a', 1), ('current_t_a', 1), ('import_kwh', 3),
            ('export_kwh', 3), ('period_kwh', 3), ('period_yen', 2), ('lqi', None), ('rssi', None))


class MqttPubError(Exception):
    pass


def _safe_id(text):
    """Topic- and Home Assistant-safe id: [A-Za-z0-9_-], anything else becomes '_'."""
    out = []
    for c in str(text):
        if ('a' <= c <= 'z') or ('A' <= c <= 'Z') or ('0' <= c <= '9') or c in '_-':
            out.append(c)
        else:
            out.append('_')
    return ''.join(out) or 'smartmeter'


def _topic_prefix(text, what):
    text = str(text).strip('/')
    if not text or '+' in text or '#' in text:
        raise MqttPubError('bad %s: %r' % (what, text))
    return text


def _seconds_ms(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise MqttPubError('bad %s: %r' % (what, value))
    return int(value * 1000)


def _offset_text(offset_s):
    sign = '+' if offset_s >= 0 else '-'
    m = abs(offset_s) // 60
    return '%s%02d:%02d' % (sign, m // 60, m % 60)


class _TimedSocket:
    """A socket whose blocking operations give up after `timeout_s` (OSError)."""

    def __init__(self, sock, owner):
        self.sock = sock
        self._owner = owner
        sock.settimeout(owner.timeout_s)

    def connect(self, addr):
        sock = self.sock
        sel = self._owner.select
        if sel is None:  # the socket's own timeout bounds connect (CPython does; see TimedSockets)
            sock.connect(addr)
            return
        sock.setblocking(False)
        try:
            sock.connect(addr)
        except OSError as e:
            if e.args[0] not in (_EINPROGRESS, _EAGAIN):
                raise
            poller = sel.poll()
            poller.register(sock, sel.POLLOUT)
            ready = poller.poll(int(self._owner.timeout_s * 1000))
            if not ready:
                raise OSError(_ETIMEDOUT)
            if ready[0][1] & (sel.POLLERR | sel.POLLHUP):
                raise OSError(self._socket_error())
        sock.settimeout(self._owner.timeout_s)

    def _socket_error(self):
        mod = self._owner.module
        try:
            code = self.sock.getsockopt(mod.SOL_SOCKET, mod.SO_ERROR)
            if code:
                return code
        except Exception:
            pass
        return _ECONNREFUSED

    def setblocking(self, flag):
        # umqtt.simple's check_msg() switches to non-blocking and back with setblocking(True), which
        # would drop the timeout for good: blocking here means "blocking with the timeout".
        if flag:
            self.sock.settimeout(self._owner.timeout_s)
        else:
            self.sock.setblocking(False)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def read(self, n=None):
        if n is None:
            return self.sock.read()
        return self.sock.read(n)

    def readinto(self, buf, n=None):
        if n is None:
            return self.sock.readinto(buf)
        return self.sock.readinto(buf, n)

    def readline(self):
        return self.sock.readline()

    def write(self, buf, n=None):
        if n is None:
            return self.sock.write(buf)
        return self.sock.write(buf, n)

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.sock.close()


class TimedSockets:
    """Stands in for the `usocket` module inside umqtt.simple: socket() returns sockets whose connect,
    reads and writes give up after timeout_s with OSError, so a dead or black-holed broker costs
    seconds, not minutes.  umqtt.simple has no timeout of its own and calls `socket.socket()` inside
    connect(); the only hook an unmodified umqtt/simple.py offers is its module global `socket`, which
    install_sockets() replaces.  With select_module (uselect/select), connect is non-blocking and
    bounded by poll(): MicroPython 1.11's ESP32 connect() ignores the socket timeout [?], lwIP's own
    SYN retries take far longer.  getaddrinfo (DNS) keeps the platform's timeout: use an IP address
    for a broker that may be down.  TLS (umqtt's ssl=True) wraps this object; the device's ussl
    wants a native socket, so TLS is untested there (and needs more heap than UIFlow leaves)."""

    def __init__(self, socket_module, timeout_s=3, select_module=None):
        self.module = socket_module
        self.timeout_s = timeout_s
        self.select = select_module

    def socket(self, *args):
        return _TimedSocket(self.module.socket(*args), self)

    def getaddrinfo(self, host, port, *args):
        return self.module.getaddrinfo(host, port, *args)


def install_sockets(simple_module, sockets):
    """Make umqtt.simple (the module object) open its sockets through `sockets` (a TimedSockets).
    Returns what was there before, so a test can put it back."""
    old = simple_module.socket
    simple_module.socket = sockets
    return old


class MqttPublisher:
    """config: the `mqtt` section (or the whole config holding one): host (empty: disabled), port
    (1883, 8883 with tls), user, password, client_id (default 'smartmeter-<device_id>'), topic_prefix
    ('smartmeter'), discovery_prefix ('homeassistant'), ha_status_topic ('homeassistant/status'),
    keepalive_s (120), retry_min_s (2), retry_max_s (300), tls (false; untested on the device).
    device_id: becomes the topic level, the discovery node id and the HA device identifier."""

    def __init__(self, client_factory, config, clock, log=None, device_id='smartmeter',
                 has_export=False, utc_offset_s=9 * 3600, sw_version=None):
        if config is None:
            config = {}
        if isinstance(config.get('mqtt'), dict):
            config = config['mqtt']
        self._factory = client_factory
        self._clock = clock
        self._log = log
        self.device_id = _safe_id(device_id)
        self.host = str(config.get('host') or '')
        self.tls = bool(config.get('tls', False))
        port = config.get('port') or (DEFAULT_TLS_PORT if self.tls else DEFAULT_PORT)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise MqttPubError('bad port: %r' % (port,))
        self.port = port
        user = config.get('user') or None
        self._user = str(user).encode() if user else None
        password = str(config.get('password') or '')
        self._password = password
        self._pw_bytes = password.encode()
        self.client_id = str(config.get('client_id') or ('smartmeter-' + self.device_id))
        keepalive = config.get('keepalive_s', DEFAULT_KEEPALIVE_S)
        if not isinstance(keepalive, int) or not 0 <= keepalive < 65536:
            raise MqttPubError('bad keepalive_s: %r' % (keepalive,))
        self._keepalive = keepalive
        self._retry_min = _seconds_ms(config.get('retry_min_s', DEFAULT_RETRY_MIN_S), 'retry_min_s')
        self._retry_max = _seconds_ms(config.get('retry_max_s', DEFAULT_RETRY_MAX_S), 'retry_max_s')
        if self._retry_max < self._retry_min:
            raise MqttPubError('retry_max_s is below retry_min_s')
        prefix = _topic_prefix(config.get('topic_prefix') or 'smartmeter', 'topic_prefix')
        self.discovery_prefix = _topic_prefix(config.get('discovery_prefix') or 'homeassistant',
                                              'discovery_prefix')
        base = prefix + '/' + self.device_id
        self.state_topic = base + '/state'
        self.availability_topic = base + '/availability'
        self.ha_status_topic = _topic_prefix(config.get('ha_status_topic') or 'homeassistant/status',
                                             'ha_status_topic')
        self._state_t = self.state_topic.encode()
        self._avail_t = self.availability_topic.encode()
        self._status_t = self.ha_status_topic.encode()
        self._utc_offset = utc_offset_s
        self._offset_text = _offset_text(utc_offset_s)
        self._device = {'identifiers': [self.device_id], 'name': 'SmartMeter',
                        'manufacturer': 'M5Stack', 'model': 'M5StickC + BP35A1'}
        if sw_version:
            self._device['sw_version'] = str(sw_version)
        self.has_export = bool(has_export)
        self._doc = {}           # reused for every JSON document
        self._client = None
        self._connected = False
        self._ever_connected = False
        self._next_try = None    # ticks of the next connect attempt; None: at the next service()
        self._connected_at = 0
        self._stopped = False
        self._delay = self._retry_min
        self._last_tx = 0
        self._announce_due = False
        self._rx = 0
        self._last_state = None  # bytes of the last state JSON, re-sent after a reconnect
        self._published = 0
        self._reconnects = 0
        self._failures = 0
        self._dropped = 0
        self._announces = 0
        self._last_error = None
        self._available = None

    # -- public API -------------------------------------------------------------------------------

    @property
    def enabled(self):
        return bool(self.host)

    def stats(self):
        return {'connected': self._connected, 'published': self._published,
                'reconnects': self._reconnects, 'failures': self._failures,
                'last_error': self._last_error, 'available': self._available,
                'dropped': self._dropped, 'announces': self._announces}

    def publish_state(self, state):
        """Publish one refresh (a dict, keys as in the state JSON; timestamp as Unix seconds UTC,
        period_start as (y, m, d) or 'YYYY-MM-DD').  Returns True when sent; never raises on network
        errors.  Values that are None or not numbers are left out of the JSON."""
        if not isinstance(state, dict):
            raise MqttPubError('state must be a dict')
        payload = self._state_json(state)
        self._last_state = payload
        if not self.has_export and state.get('export_kwh') is not None:
            self.has_export = True
            if self._connected:
                self._send_discovery('x')
        if not self._connected:
            self._dropped += 1
            return False
        return self._send(self._state_t, payload, False, 'publish')

    def service(self, now_ms=None):
        """Call often from the main loop: connects when due, reads incoming messages (non-blocking),
        re-announces when Home Assistant comes online, pings to keep the session alive."""
        if not self.host or self._stopped:
            return
        clock = self._clock
        if now_ms is None:
            now_ms = clock.ticks_ms()
        if not self._connected:
            if self._next_try is None or clock.ticks_diff(now_ms, self._next_try) >= 0:
                self._connect(now_ms)
            return
        if self._connected_at is not None and clock.ticks_diff(now_ms, self._connected_at) >= _STABLE_MS:
            # Stable for a while: the next failure retries quickly again.  Decided here, while
            # the connection is fresh, because ticks_diff misreads after ~6 days (ticks wrap).
            self._delay = self._retry_min
            self._connected_at = None
        client = self._client
        for _ in range(_MAX_MSGS_PER_SERVICE):
            seen = self._rx
            try:
                client.check_msg()
            except Exception as e:
                self._fail('receive', e, now_ms)
                return
            if self._rx == seen:
                break
        if self._announce_due:
            self._announce_due = False
            self._log_text('mqtt: Home Assistant online, announcing again')
            if not self._announce(now_ms):
                return
        if self._keepalive and clock.ticks_diff(now_ms, self._last_tx) >= self._keepalive * 500:
            try:
                client.ping()
                self._last_tx = now_ms
            except Exception as e:
                self._fail('ping', e, now_ms)

    def close(self):
        """Orderly goodbye: retained "offline", then DISCONNECT (after which the broker does not
        send the will).  No more connects until resume()."""
        self._stopped = True
        if not self._connected:
            return
        if self._send(self._avail_t, b'offline', True, 'close'):
            self._available = 'offline'
            try:
                self._client.disconnect()
            except Exception:
                pass
        self._connected = False
        self._close_socket()

    def resume(self):
        """Allow connects again after close(); the next service() connects."""
        self._stopped = False
        self._next_try = None

    def discovery_topic(self, obj):
        return '%s/sensor/%s/%s/config' % (self.discovery_prefix, self.device_id, obj)

    # -- internals --------------------------------------------------------------------------------

    def _log_text(self, text):
        if self._log is not None:
            self._log(self._mask(text))

    def _mask(self, text):
        pw = self._password
        if pw and pw in text:
            text = text.replace(pw, '***')
        return text

    def _describe(self, phase, e):
        name = type(e).__name__
        if name == 'MQTTException' and e.args and e.args[0] in _CONNACK:
            text = 'refused: %s' % _CONNACK[e.args[0]]
        elif isinstance(e, OSError) and e.args:
            text = 'OSError %s' % (e.args[0],)
        else:
            text = '%s %s' % (name, e.args[0] if e.args else '')
        return self._mask('%s: %s' % (phase, text))

    def _on_message(self, topic, msg):
        self._rx += 1
        if topic == self._status_t and msg == b'online':
            self._announce_due = True

    def _close_socket(self):
        client = self._client
        sock = getattr(client, 'sock', None) if client is not None else None
        if sock is not None:
            try:
                sock.close()
            except Exception:
                pass

    def _fail(self, phase, e, now_ms):
        was_connected = self._connected
        self._connected = False
        self._close_socket()
        self._failures += 1
        self._last_error = self._describe(phase, e)
        if was_connected and self._connected_at is not None and \
                self._clock.ticks_diff(now_ms, self._connected_at) >= _STABLE_MS:
            self._delay = self._retry_min
        self._connected_at = None
        self._next_try = self._clock.ticks_add(now_ms, self._delay)
        self._log_text('mqtt: %s; retry in %d s' % (self._last_error, self._delay // 1000))
        self._delay = min(self._delay * 2, self._retry_max)

    def _connect(self, now_ms):
        self._close_socket()
        try:
            client = self._client
            if client is None:
                client = self._factory(self.client_id.encode(), self.host, port=self.port,
                                       user=self._user, password=self._pw_bytes,
                                       keepalive=self._keepalive, ssl=self.tls,
                                       ssl_params={'server_hostname': self.host} if self.tls else {})
                client.set_callback(self._on_message)
                client.set_last_will(self._avail_t, b'offline', retain=True)
                self._client = client
            client.connect()
            client.subscribe(self._status_t)
        except Exception as e:
            self._fail('connect', e, now_ms)
            return False
        self._connected = True
        self._connected_at = now_ms
        if self._ever_connected:
            self._reconnects += 1
        self._ever_connected = True
        self._last_tx = now_ms
        self._log_text('mqtt: connected to %s:%d as %s' % (self.host, self.port, self.client_id))
        return self._announce(now_ms)

    def _announce(self, now_ms):
        """Discovery configs, availability "online", then the last state: after every connect and
        whenever Home Assistant says it is online (a broker without persistence forgets retained
        messages, and a restarted Home Assistant needs the configs again)."""
        self._announces += 1
        if not self._send_discovery(None):
            return False
        if not self._send(self._avail_t, b'online', True, 'announce'):
            return False
        self._available = 'online'
        if self._last_state is not None:
            return self._send(self._state_t, self._last_state, False, 'announce')
        return True

    def _send_discovery(self, only_kind):
        for row in SENSORS:
            kind = row[6]
            if only_kind is not None and kind != only_kind:
                continue
            if kind == 'x' and not self.has_export:
                continue
            topic = self.discovery_topic(row[0]).encode()
            if not self._send(topic, self._config_json(row), True, 'discovery'):
                return False
        return True

    def _send(self, topic, payload, retain, phase):
        try:
            self._client.publish(topic, payload, retain)
        except Exception as e:
            self._fail(phase, e, self._clock.ticks_ms())
            return False
        if topic is self._state_t:
            self._published += 1
        self._last_tx = self._clock.ticks_ms()
        return True

    def _config_json(self, row):
        obj, name, key, device_class, unit, state_class, kind = row
        d = self._doc
        d.clear()
        d['name'] = name
        d['unique_id'] = self.device_id + '_' + obj
        d['state_topic'] = self.state_topic
        d['availability_topic'] = self.availability_topic
        d['value_template'] = '{{ value_json.%s | default(none) }}' % key
        if device_class:
            d['device_class'] = device_class
        if unit:
            d['unit_of_measurement'] = unit
        d['state_class'] = state_class
        if kind == 'p':
            # A billing period starts at 00:00 local time of period_start; telling HA so keeps its
            # long-term statistics from booking the monthly reset as negative energy or cost.
            d['last_reset_value_template'] = (
                "{{ value_json.period_start ~ 'T00:00:00%s' if value_json.period_start is defined"
                " else none }}" % self._offset_text)
        if kind == 'd':
            d['entity_category'] = 'diagnostic'
        d['device'] = self._device
        return json.dumps(d).encode()

    def _state_json(self, state):
        d = self._doc
        d.clear()
        for key, decimals in _NUMBERS:
            v = state.get(key)
            if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            d[key] = int(round(v)) if decimals is None else round(v, decimals)
        start = state.get('period_start')
        if isinstance(start, str):
            d['period_start'] = start
        elif isinstance(start, (tuple, list)) and len(start) >= 3:
            d['period_start'] = '%04d-%02d-%02d' % (start[0], start[1], start[2])
        ts = state.get('timestamp')
        if isinstance(ts, str):
            d['timestamp'] = ts
        elif isinstance(ts, (int, float)) and not isinstance(ts, bool):
            t = timeutil.from_epoch(int(ts) + self._utc_offset)
            d['timestamp'] = '%04d-%02d-%02dT%02d:%02d:%02d%s' % (
                t[0], t[1], t[2], t[3], t[4], t[5], self._offset_text)
        return json.dumps(d).encode()
