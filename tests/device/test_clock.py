"""lib/clock.py: one notion of wall time (UTC + offset), from NTP or the meter."""
import bp35emu
import timeutil
from clock import WallClock, SOURCE_NTP, SOURCE_METER


def test_unset_clock_gives_none():
    w = WallClock(bp35emu.VirtualClock())
    assert not w.valid and w.utc() is None and w.local() is None and w.local_parts() is None


def test_utc_advances_with_ticks_and_local_adds_the_offset():
    ticks = bp35emu.VirtualClock()
    w = WallClock(ticks, 9 * 3600)
    t0 = timeutil.to_epoch(2026, 11, 25, 15, 0, 0)      # 2026-11-26 00:00 JST
    assert w.set_utc(t0)
    ticks.sleep_ms(61500)
    assert w.utc() == t0 + 61
    assert w.utc_ms() == t0 * 1000 + 61500
    assert w.local_parts()[:6] == (2026, 11, 26, 0, 1, 1)


def test_meter_time_is_local_and_never_overrides_ntp():
    ticks = bp35emu.VirtualClock()
    w = WallClock(ticks, 9 * 3600)
    assert w.set_from_meter((2026, 11, 26), (12, 30))
    assert w.source == SOURCE_METER
    assert w.utc() == timeutil.to_epoch(2026, 11, 26, 3, 30)
    ntp = timeutil.to_epoch(2026, 11, 26, 3, 31, 7)
    assert w.set_utc(ntp, SOURCE_NTP)
    assert not w.set_from_meter((2026, 11, 26), (12, 0))   # NTP stays
    assert w.utc() == ntp and w.source_name == 'ntp'


def test_absurd_times_are_refused():
    w = WallClock(bp35emu.VirtualClock())
    # an unset ESP32 RTC reads 2000-01-01; a meter date before 2016 is wrong too
    assert not w.set_utc(timeutil.EPOCH_2000)
    assert not w.set_from_meter((2015, 12, 31), (23, 59))
    assert not w.valid


def test_months_of_running_survive_the_ticks_wrap():
    # ticks_ms wraps at 2^30 ms (12.4 days) on the ESP32; ticks_diff is valid for half that.
    ticks = bp35emu.VirtualClock()
    w = WallClock(ticks)
    t0 = timeutil.to_epoch(2026, 1, 1)
    w.set_utc(t0)
    for _ in range(90 * 24):        # 90 days, read hourly as the app does (every 10 s really)
        ticks.sleep_ms(3600 * 1000)
        w.utc_ms()
    assert w.utc() == t0 + 90 * 86400
