"""Tariffs: every tier boundary with hand-computed yen, continuity across boundaries, contract
amperage as string or number, registry and data-driven tables, and clear errors."""

import charge
from charge import ChargeError


def raises(func, *args):
    try:
        func(*args)
    except ChargeError as e:
        return str(e)
    raise AssertionError('ChargeError not raised by %r%r' % (func, args))


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
            check_continuous(charge.tokyo_gas_1, contract, boundary, 26.41)
        for boundary in (120, 300):
            check_continuous(charge.tokyo_gas_1s, contract, boundary, 27.48)
    check_continuous(charge.tokyo_gas_2, '30', 360, 26.47)


def test_bill_is_continuous_in_one_kwh_steps_to_1000():
    for f, max_rate in ((charge.tokyo_gas_1, 26.41), (charge.tokyo_gas_1s, 27.48),
                        (charge.tokyo_gas_2, 26.47)):
        previous = f(40, 0)
        for kwh in range(1, 1001):
            yen = f(40, kwh)
            assert 0 <= yen - previous <= int(max_rate) + 1, (f, kwh)
            previous = yen


def test_contract_as_string_or_number():
    f = charge.tokyo_gas_1
    # 1430 + 3313.8 + 1432.8 = 6176.6
    assert f('50', 200) == f(50, 200) == f(50.0, 200) == f(' 50 ', 200) == 6176
    assert charge.amperage_key(30) == '30'
    assert charge.amperage_key('30') == '30'


def test_unknown_contract_names_the_allowed_values():
    msg = raises(charge.tokyo_gas_1, '35', 100)
    assert msg == 'contract_amperage: 35 A is not offered by tokyo_gas_1 (allowed: 30, 40, 50, 60)'
    msg = raises(charge.tokyo_gas_1s, 100, 1)
    assert '(allowed: 10, 15, 20, 30, 40, 50, 60)' in msg
    for bad in ('abc', '', -30, 0, 30.5, None, True):
        assert raises(charge.tokyo_gas_1, bad, 1).startswith('contract_amperage: must be')


def test_bad_kwh():
    for bad in (-1, None, '100', float('nan'), float('inf'), True):
        assert raises(charge.tokyo_gas_1, '30', bad).startswith('kwh: must be')


def test_registry_and_get():
    assert charge.get('tokyo_gas_1') is charge.TARIFFS['tokyo_gas_1']
    assert charge.known() == ['tokyo_gas_1', 'tokyo_gas_1s', 'tokyo_gas_2']
    msg = raises(charge.get, 'foo')
    assert msg == "unknown tariff 'foo' (known: tokyo_gas_1, tokyo_gas_1s, tokyo_gas_2)"
    raises(charge.get, "tokyo_gas_1('30', 1)")   # never evaluated
    raises(charge.get, 42)
    assert charge.get(charge.tokyo_gas_2) is charge.tokyo_gas_2
    assert charge.tokyo_gas_1.contracts() == [30, 40, 50, 60]
    assert charge.tokyo_gas_2.contracts() is None


def test_builtins_equal_their_tables():
    for name, spec in (('tokyo_gas_1', charge.TOKYO_GAS_1), ('tokyo_gas_1s', charge.TOKYO_GAS_1S),
                       ('tokyo_gas_2', charge.TOKYO_GAS_2)):
        from_table = charge.get(spec)
        builtin = charge.get(name)
        for kwh in (0, 57.3, 120, 140, 300, 350, 360, 733.9):
            assert from_table('30', kwh) == builtin('30', kwh)


SPEC = {
    'base': {'30': 858.0, '40': 1144.0},
    'tiers': [[140, 23.67], [350, 23.88], [None, 26.41]],
    'adders': [{'name': 'fuel_cost_adjustment', 'per_kwh': -1.2},
               {'name': 'renewable_levy', 'per_kwh': 3.49}],
}


def test_data_driven_tariff_with_adders():
    f = charge.get(SPEC)
    assert f.name == 'tariff'
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


def test_bad_tables_give_clear_errors():
    cases = [
        ([], 'tariff: must be a tariff name or a table'),
        ({'tiers': [[None, 1]]}, 'base: must be a number'),
        ({'base': -1, 'tiers': [[None, 1]]}, 'base: must not be negative'),
        ({'base': {'3x': 1}, 'tiers': [[None, 1]]}, "base: key '3x' is not a whole number"),
        ({'base': {'30': 'a'}, 'tiers': [[None, 1]]}, 'base[30]: must be a number'),
        ({'base': 1}, 'tiers: must be a list'),
        ({'base': 1, 'tiers': []}, 'tiers: must be a list'),
        ({'base': 1, 'tiers': [[140, 1]]}, 'tiers[0]: the last tier must have no upper bound'),
        ({'base': 1, 'tiers': [[None, 1], [None, 2]]}, 'tiers[0]: only the last tier'),
        ({'base': 1, 'tiers': [[140, 1], [100, 2], [None, 3]]},
         'tiers[1]: upper bound 100 must be greater than the previous (140)'),
        ({'base': 1, 'tiers': [[0, 1], [None, 3]]}, 'tiers[0]: upper bound 0 must be greater'),
        ({'base': 1, 'tiers': [[140, 'x'], [None, 3]]}, 'tiers[0]: yen per kWh must be a number'),
        ({'base': 1, 'tiers': [['a', 1], [None, 3]]}, 'tiers[0]: upper bound must be a number'),
        ({'base': 1, 'tiers': [140]}, 'tiers[0]: must be [upper kWh, yen per kWh]'),
        ({'base': 1, 'tiers': [[None, 1]], 'adders': {}}, 'adders: must be a list'),
        ({'base': 1, 'tiers': [[None, 1]], 'adders': [{'per_kwh': 1}]}, 'adders[0]: name must be'),
        ({'base': 1, 'tiers': [[None, 1]], 'adders': [{'name': 'a'}]}, 'adders[0]: per_kwh must be'),
        ({'base': 1, 'tiers': [[None, 1]], 'adders': [{'name': 'a', 'per_kWh': 1}]},
         "adders[0]: unknown key 'per_kWh'"),
        ({'base': 1, 'tiers': [[None, 1]], 'tier': 1},
         "unknown key 'tier' (allowed: adders, base, name, tiers)"),
    ]
    for spec, start in cases:
        msg = raises(charge.get, spec)
        assert msg.startswith(start), (spec, msg)
