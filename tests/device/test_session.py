"""Driver (lib/bp35a1.py) and meter session (lib/meter.py) against the in-process emulator.

Every fault scenario of the emulator must end with fresh readings equal to the meter's truth
and no exception escaping.  Runs under CPython and under real MicroPython.
"""
import bp35emu
import bp35a1
import meter
import store
import timeutil

RBID = '0123456789ABCDEF0123456789ABCDEF'
PWD = 'PASSWORD1234'
CACHE = '/tmp/smm_session_test_scan.json'   # outside the repo; exists on CPython and in the VM


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
    cache = store.JsonStore(cache_path)
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
    s2 = meter.MeterSession(drv2, clock, RBID, PWD, cache=store.JsonStore(CACHE))
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
        tids.append(session.tid.value)
        clock.sleep_ms(10000)
    assert emu.stats['requests'] - before == 20
    assert len(set(tids)) == 20


def test_saved_scan_result_joins_without_scanning():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    scans = emu.stats['scans']
    drv2 = bp35a1.Bp35a1(emu.uart, clock)
    s2 = meter.MeterSession(drv2, clock, RBID, PWD, cache=store.JsonStore(CACHE))
    t0 = clock.now_ms()
    s2.connect()
    assert emu.stats['scans'] == scans
    assert clock.now_ms() - t0 < 10000   # join + a round trip, no 5-35 s scan
    check_fresh(clock, emu, s2)


def test_stale_saved_scan_result_is_dropped_and_rescanned():
    clock, emu, drv, session, log, resets = make()
    st = store.JsonStore(CACHE)
    st.save({'channel': 0x21, 'pan_id': 0x1234, 'addr': '001C640000001234', 'lqi': 100})
    session.connect()
    assert session.pan.channel == emu.truth()['channel']
    assert st.load()['pan_id'] == emu.truth()['pan_id']
    check_fresh(clock, emu, session)


def test_bp35c2_dialect_is_detected():
    clock, emu, drv, session, log, resets = make(dialect='bp35c2')
    session.connect()
    assert drv.dialect == 'bp35c2'
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
    assert session.stats['resends'] > 0


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
    assert session.stats['reauths'] > 0


def test_scenario_txlimit():
    clock, emu, session, v, t = scenario_ends_fresh('txlimit', reads=120)
    assert session.stats['txlimits'] > 0
    assert session.paused is None


def test_scenario_hang():
    clock, emu, session, v, t = scenario_ends_fresh('hang', reads=120)
    assert emu.stats['resets'] >= 1


def test_scenario_swap():
    clock, emu, session, v, t = scenario_ends_fresh('swap', reads=120)
    assert session.pan.channel == emu.truth()['channel']
    assert session.stats['rescans'] >= 1


def test_scenario_inf_interleave():
    infs = []
    clock, emu, drv, session, log, resets = make('inf-interleave')
    session.on_inf = infs.append
    session.connect()
    run_reads(clock, emu, session, 60)
    check_fresh(clock, emu, session)
    assert infs and session.stats['answers'] >= 60


def test_scenario_no_d3():
    clock, emu, session, v, t = scenario_ends_fresh('no-d3')
    assert session.coefficient == 1


def test_scenario_no_e1():
    clock, emu, session, v, t = scenario_ends_fresh('no-e1')
    assert session.unit == meter.DEFAULT_UNIT


def test_scenario_rollover():
    clock, emu, session, v, t = scenario_ends_fresh('rollover', reads=120)


def test_scenario_solar():
    # Noon JST: the panels export.
    clock, emu, drv, session, log, resets = make('solar', wall_start=timeutil.to_epoch(2026, 5, 10, 3))
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
    assert infs and infs[0].get(0xEA) is not None


def test_history_read_matches_the_meter_model():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    day, counts = session.read_history(1)
    assert day == 1 and len(counts) == 48
    assert all(c is not None for c in counts)
    assert counts == sorted(counts)


def test_escalation_asks_the_app_to_reset_when_nothing_helps():
    clock, emu, drv, session, log, resets = make()
    session.connect()
    emu.uart.write = lambda data: len(data)     # the module went deaf: nothing reaches it
    for _ in range(meter.DEFAULTS['reset_after'] * 2):
        session.read((0xE7, 0xE8))
    assert resets, 'no reset was requested'


def test_recovery_keys_in_config_are_the_session_settings():
    import config
    assert set(config.RECOVERY_KEYS) | {'scan_durations'} == set(meter.DEFAULTS)


class _Ev:
    kind = 'event'

    def __init__(self, code):
        self.code = code
        self.sender = 'FE80:0000:0000:0000:0000:0000:0000:0001'
        self.side = None
        self.param = None


def test_transmit_limit_without_event_33_ends_after_an_hour():
    # An EVENT 33 lost on the UART must not stop reading for ever.
    clock, emu, drv, session, log, resets = make()
    session.connect()
    session._on_event(_Ev(0x32))
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
    real_get = session.get
    calls = []

    def flaky_get(epcs, timeout_ms=None):
        calls.append(tuple(epcs))
        if tuple(epcs) == (0xD3, 0xE1, 0xD7) and len(calls) == 1:
            raise meter.MeterTimeout('lost')
        return real_get(epcs, timeout_ms)
    session.get = flaky_get
    session.connect()
    assert not session.units_known
    assert session.kwh(1000) is None                  # no kWh with guessed units
    v = session.read((0xE7, 0xE0))
    assert v is not None and session.units_known
    assert session.coefficient == 10 and session.unit == 0.01
    assert abs(session.kwh(v[0xE0]) - emu.truth()['cumulative_kwh']) < 0.01


def test_a_cut_short_pan_description_is_ignored():
    import skstack
    good = skstack.Item('pan', channel=0x21, channel_page=9, pan_id=0x1234,
                        addr='001C640000001234', lqi=100)
    assert bp35a1._pan_from(good).addr == '001C640000001234'
    for broken in (dict(addr=None), dict(lqi=None), dict(pan_id=None), dict(channel=0x10),
                   dict(addr='001C64'), dict(addr='001C6400000012ZZ')):
        attrs = dict(channel=0x21, channel_page=9, pan_id=0x1234, addr='001C640000001234', lqi=100)
        attrs.update(broken)
        assert bp35a1._pan_from(skstack.Item('pan', **attrs)) is None, broken


def test_no_wire_trace_is_built_unless_debug_is_on():
    class InfoOnly(Recorder):
        def enabled(self, level):
            return level >= 20

        def debug(self, msg, *args):
            raise AssertionError('debug line built at INFO level')
    clock = bp35emu.VirtualClock()
    emu = bp35emu.Emulator(clock)
    drv = bp35a1.Bp35a1(emu.uart, clock, log=InfoOnly())
    s = meter.MeterSession(drv, clock, RBID, PWD, cache=store.JsonStore(CACHE), log=InfoOnly())
    s.cache.clear()
    s.connect()
    assert s.read((0xE7,)) is not None
