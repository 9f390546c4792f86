"""tools/emulator.py --pty: the emulator on a real pseudo-terminal, driven with pyserial."""
import json
import os
import struct
import subprocess
import sys
import time

import pytest
import serial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emu_proc import EMULATOR, EmuProc  # noqa: E402

RBID = "0123456789ABCDEF0123456789ABCDEF"


@pytest.fixture
def emu(request):
    args = getattr(request, "param", ["--time-scale", "20"])
    proc = EmuProc(*args)
    yield proc
    proc.stop()


def _port(emu):
    return serial.Serial(emu.path, 115200, timeout=0.2)


def _exchange(port, data, until, limit=10.0):
    port.write(data)
    out = b""
    deadline = time.monotonic() + limit
    while until not in out and time.monotonic() < deadline:
        out += port.read(4096)
    return out


def _answer(port, head, frame, limit=10.0):
    """Send a SKSENDTO and return the payload of the first ERXUDP line from port 0E1A."""
    port.write(head + frame)
    buf = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        buf += port.read(4096)
        for line in buf.split(b"\r\n")[:-1]:
            if line.startswith(b"ERXUDP ") and b" 0E1A 0E1A " in line:
                return bytes.fromhex(line.split(b" ")[8].decode())
    raise AssertionError("no ERXUDP answer: %r" % buf)


def _frame(tid, epcs):
    out = b"\x10\x81" + struct.pack(">H", tid) + b"\x05\xff\x01\x02\x88\x01\x62" + bytes([len(epcs)])
    for epc in epcs:
        out += bytes([epc, 0])
    return out


def _join(port, emu_args_seed=1):
    """SFE 0, ASCII, credentials, scan, join; returns (meter ipv6, EPANDESC fields)."""
    _exchange(port, b"SKSREG SFE 0\r\n", b"OK\r\n")
    _exchange(port, b"WOPT 01\r", b"OK\r")
    _exchange(port, ("SKSETRBID %s\r\n" % RBID).encode(), b"OK\r\n")
    _exchange(port, b"SKSETPWD C 0123456789AB\r\n", b"OK\r\n")
    scan = _exchange(port, b"SKSCAN 2 FFFFFFFF 6\r\n", b"EVENT 22", 30)
    fields = {}
    for line in scan.decode().split("\r\n"):
        if line.startswith("  ") and ":" in line:
            key, _, value = line.strip().rpartition(":")
            fields[key] = value
    ip = _exchange(port, ("SKLL64 %s\r\n" % fields["Addr"]).encode(), b"\r\n").decode().strip()
    assert ip.startswith("FE80:")
    _exchange(port, ("SKSREG S2 %s\r\n" % fields["Channel"]).encode(), b"OK\r\n")
    _exchange(port, ("SKSREG S3 %s\r\n" % fields["Pan ID"]).encode(), b"OK\r\n")
    out = _exchange(port, ("SKJOIN %s\r\n" % ip).encode(), b"EVENT 25", 30)
    assert b"EVENT 25" in out
    return ip, fields


def test_first_line_is_the_slave_path_and_stderr_is_quiet(emu):
    assert emu.first_line.endswith("\n")
    assert emu.path.startswith("/dev/")
    assert os.isatty(os.open(emu.path, os.O_RDWR | os.O_NOCTTY))
    time.sleep(0.3)
    assert emu.count() == 0 and emu.other_stderr == []


def test_raw_mode_cr_only_answers_and_echo(emu):
    with _port(emu) as port:
        assert _exchange(port, b"ROPT\r", b"OK 00\r") == b"ROPT\r\nOK 00\r"
        assert _exchange(port, b"SKVER\r\n", b"OK\r\n") == b"SKVER\r\nEVER 1.2.10\r\nOK\r\n"
        assert _exchange(port, b"SKSREG SFE 0\r\n", b"OK\r\n") == b"SKSREG SFE 0\r\nOK\r\n"
        assert _exchange(port, b"SKVER\r\n", b"OK\r\n") == b"EVER 1.2.10\r\nOK\r\n"


