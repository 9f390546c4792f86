"""Billing period (検針日) tables (lib/charge.py): month ends, January, leap years, short months, list form,
E5 days back, rollover at 10^D7 and the app's own baseline.  Runs under CPython and MicroPython."""

try:
    import ujson as json
except ImportError:
    import json

import charge as billing
from charge import BillingPeriod
from echonet import count_diff
from util import to_epoch


def at(y, m, d, hour=12, minute=0):
    """Local epoch seconds of a local wall-clock time."""
    return to_epoch(y, m, d, hour, minute)


def raises(exc, func, *args):
    try:
        func(*args)
    except exc as e:
        return str(e)
    raise AssertionError('%s not raised by %r%r' % (exc.__name__, func, args))


def days_back(now, collect):
    """The E5 day a new BillingPeriod asks for: whole days from its start to today."""
    return BillingPeriod(collect).wanted_day(now)


def check_table(table):
    for today, collect, start, back in table:
        now = at(*today)
        got = billing.period_start(now, collect)
        assert got == start, (today, collect, got, start)
        bp = BillingPeriod(collect)
        assert bp.wanted_day(now) == back, (today, collect, bp.wanted_day(now))
        assert bp.start == start


# A model of the original's day arithmetic (month == 1 special case, "mday < collect" moves
# the month back without clamping), used only to show that the tables below catch its bugs.
def original_days_after(y, m, d, collect):
    if m == 1:
        return 31 - collect + d
    lengths = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

    def day_of_year(yy, mm, dd):
        if mm > 2 and yy % 4 == 0 and (yy % 100 == 0 or yy % 400 != 0):
            dd += 1
        return sum(lengths[:mm - 1]) + dd

    now = day_of_year(y, m, d)
    if d < collect:
        m -= 1
    return now - day_of_year(y, m, collect)


def original_last_day(y, m, d, collect):
    if m == 1:
        return (y - 1, 12, 31 - collect + d)
    if d < collect:
        m -= 1
    return (y, m, collect)


MONTH_DAYS = {2023: (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31),
              2024: (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)}


def test_every_month_end_with_reading_day_31():
    # The last day of every month is its own reading day (31 clamps to 28/29/30), and the
    # day after starts one day into that period, across the year end too.
    for year in (2023, 2024):
        for month in range(1, 13):
            last = MONTH_DAYS[year][month - 1]
            start = (year, month, last)
            nxt = (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)
            check_table([
                ((year, month, last), 31, start, 0),
                (nxt, 31, start, 1),
            ])


def test_every_month_end_with_reading_day_1():
    for year in (2023, 2024):
        for month in range(1, 13):
            last = MONTH_DAYS[year][month - 1]
            check_table([((year, month, last), 1, (year, month, 1), last - 1)])


def test_january_uses_december_of_the_previous_year_only_before_the_reading_day():
    check_table([
        ((2025, 1, 1), 22, (2024, 12, 22), 10),   # Dec 22..31 = 10 days
        ((2025, 1, 10), 22, (2024, 12, 22), 19),
        ((2025, 1, 21), 22, (2024, 12, 22), 30),
        ((2025, 1, 22), 22, (2025, 1, 22), 0),    # reading day: the period starts today
        ((2025, 1, 25), 22, (2025, 1, 22), 3),
        ((2025, 1, 31), 22, (2025, 1, 22), 9),
        ((2024, 12, 31), 22, (2024, 12, 22), 9),
    ])


def test_january_bug_of_the_original_is_caught():
    # The original gave (2024, 12, 34) and asked E5 for 34 days on 2025-01-25.
    assert original_last_day(2025, 1, 25, 22) == (2024, 12, 34)
    assert original_days_after(2025, 1, 25, 22) == 34
    now = at(2025, 1, 25)
    start = billing.period_start(now, 22)
    assert start == (2025, 1, 22)
    assert days_back(now, 22) == 3
    # and before the reading day the date is a real date, not (2024, 12, 19)
    assert original_last_day(2025, 1, 10, 22) == (2024, 12, 19)
    assert billing.period_start(at(2025, 1, 10), 22) == (2024, 12, 22)


