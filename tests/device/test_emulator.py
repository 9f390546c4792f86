# Tests of tools/bp35emu.py: the BP35A1/BP35C2 + smart meter emulator, driven by hand through its
# UART on a virtual clock.  Plain functions and asserts: runs under pytest and MicroPython 1.27.
from util import struct, unhex
from util import to_epoch

import bp35emu
from bp35emu import Emulator, VirtualClock

RBID = '0123456789ABCDEF0123456789ABCDEF'
PWD = '0123456789AB'
ME = b'\x05\xff\x01'
METER = b'\x02\x88\x01'


# --------------------------------------------------------------------------- helpers

def _mk(**kw):
    clock = VirtualClock()
    return clock, Emulator(clock, **kw)


def _read_all(emu):
    out = b''
    while True:
        chunk = emu.uart.read()
        if not chunk:
            return out
        out += chunk


def _cmd(clock, emu, data, wait=50):
    if isinstance(data, str):
        data = data.encode()
    emu.uart.write(data)
    clock.sleep_ms(wait)
    return _read_all(emu)


def _lines(raw):
    return [ln for ln in raw.split(b'\r\n') if ln]


def _frame(tid, esv, props, deoj=METER):
    out = b'\x10\x81' + struct.pack('>H', tid) + ME + deoj + bytes([esv, len(props)])
    for epc, edt in props:
        out += bytes([epc, len(edt)]) + edt
    return out


def _parse(data):
    tid = (data[2] << 8) | data[3]
    esv = data[10]
    opc = data[11]
    pos = 12
    props = []
    for _ in range(opc):
        epc = data[pos]
        pdc = data[pos + 1]
        props.append((epc, data[pos + 2:pos + 2 + pdc]))
        pos += 2 + pdc
    assert pos == len(data)
    return tid, bytes(data[4:7]), bytes(data[7:10]), esv, props


def _erxudp_ascii(line, c2=False):
    t = line.split(b' ')
    assert t[0] == b'ERXUDP'
    n = len(t)
    assert n == (9 if not c2 else n)
    return {'sender': t[1].decode(), 'dest': t[2].decode(), 'rport': int(t[3], 16),
            'lport': int(t[4], 16), 'lla': t[5].decode(), 'len': int(t[-2], 16),
            'data': unhex(t[-1]), 'tokens': n}


def _udps(raw):
    return [_erxudp_ascii(ln) for ln in _lines(raw) if ln.startswith(b'ERXUDP ')]


def _up(clock, emu, ascii=True, scan=True):
    """SFE 0, ASCII output, credentials, scan (or not), S2/S3, join.  Returns the join output."""
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    if ascii:
        _cmd(clock, emu, 'WOPT 01\r')
    _cmd(clock, emu, 'SKSETRBID %s\r\n' % RBID)
    _cmd(clock, emu, 'SKSETPWD C %s\r\n' % PWD)
    m = emu.meter
    if scan:
        scan_out = _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF 6\r\n' if not emu.c2 else 'SKSCAN 2 FFFFFFFF 6 0\r\n',
                        18000)
        assert b'EPANDESC' in scan_out
    _cmd(clock, emu, 'SKSREG S2 %02X\r\n' % m.channel)
    _cmd(clock, emu, 'SKSREG S3 %04X\r\n' % m.pan_id)
    out = _cmd(clock, emu, 'SKJOIN %s\r\n' % m.ipv6, 4000)
    return out


def _send(clock, emu, frame, wait=1500, sec=1):
    m = emu.meter
    if emu.c2:
        head = 'SKSENDTO 1 %s 0E1A %d 0 %04X ' % (m.ipv6, sec, len(frame))
    else:
        head = 'SKSENDTO 1 %s 0E1A %d %04X ' % (m.ipv6, sec, len(frame))
    return _cmd(clock, emu, head.encode() + frame, wait)


def _get(clock, emu, tid, epcs, wait=1500):
    raw = _send(clock, emu, _frame(tid, 0x62, [(e, b'') for e in epcs]), wait)
    for u in _udps(raw):
        if u['rport'] == 0x0E1A and u['data'][10] != 0x73:
            return _parse(u['data']), raw
    return None, raw


def _idle(clock, emu, ms, step=600000):
    """Let virtual time pass, reading what arrives (as a host would)."""
    out = b''
    while ms > 0:
        clock.sleep_ms(min(step, ms))
        ms -= step
        out += _read_all(emu)
    return out


def _u32(b):
    return struct.unpack('>I', b)[0]


# --------------------------------------------------------------------------- clock

def test_virtual_clock_wraps_like_micropython():
    c = VirtualClock((1 << 30) - 10)
    a = c.ticks_ms()
    c.sleep_ms(25)
    b = c.ticks_ms()
    assert b < a
    assert c.ticks_diff(b, a) == 25
    assert c.ticks_diff(c.ticks_add(a, 25), a) == 25
    assert c.now_ms() == (1 << 30) + 15


# --------------------------------------------------------------------------- serial behaviour

