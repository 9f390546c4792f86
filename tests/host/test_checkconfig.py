"""tools/checkconfig.py against the device: a table of good and bad SmartMeter.json documents
goes through the host check (CPython) and through lib/config.py in real MicroPython (the
WebAssembly VM, as the device parses the text with its ujson); both must accept exactly the same
documents, with the same values.  The one allowed difference is text that is not standard JSON,
which the device's lenient ujson reads and the host refuses.  Also: every problem is named,
JSON errors carry line and column, no secret is ever printed, and the command's exit status."""
import json
import os
import subprocess
import sys

import checkconfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ID = '0000001234ABCDEF0000000000C0FFEE'
PASSWORD = 'PW12AB34CD56'
WRITE_KEY = 'abcdef0123456789'
MQTT_PASSWORD = 'mqtt-s3cret'
WIFI_PASSWORD = 'wifi s3cret'
SECRET_VALUES = (ID, PASSWORD, WRITE_KEY, MQTT_PASSWORD, WIFI_PASSWORD)
DROP = object()
TABLE = {'base': {'30': 858.0, '40': 1144.0}, 'tiers': [[140, 23.67], [350, 23.88], [None, 26.41]],
         'adders': [{'name': 'levy', 'per_kwh': 3.49}, {'name': 'fuel', 'per_kwh': -1.2}]}


def base():
    return {'id': ID, 'password': PASSWORD, 'contract_amperage': '50', 'collect_date': '22',
            'charge_func': 'tokyo_gas_1',
            'ambient': {'channel_id': '12345', 'write_key': WRITE_KEY}}


def doc(path=None, value=None, **top):
    """base() with changes: doc('mqtt.port', 1883) sets a nested key (creating sections);
    DROP removes a key; keyword arguments change top-level keys."""
    d = base()
    for key in top:
        if top[key] is DROP:
            d.pop(key)
        else:
            d[key] = top[key]
    if path is not None:
        parts = path.split('.')
        node = d
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if value is DROP:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    return d


