"""lib/echonet.py (the device codec) against real meter payloads (/work/shared/vectors/real-lines.md V18-V38).

Plain test_* functions with plain asserts: runs under pytest and under real MicroPython.
"""
import echonet
from util import unhex
from echonet import EchonetError

EOJ_METER = b'\x02\x88\x01'
EOJ_CONTROLLER = b'\x05\xff\x01'
EOJ_NODE_PROFILE = b'\x0e\xf0\x01'
GET, GET_RES, GET_SNA, INF, INFC = 0x62, 0x72, 0x52, 0x73, 0x74
# E1 unit codes -> kWh per count (ECHONET Lite Appendix, 0x0288 E1)
UNITS = {0x00: 1, 0x01: 0.1, 0x02: 0.01, 0x03: 0.001, 0x04: 0.0001,
         0x0A: 10, 0x0B: 100, 0x0C: 1000, 0x0D: 10000}

# Real UDP payloads (hex copied from the vectors; vector id in the key).
REAL = {
    'V18_inf_d5': '108100000EF0010EF0017301D50401028801',
    'V18_e7_27': '1081000102880105FF017201E7040000001B',
    'V18_e7_26': '1081000202880105FF017201E7040000001A',
    'V18_d3': '1081000302880105FF017201D30400000001',
    'V18_e1': '1081000402880105FF017201E10101',
    'V18_e0': '1081000502880105FF017201E00400012631',
    'V22_e7_e8': '1081100202880105FF017202E7040000029CE80400280028',
    'V23_d3_sna': '1081000102880105FF015201D300',
    'V24_inf_d5': '108103610EF0010EF0017301D50401028801',
    'V25_e1': '1081000102880105FF017201E10102',
    'V26_d7': '1081000102880105FF017201D70107',
    'V27_ea': '1081000102880105FF017201EA0B07E6080114000000012CC7',
    'V28_e7': '1081000102880105FF017201E704000004A8',
    'V29_e8': '1081000102880105FF017201E80400620022',
    'V30_inf_ea': '1081036202880105FF017301EA0B07E60801141E0000012D02',
    'V36_e7_neg': '1081000302880105FF017201E704FFFFF856',
    'V38_get': '10817B6A05FF010288016201E700',
    'V38_res': '10817B6A02880105FF017201E70400000263',
}

# V33: E2 EDT (day + 48 half-hour counts) from a real RL7023 fixture.
V33_E2 = ('0002000124FD000124FE000124FE000124FE000124FE000124FE000124FF000124FF000124FF000124FF000125000001'
          '250000012500000125000001250100012501000125010001250100012501000125010001250100012501000125010001'
          '250100012501000125010001250100012501000125010001250100012501000125010001250100012502000125040001'
          '25080001250B0001250C0001250C0001250C0001250D0001250D0001250D000125100001251000012510000125110001'
          '2511')


def frame(name):
    return unhex(REAL[name])


def raises(fn, *args):
    try:
        fn(*args)
    except EchonetError:
        return True
    return False


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def get(f, epc):
    """EDT of epc in a parsed frame (b'' when PDC 0), None when absent."""
    for e, edt in f[4]:
        if e == epc:
            return edt
    return None


def value(f, epc):
    return echonet.decode(epc, get(f, epc))


def epcs(f):
    return [e for e, _ in f[4]]


# ---------------------------------------------------------------- parse: real payloads

def test_parse_v18_node_profile_inf():
    tid, seoj, deoj, esv, props = echonet.parse(frame('V18_inf_d5'))
    assert tid == 0
    assert seoj == EOJ_NODE_PROFILE and deoj == EOJ_NODE_PROFILE
    assert esv == INF
    assert props == [(0xD5, b'\x01\x02\x88\x01')]
    # the meter codec does not decode node-profile properties (tools/echonet_host.py does)
    assert echonet.decode(0xD5, props[0][1]) is None


def test_parse_v18_values():
    f = echonet.parse(frame('V18_e7_27'))
    assert f[0] == 1 and f[3] == GET_RES
    assert f[1] == EOJ_METER and f[2] == EOJ_CONTROLLER
    assert echonet.decode(0xE7, get(f, 0xE7)) == 27
    assert value(echonet.parse(frame('V18_e7_26')), 0xE7) == 26
    assert value(echonet.parse(frame('V18_d3')), 0xD3) == 1
    assert value(echonet.parse(frame('V18_e1')), 0xE1) == 0.1
    f = echonet.parse(frame('V18_e0'))
    assert f[0] == 5
    assert value(f, 0xE0) == 75313
    assert close(echonet.to_kwh(75313, 1, 0.1), 7531.3)