def test_echo_on_until_sfe0():
    clock, emu = _mk()
    assert _cmd(clock, emu, 'SKVER\r\n') == b'SKVER\r\nEVER 1.2.10\r\nOK\r\n'
    assert _cmd(clock, emu, 'SKSREG SFE 0\r\n') == b'SKSREG SFE 0\r\nOK\r\n'
    assert _cmd(clock, emu, 'SKVER\r\n') == b'EVER 1.2.10\r\nOK\r\n'
    assert _cmd(clock, emu, 'SKSREG SFE\r\n') == b'ESREG 0\r\nOK\r\n'
    # SKRESET restores the default: echo on again
    assert _cmd(clock, emu, 'SKRESET\r\n') == b'OK\r\n'
    assert _cmd(clock, emu, 'SKAPPVER\r\n').startswith(b'SKAPPVER\r\nEAPPVER ')
    assert emu.stats['resets'] == 1


def test_product_commands_are_cr_only_and_wopt_switches_format():
    clock, emu = _mk()
    assert _cmd(clock, emu, 'ROPT\r') == b'ROPT\r\nOK 00\r'
    assert _cmd(clock, emu, 'RUART\r') == b'RUART\r\nOK 00\r'
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    assert _cmd(clock, emu, 'WOPT 01\r') == b'OK\r'
    assert _cmd(clock, emu, 'ROPT\r') == b'OK 01\r'
    assert emu.stats['wopt_writes'] == 1
    # the flash setting survives SKRESET; echo comes back
    _cmd(clock, emu, 'SKRESET\r\n')
    assert _cmd(clock, emu, 'ROPT\r') == b'ROPT\r\nOK 01\r'
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    up = _up(clock, emu, ascii=False, scan=False)
    assert b'EVENT 25 ' in up
    (tid, seoj, deoj, esv, props), raw = _get(clock, emu, 7, [0xE7])
    assert (tid, esv, props[0][0]) == (7, 0x72, 0xE7)
    # binary mode: DATALEN then the raw bytes
    assert _cmd(clock, emu, 'WOPT 00\r') == b'OK\r'
    assert emu.stats['wopt_writes'] == 2
    raw = _send(clock, emu, _frame(8, 0x62, [(0xE7, b'')]))
    i = raw.find(b'ERXUDP ')
    head = raw[i:].split(b' ')
    assert head[8] == b''[:0] + head[8]   # tokens up to DATALEN are text
    n = int(head[7], 16)
    assert n == 18
    start = i + len(b' '.join(head[:8])) + 1
    payload = raw[start:start + n]
    assert raw[start + n:start + n + 2] == b'\r\n'
    assert _parse(payload)[0] == 8 and _parse(payload)[3] == 0x72


def test_error_codes():
    clock, emu = _mk()
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    assert _cmd(clock, emu, 'SKFOO\r\n') == b'FAIL ER04\r\n'
    assert _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF\r\n') == b'FAIL ER05\r\n'
    assert _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF 6 0\r\n') == b'FAIL ER05\r\n'
    assert _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF Z\r\n') == b'FAIL ER06\r\n'
    assert _cmd(clock, emu, 'SKSREG S2 99\r\n') == b'FAIL ER06\r\n'
    assert _cmd(clock, emu, 'SKSETRBID 123\r\n') == b'FAIL ER06\r\n'
    assert _cmd(clock, emu, 'SKLL64 XYZ\r\n') == b'FAIL ER06\r\n'
    assert _cmd(clock, emu, 'SKTERM\r\n') == b'FAIL ER10\r\n'
    assert _cmd(clock, emu, 'SKJOIN FE80:0000:0000:0000:0000:0000:0000:0001\r\n') == b'FAIL ER10\r\n'
    frame = _frame(1, 0x62, [(0xE7, b'')])
    out = _cmd(clock, emu, b'SKSENDTO 1 FE80:0000:0000:0000:021C:6400:030C:12A4 0E1A 1 000E ' + frame)
    assert out == b'FAIL ER10\r\n'
    assert emu.stats['fails'] == 10


def test_skinfo_and_registers():
    clock, emu = _mk()
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    line = _lines(_cmd(clock, emu, 'SKINFO\r\n'))[0].decode().split(' ')
    assert line[0] == 'EINFO' and line[1] == emu.own_ip and line[2] == emu.own_mac
    assert (line[3], line[4], line[5]) == ('21', 'FFFF', 'FFFE')
    assert _cmd(clock, emu, 'SKSREG S2 3B\r\n') == b'OK\r\n'
    assert _cmd(clock, emu, 'SKSREG S02\r\n') == b'ESREG 3B\r\nOK\r\n'
    assert _cmd(clock, emu, 'SKSREG SA2 1\r\n') == b'OK\r\n'
    assert _cmd(clock, emu, 'SKSREG S16\r\n') == b'ESREG 00000384\r\nOK\r\n'
    assert _lines(_cmd(clock, emu, 'SKINFO\r\n'))[0].split(b' ')[3] == b'3B'


def test_scan_timing_and_epandesc_format():
    clock, emu = _mk()
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    _cmd(clock, emu, 'SKSETRBID %s\r\n' % RBID)
    emu.uart.write(b'SKSCAN 2 FFFFFFFF 6\r\n')
    clock.sleep_ms(17400)
    early = _read_all(emu)
    assert early.startswith(b'OK\r\n')
    assert b'EVENT 22' not in early
    clock.sleep_ms(80)                    # 28 x 65 x 9.6 ms = 17472 ms
    late = _read_all(emu)
    assert late == ('EVENT 22 %s\r\n' % emu.own_ip).encode()
    lines = _lines(early)
    i = lines.index(b'EPANDESC')
    assert lines[i - 1] == ('EVENT 20 %s' % emu.own_ip).encode()
    m = emu.meter
    assert lines[i + 1:i + 7] == [b'  Channel:%02X' % m.channel, b'  Channel Page:09',
                                  b'  Pan ID:%04X' % m.pan_id, ('  Addr:%s' % m.mac).encode(),
                                  lines[i + 5], b'  PairID:89ABCDEF']
    assert lines[i + 5].startswith(b'  LQI:') and len(lines[i + 5]) == 8
    assert m.pan_id == int(m.mac[12:], 16)
    assert emu.stats['scans'] == 1


