"""Tariffs: every tier boundary with hand-computed yen, continuity across boundaries, contract
amperage as string or number, registry and data-driven tables, and clear errors.  (A tariff is a
plain function f(contract_amperage, kwh) -> int yen; every refusal is a ValueError whose message
starts with the setting's name.)"""

import charge


tokyo_gas_1 = charge.get('tokyo_gas_1')
tokyo_gas_1s = charge.get('tokyo_gas_1s')
tokyo_gas_2 = charge.get('tokyo_gas_2')


def raises(func, *args):
    try:
        func(*args)
    except ValueError as e:
        return str(e)
    raise AssertionError('ValueError not raised by %r%r' % (func, args))


def test_tokyo_gas_1_every_boundary():
    f = charge.get('tokyo_gas_1')
    table = [
        ('30', 0, 858),       # base only
        ('30', 100, 3225),    # 858 + 23.67*100 = 858 + 2367 = 3225
        ('30', 140, 4171),    # 858 + 23.67*140 = 858 + 3313.8 = 4171.8
        ('30', 140.5, 4183),  # 4171.8 + 23.88*0.5 = 4183.74
        ('30', 200, 5604),    # 4171.8 + 23.88*60 = 4171.8 + 1432.8 = 5604.6
        ('30', 350, 9186),    # 4171.8 + 23.88*210 = 4171.8 + 5014.8 = 9186.6
        ('30', 351, 9213),    # 9186.6 + 26.41*1 = 9213.01
        ('30', 400, 10507),   # 9186.6 + 26.41*50 = 9186.6 + 1320.5 = 10507.1 (original: 10152)
        ('40', 140, 4457),    # 1144 + 3313.8 = 4457.8
        ('50', 350, 9758),    # 1430 + 3313.8 + 5014.8 = 9758.6
        ('60', 400, 11365),   # 1716 + 3313.8 + 5014.8 + 1320.5 = 11365.1
    ]
    for contract, kwh, yen in table:
        assert f(contract, kwh) == yen, (contract, kwh, f(contract, kwh), yen)


def test_tokyo_gas_1s_every_boundary():
    f = charge.get('tokyo_gas_1s')
    table = [
        ('30', 0, 858),       # 30 A was missing in the original (KeyError)
        ('10', 50, 1278),     # 286 + 19.85*50 = 286 + 992.5 = 1278.5
        ('15', 0, 429),
        ('20', 0, 572),
        ('30', 120, 3240),    # 858 + 19.85*120 = 858 + 2382 = 3240
        ('30', 300, 7803),    # 3240 + 25.35*180 = 3240 + 4563 = 7803
        ('30', 301, 7830),    # 7803 + 27.48 = 7830.48
        ('30', 500, 13299),   # 7803 + 27.48*200 = 7803 + 5496 = 13299 (original: 13043)
        ('60', 200, 6126),    # 1716 + 2382 + 25.35*80 = 1716 + 2382 + 2028 = 6126
        ('40', 0, 1144),
        ('50', 0, 1430),
    ]
    for contract, kwh, yen in table:
        assert f(contract, kwh) == yen, (contract, kwh, f(contract, kwh), yen)


def test_tokyo_gas_2_every_boundary():
    f = charge.get('tokyo_gas_2')
    table = [
        (0, 286),
        (100, 2649),    # 286 + 23.63*100 = 2649
        (300, 7375),    # 286 + 23.63*300 = 286 + 7089 = 7375 (in single-precision floats,
                        # as on the device, the sum is 7374.9995 and int() gave 7374)
        (360, 8792),    # 286 + 23.63*360 = 286 + 8506.8 = 8792.8 (original: 286 + 19.85*360 = 7432)
        (361, 8819),    # 8792.8 + 26.47 = 8819.27
        (400, 9851),    # 8792.8 + 26.47*40 = 8792.8 + 1058.8 = 9851.6
    ]
    for kwh, yen in table:
        assert f('50', kwh) == yen, (kwh, f('50', kwh), yen)
    assert f(None, 100) == 2649   # the base does not depend on the contract


