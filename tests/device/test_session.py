"""Driver (lib/bp35a1.py) and meter session (lib/meter.py) against the in-process emulator.

Every fault scenario of the emulator must end with fresh readings equal to the meter's truth
and no exception escaping.  Runs under CPython and under real MicroPython.
"""
import bp35emu
import echonet
import bp35a1
import meter
import util

RBID = '0123456789ABCDEF0123456789ABCDEF'
PWD = 'PASSWORD1234'
CACHE = '/tmp/smm_session_test_scan.json'   # outside the repo; exists on CPython and in the VM


# the counters of session.stats, in order (a list on the device: no interned names)
STATS = ('requests', 'answers', 'resends', 'timeouts', 'dropped', 'infs', 'rejoins', 'rescans',
         'reauths', 'txlimits')


def stat(session, name):
    return session.stats[STATS.index(name)]


class Recorder:
    """A logger that keeps every line (to check that secrets never appear)."""

    def __init__(self):
        self.lines = []

    def _add(self, msg, *args):
        self.lines.append(msg % args if args else msg)

    debug = info = warning = error = _add

    def child(self, name):
        return self

    def enabled(self, level):
        return True


def make(scenario=None, seed=1, dialect='bp35a1', cache_path=CACHE, **emu_args):
    clock = bp35emu.VirtualClock()
    emu = bp35emu.Emulator(clock, dialect=dialect, scenario=scenario, seed=seed, **emu_args)
    log = Recorder()
    drv = bp35a1.Bp35a1(emu.uart, clock, log=log)
    cache = util.JsonStore(cache_path)
    cache.clear()
    resets = []
    session = meter.MeterSession(drv, clock, RBID, PWD, cache=cache, log=log,
                                 on_reset=lambda: resets.append(clock.now_ms()))
    return clock, emu, drv, session, log, resets


def run_reads(clock, emu, session, n):
    """n refreshes 10 s apart; returns the last reading and the truth it was served from."""
    last = None
    for _ in range(n):
        v = session.read((0xE7, 0xE8, 0xE0))
        if v is not None:
            last = (v, emu.truth())
        clock.sleep_ms(10000)
    return last


def check_fresh(clock, emu, session):
    v = session.read((0xE7, 0xE8, 0xE0))
    assert v is not None, 'no fresh reading at the end'
    t = emu.truth()
    assert v[0xE7] == t['power_w'], (v, t)
    assert v[0xE0] == t['cumulative_count'], (v, t)
    r, tt = v[0xE8]
    assert abs(r - t['current_r_a']) < 0.01
    if t['current_t_a'] is None:
        assert tt is None
    else:
        assert abs(tt - t['current_t_a']) < 0.01
    return v, t


def scenario_ends_fresh(name, reads=60, seed=1):
    clock, emu, drv, session, log, resets = make(name, seed=seed)
    session.connect()
    run_reads(clock, emu, session, reads)
    v, t = check_fresh(clock, emu, session)
    for line in log.lines:
        assert RBID not in line and PWD not in line, line
    return clock, emu, session, v, t


def test_connect_reads_and_caches_coefficients():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    assert session.joined and session.coefficient == 1 and session.unit == 0.1
    assert session.digits == emu.truth()['digits']
    assert session.ipv6 == emu.truth()['ipv6']
    assert session.lqi is not None and -110 < session.rssi < -20
    check_fresh(clock, emu, session)


def test_echo_off_and_wopt_written_once_over_reboots():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    assert emu.stats['wopt_writes'] == 1
    # A second boot (ESP32 reset: the module keeps its flash) reads ROPT and writes nothing.
    drv2 = bp35a1.Bp35a1(emu.uart, clock)
    s2 = meter.MeterSession(drv2, clock, RBID, PWD, cache=util.JsonStore(CACHE))
    s2.connect()
    assert emu.stats['wopt_writes'] == 1
    check_fresh(clock, emu, s2)