def test_scan_needs_matching_pairing_id():
    clock, emu = _mk(rbid='FFFFFFFFFFFFFFFFFFFFFFFF00000000', password='ABCDEFGHIJKL')
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    _cmd(clock, emu, 'SKSETRBID %s\r\n' % RBID)
    out = _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF 3\r\n', 3000)
    assert b'EPANDESC' not in out and b'EVENT 22' in out
    _cmd(clock, emu, 'SKSETRBID FFFFFFFFFFFFFFFFFFFFFFFF00000000\r\n')
    out = _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF 3\r\n', 3000)
    assert b'  PairID:00000000' in out


def test_skll64_flips_the_ul_bit():
    clock, emu = _mk()
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    assert _cmd(clock, emu, 'SKLL64 001C640003DD6393\r\n') == b'FE80:0000:0000:0000:021C:6400:03DD:6393\r\n'
    assert _cmd(clock, emu, 'SKLL64 021C6400030C12A4\r\n') == b'FE80:0000:0000:0000:001C:6400:030C:12A4\r\n'
    assert bp35emu.ll64(emu.meter.mac) == emu.meter.ipv6


def test_join_event25_then_node_profile_inf():
    clock, emu = _mk()
    out = _up(clock, emu)
    lines = _lines(out)
    m = emu.meter
    assert lines[0] == b'OK'
    assert lines[1] == ('EVENT 21 %s 02' % m.ipv6).encode()
    assert lines[2] == ('EVENT 02 %s' % m.ipv6).encode()
    pana = [ln for ln in lines if ln.startswith(b'ERXUDP ')]
    assert len(pana) == 5
    for ln in pana[:4]:
        u = _erxudp_ascii(ln)
        assert (u['rport'], u['lport'], ln.split(b' ')[6]) == (0x02CC, 0x02CC, b'0')
        assert u['len'] == len(u['data'])
    # the last PANA message carries Session-Lifetime 86400 s
    assert b'\x00\x08\x00\x00\x00\x04\x00\x00\x00\x01\x51\x80' in _erxudp_ascii(pana[3])['data']
    i25 = lines.index(('EVENT 25 %s' % m.ipv6).encode())
    inf = _erxudp_ascii(lines[i25 + 1])
    assert inf['dest'] == 'FF02:0000:0000:0000:0000:0000:0000:0001'
    tid, seoj, deoj, esv, props = _parse(inf['data'])
    assert (seoj, deoj, esv, props) == (b'\x0e\xf0\x01', b'\x0e\xf0\x01', 0x73, [(0xD5, b'\x01\x02\x88\x01')])
    assert emu.session_active() and emu.stats['joins'] == 1 and emu.stats['sessions'] == 1


def test_join_timing_is_about_2750_ms():
    clock2, emu2 = _mk()
    _cmd(clock2, emu2, 'SKSREG SFE 0\r\n')
    _cmd(clock2, emu2, 'SKSETRBID %s\r\n' % RBID)
    _cmd(clock2, emu2, 'SKSETPWD C %s\r\n' % PWD)
    _cmd(clock2, emu2, 'SKSREG S2 %02X\r\n' % emu2.meter.channel)
    _cmd(clock2, emu2, 'SKSREG S3 %04X\r\n' % emu2.meter.pan_id)
    out = _cmd(clock2, emu2, 'SKJOIN %s\r\n' % emu2.meter.ipv6, 2300)
    assert b'EVENT 25' not in out
    out = _cmd(clock2, emu2, b'', 1000)
    assert b'EVENT 25' in out


def test_bad_password_and_unreachable_join_give_event24():
    clock, emu = _mk(password='ZZZZZZZZZZZZ')
    out = _up(clock, emu, scan=False)
    assert b'EVENT 24 ' in out and b'EVENT 25' not in out
    assert not emu.session_active()
    clock, emu = _mk()
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    _cmd(clock, emu, 'SKSETRBID %s\r\n' % RBID)
    _cmd(clock, emu, 'SKSETPWD C %s\r\n' % PWD)
    out = _cmd(clock, emu, 'SKJOIN %s\r\n' % emu.meter.ipv6, 5000)    # S2/S3 never set
    assert b'EVENT 21 ' in out and b'EVENT 24' not in out
    out = _cmd(clock, emu, b'', 40000)
    assert out == ('EVENT 24 %s\r\n' % emu.meter.ipv6).encode()


# --------------------------------------------------------------------------- requests and the meter

