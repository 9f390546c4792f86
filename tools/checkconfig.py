"""Check SmartMeter.json on a computer and name every problem, before `make deploy` copies it.

    python tools/checkconfig.py [SmartMeter.json]      (exit 0 when good, 1 on any problem)

The device (lib/config.py) is brief on purpose: it stops at the first problem with a short
message naming the key ("uart.rx: must be 0-39"), because every byte of its code stays in the
M5StickC's RAM.  This tool (CPython only) says everything: JSON syntax errors with line and
column; each unknown key with the keys allowed there and the one it probably misspells; every
value that is wrong and why (the original's string forms "50" and "22" are fine); tariff table
mistakes; a contract amperage the tariff does not offer; Ambient fields; MQTT options; the night
window; recovery settings.  A good file is printed as the device will see it, secrets masked.

It accepts exactly the documents the device accepts, with the same values: the settings it
prints come from lib/config.py itself (run here), its own rules below only explain, and
tests/host/test_checkconfig.py runs a table of good and bad documents through both, the device
side in real MicroPython.  One difference is deliberate: the device's ujson also reads some
text that is not JSON (a missing or trailing comma, a missing colon, "1."); this tool refuses
it, as every other JSON reader would.  No secret (B-route ID and password, Ambient write key,
MQTT and Wi-Fi passwords) is ever printed.

For tools/deploy.py: `check(text) -> (settings, problems)`: settings is the normalised config
as a plain dict with secrets masked (None when there is any problem), problems a list of
"key: what is wrong" lines; `summary(settings)` is one line for a deploy log.
"""
import difflib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, 'lib') not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, 'lib'))

import charge  # noqa: E402
import config  # noqa: E402
import log  # noqa: E402

MASK = '****'
SECRETS = ('id', 'password', 'ambient.write_key', 'mqtt.password', 'wifi.password')
# What the app can send to Ambient's d1..d8 (lib/config.py has the same list).
AMBIENT_FIELDS = ('current', 'power', 'period_kwh', 'period_yen', 'export_kwh', 'import_kwh')


def _tariff_names():
    """The built-in tariffs' names, as lib/charge.py's refusal of an unknown one lists them."""
    try:
        charge.get('')
    except ValueError as e:
        return tuple(str(e).split(' one of ')[1].split(', '))


TARIFFS = _tariff_names()

# Every key the device knows, by section ('' is the top level), with what it means (for the
# "unknown key" messages and the printout).
KEYS = {
    '': ('ambient', 'baseline_file', 'charge_func', 'collect_date', 'contract_amperage', 'display',
         'id', 'log_level', 'mqtt', 'ntp_host', 'password', 'recovery', 'scan_cache', 'tariff',
         'timezone', 'uart', 'wifi'),
    'ambient': ('channel_id', 'fields', 'url', 'write_key'),
    'ambient.fields': ('d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8'),
    'mqtt': ('client_id', 'discovery_prefix', 'host', 'password', 'port', 'tls', 'topic_prefix',
             'user'),
    'wifi': ('password', 'ssid'),
    'display': ('night',),
    'display.night': ('brightness', 'end', 'start'),
    'uart': ('rx', 'tx'),
    'recovery': tuple(sorted(config.RECOVERY_MIN)) + ('scan_durations',),
    'tariff': ('adders', 'base', 'name', 'tiers'),
    'tariff.adders[]': ('name', 'per_kwh'),
}
HINTS = {
    'id': 'the 32-character B-route ID from your power company',
    'password': 'the B-route password (12 characters)',
    'contract_amperage': 'your contract in amperes, such as 50 or "50"',
    'collect_date': 'the meter-reading day 1-31, or 12 of them from January',
    'charge_func': 'one of %s, or give a "tariff" table instead' % ', '.join(TARIFFS),
    'mqtt.host': 'the broker\'s host name or address',
    'wifi.ssid': 'the network name',
    'ambient.channel_id': 'the channel ID Ambient shows (a number)',
    'ambient.write_key': 'the channel\'s write key',
}


# ---- JSON with positions ------------------------------------------------------------------

class _Syntax(Exception):
    pass


