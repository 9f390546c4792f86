"""One notion of wall time for the app: UTC seconds since 1970, plus the configured offset.

`WallClock(ticks, offset_s)` is handed a ticks clock (`ticks_ms`, `ticks_diff`) and keeps UTC as
a base value plus elapsed ticks, so it never depends on the ESP32's RTC epoch (2000) or on
whether the firmware's NTP client set the RTC to local time.  It is set from NTP when that
works, and meanwhile from the meter's own date and time (EPC 97/98, or an EA timestamp), which
are local time.  A source never overrides a better one set recently: NTP beats the meter.
It reads no clock by itself beyond the ticks it is handed.
"""

import timeutil

SOURCE_NONE = 0
SOURCE_METER = 1
SOURCE_NTP = 2
_NAMES = ('none', 'meter', 'ntp')


class WallClock:
    def __init__(self, ticks, offset_s=9 * 3600):
        self.ticks = ticks
        self.offset_s = offset_s
        self.source = SOURCE_NONE
        self._base_utc_ms = 0
        self._base_ticks = 0

    @property
    def valid(self):
        return self.source != SOURCE_NONE

    @property
    def source_name(self):
        return _NAMES[self.source]

    def set_utc(self, utc_s, source=SOURCE_NTP):
        """Set the time; a meter-derived time does not replace an NTP one."""
        if source < self.source and source == SOURCE_METER:
            return False
        # Refuse absurd values (an unset RTC reads 2000-01-01; a meter before 2016 is wrong).
        if utc_s < timeutil.to_epoch(2016, 1, 1):
            return False
        self._base_utc_ms = int(utc_s) * 1000
        self._base_ticks = self.ticks.ticks_ms()
        self.source = source
        return True

    def set_local(self, local_s, source=SOURCE_METER):
        return self.set_utc(local_s - self.offset_s, source)

    def set_from_meter(self, ymd, hm, s=0):
        """From the meter's 98 (date) and 97 (time) answers, which are local time."""
        y, mo, d = ymd
        h, mi = hm
        return self.set_local(timeutil.to_epoch(y, mo, d, h, mi, s), SOURCE_METER)

    def utc_ms(self):
        """UTC milliseconds since 1970 (None until set)."""
        if not self.valid:
            return None
        now = self.ticks.ticks_ms()
        elapsed = self.ticks.ticks_diff(now, self._base_ticks)
        if elapsed > 3600000:
            # ticks wrap (2^30 ms on the ESP32, so ticks_diff is valid for ~6 days): re-base hourly.
            self._base_utc_ms += elapsed
            self._base_ticks = now
            elapsed = 0
        return self._base_utc_ms + elapsed

    def utc(self):
        ms = self.utc_ms()
        return None if ms is None else ms // 1000

    def local(self):
        """Local seconds since 1970 (UTC + offset), None until set."""
        ms = self.utc_ms()
        return None if ms is None else ms // 1000 + self.offset_s

    def local_parts(self):
        t = self.local()
        return None if t is None else timeutil.from_epoch(t)