def test_sendto_order_event21_ok_then_answer_and_values_match_truth():
    clock, emu = _mk()
    _up(clock, emu)
    (tid, seoj, deoj, esv, props), raw = _get(clock, emu, 0x1234, [0xE7, 0xE8])
    lines = _lines(raw)
    m = emu.meter
    assert lines[0] == ('EVENT 21 %s 00' % m.ipv6).encode()
    assert lines[1] == b'OK'
    u = _erxudp_ascii(lines[2])
    assert (u['sender'], u['dest'], u['lla'], u['tokens']) == (m.ipv6, emu.own_ip, m.mac, 9)
    assert lines[2].split(b' ')[6] == b'1'
    assert (tid, seoj, deoj, esv) == (0x1234, METER, ME, 0x72)
    assert [p[0] for p in props] == [0xE7, 0xE8]
    w = struct.unpack('>i', props[0][1])[0]
    r, t = struct.unpack('>hh', props[1][1])
    truth = emu.truth()
    assert truth['power_w'] == w
    assert truth['current_r_a'] == r / 10.0 and truth['current_t_a'] == t / 10.0
    assert truth['tid'] == 0x1234 and truth['served'] == [0xE7, 0xE8]
    # single-phase three-wire, ~100 V per phase: R + T ~ W / 100
    assert abs((r + t) - w / 10.0) <= 1
    assert r > 0 and t > 0
    assert emu.stats['requests'] == 1 and emu.stats['answers'] == 1


def test_round_trip_timing_is_seeded_and_in_range():
    clock, emu = _mk()
    _up(clock, emu)
    for i in range(6):
        emu.uart.write(b'SKSENDTO 1 %s 0E1A 1 000E ' % emu.meter.ipv6.encode() + _frame(i, 0x62, [(0xE7, b'')]))
        seen21 = None
        seen_ans = None
        for ms in range(0, 1200, 10):
            clock.sleep_ms(10)
            raw = _read_all(emu)
            if b'EVENT 21' in raw and seen21 is None:
                seen21 = ms
            if b'ERXUDP' in raw:
                seen_ans = ms
                break
        assert 90 <= seen21 <= 310
        assert 200 <= seen_ans <= 900


def test_unknown_epc_gives_get_sna_for_the_whole_frame():
    clock, emu = _mk()
    _up(clock, emu)
    (tid, _, _, esv, props), _raw = _get(clock, emu, 5, [0xE7, 0xF0])
    assert esv == 0x52
    assert props[0][0] == 0xE7 and len(props[0][1]) == 4
    assert props[1] == (0xF0, b'')


def test_static_properties_and_maps():
    clock, emu = _mk()
    _up(clock, emu)
    (tid, _, _, esv, props), _raw = _get(clock, emu, 9, [0x80, 0x82, 0x88, 0x8A, 0xD3, 0xD7, 0xE1, 0x97, 0x98])
    d = dict(props)
    assert esv == 0x72
    assert d[0x80] == b'\x30' and d[0x88] == b'\x42' and d[0x8A] == b'\x00\x00\x16'
    assert d[0x82] == b'\x00\x00F\x00'
    assert d[0xD3] == b'\x00\x00\x00\x01' and d[0xD7] == b'\x06' and d[0xE1] == b'\x01'
    assert d[0x98] == b'\x07\xea\x0b\x1a'           # 2026-11-26 JST
    assert d[0x97][0] == 0
    (tid, _, _, esv, props), _raw = _get(clock, emu, 10, [0x9F, 0x9E, 0x9D])
    d = dict(props)
    gm = d[0x9F]
    assert gm[0] == 23 and len(gm) == 17
    # bitmap: byte 1 + (epc & 0x0F), bit (epc >> 4) - 8
    for epc in (0x80, 0xD3, 0xE0, 0xE7, 0xE8, 0xEA, 0x9F):
        assert gm[1 + (epc & 0x0F)] & (1 << ((epc >> 4) - 8))
    assert not gm[1 + 0x0C] & (1 << (0xEC >> 4) - 8)
    assert d[0x9E] == b'\x02\x81\xe5'
    assert d[0x9D] == b'\x04\x80\x81\x88\xea'


def test_e0_integrates_the_power_exactly():
    clock, emu = _mk(e1=0x03)              # 0.001 kWh = 3.6 kJ per count
    m = emu.meter
    t1 = emu.wall_start + 3 * 3600          # 03:00 JST
    t2 = t1 + 2 * 3600
    total = 0
    for t in range(t1, t2, 15):
        p = m.power_at(t)
        assert p > 0
        total += p * 15
    assert m.import_j(t2) - m.import_j(t1) == total
    c1 = m.count_at(t1)
    c2 = m.count_at(t2)
    assert abs((c2 - c1) * 3600 - total) < 3600 * 2
    # and what is served is the model at the time of service
    _up(clock, emu)
    clock.sleep_ms(3 * 3600 * 1000)
    (_, _, _, _, props), _raw = _get(clock, emu, 11, [0xE0, 0xE7])
    truth = emu.truth()
    assert _u32(props[0][1]) == truth['cumulative_count'] == m.count_at(truth['time'])
    assert struct.unpack('>i', props[1][1])[0] == m.power_at(truth['time'])
    clock.sleep_ms(3600 * 1000)
    (_, _, _, _, props2), _raw = _get(clock, emu, 12, [0xE0])
    truth2 = emu.truth()
    grown = _u32(props2[0][1]) - _u32(props[0][1])
    expect = (m.import_j(truth2['time']) - m.import_j(truth['time'])) / 3600.0
    assert abs(grown - expect) <= 1
    assert 100 < grown < 3000                  # a plausible hour of a household, in Wh