def test_parse_v22_two_properties():
    f = echonet.parse(frame('V22_e7_e8'))
    assert f[0] == 0x1002
    assert f[3] == 0x72
    assert epcs(f) == [0xE7, 0xE8]
    assert get(f, 0xE7) == unhex('0000029C')
    assert value(f, 0xE7) == 668
    r, t = value(f, 0xE8)
    assert close(r, 4.0) and close(t, 4.0)
    assert get(f, 0xE0) is None


def test_parse_v23_get_sna_pdc0():
    f = echonet.parse(frame('V23_d3_sna'))
    assert f[3] == GET_SNA
    assert f[4] == [(0xD3, b'')]
    assert echonet.decode(0xD3, get(f, 0xD3)) is None
    # No D3: coefficient 1.
    assert close(echonet.to_kwh(100, None, 0.1), 10.0)


def test_parse_v24_join_inf():
    f = echonet.parse(frame('V24_inf_d5'))
    assert f[0] == 0x0361 and f[3] == 0x73
    assert get(f, 0xD5) == b'\x01\x02\x88\x01'


def test_parse_v25_v26_unit_and_digits():
    assert value(echonet.parse(frame('V25_e1')), 0xE1) == 0.01
    assert value(echonet.parse(frame('V26_d7')), 0xD7) == 7


def test_parse_v27_fixed_time():
    f = echonet.parse(frame('V27_ea'))
    assert get(f, 0xEA) == unhex('07E6080114000000012CC7')
    stamp, count = value(f, 0xEA)
    assert stamp == (2022, 8, 1, 20, 0, 0)
    assert count == 76999
    assert close(echonet.to_kwh(count, None, UNITS[0x02]), 769.99)


def test_parse_v28_power_samples():
    assert value(echonet.parse(frame('V28_e7')), 0xE7) == 1192
    samples = (('000004F0', 1264), ('000004E8', 1256), ('00000548', 1352), ('00000530', 1328),
               ('00000430', 1072), ('000003F8', 1016), ('00000400', 1024), ('00000424', 1060),
               ('000003F0', 1008))
    for edt, watts in samples:
        assert echonet.decode(0xE7, unhex(edt)) == watts


def test_parse_v29_currents_not_truncated():
    r, t = value(echonet.parse(frame('V29_e8')), 0xE8)
    assert close(r, 9.8) and close(t, 3.4)      # not 9.0 / 3.0
    for edt, rr, tt in (('005F0028', 9.5, 4.0), ('0062002C', 9.8, 4.4), ('00430020', 6.7, 3.2)):
        r, t = echonet.decode(0xE8, unhex(edt))
        assert close(r, rr) and close(t, tt)


def test_parse_v30_unsolicited_inf():
    f = echonet.parse(frame('V30_inf_ea'))
    assert f[0] == 0x0362
    assert f[3] == INF
    assert f[1] == EOJ_METER and f[2] == EOJ_CONTROLLER
    assert value(f, 0xEA) == ((2022, 8, 1, 20, 30, 0), 77058)
    assert not echonet.is_answer(f, 0x0362, [0xEA])


def test_parse_v33_history_frame():
    edt = unhex(V33_E2)
    assert len(edt) == 194
    data = unhex('1081000602880105FF017201E2C2') + edt
    assert len(data) == 0xD0
    f = echonet.parse(data)
    day, slots = value(f, 0xE2)
    assert day == 2
    assert len(slots) == 48
    assert slots[0] == 75005
    assert slots[1:6] == [75006] * 5
    assert slots[6:10] == [75007] * 4
    assert slots[-1] == 75025 and slots[-2] == 75025
    assert slots == sorted(slots)
    assert echonet.decode(0xE4, edt) == (day, slots)


def test_parse_v36_negative_power():
    assert value(echonet.parse(frame('V36_e7_neg')), 0xE7) == -1962
    assert echonet.decode(0xE7, unhex('FFFFF78F')) == -2161
    assert echonet.decode(0xE7, unhex('00000783')) == 1923


