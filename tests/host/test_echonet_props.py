"""Property tests for lib/echonet.py and tools/echonet_host.py (CPython + hypothesis).

Round trips build -> parse, and robustness: random or mutated input only ever gives a value or
EchonetError, never IndexError/struct.error/AssertionError.
"""
import echonet
import echonet_host
import pytest
from echonet import EchonetError
from hypothesis import given, settings
from hypothesis import strategies as st

SETGET = (0x6E, 0x7E, 0x5E)
EOJ_METER = b'\x02\x88\x01'
EOJ_CONTROLLER = b'\x05\xff\x01'
EOJ_NODE_PROFILE = b'\x0e\xf0\x01'
UNITS = {0x00: 1, 0x01: 0.1, 0x02: 0.01, 0x03: 0.001, 0x04: 0.0001,
         0x0A: 10, 0x0B: 100, 0x0C: 1000, 0x0D: 10000}

tids = st.integers(0, 0xFFFF)
eojs = st.binary(min_size=3, max_size=3)
esvs = st.integers(0, 0xFF).filter(lambda e: e not in SETGET)
epcs = st.integers(0, 0xFF)
edts = st.binary(max_size=255)
props_st = st.lists(st.tuples(epcs, st.binary(max_size=40)), min_size=1, max_size=12)
buffers = st.sampled_from([bytes, bytearray, memoryview])

METER_EPCS = [0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F, 0xD3, 0xD5,
              0xD6, 0xD7, 0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE7, 0xE8, 0xEA, 0xEB]
FIXED_SIZES = {0x80: 1, 0x81: 1, 0x82: 4, 0x88: 1, 0x8A: 3, 0x97: 2, 0x98: 4, 0xD3: 4,
               0xD7: 1, 0xE0: 4, 0xE1: 1, 0xE2: 194, 0xE3: 4, 0xE4: 194, 0xE5: 1, 0xE7: 4,
               0xE8: 4, 0xEA: 11, 0xEB: 11}

REAL_FRAMES = [
    '1081100202880105FF017202E7040000029CE80400280028',
    '1081000102880105FF015201D300',
    '108103610EF0010EF0017301D50401028801',
    '1081036202880105FF017301EA0B07E60801141E0000012D02',
    '10817B6A05FF010288016201E700',
]


def build(tid, seoj, deoj, esv, props):
    return echonet.build_frame(tid, seoj, deoj, esv, props)


def rebuild(f):
    return build(*f)


@given(tids, eojs, eojs, esvs, props_st, buffers)
def test_build_parse_round_trip(tid, seoj, deoj, esv, props, kind):
    data = build(tid, seoj, deoj, esv, props)
    assert isinstance(data, bytes)
    assert len(data) == 12 + sum(2 + len(edt) for _, edt in props)
    f = echonet.parse(kind(data))
    assert f[:4] == (tid, seoj, deoj, esv)
    assert f[4] == [(e, bytes(d)) for e, d in props]
    assert all(isinstance(d, bytes) for _, d in f[4])
    assert rebuild(f) == data


@given(tids, st.lists(epcs, min_size=1, max_size=20, unique=True),
       st.sampled_from([0x72, 0x52]))
def test_get_and_its_answer(tid, request, answer_esv):
    req = echonet.parse(echonet.build_get(tid, request))
    assert req[3] == 0x62 and req[0] == tid
    assert req[4] == [(e, b'') for e in request]
    answer = list(reversed([(e, b'\x01') for e in request]))
    res = echonet.parse(build(tid, EOJ_METER, EOJ_CONTROLLER, answer_esv, answer))
    assert echonet.is_answer(res, tid, request)
    assert not echonet.is_answer(res, (tid + 1) & 0xFFFF, request)
    if len(request) > 1:
        assert not echonet.is_answer(res, tid, request[1:])


@given(st.binary(max_size=64))
def test_parse_random_bytes_only_raises_echonet_error(data):
    try:
        f = echonet.parse(data)
    except EchonetError:
        return
    assert rebuild(f) == data


@given(st.binary(min_size=10, max_size=80))
def test_parse_random_body_after_valid_ehd(body):
    data = b'\x10\x81' + body
    try:
        f = echonet.parse(data)
    except EchonetError:
        return
    assert rebuild(f) == data


mutations = st.one_of(
    st.tuples(st.just('cut'), st.integers(0, 300), st.binary(max_size=0)),
    st.tuples(st.just('append'), st.integers(0, 0), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just('flip'), st.integers(0, 300), st.binary(min_size=1, max_size=1)),
    st.tuples(st.just('insert'), st.integers(0, 300), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just('delete'), st.integers(0, 300), st.binary(max_size=0)),
)