def test_e2_history_today_and_yesterday_consistent_with_e0():
    clock, emu = _mk()
    _up(clock, emu)
    clock.sleep_ms((7 * 3600 + 10 * 60) * 1000)     # to about 07:10 JST
    m = emu.meter
    (_, _, _, esv, props), _raw = _get(clock, emu, 20, [0xE2, 0xE0, 0xEA])
    assert esv == 0x72
    d = dict(props)
    hist = d[0xE2]
    assert len(hist) == 194 and hist[0:2] == b'\x00\x00'
    vals = [_u32(hist[2 + 4 * i:6 + 4 * i]) for i in range(48)]
    now = emu.truth()['time']
    midnight = to_epoch(2026, 11, 25, 15, 0, 0)
    for i in range(48):
        ts = midnight + i * 1800
        if ts <= now:
            assert vals[i] == m.count_at(ts)
        else:
            assert vals[i] == 0xFFFFFFFE
    assert vals[14] != 0xFFFFFFFE and vals[15] == 0xFFFFFFFE
    e0 = _u32(d[0xE0])
    assert vals[14] <= e0 and vals == sorted(vals[:15]) + vals[15:]
    ea = d[0xEA]
    assert ea[0:7] == b'\x07\xea\x0b\x1a\x07\x00\x00'
    assert _u32(ea[7:]) == vals[14]
    # yesterday via SetC E5 = 1 -> Set_Res
    raw = _send(clock, emu, _frame(21, 0x61, [(0xE5, b'\x01')]))
    sres = _parse(_udps(raw)[0]['data'])
    assert sres[3] == 0x71 and sres[4] == [(0xE5, b'')]
    (_, _, _, esv, props), _raw = _get(clock, emu, 22, [0xE2, 0xE5])
    d = dict(props)
    assert d[0xE5] == b'\x01' and d[0xE2][0:2] == b'\x00\x01'
    yv = [_u32(d[0xE2][2 + 4 * i:6 + 4 * i]) for i in range(48)]
    assert 0xFFFFFFFE not in yv
    assert yv == sorted(yv) and yv[-1] <= vals[0]
    assert yv[0] == m.count_at(midnight - 86400)
    assert yv[0] == m.count_at_local(2026, 11, 25)
    # out-of-range day -> SetC_SNA
    raw = _send(clock, emu, _frame(23, 0x61, [(0xE5, b'\x64')]))
    assert _parse(_udps(raw)[0]['data'])[3] == 0x51


def test_half_hour_inf_push_with_the_meters_tid_counter():
    clock, emu = _mk()
    _up(clock, emu)
    out = _idle(clock, emu, 3600 * 1000)
    infs = [_parse(u['data']) for u in _udps(out)]
    infs = [f for f in infs if f[3] == 0x73 and f[1] == METER]
    assert len(infs) == 2
    for f in infs:
        assert f[2] == ME and [p[0] for p in f[4]] == [0xEA]
    assert infs[1][0] == (infs[0][0] + 1) & 0xFFFF
    assert infs[0][4][0][1][4:7] == b'\x00\x1e\x00'     # 00:30:00
    assert infs[1][4][0][1][4:7] == b'\x01\x00\x00'     # 01:00:00


def test_sksendto_reads_exactly_datalen_bytes_with_crlf_inside():
    clock, emu = _mk()
    _up(clock, emu)
    # a TID of 0x0D0A puts CR LF inside the binary payload
    frame = _frame(0x0D0A, 0x62, [(0xE7, b'')])
    head = b'SKSENDTO 1 %s 0E1A 1 000E ' % emu.meter.ipv6.encode()
    _cmd(clock, emu, 'SKSREG SFE 1\r\n')
    emu.uart.write(head + frame[:5])
    clock.sleep_ms(200)
    partial = _read_all(emu)
    assert partial == head           # echo of the header, no CRLF until the data is complete
    emu.uart.write(frame[5:])
    clock.sleep_ms(1500)
    out = _read_all(emu)
    assert out.startswith(b'\r\nEVENT 21 ')
    assert _parse(_udps(out)[0]['data'])[0] == 0x0D0A


def test_skterm_ok_then_event27_and_sec1_without_session_fails():
    clock, emu = _mk()
    _up(clock, emu)
    out = _cmd(clock, emu, 'SKTERM\r\n', 1500)
    lines = _lines(out)
    assert lines[0] == b'OK'
    assert lines[-1] == ('EVENT 27 %s' % emu.meter.ipv6).encode()
    assert not emu.session_active()
    assert _cmd(clock, emu, 'SKTERM\r\n') == b'FAIL ER10\r\n'
    assert _send(clock, emu, _frame(1, 0x62, [(0xE7, b'')]), 100) == b'FAIL ER10\r\n'
    # SEC 2 without a session goes out in plaintext: sent, but the meter ignores it
    out = _send(clock, emu, _frame(2, 0x62, [(0xE7, b'')]), 1500, sec=2)
    assert _lines(out) == [('EVENT 21 %s 00' % emu.meter.ipv6).encode(), b'OK']
    assert emu.stats['ignored'] == 1


def test_reauthentication_at_80_percent_and_lapse_without_s17():
    clock, emu = _mk(session_lifetime=600)
    _up(clock, emu)
    out = _cmd(clock, emu, b'', 470 * 1000)
    assert b'EVENT 25' not in out
    out = _cmd(clock, emu, b'', 20 * 1000)
    assert b'EVENT 25' in out and b'EVENT 29' not in out
    assert emu.session_active() and emu.stats['reauths'] == 1
    clock, emu = _mk(session_lifetime=600)
    _cmd(clock, emu, 'SKSREG S17 0\r\n')
    _up(clock, emu)
    out = _cmd(clock, emu, b'', 610 * 1000)
    assert ('EVENT 29 %s\r\n' % emu.meter.ipv6).encode() in out
    assert not emu.session_active()


