"""SmartMeter.json on the device (lib/config.py): the original's string forms, defaults, one short
error per key naming the key and pointing to tools/checkconfig.py, and secrets kept out of
messages, and a result that holds nothing of the module (so the app can drop it after loading).
Runs under CPython and MicroPython.  (tests/host/test_checkconfig.py checks that the host tool
accepts exactly what this module accepts; tests/host/test_config_example.py measures the bytes
that dropping the module gives back.)"""

import config
from config import ConfigError

ID = '0000001234ABCDEF0000000000C0FFEE'
PASSWORD = 'PW12AB34CD56'
WRITE_KEY = 'abcdef0123456789'
MQTT_PASSWORD = 'mqtt-s3cret'
WIFI_PASSWORD = 'wifi s3cret'
DROP = object()
HINT = ' (python tools/checkconfig.py tells more)'


def original(**changes):
    """The original's keys in its string form, with changes (DROP removes a key)."""
    raw = {
        'id': ID,
        'password': PASSWORD,
        'contract_amperage': '50',
        'collect_date': '22',
        'charge_func': 'tokyo_gas_1',
        'ambient': {'channel_id': '12345', 'write_key': WRITE_KEY},
    }
    for key in changes:
        if changes[key] is DROP:
            raw.pop(key, None)
        else:
            raw[key] = changes[key]
    return raw


def error_of(raw):
    try:
        config.load(raw)
    except ConfigError as e:
        return str(e)
    raise AssertionError('ConfigError not raised for %r' % (raw,))


def test_original_string_form_loads():
    cfg = config.load(original())
    assert cfg.id == ID and cfg.rbid == ID and cfg.password == PASSWORD
    assert cfg.contract_amperage == 50
    assert cfg.collect_date == 22
    assert cfg.charge_func == 'tokyo_gas_1' and cfg.tariff is None
    assert cfg.charge(cfg.contract_amperage, 140) == 4743   # 1430 + 23.67*140 = 4743.8
    assert cfg.ambient == {'channel_id': 12345, 'write_key': WRITE_KEY,
                           'url': 'http://ambidata.io',
                           'fields': {'d1': 'current', 'd2': 'power', 'd3': 'period_kwh',
                                      'd4': 'period_yen'}}
    assert cfg.ambient_fields == {'current': 'd1', 'power': 'd2', 'period_kwh': 'd3',
                                  'period_yen': 'd4'}


def test_numbers_and_text_both_load():
    text = ('{"id": "%s", "password": "%s", "contract_amperage": 30, "collect_date": 5, '
            '"charge_func": "tokyo_gas_1s", "ambient": {"channel_id": 777, "write_key": "%s"}}'
            % (ID, PASSWORD, WRITE_KEY))
    for source in (text, text.encode(), '\ufeff' + text, ('\ufeff' + text).encode()):
        cfg = config.load(source)
        assert cfg.contract_amperage == 30 and cfg.collect_date == 5
        assert cfg.ambient['channel_id'] == 777


def test_defaults_of_optional_keys():
    cfg = config.load(original(ambient=DROP))
    assert cfg.ambient is None and cfg.mqtt is None and cfg.wifi is None and cfg.night is None
    assert cfg.ambient_fields == {'current': 'd1', 'power': 'd2', 'period_kwh': 'd3',
                                  'period_yen': 'd4'}
    assert cfg.uart == {'tx': 0, 'rx': 26}
    assert cfg.timezone == 9 and cfg.tz_offset == 32400
    assert cfg.ntp_host == 'ntp.nict.jp'
    assert cfg.scan_cache == '/flash/smm_scan.json'
    assert cfg.baseline_file == '/flash/smm_billing.json'
    assert cfg.recovery == {}
    assert cfg.log_level == 'info'
    assert not hasattr(cfg, 'display')
    # null and "" mean "not given" too
    same = config.load(original(ambient=None, mqtt=None, wifi=None, uart=None, timezone='',
                                ntp_host=None, recovery=None, log_level='', display=None))
    for key in ('ambient', 'mqtt', 'wifi', 'night', 'uart', 'timezone', 'tz_offset', 'ntp_host',
                'recovery', 'log_level'):
        assert getattr(same, key) == getattr(cfg, key), key