def test_one_request_per_refresh_with_a_new_tid_each_time():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    before = emu.stats['requests']
    tids = []
    for _ in range(20):
        session.read((0xE7, 0xE8))
        tids.append(session.tid)
        clock.sleep_ms(10000)
    assert emu.stats['requests'] - before == 20
    assert len(set(tids)) == 20


def test_saved_scan_result_joins_without_scanning():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    scans = emu.stats['scans']
    drv2 = bp35a1.Bp35a1(emu.uart, clock)
    s2 = meter.MeterSession(drv2, clock, RBID, PWD, cache=util.JsonStore(CACHE))
    t0 = clock.now_ms()
    s2.connect()
    assert emu.stats['scans'] == scans
    assert clock.now_ms() - t0 < 10000   # join + a round trip, no 5-35 s scan
    check_fresh(clock, emu, s2)


def test_stale_saved_scan_result_is_dropped_and_rescanned():
    clock, emu, drv, session, log, resets = make()
    st = util.JsonStore(CACHE)
    st.save({'channel': 0x21, 'pan_id': 0x1234, 'addr': '001C640000001234', 'lqi': 100})
    session.connect()
    assert session.pan['channel'] == emu.truth()['channel']
    assert st.load()['pan_id'] == emu.truth()['pan_id']
    check_fresh(clock, emu, session)


def test_bp35c2_dialect_is_detected():
    clock, emu, drv, session, log, resets = make(dialect='bp35c2')
    session.connect()
    assert drv.side == ' 0'            # the SIDE argument of its SKSCAN and SKSENDTO
    check_fresh(clock, emu, session)


def test_wrong_password_gives_a_clear_error():
    clock, emu, drv, session, log, resets = make(rbid=RBID, password='X' * 12)
    try:
        session.connect()
    except meter.MeterError as e:
        assert 'ID' in str(e) and 'password' in str(e)
        assert RBID not in str(e) and PWD not in str(e)
    else:
        raise AssertionError('joined with a wrong password')


def test_wrong_id_finds_no_meter_and_says_what_to_check():
    # The active scan pairs on the ID's last 8 characters: a wrong ID finds nothing.
    clock, emu, drv, session, log, resets = make(rbid='F' * 32, password=PWD)
    try:
        session.connect()
    except meter.MeterError as e:
        assert 'not found' in str(e) and 'ID' in str(e)
    else:
        raise AssertionError('joined with a wrong ID')


def test_scenario_drop():
    clock, emu, session, v, t = scenario_ends_fresh('drop', reads=120)
    assert stat(session, 'resends') > 0


def test_scenario_garbage():
    clock, emu, session, v, t = scenario_ends_fresh('garbage')
    assert emu.stats['garbage'] > 0


def test_scenario_er09():
    scenario_ends_fresh('er09')


def test_scenario_join_fail():
    clock, emu, session, v, t = scenario_ends_fresh('join-fail')
    assert emu.stats['joins'] > 1


def test_scenario_expire():
    clock, emu, session, v, t = scenario_ends_fresh('expire', reads=120)
    assert stat(session, 'reauths') > 0


def test_scenario_txlimit():
    clock, emu, session, v, t = scenario_ends_fresh('txlimit', reads=120)
    assert stat(session, 'txlimits') > 0
    assert session.paused is None


def test_scenario_hang():
    clock, emu, session, v, t = scenario_ends_fresh('hang', reads=120)
    assert emu.stats['resets'] >= 1


def test_scenario_swap():
    clock, emu, session, v, t = scenario_ends_fresh('swap', reads=120)
    assert session.pan['channel'] == emu.truth()['channel']
    assert stat(session, 'rescans') >= 1


def test_scenario_inf_interleave():
    infs = []
    clock, emu, drv, session, log, resets = make('inf-interleave')
    session.on_inf = infs.append
    session.connect()
    run_reads(clock, emu, session, 60)
    check_fresh(clock, emu, session)
    assert infs and stat(session, 'answers') >= 60


def test_scenario_no_d3():
    clock, emu, session, v, t = scenario_ends_fresh('no-d3')
    assert session.coefficient == 1


def test_scenario_no_e1():
    clock, emu, session, v, t = scenario_ends_fresh('no-e1')
    assert session.unit == 0.1          # no E1 on this meter: the common 0.1 kWh