def test_same_seed_same_bytes_other_seed_other_meter():
    outs = []
    for seed in (3, 3, 4):
        clock, emu = _mk(seed=seed)
        out = _up(clock, emu)
        out += _get(clock, emu, 1, [0xE7, 0xE8, 0xE0])[1]
        outs.append((out, emu.meter.mac))
    assert outs[0] == outs[1]
    assert outs[0][1] != outs[2][1]


def test_rx_buffer_overflow_drops_and_counts():
    clock, emu = _mk(rxbuf=64)
    emu.uart.write(b'SKINFO\r\n')
    clock.sleep_ms(100)
    got = _read_all(emu)
    assert len(got) == 64
    assert emu.stats['dropped'] > 0


def test_truth_before_anything_is_served_and_next_due():
    clock, emu = _mk()
    t = emu.truth()
    assert t['time'] == emu.wall_start and t['served'] == [] and t['tid'] is None
    assert t['cumulative_count'] == emu.meter.count_at(emu.wall_start)
    assert (t['coefficient'], t['unit'], t['digits']) == (1, 0.1, 6)
    due = emu.next_due_ms()                      # the meter's first half-hourly tick
    assert 1800 * 1000 < due < 1900 * 1000
    emu.uart.write(b'SKVER\r\n')
    assert emu.next_due_ms() == 1                # the first echoed byte is on the wire
    clock.sleep_ms(5)
    assert emu.uart.read(3) == b'SKV'


def test_readline_and_any():
    clock, emu = _mk()
    emu.uart.write(b'SKVER\r\n')
    assert emu.uart.any() == 0           # nothing has arrived at t = 0
    clock.sleep_ms(20)
    assert emu.uart.any() > 0
    assert emu.uart.readline() == b'SKVER\r\n'
    assert emu.uart.readline() == b'EVER 1.2.10\r\n'
    assert emu.uart.readline() == b'OK\r\n'
    assert emu.uart.readline() is None
    assert emu.uart() is emu.uart


# --------------------------------------------------------------------------- BP35C2 dialect

def test_bp35c2_dialect():
    clock, emu = _mk(dialect='bp35c2')
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    assert _cmd(clock, emu, 'SKVER\r\n') == b'EVER 1.5.2\r\nOK\r\n'
    assert _lines(_cmd(clock, emu, 'SKINFO\r\n'))[0].endswith(b' 0')
    assert _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF 6\r\n') == b'FAIL ER05\r\n'
    _cmd(clock, emu, 'WOPT 01\r')
    _cmd(clock, emu, 'SKSETRBID %s\r\n' % RBID)
    out = _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF 6 0\r\n', 18000)
    lines = _lines(out)
    assert lines[-1] == ('EVENT 22 %s 0' % emu.own_ip).encode()
    i = lines.index(b'EPANDESC')
    assert lines[i - 1] == ('EVENT 20 %s 0' % emu.own_ip).encode()
    assert lines[i + 6] == b'  Side:0' and lines[i + 7].startswith(b'  PairID:')
    out = _up(clock, emu, scan=False)
    assert ('EVENT 25 %s 0\r\n' % emu.meter.ipv6).encode() in out
    raw = _send(clock, emu, _frame(3, 0x62, [(0xE7, b'')]))
    lines = _lines(raw)
    assert lines[0] == ('EVENT 21 %s 0 00' % emu.meter.ipv6).encode()
    tok = lines[2].split(b' ')
    assert len(tok) == 10 and tok[6:8] == [b'1', b'0']
    assert _parse(unhex(tok[9]))[0] == 3
    _cmd(clock, emu, 'SKSREG SA2 1\r\n')
    tok = _lines(_send(clock, emu, _frame(4, 0x62, [(0xE7, b'')])))[2].split(b' ')
    assert len(tok) == 11 and tok[7:9] == [b'1', b'0'] and len(tok[6]) == 2
    # BP35A1 SKSENDTO syntax is one argument short here
    frame = _frame(5, 0x62, [(0xE7, b'')])
    out = _cmd(clock, emu, b'SKSENDTO 1 %s 0E1A 1 000E\r\n' % emu.meter.ipv6.encode())
    assert out == b'FAIL ER05\r\n'
    assert len(frame) == 14


# --------------------------------------------------------------------------- scenarios

def test_scenario_drop():
    clock, emu = _mk(scenario='drop', seed=2)
    _up(clock, emu)
    answered = 0
    for i in range(12):
        frame, raw = _get(clock, emu, i, [0xE7])
        assert b'OK\r\n' in raw and b'EVENT 21 ' in raw
        if frame is not None:
            answered += 1
    assert 0 < answered < 12
    assert emu.stats['lost_answers'] == 12 - answered


def test_scenario_garbage():
    clock, emu = _mk(scenario='garbage', seed=5)
    _up(clock, emu)
    answered = 0
    raws = b''
    for i in range(10):
        frame, raw = _get(clock, emu, i, [0xE7])
        raws += raw
        if frame is not None:
            answered += 1
    assert emu.stats['garbage'] > 0
    junk = [ln for ln in _lines(raws) if not (ln.startswith(b'EVENT ') or ln == b'OK' or
                                              ln.startswith(b'ERXUDP '))]
    assert junk or b'\r\n\r\n' in raws
    assert answered > 0