def test_binary_payload_with_control_bytes_reaches_the_meter(emu):
    """TID 0x0304 and 0x0D0A put ^C, ^D, CR and LF into the payload: a cooked tty would mangle them."""
    with _port(emu) as port:
        ip, _ = _join(port)
        for tid in (0x0304, 0x0D0A, 0x1113, 0x7F1A):
            head = ("SKSENDTO 1 %s 0E1A 1 000E " % ip).encode()
            data = _answer(port, head, _frame(tid, [0xE7]))
            assert struct.unpack(">H", data[2:4])[0] == tid
            assert data[10] == 0x72


def test_truth_lines_on_stderr_and_in_the_truth_file(tmp_path):
    truth_file = tmp_path / "truth.json"
    emu = EmuProc("--time-scale", "20", "--truth-file", str(truth_file))
    try:
        with _port(emu) as port:
            ip, fields = _join(port)
            before = emu.count()
            head = ("SKSENDTO 1 %s 0E1A 1 0010 " % ip).encode()
            data = _answer(port, head, _frame(0x42, [0xE7, 0xE8]))
            watts = struct.unpack(">i", data[14:18])[0]
            amps_r, amps_t = struct.unpack(">hh", data[20:24])
            truth = emu.wait_truth(before, lambda t: t["tid"] == 0x42)
            assert truth["power_w"] == watts
            assert truth["current_r_a"] == amps_r / 10.0 and truth["current_t_a"] == amps_t / 10.0
            assert truth["served"] == [0xE7, 0xE8]
            assert truth["mac"] == fields["Addr"] and truth["ipv6"] == ip
            assert truth["channel"] == int(fields["Channel"], 16)
            assert truth["stats"]["wopt_writes"] == 1 and truth["stats"]["joins"] == 1
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not truth_file.exists():
                time.sleep(0.05)
            assert json.loads(truth_file.read_text())["power_w"] == watts
    finally:
        emu.stop()


@pytest.mark.parametrize("emu", [["--time-scale", "1"]], indirect=True)
def test_scan_runs_on_real_time(emu):
    """DURATION 2 at real-hardware timing: 28 x 5 x 9.6 ms = 1.34 s; never earlier than that."""
    with _port(emu) as port:
        _exchange(port, ("SKSETRBID %s\r\n" % RBID).encode(), b"OK\r\n")
        start = time.monotonic()
        out = _exchange(port, b"SKSCAN 2 FFFFFFFF 2\r\n", b"EVENT 22", 20)
        elapsed = time.monotonic() - start
        assert b"EVENT 22" in out
        assert elapsed >= 1.3


def test_the_port_can_be_closed_and_opened_again(emu):
    with _port(emu) as port:
        assert b"EVER" in _exchange(port, b"SKVER\r\n", b"OK\r\n")
    with _port(emu) as port:
        assert _exchange(port, b"SKINFO\r\n", b"OK\r\n").endswith(b" FFFE\r\nOK\r\n")


@pytest.mark.parametrize("emu", [["--time-scale", "20", "--dialect", "bp35c2", "--scenario", "no-d3"]],
                         indirect=True)
def test_options_reach_the_emulator(emu):
    with _port(emu) as port:
        assert _exchange(port, b"SKVER\r\n", b"OK\r\n").endswith(b"EVER 1.5.2\r\nOK\r\n")
        assert _exchange(port, b"SKSCAN 2 FFFFFFFF 6\r\n", b"ER05\r\n", 5).endswith(b"FAIL ER05\r\n")


def test_unknown_scenario_fails_without_printing_a_path():
    proc = subprocess.run([sys.executable, EMULATOR, "--pty", "--scenario", "nonsense"],
                          capture_output=True, timeout=20)
    assert proc.returncode != 0
    assert proc.stdout == b""
    assert b"nonsense" in proc.stderr


def test_terminates_on_sigterm(emu):
    emu.proc.terminate()
    assert emu.proc.wait(timeout=5) == -15
