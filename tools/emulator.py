#!/usr/bin/env python3
"""PTY front end of the BP35A1/BP35C2 + smart meter emulator (tools/bp35emu.py), CPython only.

    python tools/emulator.py --pty [--dialect bp35a1|bp35c2] [--scenario NAME ...] [--seed N]
                             [--time-scale F] [--truth-file PATH] [--wall-start now|EPOCH|YYYY-MM-DDTHH:MM]

Opens a pseudo-terminal, sets its slave side to raw mode, prints the slave's path as the first line
of stdout (flushed at once, nothing on stderr before it) and serves any serial client (pyserial at
115200, momonga, the app on the desktop) in real time until killed.  After every answer the meter
serves, one JSON line with the emulator's truth (what the meter served, see Emulator.truth()) goes
to stderr and, with --truth-file, replaces that file's content.  --time-scale F runs the emulated
world F times faster than real time (scan, join, round trips, the meter's clock); the default 1 is
real hardware timing (a DURATION 6 scan takes about 17.5 s).  Credentials the emulator should insist
on are read from environment variables (--rbid-env / --password-env), never from the command line,
and are never printed.
"""
import argparse
import json
import os
import pty
import select
import sys
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(os.path.dirname(HERE), "lib"), HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import bp35emu  # noqa: E402
from util import to_epoch  # noqa: E402

_CHUNK = 1024


def _wall_start(text, tz):
    if text is None:
        return None
    if text == "now":
        return int(time.time())
    if text.isdigit():
        return int(text)
    date, _, clock = text.partition("T")
    y, mo, d = [int(x) for x in date.split("-")]
    parts = [int(x) for x in clock.split(":")] if clock else []
    parts += [0] * (3 - len(parts))
    return to_epoch(y, mo, d, parts[0], parts[1], parts[2]) - tz


def _int(text):
    return int(text, 0)


def _options(pairs):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit("--opt wants KEY=VALUE, got %r" % pair)
        out[key] = _int(value)
    return out


def parse_args(argv):
    ap = argparse.ArgumentParser(description="BP35A1/BP35C2 + smart meter emulator on a PTY")
    ap.add_argument("--pty", action="store_true", required=True, help="serve on a new pseudo-terminal")
    ap.add_argument("--dialect", choices=("bp35a1", "bp35c2"), default="bp35a1")
    ap.add_argument("--scenario", action="append", default=[],
                    help="fault scenario (repeatable or comma-separated): " + ", ".join(bp35emu.SCENARIOS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-scale", type=float, default=1.0,
                    help="emulated time per real time (default 1 = real hardware timing)")
    ap.add_argument("--wall-start", default=None,
                    help="meter clock at start: now, unix seconds, or local YYYY-MM-DDTHH:MM[:SS] "
                         "(default 2026-11-26T00:00 JST)")
    ap.add_argument("--tz-offset", type=int, default=9 * 3600, help="meter time zone, seconds east of UTC")
    ap.add_argument("--session-lifetime", type=int, default=86400, help="PANA session lifetime, s")
    ap.add_argument("--d3", default="1", help="coefficient D3 (an int, or 'none' for a meter without D3)")
    ap.add_argument("--e1", default="0x01", help="unit code E1 (or 'none')")
    ap.add_argument("--d7", type=int, default=6, help="effective digits D7")
    ap.add_argument("--rxbuf", type=int, default=4096, help="module-to-host buffer before bytes are dropped")
    ap.add_argument("--opt", action="append", default=[], metavar="KEY=INT",
                    help="scenario option, e.g. swap_after_s=60 (see bp35emu.DEFAULT_OPTIONS)")
    ap.add_argument("--rbid-env", default=None, help="name of an environment variable with the B-route ID to insist on")
    ap.add_argument("--password-env", default=None,
                    help="name of an environment variable with the password to insist on")
    ap.add_argument("--truth-file", default=None, help="file rewritten with the latest truth JSON")
    ap.add_argument("--no-truth", action="store_true", help="do not print truth lines on stderr")
    return ap.parse_args(argv)


def build(args, clock):
    scenarios = []
    for item in args.scenario:
        scenarios += [s for s in item.replace(",", " ").split() if s]
    d3 = None if args.d3.lower() == "none" else _int(args.d3)
    e1 = None if args.e1.lower() == "none" else _int(args.e1)
    rbid = os.environ.get(args.rbid_env) if args.rbid_env else None
    password = os.environ.get(args.password_env) if args.password_env else None
    return bp35emu.Emulator(
        clock, dialect=args.dialect, scenario=scenarios, seed=args.seed,
        wall_start=_wall_start(args.wall_start, args.tz_offset), tz_offset=args.tz_offset,
        rbid=rbid, password=password, d3=d3, e1=e1, d7=args.d7,
        session_lifetime=args.session_lifetime, rxbuf=args.rxbuf, options=_options(args.opt))


def _truth_json(emu):
    truth = emu.truth()
    truth["seq"] = emu.truth_seq
    truth["stats"] = dict(emu.stats)
    return json.dumps(truth, sort_keys=True)


def serve(args):
    master, slave = pty.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    clock = bp35emu.RealClock(args.time_scale)
    emu = build(args, clock)
    sys.stdout.write(path + "\n")
    sys.stdout.flush()
    os.set_blocking(master, False)
    pending = b""
    seen = emu.truth_seq
    while True:
        now = clock.now_ms()
        due = emu.next_due_ms()
        wait = 0.05
        if pending:
            wait = 0.005
        elif due is not None:
            wait = min(wait, max(0.0, (due - now) / 1000.0 / args.time_scale))
        readable, _, _ = select.select([master], [], [], wait)
        if readable:
            try:
                data = os.read(master, 4096)
            except BlockingIOError:
                data = b""
            except OSError:
                data = b""     # no client at the moment
            if data:
                emu.uart.write(data)
        if not pending:
            pending = emu.uart.read(_CHUNK) or b""
        else:
            emu.poll()
        if pending:
            try:
                n = os.write(master, pending)
                pending = pending[n:]
            except BlockingIOError:
                pass           # the client is not reading: the emulated buffer fills and drops
            except OSError:
                pending = b""
        if emu.truth_seq != seen:
            seen = emu.truth_seq
            line = _truth_json(emu)
            if not args.no_truth:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            if args.truth_file:
                tmp = args.truth_file + ".tmp"
                with open(tmp, "w") as fh:
                    fh.write(line + "\n")
                os.replace(tmp, args.truth_file)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.time_scale <= 0:
        raise SystemExit("--time-scale must be positive")
    try:
        serve(args)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
