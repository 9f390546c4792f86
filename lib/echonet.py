"""ECHONET Lite codec for the low-voltage smart electric energy meter (class 0x0288).

Builds frames (Get, SetC, INFC_Res and any generic frame for the emulator), parses a received
UDP payload into a Frame (EHD, TID, SEOJ, DEOJ, ESV, OPC, each EPC/PDC/EDT), matches an answer to
its request (is_answer) and decodes each property the meter serves into plain Python values.
It is handed bytes, bytearray or memoryview and returns bytes or plain values.  It never does I/O,
keeps no state beyond a Tid counter, and never lets IndexError or struct.error escape: a bad frame
or a wrong-length EDT raises EchonetError.  Facts: ECHONET Lite format 1 and the 0x0288 property
table (Appendix, Release F and later), checked against real captures (V18-V38).
"""

from compat import const, hex_upper, struct


class EchonetError(Exception):
    pass


# Services (ECHONET Lite 3.2.5).
ESV_SETI = const(0x60)
ESV_SETC = const(0x61)
ESV_GET = const(0x62)
ESV_INF_REQ = const(0x63)
ESV_SETGET = const(0x6E)
ESV_SET_RES = const(0x71)
ESV_GET_RES = const(0x72)
ESV_INF = const(0x73)
ESV_INFC = const(0x74)
ESV_INFC_RES = const(0x7A)
ESV_SETGET_RES = const(0x7E)
ESV_SETI_SNA = const(0x50)
ESV_SETC_SNA = const(0x51)
ESV_GET_SNA = const(0x52)
ESV_INF_SNA = const(0x53)
ESV_SETGET_SNA = const(0x5E)

EOJ_METER = b'\x02\x88\x01'
EOJ_CONTROLLER = b'\x05\xff\x01'
EOJ_NODE_PROFILE = b'\x0e\xf0\x01'

_EHD1 = const(0x10)
_EHD2 = const(0x81)
_HEADER = const(12)          # EHD(2) TID(2) SEOJ(3) DEOJ(3) ESV(1) OPC(1)
_TID_MASK = const(0xFFFF)

# SetGet frames carry two OPC sections; the meter never sends them to a controller.
_SETGET_ESVS = (ESV_SETGET, ESV_SETGET_RES, ESV_SETGET_SNA)
# A request is answered by Get_Res/Set_Res or by the "not possible" SNA forms.
_ANSWER_ESVS = (ESV_GET_RES, ESV_SET_RES, ESV_GET_SNA, ESV_SETC_SNA)

# Cumulative counts are 0..99,999,999 (0x05F5E0FF); 0xFFFFFFFE = "not measured" (E2 slots, FUTOMI,
# momonga).  Anything above the range (incl. 0xFFFFFFFF) is not a reading either.
_COUNT_MAX = const(99999999)
# E7 signed long: valid 0x80000001..0x7FFFFFFD; 0x7FFFFFFE no data, 0x7FFFFFFF/0x80000000 over/underflow.
_POWER_MAX = const(0x7FFFFFFD)
_POWER_MIN = -0x7FFFFFFF
# E8 signed short per phase: valid 0x8001..0x7FFD (0.1 A); 0x7FFE = no data (T phase on 1-phase 2-wire).
_AMPS_MAX = const(0x7FFD)
_AMPS_MIN = const(-0x7FFF)

# E1 unit codes -> kWh per count.
_UNITS = {0x00: 1, 0x01: 0.1, 0x02: 0.01, 0x03: 0.001, 0x04: 0.0001,
          0x0A: 10, 0x0B: 100, 0x0C: 1000, 0x0D: 10000}
# E1 fractional units as integer divisors: count / 100 rounds better than count * 0.01
# (the device has single-precision floats).
_DIVISORS = {0.1: 10, 0.01: 100, 0.001: 1000, 0.0001: 10000}


class Tid:
    """Transaction id counter: next() gives start+1, start+2, ... 0xFFFF, 0, 1, ..."""

    def __init__(self, start=0):
        self.value = start & _TID_MASK

    def next(self):
        self.value = (self.value + 1) & _TID_MASK
        return self.value