def test_scenario_rollover():
    clock, emu, session, v, t = scenario_ends_fresh('rollover', reads=120)


def test_scenario_solar():
    # Noon JST: the panels export.
    clock, emu, drv, session, log, resets = make('solar', wall_start=util.to_epoch(2026, 5, 10, 3))
    session.connect()
    negative = False
    for _ in range(200):
        v = session.read((0xE7,))
        if v and v[0xE7] is not None and v[0xE7] < 0:
            negative = True
            break
        clock.sleep_ms(60000)
    assert negative, 'solar scenario never exported'
    check_fresh(clock, emu, session)


def test_scenario_two_wire():
    clock, emu, session, v, t = scenario_ends_fresh('two-wire')
    assert v[0xE8][1] is None


def test_half_hour_inf_push_reaches_the_callback():
    infs = []
    clock, emu, drv, session, log, resets = make()
    session.on_inf = infs.append
    session.connect()
    for _ in range(200):      # 2000 s: at least one :00/:30 passes
        session.poll(10000)
    assert infs and dict(infs[0]).get(0xEA) is not None


def test_history_read_matches_the_meter_model():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    day, counts = session.read_history(1)
    assert day == 1 and len(counts) == 48
    assert all(c is not None for c in counts)
    assert counts == sorted(counts)
    # a day the meter refuses (SetC_SNA): no history, and not a missed read
    assert session.read_history(100) is None
    assert session.missed == 0 and session.joined


def test_escalation_asks_the_app_to_reset_when_nothing_helps():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    emu.uart.write = lambda data: len(data)     # the module went deaf: nothing reaches it
    for _ in range(meter.DEFAULTS['reset_after'] * 2):
        session.read((0xE7, 0xE8))
    assert resets, 'no reset was requested'


def test_recovery_keys_in_config_are_the_session_settings():
    # SmartMeter.json's "recovery" keys are meter.DEFAULTS (lib/config.py checks against it):
    # every one is accepted there and reaches the session, an unknown one is refused
    import config
    doc = {'id': RBID, 'password': PWD, 'contract_amperage': '50', 'collect_date': '22',
           'charge_func': 'tokyo_gas_1'}
    given = {}
    for key in meter.DEFAULTS:
        given[key] = [5, 6] if key == 'scan_durations' else 1234 + (key[-2:] != 'ms') * 1000
    doc['recovery'] = given
    cfg = config.load(doc)
    assert sorted(cfg.recovery) == sorted(meter.DEFAULTS)
    s = meter.MeterSession(FakeDriver(), bp35emu.VirtualClock(), RBID, PWD,
                           settings=cfg.recovery)
    assert s.settings['scan_durations'] == (5, 6) and s.settings['resends'] == 2234
    assert s.settings['request_timeout_ms'] == 1234
    doc['recovery'] = {'rescan_every': 4}
    try:
        config.load(doc)
    except config.ConfigError as e:
        assert 'rescan_every' in str(e)
    else:
        raise AssertionError('an unknown recovery key was accepted')


def _event(code):
    return ('event', code, 'FE80:0000:0000:0000:0000:0000:0000:0001', None, None)


def test_transmit_limit_without_event_33_ends_after_an_hour():
    # An EVENT 33 lost on the UART must not stop reading for ever.
    clock, emu, drv, session, log, resets = make()
    session.connect()
    session.feed(_event(0x32))
    assert session.read((0xE7, 0xE8)) is None        # paused: no request, not a miss
    assert session.missed == 0
    for _ in range(6 * 66):                          # 66 minutes of 10-s refreshes
        v = session.read((0xE7, 0xE8))
        clock.sleep_ms(10000)
    assert session.paused is None
    assert v is not None and v[0xE7] == emu.truth()['power_w']