def check_continuous(f, contract, boundary, max_rate):
    """Bills 0.1 kWh apart around a boundary never fall and never rise by more than one
    0.1 kWh step at the highest rate plus one yen of truncation."""
    step_max = int(max_rate * 0.1) + 2
    previous = None
    for i in range(-30, 31):
        yen = f(contract, (boundary * 10 + i) / 10.0)
        if previous is not None:
            assert 0 <= yen - previous <= step_max, (boundary, i, previous, yen)
        previous = yen


def test_bills_are_continuous_across_every_boundary():
    for contract in ('30', '60'):
        for boundary in (140, 350):
            check_continuous(tokyo_gas_1, contract, boundary, 26.41)
        for boundary in (120, 300):
            check_continuous(tokyo_gas_1s, contract, boundary, 27.48)
    check_continuous(tokyo_gas_2, '30', 360, 26.47)


def test_bill_is_continuous_in_one_kwh_steps_to_1000():
    for f, max_rate in ((tokyo_gas_1, 26.41), (tokyo_gas_1s, 27.48),
                        (tokyo_gas_2, 26.47)):
        previous = f(40, 0)
        for kwh in range(1, 1001):
            yen = f(40, kwh)
            assert 0 <= yen - previous <= int(max_rate) + 1, (f, kwh)
            previous = yen


def test_contract_as_string_or_number():
    f = tokyo_gas_1
    # 1430 + 3313.8 + 1432.8 = 6176.6
    assert f('50', 200) == f(50, 200) == f('050', 200) == 6176
    assert charge.whole(30, 1, 999) == charge.whole('30', 1, 999) == charge.whole('030', 1, 999) == 30
    # only ASCII digits: a full-width "５０" or a padded " 50" is refused on every Python alike
    for bad in (50.0, ' 50', '\uff15\uff10', '5_0', '+50', 1000, 0, '', True, None):
        assert charge.whole(bad, 1, 999) is None, bad
        assert raises(f, bad, 1) == 'contract_amperage: must be 1-999', bad


def test_unknown_contract_names_the_allowed_values():
    msg = raises(tokyo_gas_1, '35', 100)
    assert msg == 'contract_amperage: 35 A is not offered by tokyo_gas_1 (allowed: 30, 40, 50, 60)'
    msg = raises(tokyo_gas_1s, 100, 1)
    assert '(allowed: 10, 15, 20, 30, 40, 50, 60)' in msg
    for bad in ('abc', '', -30, 0, 30.5, None, True):
        assert raises(tokyo_gas_1, bad, 1).startswith('contract_amperage: must be')


def test_bad_kwh():
    for bad in (-1, None, '100', float('nan'), float('inf'), True):
        assert raises(tokyo_gas_1, '30', bad).startswith('kwh: must be')


def test_registry_and_get():
    for name in ('tokyo_gas_1', 'tokyo_gas_1s', 'tokyo_gas_2'):
        assert charge.get(name)(30, 0) == charge.get(name)('30', 0) > 0
    msg = raises(charge.get, 'foo')
    assert msg == 'charge_func: must be one of tokyo_gas_1, tokyo_gas_1s, tokyo_gas_2'
    assert raises(charge.get, "tokyo_gas_1('30', 1)") == msg    # never evaluated
    for bad in (42, None, [], tokyo_gas_2):
        assert raises(charge.get, bad) == 'tariff: invalid'
    # the contracts a plan offers, in its error
    assert raises(tokyo_gas_1, 35, 0).endswith('(allowed: 30, 40, 50, 60)')
    assert tokyo_gas_2(35, 0) == tokyo_gas_2(None, 0) == 286   # one base for every contract


# The plans as README.md publishes them, in SmartMeter.json's table form.
README_TABLES = {
    'tokyo_gas_1': {'base': {'30': 858.00, '40': 1144.00, '50': 1430.00, '60': 1716.00},
                    'tiers': [[140, 23.67], [350, 23.88], [None, 26.41]]},
    'tokyo_gas_1s': {'base': {'10': 286.00, '15': 429.00, '20': 572.00, '30': 858.00,
                              '40': 1144.00, '50': 1430.00, '60': 1716.00},
                     'tiers': [[120, 19.85], [300, 25.35], [None, 27.48]]},
    'tokyo_gas_2': {'base': 286.00, 'tiers': [[360, 23.63], [None, 26.47]]},
}


