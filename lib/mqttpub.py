"""MQTT publisher for Home Assistant, with its own minimal MQTT 3.1.1 client (QoS 0, clean session).

Each refresh becomes one JSON state message on `<topic_prefix>/<device_id>/state` (not retained;
timestamp as ISO 8601 local time with its offset, "2026-11-26T00:00:00+09:00").  The retained
availability topic (`.../availability`: last will "offline", "online" after each connect), the
retained Home Assistant discovery configs (`<discovery_prefix>/sensor/<device_id>/<object>/config`;
none when the config has no discovery prefix) and the last state are sent again after every
connect and whenever Home Assistant publishes "online" on `homeassistant/status` (a broker without
persistence forgets retained messages; the retained copy a new subscription gets is not acted on,
the connect has just announced).

It is handed the checked `mqtt` config (lib/config.py), a clock (ticks_ms/ticks_diff/ticks_add), the
socket module (usocket: getaddrinfo, socket; sockets with settimeout, connect, read, write, close),
a select module or None (uselect: connect is then non-blocking and bounded by poll(), because
MicroPython 1.11's ESP32 connect() ignores the socket timeout), an ssl module or None (ussl with
wrap_socket, for `tls`; untested on the device) and a lib/log.py Logger.  Every socket operation has
a timeout (_TIMEOUT_S; only DNS keeps the platform's own, so give a broker that may be down as an IP
address), so a dead broker never stalls the meter loop for more than a few seconds.  A PINGREQ goes
out every minute; no packet from the broker by the next one drops the link.  It never raises on
network errors: it counts them, logs a short reason (never the password), drops the connection and
retries after a back-off of 2 s doubling to 300 s (back to 2 s once a connection lived a minute), at
most one connect attempt per service().  Incoming packets are read only as far as needed to see Home
Assistant's status; anything else is skipped, a malformed packet drops the connection.
"""

from util import const, from_epoch, json

_TIMEOUT_S = const(3)          # connect, CONNACK, every read and write
_KEEPALIVE_S = const(120)      # generous: a Wi-SUN rescan can keep the main loop busy for a minute
_PING_MS = const(60000)        # a PINGREQ every keepalive/2; no packet since the last one: link dead
_RETRY_MIN_MS = const(2000)
_RETRY_MAX_MS = const(300000)
_PACKETS = const(4)            # incoming packets read per service() at most
_SMALL = const(128)            # a PUBLISH body longer than this is not Home Assistant's status
_PUBLISH = const(0x30)         # PUBLISH, QoS 0 (3.3.1)
_RETAINED = const(0x31)        # the same with RETAIN

# publish_state()'s values, in this order (for callers; the app passes a tuple, not a dict, so a
# setup without MQTT does not pay for these names).
STATE = 'power_w current_r_a current_t_a import_kwh export_kwh period_kwh period_yen lqi rssi period_start timestamp'


def pack(text):
    """MQTT's UTF-8 string (1.5.3): its length in 2 bytes, then its bytes."""
    data = text.encode()
    return bytes((len(data) >> 8, len(data) & 255)) + data