def test_units_are_not_defaulted_after_a_mere_timeout():
    # D3=10, E1=0.01 kWh: a timeout right after joining must not leave 1 and 0.1 for months.
    clock, emu, drv, session, log, resets = make(d3=10, e1=0x02)
    real_send = drv.send
    lost = []

    def lossy_send(ipv6, data):
        if b'\xd3\x00\xe1\x00\xd7\x00' in data and len(lost) < 2:
            lost.append(data)          # the D3/E1/D7 request and its resend never go out
            return 1
        return real_send(ipv6, data)
    drv.send = lossy_send
    session.connect()
    assert len(lost) == 2 and session.joined
    assert not session.units_known
    assert session.kwh(1000) is None                  # no kWh with guessed units
    v = session.read((0xE7, 0xE0))
    assert v is not None and session.units_known
    assert session.coefficient == 10 and session.unit == 0.01
    assert abs(session.kwh(v[0xE0]) - emu.truth()['cumulative_kwh']) < 0.01


def test_a_cut_short_pan_description_is_ignored():
    good = {'Channel': '21', 'Channel Page': '09', 'Pan ID': '1234', 'Addr': '001c640000001234',
            'LQI': '64', 'PairID': '00001234'}
    want = {'channel': 0x21, 'pan_id': 0x1234, 'addr': '001C640000001234', 'lqi': 100}
    assert bp35a1.pan_from(good) == want
    assert bp35a1.pan_from(want) == want               # a saved scan result
    for cut in ('Channel', 'Pan ID', 'Addr'):
        block = dict(good)
        del block[cut]
        assert bp35a1.pan_from(block) is None, cut
    for name, value in (('Channel', '10'), ('Channel', 'ZZ'), ('Pan ID', ''), ('LQI', 'x'),
                        ('Addr', '001C64'), ('Addr', '001C6400000012ZZ'), ('Pan ID', '12345')):
        block = dict(good)
        block[name] = value
        assert bp35a1.pan_from(block) is None, (name, value)
    for broken in (dict(addr=None), dict(lqi='x'), dict(pan_id=None), dict(channel=0x10),
                   dict(addr='001C64'), dict(addr='001C6400000012ZZ'), dict(channel=33.0),
                   dict(lqi=300), dict(pan_id=-1)):
        doc = dict(want)
        doc.update(broken)
        # an edited saved scan result is refused the same way
        assert bp35a1.pan_from(doc) is None, broken
    for junk in (None, [], 'x', 7, {}):
        assert bp35a1.pan_from(junk) is None
    # keys in any case, a space as '_': the printed form and the saved one read the same way
    assert bp35a1.pan_from({'CHANNEL': '21', 'pan id': '1234', 'addr': '001c640000001234',
                            'Lqi': '64'}) == want
    assert bp35a1.pan_from({'Channel': 0x21, 'Pan ID': 0x1234, 'Addr': '001C640000001234',
                            'LQI': 100}) == want
    assert bp35a1.pan_from(dict(good, LQI=100)) is None          # hex text and an int mixed
    no_lqi = dict(good)
    del no_lqi['LQI']
    assert bp35a1.pan_from(no_lqi)['lqi'] == 0
    assert bp35a1.pan_from(dict(channel=0x21, pan_id=0x1234, addr='001C640000001234'))['lqi'] == 0


def test_no_wire_trace_is_built_unless_debug_is_on():
    class InfoOnly(Recorder):
        def enabled(self, level):
            return level >= 20

        def debug(self, msg, *args):
            raise AssertionError('debug line built at INFO level')
    clock = bp35emu.VirtualClock()
    emu = bp35emu.Emulator(clock)
    drv = bp35a1.Bp35a1(emu.uart, clock, log=InfoOnly())
    s = meter.MeterSession(drv, clock, RBID, PWD, cache=util.JsonStore(CACHE), log=InfoOnly())
    s.cache.clear()
    s.connect()
    assert s.read((0xE7,)) is not None


def test_scenario_no_ropt():
    # A module without ROPT/WOPT (FAIL ER04) has its output fixed to ASCII: nothing is written.
    clock, emu, drv, session, log, resets = make('no-ropt')
    session.connect()
    assert emu.stats['wopt_writes'] == 0
    check_fresh(clock, emu, session)


# ------------------------------------------------------------------ the driver on a scripted UART

