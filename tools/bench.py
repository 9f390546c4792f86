"""`make bench`: what the B-route session costs, on the emulator's virtual clock and in real MicroPython.

A benchmark, not a test: it prints a table, writes build/bench.json (and build/bench.md, the same
table in Markdown), marks each target PASS or MISS and exits 0 either way; only a crash of the
benchmark itself gives a non-zero exit.

What it measures (tools/bp35emu.py, BP35A1 dialect, seed 1, lib/bp35a1.py + lib/meter.py):
- boot to the first E7 value in simulated seconds: cold (fresh emulator, no saved scan result) and
  warm (the same emulator, i.e. the module was not power-cycled; a new driver and session; the scan
  result saved by the cold boot);
- the app's cadence for SIM_HOURS simulated hours after a warm-up: one E7+E8 request every 10 s,
  and every 6th refresh that request also carries E0+E3 (the period figure); the app's
  session.poll(0) after each refresh.  ECHONET requests the emulator received per hour, UART bytes
  per hour (emu.stats tx_bytes = host -> module, rx_bytes = module -> host), and the real CPU time
  (time.perf_counter) of each session.read(): on the virtual clock the emulated round trip costs
  no wall time, so this is the CPU time of driver + session + emulator per reading;
- the original app's cadence on the same emulator and session: E7 and E8 as two requests every
  10 s, plus E0 and SetC E5 + Get E2 once a minute;
- under real MicroPython (node tools/bench_mp.mjs, tools/bench_heap.py, tools/replay.py): bytes
  the device code allocates per refresh and what is still allocated after 1,000 refreshes;
- the heap footprint of the whole app (tools/footprint.py, 24 simulated hours for both the full
  and the minimal config): the resident bytes of each module, all of a config imported, after
  start and the peak, against the budgets `make test` enforces.
"""
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _sub in ('lib', 'tools'):
    _p = os.path.join(ROOT, _sub)
    if _p not in sys.path:
        sys.path.insert(0, _p)

import bp35a1
import bp35emu
import footprint
import meter
import util

RBID = '0123456789ABCDEF0123456789ABCDEF'
PWD = 'PASSWORD1234'
SEED = 1
SIM_HOURS = 6
WARMUP_REFRESHES = 60            # 10 simulated minutes before the steady-state window
REFRESH_MS = 10000
PERIOD_EVERY = 6                 # every 6th refresh (once a minute) also reads E0+E3
INSTANT = (0xE7, 0xE8)
WITH_PERIOD = (0xE7, 0xE8, 0xE0, 0xE3)
BUILD = os.path.join(ROOT, 'build')
CACHE = os.path.join(BUILD, 'bench_scan.json')

# Targets (PASS/MISS only; never an assertion).
TARGET_REQUESTS_PER_HOUR = 420
TARGET_OVERHEAD_MS = 20.0
TARGET_HEAP_PER_CYCLE = 4096
TARGET_HEAP_GROWTH = 512
# The driver's poll interval: a `_NAME = const()` on the device (folded away), an int on CPython.
POLL_MS = bp35a1._POLL_MS
# session.stats is a list of counters in this order (lib/meter.py)
SESSION_STATS = ('requests', 'answers', 'resends', 'timeouts', 'dropped', 'infs', 'rejoins',
                 'rescans', 'reauths', 'txlimits')

# Published baselines (shared/docs/baselines.md, emulator model of a BP35A1; real-world seconds).
BASELINES = {
    'cold_s': {'original': 68.6, 'momonga_default': 38.9, 'momonga_xmit_interval_0': 23.9, 'floor': 20.7},
    'warm_s': {'original': 'no cache (= cold)', 'momonga': 'no cache', 'floor': 3.4},
    'original_requests_per_hour': {'measured': 668, 'nominal': 900},
}

# The emulator's timing figures.  bp35emu has no named constants for them: these are the literals
# of its schedule (Emulator._skjoin, ._pana_exchange, ._send); keep them in step with it.
EMU_JOIN_FIRST_MS = 120          # _skjoin: the PANA exchange starts 120 ms after SKJOIN
EMU_PANA_FIRST_MS = (250, 300)   # _pana_exchange: first PANA message
EMU_PANA_NEXT_MS = (620, 820)    # _pana_exchange: each of the 3 further messages
EMU_PANA_EVENT21_MS = (30, 60)   # _pana_exchange: EVENT 21 after each message
EMU_PANA_STEPS = 4               # _skjoin: 4 messages when the credentials are good
EMU_JOIN_DONE_MS = (80, 120)     # _skjoin: EVENT 25 after the last one
EMU_EVENT21_MS = (100, 300)      # _send: EVENT 21 after the SKSENDTO
EMU_ANSWER_MS = (150, 450)       # _send: answer after EVENT 21 (+ len(frame) // 2)