def test_optional_keys_given():
    cfg = config.load(original(
        uart={'rx': 36}, timezone=5.5, ntp_host='pool.ntp.org', scan_cache='',
        baseline_file='/flash/b.json',
        recovery={'rejoin_after': 3, 'reset_after': '8', 'scan_durations': [5, 6, '7'],
                  '_note': 'x'},
        log_level='DEBUG', collect_date=[20, '30', 21, 20, 22, 20, 21, 22, 20, 21, 20, 19],
        _comment='ignored'))
    assert cfg.uart == {'tx': 0, 'rx': 36}
    assert cfg.tz_offset == 19800
    assert cfg.ntp_host == 'pool.ntp.org'
    assert cfg.scan_cache is None                   # "" switches the file off
    assert cfg.baseline_file == '/flash/b.json'
    assert cfg.recovery == {'rejoin_after': 3, 'reset_after': 8, 'scan_durations': (5, 6, 7)}
    assert cfg.log_level == 'debug'
    assert cfg.collect_date == (20, 30, 21, 20, 22, 20, 21, 22, 20, 21, 20, 19)
    assert config.load(original(timezone=-3)).tz_offset == -10800


def test_recovery_bounds_are_the_sessions():
    # every key of lib/meter.py's DEFAULTS is a recovery key; the lower bounds keep a zero
    # timeout or "reset after 0 misses" (a reset loop) out
    import meter
    low = {'request_timeout_ms': 1000, 'history_timeout_ms': 1000, 'reauth_timeout_ms': 1000,
           'resends': 0, 'rejoin_after': 1, 'rescan_after': 1, 'reset_after': 1,
           'join_attempts': 1}
    assert sorted(meter.DEFAULTS) == sorted(list(low) + ['scan_durations'])
    assert config.RECOVERY_MIN == low               # (tools/checkconfig.py reads it)
    for key in low:
        assert config.load(original(recovery={key: low[key]})).recovery == {key: low[key]}
        assert config.load(original(recovery={key: '9999999'})).recovery == {key: 9999999}
        assert error_of(original(recovery={key: low[key] - 1})) == \
            'recovery.%s: must be %d-9999999%s' % (key, low[key], HINT)
    assert config.load(original(recovery={'scan_durations': [0, '14']})).recovery == \
        {'scan_durations': (0, 14)}


def test_mqtt_defaults_and_values():
    cfg = config.load(original(mqtt={'host': 'broker.local'}))
    assert cfg.mqtt == {'host': 'broker.local', 'port': 1883, 'user': None, 'password': None,
                        'client_id': None, 'topic_prefix': 'smartmeter',
                        'discovery_prefix': 'homeassistant', 'tls': False}
    cfg = config.load(original(mqtt={'host': 'b', 'port': '8883', 'user': 'u v',
                                     'password': MQTT_PASSWORD, 'client_id': 'smm1',
                                     'topic_prefix': '/home/meter/', 'discovery_prefix': '',
                                     'tls': True, '_why': 'x'}))
    assert cfg.mqtt['port'] == 8883 and cfg.mqtt['tls'] is True and cfg.mqtt['user'] == 'u v'
    assert cfg.mqtt['topic_prefix'] == 'home/meter'
    assert cfg.mqtt['discovery_prefix'] is None     # "" switches discovery off
    assert config.load(original(mqtt={'host': 'b', 'tls': None})).mqtt['tls'] is False


def test_wifi():
    cfg = config.load(original(wifi={'ssid': 'my home', 'password': WIFI_PASSWORD}))
    assert cfg.wifi == {'ssid': 'my home', 'password': WIFI_PASSWORD}
    assert config.load(original(wifi={'ssid': 'open'})).wifi == {'ssid': 'open', 'password': ''}