def test_february_in_leap_and_common_years():
    check_table([
        ((2023, 2, 28), 28, (2023, 2, 28), 0),
        ((2023, 2, 28), 29, (2023, 2, 28), 0),    # 29 clamps to Feb 28 in 2023
        ((2024, 2, 28), 29, (2024, 1, 29), 30),   # 2024 has Feb 29: not yet
        ((2024, 2, 29), 29, (2024, 2, 29), 0),
        ((2024, 2, 29), 30, (2024, 2, 29), 0),
        ((2023, 3, 1), 29, (2023, 2, 28), 1),
        ((2024, 3, 1), 29, (2024, 2, 29), 1),
        ((2023, 3, 28), 29, (2023, 2, 28), 28),
        ((2023, 3, 29), 29, (2023, 3, 29), 0),
        ((2100, 3, 1), 30, (2100, 2, 28), 1),     # 2100 is not a leap year
        ((2000, 3, 1), 30, (2000, 2, 29), 1),     # 2000 is
        ((2023, 2, 27), 30, (2023, 1, 30), 28),
    ])


def test_reading_days_29_to_31_in_short_months():
    check_table([
        ((2023, 3, 1), 30, (2023, 2, 28), 1),
        ((2023, 3, 1), 31, (2023, 2, 28), 1),
        ((2023, 4, 29), 31, (2023, 3, 31), 29),
        ((2023, 4, 30), 31, (2023, 4, 30), 0),
        ((2023, 5, 1), 31, (2023, 4, 30), 1),
        ((2023, 6, 15), 31, (2023, 5, 31), 15),
        ((2023, 7, 15), 31, (2023, 6, 30), 15),
        ((2023, 10, 1), 30, (2023, 9, 30), 1),
        ((2023, 12, 1), 29, (2023, 11, 29), 2),
    ])


def test_negative_day_count_of_the_original_is_caught():
    # The original computed -1 here and crashed building the E5 byte.
    assert original_days_after(2023, 3, 1, 30) == -1
    assert original_days_after(2023, 3, 1, 31) == -2
    now = at(2023, 3, 1)
    assert days_back(now, 30) == 1
    assert days_back(now, 31) == 1


def test_list_form_collect_date():
    days = [20, 30, 21, 20, 22, 20, 21, 22, 20, 21, 20, 19]   # January first
    check_table([
        ((2023, 3, 10), days, (2023, 2, 28), 10),  # Feb's 30 clamps to 28
        ((2023, 3, 21), days, (2023, 3, 21), 0),
        ((2024, 1, 5), days, (2023, 12, 19), 17),  # Dec 19..31 = 13, + 4 Jan days
        ((2024, 2, 29), days, (2024, 2, 29), 0),
        ((2023, 12, 19), days, (2023, 12, 19), 0),
        ((2023, 12, 18), days, (2023, 11, 20), 28),
    ])
    # reading days of single months: Feb's 30 is its last day, May's is 22
    assert billing.period_start(at(2023, 3, 1), days) == (2023, 2, 28)
    assert billing.period_start(at(2024, 3, 1), days) == (2024, 2, 29)
    assert billing.period_start(at(2023, 5, 31), days) == (2023, 5, 22)
    assert billing.period_start(at(2023, 5, 31), tuple(days)) == (2023, 5, 22)


def test_period_start_ignores_the_time_of_day():
    assert billing.period_start(at(2025, 1, 22, 0, 0), 22) == (2025, 1, 22)
    assert billing.period_start(at(2025, 1, 21, 23, 59) + 59, 22) == (2024, 12, 22)


def test_collect_date_is_checked():
    assert BillingPeriod(22).days == 22
    assert BillingPeriod('22').days == 22
    assert BillingPeriod('05').days == 5
    assert BillingPeriod(['1'] * 12).days == (1,) * 12
    assert BillingPeriod(tuple(range(1, 13))).days == tuple(range(1, 13))
    for bad in (0, 32, '', 'x', '2 2', ' 5 ', '\uff12\uff12', 22.5, True, None, [1] * 11,
                [1] * 11 + [0], [1] * 13, [22], {}):
        msg = raises(ValueError, BillingPeriod, bad)
        assert msg == 'collect_date: must be 1-31, or a list of 12 days', bad


