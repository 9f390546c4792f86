"""lib/util.py: the compat shim, calendar arithmetic, the wall clock (UTC + offset, from NTP or
the meter) and small JSON files on flash that survive power cuts; CPython and MicroPython."""
import os

import bp35emu
import util
from util import hex_upper, unhex, is_hex, JsonStore, WallClock

METER, NTP = 1, 2      # WallClock.valid: where the time came from


# ---- calendar and shim

def test_epoch_origin_and_2000():
    assert util.to_epoch(1970, 1, 1) == 0
    assert util.to_epoch(2000, 1, 1) == util.EPOCH_2000 == 946684800


def test_known_dates():
    # 2024-02-29 12:34:56 UTC is 1709210096 (a Thursday)
    assert util.to_epoch(2024, 2, 29, 12, 34, 56) == 1709210096
    assert util.from_epoch(1709210096) == (2024, 2, 29, 12, 34, 56, 3)
    # 2026-11-26 00:00:00 JST = 2026-11-25 15:00:00 UTC = 1795618800
    assert util.to_epoch(2026, 11, 25, 15) == 1795618800
    assert util.from_epoch(util.to_epoch(2026, 11, 25, 15))[:4] == (2026, 11, 25, 15)


def test_round_trip_over_four_centuries_of_month_starts():
    days = util.days_from_civil(1900, 1, 1)
    for year in range(1900, 2300, 7):
        for month in range(1, 13):
            for day in (1, util.days_in_month(year, month)):
                n = util.days_from_civil(year, month, day)
                assert util.civil_from_days(n) == (year, month, day)
    assert util.civil_from_days(days) == (1900, 1, 1)


def test_consecutive_days_are_consecutive():
    n = util.days_from_civil(2023, 12, 30)
    seen = [util.civil_from_days(n + i) for i in range(65)]
    assert seen[0] == (2023, 12, 30)
    assert seen[2] == (2024, 1, 1)
    assert (2024, 2, 29) in seen
    assert seen[seen.index((2024, 2, 29)) + 1] == (2024, 3, 1)


def test_leap_years_and_month_lengths():
    for year in (2000, 2024, 2028):
        assert util.days_in_month(year, 2) == 29, year
    for year in (1900, 2100, 2026, 2027):
        assert util.days_in_month(year, 2) == 28, year
    assert util.days_in_month(2024, 2) == 29
    assert util.days_in_month(2026, 2) == 28
    assert [util.days_in_month(2026, m) for m in (4, 6, 9, 11)] == [30, 30, 30, 30]


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
    assert is_hex("0E1A") and is_hex("abc") and is_hex("001C640003DD6393")
    for bad in ("", "0G", "0x1A", " 1A", "-1", "1_A", "\u0661"):
        assert not is_hex(bad), bad
    for bad in (None, 12, "\uff11\uff11"):
        try:
            unhex(bad)
        except (ValueError, TypeError):
            pass
        else:
            raise AssertionError("accepted %r" % (bad,))


# ---- wall clock

def test_unset_clock_gives_none():
    w = WallClock(bp35emu.VirtualClock())
    assert not w.valid and w.utc() is None and w.local() is None


def test_utc_advances_with_ticks_and_local_adds_the_offset():
    ticks = bp35emu.VirtualClock()
    w = WallClock(ticks, 9 * 3600)
    t0 = util.to_epoch(2026, 11, 25, 15, 0, 0)      # 2026-11-26 00:00 JST
    assert w.set_utc(t0)
    ticks.sleep_ms(61500)
    assert w.utc() == t0 + 61
    assert w.utc_ms() == t0 * 1000 + 61500
    assert util.from_epoch(w.local())[:6] == (2026, 11, 26, 0, 1, 1)


