"""Electricity bill estimates: tariff tables and the function `f(contract_amperage, kwh) -> yen`.

A tariff is data: a base charge (one number, or one per contract amperage), tiers of
(upper bound kWh, yen per kWh) with the last bound null, and optional per-kWh adders (fuel
cost adjustment, renewable levy, ...).  Built-in plans are kept as such tables in `TARIFFS`;
`get(name_or_spec)` picks one by name (never eval) or builds one from a config table.
It is handed the contract and the kWh used in the billing period; it reads no clock, file or
device.  Arithmetic is in integers (rates to 0.001 yen, energy to 0.001 kWh) because the
device's floats are single precision, and the result is truncated to whole yen like the
original's int().  Discounts and rounding rules of real bills are not modelled: an estimate.
"""


class ChargeError(Exception):
    pass


_SPEC_KEYS = ('adders', 'base', 'name', 'tiers')
_ADDER_KEYS = ('name', 'per_kwh')
_MICRO = 1000000  # milli-yen x milli-kWh -> yen


def _is_number(value):
    """int or finite float, not bool (NaN and infinities are refused)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value - value == 0


def _milli(value):
    """number -> int thousandths (0.001 yen or 0.001 kWh), rounded to nearest."""
    if isinstance(value, int):
        return value * 1000
    return int(round(value * 1000))


def amperage_key(value):
    """Contract amperage as given in a config ("50", 50, 50.0) -> '50'.  ChargeError otherwise."""
    number = None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            number = int(text)
    elif _is_number(value) and value == int(value):
        number = int(value)
    if number is None or number <= 0:
        raise ChargeError('contract_amperage: must be a whole number of amperes such as 50 (got %r)'
                          % (value,))
    return str(number)


class Tariff(object):
    """A checked tariff table; call it as f(contract_amperage, kwh) -> int yen."""

    def __init__(self, spec, name=None):
        if not isinstance(spec, dict):
            raise ChargeError('tariff: must be a table {"base": ..., "tiers": [...]}')
        for key in spec:
            if key not in _SPEC_KEYS:
                raise ChargeError("unknown key '%s' (allowed: %s)" % (key, ', '.join(_SPEC_KEYS)))
        label = spec.get('name', name)
        if label is None:
            label = 'tariff'
        if not isinstance(label, str):
            raise ChargeError('name: must be a string')
        self.name = name if name is not None else label
        self.base = self._check_base(spec.get('base'))
        self.tiers = self._check_tiers(spec.get('tiers'))
        self.adders = self._check_adders(spec.get('adders', []))

    @staticmethod
    def _check_base(base):
        if _is_number(base):
            if base < 0:
                raise ChargeError('base: must not be negative')
            return _milli(base)
        if not isinstance(base, dict) or not base:
            raise ChargeError('base: must be a number of yen or a table of amperes to yen '
                              '({"30": 858.0, ...})')
        table = {}
        for key in base:
            try:
                amps = amperage_key(key)
            except ChargeError:
                raise ChargeError('base: key %r is not a whole number of amperes' % (key,))
            yen = base[key]
            if not _is_number(yen) or yen < 0:
                raise ChargeError('base[%s]: must be a number of yen >= 0' % amps)
            table[amps] = _milli(yen)
        return table

    @staticmethod
    def _check_tiers(tiers):
        if not isinstance(tiers, (list, tuple)) or not tiers:
            raise ChargeError('tiers: must be a list of [upper kWh, yen per kWh], '
                              'the last upper bound null')
        out = []
        lower = 0
        last = len(tiers) - 1
        for i, tier in enumerate(tiers):
            if not isinstance(tier, (list, tuple)) or len(tier) != 2:
                raise ChargeError('tiers[%d]: must be [upper kWh, yen per kWh]' % i)
            upper, rate = tier
            if not _is_number(rate):
                raise ChargeError('tiers[%d]: yen per kWh must be a number' % i)
            if upper is None:
                if i != last:
                    raise ChargeError('tiers[%d]: only the last tier may have no upper bound' % i)
                out.append((None, _milli(rate)))
                continue
            if i == last:
                raise ChargeError('tiers[%d]: the last tier must have no upper bound (null)' % i)
            if not _is_number(upper):
                raise ChargeError('tiers[%d]: upper bound must be a number of kWh or null' % i)
            upper_m = _milli(upper)
            if upper_m <= lower:
                raise ChargeError('tiers[%d]: upper bound %s must be greater than the previous (%s)'
                                  % (i, upper, _kwh_text(lower)))
            out.append((upper_m, _milli(rate)))
            lower = upper_m
        return tuple(out)

    @staticmethod
    def _check_adders(adders):
        if not isinstance(adders, (list, tuple)):
            raise ChargeError('adders: must be a list of {"name": ..., "per_kwh": ...}')
        out = []
        for i, adder in enumerate(adders):
            if not isinstance(adder, dict):
                raise ChargeError('adders[%d]: must be {"name": ..., "per_kwh": ...}' % i)
            for key in adder:
                if key not in _ADDER_KEYS:
                    raise ChargeError("adders[%d]: unknown key '%s' (allowed: name, per_kwh)"
                                      % (i, key))
            label = adder.get('name')
            if not isinstance(label, str) or not label:
                raise ChargeError('adders[%d]: name must be a non-empty string' % i)
            rate = adder.get('per_kwh')
            if not _is_number(rate):
                raise ChargeError('adders[%d]: per_kwh must be a number of yen' % i)
            out.append((label, _milli(rate)))
        return tuple(out)

    def contracts(self):
        """Allowed contract amperages as sorted ints, or None when the base does not depend on them."""
        if not isinstance(self.base, dict):
            return None
        amps = [int(k) for k in self.base]
        amps.sort()
        return amps

    def base_milli(self, contract_amperage):
        """Base charge in 0.001 yen for the contract; ChargeError naming the allowed values."""
        if not isinstance(self.base, dict):
            return self.base
        key = amperage_key(contract_amperage)
        if key not in self.base:
            raise ChargeError('contract_amperage: %s A is not offered by %s (allowed: %s)'
                              % (key, self.name, ', '.join([str(a) for a in self.contracts()])))
        return self.base[key]

    def __call__(self, contract_amperage, kwh):
        if not _is_number(kwh) or kwh < 0:
            raise ChargeError('kwh: must be a number >= 0 (got %r)' % (kwh,))
        energy = _milli(kwh)
        total = self.base_milli(contract_amperage) * 1000
        lower = 0
        for upper, rate in self.tiers:
            if upper is None or energy <= upper:
                total += rate * (energy - lower)
                break
            total += rate * (upper - lower)
            lower = upper
        for _, rate in self.adders:
            total += rate * energy
        # int() truncation toward zero, as the original's int(fee)
        if total < 0:
            return -((-total) // _MICRO)
        return total // _MICRO

    def __repr__(self):
        return 'Tariff(%s)' % self.name


def _kwh_text(milli):
    if milli % 1000 == 0:
        return str(milli // 1000)
    return '%d.%03d' % (milli // 1000, milli % 1000)


# Tokyo Gas plans the original shipped (tariff page of 2020, consumption tax included).
TOKYO_GAS_1 = {  # ずっとも電気1
    'base': {'30': 858.00, '40': 1144.00, '50': 1430.00, '60': 1716.00},
    'tiers': [[140, 23.67], [350, 23.88], [None, 26.41]],
}
TOKYO_GAS_1S = {  # ずっとも電気1S (30 A was missing from the original's table)
    'base': {'10': 286.00, '15': 429.00, '20': 572.00, '30': 858.00, '40': 1144.00,
             '50': 1430.00, '60': 1716.00},
    'tiers': [[120, 19.85], [300, 25.35], [None, 27.48]],
}
TOKYO_GAS_2 = {  # ずっとも電気2 (the original charged 19.85, plan 1S's rate, up to 360 kWh)
    'base': 286.00,
    'tiers': [[360, 23.63], [None, 26.47]],
}

tokyo_gas_1 = Tariff(TOKYO_GAS_1, 'tokyo_gas_1')
tokyo_gas_1s = Tariff(TOKYO_GAS_1S, 'tokyo_gas_1s')
tokyo_gas_2 = Tariff(TOKYO_GAS_2, 'tokyo_gas_2')

TARIFFS = {
    'tokyo_gas_1': tokyo_gas_1,
    'tokyo_gas_1s': tokyo_gas_1s,
    'tokyo_gas_2': tokyo_gas_2,
}


def known():
    names = list(TARIFFS)
    names.sort()
    return names


def get(name_or_spec):
    """A tariff by registry name ('tokyo_gas_1') or from a table (dict); ChargeError otherwise."""
    if isinstance(name_or_spec, Tariff):
        return name_or_spec
    if isinstance(name_or_spec, str):
        tariff = TARIFFS.get(name_or_spec)
        if tariff is None:
            raise ChargeError("unknown tariff '%s' (known: %s)" % (name_or_spec, ', '.join(known())))
        return tariff
    if isinstance(name_or_spec, dict):
        return Tariff(name_or_spec)
    raise ChargeError('tariff: must be a tariff name or a table')