class Frame:
    """A parsed ECHONET Lite format-1 frame; props is a list of (epc, edt bytes)."""

    def __init__(self, tid, seoj, deoj, esv, props):
        self.tid = tid
        self.seoj = seoj
        self.deoj = deoj
        self.esv = esv
        self.props = props

    def get(self, epc):
        """EDT bytes of epc (b'' when PDC 0), None when the frame does not carry it."""
        for e, edt in self.props:
            if e == epc:
                return edt
        return None

    def epcs(self):
        return [e for e, _ in self.props]

    def value(self, epc):
        """decode() of epc's EDT in the context of this frame's SEOJ (None when absent)."""
        edt = self.get(epc)
        if edt is None:
            return None
        return decode(epc, edt, self.seoj)

    def __repr__(self):
        return 'Frame(tid=%04X %s->%s esv=%02X %s)' % (
            self.tid, hex_upper(self.seoj), hex_upper(self.deoj), self.esv,
            ' '.join(['%02X:%s' % (e, hex_upper(d)) for e, d in self.props]))


# ---------------------------------------------------------------- building

def _check_eoj(eoj):
    if not isinstance(eoj, (bytes, bytearray, memoryview)) or len(eoj) != 3:
        raise EchonetError('EOJ must be 3 bytes')


def build_frame(tid, seoj, deoj, esv, props):
    """Frame bytes for props = [(epc, edt), ...]; edt None or b'' gives PDC 0."""
    if not isinstance(tid, int) or not 0 <= tid <= _TID_MASK:
        raise EchonetError('bad TID')
    if not isinstance(esv, int) or not 0 <= esv <= 0xFF or esv in _SETGET_ESVS:
        raise EchonetError('bad ESV')
    _check_eoj(seoj)
    _check_eoj(deoj)
    opc = len(props)
    if not 0 < opc <= 0xFF:
        raise EchonetError('bad OPC')
    size = _HEADER
    for epc, edt in props:
        if not isinstance(epc, int) or not 0 <= epc <= 0xFF:
            raise EchonetError('bad EPC')
        if edt is not None:
            if len(edt) > 0xFF:
                raise EchonetError('EDT too long')
            size += len(edt)
        size += 2
    buf = bytearray(size)
    buf[0] = _EHD1
    buf[1] = _EHD2
    buf[2] = tid >> 8
    buf[3] = tid & 0xFF
    buf[4:7] = seoj
    buf[7:10] = deoj
    buf[10] = esv
    buf[11] = opc
    p = _HEADER
    for epc, edt in props:
        pdc = 0 if edt is None else len(edt)
        buf[p] = epc
        buf[p + 1] = pdc
        p += 2
        if pdc:
            buf[p:p + pdc] = edt
            p += pdc
    return bytes(buf)


def build_get(tid, epcs, deoj=EOJ_METER, seoj=EOJ_CONTROLLER):
    """Get (0x62) for one EPC (int) or several in one frame (PDC 0 each)."""
    if isinstance(epcs, int):
        epcs = (epcs,)
    return build_frame(tid, seoj, deoj, ESV_GET, [(e, None) for e in epcs])


def build_setc(tid, props, deoj=EOJ_METER, seoj=EOJ_CONTROLLER):
    """SetC (0x61) for props = [(epc, edt), ...]; every EDT must be non-empty."""
    for _, edt in props:
        if edt is None or len(edt) == 0:
            raise EchonetError('SetC needs an EDT')
    return build_frame(tid, seoj, deoj, ESV_SETC, props)


def build_infc_res(frame):
    """INFC_Res (0x7A) for a parsed INFC (0x74): same TID, EOJs swapped, each EPC with PDC 0."""
    if frame.esv != ESV_INFC:
        raise EchonetError('not an INFC')
    return build_frame(frame.tid, frame.deoj, frame.seoj, ESV_INFC_RES,
                       [(e, None) for e, _ in frame.props])


# ---------------------------------------------------------------- parsing

def _copy(data, start, end):
    part = data[start:end]
    if isinstance(part, bytes):
        return part
    return bytes(part)