def test_ambient_options():
    cfg = config.load(original(ambient={'channel_id': 1, 'write_key': WRITE_KEY,
                                        'url': 'http://localhost:8080/',
                                        'fields': {'d1': 'power', 'd5': 'export_kwh', '_c': 1}}))
    assert cfg.ambient['url'] == 'http://localhost:8080'
    assert cfg.ambient['fields'] == {'d1': 'power', 'd5': 'export_kwh'}
    assert cfg.ambient_fields == {'power': 'd1', 'export_kwh': 'd5'}
    # the original's example had both empty: Ambient is off
    assert config.load(original(ambient={'channel_id': '', 'write_key': ''})).ambient is None
    assert config.load(original(ambient={})).ambient is None
    assert config.load(original(ambient=None)).ambient is None


def test_data_driven_tariff_instead_of_charge_func():
    spec = {'base': {'30': 858.0}, 'tiers': [[140, 23.67], [350, 23.88], [None, 26.41]],
            'adders': [{'name': 'fuel_cost_adjustment', 'per_kwh': -1.2},
                       {'name': 'renewable_levy', 'per_kwh': 3.49}]}
    cfg = config.load(original(charge_func='', tariff=spec, contract_amperage='30'))
    assert cfg.charge_func is None and cfg.tariff is spec
    assert cfg.charge(cfg.contract_amperage, 200) == 6062   # 5604.6 + 200*2.29 = 6062.6
    cfg = config.load(original(charge_func=DROP, tariff={'base': 286, 'tiers': [[None, 20]]},
                               contract_amperage='35'))
    assert cfg.charge(35, 10) == 486


def test_display_night_window():
    cfg = config.load(original(display={'night': {'brightness': 5}}))
    assert cfg.night == (1380, 360, 5)
    cfg = config.load(original(display={'night': {'start': '01:00', 'end': '5:30'}}))
    assert cfg.night == (60, 330, 10)
    assert config.load(original(display={})).night is None
    assert config.load(original(display={'night': None})).night is None