def test_builtins_equal_their_published_tables():
    for name in README_TABLES:
        from_table = charge.get(README_TABLES[name])
        builtin = charge.get(name)
        for contract in (10, 15, 20, 30, 40, 50, 60):
            for kwh in (0, 57.3, 120, 140, 300, 350, 360, 733.9):
                try:
                    expect = from_table(contract, kwh)
                except ValueError as e:
                    assert raises(builtin, contract, kwh) == str(e).replace('tariff', name)
                    continue
                assert builtin(contract, kwh) == expect, (name, contract, kwh)


SPEC = {
    'base': {'30': 858.0, '40': 1144.0},
    'tiers': [[140, 23.67], [350, 23.88], [None, 26.41]],
    'adders': [{'name': 'fuel_cost_adjustment', 'per_kwh': -1.2},
               {'name': 'renewable_levy', 'per_kwh': 3.49}],
}


def test_data_driven_tariff_with_adders():
    f = charge.get(SPEC)
    assert raises(f, 50, 1).endswith('not offered by tariff (allowed: 30, 40)')
    # 858 + 3313.8 + 23.88*60 = 5604.6; adders 200 * (-1.2 + 3.49) = 458 -> 6062.6
    assert f(30, 200) == 6062
    # 1144 + 23.67*10 = 1380.7; adders 10 * 2.29 = 22.9 -> 1403.6
    assert f('40', 10) == 1403
    named = dict(SPEC)
    named['name'] = 'my_plan'
    assert raises(charge.get(named), '50', 1).endswith('not offered by my_plan (allowed: 30, 40)')


def test_flat_base_and_negative_total_truncates_toward_zero():
    f = charge.get({'base': 0, 'tiers': [[None, 1.0]], 'adders': [{'name': 'x', 'per_kwh': -3}]})
    assert f(None, 10.3) == -20   # 10.3 - 30.9 = -20.6 -> int() -> -20
    f = charge.get({'base': 100, 'tiers': [[None, 0.001]]})
    assert f('any', 999) == 100   # 100 + 0.999
    assert f('any', 1000) == 101


BAD_TABLES = [
    {'tiers': [[None, 1]]},                                     # no base
    {'base': 1},                                                # no tiers
    {'base': 1, 'tiers': []},
    {'base': 1, 'tiers': [[140, 1]]},                           # the last tier has a bound
    {'base': 1, 'tiers': [[None, 1], [None, 2]]},               # two open-ended tiers
    {'base': 1, 'tiers': [[140, 1], [100, 2], [None, 3]]},      # bounds fall
    {'base': 1, 'tiers': [[0, 1], [None, 3]]},                  # a bound of 0
    {'base': 1, 'tiers': [[140, 'x'], [None, 3]]},              # a rate that is no number
    {'base': 1, 'tiers': [['a', 1], [None, 3]]},
    {'base': 1, 'tiers': [140]},
    {'base': 1, 'tiers': [[140, 1, 2], [None, 3]]},
    {'base': 1, 'tiers': [[None, True]]},
    {'base': -1, 'tiers': [[None, 1]]},                         # a negative base
    {'base': {}, 'tiers': [[None, 1]]},
    {'base': {'3x': 1}, 'tiers': [[None, 1]]},
    {'base': {'30': 'a'}, 'tiers': [[None, 1]]},
    {'base': {'30': -5}, 'tiers': [[None, 1]]},
    {'base': 1, 'tiers': [[None, 1]], 'adders': [{'name': 'a'}]},
    {'base': 1, 'tiers': [[None, 1]], 'adders': [{'name': 'a', 'per_kWh': 1}]},
    {'base': 1, 'tiers': [[None, 1]], 'adders': {}},
    {'base': 1, 'tiers': [[None, 1]], 'adders': None},
    {'base': 1, 'tiers': [[None, 1]], 'tier': 1},               # a typo
    {'base': float('nan'), 'tiers': [[None, 1]]},
]


def test_bad_tables_are_refused():
    # The device says only this; tools/checkconfig.py names the mistake.
    for spec in BAD_TABLES:
        assert raises(charge.get, spec) == 'tariff: invalid', spec
    # comments and names are fine
    f = charge.get({'_note': 'x', 'name': 'p', 'base': 1, 'tiers': [[None, 1]],
                    'adders': [{'name': 'levy', 'per_kwh': 1, '_why': 'x'}]})
    assert f(None, 1) == 3