MQTT = {'host': 'broker.local', 'password': MQTT_PASSWORD}
GOOD = [
    doc(),
    doc(contract_amperage=50, collect_date=22),
    doc(contract_amperage='060'),
    doc(collect_date=[20, '30', 21, 20, 22, 20, 21, 22, 20, 21, 20, 19]),
    doc(collect_date=1), doc(collect_date='31'),
    doc(charge_func='tokyo_gas_1s', contract_amperage=10),
    doc(charge_func='tokyo_gas_2', contract_amperage=35),
    doc(charge_func='', tariff=TABLE, contract_amperage=40),
    doc(charge_func=DROP, tariff={'base': 0, 'tiers': [[None, 0]]}, contract_amperage=7),
    doc(charge_func=None, tariff={'_note': 'x', 'name': 5, 'base': {'030': 1, '40': 2.5},
                                  'tiers': [[0.5, 1], [None, -1]], 'adders': []},
        contract_amperage=30),
    doc(tariff=None), doc(tariff=''),
    doc(ambient=DROP), doc(ambient=None), doc(ambient=''), doc(ambient={}),
    doc(ambient={'channel_id': '', 'write_key': '', 'url': 'http://x.example/'}),
    doc('ambient.url', 'http://localhost:8080//'),
    doc('ambient.fields', {'d1': 'power', 'd8': 'import_kwh', '_c': 'x'}),
    doc('ambient.fields', None), doc('ambient.fields', ''),
    doc('ambient.channel_id', 9999999), doc('ambient.channel_id', '0000001'),
    doc('ambient.write_key', 'k'),
    doc(mqtt={'host': 'b'}), doc(mqtt=MQTT), doc(mqtt=None), doc(mqtt=''),
    doc(mqtt=dict(MQTT, port='8883', user='u v', client_id='smm1', tls=True,
                  topic_prefix='/home/meter/', discovery_prefix='', _c=1)),
    doc(mqtt=dict(MQTT, tls=None, user='', password='', client_id=None)),
    doc(mqtt=dict(MQTT, tls=False, discovery_prefix='ha/')),
    doc(wifi={'ssid': 'my home', 'password': WIFI_PASSWORD}), doc(wifi={'ssid': 'open'}),
    doc(wifi={'ssid': 'x' * 32, 'password': ''}), doc(wifi=None),
    doc('display.night', {}), doc('display.night', None), doc(display={}),
    doc('display.night', {'start': '6:00', 'end': '23:59', 'brightness': '0', '_c': 1}),
    doc('display.night', {'start': '', 'brightness': 100}),
    doc(uart={'tx': 39, 'rx': '36'}), doc(uart=None), doc(uart={'_c': 1}),
    doc(recovery={'request_timeout_ms': 1000, 'history_timeout_ms': '60000', 'resends': 0,
                  'rejoin_after': 1, 'rescan_after': 2, 'reset_after': 9999999,
                  'reauth_timeout_ms': 30000, 'join_attempts': 1, 'scan_durations': ['4', 14, 0]}),
    doc(recovery={'scan_durations': None, 'resends': ''}),
    doc(timezone=-12), doc(timezone=14), doc(timezone=5.5), doc(timezone=''), doc(timezone=9.0),
    doc(ntp_host='pool.ntp.org'), doc(ntp_host=''),
    doc(scan_cache='', baseline_file='/b.json'), doc(scan_cache=None),
    doc(log_level='DEBUG'), doc(log_level='none'), doc(log_level='Warning'), doc(log_level=''),
    doc(_comment='x', _mqtt={'anything': 1}),
]
BAD = [
    doc(id=DROP), doc(id=''), doc(id=ID[:31]), doc(id=ID + 'X'), doc(id=12345),
    doc(id=ID[:31] + ' '), doc(id=ID[:31] + '\u00e9'),
    doc(password=DROP), doc(password='x' * 33), doc(password='pass word'), doc(password=7),
    doc(contract_amperage=DROP), doc(contract_amperage='abc'), doc(contract_amperage='35'),
    doc(contract_amperage=0), doc(contract_amperage=1000), doc(contract_amperage=50.0),
    doc(contract_amperage=' 50'), doc(contract_amperage='\uff15\uff10'), doc(contract_amperage=True),
    doc(collect_date=DROP), doc(collect_date='32'), doc(collect_date=0), doc(collect_date=[22] * 11),
    doc(collect_date=[22] * 13), doc(collect_date=[22] * 11 + ['x']), doc(collect_date=22.0),
    doc(collect_date='\u0662\u0662'), doc(collect_date={}),
    doc(charge_func=DROP), doc(charge_func='foo'), doc(charge_func=5), doc(charge_func='tokyo gas'),
    doc(tariff=TABLE), doc(charge_func='', tariff=[]), doc(charge_func='', tariff='tokyo_gas_1'),
    doc(charge_func='', tariff=TABLE, contract_amperage=50),
    doc(charge_func='', tariff=dict(TABLE, tier=1)),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[140, 1]]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': []}),
    doc(charge_func='', tariff={'base': 1}),
    doc(charge_func='', tariff={'tiers': [[None, 1]]}),
    doc(charge_func='', tariff={'base': -1, 'tiers': [[None, 1]]}),
    doc(charge_func='', tariff={'base': {}, 'tiers': [[None, 1]]}),
    doc(charge_func='', tariff={'base': {'3x': 1}, 'tiers': [[None, 1]]}),
    doc(charge_func='', tariff={'base': {'30': '1'}, 'tiers': [[None, 1]]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[None, 1], [None, 2]]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[140, 1], [140, 2], [None, 3]]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[0, 1], [None, 3]]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[140, 'x'], [None, 3]]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[140, 1, 2], [None, 3]]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': {'ab': 1}}),
    doc(charge_func='', tariff={'base': 1, 'tiers': 'ab'}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[None, 1]], 'adders': None}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[None, 1]], 'adders': {}}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[None, 1]], 'adders': [{'name': 'a'}]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[None, 1]], 'adders': [{'per_kWh': 1}]}),
    doc(charge_func='', tariff={'base': 1, 'tiers': [[None, 1]], 'adders': ['x']}),
    doc(ambient='x'), doc(ambient=[]),
    doc('ambient.channel_id', 'abc'), doc('ambient.channel_id', 0), doc('ambient.channel_id', DROP),
    doc('ambient.channel_id', 10000000), doc('display.night.start', '24:00'),
    doc('ambient.write_key', DROP), doc('ambient.write_key', 'a b'), doc('ambient.write_key', 'k' * 65),
    doc('ambient.chanel_id', 1), doc('ambient.url', 'ftp://x.example'), doc('ambient.url', 'http:/'),
    doc('ambient.url', 'https://ambidata.io'),           # lib/ambient.py speaks plain HTTP only
    doc('ambient.fields', {'d9': 'power'}), doc('ambient.fields', {'d1': 'volts'}),
    doc('ambient.fields', {'d1': 'power', 'd2': 'power'}), doc('ambient.fields', {}),
    doc('ambient.fields', {'_c': 1}), doc('ambient.fields', []), doc('ambient.fields', {'D1': 'power'}),
    doc(ambient={'url': 'ftp://off.example'}),
    doc(mqtt={}), doc(mqtt={'port': 1883}), doc(mqtt='b'), doc(mqtt=dict(MQTT, port=70000)),
    doc(mqtt=dict(MQTT, tls='yes')), doc(mqtt=dict(MQTT, tls=1)), doc(mqtt=dict(MQTT, pasword='x')),
    doc(mqtt=dict(MQTT, topic_prefix='a/#')), doc(mqtt=dict(MQTT, topic_prefix='//')),
    doc(mqtt=dict(MQTT, discovery_prefix='a+b')), doc(mqtt=dict(MQTT, user=5)),
    doc(mqtt=dict(MQTT, host='a b')), doc(mqtt=dict(MQTT, client_id='a b')),
    doc(mqtt=dict(MQTT, password='p' * 129)),
    doc(wifi={'password': 'x'}), doc(wifi={}), doc(wifi={'ssid': 'x', 'password': 5}),
    doc(wifi={'ssid': 'x' * 33}), doc(wifi={'ssid': 'x', 'pasword': 'y'}), doc(wifi=[]),
    doc('display.night.start', '25:00'), doc('display.night.end', '6.00'),
    doc('display.night.end', 600), doc('display.night.start', '12:60'),
    doc('display.night.start', '1:2:3'), doc('display.night.start', '12:'),
    doc('display.night.brightness', 101), doc('display.night.start', '06:00'),
    doc('display.night.dim', 1), doc('display.day', {}), doc('display.night', 'on'), doc(display=1),
    doc(uart={'rx': 40}), doc(uart={'tx': -1}), doc(uart={'rts': 1}), doc(uart=[0, 26]),
    doc(timezone='9'), doc(timezone=15), doc(timezone=-12.5), doc(timezone=True), doc(timezone=[9]),
    doc(ntp_host='ntp host'), doc(ntp_host=5), doc(ntp_host='n' * 254),
    doc(scan_cache='smm_scan.json'), doc(baseline_file='/'), doc(baseline_file=1),
    doc(recovery={'rejoin_after': 0}), doc(recovery={'rejoin_after': '6 0'}),
    doc(recovery={'request_timeout_ms': 999}), doc(recovery={'resends': -1}),
    doc(recovery={'reset_after': 10000000}), doc(recovery={'rejoin_after_s': 60}),
    doc(recovery={'scan_durations': [6, 20]}), doc(recovery={'scan_durations': []}),
    doc(recovery={'scan_durations': 6}), doc(recovery={'scan_durations': [True]}), doc(recovery=5),
    doc(log_level='loud'), doc(log_level=20), doc(log_level='warn'), doc(log_level='\u0131nfo'),
    doc(colect_date='22'), doc(colect_date='22', collect_date=DROP), doc(**{'': 1}),
]
# Not JSON, but the device's ujson reads them (and the host refuses them).
NONSTANDARD = [
    json.dumps(base())[:-1] + ',}',                         # a trailing comma
    json.dumps(base()).replace(', "password"', ' "password"'),   # a missing comma
    json.dumps(base()).replace('"id":', '"id"'),           # a missing colon
    json.dumps(doc(timezone=9)).replace('9}', '9.}'),      # "9."
]
NOT_JSON = ['', '{"id": "x"', "{'id': 1}", '{"id": NaN}', '[1, 2]', '"x"', '{"a": 1} x']