KNOWN = 'tokyo_gas_1, tokyo_gas_1s, tokyo_gas_2'
ERRORS = [
    ({'id': ID[:31]}, 'id: must be 32-32 characters'),
    ({'id': DROP}, 'id: missing'),
    ({'id': 12345}, 'id: must be 32-32 characters'),
    ({'id': ID[:31] + ' '}, 'id: invalid'),
    ({'password': ''}, 'password: missing'),
    ({'password': 'x' * 33}, 'password: must be 1-32 characters'),
    ({'password': 'pass word'}, 'password: invalid'),
    ({'contract_amperage': 'abc'}, 'contract_amperage: must be 1-999'),
    ({'contract_amperage': '35'},
     'contract_amperage: 35 A is not offered by tokyo_gas_1 (allowed: 30, 40, 50, 60)'),
    ({'contract_amperage': DROP}, 'contract_amperage: missing'),
    ({'collect_date': '32'}, 'collect_date: must be 1-31, or a list of 12 days'),
    ({'collect_date': [22] * 11}, 'collect_date: must be 1-31, or a list of 12 days'),
    ({'collect_date': ''}, 'collect_date: missing'),
    ({'charge_func': 'foo'}, 'charge_func: must be one of ' + KNOWN),
    ({'charge_func': DROP}, 'charge_func: missing'),
    ({'charge_func': 5}, 'charge_func: must be 1-64 characters'),
    ({'tariff': {'base': 1, 'tiers': [[None, 1]]}}, 'charge_func: invalid'),
    ({'charge_func': '', 'tariff': {'base': 1, 'tiers': [[140, 1]]}}, 'tariff: invalid'),
    ({'charge_func': '', 'tariff': []}, 'tariff: invalid'),
    ({'ambient': 'x'}, 'ambient: invalid'),
    ({'ambient': {'channel_id': 'abc', 'write_key': WRITE_KEY}},
     'ambient.channel_id: must be 1-9999999'),
    ({'ambient': {'channel_id': '1'}}, 'ambient.write_key: missing'),
    ({'ambient': {'write_key': WRITE_KEY}}, 'ambient.channel_id: missing'),
    ({'ambient': {'chanel_id': '1'}}, 'ambient.chanel_id: unknown key'),
    # a typo of a required key: the key it misses is named first (checkconfig names both)
    ({'ambient': {'chanel_id': '1', 'write_key': WRITE_KEY}}, 'ambient.channel_id: missing'),
    ({'colect_date': '22', 'collect_date': DROP}, 'collect_date: missing'),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'url': 'https://ambidata.io'}},
     'ambient.url'),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'url': 'ftp://x.example'}},
     'ambient.url: invalid'),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'fields': {'d9': 'power'}}},
     'ambient.fields.d9: invalid'),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'fields': {'d1': 'volts'}}},
     'ambient.fields.d1: invalid'),
    ({'ambient': {'fields': {'d1': 'power', 'd2': 'power'}}}, 'ambient.fields.d'),
    ({'ambient': {'fields': {}}}, 'ambient.fields: invalid'),
    ({'ambient': {'fields': []}}, 'ambient.fields: invalid'),
    ({'uart': {'rx': 40}}, 'uart.rx: must be 0-39'),
    ({'uart': {'rts': 1}}, 'uart.rts: unknown key'),
    ({'uart': [0, 26]}, 'uart: invalid'),
    ({'timezone': '9'}, 'timezone: invalid'),
    ({'timezone': 15}, 'timezone: invalid'),
    ({'timezone': True}, 'timezone: invalid'),
    ({'ntp_host': 'ntp host'}, 'ntp_host: invalid'),
    ({'ntp_host': 5}, 'ntp_host: must be 1-253 characters'),
    ({'mqtt': {'port': 1883}}, 'mqtt.host: missing'),
    ({'mqtt': {}}, 'mqtt.host: missing'),
    ({'mqtt': {'host': 'b', 'port': 70000}}, 'mqtt.port: must be 1-65535'),
    ({'mqtt': {'host': 'b', 'tls': 'yes'}}, 'mqtt.tls: invalid'),
    ({'mqtt': {'host': 'b', 'tls': 1}}, 'mqtt.tls: invalid'),
    ({'mqtt': {'host': 'b', 'topic_prefix': 'a/#'}}, 'mqtt.topic_prefix: invalid'),
    ({'mqtt': {'host': 'b', 'topic_prefix': '/'}}, 'mqtt.topic_prefix: invalid'),
    ({'mqtt': {'host': 'b', 'discovery_prefix': 'a+b'}}, 'mqtt.discovery_prefix: invalid'),
    ({'mqtt': {'host': 'b', 'pasword': 'x'}}, 'mqtt.pasword: unknown key'),
    ({'mqtt': {'host': 'b', 'user': 5}}, 'mqtt.user: must be 1-64 characters'),
    ({'mqtt': 'b'}, 'mqtt: invalid'),
    ({'wifi': {'password': 'x'}}, 'wifi.ssid: missing'),
    ({'wifi': {'ssid': 'x', 'password': 5}}, 'wifi.password: must be 1-64 characters'),
    ({'wifi': {'ssid': 'x' * 33}}, 'wifi.ssid: must be 1-32 characters'),
    ({'display': {'night': {'start': '25:00'}}}, 'display.night.start: invalid'),
    ({'display': {'night': {'end': '6.00'}}}, 'display.night.end: invalid'),
    ({'display': {'night': {'end': 600}}}, 'display.night.end: invalid'),
    ({'display': {'night': {'start': '12:60'}}}, 'display.night.start: invalid'),
    ({'display': {'night': {'brightness': 101}}}, 'display.night.brightness: must be 0-100'),
    ({'display': {'night': {'start': '06:00'}}}, 'display.night.end: invalid'),
    ({'display': {'night': {'dim': 1}}}, 'display.night.dim: unknown key'),
    ({'display': {'day': {}}}, 'display.day: unknown key'),
    ({'display': {'night': 'on'}}, 'display.night: invalid'),
    ({'scan_cache': 'smm_scan.json'}, 'scan_cache: invalid'),
    ({'baseline_file': '/'}, 'baseline_file: must be 2-64 characters'),
    ({'recovery': {'rejoin_after': 0}}, 'recovery.rejoin_after: must be 1-9999999'),
    ({'recovery': {'rejoin_after': '6 0'}}, 'recovery.rejoin_after: must be 1-9999999'),
    ({'recovery': {'request_timeout_ms': 0}}, 'recovery.request_timeout_ms: must be 1000-9999999'),
    ({'recovery': {'resends': -1}}, 'recovery.resends: must be 0-9999999'),
    ({'recovery': {'rejoin_after_s': 60}}, 'recovery.rejoin_after_s: unknown key'),
    ({'recovery': {'scan_durations': [6, 20]}}, 'recovery.scan_durations: invalid'),
    ({'recovery': {'scan_durations': []}}, 'recovery.scan_durations: invalid'),
    ({'recovery': {'scan_durations': 6}}, 'recovery.scan_durations: invalid'),
    ({'log_level': 'loud'}, 'log_level: invalid'),
    ({'log_level': 20}, 'log_level: must be 1-64 characters'),
    ({'colect_date': '22', 'collect_date': 1}, 'colect_date: unknown key'),
    ({'_comment': 'x', 'ntp_hots': 'x'}, 'ntp_hots: unknown key'),
]


