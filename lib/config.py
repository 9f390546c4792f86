"""SmartMeter.json: read once at start, checked, normalised, with defaults for optional keys.

It is handed the JSON text (or an already parsed dict, or a file path for `load_file`) and
returns a `Config` whose attributes the app passes on; every problem raises ConfigError with a
message that names the key and what is wrong, and JSON syntax errors carry line and column.
The original's keys are accepted in its string form ("50", "22", channel_id "12345").  Keys
starting with "_" are comments and ignored; any other unknown key is an error (typos show up).
It never puts a secret (B-route ID and password, Ambient write key, MQTT and Wi-Fi passwords)
in a message or in repr(): `redacted()` masks them and `secrets()` hands them to the logger.
"""

try:
    import ujson as json
except ImportError:
    import json

import billing
import charge
import log

MASK = '****'

AMBIENT_URL = 'http://ambidata.io'
# What the app can send to Ambient's d1..d8: current (A), power (kW), period_kwh, period_yen
# (this billing period), export_kwh (reverse direction), import_kwh (cumulative).  The
# default is the original's four.
AMBIENT_FIELDS = ('current', 'power', 'period_kwh', 'period_yen', 'export_kwh', 'import_kwh')
AMBIENT_DEFAULT_FIELDS = {'d1': 'current', 'd2': 'power', 'd3': 'period_kwh', 'd4': 'period_yen'}

_TOP = ('ambient', 'baseline_file', 'charge_func', 'collect_date', 'contract_amperage',
        'display', 'id', 'log_level', 'mqtt', 'ntp_host', 'password', 'recovery',
        'scan_cache', 'tariff', 'timezone', 'uart', 'wifi')
_AMBIENT = ('channel_id', 'fields', 'url', 'write_key')
_MQTT = ('client_id', 'discovery_prefix', 'host', 'password', 'port', 'tls', 'topic_prefix',
         'user')
_WIFI = ('password', 'ssid')
_UART = ('rx', 'tx')
_DISPLAY = ('night',)
_NIGHT = ('brightness', 'end', 'start')


class ConfigError(Exception):
    pass


# ---- JSON with error positions -------------------------------------------------------------

class _Syntax(Exception):
    pass


class _Scanner(object):
    """Finds where JSON text goes wrong (ujson only says 'syntax error')."""

    def __init__(self, text):
        self.t = text
        self.i = 0

    def fail(self, reason):
        raise _Syntax(self.i, reason)

    def ws(self):
        t = self.t
        while self.i < len(t) and t[self.i] in ' \t\r\n':
            self.i += 1

    def peek(self):
        if self.i >= len(self.t):
            self.fail('unexpected end of text')
        return self.t[self.i]

    def value(self, depth):
        if depth > 32:
            self.fail('nested too deeply')
        self.ws()
        c = self.peek()
        if c == '{':
            self.container(depth, '}', True)
        elif c == '[':
            self.container(depth, ']', False)
        elif c == '"':
            self.string()
        elif c == '-' or c in '0123456789':
            self.number()
        else:
            for word in ('true', 'false', 'null'):
                if self.t[self.i:self.i + len(word)] == word:
                    self.i += len(word)
                    return
            self.fail('unexpected character %r' % c)

    def container(self, depth, close, is_object):
        self.i += 1
        self.ws()
        if self.peek() == close:
            self.i += 1
            return
        while True:
            if is_object:
                self.ws()
                if self.peek() != '"':
                    self.fail('expected a quoted key')
                self.string()
                self.ws()
                if self.peek() != ':':
                    self.fail("expected ':' after a key")
                self.i += 1
            self.value(depth + 1)
            self.ws()
            c = self.peek()
            if c == ',':
                self.i += 1
                self.ws()
                if self.peek() == close:
                    self.fail('trailing comma')
            elif c == close:
                self.i += 1
                return
            else:
                self.fail("expected ',' or '%s'" % close)

    def string(self):
        t = self.t
        self.i += 1
        while self.i < len(t):
            c = t[self.i]
            if c == '"':
                self.i += 1
                return
            if c == '\\':
                esc = t[self.i + 1:self.i + 2]
                if esc == 'u':
                    digits = t[self.i + 2:self.i + 6]
                    if len(digits) != 4 or [d for d in digits if d not in '0123456789abcdefABCDEF']:
                        self.fail('bad \\u escape')
                    self.i += 6
                    continue
                if esc == '' or esc not in '"\\/bfnrt':
                    self.fail('bad escape in a string')
                self.i += 2
                continue
            if ord(c) < 0x20:
                self.fail('control character in a string (unterminated string?)')
            self.i += 1
        self.fail('unterminated string')

    def digits(self):
        start = self.i
        t = self.t
        while self.i < len(t) and t[self.i] in '0123456789':
            self.i += 1
        if self.i == start:
            self.fail('expected a digit')

    def number(self):
        if self.t[self.i] == '-':
            self.i += 1
        self.digits()
        if self.t[self.i:self.i + 1] == '.':
            self.i += 1
            self.digits()
        if self.t[self.i:self.i + 1] in ('e', 'E'):
            self.i += 1
            if self.t[self.i:self.i + 1] in ('+', '-'):
                self.i += 1
            self.digits()