def test_v38_request_and_response():
    assert echonet.build_get(0x7B6A, [0xE7]) == frame('V38_get')
    assert echonet.build_get(0x7B6A, (0xE7,)) == frame('V38_get')
    f = echonet.parse(frame('V38_get'))
    assert f[3] == GET and f[4] == [(0xE7, b'')]
    res = echonet.parse(frame('V38_res'))
    assert value(res, 0xE7) == 611
    assert echonet.is_answer(res, 0x7B6A, [0xE7])


def test_parse_accepts_bytearray_and_memoryview():
    raw = frame('V22_e7_e8')
    for data in (bytearray(raw), memoryview(raw), memoryview(bytearray(raw))):
        f = echonet.parse(data)
        assert f[0] == 0x1002
        assert f[1] == EOJ_METER and isinstance(f[1], bytes)
        assert get(f, 0xE8) == unhex('00280028') and isinstance(get(f, 0xE8), bytes)
        assert value(f, 0xE7) == 668
    assert echonet.decode(0xE7, memoryview(unhex('00000263'))) == 611
    assert echonet.decode(0xE2, memoryview(unhex(V33_E2)))[0] == 2


# ---------------------------------------------------------------- build

def test_build_get_several_epcs():
    data = echonet.build_get(0x1002, [0xE7, 0xE8])
    assert data == unhex('1081100205FF0102880162' + '02E700E800')
    f = echonet.parse(data)
    assert epcs(f) == [0xE7, 0xE8]
    assert f[1] == EOJ_CONTROLLER and f[2] == EOJ_METER


def test_build_setc_e5():
    data = echonet.build_setc(0x0007, 0xE5, b'\x01')
    assert data == unhex('1081000705FF0102880161' + '01E50101')
    assert raises(echonet.build_setc, 1, 0xE5, b'')
    assert raises(echonet.build_setc, 1, 0xE5, None)


def test_build_frame_responses_for_emulator():
    # Get_SNA for D3 with PDC 0 reproduces V23 byte for byte.
    data = echonet.build_frame(1, EOJ_METER, EOJ_CONTROLLER, GET_SNA, [(0xD3, b'')])
    assert data == frame('V23_d3_sna')
    data = echonet.build_frame(0x1002, EOJ_METER, EOJ_CONTROLLER, 0x72,
                               [(0xE7, unhex('0000029C')), (0xE8, bytearray(unhex('00280028')))])
    assert data == frame('V22_e7_e8')
    data = echonet.build_frame(0x0361, EOJ_NODE_PROFILE, EOJ_NODE_PROFILE, INF,
                               [(0xD5, b'\x01\x02\x88\x01')])
    assert data == frame('V24_inf_d5')
    assert isinstance(data, bytes)
    assert len(echonet.build_frame(1, EOJ_METER, EOJ_CONTROLLER, 0x72,
                                   [(0xE7, bytes(255))])) == 12 + 2 + 255
    # a parsed frame builds back to the same bytes; bare EPCs and None EDTs give PDC 0
    for name in REAL:
        assert echonet.build_frame(*echonet.parse(frame(name))) == frame(name), name
    assert echonet.build_frame(1, EOJ_CONTROLLER, EOJ_METER, GET, [0xE7, (0xE8, None)]) == \
        unhex('1081000105FF0102880162' + '02E700E800')


def test_build_infc_res():
    infc = echonet.parse(unhex('1081036202880105FF017401EA0B07E60801141E0000012D02'))
    assert infc[3] == INFC
    res = echonet.build_infc_res(infc)
    assert res == unhex('1081036205FF010288017A01EA00')
    two = echonet.parse(unhex('1081000902880105FF017402EA0B07E60801141E0000012D02EB0B07E60801141E00000000FF'))
    assert echonet.build_infc_res(two) == unhex('1081000905FF010288017A02EA00EB00')
    # Only an INFC gets an INFC_Res.
    assert raises(echonet.build_infc_res, echonet.parse(frame('V30_inf_ea')))


def test_tid_in_the_header():
    assert echonet.build_get(0, [0xE7])[2:4] == b'\x00\x00'
    assert echonet.build_get(0x1234, [0xE7])[2:4] == b'\x12\x34'
    assert echonet.build_get(0xFFFF, [0xE7])[2:4] == b'\xff\xff'


# ---------------------------------------------------------------- malformed frames

