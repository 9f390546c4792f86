"""ECHONET Lite codec for the low-voltage smart electric energy meter (class 0x0288), device part.

Builds the frames the app sends (Get, SetC, INFC_Res; build_frame for any other), parses a received
UDP payload into a frame tuple `(tid, seoj, deoj, esv, props)` with props a list of (epc, edt
bytes), matches an answer to its request (is_answer) and decodes the properties the app reads (E7
E8 E0 E3 E2 E4 D3 E1 D7 E5 EA EB 97 98) into plain values, with the meter's "no data" markers as
None.  It is handed bytes, bytearray or memoryview; it never does I/O, keeps no state, and never
lets IndexError or TypeError escape: a bad frame or a wrong-length EDT raises EchonetError.
Identity and node-profile properties are decoded on the host only (tools/echonet_host.py).
Facts: ECHONET Lite format 1 and the 0x0288 property table (Appendix, Release F+), checked
against the real captures V18-V38.

API: build_frame(tid, seoj, deoj, esv, props), build_get(tid, epcs), build_setc(tid, epc, data),
build_infc_res(frame), parse(data), is_answer(frame, tid, epcs), decode(epc, data),
to_kwh(count, coefficient, unit), count_diff(new, start, digits), EchonetError.  An EDT (the
property's value bytes) is called `data`.  Fields are read inline (shifts; int.from_bytes for
the counts of E2/E4 and EA/EB): a helper function would cost a name and ~50 B resident.
"""

from util import const

# Services (ECHONET Lite 3.2.5).  Answers to a request: Get_Res 72, Set_Res 71, Get_SNA 52,
# SetC_SNA 51.  SetGet frames (5E 6E 7E) carry two OPC sections: never sent to a controller.
_SETC = const(0x61)
_GET = const(0x62)
_INFC = const(0x74)
_INFC_RES = const(0x7A)
# Cumulative counts are 0..99,999,999; 0xFFFFFFFE = "not measured" (E2 slots): above is no reading.
_COUNT_MAX = const(99999999)
# Requests go from SEOJ 05FF01 (controller) to DEOJ 028801 (meter): bytes literals, which cost no
# name and are stored once per module.


class EchonetError(Exception):
    pass


def build_frame(*frame):
    """build_frame(tid, seoj, deoj, esv, props): the frame's bytes (build_frame(*parse(data)) ==
    data); props a list of (epc, edt) where an edt of None or b'' gives PDC 0, or of bare EPCs."""
    tid, seoj, deoj, esv, props = frame
    out = bytearray(b'\x10\x81')
    out.append(tid >> 8 & 0xFF)
    out.append(tid & 0xFF)
    out.extend(seoj)
    out.extend(deoj)
    out.append(esv)
    out.append(len(props))
    for p in props:
        edt = b''
        if not isinstance(p, int):
            p, edt = p
            edt = edt or b''
        out.append(p)
        out.append(len(edt))
        out.extend(edt)
    return bytes(out)


def build_get(tid, epcs):
    """Get (0x62) to the meter for the EPCs (a tuple or list) in one frame, PDC 0 each."""
    return build_frame(tid, b'\x05\xff\x01', b'\x02\x88\x01', _GET, epcs)


def build_setc(tid, epc, data):
    """SetC (0x61) to the meter of one property: EPC epc = data (its EDT, never empty)."""
    if not data:
        raise EchonetError('bad EDT')      # SetC needs one
    return build_frame(tid, b'\x05\xff\x01', b'\x02\x88\x01', _SETC, [(epc, data)])


def build_infc_res(frame):
    """INFC_Res (0x7A) for a parsed INFC (0x74): same TID, EOJs swapped, each EPC with PDC 0."""
    tid, seoj, deoj, esv, props = frame
    if esv != _INFC:
        raise EchonetError('bad frame')    # not an INFC
    return build_frame(tid, deoj, seoj, _INFC_RES, [e for e, _ in props])


def parse(data):
    """(tid, seoj, deoj, esv, props) from one whole UDP payload, or EchonetError (short, bad EHD,
    OPC 0, a SetGet ESV, a PDC past the end, trailing bytes, not bytes at all)."""
    try:
        esv = data[10]
        props = []
        p = 12
        for _ in range(data[11]):
            end = p + 2 + data[p + 1]
            props.append((data[p], bytes(data[p + 2:end])))
            p = end
        if data[0] == 0x10 and data[1] == 0x81 and props and esv not in (0x5E, 0x6E, 0x7E) \
                and p == len(data):
            return (data[2] << 8 | data[3], bytes(data[4:7]), bytes(data[7:10]), esv, props)
    except Exception:   # IndexError (short), TypeError (not bytes)
        pass
    raise EchonetError('bad frame')