def test_scenario_er09():
    clock, emu = _mk(scenario='er09', seed=1)
    _up(clock, emu)
    stray = 0
    answered = 0
    for i in range(10):
        frame, raw = _get(clock, emu, i, [0xE7])
        if b'FAIL ER09' in raw:
            stray += 1
            assert raw.index(b'OK\r\n') < raw.index(b'FAIL ER09')
        if frame is not None:
            answered += 1
    assert stray > 0 and answered == 10


def test_scenario_join_fail():
    clock, emu = _mk(scenario='join-fail')
    out = _up(clock, emu)
    assert b'EVENT 24' in out
    m = emu.meter
    out = _cmd(clock, emu, 'SKJOIN %s\r\n' % m.ipv6, 4000)
    assert b'EVENT 24' in out
    out = _cmd(clock, emu, 'SKJOIN %s\r\n' % m.ipv6, 4000)
    assert b'EVENT 25' in out and emu.session_active()


def test_scenario_expire():
    clock, emu = _mk(scenario='expire')
    out = _up(clock, emu)
    pana = [_erxudp_ascii(ln)['data'] for ln in _lines(out) if b' 02CC 02CC ' in ln]
    assert b'\x00\x08\x00\x00\x00\x04\x00\x00\x00\x00\x00\x78' in pana[3]     # Session-Lifetime 120 s
    assert _get(clock, emu, 1, [0xE7])[0] is not None
    clock.sleep_ms(130 * 1000)
    frame, raw = _get(clock, emu, 2, [0xE7], 400)
    assert frame is None
    lines = _lines(raw)
    assert lines[1] == b'OK' and lines[2] == ('EVENT 29 %s' % emu.meter.ipv6).encode()
    assert emu.stats['lost_answers'] == 0 and emu.stats['expired'] == 1
    assert not emu.session_active()
    assert _send(clock, emu, _frame(3, 0x62, [(0xE7, b'')]), 100) == b'FAIL ER10\r\n'
    out = _cmd(clock, emu, b'', 3500)
    assert ('EVENT 25 %s\r\n' % emu.meter.ipv6).encode() in out
    assert emu.session_active()
    assert _get(clock, emu, 4, [0xE7])[0] is not None


def test_scenario_txlimit():
    clock, emu = _mk(scenario='txlimit')
    _up(clock, emu)
    for i in range(2):
        assert _get(clock, emu, i, [0xE7])[0] is not None
    frame, raw = _get(clock, emu, 2, [0xE7])
    assert frame is None
    lines = _lines(raw)
    assert lines[0] == ('EVENT 32 %s' % emu.own_ip).encode()
    assert lines[1] == ('EVENT 21 %s 01' % emu.meter.ipv6).encode()
    assert _cmd(clock, emu, 'SKSREG SFB\r\n') == b'ESREG 1\r\nOK\r\n'
    frame, raw = _get(clock, emu, 3, [0xE7])
    assert frame is None and b' 01\r\n' in raw
    out = _cmd(clock, emu, b'', 30 * 1000)
    assert ('EVENT 33 %s\r\n' % emu.own_ip).encode() in out
    assert _get(clock, emu, 4, [0xE7])[0] is not None


def test_scenario_hang():
    clock, emu = _mk(scenario='hang')
    _up(clock, emu)
    for i in range(3):
        assert _get(clock, emu, i, [0xE7])[0] is not None
    frame, raw = _get(clock, emu, 3, [0xE7])
    assert raw == b''
    assert _cmd(clock, emu, 'SKVER\r\n', 500) == b''
    assert _cmd(clock, emu, b'', 3600 * 1000) == b''      # not even the INF pushes
    assert _cmd(clock, emu, 'SKRESET\r\n') == b'OK\r\n'         # SFE was 0
    assert _cmd(clock, emu, 'SKVER\r\n') == b'SKVER\r\nEVER 1.2.10\r\nOK\r\n'
    out = _up(clock, emu, scan=False)
    assert b'EVENT 25' in out
    assert _get(clock, emu, 9, [0xE7])[0] is not None


def test_scenario_swap():
    clock, emu = _mk(scenario='swap', options={'swap_after_s': 60})
    _up(clock, emu)
    old = emu.meter
    assert _get(clock, emu, 1, [0xE0])[0] is not None
    clock.sleep_ms(61 * 1000)
    emu.poll()                                          # state is as of the last UART touch
    new = emu.meter
    assert new is not old and new.mac != old.mac and new.channel != old.channel
    assert new.pan_id != old.pan_id
    frame = _frame(2, 0x62, [(0xE7, b'')])
    out = _cmd(clock, emu, b'SKSENDTO 1 %s 0E1A 1 000E ' % old.ipv6.encode() + frame, 1500)
    assert _lines(out) == [('EVENT 21 %s 01' % old.ipv6).encode(), b'OK']     # no MAC ACK any more
    out = _cmd(clock, emu, 'SKSCAN 2 FFFFFFFF 6\r\n', 18000)
    assert ('  Addr:%s' % new.mac).encode() in out and old.mac.encode() not in out
    _cmd(clock, emu, 'SKTERM\r\n', 6000)
    _cmd(clock, emu, 'SKSREG S2 %02X\r\n' % new.channel)
    _cmd(clock, emu, 'SKSREG S3 %04X\r\n' % new.pan_id)
    assert b'EVENT 25' in _cmd(clock, emu, 'SKJOIN %s\r\n' % new.ipv6, 4000)
    (_, _, _, _, props), _raw = _get(clock, emu, 3, [0xE0, 0xE2])
    assert _u32(props[0][1]) < 10                       # a new meter starts from zero
    hist = props[1][1]
    assert _u32(hist[2:6]) == 0xFFFFFFFE                # nothing measured before it was installed
    assert emu.truth()['mac'] == new.mac