def _json_error(text):
    """None for valid JSON, else 'JSON syntax error at line L, column C: reason'."""
    scan = _Scanner(text)
    try:
        scan.value(0)
        scan.ws()
        if scan.i < len(text):
            scan.fail('extra text after the end')
        return None
    except _Syntax as e:
        pos, reason = e.args
    line = 1
    col = 1
    for c in text[:pos]:
        if c == '\n':
            line += 1
            col = 1
        else:
            col += 1
    return 'JSON syntax error at line %d, column %d: %s' % (line, col, reason)


def parse_json(text):
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')
        except Exception:
            raise ConfigError('SmartMeter.json: not UTF-8 text')
    if text[:1] == '\ufeff':
        text = text[1:]
    # Checked here first so both ports agree on what is valid (ujson is lenient in places).
    error = _json_error(text)
    if error is not None:
        raise ConfigError(error)
    try:
        return json.loads(text)
    except Exception:
        raise ConfigError('JSON syntax error')


# ---- field checks --------------------------------------------------------------------------

def _kind(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true/false'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string' if value else 'an empty string'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if isinstance(value, dict):
        return 'an object'
    return 'a value'


def _keys(obj, allowed, path):
    for key in obj:
        if key not in allowed and not (isinstance(key, str) and key[:1] == '_'):
            where = '%s.%s' % (path, key) if path else key
            raise ConfigError('%s: unknown key (known: %s)' % (where, ', '.join(allowed)))


def _object(value, path):
    """None (absent/null) or a dict."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError('%s: must be an object {...} (got %s)' % (path, _kind(value)))
    return value


def _printable(text):
    for c in text:
        if c <= ' ' or c > '~':
            return False
    return True


def _secret(value, path, lo, hi):
    """A secret string of lo..hi printable ASCII characters; messages never show it."""
    if not isinstance(value, str):
        raise ConfigError('%s: must be a string (got %s)' % (path, _kind(value)))
    n = len(value)
    if lo == hi and n != lo:
        raise ConfigError('%s: must be %d characters (got %d)' % (path, lo, n))
    if n < lo or n > hi:
        raise ConfigError('%s: must be %d-%d characters (got %d)' % (path, lo, hi, n))
    if n and not _printable(value):
        raise ConfigError('%s: must be printable ASCII without spaces' % path)
    return value


def _word(value, path, default=None, empty_is_none=False):
    """A non-empty string without spaces (host names, prefixes, paths)."""
    if value is None or (empty_is_none and value == ''):
        return default
    if not isinstance(value, str) or not value:
        raise ConfigError('%s: must be a non-empty string (got %s)' % (path, _kind(value)))
    if not _printable(value):
        raise ConfigError('%s: must be printable ASCII without spaces (got %r)' % (path, value))
    return value


def _int(value, path, lo, hi, default=None):
    """An int lo..hi, also given as a decimal string ("50")."""
    if value is None:
        return default
    number = None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or number < lo or number > hi:
        raise ConfigError('%s: must be a whole number %d-%d (got %r)' % (path, lo, hi, value))
    return number


def _bool(value, path, default):
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError('%s: must be true or false (got %s)' % (path, _kind(value)))
    return value


def _minutes(value, path):
    """'HH:MM' -> minutes after midnight."""
    if isinstance(value, str) and len(value) == 5 and value[2] == ':' \
            and value[:2].isdigit() and value[3:].isdigit():
        h, m = int(value[:2]), int(value[3:])
        if h < 24 and m < 60:
            return h * 60 + m
    raise ConfigError('%s: must be a time "HH:MM" (got %r)' % (path, value))


def _path(value, path, default):
    if value is None:
        return default
    if value == '':
        return None   # "" switches the file off
    value = _word(value, path)
    if value[0] != '/':
        raise ConfigError('%s: must be an absolute path such as %s' % (path, default))
    return value


# ---- sections ------------------------------------------------------------------------------

def _tariff(raw):
    func = raw.get('charge_func')
    spec = raw.get('tariff')
    if func == '':
        func = None
    if spec is not None:
        if func is not None:
            raise ConfigError('charge_func: give either charge_func or tariff, not both')
        if not isinstance(spec, dict):
            raise ConfigError('tariff: must be an object {"base": ..., "tiers": [...]} (got %s)'
                              % _kind(spec))
        try:
            return None, spec, charge.get(spec)
        except charge.ChargeError as e:
            msg = str(e)
            raise ConfigError(('tariff: ' if msg.startswith('unknown key') else 'tariff.') + msg)
    if func is None:
        raise ConfigError('charge_func: missing (known: %s; or give a "tariff" table)'
                          % ', '.join(charge.known()))
    if not isinstance(func, str):
        raise ConfigError('charge_func: must be a tariff name (got %s)' % _kind(func))
    try:
        return func, None, charge.get(func)
    except charge.ChargeError as e:
        raise ConfigError('charge_func: %s' % e)


def _ambient(raw):
    obj = _object(raw, 'ambient')
    if obj is None:
        return None
    _keys(obj, _AMBIENT, 'ambient')
    url = _word(obj.get('url'), 'ambient.url', AMBIENT_URL)
    if not (url.startswith('http://') or url.startswith('https://')):
        raise ConfigError('ambient.url: must start with http:// or https:// (got %r)' % url)
    while url.endswith('/'):
        url = url[:-1]
    fields = _ambient_fields(obj.get('fields'))
    channel = obj.get('channel_id')
    key = obj.get('write_key')
    if channel in (None, '') and key in (None, ''):
        return None   # the original's example leaves both empty: Ambient off
    if channel in (None, ''):
        raise ConfigError('ambient.channel_id: missing')
    if key in (None, ''):
        raise ConfigError('ambient.write_key: missing')
    return {'channel_id': _int(channel, 'ambient.channel_id', 1, 999999999),
            'write_key': _secret(key, 'ambient.write_key', 1, 64),
            'url': url, 'fields': fields}


def _ambient_fields(fields):
    if fields is None:
        return dict(AMBIENT_DEFAULT_FIELDS)
    fields = _object(fields, 'ambient.fields')
    if not fields:
        raise ConfigError('ambient.fields: must map at least one of d1..d8 to a name')
    slots = ['d%d' % i for i in range(1, 9)]
    for slot in fields:
        if slot not in slots:
            raise ConfigError('ambient.fields.%s: unknown key (known: d1..d8)' % slot)
    out = {}
    for slot in slots:   # in order, so messages do not depend on dict order
        if slot not in fields:
            continue
        name = fields[slot]
        if name not in AMBIENT_FIELDS:
            raise ConfigError('ambient.fields.%s: must be one of %s (got %r)'
                              % (slot, ', '.join(AMBIENT_FIELDS), name))
        for other in out:
            if out[other] == name:
                raise ConfigError("ambient.fields.%s: '%s' is already sent as %s" % (slot, name, other))
        out[slot] = name
    return out


def _inverse(fields):
    out = {}
    for slot in fields:
        out[fields[slot]] = slot
    return out


def _mqtt(raw):
    obj = _object(raw, 'mqtt')
    if obj is None:
        return None
    _keys(obj, _MQTT, 'mqtt')
    host = obj.get('host')
    if host is None or host == '':
        raise ConfigError('mqtt.host: missing')
    prefix = _word(obj.get('topic_prefix'), 'mqtt.topic_prefix', 'smartmeter')
    for c in '#+':
        if c in prefix:
            raise ConfigError('mqtt.topic_prefix: must not contain + or # (got %r)' % prefix)
    discovery = _word(obj.get('discovery_prefix', 'homeassistant'), 'mqtt.discovery_prefix',
                      None, empty_is_none=True)
    password = obj.get('password')
    if password is not None:
        password = _secret(password, 'mqtt.password', 0, 128)
    user = obj.get('user')
    if user is not None and not isinstance(user, str):
        raise ConfigError('mqtt.user: must be a string (got %s)' % _kind(user))
    return {
        'host': _word(host, 'mqtt.host'),
        'port': _int(obj.get('port'), 'mqtt.port', 1, 65535, 1883),
        'user': user or None,
        'password': password or None,
        'client_id': _word(obj.get('client_id'), 'mqtt.client_id', None, empty_is_none=True),
        'topic_prefix': prefix.strip('/'),
        'discovery_prefix': discovery,
        'tls': _bool(obj.get('tls'), 'mqtt.tls', False),
    }


def _wifi(raw):
    obj = _object(raw, 'wifi')
    if obj is None:
        return None
    _keys(obj, _WIFI, 'wifi')
    ssid = obj.get('ssid')
    if not isinstance(ssid, str) or not ssid or len(ssid) > 32:
        raise ConfigError('wifi.ssid: must be a string of 1-32 characters')
    password = obj.get('password', '')
    if not isinstance(password, str) or len(password) > 64:
        raise ConfigError('wifi.password: must be a string of 0-64 characters')
    return {'ssid': ssid, 'password': password}


def _display(raw):
    obj = _object(raw, 'display')
    night = None
    if obj is not None:
        _keys(obj, _DISPLAY, 'display')
        n = _object(obj.get('night'), 'display.night')
        if n is not None:
            _keys(n, _NIGHT, 'display.night')
            start = _minutes(n.get('start', '23:00'), 'display.night.start')
            end = _minutes(n.get('end', '06:00'), 'display.night.end')
            if start == end:
                raise ConfigError('display.night: start and end must differ')
            night = {'start': start, 'end': end,
                     'brightness': _int(n.get('brightness'), 'display.night.brightness', 0, 100, 10)}
    return {'night': night}


def _uart(raw):
    obj = _object(raw, 'uart') or {}
    _keys(obj, _UART, 'uart')
    # rx 26 on Wi-SUN HAT rev0.2 and later, rx 36 on the first revision (rev0.1)
    return {'tx': _int(obj.get('tx'), 'uart.tx', 0, 39, 0),
            'rx': _int(obj.get('rx'), 'uart.rx', 0, 39, 26)}


# The meter session's recovery settings (lib/meter.py DEFAULTS): whole numbers, and the
# list of growing scan durations.  Unknown keys are errors, so a typo does not pass silently.
RECOVERY_KEYS = ('request_timeout_ms', 'history_timeout_ms', 'resends', 'rejoin_after',
                 'rescan_after', 'reset_after', 'reauth_timeout_ms', 'join_attempts')


# Lower bounds: a zero timeout or 'reset after 0 misses' would be a reset loop.
_RECOVERY_MIN = {'request_timeout_ms': 1000, 'history_timeout_ms': 1000, 'reauth_timeout_ms': 1000,
                 'rejoin_after': 1, 'rescan_after': 1, 'reset_after': 1, 'join_attempts': 1}


def _recovery(raw):
    obj = _object(raw, 'recovery') or {}
    out = {}
    for key in obj:
        if isinstance(key, str) and key[:1] == '_':
            continue
        value = obj[key]
        if key == 'scan_durations':
            ok = isinstance(value, list) and value and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 14 for v in value)
            if not ok:
                raise ConfigError('recovery.scan_durations: must be a list of scan durations 0-14 '
                                  '(got %r)' % (value,))
            out[key] = tuple(value)
            continue
        if key not in RECOVERY_KEYS:
            raise ConfigError('recovery.%s: unknown setting (known: scan_durations, %s)'
                              % (key, ', '.join(RECOVERY_KEYS)))
        low = _RECOVERY_MIN.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError('recovery.%s: must be a whole number >= %d (got %r)' % (key, low, value))
        out[key] = value
    return out


def _timezone(value):
    if value is None:
        return 9
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < -12 or value > 14:
        raise ConfigError('timezone: must be hours from UTC, -12 to 14 (got %r)' % (value,))
    return value


# ---- the result ----------------------------------------------------------------------------

class Config(object):
    """Checked settings.  Attributes: id (also as rbid), password, contract_amperage (int),
    collect_date (int or tuple of 12), charge_func (name or None), tariff (table or None),
    charge (callable f(contract, kwh) -> yen), ambient, mqtt, wifi (dict or None),
    ambient_fields (name -> 'dN'), display {'night': None or {start, end (minutes after
    midnight), brightness}}, night ((start, end) or None), uart {tx, rx}, timezone (hours),
    tz_offset (seconds), ntp_host, scan_cache, baseline_file (path or None), recovery (dict),
    log_level (int)."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ConfigError('SmartMeter.json: must be a JSON object {...} (got %s)' % _kind(raw))
        _keys(raw, _TOP, '')
        for key in ('id', 'password', 'contract_amperage', 'collect_date'):
            if raw.get(key) in (None, ''):
                raise ConfigError('%s: missing' % key)
        self.id = _secret(raw['id'], 'id', 32, 32)
        self.password = _secret(raw['password'], 'password', 1, 32)
        try:
            self.collect_date = billing.check_collect_date(raw['collect_date'])
        except billing.BillingError as e:
            raise ConfigError(str(e))
        self.charge_func, self.tariff, self.charge = _tariff(raw)
        try:
            self.contract_amperage = int(charge.amperage_key(raw['contract_amperage']))
            self.charge.base_milli(self.contract_amperage)   # offered by this tariff?
        except charge.ChargeError as e:
            raise ConfigError(str(e))
        self.rbid = self.id   # the name the session layer uses
        self.ambient = _ambient(raw.get('ambient'))
        # name -> 'dN' (e.g. {'current': 'd1', ...}): the default map when Ambient is off
        self.ambient_fields = _inverse(self.ambient['fields'] if self.ambient
                                       else AMBIENT_DEFAULT_FIELDS)
        self.mqtt = _mqtt(raw.get('mqtt'))
        self.wifi = _wifi(raw.get('wifi'))
        self.display = _display(raw.get('display'))
        night = self.display['night']
        self.night = (night['start'], night['end']) if night else None   # minutes, or None
        self.uart = _uart(raw.get('uart'))
        self.timezone = _timezone(raw.get('timezone'))
        self.tz_offset = int(round(self.timezone * 3600))
        self.ntp_host = _word(raw.get('ntp_host'), 'ntp_host', 'ntp.nict.jp')
        self.scan_cache = _path(raw.get('scan_cache'), 'scan_cache', '/flash/smm_scan.json')
        self.baseline_file = _path(raw.get('baseline_file'), 'baseline_file',
                                   '/flash/smm_billing.json')
        self.recovery = _recovery(raw.get('recovery'))
        try:
            self.log_level = log.level_of(raw.get('log_level', 'info'))
        except log.LogError:
            raise ConfigError('log_level: must be one of debug, info, warning, error, none')

    def secrets(self):
        """Every secret value, for Logger.set_secrets()."""
        out = [self.id, self.password]
        if self.ambient:
            out.append(self.ambient['write_key'])
        if self.mqtt and self.mqtt['password']:
            out.append(self.mqtt['password'])
        if self.wifi and self.wifi['password']:
            out.append(self.wifi['password'])
        return out

    def night_brightness(self, minute_of_day):
        """Brightness to use at this local minute (0-1439) when inside the night window, else None."""
        night = self.display['night']
        if night is None:
            return None
        start, end = night['start'], night['end']
        if start < end:
            inside = start <= minute_of_day < end
        else:   # the window runs past midnight
            inside = minute_of_day >= start or minute_of_day < end
        return night['brightness'] if inside else None

    def redacted(self):
        """A plain dict of the settings with every secret replaced by '****'."""
        def hide(value):
            return MASK if value else value

        out = {
            'id': hide(self.id), 'password': hide(self.password),
            'contract_amperage': self.contract_amperage, 'collect_date': self.collect_date,
            'charge_func': self.charge_func, 'tariff': self.tariff,
            'uart': dict(self.uart), 'timezone': self.timezone, 'ntp_host': self.ntp_host,
            'scan_cache': self.scan_cache, 'baseline_file': self.baseline_file,
            'recovery': dict(self.recovery), 'log_level': self.log_level,
            'display': {'night': dict(self.display['night']) if self.display['night'] else None},
            'ambient': None, 'mqtt': None, 'wifi': None,
        }
        if self.ambient:
            out['ambient'] = dict(self.ambient)
            out['ambient']['write_key'] = hide(self.ambient['write_key'])
        if self.mqtt:
            out['mqtt'] = dict(self.mqtt)
            out['mqtt']['password'] = hide(self.mqtt['password'])
        if self.wifi:
            out['wifi'] = dict(self.wifi)
            out['wifi']['password'] = hide(self.wifi['password'])
        return out

    def __repr__(self):
        return 'Config(%r)' % (self.redacted(),)

    __str__ = __repr__


def load(source):
    """JSON text (str/bytes) or a parsed dict -> Config; ConfigError naming the key otherwise."""
    if isinstance(source, (str, bytes)):
        source = parse_json(source)
    return Config(source)


def load_file(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError('%s: cannot read (%s)' % (path, e))
    return load(text)
