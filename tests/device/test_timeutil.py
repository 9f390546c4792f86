"""Calendar arithmetic (lib/timeutil.py) and the compat shim, on CPython and MicroPython."""
import timeutil
from compat import hex_upper, unhex, is_hex


def test_epoch_origin_and_2000():
    assert timeutil.to_epoch(1970, 1, 1) == 0
    assert timeutil.to_epoch(2000, 1, 1) == timeutil.EPOCH_2000 == 946684800


def test_known_dates():
    # 2024-02-29 12:34:56 UTC is 1709210096 (a Thursday)
    assert timeutil.to_epoch(2024, 2, 29, 12, 34, 56) == 1709210096
    assert timeutil.from_epoch(1709210096) == (2024, 2, 29, 12, 34, 56, 3)
    # 2026-11-26 00:00:00 JST = 2026-11-25 15:00:00 UTC = 1795618800
    assert timeutil.to_epoch(2026, 11, 25, 15) == 1795618800
    assert timeutil.from_epoch(timeutil.to_epoch(2026, 11, 25, 15))[:4] == (2026, 11, 25, 15)


def test_round_trip_over_four_centuries_of_month_starts():
    days = timeutil.days_from_civil(1900, 1, 1)
    for year in range(1900, 2300, 7):
        for month in range(1, 13):
            for day in (1, timeutil.days_in_month(year, month)):
                n = timeutil.days_from_civil(year, month, day)
                assert timeutil.civil_from_days(n) == (year, month, day)
    assert timeutil.civil_from_days(days) == (1900, 1, 1)


def test_consecutive_days_are_consecutive():
    n = timeutil.days_from_civil(2023, 12, 30)
    seen = [timeutil.civil_from_days(n + i) for i in range(65)]
    assert seen[0] == (2023, 12, 30)
    assert seen[2] == (2024, 1, 1)
    assert (2024, 2, 29) in seen
    assert seen[seen.index((2024, 2, 29)) + 1] == (2024, 3, 1)


def test_leap_years_and_month_lengths():
    assert timeutil.is_leap(2000) and timeutil.is_leap(2024)
    assert not timeutil.is_leap(1900) and not timeutil.is_leap(2100) and not timeutil.is_leap(2026)
    assert timeutil.days_in_month(2024, 2) == 29
    assert timeutil.days_in_month(2026, 2) == 28
    assert [timeutil.days_in_month(2026, m) for m in (4, 6, 9, 11)] == [30, 30, 30, 30]


def test_hex_helpers():
    assert hex_upper(b"\x10\x81\xab") == "1081AB"
    assert unhex("1081ab") == b"\x10\x81\xab"
    assert unhex(b"00FF") == b"\x00\xff"
    for bad in ("1", "zz", "10 8"):
        try:
            unhex(bad)
        except ValueError:
            pass
        else:
            raise AssertionError("accepted %r" % bad)
    assert is_hex("0E1A") and not is_hex("") and not is_hex("0G")
