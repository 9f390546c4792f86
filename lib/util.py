"""The small pieces every layer shares: the one compatibility shim, calendar arithmetic, the
wall clock and small JSON files on flash.  One module, because each piece is a few lines and a
module of its own costs RAM on the device.

- Shim: `const`, `struct`, `json`, `os`, `unhex`/`hex_upper`/`is_hex` on MicroPython 1.11 and
  CPython (no bytes.hex(), no bytes.fromhex()).
- Calendar: integer seconds since 1970-01-01 in whatever zone the caller keeps (the app keeps
  UTC and adds the configured offset once); the ESP32's RTC counts from 2000 (EPOCH_2000).
  Pure functions: `now` is always an argument.
- `WallClock(ticks, offset)`: UTC as a base value plus elapsed ticks, set from NTP or, until
  NTP works, from the meter's own local time (97/98 or an EA stamp); NTP beats the meter.
- `JsonStore(path)`: one small JSON document, written to a temporary file and renamed over the
  old one (a power cut leaves the old or the new, never half), only when it changed (flash wears).
It reads no clock beyond the ticks it is handed and picks no file path itself.
"""

try:
    from micropython import const
except ImportError:  # CPython: every const() here is an int
    const = int
try:
    import ubinascii as binascii
    import ustruct as struct
    import ujson as json
    import uos as os
except ImportError:
    import binascii
    import struct
    import json
    import os


def hex_upper(data):
    """bytes -> 'ABCD' (uppercase, no separators)."""
    return binascii.hexlify(data).decode().upper()


# 'abcd' / 'ABCD' (str or bytes) -> bytes; ValueError on odd length or a non-hex digit
# (MicroPython >= 1.20 also skips spaces between bytes; 1.11 and CPython do not)
unhex = binascii.unhexlify


def is_hex(text):
    """True when text (str) is non-empty and only hex digits."""
    return text != '' and not text.strip('0123456789abcdefABCDEF')


# ---- calendar ---------------------------------------------------------------------------------

EPOCH_2000 = const(946684800)  # seconds from 1970-01-01 to 2000-01-01 (a global: tests use it)
_DAY = const(86400)


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (month 1-12; 13 is January of the
    next year)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def days_in_month(year, month):
    return days_from_civil(year, month + 1, 1) - days_from_civil(year, month, 1)


def civil_from_days(days):
    """Inverse of days_from_civil: -> (year, month, day)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, doy - (153 * mp + 2) // 5 + 1


def to_epoch(year, month, day, hour=0, minute=0, second=0):
    return days_from_civil(year, month, day) * _DAY + hour * 3600 + minute * 60 + second


def from_epoch(t):
    """seconds -> (year, month, day, hour, minute, second, weekday 0=Monday)."""
    days = t // _DAY
    t -= days * _DAY
    return civil_from_days(days) + (t // 3600, t // 60 % 60, t % 60, (days + 3) % 7)


# ---- wall clock -------------------------------------------------------------------------------

_MIN_DAY = const(16801)        # 2016-01-01: an unset RTC reads 2000, no smart meter is older


class WallClock:
    """`valid`: 0 until set, then where the time came from: 1 the meter, 2 NTP (so `if
    clock.valid` asks "is it set"); `source_name` says the same in words (None, 'meter',
    'ntp'); `offset` (seconds, local minus UTC).  `ms` is the UTC time in milliseconds at the
    ticks_ms() reading `now` (both re-based at every read)."""

    def __init__(self, ticks, offset=9 * 3600):
        self.ticks = ticks
        self.offset = offset
        self.valid = 0
        self.source_name = None

    def set_utc(self, value, valid=2):
        """Set the time (UTC seconds) from NTP (valid=2) or the meter (1); a meter-derived time
        does not replace an NTP one, and absurd values (before 2016) are refused.  -> True when
        taken."""
        if valid < self.valid or value // _DAY < _MIN_DAY:
            return False
        self.ms = int(value) * 1000
        self.now = self.ticks.ticks_ms()
        self.valid = valid
        self.source_name = 'ntp' if valid > 1 else 'meter'
        return True

    def set_local(self, value, valid=1):
        """Set the time from local seconds (UTC + offset), by default from the meter."""
        return self.set_utc(value - self.offset, valid)

    def utc_ms(self):
        """UTC milliseconds since 1970 (None until set)."""
        if self.valid:
            now = self.ticks.ticks_ms()
            self.ms += self.ticks.ticks_diff(now, self.now)
            # re-based at every call, so the ticks wrap (2^30 ms on the ESP32, ticks_diff is
            # right within ~6 days) never matters as long as it is read more often than that
            self.now = now
            return self.ms

    def utc(self):
        if self.valid:
            return self.utc_ms() // 1000

    def local(self):
        """Local seconds since 1970 (UTC + offset), None until set."""
        if self.valid:
            return self.utc_ms() // 1000 + self.offset


# ---- small JSON files -------------------------------------------------------------------------

class JsonStore:
    """`error`: the exception of the last load or save that failed (for the log), or None;
    `data`: the JSON text the file holds, as far as this store knows."""

    def __init__(self, path):
        self.path = path
        self.error = None
        self.data = None

    def load(self):
        """The document, or None when there is none or it does not parse."""
        try:
            try:
                f = open(self.path)
            except OSError:
                # A power cut between removing the old file and the rename: finish the rename.
                os.rename(self.path + '.tmp', self.path)
                f = open(self.path)
            with f:
                self.data = f.read()
            return json.loads(self.data)
        except ValueError as e:
            self.error = e      # not JSON
        except Exception:
            pass                # no file, or no path

    def save(self, doc):
        """Write doc when it differs from what the file holds; -> True when written."""
        doc = json.dumps(doc)
        if not self.path or doc == self.data:
            return False
        tmp = self.path + '.tmp'
        try:
            with open(tmp, 'w') as f:
                f.write(doc)
            self.clear()
            os.rename(tmp, self.path)
        except OSError as e:
            self.error = e
            return False
        self.data = doc
        return True

    def clear(self):
        """Remove the file (a later save writes it again)."""
        self.data = None
        try:
            os.remove(self.path)
        except Exception:
            pass