def test_malformed_frames_raise_echonet_error():
    good = frame('V22_e7_e8')
    assert raises(echonet.parse, b'')
    assert raises(echonet.parse, good[:11])                    # truncated header
    assert raises(echonet.parse, good[:12])                    # header only, OPC 2
    assert raises(echonet.parse, good[:-1])                    # last PDC runs past the end
    assert raises(echonet.parse, good[:18])                    # second EPC missing
    assert raises(echonet.parse, good[:19])                    # second PDC missing
    assert raises(echonet.parse, good + b'\x00')               # trailing byte
    assert raises(echonet.parse, b'\x10\x82' + good[2:])       # bad EHD2
    assert raises(echonet.parse, b'\x11\x81' + good[2:])       # bad EHD1
    assert raises(echonet.parse, good[:11] + b'\x00')          # OPC 0
    assert raises(echonet.parse, good[:11] + b'\x01' + good[12:])   # OPC 1 but 2 props: trailing
    assert raises(echonet.parse, unhex('1081000102880105FF017201E705000000'))  # PDC 5, 3 bytes
    assert raises(echonet.parse, unhex('1081000105FF010288016E01E70000'))       # SetGet
    assert raises(echonet.parse, unhex('1081000102880105FF017E01E70000'))       # SetGet_Res
    assert raises(echonet.parse, None)
    assert raises(echonet.parse, 'not bytes')


def test_wrong_length_edt_raises():
    bad = ((0xE7, '000263'), (0xE7, '0000000263'), (0xE8, '002800'), (0xE0, '012631'),
           (0xD3, '0001'), (0xD7, '0707'), (0xE1, '0101'), (0xE5, '0100'),
           (0x97, '14'), (0x98, '07E608'),
           (0xEA, '07E6080114000000012C'), (0xEB, '07E6080114000000012CC700'))
    for epc, edt in bad:
        assert raises(echonet.decode, epc, unhex(edt)), hex(epc)
    assert raises(echonet.decode, 0xE2, unhex(V33_E2)[:-1])
    assert raises(echonet.decode, 0xE4, unhex(V33_E2) + b'\x00')


# ---------------------------------------------------------------- no-data markers

def test_no_data_markers():
    assert echonet.decode(0xE0, unhex('FFFFFFFE')) is None
    assert echonet.decode(0xE3, unhex('FFFFFFFE')) is None
    assert echonet.decode(0xE0, unhex('05F5E0FF')) == 99999999
    assert echonet.decode(0xE0, unhex('05F5E100')) is None
    assert echonet.decode(0xE7, unhex('7FFFFFFE')) is None
    assert echonet.decode(0xE7, unhex('7FFFFFFF')) is None
    assert echonet.decode(0xE7, unhex('80000000')) is None
    assert echonet.decode(0xE7, unhex('7FFFFFFD')) == 0x7FFFFFFD
    assert echonet.decode(0xE7, unhex('80000001')) == -0x7FFFFFFF
    r, t = echonet.decode(0xE8, unhex('00627FFE'))      # single-phase 2-wire: T = 0x7FFE
    assert close(r, 9.8) and t is None
    r, t = echonet.decode(0xE8, unhex('7FFEFFF6'))
    assert r is None and close(t, -1.0)
    stamp, count = echonet.decode(0xEA, unhex('07E60801140000FFFFFFFE'))
    assert stamp == (2022, 8, 1, 20, 0, 0) and count is None
    stamp, count = echonet.decode(0xEB, unhex('07E60801141E00FFFFFFFE'))
    assert stamp == (2022, 8, 1, 20, 30, 0) and count is None
    # Not-yet-measured history slots.
    edt = unhex(V33_E2[:4 + 8 * 40] + 'FFFFFFFE' * 8)
    day, slots = echonet.decode(0xE2, edt)
    assert day == 2 and slots[33] == 75010 and slots[39] == 75020 and slots[40:] == [None] * 8


def test_pdc0_and_unknown_epc_decode_to_none():
    for epc in (0x80, 0x9F, 0xD3, 0xE0, 0xE1, 0xE2, 0xE7, 0xE8, 0xEA, 0xD5):
        assert echonet.decode(epc, b'') is None
        assert echonet.decode(epc, None) is None
    assert echonet.decode(0xEC, unhex('0001')) is None
    assert echonet.decode(0x00, unhex('00')) is None
    assert echonet.decode(0x80, b'\x30') is None        # identity properties: host only


def test_small_properties():
    assert echonet.decode(0x97, b'\x14\x1e') == (20, 30)
    assert echonet.decode(0x98, unhex('07E60801')) == (2022, 8, 1)
    assert echonet.decode(0xD3, unhex('0000000A')) == 10
    assert echonet.decode(0xE5, b'\x63') == 99
    assert echonet.decode(0xD7, b'\x06') == 6