METER = 'FE80:0000:0000:0000:021C:6400:03DD:6393'
Z = '0000:0000:0000:0000:0000:0000:0000:0000'


class ScriptUart:
    """A module that answers each command line (matched by its start) with canned bytes."""

    def __init__(self, script):
        self.script = list(script)     # [(command start, reply bytes), ...] in order
        self.rx = b''
        self.written = []

    def any(self):
        return len(self.rx)

    def read(self, n):
        data = self.rx[:n]
        self.rx = self.rx[n:]
        return data

    def write(self, data):
        data = bytes(data)
        self.written.append(data)
        if self.script and data.startswith(self.script[0][0]):
            self.rx += self.script.pop(0)[1]
        return len(data)


def driver(script, dialect='bp35a1', idle=None):
    clock = bp35emu.VirtualClock()
    drv = bp35a1.Bp35a1(ScriptUart(script), clock, idle=idle)
    drv.side = ' 0' if dialect == 'bp35c2' else ''
    return drv, clock


def test_scan_picks_the_best_lqi_and_skips_a_cut_short_block():
    pan = ('EVENT 20 %s\r\nEPANDESC\r\n  Channel:%s\r\n  Channel Page:09\r\n  Pan ID:%s\r\n'
           '  Addr:%s\r\n  LQI:%s\r\n  PairID:00000001\r\n')
    reply = (b'OK\r\n' + (pan % (Z, '21', '1111', '001C640000001111', '40')).encode() +
             (pan % (Z, '22', '2222', '001C640000002222', '90')).encode() +
             b'EPANDESC\r\n  Channel:23\r\n  LQI:FF\r\n' +         # cut short by UART junk
             ('EVENT 22 %s\r\n' % Z).encode())
    idles = []
    drv, clock = driver([(b'SKSCAN 2 FFFFFFFF 6\r\n', reply)], idle=lambda: idles.append(1))
    assert drv.scan(6) == {'channel': 0x22, 'pan_id': 0x2222, 'addr': '001C640000002222',
                           'lqi': 0x90}
    # nothing found: None when EVENT 22 comes; the BP35C2 form has the side argument
    drv, clock = driver([(b'SKSCAN 2 FFFFFFFF 4 0\r\n', ('OK\r\nEVENT 22 %s 0\r\n' % Z).encode())],
                        dialect='bp35c2')
    assert drv.scan(4) is None
    # a scan that never ends is a timeout, after the scan time and some
    drv, clock = driver([(b'SKSCAN', b'OK\r\n')], idle=lambda: idles.append(1))
    try:
        drv.scan(4)
    except bp35a1.SkError as e:
        assert e.args[0] == 'timeout'
    else:
        raise AssertionError('no timeout')
    # 28 channels x 17 x 9.6 ms = 4.6 s at 4, waited 1.5 times and 5 s more
    assert 11000 < clock.now_ms() < 13000 and idles       # idle ran while waiting


def test_send_gives_the_event21_parameter():
    frame = b'\x10\x81\x00\x01\x05\xff\x01\x02\x88\x01\x62\x01\xe7\x00'
    head = ('SKSENDTO 1 %s 0E1A 1 000E ' % METER).encode()
    for reply, want in ((b'EVENT 21 ' + METER.encode() + b' 00\r\nOK\r\n', 0),
                        (b'EVENT 21 ' + METER.encode() + b' 01\r\nOK\r\n', 1),
                        (b'OK\r\n', None)):
        drv, clock = driver([(head, reply)])
        assert drv.send(METER, frame) == want
        assert drv.uart.written == [head, frame]
    # the BP35C2 form: SIDE 0 before the length
    drv, clock = driver([(b'SKSENDTO 1 ' + METER.encode() + b' 0E1A 1 0 000E ', b'OK\r\n')],
                        dialect='bp35c2')
    assert drv.send(METER, frame) is None