def mutate(data, how):
    kind, pos, extra = how
    pos = pos % (len(data) + 1)
    if kind == 'cut':
        return data[:pos]
    if kind == 'append':
        return data + extra
    if kind == 'flip':
        if not data:
            return data
        if pos == len(data):
            pos -= 1
        return data[:pos] + bytes([data[pos] ^ (extra[0] or 1)]) + data[pos + 1:]
    if kind == 'insert':
        return data[:pos] + extra + data[pos:]
    return data[:pos] + data[pos + 1:]


@given(st.one_of(st.sampled_from([bytes.fromhex(h) for h in REAL_FRAMES]),
                 st.builds(build, tids, eojs, eojs, esvs, props_st)),
       st.lists(mutations, min_size=1, max_size=4))
def test_mutated_frames_only_raise_echonet_error(data, hows):
    for how in hows:
        data = mutate(data, how)
    try:
        f = echonet.parse(data)
    except EchonetError:
        return
    # Whatever parses is a well-formed frame: building it again gives the same bytes.
    assert rebuild(f) == data


@pytest.mark.parametrize('cut', range(24))
def test_every_truncation_of_a_real_frame_raises(cut):
    data = bytes.fromhex(REAL_FRAMES[0])
    with pytest.raises(EchonetError):
        echonet.parse(data[:cut])


@settings(max_examples=300)
@given(st.one_of(st.sampled_from(METER_EPCS), epcs), edts,
       st.sampled_from([None, EOJ_METER, EOJ_NODE_PROFILE]), buffers)
def test_decode_random_edt_gives_value_or_echonet_error(epc, edt, eoj, kind):
    try:
        echonet_host.decode(epc, kind(edt), eoj)
    except EchonetError:
        pass


@settings(max_examples=300)
@given(st.sampled_from(sorted(FIXED_SIZES)), st.data())
def test_decode_right_length_never_raises(epc, data):
    edt = data.draw(st.binary(min_size=FIXED_SIZES[epc], max_size=FIXED_SIZES[epc]))
    echonet_host.decode(epc, edt)
    bad = data.draw(st.binary(max_size=200).filter(lambda b: len(b) not in (0, FIXED_SIZES[epc])))
    with pytest.raises(EchonetError):
        echonet_host.decode(epc, bad)


@given(st.sets(st.integers(0x80, 0xFF), max_size=128))
def test_property_map_forms_agree(codes):
    codes = sorted(codes)
    if len(codes) < 16:
        edt = bytes([len(codes)] + codes)
    else:
        bitmap = bytearray(16)
        for c in codes:
            bitmap[c & 0x0F] |= 1 << ((c >> 4) - 8)
        edt = bytes([len(codes)]) + bytes(bitmap)
    assert sorted(echonet_host.decode(0x9F, edt)) == codes


@given(st.integers(1, 8), st.data())
def test_count_diff_rollover(digits, data):
    modulus = 10 ** digits
    old = data.draw(st.integers(0, modulus - 1))
    step = data.draw(st.integers(0, modulus - 1))
    assert echonet.count_diff((old + step) % modulus, old, digits) == step


@given(st.integers(0, 99999999), st.one_of(st.none(), st.integers(1, 999999)),
       st.sampled_from([0x00, 0x01, 0x02, 0x03, 0x04, 0x0A, 0x0B, 0x0C, 0x0D]))
def test_to_kwh_matches_product(count, coefficient, code):
    mult = UNITS[code]
    assert echonet.decode(0xE1, bytes([code])) == mult
    kwh = echonet.to_kwh(count, coefficient, mult)
    expect = count * (coefficient or 1) * mult
    assert kwh == pytest.approx(expect, rel=1e-12)


@given(tids, eojs, st.lists(epcs, min_size=1, max_size=10))
def test_infc_res_echoes_each_epc(tid, seoj, codes):
    infc = echonet.parse(build(tid, seoj, EOJ_CONTROLLER, 0x74, [(e, b'\x00\x01') for e in codes]))
    res = echonet.parse(echonet.build_infc_res(infc))
    assert res[0] == tid and res[3] == 0x7A
    assert res[1] == EOJ_CONTROLLER and res[2] == seoj
    assert res[4] == [(e, b'') for e in codes]


@given(tids, eojs, eojs, st.sampled_from(SETGET), props_st)
def test_setget_is_refused_when_parsed(tid, seoj, deoj, esv, props):
    data = build(tid, seoj, deoj, 0x72, props)
    with pytest.raises(EchonetError):
        echonet.parse(data[:10] + bytes([esv]) + data[11:])