def parse(data):
    """Frame from one whole UDP payload (bytes, bytearray or memoryview), or EchonetError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise EchonetError('not bytes')
    n = len(data)
    if n < _HEADER:
        raise EchonetError('short frame')
    if data[0] != _EHD1 or data[1] != _EHD2:
        raise EchonetError('bad EHD')
    esv = data[10]
    if esv in _SETGET_ESVS:
        raise EchonetError('SetGet unsupported')
    opc = data[11]
    if opc == 0:
        raise EchonetError('OPC 0')
    props = []
    p = _HEADER
    for _ in range(opc):
        if p + 2 > n:
            raise EchonetError('truncated')
        epc = data[p]
        end = p + 2 + data[p + 1]
        if end > n:
            raise EchonetError('PDC past end')
        props.append((epc, _copy(data, p + 2, end)))
        p = end
    if p != n:
        raise EchonetError('trailing bytes')
    return Frame((data[2] << 8) | data[3], _copy(data, 4, 7), _copy(data, 7, 10), esv, props)


def is_answer(frame, tid, epcs):
    """True when frame answers the request (tid, epcs): same TID, from a 0x0288 object,
    ESV Get_Res/Set_Res/Get_SNA/SetC_SNA and the same EPC set (order ignored)."""
    if frame.tid != tid or frame.esv not in _ANSWER_ESVS:
        return False
    seoj = frame.seoj
    if seoj[0] != 0x02 or seoj[1] != 0x88:
        return False
    if isinstance(epcs, int):
        epcs = (epcs,)
    props = frame.props
    if len(props) != len(epcs):
        return False
    for e, _ in props:
        if e not in epcs:
            return False
    for e in epcs:
        if frame.get(e) is None:
            return False
    return True


# ---------------------------------------------------------------- values

def unit_multiplier(code):
    """E1 unit code -> kWh per count (1, 0.1, ... 10000), None for an undefined code."""
    return _UNITS.get(code)


def to_kwh(count, coefficient, multiplier):
    """kWh = count x coefficient (D3, 1 when absent/None) x unit (E1 multiplier).
    None count gives None; an unknown unit (None) raises EchonetError."""
    if count is None:
        return None
    if multiplier is None:
        raise EchonetError('unknown unit')
    if coefficient is None:
        coefficient = 1
    divisor = _DIVISORS.get(multiplier)
    if divisor:
        return count * coefficient / divisor
    return float(count * coefficient * multiplier)


def count_diff(new, old, digits):
    """Counts advanced from old to new on a counter that wraps at 10**digits (D7).
    None when either reading is None."""
    if new is None or old is None:
        return None
    if not isinstance(digits, int) or not 0 < digits <= 10:
        raise EchonetError('bad digits')
    return (new - old) % (10 ** digits)


def _need(edt, size):
    if len(edt) != size:
        raise EchonetError('EDT length')


def _u8(edt):
    _need(edt, 1)
    return edt[0]


def _u16(edt):
    _need(edt, 2)
    return struct.unpack_from('>H', edt)[0]


def _u24(edt):
    _need(edt, 3)
    return (edt[0] << 16) | (edt[1] << 8) | edt[2]


def _u32(edt):
    _need(edt, 4)
    return struct.unpack_from('>I', edt)[0]


def _reading(value):
    return None if value > _COUNT_MAX else value


def _count(edt):
    return _reading(_u32(edt))


def _operation(edt):
    code = _u8(edt)
    return 'on' if code == 0x30 else ('off' if code == 0x31 else None)


def _fault(edt):
    code = _u8(edt)
    return 'fault' if code == 0x41 else ('normal' if code == 0x42 else None)


def _release(edt):
    # 82 (device object): 00 00 <release letter ASCII> <revision>; real: 00004600 = Release F.
    _need(edt, 4)
    return (chr(edt[2]), edt[3])


def _node_version(edt):
    # 82 (node profile): major, minor, message format (2 bytes).
    _need(edt, 4)
    return (edt[0], edt[1])


def _maker(edt):
    _need(edt, 3)
    return hex_upper(edt)


def _text(edt):
    # 8D production number: up to 12 ASCII bytes, NUL padded; non-printables shown as '?'.
    if len(edt) > 12:
        raise EchonetError('EDT length')
    chars = []
    for b in edt:
        if b:
            chars.append(chr(b) if 0x20 <= b < 0x7F else '?')
    return ''.join(chars).strip()


def _time(edt):
    _need(edt, 2)
    return (edt[0], edt[1])


def _date(edt):
    _need(edt, 4)
    return struct.unpack_from('>HBB', edt)


def _property_map(edt):
    # count < 16: count + EPC list; count >= 16: count + 16-byte bitmap where
    # byte i, bit b -> EPC 0x80 + 0x10*b + i.
    count = edt[0]
    if count < 16:
        _need(edt, 1 + count)
        return [edt[i] for i in range(1, 1 + count)]
    _need(edt, 17)
    found = []
    for b in range(8):
        mask = 1 << b
        for i in range(16):
            if edt[1 + i] & mask:
                found.append(0x80 + 0x10 * b + i)
    return found


def _unit(edt):
    return unit_multiplier(_u8(edt))


def _history(edt):
    # E2/E4: day (uint16) + 48 half-hour counts 00:00 .. 23:30.
    _need(edt, 194)
    values = struct.unpack_from('>H48I', edt)
    return (values[0], [_reading(v) for v in values[1:]])


def _power(edt):
    _need(edt, 4)
    w = struct.unpack_from('>i', edt)[0]
    return w if _POWER_MIN <= w <= _POWER_MAX else None


def _amps(raw):
    return raw / 10 if _AMPS_MIN <= raw <= _AMPS_MAX else None


def _currents(edt):
    _need(edt, 4)
    r, t = struct.unpack_from('>hh', edt)
    return (_amps(r), _amps(t))


def _fixed_time(edt):
    # EA/EB: YYYY MM DD hh mm ss + uint32 count.
    _need(edt, 11)
    y, mo, d, h, mi, s, count = struct.unpack_from('>HBBBBBI', edt)
    return ((y, mo, d, h, mi, s), _reading(count))


def _eoj_list(width):
    def decode_list(edt):
        count = edt[0]
        _need(edt, 1 + width * count)
        return [_copy(edt, 1 + width * i, 1 + width * (i + 1)) for i in range(count)]
    return decode_list


_instances = _eoj_list(3)

# Low-voltage smart electric energy meter (0x0288) and super-class properties.
_METER = {
    0x80: _operation, 0x81: _u8, 0x82: _release, 0x88: _fault, 0x8A: _maker,
    0x8D: _text, 0x97: _time, 0x98: _date,
    0x9D: _property_map, 0x9E: _property_map, 0x9F: _property_map,
    0xD3: _u32, 0xD7: _u8, 0xE0: _count, 0xE1: _unit, 0xE2: _history, 0xE3: _count,
    0xE4: _history, 0xE5: _u8, 0xE7: _power, 0xE8: _currents, 0xEA: _fixed_time,
    0xEB: _fixed_time,
    # Node profile instance lists, so decode(0xD5, edt) works without an EOJ.
    0xD5: _instances, 0xD6: _instances,
}

# Node profile (0x0EF0): same EPC numbers as the meter for D3/D7 mean other things.
_NODE = {
    0x80: _operation, 0x82: _node_version, 0x88: _fault, 0x8A: _maker,
    0x9D: _property_map, 0x9E: _property_map, 0x9F: _property_map,
    0xD3: _u24, 0xD4: _u16, 0xD5: _instances, 0xD6: _instances, 0xD7: _eoj_list(2),
}


def decode(epc, edt, eoj=None):
    """Python value of one property's EDT (see docs/design.md).  PDC 0 (b'' or None) and an
    unknown EPC give None; a wrong-length EDT raises EchonetError.  eoj (the SEOJ, optional)
    selects the node-profile table for 0x0EF0 objects; default is the meter's."""
    if edt is None or len(edt) == 0:
        return None
    table = _METER
    if eoj is not None and len(eoj) == 3 and eoj[0] == 0x0E and eoj[1] == 0xF0:
        table = _NODE
    fn = table.get(epc)
    if fn is None:
        return None
    return fn(edt)
