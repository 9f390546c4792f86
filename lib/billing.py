"""Billing period (検針日) arithmetic: where this month's period starts and how much has been used.

It is handed the reading day(s) from the config, the local time as seconds since 1970-01-01
(`now_local` = UTC epoch + timezone offset, as lib/timeutil.py counts them), and cumulative
counts that the caller read from the meter (E0/EA now, E2 slot 00:00 of the period's first day).
It never reads a clock, talks to the meter or touches a file: the app asks the meter for the
E5 day this module names and persists the JSON-serialisable `baseline()` it hands back.

`collect_date` is a day 1-31, or a list/tuple of 12 days (January first) for utilities whose
reading day moves from month to month.  A day past the end of a short month means that
month's last day (31 in April -> April 30, 29/30/31 in February -> Feb 28 or 29).
The period starts at 00:00 of the latest reading day on or before today; on the reading day
itself the new period starts today.
"""

from echonet import EchonetError, count_diff, to_kwh
from timeutil import days_from_civil, civil_from_days, days_in_month, DAY

MAX_HISTORY_DAYS = 99  # E5 accepts 0x00-0x63: today and up to 99 days back
DEFAULT_DIGITS = 8     # E0/EA range 0..99,999,999; pass the meter's D7 when known


class BillingError(Exception):
    pass


def _day_number(value):
    """A day of the month given as int or decimal string -> int 1-31, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or not text.isdigit():
            return None
        value = int(text)
    if not isinstance(value, int) or value < 1 or value > 31:
        return None
    return value


def check_collect_date(value):
    """Normalise a reading-day setting: 22, "22" -> 22; a list of 12 -> tuple of 12 ints.
    Raises BillingError('collect_date: must be a day 1-31 or a list of 12 days')."""
    if isinstance(value, (list, tuple)):
        if len(value) == 12:
            days = []
            for item in value:
                day = _day_number(item)
                if day is None:
                    break
                days.append(day)
            if len(days) == 12:
                return tuple(days)
    else:
        day = _day_number(value)
        if day is not None:
            return day
    raise BillingError('collect_date: must be a day 1-31 or a list of 12 days')


def reading_day(year, month, collect_date):
    """Day of the month (int) on which the meter is read in year/month, clamped to the
    month's last day.  collect_date as check_collect_date() accepts it."""
    if month < 1 or month > 12:
        raise BillingError('month: must be 1-12 (got %r)' % (month,))
    if isinstance(collect_date, (list, tuple)):
        day = _day_number(collect_date[month - 1]) if len(collect_date) == 12 else None
    else:
        day = _day_number(collect_date)
    if day is None:
        raise BillingError('collect_date: must be a day 1-31 or a list of 12 days')
    last = days_in_month(year, month)
    return day if day <= last else last


def _today(now_local):
    days = int(now_local) // DAY
    return days, civil_from_days(days)


def period_start(now_local, collect_date):
    """(y, m, d) of the latest reading day on or before the local date of now_local."""
    _, (year, month, day) = _today(now_local)
    first = reading_day(year, month, collect_date)
    if day >= first:
        return (year, month, first)
    if month == 1:
        year, month = year - 1, 12
    else:
        month -= 1
    return (year, month, reading_day(year, month, collect_date))


def days_back(now_local, start_ymd):
    """E5 value for start_ymd: whole days before today (0 = today).  None when the day lies
    more than 99 days back (beyond what E5 can address); BillingError when it is in the future."""
    today, _ = _today(now_local)
    back = today - days_from_civil(start_ymd[0], start_ymd[1], start_ymd[2])
    if back < 0:
        raise BillingError('period start %04d-%02d-%02d is after today' % tuple(start_ymd[:3]))
    if back > MAX_HISTORY_DAYS:
        return None
    return back


def period_label(start_ymd, now_ymd):
    """'MM-DD~MM-DD' for the screen, e.g. '12-22~01-05'."""
    return '%02d-%02d~%02d-%02d' % (start_ymd[1], start_ymd[2], now_ymd[1], now_ymd[2])


def ymd_text(ymd):
    return '%04d-%02d-%02d' % (ymd[0], ymd[1], ymd[2])


def parse_ymd(text):
    """'YYYY-MM-DD' -> (y, m, d); BillingError when it is not a real date."""
    if not isinstance(text, str) or len(text) != 10 or text[4] != '-' or text[7] != '-':
        raise BillingError('start: must be a date YYYY-MM-DD')
    parts = (text[0:4], text[5:7], text[8:10])
    for part in parts:
        if not part.isdigit():
            raise BillingError('start: must be a date YYYY-MM-DD')
    y, m, d = int(parts[0]), int(parts[1]), int(parts[2])
    if m < 1 or m > 12 or d < 1 or d > days_in_month(y, m):
        raise BillingError('start: %s is not a date' % text)
    return (y, m, d)