class _Scanner:
    """Finds where JSON text goes wrong and why (the device's ujson only says 'syntax error')."""

    def __init__(self, text):
        self.t = text
        self.i = 0

    def fail(self, reason):
        raise _Syntax(self.i, reason)

    def ws(self):
        while self.i < len(self.t) and self.t[self.i] in ' \t\r\n':
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
                if self.t.startswith(word, self.i):
                    self.i += len(word)
                    return
            self.fail('unexpected character %r%s' % (c, " (strings need double quotes)"
                                                      if c == "'" else ''))

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
        while self.i < len(self.t) and self.t[self.i] in '0123456789':
            self.i += 1
        if self.i == start:
            self.fail('expected a digit')

    def number(self):
        if self.t[self.i] == '-':
            self.i += 1
        if self.t[self.i:self.i + 1] == '0' and self.t[self.i + 1:self.i + 2].isdigit():
            self.fail('a number cannot start with 0')
        self.digits()
        if self.t[self.i:self.i + 1] == '.':
            self.i += 1
            self.digits()
        if self.t[self.i:self.i + 1] in ('e', 'E'):
            self.i += 1
            if self.t[self.i:self.i + 1] in ('+', '-'):
                self.i += 1
            self.digits()


def json_error(text):
    """None for standard JSON, else 'JSON syntax error at line L, column C: reason'."""
    scan = _Scanner(text)
    try:
        scan.value(0)
        scan.ws()
        if scan.i < len(text):
            scan.fail('extra text after the end')
        return None
    except _Syntax as e:
        pos, reason = e.args
    line = text.count('\n', 0, pos) + 1
    col = pos - (text.rfind('\n', 0, pos) + 1) + 1
    return 'JSON syntax error at line %d, column %d: %s' % (line, col, reason)


# ---- the rules ----------------------------------------------------------------------------