def test_wanted_day_limits():
    now = at(2024, 5, 1)
    bp = BillingPeriod(1)
    for start, back in (((2024, 1, 23), 99),        # 9 + 29 + 31 + 30 = 99
                        ((2024, 1, 22), None),      # 100 days: beyond E5
                        ((2024, 5, 1), 0),
                        ((2024, 5, 2), None)):      # after today: a clock set back
        bp.start = start
        assert bp.wanted_day(now) == back, start


def test_rollover_at_ten_to_the_d7():
    assert count_diff(15, 999990, 6) == 25
    assert count_diff(3, 9999999, 7) == 4
    bp = BillingPeriod(22, 6)
    bp.update(at(2025, 1, 25))
    bp.take_history((3, slots(999990)), at(2025, 1, 25))
    assert bp.count(15) == 25
    assert bp.count(1000000) is None                # out of range for 6 digits
    assert bp.count(99999999) is None               # sentinel seen in E2
    assert bp.count(None) is None
    for junk in (-1, 1.5, '15', True):                # no count: no data, never a crash
        assert bp.count(junk) is None
    bp7 = BillingPeriod(22, 7)
    bp7.update(at(2025, 1, 25))
    bp7.take_history((3, slots(0)), at(2025, 1, 25))
    assert bp7.count(1000000) == 1000000


def slots(first):
    return [first] + [None] * 47


def test_period_from_history():
    now = at(2025, 1, 25)
    bp = BillingPeriod(22, digits=6)
    assert bp.update(now) is True
    assert bp.update(now + 60) is False
    assert bp.start == (2025, 1, 22)
    assert bp.wanted_day(now) == 3
    assert bp.take_history((2, slots(12000)), now) is False    # answer for another day
    assert bp.take_history((3, slots(None)), now) is False     # 00:00 not measured
    assert bp.take_history((3, 'junk'), now) is False
    assert bp.take_history((3, slots(12000)), now) is True
    assert bp.source == 'history' and bp.partial is False
    assert bp.count(12345) == 345
    assert bp.wanted_day(now) is None
    assert bp.baseline() == {'start': '2025-01-22', 'count': 12000, 'partial': False}


def test_history_rollover_digits_6_and_7():
    now = at(2024, 3, 1)
    bp = BillingPeriod(31, digits=6)
    bp.update(now)
    assert bp.start == (2024, 2, 29) and bp.wanted_day(now) == 1
    assert bp.take_history((1, slots(999990)), now)
    assert bp.count(15) == 25
    bp7 = BillingPeriod(31, digits=7)
    bp7.update(now)
    assert bp7.take_history((1, slots(9999999)), now)
    assert bp7.count(3) == 4


def test_no_history_no_baseline_starts_at_first_reading_partial():
    now = at(2025, 1, 25)
    bp = BillingPeriod(22, digits=7)
    bp.update(now)
    assert bp.baseline() is None
    assert bp.count(None) is None
    assert bp.count(500) == 0
    assert bp.source == 'first' and bp.partial is True
    assert bp.count(520) == 20
    assert bp.baseline() == {'start': '2025-01-22', 'count': 500, 'partial': True}
    # still asks for history while partial, and history replaces the first reading
    assert bp.wanted_day(now) == 3
    assert bp.take_history((3, slots(400)), now)
    assert bp.count(520) == 120 and bp.partial is False


def test_saved_baseline_after_restart():
    now = at(2025, 1, 25)
    saved = json.loads(json.dumps({'start': '2025-01-22', 'count': 12000, 'partial': False}))
    bp = BillingPeriod('22', digits=6, baseline=saved)
    assert bp.baseline_error is None
    bp.update(now)
    assert bp.source == 'baseline' and bp.start_count == 12000
    assert bp.wanted_day(now) is None
    assert bp.count(12345) == 345
    # a partial baseline is used but history is still wanted
    bp = BillingPeriod(22, 6, {'start': '2025-01-22', 'count': 12300, 'partial': True})
    bp.update(now)
    assert bp.count(12345) == 45 and bp.partial is True
    assert bp.wanted_day(now) == 3


