"""SmartMeter.json checks: the original's string forms, defaults, one error per key naming the
key, JSON syntax positions, and secrets kept out of messages and repr."""

import config
from config import ConfigError

ID = '0000001234ABCDEF0000000000C0FFEE'
PASSWORD = 'PW12AB34CD56'
WRITE_KEY = 'abcdef0123456789'
MQTT_PASSWORD = 'mqtt-s3cret'
WIFI_PASSWORD = 'wifi-s3cret'
DROP = object()


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
    raise AssertionError('ConfigError not raised')


def test_original_string_form_loads():
    cfg = config.load(original())
    assert cfg.id == ID and cfg.password == PASSWORD
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
    assert cfg.rbid == ID


def test_numbers_and_text_both_load():
    text = ('{"id": "%s", "password": "%s", "contract_amperage": 30, "collect_date": 5, '
            '"charge_func": "tokyo_gas_1s", "ambient": {"channel_id": 777, "write_key": "%s"}}'
            % (ID, PASSWORD, WRITE_KEY))
    for source in (text, text.encode(), '\ufeff' + text):
        cfg = config.load(source)
        assert cfg.contract_amperage == 30 and cfg.collect_date == 5
        assert cfg.ambient['channel_id'] == 777


def test_defaults_of_optional_keys():
    cfg = config.load(original(ambient=DROP))
    assert cfg.ambient is None and cfg.mqtt is None and cfg.wifi is None
    assert cfg.uart == {'tx': 0, 'rx': 26}
    assert cfg.timezone == 9 and cfg.tz_offset == 32400
    assert cfg.ntp_host == 'ntp.nict.jp'
    assert cfg.scan_cache == '/flash/smm_scan.json'
    assert cfg.baseline_file == '/flash/smm_billing.json'
    assert cfg.recovery == {}
    assert cfg.display == {'night': None} and cfg.night is None
    assert cfg.night_brightness(0) is None
    assert cfg.log_level == 20


def test_optional_keys_given():
    cfg = config.load(original(
        uart={'rx': 36}, timezone=5.5, ntp_host='pool.ntp.org', scan_cache='',
        recovery={'rejoin_after': 3, 'reset_after': 8, 'scan_durations': [5, 6, 7], '_note': 'x'},
        log_level='debug', collect_date=[20, '30', 21, 20, 22, 20, 21, 22, 20, 21, 20, 19],
        _comment='ignored'))
    assert cfg.uart == {'tx': 0, 'rx': 36}
    assert cfg.tz_offset == 19800
    assert cfg.ntp_host == 'pool.ntp.org'
    assert cfg.scan_cache is None
    assert cfg.recovery == {'rejoin_after': 3, 'reset_after': 8, 'scan_durations': (5, 6, 7)}
    assert cfg.log_level == 10
    assert cfg.collect_date == (20, 30, 21, 20, 22, 20, 21, 22, 20, 21, 20, 19)


def test_mqtt_defaults_and_values():
    cfg = config.load(original(mqtt={'host': 'broker.local'}))
    assert cfg.mqtt == {'host': 'broker.local', 'port': 1883, 'user': None, 'password': None,
                        'client_id': None, 'topic_prefix': 'smartmeter',
                        'discovery_prefix': 'homeassistant', 'tls': False}
    cfg = config.load(original(mqtt={'host': 'b', 'port': '8883', 'user': 'u',
                                     'password': MQTT_PASSWORD, 'client_id': 'smm1',
                                     'topic_prefix': 'home/meter/', 'discovery_prefix': '',
                                     'tls': True}))
    assert cfg.mqtt['port'] == 8883 and cfg.mqtt['tls'] is True
    assert cfg.mqtt['topic_prefix'] == 'home/meter'
    assert cfg.mqtt['discovery_prefix'] is None     # "" switches discovery off


def test_ambient_options():
    cfg = config.load(original(ambient={'channel_id': 1, 'write_key': WRITE_KEY,
                                        'url': 'http://localhost:8080/',
                                        'fields': {'d1': 'power', 'd5': 'export_kwh'}}))
    assert cfg.ambient['url'] == 'http://localhost:8080'
    assert cfg.ambient['fields'] == {'d1': 'power', 'd5': 'export_kwh'}
    assert cfg.ambient_fields == {'power': 'd1', 'export_kwh': 'd5'}
    # the original's example had both empty: Ambient is off
    assert config.load(original(ambient={'channel_id': '', 'write_key': ''})).ambient is None
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
    assert cfg.display['night'] == {'start': 1380, 'end': 360, 'brightness': 5}
    assert cfg.night == (1380, 360)
    for minute, expect in ((1379, None), (1380, 5), (0, 5), (359, 5), (360, None), (720, None)):
        assert cfg.night_brightness(minute) == expect, minute
    cfg = config.load(original(display={'night': {'start': '01:00', 'end': '05:30'}}))
    assert cfg.night_brightness(59) is None and cfg.night_brightness(60) == 10
    assert cfg.night_brightness(329) == 10 and cfg.night_brightness(330) is None