class MqttPublisher:
    """MqttPublisher(config, clock, socket, select, ssl, log, device_id, tz=32400).
    config: host, port, user, password (sent only with a user), client_id (None:
    'smartmeter-<device_id>'), topic_prefix, discovery_prefix (None: no discovery), tls.
    select, ssl: the modules or None.  device_id ([A-Za-z0-9_-]) is the topic level, the discovery
    node id and the HA device id.  tz: local time's offset from UTC in seconds (the timestamp's and
    the period start's).  Attributes: connected, connects (sessions opened), failures, published
    (state messages), last_error ('<phase>: <reason>'; phases connect, send, recv, ping)."""

    def __init__(self, config, clock, socket, select, ssl, log, device_id, tz=32400):
        self.config = config
        self.clock = clock
        self.socket = socket
        self.select = select
        self.ssl = ssl
        self.log = log
        self.device_id = device_id
        self.root = config['topic_prefix'] + '/' + device_id + '/'   # the device's topics
        self.tz = tz
        m = abs(tz) // 60
        self.offset = '%s%02d:%02d' % ('-' if tz < 0 else '+', m // 60, m % 60)
        self.connected = False
        self.connects = self.failures = self.published = 0
        self.last_error = None
        self.stream = self.sock = None  # the stream (TLS or not) and the TCP socket under it
        self.state = None               # the last state JSON, sent again with every announce
        self.export = False             # the meter has shown export: announce its sensor
        self.delay = _RETRY_MIN_MS
        self.next = clock.ticks_ms()    # the next connect attempt; None after close()
        self.ping = self.pending = None  # ticks of the last PINGREQ; True: no packet since

    def stats(self):
        return {'connected': self.connected, 'connects': self.connects, 'failures': self.failures,
                'published': self.published, 'last_error': self.last_error}

    def publish_state(self, values):
        """Publish one refresh.  values is a tuple in the order of STATE: power_w, current_r_a,
        current_t_a, import_kwh, export_kwh, period_kwh, period_yen, lqi, rssi (numbers; None or
        anything else is left out), period_start ('YYYY-MM-DD'), timestamp (Unix seconds, UTC).
        -> True when sent; skipped while disconnected (the next connect sends the last state)."""
        d = {}
        i = 0
        # The numeric keys, each followed by the decimals kept (0: a whole number).
        for key in 'power_w0 current_r_a1 current_t_a1 import_kwh3 export_kwh3 period_kwh3 ' \
                   'period_yen2 lqi0 rssi0'.split():
            v = values[i]
            i += 1
            if type(v) in (int, float) and abs(v) < 1e12:     # not bool, nan or inf
                # round(int, n) is NotImplementedError on builds without MICROPY_PY_BUILTINS_ROUND_INT
                n = int(key[-1])
                d[key[:-1]] = round(v, n) if n and type(v) is float else round(v)
        v = values[9]
        if isinstance(v, str):
            d['period_start'] = v
        v = values[10]
        if isinstance(v, int):
            d['timestamp'] = '%04d-%02d-%02dT%02d:%02d:%02d' % from_epoch(v + self.tz)[:6] + self.offset
        self.state = json.dumps(d).encode()
        first = 'export_kwh' in d and not self.export
        if first:
            self.export = True
        if self.connected:
            try:
                if first:
                    self.announce()   # the export sensor's config, then this state
                else:
                    self.send(_PUBLISH, pack(self.root + 'state'), self.state)
                self.published += 1
                return True
            except Exception as e:
                self.fail('send', e, self.clock.ticks_ms())
        return False

    def service(self, now=None):
        """From the main loop: connects when due (one attempt at most), reads what came in without
        waiting, re-announces on Home Assistant's "online", pings to keep the session alive.
        now: the ticks (default: the clock's)."""
        clock = self.clock
        if now is None:
            now = clock.ticks_ms()
        if self.next is None:
            return
        if not self.connected:
            if clock.ticks_diff(now, self.next) >= 0:
                self.connect(now)
            return
        phase = 'recv'
        try:
            for _ in range(_PACKETS):
                self.sock.settimeout(0)          # peek: None when nothing is waiting
                first = self.stream.read(1)
                self.sock.settimeout(_TIMEOUT_S)
                if first is None:
                    break
                if not first:
                    raise OSError('closed')
                head = first[0]
                n = shift = 0
                more = 128
                while more & 128:          # remaining length: at most 4 bytes (2.2.3)
                    if shift > 21:
                        raise ValueError('bad header')
                    more = self.read(1)[0]
                    n |= (more & 127) << shift
                    shift += 7
                self.pending = False       # any packet shows the link is alive
                if head >> 4 == 3 and n <= _SMALL:
                    # PUBLISH (3.3): topic, a packet id only at QoS 1 and 2, payload.
                    body = self.read(n)
                    end = n + 1 if n < 2 else 2 + (body[0] << 8 | body[1])
                    if end > n:
                        raise ValueError('bad PUBLISH')
                    # Retained (3.3.1.3): sent because we just subscribed, right after our announce.
                    if body[2:end] == b'homeassistant/status' and not head & 1 and \
                            body[end + (2 if head & 6 else 0):] == b'online':
                        self.announce()
                    n = 0
                while n:                   # anything else: skipped
                    n -= len(self.read(min(n, _SMALL)))
            phase = 'ping'
            if clock.ticks_diff(now, self.ping) >= _PING_MS:
                if self.pending:
                    raise OSError('timeout')
                self.send(0xC0)                  # PINGREQ (3.12)
                self.ping = now
                self.pending = True
                self.delay = _RETRY_MIN_MS       # this connection lived a minute
        except Exception as e:
            self.fail(phase, e, now)

    def close(self):
        """Goodbye: retained "offline", DISCONNECT (so the broker drops the will); no more connects.
        (fail() clears `connected` first: then only the sockets are closed.)"""
        self.next = None
        if self.connected:
            self.connected = False
            try:
                self.send(_RETAINED, pack(self.root + 'availability'), b'offline')
                self.send(0xE0)                  # DISCONNECT (3.14)
            except Exception:
                pass
        for s in (self.stream, self.sock):   # the TLS stream first: it frees its context
            if s:
                try:
                    s.close()
                except Exception:
                    pass
        self.stream = self.sock = None

    # -- the MQTT client ------------------------------------------------------------------------

    def connect(self, now):
        """One connect attempt: TCP (TLS), CONNECT, CONNACK, SUBSCRIBE, then announce."""
        cfg = self.config
        select = self.select
        try:
            host = cfg['host']
            port = cfg['port']
            addr = self.socket.getaddrinfo(host, port)[0][-1]
            self.stream = self.sock = sock = self.socket.socket()
            sock.settimeout(0 if select else _TIMEOUT_S)
            try:
                sock.connect(addr)
            except OSError as e:
                # In progress: 115 (Linux, MicroPython), 119 (ESP-IDF's lwIP), 11 (EAGAIN).
                if not select or e.args[0] not in (115, 119, 11):
                    raise
                poller = select.poll()
                poller.register(sock, select.POLLOUT)
                ready = poller.poll(_TIMEOUT_S * 1000)
                if not ready:
                    raise OSError('timeout')
                if ready[0][1] & (select.POLLERR | select.POLLHUP):
                    raise OSError(111)               # ECONNREFUSED, as a blocking connect says
            sock.settimeout(_TIMEOUT_S)
            if cfg.get('tls'):
                self.stream = self.ssl.wrap_socket(sock, server_hostname=host)
            # CONNECT (3.1): protocol "MQTT" level 4; flags: clean session 0x02, will 0x04, will
            # retained 0x20 (QoS 0), password 0x40, user name 0x80; keepalive in seconds.
            flags = 0x26
            parts = [pack(cfg.get('client_id') or 'smartmeter-' + self.device_id),
                     pack(self.root + 'availability'), b'\x00\x07offline']
            user = cfg.get('user')
            if user:
                flags |= 0x80
                parts.append(pack(user))
                if cfg.get('password'):
                    flags |= 0x40
                    parts.append(pack(cfg['password']))
            self.send(0x10, b'\x00\x04MQTT\x04' + bytes((flags, 0, _KEEPALIVE_S)), *parts)
            ack = self.read(4)   # CONNACK (3.2): 0x20, 2, session present, return code
            if ack[0] != 0x20 or ack[1] != 2:
                raise ValueError('bad CONNACK')
            n = ack[3]
            if n:
                # CONNACK return codes 1-5 (3.2.2.3)
                raise OSError('refused: %s' % ('unacceptable protocol version,client id rejected,'
                                               'server unavailable,bad user name or password,'
                                               'not authorised'.split(',')[n - 1] if n < 6 else n))
            # SUBSCRIBE (3.8): packet id 1, homeassistant/status at QoS 0; the SUBACK is skipped.
            self.send(0x82, b'\x00\x01\x00\x14homeassistant/status\x00')
            self.connected = True
            self.connects += 1
            self.ping = now
            self.pending = False
            self.log.info('connected to %s:%d', host, port)
            self.announce()
        except Exception as e:
            self.fail('connect', e, now)

    def announce(self):
        """Discovery configs, "online", then the last state (3.3: retain flag where said)."""
        did = self.device_id
        prefix = self.config.get('discovery_prefix')
        state = json.dumps(self.root + 'state')
        avail = json.dumps(self.root + 'availability')
        # Home Assistant sensors, one per ';': object id, name, state key, device_class, unit,
        # state_class.  No device_class: a diagnostic entity; state_class total: last_reset is the
        # period start; export_kwh: announced once the meter has shown export (E3).
        for row in ('power,Power,power_w,power,W,measurement;'
                    'current_r,Current R,current_r_a,current,A,measurement;'
                    'current_t,Current T,current_t_a,current,A,measurement;'
                    'energy_import,Energy import,import_kwh,energy,kWh,total_increasing;'
                    'energy_export,Energy export,export_kwh,energy,kWh,total_increasing;'
                    'period_energy,Energy this period,period_kwh,energy,kWh,total;'
                    'period_cost,Cost this period,period_yen,monetary,JPY,total;'
                    'lqi,LQI,lqi,,,measurement').split(';') if prefix else ():
            obj, name, key, kind, unit, total = row.split(',')
            if key == 'export_kwh' and not self.export:
                continue
            extra = ',"entity_category":"diagnostic"'
            if kind:
                extra = ',"device_class":"%s","unit_of_measurement":"%s"' % (kind, unit)
            if len(total) == 5:
                # state_class 'total': the period starts at 00:00 local time of period_start, so
                # HA's statistics book the monthly reset as a new cycle, not as negative energy or cost.
                extra += (',"last_reset_value_template":"{{ value_json.period_start ~ \'T00:00:00%s\''
                          ' if value_json.period_start is defined else none }}"') % self.offset
            self.send(_RETAINED, pack('%s/sensor/%s/%s/config' % (prefix, did, obj)),
                      ('{"name":"%s","unique_id":"%s_%s","state_topic":%s,"availability_topic":%s,'
                       '"value_template":"{{ value_json.%s | default(none) }}","state_class":"%s"%s,'
                       '"device":{"identifiers":["%s"],"name":"SmartMeter","manufacturer":"M5Stack",'
                       '"model":"M5StickC + BP35A1"}}' % (name, did, obj, state, avail, key, total, extra,
                                                          did)).encode())
        self.send(_RETAINED, pack(self.root + 'availability'), b'online')
        if self.state:
            self.send(_PUBLISH, pack(self.root + 'state'), self.state)

    def send(self, head, *parts):
        """One packet: fixed header (2.2: `head`, the type and flags; the remaining length 7 bits a
        byte, low first), then the parts (bytes).  PUBLISH (3.3): _PUBLISH or _RETAINED, the topic,
        the payload."""
        n = 0
        for p in parts:
            n += len(p)
        packet = bytearray((head,))
        while n > 127:
            packet.append(n & 127 | 128)
            n >>= 7
        packet.append(n)
        for p in parts:
            packet.extend(p)
        self.stream.write(packet)

    def read(self, n):
        """n bytes, which a stream may hand over in pieces, all within the timeout."""
        clock = self.clock
        start = clock.ticks_ms()
        out = b''
        while len(out) < n:
            got = self.stream.read(n - len(out))
            if not got:
                raise OSError('closed' if got == b'' else 'timeout')
            out += got
            if len(out) < n and clock.ticks_diff(clock.ticks_ms(), start) > _TIMEOUT_S * 1000:
                raise OSError('timeout')
        return out

    def fail(self, phase, e, now):
        """Drop the link, count and log the reason (never the password), set the retry."""
        self.connected = False
        self.close()
        self.failures += 1
        x = e.args[0] if e.args else repr(e)
        text = ('%s: errno %d' if isinstance(x, int) else '%s: %s') % (phase, x)
        secret = self.config.get('password')
        if secret:
            text = text.replace(secret, '****')
        self.last_error = text
        self.next = self.clock.ticks_add(now, self.delay)
        self.log.warning('%s; retry in %d s', text, self.delay // 1000)
        self.delay = min(self.delay * 2, _RETRY_MAX_MS)