def test_baseline_of_an_older_period_is_not_used():
    now = at(2025, 1, 25)
    bp = BillingPeriod(22, 6, {'start': '2024-12-22', 'count': 11000})
    bp.update(now)
    assert bp.start_count is None and bp.source is None
    assert bp.count(12345) == 0 and bp.partial is True


def test_new_period_forgets_the_old_start():
    bp = BillingPeriod(22, 6)
    now = at(2025, 1, 21, 23, 30)
    bp.update(now)
    bp.take_history((30, slots(10000)), now)
    assert bp.count(12000) == 2000
    later = at(2025, 1, 22, 0, 30)
    assert bp.update(later) is True
    assert bp.start == (2025, 1, 22) and bp.start_count is None
    assert bp.wanted_day(later) == 0
    assert bp.take_history((0, slots(12010)), later)
    assert bp.count(12050) == 40


def test_a_clock_corrected_back_and_forth_keeps_the_start_found_since_boot():
    # Booted with an old (partial) baseline; the meter's history gives the exact start; then
    # the clock jumps into the previous period (meter time, then NTP) and back: the exact start
    # found since boot is kept, not the baseline the app booted with.
    bp = BillingPeriod(22, 6, {'start': '2025-01-22', 'count': 12300, 'partial': True})
    now = at(2025, 1, 25)
    bp.update(now)
    assert bp.take_history((3, slots(12000)), now) and bp.source == 'history'
    assert bp.update(at(2025, 1, 21)) is True and bp.start == (2024, 12, 22)
    assert bp.update(now) is True
    assert (bp.start_count, bp.partial, bp.source) == (12000, False, 'history')
    assert bp.wanted_day(now) is None and bp.count(12345) == 345
    # the same for a start taken from the first reading
    bp = BillingPeriod(22, 6)
    bp.update(now)
    assert bp.count(12100) == 0 and bp.source == 'first'
    bp.update(at(2025, 1, 21))
    bp.update(now)
    assert bp.start_count == 12100 and bp.partial is True and bp.count(12150) == 50


def test_bad_saved_baseline_is_dropped_with_a_reason():
    for bad in ({'start': '2025-01-22', 'count': -1}, {'start': '2025-01-22', 'count': 1000000},
                {'start': 20250122, 'count': 1}, {'start': '2025-01-22'}, {'count': 1},
                {'start': '2025-01-22', 'count': 1, 'partial': 'no'}, 'junk', [1]):
        bp = BillingPeriod(22, 6, bad)
        assert bp.baseline_error == 'malformed baseline', bad
        bp.update(at(2025, 1, 25))
        assert bp.source is None and bp.start_count is None
    # a start that is no period's start (no date at all, or another format) is never used
    for start in ('2025-02-30', '2025-1-22', '22.01.2025'):
        bp = BillingPeriod(22, 6, {'start': start, 'count': 1})
        assert bp.baseline_error is None
        bp.update(at(2025, 1, 25))
        assert bp.source is None and bp.start_count is None


def test_bad_arguments_raise_value_error():
    raises(ValueError, BillingPeriod, 0)
    raises(ValueError, BillingPeriod, 22, 9)
    assert BillingPeriod(22, None).digits == 8     # D7 unknown: the widest counter
    raises(ValueError, BillingPeriod(22).count, 5)      # update() not called yet
    bp = BillingPeriod(22, 6)
    bp.update(at(2025, 1, 25))
    assert bp.count(-5) is None and bp.start_count is None
    # the clock set back before the period start: nothing to ask, nothing raised
    assert bp.wanted_day(at(2025, 1, 21)) is None
    assert bp.take_history((0, slots(5)), at(2025, 1, 21)) is False