DEVICE = r'''
import json, sys
sys.path.insert(0, '/lib')
import config
KEYS = ('id', 'password', 'contract_amperage', 'collect_date', 'charge_func', 'ambient',
        'ambient_fields', 'mqtt', 'wifi', 'night', 'uart', 'timezone', 'tz_offset', 'ntp_host',
        'scan_cache', 'baseline_file', 'recovery', 'log_level')
for text in json.loads(open('/docs.json').read()):
    try:
        c = config.load(text)
    except config.ConfigError as e:
        print('@@' + json.dumps({'error': str(e)}))
        continue
    v = {}
    for k in KEYS:
        v[k] = json.loads(json.dumps(getattr(c, k)))
    v['id'] = v['password'] = '****'
    for s, k in (('ambient', 'write_key'), ('mqtt', 'password'), ('wifi', 'password')):
        if v[s] and v[s][k]:
            v[s][k] = '****'
    bills = [c.charge(c.contract_amperage, kwh) for kwh in (0, 100, 250, 400.5)]
    print('@@' + json.dumps({'ok': v, 'bills': bills, 'secrets': sorted(c.secrets())}))
'''

RUNNER = r'''
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
const out = [];
const mp = await loadMicroPython({ heapsize: 8 * 1024 * 1024, stdout: (l) => out.push(l), stderr: (l) => out.push(l) });
mp.FS.mkdir("/lib");
for (const f of fs.readdirSync("lib")) if (f.endsWith(".py")) mp.FS.writeFile("/lib/" + f, fs.readFileSync("lib/" + f));
mp.FS.writeFile("/docs.json", fs.readFileSync(process.env.SMM_DOCS));
try { mp.runPython(fs.readFileSync(process.env.SMM_CODE, "utf8")); } catch (e) { out.push("@@CRASH " + e.message); }
console.log(out.join("\n"));
'''