def test_stray_fail_er09_is_answered_by_one_resend():
    drv, clock = driver([(b'SKSREG SFE 0\r\n', b'FAIL ER09\r\n'), (b'SKSREG SFE 0\r\n', b'OK\r\n')])
    drv.command('SKSREG SFE 0')
    assert drv.uart.written == [b'SKSREG SFE 0\r\n'] * 2
    drv, clock = driver([(b'SKSREG', b'FAIL ER09\r\n'), (b'SKSREG', b'FAIL ER09\r\n')])
    try:
        drv.command('SKSREG SFE 0')
    except bp35a1.SkError as e:
        assert e.args == ('ER09', 'SKSREG')
    else:
        raise AssertionError('a second ER09 must fail')
    # product commands end in CR only; an OK glued behind leftover echo text still counts
    drv, clock = driver([(b'ROPT\r', b'ROOK 01\r')])
    assert drv.command('ROPT') == '01' and drv.uart.written == [b'ROPT\r']


def test_unsolicited_items_are_queued_bounded_for_recv():
    events = b''.join([('EVENT %02X %s\r\n' % (0x40 + i, METER)).encode() for i in range(20)])
    drv, clock = driver([(b'SKSREG', events + b'OK\r\n' + events[:50])])   # one line: 50 bytes
    drv.command('SKSREG S2 21')
    codes = []
    item = drv.recv(0)
    while item is not None:
        codes.append(item[1])
        item = drv.recv(100)
    # 16 kept: the oldest 4 dropped; the ones after OK came through recv itself
    assert codes[:16] == [0x40 + i for i in range(4, 20)]
    assert codes[16:] == [0x40]


def test_a_half_line_is_parsed_again_only_when_bytes_arrive():
    # polling every 5 ms with half an ERXUDP line buffered must not re-tokenise it each time
    line = ('ERXUDP %s %s 0E1A 0E1A 001C640003DD6393 1 0012 '
            '10817B6A02880105FF017201E70400000263\r\n' % (METER, Z)).encode()
    drv, clock = driver([(b'SKSREG', b'OK\r\n' + line[:60])])
    drv.command('SKSREG SFE 0')
    calls = []
    real = drv.parser.next

    def counting():
        calls.append(1)
        return real()
    drv.parser.next = counting
    assert drv.recv(1000) is None and clock.now_ms() >= 1000
    assert len(calls) == 1                  # asked on entry, not at each of ~200 polls
    drv.uart.rx += line[60:]
    item = drv.recv(1000)
    assert item[0] == 'erxudp' and item[1] == METER and item[10] == util.unhex(line[-38:-2])
    assert len(calls) == 3


def test_join_computes_the_address_and_waits_for_event_25():
    ipv6 = 'FE80:0000:0000:0000:021C:6400:03DD:6393'         # what SKLL64 prints (V13)
    pan = {'channel': 0x33, 'pan_id': 0x6393, 'addr': '001C640003DD6393', 'lqi': 0x4D}
    script = [(b'SKSREG S2 33\r\n', b'OK\r\n'), (b'SKSREG S3 6393\r\n', b'OK\r\n'),
              (('SKJOIN %s\r\n' % ipv6).encode(),
               ('OK\r\nEVENT 21 %s 02\r\nEVENT 25 %s\r\n' % (ipv6, ipv6)).encode())]
    drv, clock = driver(script)
    assert drv.join(pan) == ipv6
    script[2] = (script[2][0], ('OK\r\nEVENT 24 %s\r\n' % ipv6).encode())
    drv, clock = driver(script)
    try:
        drv.join(pan)
    except bp35a1.SkError as e:
        assert e.args[0] == 'join'
    else:
        raise AssertionError('EVENT 24 must fail the join')


# ------------------------------------------------------------------ the session on a fake driver

class FakeDriver:
    """Hands the session the items it is given; records what the session sends."""

    def __init__(self, answer=None):
        self.clock = bp35emu.VirtualClock()
        self.items = []
        self.sent = []
        self.joins = 0
        self.answer = answer       # answer(tid, frame) -> items to deliver after a send

    def send(self, ipv6, data):
        self.sent.append(data)
        if self.answer is not None:
            self.items.extend(self.answer(data[2] << 8 | data[3], data))
        return 0

    def recv(self, timeout):
        if self.items:
            return self.items.pop(0)
        self.clock.sleep_ms(timeout)       # silence until the deadline
        return None

    def join(self, pan):
        self.joins += 1
        return METER

    def reset(self):
        pass

    def start(self, rbid, password):
        pass