def _check_count(value, digits, what):
    """A cumulative count from the meter: int 0 .. 10**digits - 1, or None (no data).
    Values at or above 10**digits (e.g. 99999999 from a 6-digit meter) are treated as no data."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BillingError('%s: count must be a non-negative int' % what)
    if value >= 10 ** digits:
        return None
    return value


def period_count(now_count, start_count, digits=DEFAULT_DIGITS):
    """Counts used in the period: now - start with rollover at 10**digits; None if either is missing."""
    now_count = _check_count(now_count, digits, 'now')
    start_count = _check_count(start_count, digits, 'start')
    if now_count is None or start_count is None:
        return None
    return count_diff(now_count, start_count, digits)


def _kwh(count, coefficient, multiplier):
    try:
        return to_kwh(count, coefficient, multiplier)
    except EchonetError:
        raise BillingError('multiplier: unknown E1 unit')


def period_kwh(now_count, start_count, digits, coefficient, multiplier):
    """kWh used in the period: count x D3 coefficient (None = 1) x E1 unit, via echonet.to_kwh;
    None when a count is missing."""
    return _kwh(period_count(now_count, start_count, digits), coefficient, multiplier)


class BillingPeriod(object):
    """This period's start count, from the meter's history or the app's own baseline.

    Sources, best first:
      'history'  - E2 slot 00:00 of the period's first day (asked for with E5 = wanted_day());
      'baseline' - the baseline the app saved earlier for this same period start;
      'first'    - no history and no baseline: the first count seen in this period becomes the
                   start and `partial` is True (the figure undercounts until the next period).
    A later history answer replaces a partial start.  After every change the app saves
    `baseline()` ({"start": "YYYY-MM-DD", "count": n, "partial": bool}) and passes it back
    to the constructor after a restart.

    Use: update(now) on every refresh; if wanted_day(now) is not None, SetC E5 to it, Get E2
    and hand the decoded (day, counts) to take_history(); then count(now_count) / kwh(...).
    """

    def __init__(self, collect_date, digits=DEFAULT_DIGITS, baseline=None):
        self.collect_date = check_collect_date(collect_date)
        if digits is None:   # the meter did not answer D7
            digits = DEFAULT_DIGITS
        if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1 or digits > 8:
            raise BillingError('digits: must be 1-8 (D7)')
        self.digits = digits
        self.start = None        # (y, m, d) of the current period
        self.start_count = None  # cumulative count at 00:00 of start, or at the first reading
        self.source = None       # None, 'history', 'baseline' or 'first'
        self.partial = False
        self.baseline_error = None  # why a saved baseline was dropped (for the log)
        self._saved = None
        if baseline is not None:
            try:
                self._saved = self._parse_baseline(baseline)
            except BillingError as e:
                self.baseline_error = str(e)

    def _parse_baseline(self, obj):
        if not isinstance(obj, dict):
            raise BillingError('baseline: must be an object')
        start = parse_ymd(obj.get('start'))
        count = obj.get('count')
        if isinstance(count, bool) or not isinstance(count, int) or count < 0 \
                or count >= 10 ** self.digits:
            raise BillingError('baseline: count must be an int 0-%d' % (10 ** self.digits - 1))
        partial = obj.get('partial', False)
        if not isinstance(partial, bool):
            raise BillingError('baseline: partial must be true or false')
        return (start, count, partial)

    def update(self, now_local):
        """Move to the period that contains now_local.  Returns True when the period start
        changed (first call or a new period): the old start count is then forgotten."""
        start = period_start(now_local, self.collect_date)
        if start == self.start:
            return False
        self.start = start
        self.start_count = None
        self.source = None
        self.partial = False
        saved = self._saved
        if saved is not None and saved[0] == start:
            self.start_count = saved[1]
            self.partial = saved[2]
            self.source = 'baseline'
        return True

    def wanted_day(self, now_local):
        """E5 value to ask the meter for (days back to the period start), or None when the start
        count is already known exactly or the start lies beyond the meter's 99 days."""
        if self.start is None:
            self.update(now_local)
        if self.start_count is not None and not self.partial:
            return None
        return days_back(now_local, self.start)

    def take_history(self, history, now_local):
        """history = decoded E2 (day, [48 counts or None]).  Uses counts[0] (00:00) when the day
        is the period's first day and the slot holds data.  Returns True when used."""
        if self.start is None:
            self.update(now_local)
        if not isinstance(history, (tuple, list)) or len(history) != 2:
            return False
        day, counts = history
        if not isinstance(counts, (tuple, list)) or not counts:
            return False
        try:
            want = days_back(now_local, self.start)
        except BillingError:
            return False
        if want is None or day != want:
            return False
        try:
            first = _check_count(counts[0], self.digits, 'history')
        except BillingError:
            return False
        if first is None:
            return False
        self._set(first, 'history', False)
        return True

    def _set(self, count, source, partial):
        self.start_count = count
        self.source = source
        self.partial = partial
        self._saved = (self.start, count, partial)

    def count(self, now_count):
        """Counts used since the period start (int), or None when now_count holds no data.
        With no start known yet, now_count becomes the start (source 'first', partial)."""
        if self.start is None:
            raise BillingError('update(now) must be called first')
        now_count = _check_count(now_count, self.digits, 'now')
        if now_count is None:
            return None
        if self.start_count is None:
            self._set(now_count, 'first', True)
        return count_diff(now_count, self.start_count, self.digits)

    def kwh(self, now_count, coefficient, multiplier):
        """count(now_count) in kWh (see period_kwh), or None."""
        return _kwh(self.count(now_count), coefficient, multiplier)

    def baseline(self):
        """What the app persists (JSON-serialisable), or None when there is nothing to save."""
        if self.start is None or self.start_count is None:
            return None
        return {'start': ymd_text(self.start), 'count': self.start_count,
                'partial': self.partial}

    def label(self, now_local):
        _, today = _today(now_local)
        if self.start is None:
            self.update(now_local)
        return period_label(self.start, today)