def on_device(texts, tmp_path):
    """lib/config.py's verdict on each text, in MicroPython."""
    docs = tmp_path / 'docs.json'
    docs.write_text(json.dumps(texts))
    code = tmp_path / 'device.py'
    code.write_text(DEVICE)
    env = dict(os.environ, SMM_DOCS=str(docs), SMM_CODE=str(code))
    p = subprocess.run(['node', '--input-type=module', '-e', RUNNER], cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    lines = [l[2:] for l in p.stdout.splitlines() if l.startswith('@@')]
    assert len(lines) == len(texts), p.stdout[-3000:]
    return [json.loads(l) for l in lines]


def host_values(text):
    """What CPython's lib/config.py (the source of checkconfig's settings) makes of text."""
    import config
    cfg = config.load(text)
    return [cfg.charge(cfg.contract_amperage, kwh) for kwh in (0, 100, 250, 400.5)], \
        sorted(cfg.secrets())


def test_host_and_device_accept_exactly_the_same_documents(tmp_path):
    texts = [json.dumps(d, ensure_ascii=False) for d in GOOD + BAD] + NONSTANDARD + NOT_JSON
    device = on_device(texts, tmp_path)
    for i, text in enumerate(texts):
        settings, problems = checkconfig.check(text)
        dev = device[i]
        assert 'CRASH' not in json.dumps(dev)
        if text in NONSTANDARD:
            assert 'ok' in dev, (text, dev)
            assert problems and problems[0].startswith('JSON syntax error at line 1'), problems
            continue
        if i < len(GOOD):
            assert problems == [] and 'ok' in dev, (text, problems, dev)
        elif i < len(GOOD) + len(BAD):
            assert problems and 'error' in dev, (text, settings, dev)
        assert (settings is None) == ('error' in dev), (text, problems, dev)
        if settings is not None:
            # the same values: what the host prints is what the device will use
            same = dict(settings)
            same.pop('tariff')                      # the table as given; compared by its bills
            assert same == dev['ok'], (text, settings, dev['ok'])
            bills, secrets = host_values(text)
            assert bills == dev['bills'] and secrets == dev['secrets'], text
        else:
            for p in problems:
                assert not p.startswith('the device refuses it'), (text, p)   # a rule is missing


def test_every_problem_is_named_not_just_the_first():
    d = doc(id='abc', password='x y', contract_amperage='\uff15\uff10', collect_date='32',
            charge_func='tokyo_gas_3', uart={'rx': 40, 'rts': 1}, colect_date=1,
            mqtt={'host': '', 'tls': 'yes'}, log_level='loud',
            recovery={'scan_durations': [1, 20], 'rejoin_after': 0},
            display={'night': {'start': '6:00', 'end': '06:00'}})
    settings, problems = checkconfig.check(json.dumps(d, ensure_ascii=False))
    assert settings is None
    text = '\n'.join(problems)
    for expect in ('colect_date: unknown key - did you mean "collect_date"?',
                   'id: must be 32 characters long (got a string of 3 characters)',
                   'password: must be printable ASCII without spaces: it has a space',
                   'contract_amperage: must be a whole number 1-999: only ASCII digits',
                   'collect_date: must be a day 1-31',
                   "charge_func: unknown tariff 'tokyo_gas_3' - did you mean \"tokyo_gas_2\"?",
                   'mqtt.host: missing', 'mqtt.tls: must be true or false (got "yes")',
                   'display.night.end: must differ from start (06:00)',
                   'uart.rts: unknown key (allowed here: rx, tx;',
                   'uart.rx: must be a whole number 0-39 (got 40) (26 on Wi-SUN HAT rev0.2',
                   'recovery.rejoin_after: must be a whole number 1-9999999 (got 0)',
                   'recovery.scan_durations: must be a non-empty list of scan durations 0-14',
                   'log_level: must be debug, info, warning, error or none (got "loud")'):
        assert expect in text, (expect, text)
    assert len(problems) == 14, problems


def test_tariff_mistakes_are_named():
    cases = [
        ({'base': 1, 'tiers': [[140, 1]]}, 'tariff.tiers[0]: the last tier must have no upper bound'),
        ({'base': 1, 'tiers': [[None, 1], [None, 2]]}, 'tariff.tiers[1]: comes after the open-ended'),
        ({'base': 1, 'tiers': [[140, 1], [100, 2], [None, 3]]},
         'tariff.tiers[1]: the upper bound 100 kWh must be above the one before'),
        ({'base': 1, 'tiers': [[140, 'x'], [None, 3]]}, 'tariff.tiers[0]: yen per kWh must be a number'),
        ({'base': {'3x': 1}, 'tiers': [[None, 1]]}, "tariff.base: key '3x' must be whole amperes"),
        ({'base': -5, 'tiers': [[None, 1]]}, 'tariff.base: must not be negative'),
        ({'base': 1, 'tiers': [[None, 1]], 'adders': [{'name': 'a', 'per_kWh': 1}]},
         'tariff.adders[0].per_kWh: unknown key - did you mean "per_kwh"?'),
        ({'base': 1, 'tiers': [[None, 1]], 'adders': [{'name': 'a'}]},
         'tariff.adders[0].per_kwh: missing'),
        ({'base': 1, 'tiers': [[None, 1]], 'tier': 2}, 'tariff.tier: unknown key - did you mean "tiers"?'),
        ({'base': {'30': 1}, 'tiers': [[None, 1]]},
         'contract_amperage: 50 A is not offered by tariff (allowed: 30)'),
    ]
    for table, expect in cases:
        settings, problems = checkconfig.check(json.dumps(doc(charge_func='', tariff=table)))
        assert settings is None and any(p.startswith(expect) for p in problems), (expect, problems)
    _, problems = checkconfig.check(json.dumps(doc(contract_amperage=35)))
    assert problems == ['contract_amperage: 35 A is not offered by tokyo_gas_1 (allowed: 30, 40, 50, 60)']
    _, problems = checkconfig.check(json.dumps(doc(tariff=TABLE)))
    assert problems[0].startswith('charge_func: give either charge_func or a "tariff" table, not both')


def test_json_syntax_errors_name_line_and_column():
    cases = [
        ('{\n  "id": "x"\n  "password": "y"\n}', "line 3, column 3: expected ',' or '}'"),
        ('{"a": 1,}', 'line 1, column 9: trailing comma'),
        ('{"id": "abc', 'line 1, column 12: unterminated string'),
        ('', 'line 1, column 1: unexpected end of text'),
        ('{"a" 1}', "line 1, column 6: expected ':' after a key"),
        ('{"a": [1, 2}', "line 1, column 12: expected ',' or ']'"),
        ("{'a': 1}", 'line 1, column 2: expected a quoted key'),
        ('{"a": tru}', "line 1, column 7: unexpected character 't'"),
        ('{"a": 1} x', 'line 1, column 10: extra text after the end'),
        ('{"a": -}', 'line 1, column 8: expected a digit'),
        ('{"a": "\\x"}', 'line 1, column 8: bad escape in a string'),
        ('{"a": NaN}', "line 1, column 7: unexpected character 'N'"),
        ('{"a": 01}', 'line 1, column 7: a number cannot start with 0'),
        ('{"a": "x\ny"}', 'line 1, column 9: control character in a string (unterminated string?)'),
    ]
    for text, where in cases:
        settings, problems = checkconfig.check(text)
        assert settings is None and problems == ['JSON syntax error at ' + where], (text, problems)
    assert checkconfig.check(b'{"id": "\xff"}')[1][0].startswith('SmartMeter.json: not UTF-8 text')
    assert checkconfig.check(b'\xef\xbb\xbf' + json.dumps(base()).encode())[1] == []   # a BOM
    assert checkconfig.check('[1]')[1] == ['SmartMeter.json: must be a JSON object {...} (got [1])']


def test_secrets_are_never_printed():
    bad = [doc(id=PASSWORD + ID[:10]), doc(password=PASSWORD * 3), doc(password=PASSWORD + ' '),
           doc(password=PASSWORD + '\u00e9'), doc('ambient.write_key', WRITE_KEY + ' ' + WRITE_KEY),
           doc(mqtt={'host': 'b', 'password': MQTT_PASSWORD * 12}),
           doc(wifi={'ssid': 'x', 'password': WIFI_PASSWORD * 6}), doc(id=ID + ID)]
    for d in bad:
        settings, problems = checkconfig.check(json.dumps(d, ensure_ascii=False))
        assert problems
        for secret in SECRET_VALUES + (ID[:10],):
            assert secret not in '\n'.join(problems), problems
    d = doc(mqtt=MQTT, wifi={'ssid': 'home', 'password': WIFI_PASSWORD})
    settings, problems = checkconfig.check(json.dumps(d))
    assert problems == []
    text = json.dumps(settings)
    for secret in SECRET_VALUES:
        assert secret not in text
    assert settings['id'] == settings['password'] == '****'
    assert settings['ambient']['write_key'] == settings['mqtt']['password'] == '****'
    assert settings['wifi']['password'] == '****' and settings['ambient']['channel_id'] == 12345


def test_command_line(tmp_path):
    good = tmp_path / 'good.json'
    good.write_text(json.dumps(doc(mqtt=MQTT)))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(doc(uart={'rx': 40}, contract_amperage='35')))
    tool = os.path.join(ROOT, 'tools', 'checkconfig.py')

    def run(*args):
        return subprocess.run([sys.executable, tool] + list(args), cwd=str(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    p = run(str(good))
    assert p.returncode == 0 and 'is good: contract 50 A, reading day 22, tariff tokyo_gas_1, ' \
        'Ambient on, MQTT on' in p.stdout
    assert '"night": null' in p.stdout and '"host": "broker.local"' in p.stdout
    for secret in SECRET_VALUES:
        assert secret not in p.stdout
    p = run(str(bad))
    assert p.returncode == 1 and '2 problems' in p.stdout and 'uart.rx: must be a whole number 0-39' \
        in p.stdout and 'contract_amperage: 35 A is not offered by tokyo_gas_1' in p.stdout
    p = run(str(tmp_path / 'none.json'))
    assert p.returncode == 1 and 'cannot read' in p.stdout
    (tmp_path / 'SmartMeter.json').write_text(json.dumps(base()))
    assert run().returncode == 0                    # SmartMeter.json in the current folder


def test_summary_for_deploy():
    settings, _ = checkconfig.check(json.dumps(doc(charge_func='', tariff=TABLE, contract_amperage=30,
                                                   collect_date=[1] * 12, ambient=DROP,
                                                   wifi={'ssid': 'x'})))
    assert checkconfig.summary(settings) == ('contract 30 A, reading day 1/1/1/1/1/1/1/1/1/1/1/1, '
                                             'tariff table, Ambient off, MQTT off, Wi-Fi from the file')


def test_the_names_it_knows_are_the_devices():
    # the built-in tariffs: read from lib/charge.py's own refusal of an unknown name
    import charge
    import config
    assert checkconfig.TARIFFS == ('tokyo_gas_1', 'tokyo_gas_1s', 'tokyo_gas_2')
    for name in checkconfig.TARIFFS:
        assert charge.get(name)(30, 0) > 0
    # every Ambient field the host allows is the device's, and nothing else is
    for name in checkconfig.AMBIENT_FIELDS + ('volts', 'Power'):
        d = doc('ambient.fields', {'d3': name})
        settings, problems = checkconfig.check(json.dumps(d))
        try:
            device = config.load(d).ambient_fields
        except config.ConfigError:
            device = None
        assert (device == {name: 'd3'}) == (name in checkconfig.AMBIENT_FIELDS) == (problems == [])
    # the recovery keys and their lower bounds are the device's own
    assert checkconfig.KEYS['recovery'] == tuple(sorted(config.RECOVERY_MIN)) + ('scan_durations',)
