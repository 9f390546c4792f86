"""The bill: the billing period (検針日) and the tariffs that turn its kWh into yen.

Billing period: it is handed the reading day(s) from the config, the local time as seconds since
1970 (`now` = UTC + timezone offset) and the cumulative counts the app read from the meter (E0
now, E2 slot 00:00 of the period's first day).  The reading day (`collect_date` in the config) is
a day 1-31, or 12 days (January first) for utilities whose reading day moves; a day past the end
of a short month means its last day.  The period starts at 00:00 of the latest reading day on or
before today.  `BillingPeriod` names the E5 day to ask the meter for, and hands back the
JSON-able `baseline()` the app saves.

Tariffs are data, picked by name (never eval) or given as a table in SmartMeter.json: a base
charge (one number, or one per contract amperage), tiers [upper kWh, yen per kWh] with the last
bound null, optional per-kWh adders.  `get(name_or_table)` returns f(contract_amperage, kwh) ->
int yen; integer arithmetic (0.001 yen x 0.001 kWh, the device's floats are single precision),
truncated like the original's int().  An estimate: discounts and rounding of real bills are not
modelled.  A table is refused with one short message; tools/checkconfig.py, which accepts
exactly the same tables, names the mistake.  Every refusal is a ValueError whose message starts
with the setting's name ("collect_date: ...").  No clock, file or device is read here.
"""

from util import days_from_civil, civil_from_days, days_in_month


def whole(value, min, max):
    """A whole number min..max given as an int or a string of ASCII digits ("22") -> int, else
    None.  (config.py checks its numbers with it too.)"""
    if type(value) is str and value and not value.strip('0123456789'):
        value = int(value)
    if type(value) is int and min <= value <= max:      # (a bool is no int here)
        return value


# ---- billing period ---------------------------------------------------------------------------