def emu_join_ms(which):
    """Simulated ms from SKJOIN to EVENT 25 in the emulator's schedule (which: 0 = min, 1 = max)."""
    return (EMU_JOIN_FIRST_MS + EMU_PANA_FIRST_MS[which] + EMU_PANA_EVENT21_MS[which] +
            (EMU_PANA_STEPS - 1) * (EMU_PANA_NEXT_MS[which] + EMU_PANA_EVENT21_MS[which]) +
            EMU_JOIN_DONE_MS[which])


def wire_ms(nbytes, baud):
    return nbytes * 10000.0 / baud


def emu_round_trip_ms(which, frame_len, baud):
    """SKSENDTO -> the answer fully on the host side: EVENT 21 delay, answer delay, the ERXUDP line on
    the wire (ASCII: ~125 header bytes + 2 per frame byte), one driver poll interval."""
    line = 125 + 2 * frame_len + 2
    return (EMU_EVENT21_MS[which] + EMU_ANSWER_MS[which] + frame_len // 2 +
            wire_ms(line, baud) + POLL_MS)


# ---------------------------------------------------------------------------- helpers

def new_session(emu, clock):
    drv = bp35a1.Bp35a1(emu.uart, clock)
    return meter.MeterSession(drv, clock, RBID, PWD, cache=util.JsonStore(CACHE))


def boot(emu, clock):
    """connect() and the first E7+E8 read; simulated ms per phase (from connect()'s progress)."""
    session = new_session(emu, clock)
    t0 = clock.now_ms()
    marks = []

    def progress(pct, text):
        marks.append((pct, text, clock.now_ms() - t0))

    session.connect(progress)
    reading = None
    for _ in range(10):
        reading = session.read((0xE7, 0xE8))
        if reading is not None and reading.get(0xE7) is not None:
            break
    if reading is None or reading.get(0xE7) is None:
        raise RuntimeError('no E7 value after boot')
    total = clock.now_ms() - t0
    phases = []
    for i, (pct, text, at) in enumerate(marks):
        end = marks[i + 1][2] if i + 1 < len(marks) else total
        name = text if pct < 100 else 'first E7+E8 read'
        phases.append({'phase': name, 'ms': end - at})
    return session, total, phases


def cadence_ours(session, k):
    return [session.read(WITH_PERIOD if k % PERIOD_EVERY == 0 else INSTANT)]


def cadence_original(session, k):
    out = [session.read((0xE7,)), session.read((0xE8,))]
    if k % PERIOD_EVERY == 0:
        out.append(session.read((0xE0,)))
        out.append(session.read_history(1))      # SetC E5 = 1, then Get E2
    return out