def rx_item(payload, sender=METER, rport=0x0E1A, lport=0x0E1A, secured=True):
    return ('erxudp', sender, 'FE80:0000:0000:0000:1207:23FF:FEA0:77E3', rport, lport,
            '001C640003DD6393', secured, None, None, len(payload), payload, False, None)


def res(tid, props, seoj=b'\x02\x88\x01', esv=0x72):
    return echonet.build_frame(tid, seoj, b'\x05\xff\x01', esv, props)


def joined_session(drv):
    s = meter.MeterSession(drv, drv.clock, RBID, PWD)
    s.pan = {'channel': 0x33, 'pan_id': 0x6393, 'addr': '001C640003DD6393', 'lqi': 0x4D}
    s.ipv6 = METER
    s.joined = True
    s.units_known = True
    return s


E7 = (0xE7, b'\x00\x00\x02\x63')


def test_answer_must_match_tid_epcs_sender_ports_security_and_seoj():
    bad = (
        lambda tid: rx_item(res(tid + 1, [E7])),                          # another TID
        lambda tid: rx_item(res(tid, [E7, (0xE8, b'\x00\x01\x00\x01')])),  # another EPC set
        lambda tid: rx_item(res(tid, [E7]), sender=Z),                    # another sender
        lambda tid: rx_item(res(tid, [E7]), rport=0x02CC),                # not ECHONET's port
        lambda tid: rx_item(res(tid, [E7]), lport=0x1234),
        lambda tid: rx_item(res(tid, [E7]), secured=False),               # not encrypted
        lambda tid: rx_item(res(tid, [E7], seoj=b'\x0e\xf0\x01')),        # node profile
        lambda tid: rx_item(res(tid, [E7], esv=0x62)),                    # a request
        lambda tid: rx_item(b'\x10\x81\x00'),                             # not a frame
    )
    for make_bad in bad:
        drv = FakeDriver(lambda tid, data: [make_bad(tid)])
        s = joined_session(drv)
        assert s.read((0xE7,)) is None
        assert stat(s, 'dropped') == 2 and stat(s, 'answers') == 0     # the request and its resend
        assert s.missed == 1 and len(drv.sent) == 2
    drv = FakeDriver(lambda tid, data: [rx_item(res(tid, [E7]), sender=METER.lower())])
    s = joined_session(drv)
    assert s.read((0xE7,)) == {0xE7: 611}
    assert stat(s, 'answers') == 1 and stat(s, 'dropped') == 0 and s.missed == 0
    tids = [d[2] << 8 | d[3] for d in drv.sent]
    s.read((0xE7,))
    tids.append(drv.sent[-1][2] << 8 | drv.sent[-1][3])
    assert tids == [1, 2]


def test_inf_and_infc_reach_on_inf_and_infc_is_answered():
    props = [(0xEA, b'\x07\xe6\x08\x01\x14\x1e\x00\x00\x01\x2d\x02')]
    drv = FakeDriver()
    infs = []
    s = joined_session(drv)
    s.on_inf = infs.append
    drv.items = [rx_item(res(0x0362, props, esv=0x73)), rx_item(res(0x0363, props, esv=0x74))]
    s.poll(0)
    assert infs == [props, props] and stat(s, 'infs') == 2
    assert drv.sent == [b'\x10\x81\x03\x63\x05\xff\x01\x02\x88\x01\x7a\x01\xea\x00']