def period_start(now, days):
    """(y, m, d) of the latest reading day on or before the local date of now; days: one reading
    day, or 12 (January first)."""
    y, m, d = civil_from_days(now // 86400)
    while 1:
        day = days if type(days) is int else days[m - 1]
        day = min(day, days_in_month(y, m))     # day 31 in a short month: its last day
        if day <= d:
            return (y, m, day)
        # not yet read this month: the reading day of the month before (any day of it will do)
        y, m, d = (y - 1, 12, 31) if m == 1 else (y, m - 1, 31)


def ymd_text(date):
    """(y, m, d) -> 'YYYY-MM-DD'."""
    return '%04d-%02d-%02d' % date


class BillingPeriod:
    """This period's start count, from the meter's history or the app's own baseline.

    BillingPeriod(days, digits=8, baseline=None): days as in the config's collect_date (22,
    "22", or a list of 12), checked (ValueError 'collect_date: ...') and kept as `days` (an int
    or a tuple of 12); digits: D7, the counter wraps at 10**digits (None: unknown, 8); baseline:
    what baseline() gave before a restart.  `start` (y, m, d), `start_count` and `source`, best
    first: 'history' (E2 slot 00:00 of the first day, asked with E5 = wanted_day()), 'baseline'
    (saved earlier for this same start), 'first' (the first count seen in this period;
    `partial` is True: the figure undercounts, and history is still asked for).
    `baseline_error` says why a saved baseline was refused.  Use: update(now) on every refresh;
    when wanted_day(now) is not None, SetC E5, Get E2 and hand the decoded (day, counts) to
    take_history(); count(E0 count) gives the counts used since the period start.  A count is
    an int 0 .. 10**digits - 1; anything else (such as the 99999999 a 6-digit meter shows in E2)
    is no data.
    """

    def __init__(self, days, digits=8, baseline=None):
        many = type(days) in (list, tuple)
        checked = []
        for day in days if many else (days,):
            checked.append(whole(day, 1, 31))
        if None in checked or len(checked) != (12 if many else 1):
            raise ValueError('collect_date: must be 1-31, or a list of 12 days')
        self.days = tuple(checked) if many else checked[0]
        self.digits = whole(8 if digits is None else digits, 1, 8)     # None: D7 unknown
        if self.digits is None:
            raise ValueError('digits: must be 1-8')
        # data: the best start known, as (start text, count, partial, source): the saved
        # baseline at first, then what history or a first reading gave; update() uses it when
        # its start is this period's again (a clock corrected back and forth)
        self.start = self.start_count = self.source = self.baseline_error = self.data = None
        self.partial = False
        if baseline is not None:
            try:
                count = baseline['count']
                self.data = (baseline['start'], count, baseline.get('partial', False), 'baseline')
                if type(self.data[0]) is not str or type(count) is not int or \
                        not 0 <= count < 10 ** self.digits or self.data[2] not in (True, False):
                    raise ValueError
            except Exception:
                self.data = None
                self.baseline_error = 'malformed baseline'  # not {"start": "YYYY-MM-DD", "count": n}

    def update(self, now):
        """Move to the period that contains now.  -> True when the period start changed."""
        start = period_start(now, self.days)
        if start == self.start:
            return False
        self.start = start
        saved = self.data
        self.start_count, self.partial, self.source = saved[1:] if saved and saved[0] == \
            ymd_text(start) else (None, False, None)
        return True

    def wanted_day(self, now):
        """E5 value to ask the meter for: whole days before today (0 = today); None when the
        start count is known exactly, or the start lies beyond E5's 99 days, or after today (a
        clock set back)."""
        if self.start is None:
            self.update(now)
        back = now // 86400 - days_from_civil(*self.start)
        if (self.start_count is None or self.partial) and 0 <= back < 100:
            return back

    def take_history(self, history, now):
        """history = decoded E2 (day, [48 counts]): uses counts[0] (00:00) when the day is the
        one wanted_day(now) asks for and the slot holds data.  -> True when used."""
        try:
            day, counts = history
            first = counts[0]
            if day is not None and day == self.wanted_day(now) and type(first) is int and \
                    0 <= first < 10 ** self.digits:
                self.start_count, self.partial, self.source = first, False, 'history'
                self.data = (ymd_text(self.start), first, False, 'history')
                return True
        except Exception:
            pass
        return False

    def count(self, value):
        """Counts used since the period start up to the meter's count value (E0), or None
        when value holds no data.  With no start known yet, value becomes the start (source
        'first', partial)."""
        if self.start is None:
            raise ValueError('update() not called')
        if type(value) is int and 0 <= value < 10 ** self.digits:
            if self.start_count is None:
                self.start_count, self.partial, self.source = value, True, 'first'
                self.data = (ymd_text(self.start), value, True, 'first')
            return (value - self.start_count) % 10 ** self.digits

    def baseline(self):
        """What the app persists (JSON-able), or None when there is nothing to save."""
        if self.start_count is not None:
            return {'start': ymd_text(self.start), 'count': self.start_count, 'partial': self.partial}


# ---- tariffs ----------------------------------------------------------------------------------

def _milli(value):
    """A number (not bool, finite) -> int thousandths; ValueError otherwise."""
    if type(value) not in (int, float) or value - value:     # (NaN and inf - inf are NaN)
        raise ValueError
    return int(round(value * 1000))


def get(spec):
    """A tariff by name ('tokyo_gas_1') or from a table (dict) -> f(contract_amperage, kwh) -> int
    yen; ValueError otherwise.  A table: {"base": yen or {"30": yen, ...} (>= 0), "tiers":
    [[kWh, yen per kWh], ..., [null, yen per kWh]] (bounds rising), "adders": [{"name": ...,
    "per_kwh": yen}, ...], "name": ...}; keys starting with "_" are comments."""
    # Tokyo Gas plans the original shipped (tariff page of 2020, consumption tax included), in
    # the form a table becomes: (base, tiers, adders) in 0.001 yen and 0.001 kWh, where base is
    # one number or {amperes: base}, and tiers ((upper, rate), ..., (None, rate)).
    known = {
        # ずっとも電気1: base 30 A 858.00 ... 60 A 1716.00 yen; to 140 kWh 23.67, to 350 kWh
        # 23.88, above 26.41 yen per kWh
        'tokyo_gas_1': ({30: 858000, 40: 1144000, 50: 1430000, 60: 1716000},
                        ((140000, 23670), (350000, 23880), (None, 26410)), 0),
        # ずっとも電気1S (30 A was missing from the original's table): to 120 kWh 19.85, to 300
        # kWh 25.35, above 27.48
        'tokyo_gas_1s': ({10: 286000, 15: 429000, 20: 572000, 30: 858000, 40: 1144000,
                          50: 1430000, 60: 1716000}, ((120000, 19850), (300000, 25350), (None, 27480)), 0),
        # ずっとも電気2: base 286.00; to 360 kWh 23.63, above 26.47 (the original charged 19.85,
        # plan 1S's rate, up to 360 kWh, so its bills jumped at 360 kWh)
        'tokyo_gas_2': (286000, ((360000, 23630), (None, 26470)), 0),
    }
    if type(spec) is str:
        if spec not in known:
            raise ValueError('charge_func: must be one of ' + ', '.join(sorted(known)))
        name = spec
        base, tiers, adders = known[spec]
    else:
        try:
            name = spec.get('name', 'tariff')
            base = spec['base']
            if type(base) is dict:
                low = {}
                for key in base:
                    amps = whole(key, 1, 999)
                    if amps is None:
                        raise ValueError
                    low[amps] = _milli(base[key])
                base = low
                low = min(low.values())         # ValueError when empty
            else:
                base = low = _milli(base)
            tiers = ()
            lower = 0
            for upper, rate in spec['tiers']:
                if lower is None:
                    raise ValueError            # a tier after the open-ended one
                if upper is not None:
                    upper = _milli(upper)
                    if upper <= lower:
                        raise ValueError        # bounds must rise
                tiers += ((upper, _milli(rate)),)
                lower = upper
            adders = 0
            a = spec.get('adders', [])
            if type(a) is not list:
                raise ValueError
            for a in a:
                adders += _milli(a['per_kwh'])
                for key in a:
                    if key not in ('name', 'per_kwh') and key[:1] != '_':
                        raise ValueError        # an unknown key
            for key in spec:
                if key not in ('adders', 'base', 'name', 'tiers') and key[:1] != '_':
                    raise ValueError            # an unknown key
            if low < 0 or lower is not None:
                raise ValueError                # a negative base, or no open-ended last tier
        except Exception:
            raise ValueError('tariff: invalid')

    def charge(contract_amperage, kwh):
        b = base
        if type(b) is dict:     # one per contract amperage
            amps = whole(contract_amperage, 1, 999)
            if amps is None:
                raise ValueError('contract_amperage: must be 1-999')
            if amps not in b:
                raise ValueError('contract_amperage: %d A is not offered by %s (allowed: %s)'
                                 % (amps, name, str(sorted(b))[1:-1]))
            b = b[amps]
        try:
            e = _milli(kwh)
        except ValueError:
            e = -1
        if e < 0:
            raise ValueError('kwh: must be a number >= 0')
        total = b * 1000 + adders * e
        lower = 0
        for upper, rate in tiers:
            if upper is None or e <= upper:
                total += rate * (e - lower)
                break
            total += rate * (upper - lower)
            lower = upper
        # int() truncation toward zero, as the original's int(fee)
        return total // 1000000 if total >= 0 else -(-total // 1000000)
    return charge