def test_each_key_has_a_short_error_naming_it():
    for changes, expect in ERRORS:
        msg = error_of(original(**changes))
        assert msg.startswith(expect) and msg.endswith(HINT), (changes, msg, expect)


def test_not_an_object_or_not_json():
    for source in ('[1, 2]', '"x"', '3', [1], None):
        assert error_of(source) == 'SmartMeter.json: invalid' + HINT
    for source in ('{"id": "x"', '', 'id = 1', b'\xff\xfe{}'):
        assert error_of(source) == 'SmartMeter.json: not valid JSON' + HINT


def test_secrets_never_in_messages():
    # messages name keys, never values
    secret_cases = [
        original(id=PASSWORD + ID[:10]),
        original(password=PASSWORD * 3),
        original(password=PASSWORD + ' '),
        original(ambient={'channel_id': '1', 'write_key': WRITE_KEY + ' ' + WRITE_KEY}),
        original(mqtt={'host': 'b', 'password': 7}),
        original(wifi={'ssid': 'x', 'password': WIFI_PASSWORD * 7}),
    ]
    for raw in secret_cases:
        msg = error_of(raw)
        for secret in (ID, PASSWORD, WRITE_KEY, ID[:10], WIFI_PASSWORD):
            assert secret not in msg, msg


def test_secrets_lists_every_secret_once_set():
    cfg = config.load(original(mqtt={'host': 'b', 'password': MQTT_PASSWORD},
                               wifi={'ssid': 'home', 'password': WIFI_PASSWORD}))
    assert sorted(cfg.secrets()) == sorted([ID, PASSWORD, WRITE_KEY, MQTT_PASSWORD, WIFI_PASSWORD])
    cfg.secrets().append('x')                       # a copy: the config keeps its own
    assert len(cfg.secrets()) == 5
    for text in (repr(cfg), str(cfg)):
        for secret in (ID, PASSWORD, WRITE_KEY, MQTT_PASSWORD, WIFI_PASSWORD):
            assert secret not in text
    # only what is set: no Ambient, an MQTT broker without a password, open Wi-Fi
    cfg = config.load(original(ambient=DROP, mqtt={'host': 'b'}, wifi={'ssid': 'open'}))
    assert sorted(cfg.secrets()) == sorted([ID, PASSWORD])


