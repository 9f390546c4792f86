"""SmartMeter.json on the device: read once at start, checked, normalised, defaults filled in.

It is handed the JSON text (or a parsed dict, or a path for `load_file`) and returns the settings
as attributes (listed at `load`) that the app passes on.  A broken file raises ConfigError with a
short message that names the key ("uart.rx: must be 0-39", "mqtt.tls: invalid") and points to
the thorough check on a computer, `python tools/checkconfig.py SmartMeter.json` (every problem
and why, JSON line and column; `make deploy` runs it), which accepts exactly the documents this
module accepts, with the same values (the device's ujson also reads some text that is not
standard JSON, which the host refuses).  Keys starting with "_" are comments; any other unknown
key is an error (typos show up).  Absent, null and "" all mean "not given" (for scan_cache,
baseline_file and mqtt.discovery_prefix, "" means "off").  Messages name keys, never values, so
no secret (B-route ID and password, Ambient write key, MQTT and Wi-Fi passwords) reaches the
screen or the log through them.  The recovery keys are lib/meter.py's own DEFAULTS (so the two
cannot drift).

The result holds no function of this module (the tariff is lib/charge.py's), so the app can
drop this module once the settings are loaded and get its code back.
"""

import charge
import log
import meter
from util import const, json

# What _get() checks (flags; _REQ may be added to any of them):
_ANY = const(0)     # anything (the caller checks it)
_INT = const(1)     # a whole number min..max, also as a string of ASCII digits ("50")
_TEXT = const(2)    # a string of min..max printable ASCII characters without spaces
_STR = const(4)     # any string of min..max characters
_DICT = const(8)    # an object {...}: dest[key] becomes a new dict for the caller to fill
_BOOL = const(16)   # true or false
_REQ = const(32)    # required: absent, null and "" are refused ("missing")

# The meter session's recovery settings (lib/meter.py's DEFAULTS but scan_durations) and their
# lower bounds, as a zero timeout or "reset after 0 misses" would be a reset loop: a timeout
# (..._ms) 1000 ms, resends 0, any other count 1.
RECOVERY_MIN = {key: 1000 if key[-2:] == 'ms' else int(key != 'resends')
                for key in meter.DEFAULTS if key != 'scan_durations'}


class ConfigError(Exception):
    pass


def _fail(path, key, text='invalid'):
    """Raises ConfigError "path.key: text" (path '' at the top level)."""
    raise ConfigError((path + '.' if path else '') + key + ': ' + text +
                      ' (python tools/checkconfig.py tells more)')


def _get(data, dest, path, key, flags=_ANY, min=1, max=64, default=None):
    """dest[key] = data[key] checked as flags say (path: the section's, for messages) -> the
    value; absent, null or "" -> default, or "missing" with _REQ.  Bounds min..max are of the
    number (_INT) or of the length (_TEXT, _STR)."""
    value = data.get(key)
    if value is None or value == '':
        if flags & _REQ:
            _fail(path, key, 'missing')
        value = default
    elif flags & _INT:
        value = charge.whole(value, min, max)
        if value is None:
            _fail(path, key, 'must be %d-%d' % (min, max))
    elif flags & (_TEXT | _STR):
        if type(value) is not str or not min <= len(value) <= max:
            _fail(path, key, 'must be %d-%d characters' % (min, max))
        if flags & _TEXT:
            for c in value:
                if not ' ' < c <= '~':
                    _fail(path, key)    # not printable ASCII, or a space
    elif flags & _DICT and type(value) is not dict or flags & _BOOL and type(value) is not bool:
        _fail(path, key)
    dest[key] = {} if flags & _DICT else value
    return value