KNOWN = 'tokyo_gas_1, tokyo_gas_1s, tokyo_gas_2'
ERRORS = [
    ({'id': ID[:31]}, 'id: must be 32 characters (got 31)'),
    ({'id': DROP}, 'id: missing'),
    ({'id': 12345}, 'id: must be a string (got a number)'),
    ({'id': ID[:31] + ' '}, 'id: must be printable ASCII without spaces'),
    ({'password': ''}, 'password: missing'),
    ({'password': 'x' * 33}, 'password: must be 1-32 characters (got 33)'),
    ({'password': 'pass word'}, 'password: must be printable ASCII without spaces'),
    ({'contract_amperage': 'abc'},
     "contract_amperage: must be a whole number of amperes such as 50 (got 'abc')"),
    ({'contract_amperage': '35'},
     'contract_amperage: 35 A is not offered by tokyo_gas_1 (allowed: 30, 40, 50, 60)'),
    ({'contract_amperage': DROP}, 'contract_amperage: missing'),
    ({'collect_date': '32'}, 'collect_date: must be a day 1-31 or a list of 12 days'),
    ({'collect_date': [22] * 11}, 'collect_date: must be a day 1-31 or a list of 12 days'),
    ({'collect_date': ''}, 'collect_date: missing'),
    ({'charge_func': 'foo'}, "charge_func: unknown tariff 'foo' (known: %s)" % KNOWN),
    ({'charge_func': DROP}, 'charge_func: missing (known: %s; or give a "tariff" table)' % KNOWN),
    ({'charge_func': 5}, 'charge_func: must be a tariff name (got a number)'),
    ({'tariff': {'base': 1, 'tiers': [[None, 1]]}},
     'charge_func: give either charge_func or tariff, not both'),
    ({'charge_func': '', 'tariff': {'base': 1, 'tiers': [[140, 1]]}},
     'tariff.tiers[0]: the last tier must have no upper bound (null)'),
    ({'charge_func': '', 'tariff': {'base': 1, 'tiers': [[None, 1]], 'x': 1}},
     "tariff: unknown key 'x' (allowed: adders, base, name, tiers)"),
    ({'charge_func': '', 'tariff': []},
     'tariff: must be an object {"base": ..., "tiers": [...]} (got a list)'),
    ({'ambient': 'x'}, 'ambient: must be an object {...} (got a string)'),
    ({'ambient': {'channel_id': 'abc', 'write_key': WRITE_KEY}},
     "ambient.channel_id: must be a whole number 1-999999999 (got 'abc')"),
    ({'ambient': {'channel_id': '1'}}, 'ambient.write_key: missing'),
    ({'ambient': {'write_key': WRITE_KEY}}, 'ambient.channel_id: missing'),
    ({'ambient': {'chanel_id': '1', 'write_key': WRITE_KEY}},
     'ambient.chanel_id: unknown key (known: channel_id, fields, url, write_key)'),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'url': 'ftp://x'}},
     "ambient.url: must start with http:// or https:// (got 'ftp://x')"),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'fields': {'d9': 'power'}}},
     'ambient.fields.d9: unknown key (known: d1..d8)'),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'fields': {'d1': 'volts'}}},
     "ambient.fields.d1: must be one of %s (got 'volts')" % ', '.join(config.AMBIENT_FIELDS)),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY,
                  'fields': {'d1': 'power', 'd2': 'power'}}},
     "ambient.fields.d2: 'power' is already sent as d1"),
    ({'ambient': {'channel_id': '1', 'write_key': WRITE_KEY, 'fields': {}}},
     'ambient.fields: must map at least one of d1..d8 to a name'),
    ({'uart': {'rx': 40}}, 'uart.rx: must be a whole number 0-39 (got 40)'),
    ({'uart': {'rts': 1}}, 'uart.rts: unknown key (known: rx, tx)'),
    ({'uart': [0, 26]}, 'uart: must be an object {...} (got a list)'),
    ({'timezone': '9'}, "timezone: must be hours from UTC, -12 to 14 (got '9')"),
    ({'timezone': 15}, 'timezone: must be hours from UTC, -12 to 14 (got 15)'),
    ({'ntp_host': ''}, 'ntp_host: must be a non-empty string (got an empty string)'),
    ({'ntp_host': 'ntp host'}, "ntp_host: must be printable ASCII without spaces (got 'ntp host')"),
    ({'mqtt': {'port': 1883}}, 'mqtt.host: missing'),
    ({'mqtt': {'host': 'b', 'port': 70000}}, 'mqtt.port: must be a whole number 1-65535 (got 70000)'),
    ({'mqtt': {'host': 'b', 'tls': 'yes'}}, 'mqtt.tls: must be true or false (got a string)'),
    ({'mqtt': {'host': 'b', 'topic_prefix': 'a/#'}},
     "mqtt.topic_prefix: must not contain + or # (got 'a/#')"),
    ({'mqtt': {'host': 'b', 'pasword': 'x'}}, 'mqtt.pasword: unknown key (known: '),
    ({'mqtt': {'host': 'b', 'user': 5}}, 'mqtt.user: must be a string (got a number)'),
    ({'wifi': {'password': 'x'}}, 'wifi.ssid: must be a string of 1-32 characters'),
    ({'wifi': {'ssid': 'x', 'password': 5}}, 'wifi.password: must be a string of 0-64 characters'),
    ({'display': {'night': {'start': '25:00'}}},
     "display.night.start: must be a time \"HH:MM\" (got '25:00')"),
    ({'display': {'night': {'end': '6:00'}}},
     "display.night.end: must be a time \"HH:MM\" (got '6:00')"),
    ({'display': {'night': {'brightness': 101}}},
     'display.night.brightness: must be a whole number 0-100 (got 101)'),
    ({'display': {'night': {'start': '06:00'}}}, 'display.night: start and end must differ'),
    ({'display': {'day': {}}}, 'display.day: unknown key (known: night)'),
    ({'scan_cache': 'smm_scan.json'},
     'scan_cache: must be an absolute path such as /flash/smm_scan.json'),
    ({'recovery': {'rejoin_after': 0}}, 'recovery.rejoin_after: must be a whole number >= 1 (got 0)'),
    ({'recovery': {'rejoin_after': '60'}}, "recovery.rejoin_after: must be a whole number >= 1 (got '60')"),
    ({'recovery': {'request_timeout_ms': 0}}, 'recovery.request_timeout_ms: must be a whole number >= 1000 (got 0)'),
    ({'recovery': {'resends': -1}}, 'recovery.resends: must be a whole number >= 0 (got -1)'),
    ({'recovery': {'rejoin_after_s': 60}}, 'recovery.rejoin_after_s: unknown setting (known: scan_durations, '),
    ({'recovery': {'scan_durations': [6, 20]}}, 'recovery.scan_durations: must be a list of scan durations 0-14'),
    ({'log_level': 'loud'}, 'log_level: must be one of debug, info, warning, error, none'),
    ({'colect_date': '22'}, 'colect_date: unknown key (known: ambient, baseline_file, '),
]