def test_secrets_feed_the_logger():
    import log
    lines = []
    cfg = config.load(original())
    lg = log.Logger('app', sink=lines.append)
    lg.set_secrets(cfg.secrets())
    lg.info('config %s %s %s', cfg.id, cfg.password.lower(), cfg.ambient['write_key'])
    assert lines == ['INFO app: config **** **** ****']


def test_load_does_not_change_its_input():
    raw = original(mqtt={'host': 'b', 'topic_prefix': '/x/'}, recovery={'scan_durations': [5]},
                   ambient={'channel_id': '1', 'write_key': WRITE_KEY,
                            'fields': {'d1': 'power', '_c': 1}})
    before = repr(raw)
    config.load(raw)
    assert repr(raw) == before


def test_load_file_reports_a_missing_file():
    try:
        config.load_file('tests/data/no-such-SmartMeter.json')
    except ConfigError as e:
        assert str(e) == 'tests/data/no-such-SmartMeter.json: missing' + HINT
        return
    raise AssertionError('ConfigError not raised')


def _config_functions(value, own, seen):
    """The functions reachable from value whose globals are own (config.py's), recursively
    through dicts, lists, tuples, class namespaces and bound methods."""
    found = []
    if any(value is v for v in seen):
        return found
    seen.append(value)
    if isinstance(value, dict):
        for key in value:
            found += _config_functions(key, own, seen) + _config_functions(value[key], own, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += _config_functions(item, own, seen)
    elif isinstance(value, type):
        for key in dir(value):
            if not key.startswith('__'):
                found += _config_functions(getattr(value, key), own, seen)
    elif callable(value):
        func = getattr(value, '__func__', value)         # CPython's bound method
        if getattr(func, '__globals__', None) is own:
            found.append(value)
        # MicroPython shows a bound method of a Python function as "<bound_method ...
        # <function name at 0x...>>" and one of a built-in's as "... <function>>"
        if type(value).__name__ == 'bound_method' and '<function ' in repr(value):
            found.append(value)
    return found


def test_the_loaded_config_keeps_nothing_of_this_module():
    # apps/SMM.py drops the config module once the settings are loaded (del sys.modules[...],
    # gc.collect()) to get its code back: nothing the result holds may keep it alive, so no
    # function of config.py (its globals are the module's), no bound method of one, no class
    # with config.py's functions.  (tests/host/test_config_example.py measures the bytes.)
    own = config.load.__globals__
    assert own is config._get.__globals__ and own is config.__dict__
    table = {'base': {'30': 858.0}, 'tiers': [[140, 23.67], [None, 26.41]],
             'adders': [{'name': 'levy', 'per_kwh': 1}]}
    for raw in (original(), original(ambient=DROP),
                original(mqtt={'host': 'b', 'password': MQTT_PASSWORD}, recovery={'resends': 2},
                         wifi={'ssid': 'home', 'password': WIFI_PASSWORD},
                         display={'night': {'start': '22:00'}}, charge_func='', tariff=table,
                         contract_amperage=30, collect_date=[22] * 12)):
        cfg = config.load(raw)
        assert isinstance(cfg, type)                    # a bare namespace made with type()
        names = [k for k in dir(cfg) if not k.startswith('__')]
        assert 'charge' in names and 'secrets' in names and 'mqtt' in names
        assert _config_functions(cfg, own, []) == []
        # the two callables it holds: the tariff is lib/charge.py's, secrets a list's copy
        import charge
        assert cfg.charge.__globals__ is charge.__dict__
        assert cfg.secrets() == cfg.secrets() and cfg.secrets() is not cfg.secrets()
    # and the check itself finds what it looks for
    assert _config_functions({'x': [(config._fail,)]}, own, []) == [config._fail]