def _kind(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true/false'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, list):
        return 'a list'
    return 'an object'


def _given(value):
    """Absent, null and "" all mean "not given" on the device."""
    return value is not None and value != ''


def _join(path, key):
    """The dotted name of key inside the section at path ('' is the top level)."""
    return path + '.' + key if path else key


def _ascii_digits(text):
    return text != '' and all('0' <= c <= '9' for c in text)


def whole(value, lo, hi):
    """The device's whole numbers (charge.whole), with ASCII digits only on every Python."""
    if type(value) is str and _ascii_digits(value):
        value = int(value)
    if type(value) is int and lo <= value <= hi:
        return value
    return None


def _milli(value):
    """The device's 0.001 units (lib/charge.py's _milli), or None for what is no number."""
    if type(value) not in (int, float) or value != value or value in (float('inf'), float('-inf')):
        return None
    return int(round(value * 1000))


class _Checker:
    def __init__(self):
        self.problems = []

    def add(self, path, what):
        self.problems.append('%s: %s' % (path or 'SmartMeter.json', what))

    def got(self, path, value):
        """' (got ...)' for a message, never showing a secret."""
        if path in SECRETS:
            return ' (got %s%s)' % (_kind(value), ' of %d characters' % len(value)
                                    if isinstance(value, str) else '')
        text = json.dumps(value, ensure_ascii=False)
        return ' (got %s)' % (text if len(text) <= 60 else text[:57] + '...')

    def keys(self, section, path, known=None):
        """Every key of section that the device does not know (comments "_..." are fine)."""
        known = known if known is not None else KEYS[path]
        for key in section:
            if key[:1] == '_' or key in known:
                continue
            where = _join(path, key)
            guess = difflib.get_close_matches(key, known, 1, 0.6)
            self.add(where, 'unknown key%s (allowed here: %s; keys starting with "_" are comments)'
                     % (' - did you mean "%s"?' % guess[0] if guess else '', ', '.join(known)))

    def section(self, raw, key, path=''):
        """raw[key]: None when not given, the dict, or None after a problem."""
        where, value = self.field(raw, key, path, False)
        if value is None:
            return None
        if type(value) is not dict:
            self.add(where, 'must be an object {...}' + self.got(where, value))
            return None
        self.keys(value, where)
        return value

    def field(self, raw, key, path, required):
        """(where, raw[key]), the value None when not given; a missing required key is a problem."""
        where = _join(path, key)
        value = raw.get(key)
        if not _given(value):
            if required:
                self.add(where, 'missing' + (' (%s)' % HINTS[where] if where in HINTS else ''))
            return where, None
        return where, value

    def integer(self, raw, key, path, lo, hi, required=False, hint=''):
        where, value = self.field(raw, key, path, required)
        if value is None:
            return None
        if whole(value, lo, hi) is None:
            extra = ''
            if isinstance(value, str) and value.strip() != value:
                extra = ': no spaces around it'
            elif isinstance(value, str) and value and not _ascii_digits(value) and \
                    all(c.isdigit() for c in value):
                extra = ': only ASCII digits 0-9 (not full-width ones)'
            elif isinstance(value, float):
                extra = ': a whole number, no decimal point'
            self.add(where, 'must be a whole number %d-%d%s%s%s' % (lo, hi, extra, self.got(where, value),
                                                                  hint))
            return None
        return whole(value, lo, hi)

    def text(self, raw, key, path, lo, hi, printable=True, required=False):
        where, value = self.field(raw, key, path, required)
        if value is None:
            return None
        if type(value) is not str:
            self.add(where, 'must be a string%s' % self.got(where, value))
            return None
        if not lo <= len(value) <= hi:
            self.add(where, 'must be %s characters long%s' % (lo if lo == hi else '%d-%d' % (lo, hi),
                                                          self.got(where, value)))
            return None
        if printable:
            bad = [c for c in value if not ' ' < c <= '~']
            if bad:
                what = 'a space' if bad[0] == ' ' else 'a character that is not printable ASCII'
                if where not in SECRETS:
                    what += ' (%r)' % bad[0]
                self.add(where, 'must be printable ASCII without spaces: it has %s%s'
                         % (what, self.got(where, value)))
                return None
        return value


def _check_tariff(ck, table):
    """Names every reason charge.get(table) refuses a table."""
    if type(table) is not dict:
        ck.add('tariff', 'must be an object {"base": ..., "tiers": [...]}' + ck.got('tariff', table))
        return
    ck.keys(table, 'tariff')
    base = table.get('base')
    if 'base' not in table:
        ck.add('tariff.base', 'missing (yen per month: one number, or {"30": 858.0, ...} per contract)')
    elif type(base) is dict:
        if not base:
            ck.add('tariff.base', 'must name at least one contract ({"30": 858.0, ...})')
        for key in base:
            if whole(key, 1, 999) is None:
                ck.add('tariff.base', 'key %r must be whole amperes 1-999, such as "30"' % key)
            if _milli(base[key]) is None:
                ck.add('tariff.base.%s' % key, 'must be a number of yen' + ck.got('', base[key]))
            elif _milli(base[key]) < 0:
                ck.add('tariff.base.%s' % key, 'must not be negative' + ck.got('', base[key]))
    elif _milli(base) is None:
        ck.add('tariff.base', 'must be a number of yen or {"30": 858.0, ...}' + ck.got('', base))
    elif _milli(base) < 0:
        ck.add('tariff.base', 'must not be negative' + ck.got('', base))
    tiers = table.get('tiers')
    if 'tiers' not in table:
        ck.add('tariff.tiers', 'missing ([[upper kWh, yen per kWh], ..., [null, yen per kWh]])')
    elif type(tiers) is not list or not tiers:
        ck.add('tariff.tiers', 'must be a list [[upper kWh, yen per kWh], ..., [null, yen per kWh]]'
               + ck.got('', tiers))
    else:
        prev = 0        # the previous upper bound in 0.001 kWh; None after the open-ended tier
        for i, tier in enumerate(tiers):
            where = 'tariff.tiers[%d]' % i
            if type(tier) is not list or len(tier) != 2:
                ck.add(where, 'must be [upper kWh, yen per kWh]' + ck.got('', tier))
                continue
            upper, rate = tier
            if _milli(rate) is None:
                ck.add(where, 'yen per kWh must be a number' + ck.got('', rate))
            if prev is None:
                ck.add(where, 'comes after the open-ended tier [null, ...]: only the last tier '
                              'has no upper bound')
            if upper is None:
                prev = None
            elif _milli(upper) is None:
                ck.add(where, 'the upper bound must be kWh or null' + ck.got('', upper))
            elif prev is not None:
                if _milli(upper) <= prev:
                    ck.add(where, 'the upper bound %s kWh must be above %s' % (
                        upper, 'zero' if prev == 0 else 'the one before'))
                prev = _milli(upper)
        last = tiers[-1]
        if type(last) is list and len(last) == 2 and last[0] is not None:
            ck.add('tariff.tiers[%d]' % (len(tiers) - 1),
                   'the last tier must have no upper bound: [null, yen per kWh]')
    adders = table.get('adders', [])
    if type(adders) is not list:
        ck.add('tariff.adders', 'must be a list [{"name": ..., "per_kwh": yen}, ...]' + ck.got('', adders))
    else:
        for i, adder in enumerate(adders):
            where = 'tariff.adders[%d]' % i
            if type(adder) is not dict:
                ck.add(where, 'must be {"name": ..., "per_kwh": yen}' + ck.got('', adder))
                continue
            ck.keys(adder, where, KEYS['tariff.adders[]'])
            if 'per_kwh' not in adder:
                ck.add(where + '.per_kwh', 'missing (yen per kWh, negative for a discount)')
            elif _milli(adder['per_kwh']) is None:
                ck.add(where + '.per_kwh', 'must be a number of yen' + ck.got('', adder['per_kwh']))


def _rules(raw):
    """Every reason lib/config.py would refuse the parsed document raw."""
    ck = _Checker()
    if type(raw) is not dict:
        ck.add('', 'must be a JSON object {...}' + ck.got('', raw))
        return ck.problems
    ck.keys(raw, '')
    ck.text(raw, 'id', '', 32, 32, required=True)
    ck.text(raw, 'password', '', 1, 32, required=True)

    # the tariff
    days = raw.get('collect_date')
    if not _given(days):
        ck.add('collect_date', 'missing (%s)' % HINTS['collect_date'])
    elif type(days) is list:
        if len(days) != 12:
            ck.add('collect_date', 'a list must have 12 days, January first (got %d)' % len(days))
        for i, day in enumerate(days):
            if whole(day, 1, 31) is None:
                ck.add('collect_date[%d]' % i, 'must be a day 1-31' + ck.got('', day))
    elif whole(days, 1, 31) is None:
        ck.add('collect_date', 'must be a day 1-31 (the original\'s "22" is fine) or a list of 12'
               + ck.got('', days))
    amps = ck.integer(raw, 'contract_amperage', '', 1, 999, required=True)
    name = ck.text(raw, 'charge_func', '', 1, 64)
    table = raw.get('tariff')
    tariff = None
    if _given(raw.get('charge_func')) and _given(table):
        ck.add('charge_func', 'give either charge_func or a "tariff" table, not both (set '
                              'charge_func to "" to use the table)')
    elif not _given(raw.get('charge_func')) and not _given(table):
        ck.add('charge_func', 'missing (%s)' % HINTS['charge_func'])
    elif _given(table):
        before = len(ck.problems)
        _check_tariff(ck, table)
        if len(ck.problems) == before:
            tariff = charge.get(table)
    elif name is not None:
        if name not in TARIFFS:
            guess = difflib.get_close_matches(name, list(TARIFFS), 1, 0.6)
            ck.add('charge_func', 'unknown tariff %r%s (known: %s; or give a "tariff" table)'
                   % (name, ' - did you mean "%s"?' % guess[0] if guess else '',
                      ', '.join(TARIFFS)))
        else:
            tariff = charge.get(name)
    if tariff is not None and amps is not None:
        try:
            tariff(amps, 0)
        except ValueError as e:
            ck.add('contract_amperage', str(e).split(': ', 1)[1])

    # Ambient
    a = ck.section(raw, 'ambient') or {}
    fields = ck.section(a, 'fields', 'ambient')
    if fields is not None:
        seen = {}
        for slot in fields:
            if slot[:1] == '_' or slot not in KEYS['ambient.fields']:
                continue
            value = fields[slot]
            if value not in AMBIENT_FIELDS:
                ck.add('ambient.fields.' + slot, 'must be one of %s%s'
                       % (', '.join(AMBIENT_FIELDS), ck.got('', value)))
            elif value in seen:
                ck.add('ambient.fields.' + slot, '%r is already sent as %s' % (value, seen[value]))
            else:
                seen[value] = slot
        if not [s for s in fields if s[:1] != '_']:
            ck.add('ambient.fields', 'must map at least one of d1..d8 to a value (or leave it out '
                                     'for the default d1-d4)')
    url = ck.text(a, 'url', 'ambient', 8, 200)
    if url is not None and url.split('//')[0] != 'http:':
        ck.add('ambient.url', 'must start with http:// (Ambient is sent over plain HTTP; the device '
                              'has too little heap for TLS)' + ck.got('', url))
    ck.text(a, 'write_key', 'ambient', 1, 64)
    ck.integer(a, 'channel_id', 'ambient', 1, 9999999)
    if _given(a.get('channel_id')) != _given(a.get('write_key')):
        missing = 'write_key' if _given(a.get('channel_id')) else 'channel_id'
        ck.add('ambient.' + missing, 'missing (%s): give channel_id and write_key, or leave both '
                                     'empty to switch Ambient off' % HINTS['ambient.' + missing])

    # MQTT
    m = ck.section(raw, 'mqtt')
    if m is not None:
        ck.text(m, 'host', 'mqtt', 1, 253, required=True)
        ck.integer(m, 'port', 'mqtt', 1, 65535)
        ck.text(m, 'user', 'mqtt', 1, 64, printable=False)
        ck.text(m, 'password', 'mqtt', 1, 128, printable=False)
        ck.text(m, 'client_id', 'mqtt', 1, 64)
        if _given(m.get('tls')) and type(m.get('tls')) is not bool:
            ck.add('mqtt.tls', 'must be true or false' + ck.got('', m.get('tls')))
        for key in ('topic_prefix', 'discovery_prefix'):
            value = ck.text(m, key, 'mqtt', 1, 64)
            if value is not None:
                if not value.strip('/'):
                    ck.add('mqtt.' + key, 'must have more than slashes' + ck.got('', value))
                elif '+' in value or '#' in value:
                    ck.add('mqtt.' + key, 'must not contain + or # (MQTT wildcards)' + ck.got('', value))

    # Wi-Fi
    w = ck.section(raw, 'wifi')
    if w is not None:
        ck.text(w, 'ssid', 'wifi', 1, 32, printable=False, required=True)
        ck.text(w, 'password', 'wifi', 1, 64, printable=False)

    # the night window
    d = ck.section(raw, 'display') or {}
    n = ck.section(d, 'night', 'display')
    if n is not None:
        times = []
        for key, default in (('start', '23:00'), ('end', '06:00')):
            value = n.get(key) if _given(n.get(key)) else default
            parts = value.split(':') if type(value) is str else ()
            if len(parts) == 2 and whole(parts[0], 0, 23) is not None and \
                    whole(parts[1], 0, 59) is not None:
                times.append(whole(parts[0], 0, 23) * 60 + whole(parts[1], 0, 59))
            else:
                ck.add('display.night.' + key, 'must be a time "HH:MM", 00:00-23:59' + ck.got('', value))
        if len(times) == 2 and times[0] == times[1]:
            ck.add('display.night.end', 'must differ from start (%02d:%02d)' % divmod(times[0], 60))
        ck.integer(n, 'brightness', 'display.night', 0, 100)

    # the UART pins
    u = ck.section(raw, 'uart') or {}
    ck.integer(u, 'tx', 'uart', 0, 39)
    ck.integer(u, 'rx', 'uart', 0, 39, hint=' (26 on Wi-SUN HAT rev0.2 and later, 36 on rev0.1)')

    # recovery
    r = ck.section(raw, 'recovery') or {}
    for key in sorted(config.RECOVERY_MIN):
        ck.integer(r, key, 'recovery', config.RECOVERY_MIN[key], 9999999)
    if _given(r.get('scan_durations')):
        value = r['scan_durations']
        if type(value) is not list or not value or [v for v in value if whole(v, 0, 14) is None]:
            ck.add('recovery.scan_durations', 'must be a non-empty list of scan durations 0-14, '
                                              'such as [4, 5, 6, 7, 8]' + ck.got('', value))

    # the rest
    tz = raw.get('timezone')
    if _given(tz) and (type(tz) not in (int, float) or not -12 <= tz <= 14):
        ck.add('timezone', 'must be a number of hours from UTC, -12 to 14 (9 for Japan; a number, '
                           'not a string)' + ck.got('', tz))
    ck.text(raw, 'ntp_host', '', 1, 253)
    for key in ('scan_cache', 'baseline_file'):
        value = ck.text(raw, key, '', 2, 64)
        if value is not None and value[0] != '/':
            ck.add(key, 'must be an absolute path such as /flash/%s, or "" for none'
                   % ('smm_scan.json' if key == 'scan_cache' else 'smm_billing.json') + ck.got('', value))
    level = ck.text(raw, 'log_level', '', 1, 64)
    # (the device's upper() knows ASCII letters only)
    if level is not None and not (level.isascii() and level.upper() in log.LEVELS):
        ck.add('log_level', 'must be debug, info, warning, error or none' + ck.got('', level))
    return ck.problems


# ---- the result ---------------------------------------------------------------------------

def settings_of(cfg):
    """A Config -> a plain JSON-able dict of what the device will use, secrets masked."""
    out = {}
    for key in ('id', 'password', 'contract_amperage', 'collect_date', 'charge_func', 'tariff',
                'ambient', 'ambient_fields', 'mqtt', 'wifi', 'night', 'uart', 'timezone',
                'tz_offset', 'ntp_host', 'scan_cache', 'baseline_file', 'recovery', 'log_level'):
        value = getattr(cfg, key)
        out[key] = json.loads(json.dumps(value))     # tuples -> lists, copies
    out['id'] = out['password'] = MASK
    for section, key in (('ambient', 'write_key'), ('mqtt', 'password'), ('wifi', 'password')):
        if out[section] and out[section][key]:
            out[section][key] = MASK
    return out


def check(text):
    """SmartMeter.json text (str or bytes) -> (settings, problems): the settings the device will
    use, as a dict with secrets masked, and [] when the device accepts the file; else (None,
    every problem as a 'key: what is wrong' line)."""
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError as e:
            return None, ['SmartMeter.json: not UTF-8 text (byte %d); save it as UTF-8' % e.start]
    if text[:1] == '\ufeff':
        text = text[1:]                  # a BOM: the device drops it too
    error = json_error(text)
    if error is not None:
        return None, [error]
    raw = json.loads(text)
    problems = _rules(raw)
    try:
        cfg = config.load(raw)
    except config.ConfigError as e:
        if not problems:                 # never accept what the device refuses
            problems.append('the device refuses it: %s' % e)
        return None, problems
    if problems:
        return None, problems
    return settings_of(cfg), []


def summary(settings):
    """One line about good settings for a deploy log (no secrets)."""
    parts = ['contract %s A' % settings['contract_amperage'],
             'reading day %s' % (settings['collect_date'] if not isinstance(
                 settings['collect_date'], list) else '/'.join(map(str, settings['collect_date']))),
             'tariff table' if settings['tariff'] else 'tariff %s' % settings['charge_func'],
             'Ambient ' + ('on' if settings['ambient'] else 'off'),
             'MQTT ' + ('on' if settings['mqtt'] else 'off'),
             'Wi-Fi ' + ('from the file' if settings['wifi'] else "from UIFlow's settings")]
    return ', '.join(parts)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or argv[:1] in (['-h'], ['--help']):
        print(__doc__.split('\n\n')[1].strip())
        return 2
    path = argv[0] if argv else 'SmartMeter.json'
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        print('%s: cannot read (%s)' % (path, e.strerror or e))
        return 1
    settings, problems = check(data)
    if problems:
        print('%s: %d problem%s; the device would refuse it:' % (path, len(problems),
                                                                's' if len(problems) > 1 else ''))
        for p in problems:
            print('  ' + p)
        return 1
    print('%s is good: %s' % (path, summary(settings)))
    night = settings['night']
    if night:
        settings['night'] = '%02d:%02d-%02d:%02d at %d %%' % (divmod(night[0], 60) + divmod(night[1], 60)
                                                              + (night[2],))
    print(json.dumps(settings, indent=2, ensure_ascii=False))
    return 0


if __name__ == '__main__':
    sys.exit(main())