def test_meter_time_is_local_and_never_overrides_ntp():
    ticks = bp35emu.VirtualClock()
    w = WallClock(ticks, 9 * 3600)
    assert w.set_local(util.to_epoch(2026, 11, 26, 12, 30))
    assert w.valid == METER
    assert w.utc() == util.to_epoch(2026, 11, 26, 3, 30)
    ntp = util.to_epoch(2026, 11, 26, 3, 31, 7)
    assert w.set_utc(ntp, NTP)
    assert not w.set_local(util.to_epoch(2026, 11, 26, 12, 0))   # NTP stays
    assert not w.set_utc(ntp + 30, METER)
    assert w.utc() == ntp and w.source_name == 'ntp' and w.valid == NTP
    assert w.set_utc(ntp + 60)                   # a newer NTP time is taken
    assert w.utc() == ntp + 60


def test_source_names_and_validity():
    w = WallClock(bp35emu.VirtualClock())
    assert not w.valid and (w.valid, w.source_name) == (0, None)
    assert w.set_local(util.to_epoch(2026, 1, 1))
    assert w.valid and (w.valid, w.source_name) == (METER, 'meter')
    assert w.local() == util.to_epoch(2026, 1, 1)        # the default offset is JST
    assert w.utc() == util.to_epoch(2026, 1, 1) - 9 * 3600


def test_absurd_times_are_refused():
    w = WallClock(bp35emu.VirtualClock())
    # an unset ESP32 RTC reads 2000-01-01; a meter date before 2016 is wrong too
    assert not w.set_utc(util.EPOCH_2000)
    assert not w.set_local(util.to_epoch(2016, 1, 1, 8, 59))      # 2015-12-31 23:59 UTC
    assert not w.valid
    assert w.set_utc(util.to_epoch(2016, 1, 1))


def test_months_of_running_survive_the_ticks_wrap():
    # ticks_ms wraps at 2^30 ms (12.4 days) on the ESP32; ticks_diff is valid for half that.
    ticks = bp35emu.VirtualClock()
    w = WallClock(ticks)
    t0 = util.to_epoch(2026, 1, 1)
    w.set_utc(t0)
    for _ in range(90 * 24):        # 90 days, read hourly as the app does (every 10 s really)
        ticks.sleep_ms(3600 * 1000)
        w.utc_ms()
    assert w.utc() == t0 + 90 * 86400


# ---- JSON store

BASE = '/tmp/smm_store_test'


def _fresh(name):
    try:
        os.mkdir(BASE)
    except OSError:
        pass
    path = BASE + '/' + name
    for p in (path, path + '.tmp'):
        try:
            os.remove(p)
        except OSError:
            pass
    return path


def test_save_load_and_no_rewrite_when_unchanged():
    path = _fresh('a.json')
    st = JsonStore(path)
    assert st.load() is None
    assert st.save({'count': 1})
    os.remove(path)                           # so a rewrite would show
    assert not st.save({'count': 1})          # flash wears: same content, no write
    assert JsonStore(path).load() is None
    assert st.save({'count': 2})
    assert JsonStore(path).load() == {'count': 2}
    st2 = JsonStore(path)
    st2.load()
    assert not st2.save({'count': 2})         # what a load found counts as written


def test_power_cut_between_remove_and_rename_keeps_the_new_document():
    path = _fresh('b.json')
    JsonStore(path).save({'v': 1})
    # what a cut leaves: the old file removed, the new one under its temporary name
    with open(path + '.tmp', 'w') as fh:
        fh.write('{"v": 2}')
    os.remove(path)
    assert JsonStore(path).load() == {'v': 2}
    assert JsonStore(path).load() == {'v': 2}  # and the rename was finished


def test_unreadable_file_is_absent_with_an_error():
    path = _fresh('c.json')
    with open(path, 'w') as fh:
        fh.write('{broken')
    st = JsonStore(path)
    assert st.load() is None and isinstance(st.error, ValueError)
    assert st.save({'ok': 1}) and JsonStore(path).load() == {'ok': 1}   # overwritten whole


def test_clear_and_no_path():
    path = _fresh('d.json')
    st = JsonStore(path)
    st.save({'x': 1})
    st.clear()
    assert JsonStore(path).load() is None
    off = JsonStore(None)
    assert off.load() is None and not off.save({'x': 1})