def test_each_key_has_a_clear_error():
    for changes, expect in ERRORS:
        msg = error_of(original(**changes))
        assert msg.startswith(expect), (changes, msg, expect)


def test_top_level_must_be_an_object():
    assert error_of('[1, 2]') == 'SmartMeter.json: must be a JSON object {...} (got a list)'


def test_json_syntax_errors_name_the_position():
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
    ]
    for text, where in cases:
        msg = error_of(text)
        assert msg == 'JSON syntax error at ' + where, (text, msg)


def test_secrets_never_in_messages_or_repr():
    secret_cases = [
        original(id=PASSWORD + ID[:10]),
        original(password=PASSWORD * 3),
        original(password=PASSWORD + ' '),
        original(ambient={'channel_id': '1', 'write_key': WRITE_KEY + ' ' + WRITE_KEY}),
        original(mqtt={'host': 'b', 'password': 7}),
    ]
    for raw in secret_cases:
        msg = error_of(raw)
        for secret in (ID, PASSWORD, WRITE_KEY, ID[:10]):
            assert secret not in msg, msg
    cfg = config.load(original(mqtt={'host': 'b', 'password': MQTT_PASSWORD},
                               wifi={'ssid': 'home', 'password': WIFI_PASSWORD}))
    text = repr(cfg) + str(cfg) + repr(cfg.redacted())
    for secret in (ID, PASSWORD, WRITE_KEY, MQTT_PASSWORD, WIFI_PASSWORD):
        assert secret not in text
    red = cfg.redacted()
    assert red['id'] == '****' and red['password'] == '****'
    assert red['ambient']['write_key'] == '****' and red['mqtt']['password'] == '****'
    assert red['wifi']['password'] == '****'
    assert red['ambient']['channel_id'] == 12345 and red['mqtt']['host'] == 'b'
    assert cfg.ambient['write_key'] == WRITE_KEY     # the real values stay usable
    assert sorted(cfg.secrets()) == sorted([ID, PASSWORD, WRITE_KEY, MQTT_PASSWORD, WIFI_PASSWORD])


def test_secrets_feed_the_logger():
    import log
    lines = []
    cfg = config.load(original())
    lg = log.Logger('app', sink=lines.append)
    lg.set_secrets(cfg.secrets())
    lg.info('config %s %s %s', cfg.id, cfg.password, cfg.ambient['write_key'])
    assert lines == ['INFO app: config **** **** ****']


def test_load_does_not_change_its_input():
    raw = original()
    before = repr(raw)
    config.load(raw)
    assert repr(raw) == before


def test_load_file_reports_a_missing_file():
    try:
        config.load_file('tests/data/no-such-SmartMeter.json')
    except ConfigError as e:
        assert str(e).startswith('tests/data/no-such-SmartMeter.json: cannot read')
        return
    raise AssertionError('ConfigError not raised')