def run_cadence(emu, clock, session, step, hours, warmup):
    """warmup refreshes, then hours of refreshes every REFRESH_MS; per-hour figures of the window."""
    n = int(hours * 3600000 // REFRESH_MS)
    cpu = []
    rtt = []
    missed = 0
    next_t = clock.now_ms()
    before = None
    t_start = None
    for k in range(warmup + n):
        if k == warmup:
            before = dict(emu.stats)
            sbefore = list(session.stats)
            t_start = next_t
        v0 = clock.now_ms()
        c0 = time.perf_counter()
        results = step(session, k)
        c1 = time.perf_counter()
        v1 = clock.now_ms()
        session.poll(0)
        if k >= warmup:
            cpu.append((c1 - c0) * 1000.0 / len(results))
            rtt.append((v1 - v0) / len(results))
            missed += sum(1 for r in results if r is None)
        next_t += REFRESH_MS
        left = next_t - clock.now_ms()
        if left > 0:
            clock.sleep_ms(left)
    sim_h = (clock.now_ms() - t_start) / 3600000.0
    d = {k: emu.stats[k] - before[k] for k in ('requests', 'answers', 'tx_bytes', 'rx_bytes', 'infs')}
    sd = {k: session.stats[i] - sbefore[i] for i, k in enumerate(SESSION_STATS)
          if k in ('requests', 'answers', 'resends', 'timeouts', 'infs')}
    cpu_sorted = sorted(cpu)
    return {
        'simulated_hours': round(sim_h, 3),
        'refreshes': n,
        'requests_per_hour': round(d['requests'] / sim_h, 1),
        'uart_bytes_per_hour': {'tx': round(d['tx_bytes'] / sim_h), 'rx': round(d['rx_bytes'] / sim_h)},
        'answers_per_hour': round(d['answers'] / sim_h, 1),
        'missed_readings': missed,
        'session': sd,
        'overhead_ms_per_reading': {
            'mean': round(statistics.fmean(cpu), 3),
            'p50': round(cpu_sorted[len(cpu) // 2], 3),
            'p99': round(cpu_sorted[min(len(cpu) - 1, len(cpu) * 99 // 100)], 3),
            'max': round(cpu_sorted[-1], 3),
        },
        'simulated_ms_per_reading': {'mean': round(statistics.fmean(rtt), 1), 'max': max(rtt)},
    }


def heap_bench():
    """node tools/bench_mp.mjs -> its @@BENCH record (raises when it failed)."""
    p = subprocess.run(['node', os.path.join(ROOT, 'tools', 'bench_mp.mjs')], cwd=ROOT, check=False,
                       capture_output=True, text=True, timeout=600)
    rec = None
    for line in p.stdout.splitlines():
        if line.startswith('@@BENCH '):
            rec = json.loads(line[8:])
    if p.returncode != 0 or rec is None:
        raise RuntimeError('bench_mp.mjs failed (exit %d):\n%s\n%s' % (p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    acc = rec['per_cycle_acc']
    inst_b, inst_n, per_b, per_n = acc
    harness = rec['harness_bytes'] / float(rec['per_cycle_n'])
    series = rec['mem_series']
    per_cycle = (inst_b + per_b) / float(inst_n + per_n) - harness
    parts = {k: round(v, 1) for k, v in rec['breakdown'].items() if not k.startswith('total')}
    parts['other: driver and session glue (SKSENDTO header, range, result dicts, ...)'] = round(
        per_cycle - sum(parts.values()), 1)
    est = rec['uart_read_alloc_estimate']
    uart_est = (est['instant'] * (PERIOD_EVERY - 1) + est['with_period']) / float(PERIOD_EVERY)
    return {
        'heap_bytes_per_cycle': round(per_cycle, 1),
        'breakdown_bytes_per_cycle': parts,
        'uart_read_alloc_estimate_per_cycle': round(uart_est, 1),
        'device_estimate_bytes_per_cycle': round(per_cycle + uart_est, 1),
        'mp_us_per_refresh': rec['us_per_refresh'],
        'heap_bytes_per_cycle_by_kind': {
            'instant (E7+E8)': round(inst_b / float(inst_n) - harness, 1) if inst_n else None,
            'with period (E7+E8+E0+E3)': round(per_b / float(per_n) - harness, 1) if per_n else None,
        },
        'heap_growth_bytes': series[-1] - series[0],
        'mem_alloc_series': series,
        'control_growth_bytes': rec['control_series'][-1] - rec['control_series'][0],
        'control_series': rec['control_series'],
        'per_refresh_spread': rec['per_refresh_spread'],
        'harness_bytes_per_cycle': harness,
        'details': rec,
    }


# ---------------------------------------------------------------------------- output

def mark(ok):
    return 'PASS' if ok else 'MISS'


def fmt_table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append('  '.join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip())
        if j == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def md_table(rows):
    out = ['| ' + ' | '.join(str(c) for c in rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    for r in rows[1:]:
        out.append('| ' + ' | '.join(str(c) for c in r) + ' |')
    return '\n'.join(out)


def main():
    os.makedirs(BUILD, exist_ok=True)
    t_wall = time.perf_counter()
    print('SmartMeter bench: emulator %s dialect, seed %d, virtual clock; %d simulated hours per cadence'
          % ('BP35A1', SEED, SIM_HOURS))

    # 1. cold and warm boot
    if os.path.exists(CACHE):
        os.remove(CACHE)
    clock = bp35emu.VirtualClock()
    emu = bp35emu.Emulator(clock, seed=SEED)
    session, cold_ms, cold_phases = boot(emu, clock)
    for k in range(PERIOD_EVERY):          # a minute of normal work before the ESP32 resets
        session.read(WITH_PERIOD if k % PERIOD_EVERY == 0 else INSTANT)
        session.poll(0)
        clock.sleep_ms(REFRESH_MS)
    scans_before = emu.stats['scans']
    session, warm_ms, warm_phases = boot(emu, clock)
    warm_scanned = emu.stats['scans'] != scans_before
    join_ms = [p['ms'] for p in warm_phases if p['phase'].startswith('joining')]
    join_bound = emu_join_ms(1)
    rt_bound = emu_round_trip_ms(1, 24, emu.baud)      # D3+E1+D7 and E7+E8 answers: 24-byte frames
    warm_bound_ms = join_bound + 2 * rt_bound

    # 2. steady state, the app's cadence (continuing with the warm-booted session)
    ours = run_cadence(emu, clock, session, cadence_ours, SIM_HOURS, WARMUP_REFRESHES)

    # 3. the original app's cadence on a fresh emulator
    if os.path.exists(CACHE):
        os.remove(CACHE)
    oclock = bp35emu.VirtualClock()
    oemu = bp35emu.Emulator(oclock, seed=SEED)
    osession, _, _ = boot(oemu, oclock)
    orig = run_cadence(oemu, oclock, osession, cadence_original, SIM_HOURS, WARMUP_REFRESHES)
    t_emul = time.perf_counter() - t_wall

    # 4. heap under real MicroPython: per refresh, and the footprint of the whole app (24 h)
    heap = heap_bench()
    foot = footprint.measure(24)

    result = {
        'requests_per_hour': ours['requests_per_hour'],
        'uart_bytes_per_hour': ours['uart_bytes_per_hour'],
        'overhead_ms_per_reading': ours['overhead_ms_per_reading'],
        'boot_to_first_reading_s': {'cold': cold_ms / 1000.0, 'warm': warm_ms / 1000.0},
        'heap_bytes_per_cycle': heap['heap_bytes_per_cycle'],
        'heap_growth_bytes': heap['heap_growth_bytes'],
        'original_cadence': {
            'requests_per_hour': orig['requests_per_hour'],
            'uart_bytes_per_hour': orig['uart_bytes_per_hour'],
            'overhead_ms_per_reading': orig['overhead_ms_per_reading'],
            'missed_readings': orig['missed_readings'],
            'session': orig['session'],
            'model': 'E7 and E8 as two Get requests every 10 s; once a minute Get E0, SetC E5=1 and Get E2 '
                     '(session.read / session.read_history on the same driver and emulator)',
        },
        'details': {
            'steady_state': ours,
            'boot_phases_ms': {'cold': cold_phases, 'warm': warm_phases},
            'warm_boot_scanned': warm_scanned,
            'warm_bound_s': round(warm_bound_ms / 1000.0, 3),
            'warm_bound_typical_s': round((emu_join_ms(0) + emu_join_ms(1)) / 2000.0 + (
                emu_round_trip_ms(0, 24, emu.baud) + emu_round_trip_ms(1, 24, emu.baud)) / 1000.0, 3),
            'warm_bound_model': {
                'join_ms_max': join_bound, 'join_ms_min': emu_join_ms(0),
                'round_trip_ms_max': round(rt_bound, 1),
                'round_trip_ms_min': round(emu_round_trip_ms(0, 24, emu.baud), 1),
                'source': 'literals of tools/bp35emu.py Emulator._skjoin/_pana_exchange/_send, 115200 baud, POLL_MS',
                'measured_join_ms': join_ms,
            },
            'heap': heap,
            'methods': {
                'overhead': 'time.perf_counter around each session.read() on the virtual clock: the emulated '
                            'round trip costs no wall time, so this is the CPU time of driver + session + '
                            'emulator per reading (CPython %s on this host, not the ESP32)' % sys.version.split()[0],
                'heap_bytes_per_cycle': 'MicroPython %s (WebAssembly): session fed by tools/replay.py with answers '
                                        'pre-built for every TID before the window; gc.disable() around %d '
                                        'refreshes after %d warm-up, sum of gc.mem_alloc() deltas / refreshes, '
                                        'minus the loop harness alone'
                                        % (heap['details']['micropython'], heap['details']['per_cycle_n'],
                                           heap['details']['warmup'] + heap['details']['growth_cycles']),
                'heap_growth_bytes': 'gc.collect() in its own runPython call, then gc.mem_alloc() in the next, after '
                                     '%d warm-up refreshes and again after %d more'
                                     % (heap['details']['warmup'], heap['details']['growth_cycles']),
                'not_modelled': 'machine.UART.read() on the device allocates the bytes it returns (about the rx '
                                'bytes per refresh plus a header per read); the replay returns pre-built objects',
            },
            'baselines': BASELINES,
            'bench_seconds': {'emulator': round(t_emul, 1), 'total': None},
        },
    }
    cold_s = cold_ms / 1000.0
    warm_s = warm_ms / 1000.0
    targets = [
        ('requests per hour', '%.0f' % ours['requests_per_hour'], '<= %d' % TARGET_REQUESTS_PER_HOUR,
         ours['requests_per_hour'] <= TARGET_REQUESTS_PER_HOUR),
        ('warm boot to first E7', '%.2f s' % warm_s, '<= %.2f s (join %.2f + 2 x %.2f round trip)'
         % (warm_bound_ms / 1000.0, join_bound / 1000.0, rt_bound / 1000.0),
         warm_s * 1000 <= warm_bound_ms and not warm_scanned),
        ('CPU per reading (mean)', '%.3f ms' % ours['overhead_ms_per_reading']['mean'],
         '< %.0f ms' % TARGET_OVERHEAD_MS, ours['overhead_ms_per_reading']['mean'] < TARGET_OVERHEAD_MS),
        ('CPU per reading (max)', '%.3f ms' % ours['overhead_ms_per_reading']['max'],
         '< %.0f ms' % TARGET_OVERHEAD_MS, ours['overhead_ms_per_reading']['max'] < TARGET_OVERHEAD_MS),
        ('heap allocated per refresh', '%.0f B' % heap['heap_bytes_per_cycle'],
         '<= %d B' % TARGET_HEAP_PER_CYCLE, heap['heap_bytes_per_cycle'] <= TARGET_HEAP_PER_CYCLE),
        ('heap growth over %d refreshes' % heap['details']['growth_cycles'], '%d B' % heap['heap_growth_bytes'],
         '<= %d B' % TARGET_HEAP_GROWTH, heap['heap_growth_bytes'] <= TARGET_HEAP_GROWTH),
    ]
    result['targets'] = [{'metric': t[0], 'value': t[1], 'target': t[2], 'pass': t[3]} for t in targets]

    b = BASELINES
    cmp_rows = [
        ('metric', 'this project', 'original cadence (same driver)', 'original SmartMeter', 'momonga 0.7',
         'momonga, interval 0', 'model floor'),
        ('start to first E7, cold', '%.1f s' % cold_s, '-', '%.1f s' % b['cold_s']['original'],
         '%.1f s' % b['cold_s']['momonga_default'], '%.1f s' % b['cold_s']['momonga_xmit_interval_0'],
         '%.1f s' % b['cold_s']['floor']),
        ('start to first E7, saved scan', '%.1f s' % warm_s, '-', 'no cache (= cold)', 'no cache', 'no cache',
         '~%.1f s' % b['warm_s']['floor']),
        ('requests per hour', '%.0f' % ours['requests_per_hour'], '%.0f' % orig['requests_per_hour'],
         '%d (nominal %d)' % (b['original_requests_per_hour']['measured'], b['original_requests_per_hour']['nominal']),
         '-', '-', '-'),
        ('UART bytes/hour host -> module', '%d' % ours['uart_bytes_per_hour']['tx'],
         '%d' % orig['uart_bytes_per_hour']['tx'], '-', '-', '-', '-'),
        ('UART bytes/hour module -> host', '%d' % ours['uart_bytes_per_hour']['rx'],
         '%d' % orig['uart_bytes_per_hour']['rx'], '-', '-', '-', '-'),
        ('CPU ms per reading, mean / max (host)', '%.3f / %.3f' % (ours['overhead_ms_per_reading']['mean'],
                                                                    ours['overhead_ms_per_reading']['max']),
         '%.3f / %.3f' % (orig['overhead_ms_per_reading']['mean'], orig['overhead_ms_per_reading']['max']),
         '-', '-', '-', '-'),
        ('simulated ms per reading, mean', '%.0f' % ours['simulated_ms_per_reading']['mean'],
         '%.0f' % orig['simulated_ms_per_reading']['mean'], '4070 (per property)', '600', '600', '600'),
        ('heap bytes per refresh (MicroPython)', '%.0f' % heap['heap_bytes_per_cycle'], '-', '-', '-', '-', '-'),
        ('heap growth after %d refreshes' % heap['details']['growth_cycles'], '%d' % heap['heap_growth_bytes'],
         '-', '-', '-', '-', '-'),
    ]
    tgt_rows = [('target', 'measured', 'bound', 'result')] + [(t[0], t[1], t[2], mark(t[3])) for t in targets]

    print()
    print(fmt_table(cmp_rows))
    print()
    print('Baseline columns are the published figures of shared/docs/baselines.md (real-time model, median of 3):')
    print('facts for comparison, not measured here.  The original-cadence column runs the ORIGINAL request pattern')
    print('on THIS driver and emulator.')
    print()
    print(fmt_table(tgt_rows))
    print()
    print('Boot phases (simulated ms):')
    for name in ('cold', 'warm'):
        phases = result['details']['boot_phases_ms'][name]
        print('  %-5s %s' % (name, ', '.join('%s %d' % (p['phase'], p['ms']) for p in phases)))
    hk = heap['heap_bytes_per_cycle_by_kind']
    print('Where the bytes of a refresh go (MicroPython, mean over the cadence mix):')
    for k, v in sorted(heap['breakdown_bytes_per_cycle'].items(), key=lambda kv: -kv[1]):
        print('  %7.0f B  %s' % (v, k))
    print('  On the device machine.UART.read() also allocates what it returns: about %.0f B more per refresh '
          '(estimate from the replayed reads), so about %.0f B in all.'
          % (heap['uart_read_alloc_estimate_per_cycle'], heap['device_estimate_bytes_per_cycle']))
    print('Device code CPU per refresh under MicroPython (WebAssembly on this host, replay, no emulator): %.2f ms'
          % (heap['mp_us_per_refresh'] / 1000.0))
    print('Heap per refresh by kind: %s' % ', '.join('%s %.0f B' % (k, v) for k, v in hk.items() if v is not None))
    print('gc.mem_alloc() after warm-up and after each quarter of the %d refreshes: %s'
          % (heap['details']['growth_cycles'], ' '.join(str(x) for x in heap['mem_alloc_series'])))
    print('  control (same procedure, a garbage-making loop without device code): %s (growth %d B)'
          % (' '.join(str(x) for x in heap['control_series']), heap['control_growth_bytes']))
    print('  per-refresh allocation min/max by kind: %s' % ', '.join(
        '%s %d/%d' % (k, v[0], v[1]) for k, v in sorted(heap['per_refresh_spread'].items())))
    d = heap['details']
    print('Replay check: %d requests replayed, %d TID mismatches, %d missed, %d wrong values, %d resends'
          % (d['replayed'], d['tid_mismatches'], d['missed'], d['wrong_values'], d['session_resends']))
    print()
    print('Methods:')
    for k, v in result['details']['methods'].items():
        print('  %s: %s' % (k, v))
    print('  requests/UART bytes: emu.stats deltas over the %d simulated hours after %d warm-up refreshes'
          % (SIM_HOURS, WARMUP_REFRESHES))
    print('  warm bound: the emulator join (SKJOIN -> EVENT 25, at most %d ms) plus two round trips (at most '
          '%.0f ms each), from the literals of its schedule; with its mid-range figures the same sum is %.2f s'
          % (join_bound, rt_bound, result['details']['warm_bound_typical_s']))

    print()
    print(footprint.table(foot))
    for problem in footprint.sanity(foot):
        print('footprint: the run is not trustworthy: ' + problem)
    result['footprint'] = {
        'imports_full': foot['imports']['full']['total'],
        'imports_minimal': foot['imports']['minimal']['total'],
        'after_start_full': foot['runs']['full']['after_start'],
        'after_start_minimal': foot['runs']['minimal']['after_start'],
        'peak_full': foot['runs']['full']['peak'], 'peak_minimal': foot['runs']['minimal']['peak'],
        'modules': dict((m['name'], m['bytes']) for m in foot['imports']['full']['modules']),
        'budgets': dict((key, limit) for key, what, limit in footprint.BUDGETS),
    }
    with open(os.path.join(BUILD, 'footprint.json'), 'w') as fh:
        json.dump(foot, fh, indent=1)

    result['details']['bench_seconds']['total'] = round(time.perf_counter() - t_wall, 1)
    with open(os.path.join(BUILD, 'bench.json'), 'w') as fh:
        json.dump(result, fh, indent=2, sort_keys=False)
        fh.write('\n')
    with open(os.path.join(BUILD, 'bench.md'), 'w') as fh:
        fh.write(md_table(cmp_rows) + '\n\n' + md_table(tgt_rows) + '\n\n')
        fh.write(footprint.table(foot) + '\n\n')
        fh.write('Baseline columns: published figures of the original, momonga and the model floor (facts, not '
                 'measured here).  Method:\n\n')
        for k, v in result['details']['methods'].items():
            fh.write('- %s: %s\n' % (k, v))
    print()
    print('wrote build/bench.json and build/bench.md (%.1f s)' % result['details']['bench_seconds']['total'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