def test_scenario_inf_interleave():
    clock, emu = _mk(scenario='inf-interleave')
    out = _up(clock, emu)
    assert b'FF02:' not in out                          # the node-profile INF is held back
    frame, raw = _get(clock, emu, 1, [0xE7])
    lines = _lines(raw)
    assert lines[1] == b'OK'
    first = _erxudp_ascii(lines[2])
    assert first['dest'].startswith('FF02:') and _parse(first['data'])[3] == 0x73
    assert _parse(_erxudp_ascii(lines[3])['data'])[0] == 1
    frame, raw = _get(clock, emu, 2, [0xE7])
    frame, raw = _get(clock, emu, 3, [0xE7])
    us = _udps(raw)
    assert len(us) == 2 and _parse(us[0]['data'])[3] == 0x73 and _parse(us[1]['data'])[0] == 3


def test_scenarios_no_d3_and_no_e1():
    clock, emu = _mk(scenario=['no-d3', 'no-e1'])
    _up(clock, emu)
    (tid, _, _, esv, props), raw = _get(clock, emu, 1, [0xD3])
    assert esv == 0x52 and props == [(0xD3, b'')]
    assert _udps(raw)[0]['data'] == unhex('1081000102880105FF015201D300')
    (tid, _, _, esv, props), raw = _get(clock, emu, 2, [0xE1])
    assert esv == 0x52 and props == [(0xE1, b'')]
    (tid, _, _, esv, props), raw = _get(clock, emu, 3, [0x9F])
    gm = props[0][1]
    assert gm[0] == 21
    assert not gm[1 + 3] & (1 << 5) and not gm[1 + 1] & (1 << 6)


def test_scenario_rollover():
    clock, emu = _mk(scenario='rollover')
    _up(clock, emu)
    (_, _, _, _, props), _raw = _get(clock, emu, 1, [0xE0])
    first = _u32(props[0][1])
    assert 999990 <= first <= 999999
    clock.sleep_ms(4 * 3600 * 1000)
    (_, _, _, _, props), _raw = _get(clock, emu, 2, [0xE0, 0xE2])
    later = _u32(props[0][1])
    assert later < first                                 # wrapped at 10**6
    hist = props[1][1]
    vals = [_u32(hist[2 + 4 * i:6 + 4 * i]) for i in range(9)]
    assert max(vals) > 999990 and min(vals) < 100        # the wrap is in today's history
    assert (later - first) % 1000000 < 50


def test_scenario_solar_exports_at_noon():
    clock, emu = _mk(scenario='solar', seed=7)
    _up(clock, emu)
    (_, _, _, _, props), _raw = _get(clock, emu, 1, [0xE3])
    e3_night = _u32(props[0][1])
    out = _idle(clock, emu, 12 * 3600 * 1000)            # to noon
    infs = [_parse(u['data']) for u in _udps(out)]
    infs = [f for f in infs if f[3] == 0x73 and f[1] == METER]
    assert infs and [p[0] for p in infs[0][4]] == [0xEA, 0xEB]
    (_, _, _, _, props), _raw = _get(clock, emu, 2, [0xE7, 0xE8, 0xE3, 0xEB])
    d = dict(props)
    w = struct.unpack('>i', d[0xE7])[0]
    r, t = struct.unpack('>hh', d[0xE8])
    assert w < 0 and r < 0 and t < 0
    assert _u32(d[0xE3]) > e3_night
    assert emu.truth()['power_w'] == w


def test_scenario_two_wire():
    clock, emu = _mk(scenario='two-wire')
    _up(clock, emu)
    (_, _, _, _, props), _raw = _get(clock, emu, 1, [0xE7, 0xE8])
    w = struct.unpack('>i', props[0][1])[0]
    assert props[1][1][2:4] == b'\x7f\xfe'
    r = struct.unpack('>h', props[1][1][0:2])[0]
    assert abs(r - w / 10.0) <= 1
    assert emu.truth()['current_t_a'] is None


def test_scenario_no_ropt():
    clock, emu = _mk(scenario='no-ropt')
    _cmd(clock, emu, 'SKSREG SFE 0\r\n')
    assert _cmd(clock, emu, 'ROPT\r') == b'FAIL ER04\r\n'
    _up(clock, emu, ascii=False, scan=False)
    frame, raw = _get(clock, emu, 1, [0xE7])
    assert frame is not None                              # ASCII output without WOPT


def test_unknown_scenario_is_refused():
    try:
        _mk(scenario='nonsense')
    except ValueError:
        return
    assert False, 'accepted an unknown scenario'


def test_meter_count_at_local_midnight_for_billing():
    clock, emu = _mk()
    m = emu.meter
    c0 = m.count_at_local(2026, 11, 1)
    c1 = m.count_at_local(2026, 11, 26)
    assert c0 is not None and c1 == m.count_at(emu.wall_start)
    assert 0 < c1 - c0 < 25 * 300               # 25 days of a household, in 0.1 kWh
    assert c1 == 75313
    assert m.count_at_local(2026, 6, 1) is None  # before the model's history begins