def test_session_events_pause_and_end_the_session():
    drv = FakeDriver(lambda tid, data: [rx_item(res(tid, [E7]))])
    s = joined_session(drv)
    for code in (0x26, 0x27, 0x28):                 # the session is gone: rejoin on the next read
        s.joined = True
        s.feed(_event(code))
        assert not s.joined
        joins = drv.joins
        assert s.read((0xE7,)) == {0xE7: 611} and drv.joins == joins + 1
    s.feed(_event(0x29))                         # re-authenticating: wait for EVENT 25
    drv.items = [_event(0x25)]
    assert s.read((0xE7,)) == {0xE7: 611} and s.paused is None
    s.feed(_event(0x29))                         # ... not for ever: rejoin after the timeout
    joins = drv.joins
    assert s.read((0xE7,)) is None and drv.joins == joins + 1 and s.joined
    assert s.read((0xE7,)) == {0xE7: 611}
    s.feed(_event(0x32))                         # transmit-time limit: no request until 33
    sent = len(drv.sent)
    assert s.read((0xE7,)) is None and len(drv.sent) == sent and s.missed == 0
    drv.items = [_event(0x33)]
    assert s.read((0xE7,)) == {0xE7: 611}


def test_stats_count_in_the_documented_order():
    # session.stats is a list: requests, answers, resends, timeouts, dropped, infs, rejoins,
    # rescans, reauths, txlimits (STATS above; tools/bench.py and bench_heap.py read it so)
    drv = FakeDriver(lambda tid, data: [rx_item(res(tid, [E7]))])
    s = joined_session(drv)
    assert s.read((0xE7,)) == {0xE7: 611}
    assert s.stats == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    drv.answer = None                       # silence: the request and its resend time out
    assert s.read((0xE7,)) is None and s.read((0xE7,)) is None      # the second miss rejoins
    want = dict(requests=5, answers=1, resends=2, timeouts=2, dropped=0, infs=0, rejoins=1,
                rescans=0, reauths=0, txlimits=0)
    assert dict(zip(STATS, s.stats)) == want
    inf = [(0xEA, b'\x07\xe6\x08\x01\x14\x1e\x00\x00\x01\x2d\x02')]
    for item in (_event(0x29), _event(0x25), _event(0x32), _event(0x33),
                 rx_item(res(9, inf, esv=0x73)), rx_item(res(9, [E7]), rport=0x02CC)):
        assert s.feed(item) is None
    want.update(reauths=1, txlimits=1, infs=1, dropped=1)
    assert dict(zip(STATS, s.stats)) == want


def bring_up(einfo, ropt, wopt=False):
    """A bring-up on the scripted UART: the EINFO line and the ROPT answer given; the script
    answers a WOPT only where one is expected (an unexpected one would time out)."""
    return driver([(b'SKVER', b'EVER 1.2.10\r\nOK\r\n'), (b'SKINFO', einfo + b'OK\r\n'),
                   (b'SKTERM', b'FAIL ER10\r\n'), (b'SKSREG SFE 0', b'OK\r\n'), (b'ROPT', ropt)] +
                  ([(b'WOPT', b'OK\r')] if wopt else []) +
                  [(b'SKSETPWD', b'OK\r\n'), (b'SKSETRBID', b'OK\r\n')])[0]


def test_wopt_is_written_only_when_ropt_says_binary():
    einfo = ('EINFO %s 001D129012345678 21 8888 FFFE\r\n' % Z).encode()
    for ropt, written in ((b'OK 01\r', False), (b'OK 03\r', False), (b'OK 00\r', True),
                          (b'OK 02\r', True), (b'FAIL ER04\r', False)):
        drv = bring_up(einfo, ropt, written)
        drv.start('0123456789ABCDEF0123456789ABCDEF', 'PASSWORD1234')
        assert (b'WOPT 01\r' in drv.uart.written) == written, ropt


def test_a_lost_einfo_line_keeps_the_bp35a1_commands():
    drv = bring_up(b'', b'OK 01\r')                 # EINFO lost to UART junk: only OK came
    drv.start('0123456789ABCDEF0123456789ABCDEF', 'PASSWORD1234')
    assert drv.side == ''
    drv = bring_up(('EINFO %s 001D129012345678 21 8888 0\r\n' % Z).encode(), b'OK 01\r')
    drv.start('0123456789ABCDEF0123456789ABCDEF', 'PASSWORD1234')
    assert drv.side == ' 0'                         # the dual-stack family prints its side