# ---------------------------------------------------------------- matching

def test_is_answer():
    res = echonet.parse(frame('V22_e7_e8'))
    assert echonet.is_answer(res, 0x1002, [0xE7, 0xE8])
    assert echonet.is_answer(res, 0x1002, [0xE8, 0xE7])        # order ignored
    assert not echonet.is_answer(res, 0x1003, [0xE7, 0xE8])    # wrong TID
    assert not echonet.is_answer(res, 0x1002, [0xE7])          # different EPC set
    assert not echonet.is_answer(res, 0x1002, [0xE7, 0xE8, 0xE0])
    assert not echonet.is_answer(res, 0x1002, [0xE7, 0xE0])
    assert not echonet.is_answer(res, 0x1002, [0xE7, 0xE7])
    # Wrong SEOJ: same TID/ESV/EPC from the node profile.
    other = echonet.parse(unhex('1081100205FF0105FF017202E7040000029CE80400280028'))
    assert not echonet.is_answer(other, 0x1002, [0xE7, 0xE8])
    node = echonet.parse(unhex('108100010EF00105FF017201E7040000001B'))
    assert not echonet.is_answer(node, 1, [0xE7])
    # Get_SNA is an answer ("not possible"), not a timeout.
    assert echonet.is_answer(echonet.parse(frame('V23_d3_sna')), 1, [0xD3])
    assert echonet.is_answer(echonet.parse(frame('V23_d3_sna')), 1, (0xD3,))
    # Set_Res and SetC_SNA answer a SetC.
    assert echonet.is_answer(echonet.parse(unhex('1081000702880105FF017101E500')), 7, [0xE5])
    assert echonet.is_answer(echonet.parse(unhex('1081000702880105FF015101E50101')), 7, [0xE5])
    # The join-time INF (TID 0000) is not an answer to Get #0.
    assert not echonet.is_answer(echonet.parse(frame('V18_inf_d5')), 0, [0xD5])
    # A request (ESV 0x62) echoed back is not an answer.
    assert not echonet.is_answer(echonet.parse(frame('V38_get')), 0x7B6A, [0xE7])


# ---------------------------------------------------------------- helpers

def test_unit_table():
    table = {0x00: 1, 0x01: 0.1, 0x02: 0.01, 0x03: 0.001, 0x04: 0.0001,
             0x0A: 10, 0x0B: 100, 0x0C: 1000, 0x0D: 10000}
    for code in range(256):
        assert echonet.decode(0xE1, bytes([code])) == table.get(code)


def test_to_kwh_with_e1_codes():
    u = UNITS
    assert close(echonet.to_kwh(75313, 1, u[0x01]), 7531.3)
    assert close(echonet.to_kwh(76999, None, u[0x02]), 769.99)
    assert close(echonet.to_kwh(1234567, 1, u[0x03]), 1234.567)
    assert close(echonet.to_kwh(12345, 1, u[0x04]), 1.2345)
    assert close(echonet.to_kwh(42, 1, u[0x00]), 42.0)
    assert close(echonet.to_kwh(5, 1, u[0x0A]), 50.0)
    assert close(echonet.to_kwh(5, 1, u[0x0B]), 500.0)
    assert close(echonet.to_kwh(5, 1, u[0x0C]), 5000.0)
    assert close(echonet.to_kwh(5, 1, u[0x0D]), 50000.0)
    assert close(echonet.to_kwh(123, 10, 0.1), 123.0)          # coefficient D3 = 10
    assert isinstance(echonet.to_kwh(5, 1, 10), float)
    assert echonet.to_kwh(None, 1, 0.1) is None
    assert raises(echonet.to_kwh, 5, 1, None)


def test_count_diff_rollover():
    assert echonet.count_diff(77058, 76999, 7) == 59
    assert echonet.count_diff(5, 9999995, 7) == 10              # wrapped at 10**7
    assert echonet.count_diff(0, 999999, 6) == 1                # Toshiba, 6 digits
    assert echonet.count_diff(3, 99999999, 8) == 4
    assert echonet.count_diff(100, 100, 7) == 0
    assert echonet.count_diff(None, 100, 7) is None
    assert echonet.count_diff(100, None, 7) is None
    assert raises(echonet.count_diff, 1, 0, 0)
    assert raises(echonet.count_diff, 1, 0, None)
