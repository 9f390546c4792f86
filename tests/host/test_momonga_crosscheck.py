"""Cross-check: the independent PyPI client `momonga` (unmodified) against tools/emulator.py --pty.

momonga was written against real BP35A1/BP35C2 modules and meters.  If it cannot talk to the emulator,
or reads values other than the emulator's own truth, the emulator is wrong until proven otherwise.
One run uses real hardware timing (a DURATION 6 scan of ~17.5 s); the others run the emulated world
faster with --time-scale so the suite stays quick.
"""
import logging
import os
import sys

import momonga  # pinned in requirements-dev.txt: a missing install fails here, loudly
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emu_proc import EmuProc  # noqa: E402

from bp35emu import Emulator, VirtualClock  # noqa: E402

RBID = "0123456789ABCDEF0123456789ABCDEF"
PWD = "0123456789AB"
E7, E8, E0, E3 = 0xE7, 0xE8, 0xE0, 0xE3

logging.getLogger("momonga").setLevel(logging.ERROR)


def _open(emu):
    mo = momonga.Momonga(RBID, PWD, emu.path)
    mo.internal_xmit_interval = 0
    mo.open()
    return mo


def _check_power(emu, mo):
    before = emu.count()
    watts = mo.get_instantaneous_power()
    truth = emu.wait_truth(before, lambda t: t["served"] == [E7])
    assert watts == truth["power_w"]
    return watts, truth


def _check_current(emu, mo):
    before = emu.count()
    amps = mo.get_instantaneous_current()
    truth = emu.wait_truth(before, lambda t: t["served"] == [E8])
    assert amps["r phase current"] == pytest.approx(truth["current_r_a"], abs=1e-9)
    if truth["current_t_a"] is None:
        assert amps["t phase current"] is None
    else:
        assert amps["t phase current"] == pytest.approx(truth["current_t_a"], abs=1e-9)
    return amps, truth


def _check_cumulative(emu, mo, reverse=False):
    before = emu.count()
    kwh = mo.get_measured_cumulative_energy(reverse=reverse)
    truth = emu.wait_truth(before, lambda t: t["served"] == [E3 if reverse else E0])
    count = truth["export_count" if reverse else "cumulative_count"]
    assert kwh == pytest.approx(count * truth["unit"] * truth["coefficient"], rel=1e-12)
    assert kwh == pytest.approx(truth["export_kwh" if reverse else "cumulative_kwh"], rel=1e-12)
    return kwh, truth


def test_momonga_at_hardware_speed_reads_what_the_meter_serves():
    emu = EmuProc("--time-scale", "1", limit=150)
    try:
        mo = _open(emu)
        try:
            watts, truth = _check_power(emu, mo)
            assert 0 < watts < 5000
            amps, truth = _check_current(emu, mo)
            # single-phase three-wire: R + T ~ W / 100
            assert amps["r phase current"] + amps["t phase current"] == pytest.approx(watts / 100.0, abs=0.2)
            kwh, truth = _check_cumulative(emu, mo)
            assert kwh == pytest.approx(7531.3, abs=1.0)
            # yesterday's half-hourly history equals the same model run in this process
            history = mo.get_historical_cumulative_energy_1(day=1)
            model = Emulator(VirtualClock(), seed=1).meter
            expect = [model.count_at(model.local_time(2026, 11, 25) + 1800 * i) for i in range(48)]
            assert [h["cumulative energy"] for h in history] == pytest.approx([c * 0.1 for c in expect])
            stats = emu.truths[-1]["stats"]
            assert (stats["wopt_writes"], stats["scans"], stats["joins"]) == (1, 1, 1)
        finally:
            mo.close()
    finally:
        emu.stop()
    assert emu.other_stderr == []


def test_momonga_with_bp35c2_and_a_second_open_without_wopt():
    emu = EmuProc("--time-scale", "10", "--dialect", "bp35c2", "--seed", "4", limit=120)
    try:
        mo = _open(emu)
        try:
            assert mo.session_manager.skw.device_type.name == "BP35C2"
            _check_power(emu, mo)
            _check_current(emu, mo)
            _check_cumulative(emu, mo)
            assert mo.rssi is not None           # the 11-token ERXUDP (SA2 = 1) carries a link quality
        finally:
            mo.close()
        mo = _open(emu)                          # ROPT now answers OK 01: no second flash write
        try:
            _, truth = _check_power(emu, mo)
            assert truth["stats"]["wopt_writes"] == 1
            assert truth["stats"]["joins"] == 2 and truth["stats"]["scans"] == 2
        finally:
            mo.close()
    finally:
        emu.stop()


def test_momonga_with_a_solar_meter_without_d3_at_noon():
    emu = EmuProc("--time-scale", "10", "--scenario", "no-d3,solar", "--seed", "7",
                  "--wall-start", "2026-11-26T12:00", limit=120)
    try:
        mo = _open(emu)
        try:
            assert mo.energy_coefficient == 1    # Get_SNA for D3 -> coefficient 1
            watts, _ = _check_power(emu, mo)
            assert watts < 0                     # exporting at noon
            amps, _ = _check_current(emu, mo)
            assert amps["r phase current"] < 0
            _check_cumulative(emu, mo)
            exported, truth = _check_cumulative(emu, mo, reverse=True)
            assert exported > 0
        finally:
            mo.close()
    finally:
        emu.stop()


def test_momonga_applies_the_unit_and_coefficient_the_meter_serves():
    emu = EmuProc("--time-scale", "10", "--e1", "0x02", "--d3", "10", "--d7", "8",
                  "--scenario", "two-wire", "--seed", "9", limit=120)
    try:
        mo = _open(emu)
        try:
            assert mo.energy_unit == 0.01 and mo.energy_coefficient == 10
            kwh, truth = _check_cumulative(emu, mo)
            assert (truth["unit"], truth["coefficient"], truth["digits"]) == (0.01, 10, 8)
            amps, truth = _check_current(emu, mo)
            assert amps["t phase current"] is None
        finally:
            mo.close()
    finally:
        emu.stop()