def load(source):
    """JSON text (str/bytes) or a parsed dict -> the settings; ConfigError naming the key.

    The result is a plain namespace, a class made with type() (never instantiated) whose
    attributes are: rbid (also id), password, contract_amperage (int), collect_date (int, or a
    tuple of 12), charge (f(contract_amperage, kwh) -> int yen, from lib/charge.py),
    charge_func (name or None), tariff (the table or None), ambient (None or {channel_id (int),
    write_key, url (no trailing /), fields {'d1': name ...}}), ambient_fields (name -> 'dN'),
    mqtt (None or {host, port, user, password, client_id (None: the app's own), topic_prefix,
    discovery_prefix (None: no discovery), tls}), wifi (None or {ssid, password}), night (None
    or (start, end, brightness), minutes after midnight), uart {tx, rx}, timezone (hours),
    tz_offset (seconds), ntp_host, scan_cache and baseline_file (path, or None: off), recovery
    (overrides of lib/meter.py's DEFAULTS), log_level ('debug' ... 'none'), secrets() (a new
    list of every secret value that is set, for the logger: a list's own copy method).
    """
    if type(source) in (str, bytes):
        try:
            if type(source) is bytes:
                source = source.decode()
            if source[:1] == chr(0xFEFF):
                source = source[1:]     # a byte order mark
            source = json.loads(source)
        except Exception:
            _fail('', 'SmartMeter.json', 'not valid JSON')
    if type(source) is not dict:
        _fail('', 'SmartMeter.json')
    raw = source                        # (never changed: what it holds is copied to t)
    t = {}
    secrets = [_get(raw, t, '', 'id', _TEXT | _REQ, 32, 32),
               _get(raw, t, '', 'password', _TEXT | _REQ, 1, 32)]

    # the tariff: charge.py's messages start with the key
    try:
        t['collect_date'] = charge.BillingPeriod(_get(raw, t, '', 'collect_date', _REQ)).days
        amps = _get(raw, t, '', 'contract_amperage', _INT | _REQ, 1, 999)
        name = _get(raw, t, '', 'charge_func', _TEXT)
        table = t['tariff'] = _get(raw, t, '', 'tariff', _DICT)
        if (name is None) == (table is None):
            _fail('', 'charge_func', 'missing' if name is None else 'invalid')    # or both
        t['charge'] = charge.get(table or name)
        t['charge'](amps, 0)            # is the contract offered by this tariff?
    except ValueError as e:
        _fail('', *str(e).split(': ', 1))

    # Ambient: what the app can send to its d1..d8 (the default is the original's four)
    fields = ('current', 'power', 'period_kwh', 'period_yen', 'export_kwh', 'import_kwh')
    p = 'ambient'
    src = _get(raw, t, '', p, _DICT) or {}
    a = t[p]
    given = _get(src, a, p, 'fields', _DICT)
    if given is None:
        # (literal names, interned: a name made at run time would be a string object to keep)
        given = {'d1': 'current', 'd2': 'power', 'd3': 'period_kwh', 'd4': 'period_yen'}
    names = t['ambient_fields'] = {}
    for slot in given:
        name = given[slot]
        if slot[:1] != '_':
            if len(slot) != 2 or slot[0] != 'd' or not '0' < slot[1] < '9' or \
                    name not in fields or name in names:
                _fail('ambient.fields', slot)   # not d1..d8, not one of fields, or twice
            a['fields'][slot] = name
            names[name] = slot
    if not names:
        _fail(p, 'fields')              # not one field
    url = _get(src, a, p, 'url', _TEXT, 8, 200, 'http://ambidata.io')
    if url[:7] != 'http://':            # plain HTTP: lib/ambient.py speaks nothing else
        _fail(p, 'url')
    a['url'] = url.rstrip('/')
    key = _get(src, a, p, 'write_key', _TEXT)
    # both empty, as in the original's example: off
    ambient_off = _get(src, a, p, 'channel_id', _INT, 1, 9999999) is None and key is None
    if not ambient_off:
        secrets.append(_get(src, a, p, 'write_key', _TEXT | _REQ))
        _get(src, a, p, 'channel_id', _INT | _REQ, 1, 9999999)

    p = 'mqtt'
    src = _get(raw, t, '', p, _DICT)
    if src is None:
        t[p] = None
    else:
        m = t[p]
        _get(src, m, p, 'host', _TEXT | _REQ, 1, 253)
        _get(src, m, p, 'port', _INT, 1, 65535, 1883)
        _get(src, m, p, 'user', _STR)
        secrets.append(_get(src, m, p, 'password', _STR, 1, 128))
        _get(src, m, p, 'client_id', _TEXT)
        _get(src, m, p, 'tls', _BOOL, default=False)
        for key, value in (('topic_prefix', 'smartmeter'), ('discovery_prefix', 'homeassistant')):
            value = _get(src, m, p, key, _TEXT, 1, 64, value).strip('/')
            if not value or '+' in value or '#' in value:
                _fail(p, key)
            m[key] = value
        if src.get('discovery_prefix') == '':
            m['discovery_prefix'] = None    # "" switches Home Assistant discovery off

    p = 'wifi'
    src = _get(raw, t, '', p, _DICT)
    if src is None:
        t[p] = None
    else:
        _get(src, t[p], p, 'ssid', _STR | _REQ, 1, 32)
        secrets.append(_get(src, t[p], p, 'password', _STR, 1, 64, ''))

    src = _get(raw, t, '', 'display', _DICT) or {}
    p = 'display.night'
    src = _get(src, t['display'], 'display', 'night', _DICT)
    t['night'] = None
    if src is not None:
        out = t['display']['night']
        night = []
        for key, value in (('start', '23:00'), ('end', '06:00')):
            try:
                value = _get(src, out, p, key, default=value).split(':')
                night.append(charge.whole(value[0], 0, 23) * 60 + charge.whole(value[1], 0, 59))
                if len(value) != 2:
                    raise ValueError
            except Exception:
                _fail(p, key)           # not "HH:MM"
        if night[0] == night[1]:
            _fail(p, 'end')             # the same as start
        t['night'] = (night[0], night[1], _get(src, out, p, 'brightness', _INT, 0, 100, 10))

    p = 'uart'
    src = _get(raw, t, '', p, _DICT) or {}
    # rx 26 on Wi-SUN HAT rev0.2 and later, rx 36 on the first revision (rev0.1)
    _get(src, t[p], p, 'tx', _INT, 0, 39, 0)
    _get(src, t[p], p, 'rx', _INT, 0, 39, 26)

    p = 'recovery'
    src = _get(raw, t, '', p, _DICT) or {}
    r = t[p]
    for key in RECOVERY_MIN:
        _get(src, r, p, key, _INT, RECOVERY_MIN[key], 9999999)
    key = 'scan_durations'
    value = _get(src, r, p, key)
    if value is not None:
        r[key] = ()
        for value in value if type(value) is list and value else (None,):
            value = charge.whole(value, 0, 14)
            if value is None:
                _fail(p, key)           # not a non-empty list of scan durations 0-14
            r[key] += (value,)

    tz = _get(raw, t, '', 'timezone', default=9)
    if type(tz) not in (int, float) or not -12 <= tz <= 14:
        _fail('', 'timezone')
    t['tz_offset'] = int(round(tz * 3600))
    _get(raw, t, '', 'ntp_host', _TEXT, 1, 253, 'ntp.nict.jp')
    for key, value in (('scan_cache', '/flash/smm_scan.json'),
                       ('baseline_file', '/flash/smm_billing.json')):
        if _get(raw, t, '', key, _TEXT, 2, 64, value)[0] != '/':
            _fail('', key)              # not an absolute path
        if raw.get(key) == '':
            t[key] = None               # "" switches the file off
    if _get(raw, t, '', 'log_level', _TEXT, 1, 64, 'info').upper() not in log.LEVELS:
        _fail('', 'log_level')
    t['log_level'] = t['log_level'].lower()

    # Unknown keys, in every section that was given: the copy t has every key that was read.
    walk = [(raw, t, '')]
    for data, dest, p in walk:          # (the list grows while it is walked)
        for key in data:
            if key[:1] != '_':
                if key not in dest:
                    _fail(p, key, 'unknown key')
                if type(data[key]) is dict and type(dest[key]) is dict:
                    walk.append((data[key], dest[key], p + '.' + key if p else key))
    if ambient_off:
        t['ambient'] = None
    t.pop('display')                    # its night is t['night']
    for key in list(r):
        if r[key] is None:
            r.pop(key)                  # not given: the session's default

    t['rbid'] = t['id']
    t['secrets'] = list(filter(None, secrets)).copy     # secrets() hands out a copy
    # A bare namespace (a class made here without a function of this module); its attribute
    # names become interned names, which the app would intern anyway.
    cfg = type('config', (), {})
    for key in t:
        setattr(cfg, key, t[key])
    return cfg


def load_file(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        _fail('', path, 'missing')
    return load(text)
