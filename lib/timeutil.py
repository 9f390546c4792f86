"""Calendar arithmetic on plain integers, the project's own (no datetime on the device).

All times are integer seconds since 1970-01-01 00:00:00 in whatever zone the caller
keeps (the app keeps UTC and adds the configured offset once, in one place).  The
ESP32 port of MicroPython counts from 2000-01-01: EPOCH_2000 converts.  Pure
functions, no clock is read here: `now` is always an argument.
"""

from compat import const

EPOCH_2000 = const(946684800)  # seconds from 1970-01-01 to 2000-01-01
DAY = const(86400)

_CUM_DAYS = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year, month):
    if month == 2:
        return 29 if is_leap(year) else 28
    if month in (4, 6, 9, 11):
        return 30
    return 31


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (month 1-12)."""
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 - 719162
    days += _CUM_DAYS[month - 1] + day - 1
    if month > 2 and is_leap(year):
        days += 1
    return days


def civil_from_days(days):
    """Inverse of days_from_civil: -> (year, month, day)."""
    # Shift to the era-based algorithm with March as the first month.
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


def to_epoch(year, month, day, hour=0, minute=0, second=0):
    return days_from_civil(year, month, day) * DAY + hour * 3600 + minute * 60 + second


def from_epoch(t):
    """seconds -> (year, month, day, hour, minute, second, weekday 0=Monday)."""
    days = t // DAY
    rem = t - days * DAY
    year, month, day = civil_from_days(days)
    return (year, month, day, rem // 3600, (rem // 60) % 60, rem % 60, (days + 3) % 7)