def is_answer(frame, tid, epcs):
    """True when frame answers the request (tid, epcs): same TID, from a 0x0288 object,
    Get_Res/Set_Res/Get_SNA/SetC_SNA and the same EPC set (order ignored)."""
    ftid, seoj, _, esv, props = frame
    if ftid != tid or esv not in (0x72, 0x71, 0x52, 0x51) or seoj[0] != 0x02 or seoj[1] != 0x88 \
            or len(props) != len(epcs):
        return False
    for e, _ in props:
        if e not in epcs:
            return False
    for e in epcs:
        for got, _ in props:
            if got == e:
                break
        else:
            return False
    return True


def decode(epc, data):
    """Python value of one property's EDT `data`: E7 W (int), E8 (R A, T A), E0/E3 count, E1 kWh
    per count, D3/D7/E5 int, E2/E4 (day, [48 counts]), EA/EB ((y, mo, d, h, mi, s), count), 97
    (h, m), 98 (y, m, d).  PDC 0 (b'' or None) and an EPC not listed give None; "no data" markers
    (a count above 99,999,999; 0x7FFE current or power) give None; a wrong-length EDT raises
    EchonetError."""
    if not data:
        return None
    try:
        if epc == 0xE2 or epc == 0xE4:          # day, 48 half-hour counts
            size = 194
            v = []
            for i in range(2, 194, 4):      # (a comprehension would make data a cell: 16 B a call)
                c = int.from_bytes(data[i:i + 4], 'big')
                v.append(None if c > _COUNT_MAX else c)
            v = (data[0] << 8 | data[1], v)
        elif epc == 0xEA or epc == 0xEB:        # time stamp, count
            size = 11
            c = int.from_bytes(data[7:11], 'big')
            v = ((data[0] << 8 | data[1], data[2], data[3], data[4], data[5], data[6]),
                 None if c > _COUNT_MAX else c)
        elif epc == 0x98:                       # date
            size = 4
            v = (data[0] << 8 | data[1], data[2], data[3])
        elif epc == 0x97:                       # hour, minute
            size = 2
            v = (data[0], data[1])
        elif epc == 0xE1:               # kWh per count: 00-04 -> 1 .. 0.0001, 0A-0D -> 10 .. 10000
            size = 1
            v = data[0]
            v = 1 / 10 ** v if v < 5 else 10 ** (v - 9) if 9 < v < 14 else None
        elif epc == 0xD7 or epc == 0xE5:
            size = 1
            v = data[0]
        elif epc == 0xE8:
            # signed short per phase, 0.1 A; 0x7FFE = no data (T phase on 1-phase 2-wire),
            # 0x7FFF/0x8000 out of range
            size = 4
            r = data[0] << 8 | data[1]
            t = data[2] << 8 | data[3]
            v = (None if 0x7FFD < r <= 0x8000 else (r - (r >> 15 << 16)) / 10,
                 None if 0x7FFD < t <= 0x8000 else (t - (t >> 15 << 16)) / 10)
        elif epc == 0xE7 or epc == 0xE0 or epc == 0xE3 or epc == 0xD3:
            size = 4
            v = data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3]
            if epc == 0xE7:     # signed long; 0x7FFFFFFE no data, 0x7FFFFFFF/0x80000000 out of range
                v = None if 0x7FFFFFFD < v <= 0x80000000 else \
                    v - 0x100000000 if v > 0x80000000 else v
            elif epc != 0xD3 and v > _COUNT_MAX:
                v = None
        else:
            return None
    except IndexError:      # shorter than its layout
        size = -1
    if len(data) != size:
        raise EchonetError('bad EDT')
    return v


def to_kwh(count, coefficient, unit):
    """kWh = count x coefficient (D3; None means 1) x unit (E1, kWh per count); None for a None
    count, EchonetError for an unknown unit.  A fractional unit divides by an integer (count / 100
    rounds better than count * 0.01 in the device's single-precision floats)."""
    if count is None:
        return None
    if unit is None:
        raise EchonetError('unit')       # E1 unknown
    count *= coefficient or 1
    if unit < 1:
        return count / int(1 / unit + 0.5)
    return float(count * unit)


def count_diff(new, start, digits):
    """Counts from start to new on a counter that wraps at 10**digits (D7); None if either is
    None."""
    if new is None or start is None:
        return None
    if not isinstance(digits, int) or not 0 < digits <= 10:
        raise EchonetError('digits')     # D7 not 1-10
    return (new - start) % 10 ** digits
